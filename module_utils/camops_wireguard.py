"""Shared code of the camops WireGuard modules: one site peer on the hub as a desired state.

A peer is known by its *name* (the facility id). It lives in three places, and the module makes
all three agree:

- the live interface (``wg show <iface> dump``; changed with ``wg set``);
- the routes of its allowed IPs through the interface (``ip route``), since peers added after
  ``wg-quick up`` get no routes from wg-quick;
- one file per peer, ``<config_dir>/<iface>.peers.d/<name>.conf`` (a ``[Peer]`` section that
  ``wg addconf`` reads), which the interface's ``PostUp`` re-applies at boot
  (``camops-wireguard-peers``, installed by the ``wireguard_hub`` role). A disabled peer (a site
  on standby) keeps its file as ``<name>.disabled``, which PostUp skips.

Pure parts (parsing, rendering, planning) take no I/O and are unit-tested; :class:`PeerManager`
runs commands through a callable so it runs the same under Ansible and in tests.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: A command runner: argv -> (rc, stdout, stderr).
Runner = Callable[[list[str]], tuple[int, str, str]]

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
IFACE_RE = re.compile(r"^[A-Za-z0-9_=+.-]{1,15}$")
HEADER = "# Managed by camops (camops_wireguard_peer): site peer {name}. Do not edit.\n"


class WireguardError(Exception):
    """A peer cannot be brought to the desired state; the message says why."""


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise WireguardError(
            f"name {name!r}: use letters, digits, '_', '.', '-' (the facility id), at most 63"
        )
    return name


def check_interface(interface: str) -> str:
    if not IFACE_RE.match(interface):
        raise WireguardError(f"interface {interface!r} is not a valid interface name")
    return interface


def check_public_key(key: str) -> str:
    """A WireGuard public key: base64 of exactly 32 bytes."""
    key = key.strip()
    try:
        raw = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError) as error:
        raise WireguardError("public_key is not base64 (wg pubkey prints 44 characters)") from error
    if len(raw) != 32 or len(key) != 44:
        raise WireguardError("public_key must be 32 bytes in base64 (44 characters)")
    return key


def normalize_allowed_ips(items: Sequence[str]) -> list[str]:
    """Canonical, sorted, de-duplicated networks; host bits set are an error (a typo)."""
    networks: set[ipaddress.IPv4Network | ipaddress.IPv6Network] = set()
    for item in items:
        text = str(item).strip()
        try:
            networks.add(ipaddress.ip_network(text, strict=True))
        except ValueError as error:
            raise WireguardError(f"allowed_ips: {text!r} is not a network ({error})") from error
    if not networks:
        raise WireguardError("allowed_ips must name at least one network")
    ordered = sorted(networks, key=lambda net: (net.version, net.network_address, net.prefixlen))
    return [net.with_prefixlen for net in ordered]


def overlaps(first: Sequence[str], second: Sequence[str]) -> list[str]:
    """Networks of ``first`` that overlap a network of ``second``."""
    nets = [ipaddress.ip_network(item) for item in second]
    found = []
    for item in first:
        net = ipaddress.ip_network(item)
        if any(net.version == other.version and net.overlaps(other) for other in nets):
            found.append(item)
    return found


@dataclass(frozen=True)
class PeerFile:
    """What a peer file says."""

    name: str
    public_key: str
    allowed_ips: list[str]
    enabled: bool
    keepalive: int | None = None


def render_peer_file(peer: PeerFile) -> str:
    """The peer file: a ``[Peer]`` section ``wg addconf`` accepts."""
    lines = [
        HEADER.format(name=peer.name),
        "[Peer]\n",
        f"PublicKey = {peer.public_key}\n",
        f"AllowedIPs = {', '.join(peer.allowed_ips)}\n",
    ]
    if peer.keepalive:
        lines.append(f"PersistentKeepalive = {peer.keepalive}\n")
    return "".join(lines)


def parse_peer_file(name: str, text: str, enabled: bool) -> PeerFile:
    values: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.split("#", 1)[0].strip()
        if "=" in stripped:
            key, value = stripped.split("=", 1)
            values[key.strip().lower()] = value.strip()
    if "publickey" not in values:
        raise WireguardError(f"peer file of {name} has no PublicKey")
    allowed = [item.strip() for item in values.get("allowedips", "").split(",") if item.strip()]
    keepalive = values.get("persistentkeepalive")
    return PeerFile(
        name=name,
        public_key=values["publickey"],
        allowed_ips=normalize_allowed_ips(allowed) if allowed else [],
        enabled=enabled,
        keepalive=int(keepalive) if keepalive and keepalive != "off" else None,
    )


@dataclass(frozen=True)
class LivePeer:
    public_key: str
    allowed_ips: list[str]
    keepalive: int | None
    latest_handshake: int


def parse_dump(text: str) -> dict[str, LivePeer]:
    """``wg show <iface> dump``: the interface line first, then one tab-separated line per peer
    (public key, preshared key, endpoint, allowed ips, latest handshake, rx, tx, keepalive)."""
    peers: dict[str, LivePeer] = {}
    for line in text.splitlines()[1:]:
        fields = line.split("\t")
        if len(fields) < 8:
            continue
        allowed = [] if fields[3] == "(none)" else [ip for ip in fields[3].split(",") if ip]
        keepalive = None if fields[7] in ("off", "0") else int(fields[7])
        peers[fields[0]] = LivePeer(
            public_key=fields[0],
            allowed_ips=normalize_allowed_ips(allowed) if allowed else [],
            keepalive=keepalive,
            latest_handshake=int(fields[4] or 0),
        )
    return peers


def route_devices(text: str) -> dict[str, str]:
    """``ip -o route show`` lines -> {destination network: device}."""
    routes: dict[str, str] = {}
    for line in text.splitlines():
        words = line.split()
        if not words or words[0] in ("default", "unreachable", "blackhole", "prohibit"):
            continue
        dest = words[0]
        if "dev" not in words:
            continue
        device = words[words.index("dev") + 1]
        try:
            routes[ipaddress.ip_network(dest).with_prefixlen] = device
        except ValueError:
            continue
    return routes


@dataclass
class Desired:
    name: str
    interface: str
    state: str  # present | absent
    public_key: str | None = None
    allowed_ips: list[str] = field(default_factory=list)
    enabled: bool = True
    keepalive: int | None = None


@dataclass
class Current:
    """The peer as it is: its file (if any) and the live interface."""

    file: PeerFile | None
    live_peers: dict[str, LivePeer]
    routes: dict[str, str]
    interface_exists: bool
    other_files: list[PeerFile] = field(default_factory=list)


@dataclass
class Plan:
    write_file: str | None = None  # new content of the active or disabled file
    file_enabled: bool = True
    remove_files: list[str] = field(default_factory=list)  # "conf" / "disabled"
    live_remove: list[str] = field(default_factory=list)  # public keys
    live_set: LivePeer | None = None
    route_add: list[str] = field(default_factory=list)
    route_del: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(
            self.write_file is not None
            or self.remove_files
            or self.live_remove
            or self.live_set
            or self.route_add
            or self.route_del
        )


def from_registration(desired: Desired, current: Current) -> None:
    """A present peer given without its key takes the registered one (and its networks and
    keepalive unless given): putting a site on standby or back needs no router."""
    if desired.state != "present" or desired.public_key is not None:
        return
    if current.file is None:
        raise WireguardError(
            f"peer {desired.name} is not registered on the hub: give public_key and allowed_ips"
        )
    desired.public_key = current.file.public_key
    desired.allowed_ips = desired.allowed_ips or list(current.file.allowed_ips)
    if desired.keepalive is None:
        desired.keepalive = current.file.keepalive


def check_conflicts(desired: Desired, current: Current) -> None:
    """Another site's peer must never share this key or these networks (WireGuard would move
    the networks silently to the newest peer: one site could take over another's cameras)."""
    for other in current.other_files:
        if other.name == desired.name:
            continue
        if desired.public_key and other.public_key == desired.public_key:
            raise WireguardError(
                f"public key of {desired.name} is already the key of peer {other.name}"
            )
        clash = overlaps(desired.allowed_ips, other.allowed_ips)
        if clash:
            raise WireguardError(
                f"allowed_ips {', '.join(clash)} of {desired.name} overlap peer {other.name} "
                f"({', '.join(other.allowed_ips)})"
            )


