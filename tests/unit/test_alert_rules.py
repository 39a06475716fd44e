"""The alert rules (roles/monitoring/files/rules): promtool's own checks and unit tests, and
what each rule must carry: a runbook section that exists, a severity, texts in Vietnamese and
English, and a test in which it fires."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import ROOT

RULES = ROOT / "roles" / "monitoring" / "files" / "rules" / "camops.rules.yml"
RULE_TESTS = ROOT / "tests" / "monitoring" / "camops.rules.test.yml"
# The alerts issue [7] asks for.
REQUIRED = {
    "CameraDown",
    "RecordingStalled",
    "RetentionAtRisk",
    "TunnelDown",
    "ClockSkew",
    "UnknownDeviceOnCameraLAN",
    "PlatformDown",
    "AuditExportFailed",
}


def promtool() -> str:
    tool = Path(sys.executable).parent / "promtool"
    if not tool.exists():
        pytest.fail("promtool is missing from the venv: run 'make setup' (scripts/debian-tools.sh)")
    return str(tool)


def alerts() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"] if "alert" in rule]


def slug(heading: str) -> str:
    """A Markdown heading's anchor, as GitHub and GitLab make it."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_promtool_checks_the_rules() -> None:
    result = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_of_the_rules_pass() -> None:
    result = subprocess.run(
        [promtool(), "test", "rules", str(RULE_TESTS)],
        capture_output=True,
        text=True,
        check=False,
        cwd=RULE_TESTS.parent,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_required_alert_exists_and_carries_what_it_must() -> None:
    found = alerts()
    assert {rule["alert"] for rule in found} >= REQUIRED
    for rule in found:
        name = rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["summary_vi"], name
        path, _, anchor = annotations["runbook_url"].partition("#")
        document = ROOT / path
        assert document.is_file(), f"{name}: {path} does not exist"
        headings = {
            slug(line.lstrip("#"))
            for line in document.read_text(encoding="utf-8").splitlines()
            if line.startswith("#")
        }
        assert anchor in headings, f"{name}: {path} has no section #{anchor}"


def test_every_alert_fires_in_a_unit_test() -> None:
    document = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))
    firing = {
        case["alertname"]
        for test in document["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert {rule["alert"] for rule in alerts()} <= firing
