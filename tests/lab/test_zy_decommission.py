"""A facility's end of duty and its re-activation on the lab (issue [8], R13, R14): the north
school goes on standby with site_decommission.yml, its district official loses it (403, and
the attempt is in the audit log), monitoring and central recording stop, the hub disables its
tunnel peer, the decision lands in the inventory with a report; then `camops reactivate`
brings it back with the normal rollout. (Named to run after the other facility tests: the
facility is down meanwhile.) The re-activation time is printed, not asserted."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from camops_lab import lab as lab_module
from infra import vault
from tests.helpers import ROOT, assert_no_secret
from tests.lab.conftest import (
    FAST,
    camera_tools_script,
    camops,
    estate_spoiled,
    playbook,
    recap,
    s3,
    ssh,
)
from tests.lab.test_platform import NORTH, STEERING, audit_entries, viewer
from tests.lab.test_recording import BUCKET, RECORDINGS, refused, wait_for

SITE = "lab_north_school"
REF = "1234/QĐ-UBND ngày 15/11/2026"
FACILITY_FILE = ROOT / "inventories" / "lab" / "facilities" / f"{SITE}.yml"
REPORTS = ROOT / "inventories" / "lab" / "decommissions"
#: The facility handed over, and its decision.
SOUTH = "lab_south_barracks"
SOUTH_FILE = ROOT / "inventories" / "lab" / "facilities" / f"{SOUTH}.yml"
HANDOVER_REF = "5678/QĐ-BCH ngày 20/11/2026"
HANDOVERS = ROOT / "inventories" / "lab" / "handovers"


@pytest.fixture
def inventory_restored() -> Iterator[str]:
    """The facilities' files as committed, whatever the test does to them."""
    original = FACILITY_FILE.read_text(encoding="utf-8")
    south = SOUTH_FILE.read_text(encoding="utf-8")
    try:
        yield original
    finally:
        FACILITY_FILE.write_text(original, encoding="utf-8")
        SOUTH_FILE.write_text(south, encoding="utf-8")
        shutil.rmtree(REPORTS, ignore_errors=True)
        shutil.rmtree(HANDOVERS, ignore_errors=True)


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


