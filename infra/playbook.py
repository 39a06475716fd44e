"""Run camops' playbooks: one place that starts ``ansible-playbook``.

The command line (``camops rollout``, ``verify``, ``decommission``, ``reactivate``), the drift
check (``--check --diff`` with Ansible's JSON callback), the lab and the benchmarks all run
this environment's own ``ansible-playbook`` (next to ``sys.executable``) with the project's
``ansible.cfg``. Secrets never go on the command line: the vault's password is a file named by
``ANSIBLE_VAULT_PASSWORD_FILE``; extra variables go as one JSON document (``-e``), so a value
with spaces stays one value.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The project's folder: its ansible.cfg, playbooks/, roles/ ...
ROOT = Path(__file__).resolve().parents[1]
#: The project's Ansible configuration.
CONFIG = ROOT / "ansible.cfg"
#: Where a playbook given by name is.
PLAYBOOKS = ROOT / "playbooks"
#: Ansible's callback that prints the whole run as one JSON document.
JSON_CALLBACK = "ansible.posix.json"


def ansible_playbook() -> str:
    """This environment's own ``ansible-playbook`` (the venv's, with its collections)."""
    return str(Path(sys.executable).parent / "ansible-playbook")


def playbook_path(playbook: str | Path) -> Path:
    """A playbook by name (``site_rollout.yml``: in playbooks/) or by absolute path."""
    path = Path(playbook)
    return path if path.is_absolute() else PLAYBOOKS / path


def environment(
    base: Mapping[str, str] | None = None,
    *,
    vault_password_file: str | Path | None = None,
    json_callback: bool = False,
    keep_config: bool = False,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of an ``ansible-playbook`` run.

    ``base`` (default: this process' environment) with the project's ``ansible.cfg``
    (``keep_config``: only where ``base`` names none), the vault's password file when one is
    given (otherwise ``base``'s ``ANSIBLE_VAULT_PASSWORD_FILE``, if any, stays), the JSON
    callback when asked, and ``overrides`` last.
    """
    env = dict(os.environ if base is None else base)
    if keep_config:
        env.setdefault("ANSIBLE_CONFIG", str(CONFIG))
    else:
        env["ANSIBLE_CONFIG"] = str(CONFIG)
    if vault_password_file is not None:
        env["ANSIBLE_VAULT_PASSWORD_FILE"] = str(Path(vault_password_file).resolve())
    if json_callback:
        env["ANSIBLE_STDOUT_CALLBACK"] = JSON_CALLBACK
    env.update(overrides or {})
    return env


def command(
    playbook: str | Path,
    *,
    inventory: str | Path | None = None,
    extra_vars: Mapping[str, Any] | None = None,
    check: bool = False,
    diff: bool = False,
    limit: str | None = None,
    args: Sequence[str] = (),
) -> list[str]:
    """The ``ansible-playbook`` command line (no secret in it)."""
    found = [ansible_playbook(), str(playbook_path(playbook))]
    if inventory is not None:
        found += ["-i", str(inventory)]
    if limit is not None:
        found += ["--limit", limit]
    if check:
        found.append("--check")
    if diff:
        found.append("--diff")
    if extra_vars:
        # One JSON document: a value with spaces (a decision's reference) stays one value.
        found += ["-e", json.dumps(extra_vars, ensure_ascii=False)]
    found += list(args)
    return found


@dataclass
class PlaybookRun:
    """A finished run: its exit code, its output (when captured), and with the JSON callback
    the run's document (``None`` and ``error`` saying why when there is none)."""

    command: list[str]
    returncode: int
    stdout: str = ""
    stderr: str = ""
    document: dict[str, Any] | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def check_returncode(self) -> None:
        """Raise :class:`subprocess.CalledProcessError` if the run failed."""
        if self.returncode != 0:
            raise subprocess.CalledProcessError(
                self.returncode, self.command, self.stdout, self.stderr
            )


def parse_json_output(stdout: str, stderr: str = "") -> tuple[dict[str, Any] | None, str]:
    """The JSON callback's document in a run's output (warnings may come before it), or
    ``None`` and why."""
    start = stdout.find("{")
    if start < 0:
        return None, (stderr.strip() or stdout.strip())[-2000:]
    try:
        document: dict[str, Any] = json.loads(stdout[start:])
    except json.JSONDecodeError as error:
        return None, f"unreadable JSON from ansible-playbook: {error}"
    return document, ""


def run(
    playbook: str | Path,
    *,
    inventory: str | Path | None = None,
    extra_vars: Mapping[str, Any] | None = None,
    check: bool = False,
    diff: bool = False,
    limit: str | None = None,
    args: Sequence[str] = (),
    vault_password_file: str | Path | None = None,
    json_callback: bool = False,
    env: Mapping[str, str] | None = None,
    keep_config: bool = False,
    env_overrides: Mapping[str, str] | None = None,
    capture: bool = True,
    cwd: str | Path | None = None,
    echo: Callable[[str], object] | None = None,
) -> PlaybookRun:
    """Run ``playbook`` (a name in playbooks/ or an absolute path) with this environment's
    ``ansible-playbook``.

    ``env`` is the base environment (default: this process'), completed by
    :func:`environment`. ``capture``: keep the output (text) instead of passing it through;
    the JSON callback always captures, and its document is parsed. ``cwd``: where it runs
    (default: here). ``echo`` is given the command line (``+ ansible-playbook ...``) first.
    """
    argv = command(
        playbook,
        inventory=inventory,
        extra_vars=extra_vars,
        check=check,
        diff=diff,
        limit=limit,
        args=args,
    )
    environment_ = environment(
        env,
        vault_password_file=vault_password_file,
        json_callback=json_callback,
        keep_config=keep_config,
        overrides=env_overrides,
    )
    if echo is not None:
        echo("+ " + " ".join(argv))
    captured = capture or json_callback
    done = subprocess.run(  # noqa: S603  # this environment's own ansible-playbook
        argv, capture_output=captured, text=True, env=environment_, check=False, cwd=cwd
    )
    result = PlaybookRun(argv, done.returncode, done.stdout or "", done.stderr or "")
    if json_callback:
        result.document, result.error = parse_json_output(result.stdout, result.stderr)
    return result
