"""Configuration drift (R9): what a check run (``--check --diff``) of the playbooks would change
on a converged estate, per facility, as findings a person and CI can read.

The playbooks are the intended state; a check run reports every task that would change
something with its diff (files, nftables tables read back live, camera settings read back
over ONVIF, the platform's registration), and every task that failed (a camera not
recording fails the verification). Ansible's ``ansible.posix.json`` callback gives the run as
one document; :func:`findings` turns it into :class:`Finding` rows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Finding:
    facility: str  # "central" for the central site
    host: str
    task: str
    kind: str  # changed | failed | unreachable
    before: str = ""
    after: str = ""
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, indent=1)


def _diffs(result: dict[str, Any]) -> tuple[str, str]:
    """Before and after of a task result's diff (one or a list of them, as modules give)."""
    diff = result.get("diff")
    if not diff:
        return "", ""
    parts = diff if isinstance(diff, list) else [diff]
    before = "\n".join(_text(part.get("before")) for part in parts if isinstance(part, dict))
    after = "\n".join(_text(part.get("after")) for part in parts if isinstance(part, dict))
    return before.strip(), after.strip()


def _results(host_result: dict[str, Any]) -> list[dict[str, Any]]:
    """A loop's items, or the result itself."""
    items = host_result.get("results")
    if isinstance(items, list) and items:
        return [item for item in items if isinstance(item, dict)]
    return [host_result]


def findings(document: dict[str, Any], facility: str) -> list[Finding]:
    """The check run's would-be changes and failures, for ``facility``."""
    found: list[Finding] = []
    for play in document.get("plays", []):
        for task in play.get("tasks", []):
            name = task.get("task", {}).get("name", "?")
            for host, result in (task.get("hosts") or {}).items():
                if result.get("unreachable"):
                    found.append(
                        Finding(
                            facility, host, name, "unreachable", detail=_text(result.get("msg"))
                        )
                    )
                    continue
                if result.get("failed") and not result.get("ignore_errors"):
                    found.append(
                        Finding(facility, host, name, "failed", detail=_text(result.get("msg")))
                    )
                    continue
                for item in _results(result):
                    if item.get("changed"):
                        before, after = _diffs(item)
                        label = item.get("item")
                        found.append(
                            Finding(
                                facility,
                                host,
                                name,
                                "changed",
                                before,
                                after,
                                detail=_text(label) if label is not None else "",
                            )
                        )
    return found


def check_run(
    playbook: str, inventory: str, extra_vars: dict[str, str], env: dict[str, str] | None = None
) -> dict[str, Any]:
    """``ansible-playbook PLAYBOOK --check --diff`` with the JSON callback; its document."""
    environment = {
        **(env or os.environ),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
    }
    command = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        str(ROOT / "playbooks" / playbook),
        "-i",
        inventory,
        "--check",
        "--diff",
    ]
    if extra_vars:
        command += ["-e", json.dumps(extra_vars, ensure_ascii=False)]
    done = subprocess.run(  # noqa: S603  # this environment's own ansible-playbook
        command, capture_output=True, text=True, env=environment, check=False, cwd=ROOT
    )
    start = done.stdout.find("{")
    if start < 0:
        raise RuntimeError(f"{playbook}: no JSON from ansible-playbook: {done.stderr[-2000:]}")
    document: dict[str, Any] = json.loads(done.stdout[start:])
    return document
