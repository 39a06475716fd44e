"""The one-playbook site rollout (issue [5]) on the lab: what the estate fixture rolled out.

The estate rolled out both lab facilities with playbooks/site_rollout.yml, cameras starting at
their factory credentials; south_cam04 is a deliberately outdated camera.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import testinfra

from camops_lab import lab as lab_module
from infra import vault
from tests.helpers import ROOT, ansible_module, assert_no_secret, role_value
from tests.lab.conftest import FAST, ROLLOUTS, SITES, playbook, recap, ssh

NORTH = "lab_north_school"
SOUTH = "lab_south_barracks"
FACTORY = ("admin", "12345")
OUTDATED = "south_cam04"


def ansible_env(lab: lab_module.Lab) -> dict[str, str]:
    return {
        **os.environ,
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_VAULT_PASSWORD_FILE": str(lab.vault_password_file.resolve()),
    }


#: The camera role's tools virtualenv on the NVR (onvif-zeep-async), where its modules run.
CAMERA_TOOLS = role_value("camera", "camera_tools_venv")


def remote_module(
    lab: lab_module.Lab, host: str, name: str, args: dict[str, Any], *flags: str
) -> dict[str, Any]:
    """One of our modules run ad hoc on a lab host (become), its JSON result."""
    return ansible_module(
        name, args, *flags, host=host, inventory=lab.inventory.path, env=ansible_env(lab)
    )


def infra_host(lab: lab_module.Lab, name: str) -> Any:
    """A testinfra host over Ansible's own connection settings (the NVR through its router)."""
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ["PATH"].split(os.pathsep):  # testinfra calls ansible-inventory
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ["PATH"]
    os.environ.update({k: v for k, v in ansible_env(lab).items() if k.startswith("ANSIBLE_")})
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={lab.lab_hosts_file}", sudo=True)


def test_rollout_reports_conformance_and_leaves_the_outdated_camera_unconnected(
    estate: lab_module.Lab,
) -> None:
    south = ROLLOUTS[SOUTH].stdout
    assert OUTDATED in south
    report = json.loads((ROOT / "reports" / "conformance" / f"{SOUTH}.json").read_text())
    verdicts = {camera["id"]: camera for camera in report["cameras"]}
    assert not verdicts[OUTDATED]["conforming"]
    codes = {reason["code"] for reason in verdicts[OUTDATED]["reasons"]}
    assert "encoder_refused" in codes, codes  # it cannot encode 640x360
    assert "640x360 not supported" in json.dumps(verdicts[OUTDATED]["reasons"])
    assert [c for c, v in verdicts.items() if v["conforming"]] == [
        "south_cam01",
        "south_cam02",
        "south_cam03",
    ]
    # Not connected: no recorder job at the NVR or at central, not in the platform.
    nvr = infra_host(estate, "nvr-south")
    assert not nvr.file(f"/etc/camops/recorder/{OUTDATED}.url").exists
    assert nvr.service("camops-recorder@south_cam01").is_running
    assert not nvr.service(f"camops-recorder@{OUTDATED}").is_running
    central = infra_host(estate, "central-1")
    jobs = json.loads(central.file(f"/etc/camops/recorder/jobs/{SOUTH}.json").content_string)
    assert [camera["id"] for camera in jobs] == ["south_cam01", "south_cam02", "south_cam03"]
    assert not central.service(f"camops-recorder@{OUTDATED}").is_running


def test_rollout_again_changes_nothing(estate: lab_module.Lab) -> None:
    """A second run of the rollout changes nothing. (`--check --diff` on the converged estate,
    both facilities and central: test_drift.py's first check, which fails on any would-be
    change.)"""
    start = time.monotonic()
    run = playbook(estate, "site_rollout.yml", *FAST, "-e", f"site={NORTH}")
    seconds = time.monotonic() - start
    assert run.returncode == 0, run.stdout[-4000:]
    changed = {h: c["changed"] for h, c in recap(run).items() if c["changed"]}
    assert changed == {}, f"site_rollout on a converged lab changed {changed}"
    print(f"site_rollout re-run: {seconds:.1f}s, changed=0")


def test_factory_password_no_longer_works_on_rtsp_or_onvif(estate: lab_module.Lab) -> None:
    """From the NVR (the only host that reaches the cameras): the label's password is refused."""
    nvr = estate.plan.host("nvr-north")
    for camera in ("north_cam01", "north_cam02", "north_cam03"):
        ip = next(c.ip for c in estate.inventory.facility(NORTH).cameras if c.id == camera)
        rtsp = ssh(
            estate,
            nvr,
            "ffprobe -v error -rtsp_transport tcp "
            f"rtsp://{FACTORY[0]}:{FACTORY[1]}@{ip}:554/stream1 2>&1; echo rc=$?",
        )
        assert "401" in rtsp.stdout, rtsp.stdout
        onvif = remote_module(
            estate,
            "nvr-north",
            "camops_onvif_camera",
            {
                "host": str(ip),
                "port": 8080,
                "username": FACTORY[0],
                "password": FACTORY[1],
                "factory_credentials": [],
            },
            "--check",
            "-e",  # as the camera role runs it: with the camera tools' interpreter
            f"ansible_python_interpreter={CAMERA_TOOLS}/bin/python",
        )
        # Refused by the camera itself (not unreachable, nor a module that could not start).
        assert onvif.get("error_kind") == "credentials", f"{camera}: {onvif.get('msg')}"


