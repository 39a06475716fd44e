"""Ansible reads the same model: the inventory plugin, the validate module and role."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra import ansible_inventory
from infra.loader import load
from tests.helpers import INVENTORIES, ROOT, InventoryCopy, run_module

BIN = Path(sys.executable).parent
ENV = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"}


def ansible(tool: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / tool), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=ENV,
        check=False,
    )


def _plain(value: Any) -> Any:
    """Drop ansible-core's ``__ansible_unsafe`` wrappers of untrusted inventory strings."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def test_ansible_inventory_matches_the_model() -> None:
    run = ansible("ansible-inventory", "-i", INVENTORIES / "dong_thap", "--list")
    assert run.returncode == 0, run.stderr
    assert "WARNING" not in run.stderr
    listing = _plain(json.loads(run.stdout))
    result = load(INVENTORIES / "dong_thap")
    assert result.inventory is not None
    spec = ansible_inventory.build(result.inventory, result.inventory.path).as_list()
    assert listing["_meta"]["hostvars"]["nvr-dt-sadec-ktx"]["camops_facility_id"] == "dt_sadec_ktx"
    for group in ("nvr", "routers_cisco_ios", "site_dt_military_school", "central_recorder"):
        assert sorted(listing[group].get("hosts", [])) == sorted(spec[group].get("hosts", []))
    assert listing["central_recorder"]["hosts"] == ["dt-recorder-1", "dt-recorder-2"]
    military = listing["operator_military_command"]["hosts"]
    assert sorted(military) == sorted(
        [
            "nvr-dt-military-school",
            "rtr-dt-military-school",
            "nvr-dt-border-post",
            "rtr-dt-border-post",
        ]
    )
    hostvars = listing["_meta"]["hostvars"]["rtr-dt-sadec-ktx"]
    assert hostvars["ansible_host"] == "203.0.113.13"
    assert hostvars["camops_facility"]["cameras"][0]["ip"] == "10.101.3.11"


def test_plugin_refuses_a_structurally_broken_inventory(lab: InventoryCopy) -> None:
    lab.facility("lab_north_school", lambda f: f.pop("nvr"))
    run = ansible("ansible-inventory", "-i", lab.path, "--list")
    assert run.returncode != 0
    assert "facilities[lab_north_school].nvr" in run.stderr


def test_validate_playbook_passes_on_the_lab(lab: InventoryCopy) -> None:
    run = ansible("ansible-playbook", "playbooks/validate_inventory.yml", "-i", lab.path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "failed=0" in run.stdout
    assert "changed=1" not in run.stdout


def test_validate_playbook_stops_on_a_camera_in_a_bathroom(lab: InventoryCopy) -> None:
    lab.camera("lab_north_school", 2, lambda cam: cam.update(zone="nhà tắm"))
    run = ansible("ansible-playbook", "playbooks/validate_inventory.yml", "-i", lab.path)
    assert run.returncode == 2, run.stdout
    assert "facilities[lab_north_school].cameras[north_cam03].zone" in run.stdout
    assert "NO MORE HOSTS LEFT" in run.stdout or "failed=1" in run.stdout


def validate_module(lab: Path, arguments: str, *flags: str) -> subprocess.CompletedProcess[str]:
    """The camops_validate module run ad hoc on the controller against a lab inventory."""
    return ansible(
        "ansible",
        "localhost",
        "-i",
        lab,
        "-m",
        "camops_validate",
        "-a",
        f"path={lab} {arguments}".strip(),
        *flags,
    )


def test_validate_module_strict_fails_on_warnings(lab: InventoryCopy) -> None:
    run = validate_module(lab.path, "strict=true")
    assert run.returncode == 2, run.stdout
    assert "WARNING [R1]" in run.stdout


def test_validate_module_in_check_mode_reports_no_change(lab: InventoryCopy) -> None:
    run = validate_module(lab.path, "", "--check")
    assert run.returncode == 0, run.stdout
    assert "changed: false" in run.stdout


def test_a_controller_module_on_a_python_without_camops_says_where_to_run(
    lab: InventoryCopy,
) -> None:
    """Every controller-side module reaches ``infra`` the same way (module_utils/camops_infra):
    on another Python it fails with where it must run, not with a trace."""
    run = validate_module(lab.path, "", "-e", "ansible_python_interpreter=/usr/bin/python3")
    assert run.returncode == 2, run.stdout
    assert "the camops package is not importable by /usr/bin/python3" in run.stdout
    assert "delegate_to: localhost" in run.stdout
    assert "Traceback" not in run.stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "name the facility to roll out: -e site=<facility id>"),
        (["-e", "site=nowhere"], "site='nowhere' is not a facility of this inventory"),
        (["-e", "site=lab_south_barracks"], "has status 'standby' in the inventory"),
        # No vault in this copy: the secrets are named, with the command that creates them.
        (["-e", "site=lab_north_school"], "missing from the vault: vault_camera_north_cam01"),
    ],
    ids=["no-site", "unknown-site", "standby-site", "no-vault"],
)
def test_rollout_refuses_bad_input_before_any_host_is_touched(
    lab: InventoryCopy, extra: list[str], message: str
) -> None:
    """The site rollout's pre-flight checks run on the controller and stop the play with a
    message naming the fix; no site or central host is contacted (there is no lab here)."""
    lab.facility("lab_south_barracks", lambda f: f.update(status="standby", status_ref="QĐ 1/2026"))
    run = ansible("ansible-playbook", "playbooks/site_rollout.yml", "-i", lab.path, *extra)
    assert run.returncode != 0, run.stdout[-2000:]
    assert message in " ".join(run.stdout.split()), run.stdout[-3000:]
    # Only the validation (on the controller) and the pre-flight checks ran: nothing was
    # changed and no host was connected to (unreachable would count it: there is no lab).
    recap = run.stdout[run.stdout.rfind("PLAY RECAP") :]
    touched = [
        line.split(":")[0].strip()
        for line in recap.splitlines()[1:]
        if ":" in line and ("changed=0" not in line or "unreachable=0" not in line)
    ]
    assert touched == [], f"{extra}: hosts were reached: {touched}"
    assert "TASK [wireguard_hub" not in run.stdout