def _key(desired: Desired) -> str:
    if desired.public_key is None:
        raise WireguardError(f"peer {desired.name}: public_key is required when present")
    return desired.public_key


def _plan_file(desired: Desired, old: PeerFile | None, result: Plan) -> None:
    if desired.state == "present":
        peer = PeerFile(
            desired.name, _key(desired), desired.allowed_ips, desired.enabled, desired.keepalive
        )
        if old is None or old != peer:
            result.write_file = render_peer_file(peer)
        result.file_enabled = desired.enabled
        if old is not None and old.enabled != desired.enabled:
            result.remove_files.append("conf" if old.enabled else "disabled")
    elif old is not None:
        result.remove_files.append("conf" if old.enabled else "disabled")


def _plan_live(desired: Desired, current: Current, want_live: bool, result: Plan) -> None:
    # The peer's old key goes if it changed or the peer is not wanted live.
    old_keys = {current.file.public_key} if current.file else set()
    if desired.public_key and not want_live:
        old_keys.add(desired.public_key)
    for key in sorted(old_keys):
        if key in current.live_peers and (not want_live or key != desired.public_key):
            result.live_remove.append(key)
    if want_live:
        key = _key(desired)
        live = current.live_peers.get(key)
        if (
            live is None
            or live.allowed_ips != desired.allowed_ips
            or live.keepalive != desired.keepalive
        ):
            result.live_set = LivePeer(key, desired.allowed_ips, desired.keepalive, 0)