def test_wan_never_reaches_the_camera_lan(estate: lab_module.Lab) -> None:
    """The controller sits on the WAN with a route to each camera LAN via its router. (Every
    attempt waits out its 3 s: they run at the same time.)"""

    def answers(target: tuple[str, int]) -> bool:
        address, port = target
        run = subprocess.run(
            ["timeout", "3", "bash", "-c", f"exec 3<>/dev/tcp/{address}/{port}"],
            capture_output=True,
            check=False,
        )
        return run.returncode == 0

    targets = [
        target
        for facility in estate.inventory.facilities
        for target in [(str(facility.nvr.ip), 22)]
        + [(str(c.ip), c.rtsp_port) for c in facility.cameras]
    ]
    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        answered = [t for t, yes in zip(targets, pool.map(answers, targets), strict=True) if yes]
    assert answered == [], f"answered from the WAN: {answered}"
    for facility in estate.inventory.facilities:
        ping = subprocess.run(
            ["ping", "-c", "1", "-W", "1", str(facility.cameras[0].ip)],
            capture_output=True,
            check=False,
        )
        assert ping.returncode != 0


def test_camera_lan_reaches_only_the_nvr(estate: lab_module.Lab) -> None:
    camera = estate.plan.host("north_cam01")
    facility = estate.inventory.facility(NORTH)

    def reaches(address: str, port: int) -> bool:
        return (
            subprocess.run(
                [
                    *estate.shell_args(camera),
                    f"timeout 3 bash -c 'exec 3<>/dev/tcp/{address}/{port}'",
                ],
                capture_output=True,
                check=False,
            ).returncode
            == 0
        )

    assert reaches(str(facility.nvr.ip), 8088)  # the NVR (the facility's screen)
    refused = [
        (str(facility.router.lan_ip), 22),  # the router
        ("10.77.0.10", 443),  # central
        ("10.78.0.1", 3143),  # the WAN (the lab's controller)
        ("10.99.0.1", 22),  # the hub's tunnel address
        ("10.79.2.2", 22),  # another facility's NVR
    ]
    # Each attempt waits out its 3 s: all at the same time.
    with ThreadPoolExecutor(max_workers=len(refused)) as pool:
        verdicts = list(pool.map(lambda target: reaches(*target), refused))
    reached = [target for target, yes in zip(refused, verdicts, strict=True) if yes]
    assert reached == [], f"a camera reached {reached}"


def test_hardening_time_and_tunnel_on_the_site_hosts(estate: lab_module.Lab) -> None:
    for name in ("nvr-north", "rtr-north"):
        host = infra_host(estate, name)
        config = host.check_output("sshd -T")
        for line in (
            "permitrootlogin no",
            "passwordauthentication no",
            "maxauthtries 4",
            "logingracetime 60",
        ):
            assert line in config.splitlines(), f"{name}: {line}"
        assert host.service("chrony").is_running, name
    router = infra_host(estate, "rtr-north")
    assert "10.79.1.2:22" in router.check_output("sshd -T | grep -i permitopen")
    hub = infra_host(estate, "central-1")
    handshakes = hub.check_output("wg show wg0 latest-handshakes")
    assert len([line for line in handshakes.splitlines() if not line.endswith("\t0")]) >= 2


def test_wireguard_peer_module_create_repeat_update_delete(estate: lab_module.Lab) -> None:
    key = subprocess.run(
        ["bash", "-c", "wg genkey | wg pubkey"], capture_output=True, text=True, check=True
    ).stdout.strip()
    peer = {
        "name": "lab_test_peer",
        "public_key": key,
        "allowed_ips": ["10.99.0.250/32", "10.79.250.0/24"],
    }
    try:
        created = remote_module(estate, "central-1", "camops_wireguard_peer", peer)
        assert created["changed"], created
        again = remote_module(estate, "central-1", "camops_wireguard_peer", peer)
        assert not again["changed"], again
        moved = {**peer, "allowed_ips": ["10.99.0.250/32", "10.79.251.0/24"]}
        checked = remote_module(estate, "central-1", "camops_wireguard_peer", moved, "--check")
        assert checked["changed"]
        updated = remote_module(estate, "central-1", "camops_wireguard_peer", moved, "--diff")
        assert updated["changed"]
        assert "10.79.251.0/24" in json.dumps(updated.get("diff", {}))
        hub = infra_host(estate, "central-1")
        assert "10.79.251.0/24" in hub.check_output("ip route show dev wg0")
    finally:
        gone = remote_module(
            estate,
            "central-1",
            "camops_wireguard_peer",
            {"name": "lab_test_peer", "state": "absent"},
        )
    assert gone["changed"]
    assert key not in infra_host(estate, "central-1").check_output("wg show wg0 peers")


@pytest.mark.parametrize("site", SITES)
def test_no_secret_in_the_rollout_output(estate: lab_module.Lab, site: str) -> None:
    secrets = vault.read(estate.vault_file, estate.vault_password_file)
    output = ROLLOUTS[site].stdout + ROLLOUTS[site].stderr
    for name, value in secrets.items():
        if name.startswith("vault_camera_"):
            assert_no_secret(value["password"], output, f"rollout of {site}")
        elif isinstance(value, str):
            assert_no_secret(value, output, f"rollout of {site}")


def test_rollout_refuses_bad_input_before_touching_a_host(estate: lab_module.Lab) -> None:
    for extra, message in (
        ([], "name the facility to roll out"),
        (["-e", "site=nowhere"], "is not a facility of this inventory"),
    ):
        run = playbook(estate, "site_rollout.yml", *extra)
        assert run.returncode != 0
        assert message in run.stdout
        # Only the validation and the controller's checks ran: nothing changed, nothing reached.
        touched = {
            host
            for host, counters in recap(run).items()
            if counters["changed"] or counters["unreachable"]
        }
        assert touched == set(), touched
        assert "TASK [base" not in run.stdout
