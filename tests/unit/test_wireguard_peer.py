"""camops_wireguard (module_utils): the hub's site peers as a desired state, without a hub.

The pure parts (keys, networks, ``wg show dump`` and ``ip route`` parsing, peer files, plans)
and :class:`PeerManager` over a fake ``wg``/``ip`` that keeps state like the real tools:
create -> repeat (unchanged) -> update -> key rotation -> standby -> absent, and refusals.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load() -> Any:
    """module_utils/camops_wireguard.py as Ansible ships it to modules (not a package here)."""
    spec = importlib.util.spec_from_file_location(
        "camops_wireguard", ROOT / "module_utils" / "camops_wireguard.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


wgm = _load()

KEY_A = "0H8K9qDjR4xQ7Z4XZ37PdmgyvrsBWcsxVry1W9uS3x4="
KEY_B = "FRbWUksGo9xnd41zdvMdcYlT4EfCdseeqIHCqTAGCVI="
NORTH = ["10.99.0.11/32", "10.79.1.0/24"]


class FakeHost:
    """``wg`` and ``ip`` of a hub with interface wg0, keeping peers and routes."""

    def __init__(self, interface_up: bool = True) -> None:
        self.up = interface_up
        self.peers: dict[str, list[str]] = {}
        self.keepalive: dict[str, int] = {}
        self.routes: dict[str, str] = {"10.99.0.0/24": "wg0", "10.77.0.0/24": "eth0"}
        self.calls: list[list[str]] = []

    def __call__(self, argv: list[str]) -> tuple[int, str, str]:  # noqa: PLR0911  # one case per command
        self.calls.append(argv)
        match argv:
            case ["ip", "link", "show", "dev", "wg0"]:
                return (0, "4: wg0: <POINTOPOINT,UP>", "") if self.up else (1, "", "not found")
            case ["wg", "show", "wg0", "dump"]:
                lines = ["PRIVATE\tPUBLIC\t51820\toff"]
                for key, nets in self.peers.items():
                    keep = self.keepalive.get(key, 0) or "off"
                    lines.append(
                        f"{key}\t(none)\t(none)\t{','.join(nets) or '(none)'}\t0\t0\t0\t{keep}"
                    )
                return 0, "\n".join(lines) + "\n", ""
            case ["ip", "-4", "-o", "route", "show"]:
                text = "".join(
                    f"{net.removesuffix('/32')} dev {dev} scope link\n"
                    for net, dev in self.routes.items()
                    if ipaddress.ip_network(net).version == 4
                )
                return 0, "default via 10.78.0.1 dev eth1\n" + text, ""
            case ["ip", "-6", "-o", "route", "show"]:
                return 0, "", ""
            case ["wg", "set", "wg0", "peer", key, "remove"]:
                self.peers.pop(key, None)
                return 0, "", ""
            case ["wg", "set", "wg0", "peer", key, "allowed-ips", nets, "persistent-keepalive", k]:
                for other, owned in self.peers.items():  # WireGuard moves networks silently
                    self.peers[other] = [n for n in owned if n not in nets.split(",")]
                self.peers[key] = nets.split(",")
                self.keepalive[key] = 0 if k == "off" else int(k)
                return 0, "", ""
            case ["ip", "route", "replace", net, "dev", dev]:
                self.routes[net] = dev
                return 0, "", ""
            case ["ip", "route", "del", net, "dev", _dev]:
                self.routes.pop(net, None)
                return 0, "", ""
        raise AssertionError(f"unexpected command {argv}")


def run(host: FakeHost, tmp: Path, name: str = "lab_north_school", **kwargs: Any) -> Any:
    """One module run: plan and apply; the plan is returned."""
    desired = wgm.Desired(name=name, interface="wg0", state=kwargs.pop("state", "present"))
    for key, value in kwargs.items():
        setattr(desired, key, value)
    if desired.allowed_ips:
        desired.allowed_ips = wgm.normalize_allowed_ips(desired.allowed_ips)
    manager = wgm.PeerManager(host, "wg0", str(tmp))
    current = manager.current(name)
    if desired.state == "present":
        wgm.from_registration(desired, current)
        wgm.check_conflicts(desired, current)
    todo = wgm.plan(desired, current)
    if todo.changed:
        manager.apply(name, todo)
    return todo


def test_public_key_must_be_32_bytes_of_base64() -> None:
    assert wgm.check_public_key(f" {KEY_A}\n") == KEY_A
    for bad in ("", "not-base64!", KEY_A[:-4] + "====", "AAAA"):
        with pytest.raises(wgm.WireguardError):
            wgm.check_public_key(bad)


def test_allowed_ips_are_canonical_and_host_bits_refused() -> None:
    assert wgm.normalize_allowed_ips(["10.99.0.11/32", "10.79.1.0/24", "10.79.1.0/24"]) == [
        "10.79.1.0/24",
        "10.99.0.11/32",
    ]
    with pytest.raises(wgm.WireguardError, match=r"10\.79\.1\.1/24"):
        wgm.normalize_allowed_ips(["10.79.1.1/24"])
    with pytest.raises(wgm.WireguardError):
        wgm.normalize_allowed_ips([])


def test_names_and_interfaces_are_checked() -> None:
    assert wgm.check_name("lab_north_school") == "lab_north_school"
    for bad in ("../etc", "a b", "", "x" * 64):
        with pytest.raises(wgm.WireguardError):
            wgm.check_name(bad)
    with pytest.raises(wgm.WireguardError):
        wgm.check_interface("a-much-too-long-name")


def test_dump_and_routes_parse() -> None:
    dump = (
        "priv\tpub\t51820\toff\n"
        f"{KEY_A}\t(none)\t10.78.0.11:51820\t10.99.0.11/32,10.79.1.0/24\t1764500000\t1\t2\t25\n"
        f"{KEY_B}\t(none)\t(none)\t(none)\t0\t0\t0\toff\n"
    )
    peers = wgm.parse_dump(dump)
    assert peers[KEY_A].allowed_ips == ["10.79.1.0/24", "10.99.0.11/32"]
    assert peers[KEY_A].keepalive == 25
    assert peers[KEY_A].latest_handshake == 1764500000
    assert peers[KEY_B].allowed_ips == []
    assert peers[KEY_B].keepalive is None
    routes = wgm.route_devices(
        "default via 10.78.0.1 dev eth1\n10.79.1.0/24 via 10.78.0.11 dev eth1\n"
        "10.99.0.11 dev wg0 scope link\nblackhole 10.1.0.0/16\n"
    )
    assert routes == {"10.79.1.0/24": "eth1", "10.99.0.11/32": "wg0"}


def test_peer_file_round_trip_keeps_base64_padding() -> None:
    peer = wgm.PeerFile("lab_north_school", KEY_A, ["10.79.1.0/24", "10.99.0.11/32"], True, 25)
    text = wgm.render_peer_file(peer)
    assert "[Peer]\n" in text
    assert f"PublicKey = {KEY_A}\n" in text
    assert wgm.parse_peer_file("lab_north_school", text, True) == peer


def test_create_repeat_update_rotate_standby_absent(tmp_path: Path) -> None:
    host = FakeHost()
    # An older route of the camera LAN (the lab's stand-in through the WAN) is taken over.
    host.routes["10.79.1.0/24"] = "eth1"
    todo = run(host, tmp_path, public_key=KEY_A, allowed_ips=NORTH)
    assert todo.changed
    assert host.peers == {KEY_A: ["10.79.1.0/24", "10.99.0.11/32"]}
    assert host.routes["10.79.1.0/24"] == "wg0"
    assert host.routes["10.99.0.11/32"] == "wg0"
    conf = tmp_path / "wg0.peers.d" / "lab_north_school.conf"
    assert f"PublicKey = {KEY_A}" in conf.read_text()
    assert conf.stat().st_mode & 0o777 == 0o600

    calls = len(host.calls)
    assert not run(host, tmp_path, public_key=KEY_A, allowed_ips=NORTH).changed
    assert not [c for c in host.calls[calls:] if c[:2] in (["wg", "set"], ["ip", "route"])]

    # Update: the camera subnet moves; the stale route goes.
    todo = run(host, tmp_path, public_key=KEY_A, allowed_ips=["10.99.0.11/32", "10.79.9.0/24"])
    assert todo.route_del == ["10.79.1.0/24"]
    assert todo.route_add == ["10.79.9.0/24"]
    assert "10.79.1.0/24" not in host.routes
    assert host.peers[KEY_A] == ["10.79.9.0/24", "10.99.0.11/32"]

    # Key rotation (router rebuilt): the old key leaves the interface.
    todo = run(host, tmp_path, public_key=KEY_B, allowed_ips=["10.99.0.11/32", "10.79.9.0/24"])
    assert todo.live_remove == [KEY_A]
    assert list(host.peers) == [KEY_B]

    # Standby: registration kept as .disabled, tunnel and routes gone.
    todo = run(host, tmp_path, public_key=KEY_B, allowed_ips=NORTH, enabled=False)
    assert host.peers == {}
    assert "10.99.0.11/32" not in host.routes
    assert not conf.exists()
    assert (tmp_path / "wg0.peers.d" / "lab_north_school.disabled").exists()
    assert not run(host, tmp_path, public_key=KEY_B, allowed_ips=NORTH, enabled=False).changed

    # Re-activation from the hub alone (the registered key and networks), then standby and
    # back the same way, then deregistration.
    run(host, tmp_path)
    assert host.peers == {KEY_B: ["10.79.1.0/24", "10.99.0.11/32"]}
    run(host, tmp_path, enabled=False)
    assert host.peers == {} and not conf.exists()
    assert not run(host, tmp_path, enabled=False).changed
    run(host, tmp_path)
    assert host.peers == {KEY_B: ["10.79.1.0/24", "10.99.0.11/32"]}
    todo = run(host, tmp_path, state="absent")
    assert todo.live_remove == [KEY_B]
    assert host.peers == {}
    assert sorted(host.routes) == ["10.77.0.0/24", "10.99.0.0/24"]
    assert list((tmp_path / "wg0.peers.d").iterdir()) == []
    assert not run(host, tmp_path, state="absent").changed


def test_a_peer_never_registered_needs_its_key(tmp_path: Path) -> None:
    with pytest.raises(wgm.WireguardError, match="not registered on the hub: give public_key"):
        run(FakeHost(), tmp_path, enabled=False)


def test_missing_interface_fails_clearly_but_plans(tmp_path: Path) -> None:
    host = FakeHost(interface_up=False)
    manager = wgm.PeerManager(host, "wg0", str(tmp_path))
    desired = wgm.Desired("lab_north_school", "wg0", "present", KEY_A, NORTH)
    todo = wgm.plan(desired, manager.current("lab_north_school"))
    assert todo.changed
    with pytest.raises(wgm.WireguardError, match="wg0 does not exist"):
        manager.apply("lab_north_school", todo)
