"""camops_wireguard_peer against real WireGuard (wireguard-go) in two network namespaces.

A "hub" and a "site" namespace joined by a veth pair, each with a userspace WireGuard
interface; the site already points at the hub. The module (run inside the hub namespace, as a
play runs it on the hub: in-process in a Python of its own, tests.run_module) registers the
site: check mode changes nothing, create gives a handshake and a routed camera LAN, repeat is
unchanged, update shows a diff, the PostUp script restores peers after the interface is
re-created, standby and deregistration close the tunnel. Needs root, iproute2, wireguard-tools
and wireguard-go (a few seconds).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PEERS_SCRIPT = ROOT / "roles" / "wireguard_hub" / "files" / "camops-wireguard-peers"
TOOLS = ("ip", "wg", "wireguard-go")


@pytest.fixture(autouse=True)
def _tools() -> None:
    """`make test` runs as root and `make setup` installs the tools (deps/apt.txt): missing is
    a broken set-up, a failure, never a skip."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if os.geteuid() != 0 or missing:
        pytest.fail(f"needs root and {', '.join(missing) or 'nothing else'}: run 'make setup'")


def sh(*argv: str, ns: str | None = None, stdin: str | None = None) -> str:
    prefix = ["ip", "netns", "exec", ns] if ns else []
    done = subprocess.run(
        [*prefix, *argv], input=stdin, capture_output=True, text=True, check=True, timeout=30
    )
    return done.stdout


@dataclass
class Pair:
    hub_ns: str
    site_ns: str
    hub_if: str
    site_if: str
    config_dir: Path
    site_key: str  # public

    def module(self, *flags: str, **args: Any) -> dict[str, Any]:
        """camops_wireguard_peer run inside the hub namespace, as a play runs it on the hub
        (in-process in a Python of its own there: tests.run_module)."""
        args = {"interface": self.hub_if, "config_dir": str(self.config_dir), **args}
        run = subprocess.run(
            ["ip", "netns", "exec", self.hub_ns, sys.executable, "-m", "tests.run_module",
             "camops_wireguard_peer", json.dumps(args), *flags],
            capture_output=True, text=True, check=False, cwd=ROOT, timeout=120,
        )  # fmt: skip
        assert run.stdout, run.stderr[-2000:]
        result: dict[str, Any] = json.loads(run.stdout)
        return result

    def hub_peers(self) -> dict[str, str]:
        lines = sh("wg", "show", self.hub_if, "allowed-ips", ns=self.hub_ns).splitlines()
        return dict(line.split("\t", 1) for line in lines)

    def route_dev(self, address: str) -> str:
        """The device the hub routes ``address`` through ("" if unreachable)."""
        try:
            words = sh("ip", "-o", "route", "get", address, ns=self.hub_ns).split()
        except subprocess.CalledProcessError:
            return ""
        return words[words.index("dev") + 1]

    def handshake(self, timeout: float = 10) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = sh("wg", "show", self.site_if, "latest-handshakes", ns=self.site_ns)
            if any(int(line.split("\t")[1]) > 0 for line in out.splitlines()):
                return True
            time.sleep(0.3)
        return False


def _wireguard(ns: str, iface: str, address: str, private: str, port: int | None) -> None:
    sh("wireguard-go", iface, ns=ns)
    args = ["wg", "set", iface, "private-key", "/dev/stdin"]
    if port:
        args += ["listen-port", str(port)]
    sh(*args, ns=ns, stdin=private + "\n")
    sh("ip", "address", "add", address, "dev", iface, ns=ns)
    sh("ip", "link", "set", iface, "up", ns=ns)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    tag = f"{os.getpid() % 100000}"
    hub_ns, site_ns = f"cmtest-hub{tag}", f"cmtest-site{tag}"
    hub_if, site_if = f"cmtwh{tag}", f"cmtws{tag}"
    made: list[str] = []
    try:
        for ns in (hub_ns, site_ns):
            sh("ip", "netns", "add", ns)
            made.append(ns)
            sh("ip", "link", "set", "lo", "up", ns=ns)
        sh("ip", "link", "add", f"cmtv{tag}h", "netns", hub_ns, "type", "veth", "peer", "name",
           f"cmtv{tag}s", "netns", site_ns)  # fmt: skip
        sh("ip", "address", "add", "192.0.2.10/24", "dev", f"cmtv{tag}h", ns=hub_ns)
        sh("ip", "address", "add", "192.0.2.11/24", "dev", f"cmtv{tag}s", ns=site_ns)
        sh("ip", "link", "set", f"cmtv{tag}h", "up", ns=hub_ns)
        sh("ip", "link", "set", f"cmtv{tag}s", "up", ns=site_ns)
        hub_private, site_private = sh("wg", "genkey").strip(), sh("wg", "genkey").strip()
        hub_public = sh("wg", "pubkey", stdin=hub_private).strip()
        site_public = sh("wg", "pubkey", stdin=site_private).strip()
        _wireguard(hub_ns, hub_if, "10.99.0.1/24", hub_private, 51820)
        _wireguard(site_ns, site_if, "10.99.0.11/24", site_private, None)
        # The site's camera LAN gateway address, and the site's side of the tunnel.
        sh("ip", "address", "add", "10.79.1.1/32", "dev", "lo", ns=site_ns)
        sh("wg", "set", site_if, "peer", hub_public, "endpoint", "192.0.2.10:51820",
           "allowed-ips", "10.99.0.0/24", "persistent-keepalive", "1", ns=site_ns)  # fmt: skip
        yield Pair(hub_ns, site_ns, hub_if, site_if, tmp_path / "wireguard", site_public)
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "delete", ns], check=False)
        for iface in (hub_if, site_if):
            Path(f"/var/run/wireguard/{iface}.sock").unlink(missing_ok=True)