def plan(desired: Desired, current: Current) -> Plan:
    """What to change so that the peer is as desired."""
    result = Plan()
    want_live = desired.state == "present" and desired.enabled
    _plan_file(desired, current.file, result)
    _plan_live(desired, current, want_live, result)
    # Routes of the allowed IPs through the interface.
    wanted = set(desired.allowed_ips) if want_live else set()
    for net in sorted(wanted):
        if current.routes.get(net) != desired.interface:
            result.route_add.append(net)
    stale = set(current.file.allowed_ips if current.file else []) | set(desired.allowed_ips)
    for net in sorted(stale - wanted):
        if current.routes.get(net) == desired.interface:
            result.route_del.append(net)
    return result


def describe(peer: PeerFile | None, live: LivePeer | None, routes: list[str]) -> dict[str, Any]:
    """A peer for diff and return values (public data only: keys here are public keys)."""
    if peer is None and live is None:
        return {"state": "absent"}
    info: dict[str, Any] = {"state": "present"}
    if peer is not None:
        info.update(
            name=peer.name,
            public_key=peer.public_key,
            allowed_ips=peer.allowed_ips,
            enabled=peer.enabled,
            persistent_keepalive=peer.keepalive,
        )
    info["live"] = (
        {"allowed_ips": live.allowed_ips, "latest_handshake": live.latest_handshake}
        if live is not None
        else None
    )
    info["routes"] = routes
    return info


class PeerManager:
    """Reads and changes one peer on a host through ``wg`` and ``ip``."""

    def __init__(self, run: Runner, interface: str, config_dir: str) -> None:
        self.run = run
        self.interface = check_interface(interface)
        self.peers_dir = Path(config_dir) / f"{interface}.peers.d"

    def path(self, name: str, enabled: bool) -> Path:
        return self.peers_dir / f"{name}.{'conf' if enabled else 'disabled'}"

    def _call(self, argv: list[str]) -> str:
        rc, out, err = self.run(argv)
        if rc != 0:
            raise WireguardError(f"{' '.join(argv)} failed (rc={rc}): {err.strip() or out.strip()}")
        return out

    def read_files(self) -> list[PeerFile]:
        files: list[PeerFile] = []
        if not self.peers_dir.is_dir():
            return files
        for entry in sorted(self.peers_dir.iterdir()):
            if entry.suffix not in (".conf", ".disabled") or entry.name.startswith("."):
                continue
            text = entry.read_text(encoding="utf-8")
            files.append(parse_peer_file(entry.stem, text, entry.suffix == ".conf"))
        return files

    def interface_exists(self) -> bool:
        return self.run(["ip", "link", "show", "dev", self.interface])[0] == 0

    def current(self, name: str) -> Current:
        files = self.read_files()
        mine = [item for item in files if item.name == name]
        # Both files at once (an interrupted run): the active one counts.
        mine.sort(key=lambda item: not item.enabled)
        exists = self.interface_exists()
        live = parse_dump(self._call(["wg", "show", self.interface, "dump"])) if exists else {}
        routes: dict[str, str] = {}
        for family in ("-4", "-6"):
            rc, out, _err = self.run(["ip", family, "-o", "route", "show"])
            if rc == 0:  # a host without IPv6 has no IPv6 routes to manage
                routes.update(route_devices(out))
        return Current(
            file=mine[0] if mine else None,
            live_peers=live,
            routes=routes,
            interface_exists=exists,
            other_files=[item for item in files if item.name != name],
        )

    def apply(self, name: str, todo: Plan) -> None:
        if (todo.live_remove or todo.live_set or todo.route_add) and not self.interface_exists():
            raise WireguardError(
                f"interface {self.interface} does not exist: bring it up first (role "
                "wireguard_hub); a peer file alone would be applied only at its next start"
            )
        self.peers_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if todo.write_file is not None:
            self._write(self.path(name, todo.file_enabled), todo.write_file)
        for kind in todo.remove_files:
            self.path(name, kind == "conf").unlink(missing_ok=True)
        for key in todo.live_remove:
            self._call(["wg", "set", self.interface, "peer", key, "remove"])
        if todo.live_set is not None:
            self._call(
                [
                    "wg",
                    "set",
                    self.interface,
                    "peer",
                    todo.live_set.public_key,
                    "allowed-ips",
                    ",".join(todo.live_set.allowed_ips),
                    "persistent-keepalive",
                    str(todo.live_set.keepalive or "off"),
                ]
            )
        for net in todo.route_del:
            self._call(["ip", "route", "del", net, "dev", self.interface])
        for net in todo.route_add:
            self._call(["ip", "route", "replace", net, "dev", self.interface])

    def _write(self, target: Path, content: str) -> None:
        """Atomically (temporary file, then rename), readable by root only."""
        fd, name = tempfile.mkstemp(dir=self.peers_dir, prefix=".tmp-")
        tmp = Path(name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(content)
            tmp.chmod(0o600)
            tmp.replace(target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