def decommission_twice(
    estate: lab_module.Lab, site: str, decision: str, ref: str
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    """`camops decommission`, then the playbook again: the second run changes nothing."""
    run = camops(
        "decommission", site, "-i", "inventories/lab", "--decision", decision,
        "--decision-ref", ref, *FAST,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    request = json.dumps({"site": site, "decision": decision, "decision_ref": ref})
    again = playbook(estate, "site_decommission.yml", *FAST, "-e", request)
    assert again.returncode == 0, again.stdout[-3000:]
    assert {host: c["changed"] for host, c in recap(again).items() if c["changed"]} == {}
    return run, again


def test_removal_keeps_protected_video_and_ends_access_for_good(
    estate: lab_module.Lab, inventory_restored: str
) -> None:
    """R13 remove (after the re-activation above): the facility leaves the platform's catalog,
    the hub and the NVR's recorders; its district official gets 403 (logged); every recording
    already in the WORM store stays readable and undeletable, and the NVR keeps what is under
    retention."""
    del inventory_restored  # restores the facility's file afterwards
    estate_spoiled()  # the north school stays removed
    auditor, admin = s3(estate, "auditor"), s3(estate, "admin")
    prefix = f"{SITE}/north_cam01/"

    def stored() -> list[dict[str, Any]]:
        found = auditor.list_object_versions(Bucket=BUCKET, Prefix=prefix).get("Versions", [])
        return [v for v in found if v["Key"].endswith(".mkv")]

    before = wait_for(stored, 120, "north_cam01's segments in the WORM store")
    nvr = estate.plan.host("nvr-north")
    on_nvr = ssh(estate, nvr, f"sudo ls {RECORDINGS}/north_cam01").stdout.split()
    assert on_nvr

    decommission_twice(estate, SITE, "remove", REF)

    # Access ended for good: 403 for the district official, logged; the catalog is emptied.
    since = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    assert live(NORTH, estate) == 403
    denied = [
        (e["actor"], e["target"])
        for e in audit_entries(estate, since=since)
        if e["action"] == "live_view" and e["outcome"] == "denied"
    ]
    assert (NORTH, "north_cam01") in denied
    steering = viewer(estate, STEERING)
    assert SITE not in {f["id"] for f in steering.get("/api/v1/me").json()["facilities"]}
    # The hub forgot the peer; the NVR records nothing and holds no stream address any more.
    hub = estate.plan.host("central-1")
    peers = ssh(estate, hub, "sudo ls /etc/wireguard/wg0.peers.d").stdout
    assert SITE not in peers
    units = ssh(estate, nvr, "systemctl list-units --no-legend 'camops-recorder@*'").stdout
    assert "camops-recorder@north_cam" not in units
    # Protected video stays: every WORM version is still there, readable and undeletable.
    after = {(v["Key"], v["VersionId"]) for v in stored()}
    assert {(v["Key"], v["VersionId"]) for v in before} <= after
    key, version = before[0]["Key"], before[0]["VersionId"]
    body = auditor.get_object(Bucket=BUCKET, Key=key, VersionId=version)["Body"].read()
    assert len(body) > 1000
    assert (
        refused(lambda: admin.delete_object(Bucket=BUCKET, Key=key, VersionId=version))
        == "AccessDenied"
    )
    # The NVR kept every recording still under retention (all of them, on the lab).
    kept = ssh(estate, nvr, f"sudo ls {RECORDINGS}/north_cam01").stdout.split()
    assert set(on_nvr) <= set(kept)
    # The decision and the report.
    assert "  status: removed\n" in FACILITY_FILE.read_text(encoding="utf-8")
    [report] = REPORTS.glob(f"{SITE}-removed-*.md")
    assert REF in report.read_text(encoding="utf-8")


#: Run on the NVR with the camera tools' Python: can this credential log in over ONVIF?
#: (host, port, username, password on standard input: never on a command line.)
#: "refused" only for the camera's own answer (an ONVIF "not authorized" fault); anything else
#: (no answer, another fault) is printed as an error, never taken for a refusal.
LOGIN = """
import asyncio
from onvif import ONVIFCamera
from zeep.exceptions import Fault
given = GIVEN
async def main():
    camera = ONVIFCamera(given["host"], given["port"], given["username"], given["password"])
    try:
        await camera.update_xaddrs()
        device = await camera.create_devicemgmt_service()
        await device.GetUsers()
        print("accepted")
    except Fault as fault:
        print("refused" if "not authorized" in str(fault).lower() else f"fault: {fault}")
    except Exception as error:
        print(f"error: {type(error).__name__}")
    finally:
        await camera.close()
asyncio.run(main())
"""


def onvif_login(lab: lab_module.Lab, nvr: str, camera: str, credential: dict[str, str]) -> str:
    given = {"host": str(lab.plan.host(camera).address), "port": 8080, **credential}
    run = camera_tools_script(lab, nvr, LOGIN, given)
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout.strip()


def test_handover_rotates_the_cameras_credentials_into_a_vault_file_never_printed(
    estate: lab_module.Lab, inventory_restored: str
) -> None:
    """R13 handover of the south barracks to another unit: its cameras get new credentials
    kept in handovers/<facility>.vault.yml (never printed); the credential camops used is
    refused, the new one works; the facility leaves the platform's catalog and the hub; the
    report documents each camera; a second run changes nothing."""
    del inventory_restored
    estate_spoiled()  # the south barracks' cameras keep the new credentials
    secrets = vault.read(estate.vault_file, estate.vault_password_file)
    old = secrets["vault_camera_south_cam01"]
    assert onvif_login(estate, "nvr-south", "south_cam01", old) == "accepted"

    run, again = decommission_twice(estate, SOUTH, "handover", HANDOVER_REF)

    handed = vault.read(HANDOVERS / f"{SOUTH}.vault.yml", estate.vault_password_file)
    assert handed["decision_ref"] == HANDOVER_REF
    cameras = handed["cameras"]
    assert sorted(cameras) == ["south_cam01", "south_cam02", "south_cam03", "south_cam04"]
    for camera, credential in cameras.items():
        assert credential["password"] != secrets[f"vault_camera_{camera}"]["password"]
        for output in (run.stdout + run.stderr, again.stdout + again.stderr):
            assert_no_secret(credential["password"], output, f"handover of {camera}")
    assert onvif_login(estate, "nvr-south", "south_cam01", old) == "refused"
    assert onvif_login(estate, "nvr-south", "south_cam01", cameras["south_cam01"]) == "accepted"

    # Deregistered: no camera in the catalog, no peer on the hub; the decision is kept.
    hub = estate.plan.host("central-1")
    assert SOUTH not in ssh(estate, hub, "sudo ls /etc/wireguard/wg0.peers.d").stdout
    steering = viewer(estate, STEERING)
    assert SOUTH not in {f["id"] for f in steering.get("/api/v1/me").json()["facilities"]}
    assert "  status: handed_over\n" in SOUTH_FILE.read_text(encoding="utf-8")
    [report] = REPORTS.glob(f"{SOUTH}-handed_over-*.md")
    body = report.read_text(encoding="utf-8")
    assert "## Bàn giao camera" in body and "## Cameras handed over" in body
    assert body.count("| `south_cam0") == 8  # four cameras, in both languages
    assert f"handovers/{SOUTH}.vault.yml" in body
    for credential in cameras.values():
        assert_no_secret(credential["password"], body, "the handover report")
