"""What the lab of an inventory is made of: networks, hosts, addresses and routes.

Pure data derived from the model, so it is unit-tested without podman:

- ``central``: the central network (podman-assigned addresses, internal: no egress);
- ``wan``: the network of the site routers' WAN addresses and the WireGuard hub's endpoint;
  the controller sits on it at the first address (SSH, package proxy) — the operator's side;
- ``lan-<facility>``: one camera LAN per facility, internal and without podman addressing:
  the lab's init sets the inventory's addresses, so the controller has no address on it and
  reaches a site only through its router, as in production.

The controller routes the camera LANs through the routers' WAN addresses: an unconfigured
site router forwards them (a fresh site is open), a rolled-out one drops everything from the
WAN. The central hub reaches the camera LANs only through the WireGuard tunnels that the site
rollout builds; the lab gives it and the routers a TUN device for ``wireguard-go``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Network, ip_address

from infra.model import CentralRole, Inventory

PREFIX = "camops-lab"
LABEL = "camops.lab"


class LabPlanError(ValueError):
    """The inventory cannot be laid out as a lab; the message says why and how to fix it."""


class NetKind(StrEnum):
    CENTRAL = "central"
    WAN = "wan"
    LAN = "lan"


class HostKind(StrEnum):
    CENTRAL = "central"
    ROUTER = "router"
    NVR = "nvr"
    CAMERA = "camera"


@dataclass(frozen=True)
class LabNetwork:
    name: str
    kind: NetKind
    subnet: IPv4Network
    facility: str | None = None

    @property
    def podman_addressing(self) -> bool:
        """Podman assigns addresses (and the controller gets the gateway) on central and WAN."""
        return self.kind is not NetKind.LAN

    @property
    def gateway(self) -> IPv4Address:
        return next(self.subnet.hosts())


@dataclass(frozen=True)
class Attachment:
    network: LabNetwork
    ip: IPv4Address
    mac: str


@dataclass(frozen=True)
class Route:
    subnet: IPv4Network
    via: IPv4Address


@dataclass
class LabHost:
    name: str  # inventory hostname (Ansible)
    kind: HostKind
    image: str  # "base" or "camera"
    attachments: list[Attachment] = field(default_factory=list)
    gateway: IPv4Address | None = None  # default route set by the lab's init
    facility: str | None = None
    camera_id: str | None = None
    routes: list[Route] = field(default_factory=list)  # further routes set by the lab's init

    @property
    def container(self) -> str:
        return f"{PREFIX}-{self.name}"

    @property
    def hostname(self) -> str:
        return self.name.replace("_", "-")

    @property
    def address(self) -> IPv4Address:
        """Where the controller reaches the host (SSH)."""
        for attachment in self.attachments:
            if attachment.network.kind is NetKind.WAN:
                return attachment.ip
        return self.attachments[0].ip

    @property
    def router(self) -> bool:
        return self.kind is HostKind.ROUTER

    @property
    def wireguard_hub(self) -> bool:
        """The central host on the WAN: it terminates the sites' tunnels."""
        return self.kind is HostKind.CENTRAL and any(
            a.network.kind is NetKind.WAN for a in self.attachments
        )

    @property
    def forwards(self) -> bool:
        """Routes packets between its networks (needs a TUN device and IP forwarding)."""
        return self.router or self.wireguard_hub


@dataclass
class LabPlan:
    inventory: str
    networks: list[LabNetwork]
    hosts: list[LabHost]
    routes: list[Route]
    controller_ip: IPv4Address

    def network(self, kind: NetKind, facility: str | None = None) -> LabNetwork:
        for network in self.networks:
            if network.kind is kind and network.facility == facility:
                return network
        raise KeyError((kind, facility))

    def host(self, name: str) -> LabHost:
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)


def lab_mac(host: str, network: str) -> str:
    """A stable, locally administered unicast MAC for a host on a network."""
    digest = hashlib.sha256(f"{host}/{network}".encode()).digest()
    return "02:" + ":".join(f"{byte:02x}" for byte in digest[:5])


