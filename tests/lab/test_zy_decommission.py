"""A facility's end of duty and its re-activation on the lab (issue [8], R13, R14): the north
school goes on standby with site_decommission.yml, its district official loses it (403, and
the attempt is in the audit log), monitoring and central recording stop, the hub disables its
tunnel peer, the decision lands in the inventory with a report; then `camops reactivate`
brings it back with the normal rollout. (Named to run after the other facility tests: the
facility is down meanwhile.) The re-activation time is printed, not asserted."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from infra.lab import lab as lab_module
from tests.helpers import ROOT
from tests.lab.conftest import FAST, camops, playbook, recap, ssh
from tests.lab.test_platform import NORTH, STEERING, audit_entries, viewer

SITE = "lab_north_school"
REF = "1234/QĐ-UBND ngày 15/11/2026"
FACILITY_FILE = ROOT / "inventories" / "lab" / "facilities" / f"{SITE}.yml"
REPORTS = ROOT / "inventories" / "lab" / "decommissions"


@pytest.fixture
def inventory_restored() -> Iterator[str]:
    """The facility's file as committed, whatever the test does to it."""
    original = FACILITY_FILE.read_text(encoding="utf-8")
    try:
        yield original
    finally:
        FACILITY_FILE.write_text(original, encoding="utf-8")
        shutil.rmtree(REPORTS, ignore_errors=True)


def live(email: str, estate: lab_module.Lab) -> int:
    return viewer(estate, email).get("/live/north_cam01/index.m3u8").status_code


def test_standby_ends_remote_access_and_reactivation_brings_the_facility_back(
    estate: lab_module.Lab, inventory_restored: str
) -> None:
    assert live(NORTH, estate) == 200
    decision = json.dumps({"site": SITE, "decision": "standby", "decision_ref": REF})
    run = playbook(estate, "site_decommission.yml", *FAST, "-e", decision)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert recap(run)["central-1"]["changed"] > 0
    again = playbook(estate, "site_decommission.yml", *FAST, "-e", decision)
    assert again.returncode == 0, again.stdout[-3000:]
    assert {host: c["changed"] for host, c in recap(again).items() if c["changed"]} == {}

    # Remote access ended for everyone, and the attempt is logged.
    since = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    assert live(NORTH, estate) == 403
    assert live(STEERING, estate) == 403
    north = viewer(estate, NORTH)
    assert north.get("/api/v1/me").json()["facilities"] == []
    denied = [
        (e["actor"], e["target"])
        for e in audit_entries(estate, since=since)
        if e["action"] == "live_view" and e["outcome"] == "denied"
    ]
    assert (NORTH, "north_cam01") in denied
    # Monitoring and central recording stopped, the tunnel peer disabled (kept for later).
    hub = estate.plan.host("central-1")
    files = ssh(estate, hub, "sudo ls /etc/prometheus/file_sd /etc/wireguard/wg0.peers.d").stdout
    assert f"cameras-{SITE}.json" not in files and f"{SITE}.disabled" in files
    assert "10.79.1.0/24" not in ssh(estate, hub, "sudo wg show wg0 allowed-ips").stdout
    jobs = ssh(estate, hub, "sudo ls /etc/camops/recorder/jobs").stdout
    assert f"{SITE}.json" not in jobs
    # The decision in the inventory, and the report.
    text = FACILITY_FILE.read_text(encoding="utf-8")
    assert "  status: standby\n" in text and f"  status_ref: {REF}\n" in text
    [report] = REPORTS.glob(f"{SITE}-standby-*.md")
    body = report.read_text(encoding="utf-8")
    assert REF in body and "Dự phòng" in body and "Standby" in body

    # Re-activation with the normal rollout.
    start = time.monotonic()
    back = camops("reactivate", SITE, "-i", "inventories/lab", "--decision-ref", REF, *FAST)
    took = time.monotonic() - start
    assert back.returncode == 0, back.stdout[-4000:] + back.stderr[-2000:]
    print(f"re-activation of {SITE}: {took:.1f} s (target 60 s)")
    assert FACILITY_FILE.read_text(encoding="utf-8") == inventory_restored
    assert f"{SITE}.conf" in ssh(estate, hub, "sudo ls /etc/wireguard/wg0.peers.d").stdout
    deadline = time.monotonic() + 60
    while (status := live(NORTH, estate)) != 200:
        assert time.monotonic() < deadline, f"north_cam01 live view: {status}"
        time.sleep(3)
