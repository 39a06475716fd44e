"""Runs last in the lab tier: a second `lab up` is a no-op; `lab down` leaves nothing behind."""

from __future__ import annotations

import subprocess

from camops_lab import lab as lab_module
from tests.helpers import ROOT
from tests.lab.conftest import camops


def test_second_lab_up_is_a_no_op(lab: lab_module.Lab) -> None:
    run = camops("lab", "up")
    assert run.returncode == 0, run.stderr
    assert f"containers: {len(lab.plan.hosts)} running" in run.stdout
    assert "cameras unchanged and running" in run.stdout
    assert "networks created" not in run.stdout


def test_lab_down_leaves_nothing_then_up_again(lab: lab_module.Lab) -> None:
    down = camops("lab", "down")
    assert down.returncode == 0, down.stderr
    check = subprocess.run(
        ["bash", "scripts/check-lab-clean.sh"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout
    up = camops("lab", "up")
    assert up.returncode == 0, up.stdout + up.stderr
    assert f"containers: {len(lab.plan.hosts)} created" in up.stdout