def _tcp_reaches(pair: Pair, address: str, port: int) -> bool:
    """A listener in the site namespace, a connection from the hub namespace."""
    server = subprocess.Popen(
        ["ip", "netns", "exec", pair.site_ns, sys.executable, "-c",
         "import socket,sys; s=socket.socket(); s.bind((sys.argv[1], int(sys.argv[2]))); "
         "s.listen(); print('up', flush=True); c,_=s.accept(); c.sendall(b'camops'); c.close()",
         address, str(port)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "up"
        probe = sh(
            sys.executable, "-c",
            "import socket,sys; c=socket.create_connection((sys.argv[1], int(sys.argv[2])), 5); "
            "print(c.recv(16).decode())",
            address, str(port), ns=pair.hub_ns,
        )  # fmt: skip
        return probe.strip() == "camops"
    except subprocess.CalledProcessError:
        return False
    finally:
        server.kill()
        server.wait()


NORTH = ["10.99.0.11/32", "10.79.1.0/24"]


def test_peer_lifecycle_on_real_wireguard(pair: Pair) -> None:
    name = "lab_north_school"
    peer_args = {"name": name, "public_key": pair.site_key, "allowed_ips": NORTH}

    checked = pair.module("--check", "--diff", **peer_args)
    assert checked["changed"] is True, checked
    assert checked["diff"]["before"] == {"state": "absent"}
    assert pair.hub_peers() == {}
    assert not pair.config_dir.exists()

    created = pair.module(**peer_args)
    assert created["changed"] is True, created
    assert pair.hub_peers() == {pair.site_key: "10.79.1.0/24 10.99.0.11/32"}
    assert pair.handshake(), "no WireGuard handshake between site and hub"
    assert pair.route_dev("10.79.1.1") == pair.hub_if
    assert _tcp_reaches(pair, "10.79.1.1", 8554), "camera LAN not reachable through the tunnel"

    repeated = pair.module("--check", "--diff", **peer_args)
    assert repeated["changed"] is False, repeated
    assert pair.module(**peer_args)["changed"] is False

    updated = pair.module("--diff", **{**peer_args, "allowed_ips": [*NORTH, "10.79.3.0/24"]})
    assert updated["changed"] is True
    assert updated["diff"]["before"]["allowed_ips"] == ["10.79.1.0/24", "10.99.0.11/32"]
    assert updated["diff"]["after"]["allowed_ips"] == [
        "10.79.1.0/24",
        "10.79.3.0/24",
        "10.99.0.11/32",
    ]
    assert pair.route_dev("10.79.3.1") == pair.hub_if

    # The interface is re-created (restart, reboot): PostUp's script restores peer and routes.
    sh("ip", "link", "delete", pair.hub_if, ns=pair.hub_ns)
    private = sh("wg", "genkey").strip()  # the hub's key is not what is tested here
    _wireguard(pair.hub_ns, pair.hub_if, "10.99.0.1/24", private, 51820)
    assert pair.hub_peers() == {}
    sh(str(PEERS_SCRIPT), pair.hub_if, str(pair.config_dir / f"{pair.hub_if}.peers.d"),
       ns=pair.hub_ns)  # fmt: skip
    assert pair.hub_peers() == {pair.site_key: "10.79.1.0/24 10.79.3.0/24 10.99.0.11/32"}
    assert pair.route_dev("10.79.1.1") == pair.hub_if
    assert pair.module(**{**peer_args, "allowed_ips": [*NORTH, "10.79.3.0/24"]})["changed"] is False

    standby = pair.module(**peer_args, enabled=False)
    assert standby["changed"] is True
    assert pair.hub_peers() == {}
    assert (pair.config_dir / f"{pair.hub_if}.peers.d" / f"{name}.disabled").exists()
    assert pair.route_dev("10.79.1.1") == ""

    removed = pair.module("--diff", name=name, state="absent")
    assert removed["changed"] is True
    assert removed["diff"]["after"] == {"state": "absent"}
    assert list((pair.config_dir / f"{pair.hub_if}.peers.d").iterdir()) == []
    assert pair.module(name=name, state="absent")["changed"] is False


def test_another_sites_key_or_networks_are_refused_and_check_mode_applies_nothing(
    pair: Pair,
) -> None:
    """On the real hub: a second site claiming the first one's networks, or its key, is refused
    and the hub keeps exactly what it had; check mode of a new site reports the change and
    leaves the hub, its routes and its peer files as they were."""
    name = "lab_north_school"
    assert pair.module(name=name, public_key=pair.site_key, allowed_ips=NORTH)["changed"]
    registered = pair.hub_peers()
    files = sorted(p.name for p in (pair.config_dir / f"{pair.hub_if}.peers.d").iterdir())
    other_key = sh("wg", "pubkey", stdin=sh("wg", "genkey")).strip()

    overlap = pair.module(name="intruder", public_key=other_key, allowed_ips=["10.79.1.128/25"])
    assert overlap.get("failed") is True
    assert "overlap peer lab_north_school" in overlap["msg"]
    same_key = pair.module(name="intruder", public_key=pair.site_key, allowed_ips=["10.79.2.0/24"])
    assert same_key.get("failed") is True
    assert "already the key of peer lab_north_school" in same_key["msg"]

    planned = pair.module(
        "--check", "--diff", name="south", public_key=other_key, allowed_ips=["10.79.2.0/24"]
    )
    assert planned["changed"] is True
    assert planned["diff"]["after"]["allowed_ips"] == ["10.79.2.0/24"]
    assert pair.hub_peers() == registered
    assert pair.route_dev("10.79.2.1") != pair.hub_if
    assert sorted(p.name for p in (pair.config_dir / f"{pair.hub_if}.peers.d").iterdir()) == files