_REF = "decision_ref=1234/QĐ-UBND ngày 15/11/2026"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["-e", "site=lab_south_barracks", "-e", "decision=standby"], "decision_ref is missing"),
        (
            ["-e", "site=lab_south_barracks", "-e", "decision=standby", "-e", "decision_ref=x"],
            "give the decision's document number and date",
        ),
        (["-e", "site=nowhere", "-e", "decision=remove", "-e", _REF], "site='nowhere' is not a"),
        (
            ["-e", "site=lab_south_barracks", "-e", "decision=sell", "-e", _REF],
            "decision='sell' is not a decision of §II.7e",
        ),
    ],
    ids=["no-ref", "bad-ref", "unknown-site", "unknown-decision"],
)
def test_decommission_refuses_a_bad_decision_before_any_host_is_touched(
    lab: InventoryCopy, extra: list[str], message: str
) -> None:
    """R13: without its decision's reference, for a facility not in the inventory, or with a
    decision §II.7e does not know, the decommission stops on the controller, first thing; the
    inventory is left as it was."""
    before = (lab.path / "facilities" / "lab_south_barracks.yml").read_text(encoding="utf-8")
    run = ansible("ansible-playbook", "playbooks/site_decommission.yml", "-i", lab.path, *extra)
    assert run.returncode != 0, run.stdout[-2000:]
    assert message in " ".join(run.stdout.split()), run.stdout[-3000:]
    recap = run.stdout[run.stdout.rfind("PLAY RECAP") :]
    hosts = [line.split(":")[0].strip() for line in recap.splitlines()[1:] if ":" in line]
    assert hosts == ["localhost"], f"{extra}: plays ran on {hosts}"
    assert "TASK [Validate" not in run.stdout
    after = (lab.path / "facilities" / "lab_south_barracks.yml").read_text(encoding="utf-8")
    assert after == before


def test_the_decision_module_writes_the_inventory_and_the_report_once(lab: InventoryCopy) -> None:
    """camops_facility_decision (in-process; the lab's decommissions run it through Ansible):
    check mode writes nothing, the run writes the status and the two-language report, a second
    run changes nothing; re-activation clears the decision."""
    ref = "1234/QĐ-UBND ngày 15/11/2026"
    report = {"decision": "standby", "done": ["access", "monitoring", "inventory"], "actor": "t"}

    def decide(status: str, status_ref: str, *flags: str) -> dict[str, Any]:
        arguments = {
            "inventory_dir": str(lab.path),
            "site": "lab_south_barracks",
            "status": status,
            "status_ref": status_ref,
            "report": report,
        }
        done = run_module("camops_facility_decision", arguments, *flags)
        assert not done.get("failed"), done
        return done

    path = lab.path / "facilities" / "lab_south_barracks.yml"
    before = path.read_text(encoding="utf-8")
    planned = decide("standby", ref, "--check", "--diff")
    assert planned["changed"] is True and path.read_text(encoding="utf-8") == before
    done = decide("standby", ref)
    assert done["changed"] is True
    facility = lab.read("facilities/lab_south_barracks.yml")["facility"]
    assert (facility["status"], facility["status_ref"]) == ("standby", ref)
    text = Path(done["report_path"]).read_text(encoding="utf-8")
    assert text.startswith("# Báo cáo kết thúc hoạt động") and "# Decommission report" in text
    assert done["protected_until"][:10] in text
    again = decide("standby", ref)
    assert again["changed"] is False and again["report_path"] == ""
    assert len(list((lab.path / "decommissions").iterdir())) == 1
    back = decide("active", "")
    assert back["changed"] is True
    assert "status_ref" not in lab.read("facilities/lab_south_barracks.yml")["facility"]


def test_the_drift_check_refuses_to_run_without_check_mode(lab: InventoryCopy) -> None:
    """drift_check.yml only reads (R9): run without --check it stops on the controller before
    any host is reached."""
    run = ansible(
        "ansible-playbook",
        "playbooks/drift_check.yml",
        "-i",
        lab.path,
        "-e",
        "site=lab_north_school",
    )
    assert run.returncode != 0, run.stdout[-2000:]
    assert "drift_check.yml only reads: run it with --check --diff" in " ".join(run.stdout.split())
    recap = run.stdout[run.stdout.rfind("PLAY RECAP") :]
    hosts = [line.split(":")[0].strip() for line in recap.splitlines()[1:] if ":" in line]
    assert hosts == ["localhost"], f"plays ran on {hosts}"
