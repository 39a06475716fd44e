"""Configuration drift (R9): what a check run (``--check --diff``) of the playbooks would change
on a converged estate, per facility, as findings a person and CI can read.

The playbooks are the intended state; a check run reports every task that would change
something with its diff (files, nftables tables read back live, camera settings read back
over ONVIF, the platform's registration), and every task that failed (a camera not
recording fails the verification). Ansible's ``ansible.posix.json`` callback gives the run as
one document; :func:`findings` turns it into :class:`Finding` rows.
"""

from __future__ import annotations

import difflib
import json
import time
from dataclasses import asdict, dataclass
from typing import Any

from infra import playbook as runner
from infra.playbook import ROOT


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
        # A report task of a secret-bearing one (its result hidden by no_log) shows the safe
        # part of the diff as its message: {"before": ..., "after": ...}.
        message = result.get("msg")
        if isinstance(message, dict) and "before" in message and "after" in message:
            return _text(message["before"]).strip(), _text(message["after"]).strip()
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
                        message = item.get("msg")
                        if label is None and isinstance(message, dict) and "cameras" in message:
                            label = ", ".join(map(str, message["cameras"]))
                        if label is None and "censored" in item:
                            label = "its result is hidden (no_log: it holds secrets)"
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


@dataclass
class CheckRun:
    """One check run: a facility's (``drift_check.yml``) or the central side's (``central.yml``)."""

    scope: str  # a facility id, or CENTRAL
    playbook: str
    returncode: int
    seconds: float
    findings: list[Finding]
    error: str = ""  # the run gave no result document (a syntax or inventory error)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "playbook": self.playbook,
            "returncode": self.returncode,
            "seconds": round(self.seconds, 1),
            "error": self.error,
            "findings": [finding.as_dict() for finding in self.findings],
        }


#: The scope of the central side's findings.
CENTRAL = "central"


def check_run(
    playbook: str,
    inventory: str,
    extra_vars: dict[str, str],
    env: dict[str, str] | None = None,
    ansible_args: list[str] | None = None,
) -> dict[str, Any]:
    """``ansible-playbook PLAYBOOK --check --diff`` with the JSON callback; its document."""
    document, _returncode, error = _check(playbook, inventory, extra_vars, env, ansible_args)
    if document is None:
        raise RuntimeError(f"{playbook}: no JSON from ansible-playbook: {error}")
    return document


def _check(
    playbook: str,
    inventory: str,
    extra_vars: dict[str, str],
    env: dict[str, str] | None,
    ansible_args: list[str] | None,
) -> tuple[dict[str, Any] | None, int, str]:
    """The check run with the JSON callback and the project's ansible.cfg (whatever ``env``
    names), from the project's folder; its document, exit code and why there is none."""
    done = runner.run(
        playbook,
        inventory=inventory,
        check=True,
        diff=True,
        extra_vars=extra_vars,
        args=ansible_args or [],
        env=env or None,
        json_callback=True,
        cwd=ROOT,
    )
    return done.document, done.returncode, done.error


def check(
    scope: str,
    inventory: str,
    env: dict[str, str] | None = None,
    ansible_args: list[str] | None = None,
) -> CheckRun:
    """The drift of one scope: a facility (its rollout as a check) or :data:`CENTRAL`."""
    playbook = "central.yml" if scope == CENTRAL else "drift_check.yml"
    extra = {} if scope == CENTRAL else {"site": scope}
    started = time.monotonic()
    document, returncode, error = _check(playbook, inventory, extra, env, ansible_args)
    seconds = time.monotonic() - started
    found = findings(document, scope) if document is not None else []
    if document is not None and returncode != 0 and not found:
        # Failed without a failed task (e.g. a host pattern error): say so, never "clean".
        error = f"ansible-playbook exited {returncode} without a failed task"
    return CheckRun(scope, playbook, returncode, seconds, found, error)


def drifted(runs: list[CheckRun]) -> bool:
    return any(run.findings or run.error for run in runs)


def document(inventory: str, runs: list[CheckRun], skipped: dict[str, str]) -> dict[str, Any]:
    """The machine-readable report (``camops drift --json``)."""
    return {
        "inventory": inventory,
        "drift": drifted(runs),
        "findings": sum(len(run.findings) for run in runs),
        "checked": [run.as_dict() for run in runs],
        "not_checked": skipped,
    }


def diff_lines(finding: Finding, limit: int = 40) -> list[str]:
    """Before → after as unified diff lines (at most ``limit``), for people."""
    lines = list(
        difflib.unified_diff(
            finding.before.splitlines(),
            finding.after.splitlines(),
            fromfile="before (live)",
            tofile="after (intended)",
            lineterm="",
            n=1,
        )
    )
    if len(lines) > limit:
        lines = [*lines[:limit], f"... {len(lines) - limit} more line(s) (see --json)"]
    return lines