def _endpoint_ip(endpoint: str) -> IPv4Address:
    host = endpoint.rsplit(":", 1)[0].strip("[]")
    try:
        address = ip_address(host)
    except ValueError as error:
        raise LabPlanError(
            f"province.central.wireguard.endpoint '{endpoint}' must be an IPv4 address:port "
            "in the lab (the hub's WAN address)"
        ) from error
    if not isinstance(address, IPv4Address):
        raise LabPlanError("province.central.wireguard.endpoint must be IPv4 in the lab")
    return address


def build(inventory: Inventory) -> LabPlan:
    """Lay out the lab of an inventory, or raise :class:`LabPlanError`."""
    province = inventory.province
    central = LabNetwork(f"{PREFIX}-central", NetKind.CENTRAL, province.central.network)
    wan_subnets = {facility.router.wan_ip.network for facility in inventory.facilities}
    hub_ip = _endpoint_ip(province.central.wireguard.endpoint)
    if len(wan_subnets) > 1:
        raise LabPlanError(
            "the lab has one WAN: every router.wan_ip must be in the same network "
            f"(found {', '.join(sorted(map(str, wan_subnets)))})"
        )
    wan_subnet = wan_subnets.pop() if wan_subnets else IPv4Network(f"{hub_ip}/24", strict=False)
    if hub_ip not in wan_subnet:
        raise LabPlanError(
            f"the WireGuard endpoint {hub_ip} must be on the routers' WAN {wan_subnet} in the lab"
        )
    wan = LabNetwork(f"{PREFIX}-wan", NetKind.WAN, wan_subnet)
    for net in (central, wan):
        taken = (
            {h.ip for h in province.central.hosts}
            | {hub_ip}
            | {f.router.wan_ip.ip for f in inventory.facilities}
        )
        if net.gateway in taken:
            raise LabPlanError(
                f"{net.gateway} is the lab controller's address on {net.subnet}; "
                "use other addresses for hosts"
            )
    networks = [central, wan]
    hosts: list[LabHost] = []
    routes: list[Route] = []

    for host in province.central.hosts:
        lab_host = LabHost(host.hostname, HostKind.CENTRAL, "base")
        lab_host.attachments.append(
            Attachment(central, host.ip, lab_mac(host.hostname, central.name))
        )
        if CentralRole.WIREGUARD_HUB in host.roles:
            lab_host.attachments.append(Attachment(wan, hub_ip, lab_mac(host.hostname, wan.name)))
        hosts.append(lab_host)

    for facility in sorted(inventory.facilities, key=lambda item: item.id):
        lan = LabNetwork(
            f"{PREFIX}-lan-{facility.id}".replace("_", "-"),
            NetKind.LAN,
            facility.camera_subnet,
            facility.id,
        )
        networks.append(lan)
        router = facility.router
        gateway = router.lan_ip
        lab_router = LabHost(router.hostname, HostKind.ROUTER, "base", facility=facility.id)
        lab_router.attachments += [
            Attachment(wan, router.wan_ip.ip, lab_mac(router.hostname, wan.name)),
            Attachment(lan, router.lan_ip, lab_mac(router.hostname, lan.name)),
        ]
        nvr = LabHost(
            facility.nvr.hostname, HostKind.NVR, "base", gateway=gateway, facility=facility.id
        )
        nvr.attachments.append(
            Attachment(lan, facility.nvr.ip, lab_mac(facility.nvr.hostname, lan.name))
        )
        hosts += [lab_router, nvr]
        for camera in facility.cameras:
            cam = LabHost(
                camera.id,
                HostKind.CAMERA,
                "camera",
                gateway=gateway,
                facility=facility.id,
                camera_id=camera.id,
            )
            cam.attachments.append(Attachment(lan, camera.ip, camera.mac.lower()))
            hosts.append(cam)
        routes.append(Route(facility.camera_subnet, router.wan_ip.ip))
    return LabPlan(inventory.name, networks, hosts, routes, wan.gateway)
