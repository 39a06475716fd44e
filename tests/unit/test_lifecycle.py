"""A facility's end of duty (R13): the request is checked before anything is touched, and the
decision is written into the inventory as written (git is the record)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from infra.lifecycle import (
    Decision,
    LifecycleError,
    check_request,
    protected_until,
    report_markdown,
    set_status,
)
from infra.loader import load
from infra.model import FacilityStatus
from infra.validate import validate_path
from tests.helpers import ROOT, InventoryCopy

REF = "1234/QĐ-UBND ngày 15/11/2026"


def test_a_complete_request_names_the_facility_file(lab: InventoryCopy) -> None:
    request = check_request(load(lab.path), "lab_south_barracks", "standby", f"  {REF} ")
    assert request.decision is Decision.STANDBY
    assert request.decision.status is FacilityStatus.STANDBY
    assert request.decision_ref == REF
    assert request.facility_file == "facilities/lab_south_barracks.yml"


@pytest.mark.parametrize(
    ("site", "decision", "ref", "message"),
    [
        ("lab_south_barracks", "standby", "", r"decision_ref is missing .* number and date"),
        ("lab_south_barracks", "standby", "ok", r"decision_ref is missing"),
        ("lab_south_barracks", "standby", "quyết định", r"decision_ref is missing"),
        ("lab_nowhere", "standby", REF, r"site='lab_nowhere' is not a facility.*lab_north_school"),
        ("lab_south_barracks", "delete", REF, r"decision='delete'.*standby \| handover \| remove"),
    ],
)
def test_a_bad_request_is_refused_naming_the_field(
    lab: InventoryCopy, site: str, decision: str, ref: str, message: str
) -> None:
    with pytest.raises(LifecycleError, match=message):
        check_request(load(lab.path), site, decision, ref)


def test_a_removed_facility_is_not_put_on_standby(lab: InventoryCopy) -> None:
    lab.facility("lab_south_barracks", lambda f: f.update(status="removed", status_ref=REF))
    with pytest.raises(LifecycleError, match="rolled out anew"):
        check_request(load(lab.path), "lab_south_barracks", "standby", REF)
    assert check_request(load(lab.path), "lab_south_barracks", "remove", REF)


def test_the_decision_is_written_into_the_facility_file_keeping_its_comments(
    lab: InventoryCopy,
) -> None:
    path = lab.path / "facilities" / "lab_north_school.yml"
    original = path.read_text(encoding="utf-8")
    comment = "  # the district's decision goes here\n"
    path.write_text(original.replace("  status: active", comment + "  status: active"), "utf-8")
    assert set_status(lab.path, "facilities/lab_north_school.yml", FacilityStatus.STANDBY, REF)
    text = path.read_text(encoding="utf-8")
    assert "# the district's decision goes here" in text
    assert f"  status: standby\n  status_ref: {REF}\n" in text
    facility = lab.read("facilities/lab_north_school.yml")["facility"]
    assert facility["status"] == "standby" and facility["status_ref"] == REF
    # Only those two lines changed.
    before = [line for line in original.splitlines() if "status" not in line]
    after = [
        line for line in text.splitlines() if "status" not in line and "decision goes" not in line
    ]
    assert before == after
    # Valid as it stands (R13: a facility not active carries its decision).
    problems = validate_path(str(lab.path))
    assert not [p for p in problems if "status" in p.path], problems
    # Again: nothing to write.
    assert not set_status(lab.path, "facilities/lab_north_school.yml", FacilityStatus.STANDBY, REF)
    # Re-activation: active again, the old decision kept out of the way.
    assert set_status(lab.path, "facilities/lab_north_school.yml", FacilityStatus.ACTIVE, "")
    facility = lab.read("facilities/lab_north_school.yml")["facility"]
    assert facility["status"] == "active" and "status_ref" not in facility


def test_recordings_stay_protected_for_the_retention_after_the_last_one() -> None:
    last = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    assert protected_until(last, 30) == datetime(2026, 12, 30, 23, 0, tzinfo=UTC)


def test_the_report_says_what_was_done_and_until_when_in_both_languages(
    lab: InventoryCopy,
) -> None:
    request = check_request(load(lab.path), "lab_south_barracks", "remove", REF)
    text = report_markdown(
        request,
        "Khu cách ly tập trung Doanh trại Nam (lab)",
        ["access", "monitoring", "tunnel_removed", "deregistered", "inventory"],
        when=datetime(2026, 12, 1, 7, 0, tzinfo=UTC),
        protected=datetime(2026, 12, 31, 6, 59, tzinfo=UTC),
        actor="ops@lab",
    )
    vi, en = text.split("# Decommission report")
    assert "Tháo dỡ" in vi and REF in vi and "Gỡ bỏ đường hầm WireGuard" in vi
    assert "đến ít nhất 2026-12-31 06:59 UTC" in vi
    assert "Removal" in en and "until at least 2026-12-31 06:59 UTC" in en
    assert "WireGuard tunnel peer removed" in en and "Central recording" not in en
    with pytest.raises(LifecycleError, match="unknown decommission steps: reboot"):
        report_markdown(request, "x", ["reboot"], when=datetime.now(UTC), protected=None, actor="")


def test_the_playbooks_filter_refuses_the_same_requests(lab: InventoryCopy) -> None:
    import importlib.util  # noqa: PLC0415

    from ansible.errors import AnsibleFilterError  # noqa: PLC0415

    # Loaded from its file, as Ansible loads filter plugins.
    spec = importlib.util.spec_from_file_location(
        "camops_lifecycle_filter", ROOT / "plugins" / "filter" / "camops_lifecycle.py"
    )
    assert spec is not None and spec.loader is not None
    plugin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plugin)
    camops_decommission_request = plugin.FilterModule().filters()["camops_decommission_request"]

    request = camops_decommission_request(str(lab.path), "lab_south_barracks", "handover", REF)
    assert request == {
        "site": "lab_south_barracks",
        "decision": "handover",
        "status": "handed_over",
        "decision_ref": REF,
        "facility_file": "facilities/lab_south_barracks.yml",
    }
    with pytest.raises(AnsibleFilterError, match="decision_ref is missing"):
        camops_decommission_request(str(lab.path), "lab_south_barracks", "handover", "")


def test_the_cli_refuses_before_running_anything(lab: InventoryCopy) -> None:
    from click.testing import CliRunner  # noqa: PLC0415

    from infra.cli import main  # noqa: PLC0415

    runner = CliRunner()
    short = runner.invoke(
        main,
        [
            "decommission",
            "lab_south_barracks",
            "-i",
            str(lab.path),
            "--decision",
            "remove",
            "--decision-ref",
            "soon",
        ],
    )
    assert short.exit_code == 2 and "decision_ref is missing" in short.output
    assert "ansible-playbook" not in short.output
    lab.facility("lab_south_barracks", lambda f: f.update(status="removed", status_ref=REF))
    removed = runner.invoke(
        main, ["reactivate", "lab_south_barracks", "-i", str(lab.path), "--decision-ref", REF]
    )
    assert removed.exit_code == 2 and "rolled out anew" in removed.output
    assert lab.read("facilities/lab_south_barracks.yml")["facility"]["status"] == "removed"


def test_a_handover_report_documents_each_camera_and_where_its_credential_is(
    lab: InventoryCopy,
) -> None:
    request = check_request(load(lab.path), "lab_south_barracks", "handover", REF)
    camera = {
        "camera_id": "south_cam01",
        "device": {"manufacturer": "camops-lab", "model": "gst-rtsp-sim", "firmware": "1.0"},
        "encoder": {"codec": "h264", "width": 640, "height": 360, "fps": 15, "bitrate_kbps": 512},
        "ntp": {"servers": ["10.79.2.2"], "from_dhcp": False},
        "users": [{"username": "camops", "level": "Administrator"}],
    }
    text = report_markdown(
        request,
        "Doanh trại Nam",
        ["access", "deregistered", "credentials_rotated", "inventory"],
        when=datetime(2026, 12, 1, 7, 0, tzinfo=UTC),
        protected=None,
        actor="ops@lab",
        cameras=[camera],
        handover_vault="handovers/lab_south_barracks.vault.yml",
    )
    vi, en = text.split("# Decommission report")
    row = "| `south_cam01` | camops-lab gst-rtsp-sim 1.0 | h264 640x360 15 fps 512 kbps |"
    assert "## Bàn giao camera" in vi and row in vi and "camops (Administrator)" in vi
    assert "`handovers/lab_south_barracks.vault.yml`" in vi and "ansible-vault rekey" in vi
    assert "## Cameras handed over" in en and row in en and "10.79.2.2" in en
    assert "Bàn giao cho đơn vị khác sử dụng" in vi and "Handover" in en
    plain = report_markdown(
        request, "x", ["access"], when=datetime.now(UTC), protected=None, actor=""
    )
    assert "Bàn giao camera" not in plain
