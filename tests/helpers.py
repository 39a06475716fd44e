"""Test helpers: writable copies of the committed inventories, and problem filters."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from infra.loader import load
from infra.problems import Problem
from infra.validate import validate

ROOT = Path(__file__).resolve().parent.parent
INVENTORIES = ROOT / "inventories"


class InventoryCopy:
    """A writable copy of a committed inventory."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self, rel: str) -> Any:
        return yaml.safe_load((self.path / rel).read_text(encoding="utf-8"))

    def write(self, rel: str, data: Any) -> None:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")

    def edit(self, rel: str, change: Callable[[Any], None]) -> None:
        data = self.read(rel)
        change(data)
        self.write(rel, data)

    def facility(self, facility_id: str, change: Callable[[dict[str, Any]], None]) -> None:
        self.edit(f"facilities/{facility_id}.yml", lambda doc: change(doc["facility"]))

    def camera(
        self, facility_id: str, index: int, change: Callable[[dict[str, Any]], None]
    ) -> None:
        self.facility(facility_id, lambda facility: change(facility["cameras"][index]))

    def account(self, index: int, change: Callable[[dict[str, Any]], None]) -> None:
        self.edit("accounts.yml", lambda doc: change(doc["accounts"][index]))

    def province(self, change: Callable[[dict[str, Any]], None]) -> None:
        self.edit("province.yml", lambda doc: change(doc["province"]))

    def problems(self) -> list[Problem]:
        return validate(load(self.path))


def errors_at(problems: list[Problem], path: str, rule: str | None = None) -> list[Problem]:
    """Errors whose field path is ``path`` (and whose rule is ``rule`` when given)."""
    return [
        p
        for p in problems
        if p.severity == "error" and p.path == path and (rule is None or p.rule == rule)
    ]


def assert_no_secret(secret: str, text: str, where: str) -> None:
    """Fail if ``secret`` appears in ``text`` — without printing either (a plain ``assert``
    would show both in the failure report)."""
    if secret and secret in text:
        import pytest  # noqa: PLC0415

        pytest.fail(f"{where}: a secret appears in it", pytrace=False)


def ansible_module(
    name: str,
    args: dict[str, Any],
    *flags: str,
    host: str = "localhost",
    inventory: str | None = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A module of ``library/`` run ad hoc, its JSON result: on the controller (as a play's
    ``delegate_to: localhost`` task runs it), or on ``host`` of ``inventory`` with become (the
    lab's hosts; ``env`` adds e.g. the vault password file). The ``token`` argument, if any,
    must not appear in Ansible's output."""
    import json  # noqa: PLC0415
    import os  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    local = ["-c", "local", "-e", f"ansible_python_interpreter={sys.executable}"]
    where = (
        ["localhost", "-i", "localhost,", *local]
        if inventory is None
        else [host, "-i", inventory, "-b"]
    )
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible"),
            *where,
            "-m",
            name,
            "-a",
            json.dumps(args),
            *flags,
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={
            **os.environ,
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_STDOUT_CALLBACK": "json",
            "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
            **(env or {}),
        },
        timeout=180,
    )
    assert_no_secret(str(args.get("token", "")), run.stdout + run.stderr, f"{name} output")
    plays = json.loads(run.stdout)["plays"]
    result: dict[str, Any] = plays[0]["tasks"][0]["hosts"][host]
    return result


def _library_module(name: str) -> Any:
    """``library/<name>.py`` imported as Ansible would ship it."""
    return shipped_module(f"camops_library_{name}", ROOT / "library" / f"{name}.py")


def shipped_module(key: str, path: Path) -> Any:
    """A module or module_utils file imported by path as Ansible would ship it: its
    ``ansible.module_utils.camops_*`` imports resolve to ``module_utils/`` (ansible.cfg's)."""
    import importlib.util  # noqa: PLC0415
    import sys  # noqa: PLC0415

    import ansible.module_utils  # noqa: PLC0415

    shared = str(ROOT / "module_utils")
    if shared not in ansible.module_utils.__path__:
        ansible.module_utils.__path__.append(shared)
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
    return sys.modules[key]


def run_module(name: str, args: dict[str, Any], *flags: str) -> dict[str, Any]:
    """A module of ``library/`` run in this process, as Ansible's module tests do: its arguments
    set with ``patch_module_args``, ``main()`` run, the JSON it exits with read back. ``flags``
    as ``ansible`` takes them: ``--check``, ``--diff``. Values of ``no_log`` options are masked
    by the module itself, as on a host; the ``token`` argument, if any, must not appear in the
    output. Real ``ansible``/``ansible-playbook`` runs prove the wiring (module and module_utils
    shipped, connection, become): ``ansible_module``, tests/integration/test_ansible.py and the
    lab tier, which runs every module in its playbooks."""
    import contextlib  # noqa: PLC0415
    import io  # noqa: PLC0415
    import json  # noqa: PLC0415

    from ansible.module_utils.testing import patch_module_args  # noqa: PLC0415

    unknown = set(flags) - {"--check", "--diff"}
    assert not unknown, f"run_module takes --check and --diff, not {unknown}"
    module = _library_module(name)
    internal = {"_ansible_check_mode": "--check" in flags, "_ansible_diff": "--diff" in flags}
    out = io.StringIO()
    with (
        patch_module_args({**args, **internal}),
        contextlib.redirect_stdout(out),
        contextlib.suppress(SystemExit),
    ):
        module.main()
    text = out.getvalue()
    assert_no_secret(str(args.get("token", "")), text, f"{name} output")
    result: dict[str, Any] = json.loads(text[text.index("{") :])
    return result


def _role_templar(role: str, variables: dict[str, Any]) -> Any:
    from ansible.parsing.dataloader import DataLoader  # noqa: PLC0415
    from ansible.template import Templar  # noqa: PLC0415

    loader = DataLoader()
    defaults = ROOT / "roles" / role / "defaults" / "main.yml"
    role_vars = loader.load_from_file(str(defaults), trusted_as_template=True) or {}
    return Templar(loader=loader, variables={**role_vars, **variables})


def render_role_template(role: str, template: str, variables: dict[str, Any]) -> str:
    """``roles/<role>/templates/<template>`` rendered by Ansible's own templating (filters,
    trust rules and all) with the role's defaults, overridden by ``variables`` — what the
    role's template task writes on a host, without a host."""
    from ansible.template import trust_as_template  # noqa: PLC0415

    source = (ROOT / "roles" / role / "templates" / template).read_text(encoding="utf-8")
    rendered: str = _role_templar(role, variables).template(trust_as_template(source))
    return rendered


def role_value(role: str, expression: str, variables: dict[str, Any] | None = None) -> Any:
    """A Jinja expression over ``roles/<role>``'s defaults (``variables`` override them),
    evaluated as a play would: e.g. ``role_value("platform", "platform_audit_export_bucket")``."""
    from ansible.template import trust_as_template  # noqa: PLC0415

    templar = _role_templar(role, variables or {})
    return templar.template(trust_as_template("{{ " + expression + " }}"))


def in_fresh_interpreters(code: str, seeds: tuple[int, ...] = (1, 2, 3)) -> list[str]:
    """``code``'s standard output in a new Python process per hash seed: an order or value
    that hangs on ``set``/``dict`` hashing (different in every process) differs between them,
    where two calls in one process always agree."""
    import os  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    outputs = []
    for seed in seeds:
        run = subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        outputs.append(run.stdout)
    return outputs
