"""Hub + router end to end: handshake, forwarding policy, SSH hardening, time, persistence.

Cross-host checks, so each test drives the containers itself (podman exec) and runs once,
whatever host testinfra hands it.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

HUB, RTR, NVR, CAM = "cmtest-wg-hub", "cmtest-wg-rtr", "cmtest-wg-nvr", "cmtest-wg-cam"
HUB_TUNNEL, HUB_WAN, RTR_WAN, RTR_LAN = "10.99.0.1", "10.96.0.10", "10.96.0.11", "10.96.2.1"
NVR_IP, CAM_IP = "10.96.2.2", "10.96.2.11"
KEY = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent")) / "id_ed25519"

CONNECT = (
    "import socket,sys\n"
    "try:\n"
    "    socket.create_connection((sys.argv[1], int(sys.argv[2])), 1.5).close(); print('open')\n"
    "except OSError as e:\n"
    "    print('closed', e)\n"
)


def run(container: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", "exec", container, *argv],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


def reaches(source: str, address: str, port: int) -> bool:
    out = run(source, "python3", "-c", CONNECT, address, str(port)).stdout
    return out.startswith("open")


@pytest.fixture(scope="module")
def listeners() -> object:
    """TCP listeners: the camera's RTSP port, a port the NVR must not expose, a central
    service on the hub (allowed from the camera subnet by the hub's firewall)."""
    started = []
    for container, address, port in ((CAM, CAM_IP, 554), (NVR, NVR_IP, 8081), (HUB, "", 9000)):
        code = (
            "import socket; s=socket.socket(); "
            "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
            f"s.bind(('{address}', {port})); s.listen(16)\n"
            "while True: s.accept()[0].close()"
        )
        proc = subprocess.Popen(["podman", "exec", container, "python3", "-c", code])
        started.append(proc)
    time.sleep(1)
    yield started
    for proc in started:
        proc.kill()
        proc.wait()
    for container in (CAM, NVR, HUB):
        run(container, "pkill", "-f", "s.bind")


def handshake(timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = run(RTR, "wg", "show", "wg0", "latest-handshakes").stdout.split()
        if len(out) == 2 and int(out[1]) > 0:
            return True
        time.sleep(0.5)
    return False


def test_tunnel_handshake_and_keys_stay_on_their_hosts() -> None:
    assert handshake(), "no WireGuard handshake between router and hub"
    for container in (HUB, RTR):
        mode = run(container, "stat", "-c", "%a %U", "/etc/wireguard/wg0.key").stdout.split()
        assert mode == ["600", "root"]
        conf = run(container, "cat", "/etc/wireguard/wg0.conf").stdout
        assert "PrivateKey" not in conf


def test_central_reaches_cameras_rtsp_and_nvr_ssh(listeners: object) -> None:
    assert reaches(HUB, CAM_IP, 554), "central cannot open RTSP on the camera"
    assert reaches(HUB, NVR_IP, 22), "central cannot reach the NVR's SSH"
    assert not reaches(HUB, NVR_IP, 8081), "central reached a port of the NVR not allowed"
    assert not reaches(HUB, CAM_IP, 22), "central reached a camera port other than RTSP"


def test_nvr_reaches_central_only(listeners: object) -> None:
    assert reaches(NVR, HUB_TUNNEL, 9000), "the NVR cannot reach central through the tunnel"
    assert not reaches(NVR, HUB_WAN, 22), "the NVR reached the WAN"
    assert not reaches(NVR, RTR_LAN, 22), "the NVR reached the router's SSH"


def test_cameras_reach_only_the_nvr(listeners: object) -> None:
    assert reaches(CAM, NVR_IP, 22), "same-LAN camera -> NVR must work"
    assert not reaches(CAM, HUB_TUNNEL, 9000), "a camera reached central"
    assert not reaches(CAM, HUB_WAN, 22), "a camera reached the WAN"
    assert not reaches(CAM, RTR_LAN, 22), "a camera reached the router"
    assert run(CAM, "ping", "-c1", "-W1", RTR_LAN).returncode != 0, "router answers cameras"


def test_wan_never_reaches_the_camera_lan(listeners: object) -> None:
    # A WAN host routing the camera LAN through the router's WAN address (not the tunnel).
    run(HUB, "ip", "route", "replace", f"{CAM_IP}/32", "via", RTR_WAN)
    run(HUB, "ip", "route", "replace", f"{NVR_IP}/32", "via", RTR_WAN)
    try:
        assert not reaches(HUB, CAM_IP, 554), "the WAN reached a camera"
        assert not reaches(HUB, NVR_IP, 22), "the WAN reached the NVR"
    finally:
        run(HUB, "ip", "route", "del", f"{CAM_IP}/32")
        run(HUB, "ip", "route", "del", f"{NVR_IP}/32")
    counters = run(RTR, "nft", "list", "chain", "inet", "camops_router", "forward").stdout
    wan_drop = next(line for line in counters.splitlines() if "WAN never reaches" in line)
    assert "packets 0 " not in wan_drop


OPTIONS = (
    "-o", "BatchMode=yes",
    "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "ConnectTimeout=5",
    "-i", str(KEY),
)  # fmt: skip


def ssh(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ssh", *OPTIONS, *argv], check=False, capture_output=True, text=True, timeout=60
    )


def jump(target: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """ssh to ``target`` through the router, as Ansible reaches the NVR (ProxyJump's -W)."""
    proxy = " ".join(["ssh", *OPTIONS, "-W", "%h:%p", f"camops@{RTR_WAN}"])
    return ssh("-o", f"ProxyCommand={proxy}", f"camops@{target}", *argv)


def test_ssh_is_hardened_and_the_router_jumps_only_to_the_nvr() -> None:
    effective = run(RTR, "sshd", "-T").stdout.splitlines()
    for line in (
        "permitrootlogin no",
        "passwordauthentication no",
        "kbdinteractiveauthentication no",
        "maxauthtries 4",
        "logingracetime 60",
        "x11forwarding no",
        "allowtcpforwarding local",
        f"permitopen {NVR_IP}:22",
    ):
        assert line in effective, line
    assert "allowtcpforwarding no" in run(HUB, "sshd", "-T").stdout
    assert ssh(f"camops@{RTR_WAN}", "true").returncode == 0
    root = ssh(f"root@{RTR_WAN}", "true")
    assert root.returncode != 0
    assert "password" not in root.stderr.split("Permission denied")[-1]
    through = jump(NVR_IP, "hostname")
    assert through.stdout.strip() == NVR, through.stderr
    refused = jump(CAM_IP, "true")
    assert refused.returncode != 0
    assert "administratively prohibited" in refused.stderr, refused.stderr


def test_chrony_runs_without_steering_the_clock_in_a_container() -> None:
    for container in (HUB, RTR):
        assert run(container, "systemctl", "is-active", "chrony").stdout.strip() == "active"
        assert " -x" in run(container, "pgrep", "-a", "chronyd").stdout
    sources = run(RTR, "chronyc", "-n", "sources").stdout
    assert HUB_TUNNEL in sources


def test_firewall_boot_unit_keeps_other_tables_and_peers_survive_restart() -> None:
    run(RTR, "nft", "add", "table", "inet", "cmtest_other")
    assert run(RTR, "systemctl", "restart", "camops-nftables").returncode == 0
    tables = run(RTR, "nft", "list", "tables").stdout
    for table in ("camops_host", "camops_router", "cmtest_other"):
        assert table in tables
    run(RTR, "nft", "delete", "table", "inet", "cmtest_other")
    # The hub's interface restarts (as at boot): PostUp re-applies the registered site.
    assert run(HUB, "systemctl", "restart", "wg-quick@wg0").returncode == 0
    assert "10.96.2.0/24" in run(HUB, "wg", "show", "wg0", "allowed-ips").stdout
    assert "dev wg0" in run(HUB, "ip", "route", "get", CAM_IP).stdout
