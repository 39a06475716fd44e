"""Drift (issue [8], R9) on the lab: the rolled-out estate checks clean; three changes made by
hand outside the playbooks — a camera's encoder over ONVIF from inside the camera LAN, a rule
deleted from a site router's nftables table, a grant added in the platform through its API —
are each reported with facility, host, object and before/after, and nothing else is; the
rollout restores them and the estate checks clean again."""

from __future__ import annotations

import json
import re
import ssl
import subprocess
from pathlib import Path
from typing import Any

import httpx

from camops_lab import lab as lab_module
from infra import vault
from tests.helpers import INVENTORIES, ROOT
from tests.lab.conftest import FAST, camera_tools_script, camops, ssh

SITE = "lab_north_school"
RULES = "R9 | The forwarding policy is live exactly as written"
ONVIF = "R2 | Replace factory credentials, set NTP and the encoder of each camera over ONVIF"
SETTINGS = "R2 R9 | Camera settings that differed from the model (read back over ONVIF)"
REGISTRATION = "R7 | Register the facility, its connected cameras and whom it is granted to"
CAMERA = "north_cam02"
RULE = "WAN never reaches the camera LAN"
INTRUDER = "district:lab_south"
URL = "https://10.77.0.10"
CA = ROOT / ".lab" / "ca" / "ca.pem"

#: Run on the NVR (the camera LAN) with the camera tools' Python; gets the credential as GIVEN
#: (camera_tools_script: through standard input, never on its command line).
SET_ENCODER = """
import asyncio
from onvif import ONVIFCamera
given = GIVEN
async def main():
    camera = ONVIFCamera(given["host"], given["port"], given["username"], given["password"])
    await camera.update_xaddrs()
    try:
        media = await camera.create_media_service()
        configuration = (await media.GetVideoEncoderConfigurations())[0]
        configuration.RateControl.FrameRateLimit = 10
        configuration.RateControl.BitrateLimit = 384
        await media.SetVideoEncoderConfiguration(
            {"Configuration": configuration, "ForcePersistence": True}
        )
    finally:
        await camera.close()
asyncio.run(main())
"""


def drift(tmp: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    report = tmp / f"drift-{len(list(tmp.glob('drift-*')))}.json"
    run = camops("drift", "-i", str(INVENTORIES / "lab"), "--json", str(report), *args, *FAST)
    assert report.exists(), run.stdout[-3000:] + run.stderr[-3000:]
    return run, json.loads(report.read_text(encoding="utf-8"))


def findings(report: dict[str, Any]) -> list[dict[str, str]]:
    return [finding for check in report["checked"] for finding in check["findings"]]


def set_encoder_by_hand(lab: lab_module.Lab) -> None:
    secret = vault.read(lab.vault_file, lab.vault_password_file)[f"vault_camera_{CAMERA}"]
    given = {"host": str(lab.plan.host(CAMERA).address), "port": 8080, **secret}
    run = camera_tools_script(lab, "nvr-north", SET_ENCODER, given)
    assert run.returncode == 0, run.stderr[-2000:]


def delete_rule_by_hand(lab: lab_module.Lab) -> None:
    router = lab.plan.host("rtr-north")
    listing = ssh(lab, router, "sudo nft -a list chain inet camops_router forward").stdout
    handle = re.search(rf'comment "{RULE}" # handle (\d+)', listing)
    assert handle, listing
    run = ssh(lab, router, f"sudo nft delete rule inet camops_router forward handle {handle[1]}")
    assert run.returncode == 0, run.stderr


def add_grant_by_hand(lab: lab_module.Lab) -> None:
    token = vault.read(lab.vault_file, lab.vault_password_file)["vault_platform_token_registration"]
    with httpx.Client(
        base_url=URL,
        verify=ssl.create_default_context(cafile=str(CA)),
        headers={"Authorization": f"Bearer {token}"},
    ) as client:
        path = f"/api/v1/facilities/{SITE}/grants"
        grantees = client.get(path).json()["grantees"]
        answer = client.put(path, json={"grantees": [*grantees, INTRUDER]})
        assert answer.status_code == 200, answer.text
        assert answer.json()["added"] == [INTRUDER]


def test_drift_clean_then_three_changes_by_hand_reported_then_restored(
    estate: lab_module.Lab, tmp_path: Path
) -> None:
    run, report = drift(tmp_path)
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-3000:]
    assert report["drift"] is False and report["findings"] == 0
    assert [check["scope"] for check in report["checked"]] == [
        "central",
        "lab_north_school",
        "lab_south_barracks",
    ]
    assert "no drift in 3 check(s)" in run.stdout

    set_encoder_by_hand(estate)
    delete_rule_by_hand(estate)
    add_grant_by_hand(estate)

    run, report = drift(tmp_path, "--site", SITE, "--no-central")
    assert run.returncode == 1, run.stdout[-5000:] + run.stderr[-3000:]
    found = findings(report)
    assert {f["facility"] for f in found} == {SITE}
    by_task = {f["task"].split(" : ")[-1]: f for f in found}
    shown = json.dumps(found, ensure_ascii=False, indent=1)[:6000]
    assert set(by_task) == {RULES, ONVIF, SETTINGS, REGISTRATION}, shown

    rule = by_task[RULES]
    assert rule["host"] == "rtr-north"
    assert RULE not in rule["before"] and f'comment "{RULE}"' in rule["after"]

    settings = by_task[SETTINGS]
    assert (settings["host"], settings["detail"]) == ("nvr-north", CAMERA)
    before, after = json.loads(settings["before"]), json.loads(settings["after"])
    assert before[CAMERA]["encoder"]["fps"] == 10 and after[CAMERA]["encoder"]["fps"] == 15
    assert before[CAMERA]["encoder"]["bitrate_kbps"] == 384
    assert after[CAMERA]["encoder"]["bitrate_kbps"] == 512
    assert "password" not in settings["before"] + settings["after"]

    grants = by_task[REGISTRATION]
    assert grants["host"] == "central-1"
    assert INTRUDER in json.loads(grants["before"])["grantees"]
    assert INTRUDER not in json.loads(grants["after"])["grantees"]
    # People read the same: the object and the lines that differ.
    assert f"DRIFT {SITE} / rtr-north" in run.stdout
    assert f"[{CAMERA}]" in run.stdout

    restore = camops("rollout", SITE, "-i", str(INVENTORIES / "lab"), *FAST)
    assert restore.returncode == 0, restore.stdout[-5000:] + restore.stderr[-2000:]

    run, report = drift(tmp_path, "--site", SITE, "--no-central")
    assert run.returncode == 0, json.dumps(findings(report), ensure_ascii=False)[:5000]
    assert report["findings"] == 0
