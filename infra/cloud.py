"""The central site on an OpenStack cloud, planned from the model (what ``pulumi/central`` builds).

Pure Python, no Pulumi: the Pulumi program, its policy pack, ``camops cloud-plan`` and the tests
read the same plan.

- Every central host of ``province.yml`` becomes a server with its model address on the
  management network. Recorders: as many as ``camops size`` asks for (or as the model lists, if
  more); the ones the model does not list yet are named and addressed after the listed ones,
  and ``camops pulumi-inventory`` says how to declare them (the model stays the record).
- Recorders and object-store nodes also sit on the recording network (segment uploads), at the
  same host number as on the management network.
- Object-store nodes get encrypted block volumes for the retention period of every camera
  (``camops size``: bit rate x retention x (1 + headroom)) times the replica count, in GiB.
- Inbound traffic, and nothing else: WireGuard (UDP) from anywhere to the hub; HTTPS from the
  government ranges to the platform; SSH from the ops bastion ranges to every node; every
  protocol between the central nodes themselves (a security group that admits its members).
- The management subnet routes the tunnel subnet and every camera LAN through the hub, whose
  port may carry those addresses (the recorders reach the cameras through the tunnels).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, ip_address

from infra.model import CentralHost, CentralRole, Inventory
from infra.sizing import BYTES_PER_GB, SIZED_STATUSES, size

BYTES_PER_GIB = 2**30

#: The flavor a multi-role host gets: that of its most demanding role.
ROLE_WEIGHT = (
    CentralRole.OBJECT_STORE,
    CentralRole.RECORDER,
    CentralRole.PLATFORM,
    CentralRole.MONITORING,
    CentralRole.WIREGUARD_HUB,
)

#: Security groups, by what they let in.
GROUP_WIREGUARD = "wireguard"
GROUP_VIEWERS = "viewers"
GROUP_SSH = "ssh"
GROUP_CLUSTER = "cluster"
HTTPS_PORT = 443
SSH_PORT = 22


class CloudPlanError(ValueError):
    """A setting or the model cannot give a buildable plan; the message names the fix."""


@dataclass(frozen=True)
class CloudSettings:
    """The stack's settings (``pulumi config``), beside the model."""

    image: str
    external_network: str
    flavors: Mapping[str, str]
    volume_type: str
    viewer_ranges: tuple[IPv4Network, ...]
    recording_network: IPv4Network
    ssh_public_keys: tuple[str, ...]
    #: None: the model's ``central.ops_ranges``.
    ops_ranges: tuple[IPv4Network, ...] | None = None
    root_volume_gb: int = 40
    object_store_replicas: int = 1
    max_volume_gb: int = 4000
    admin_user: str = "camops"
    #: A public address reserved for the platform's HTTPS (None: one from the pool).
    platform_public_ip: IPv4Address | None = None


@dataclass(frozen=True)
class NodePlan:
    hostname: str
    roles: tuple[str, ...]
    management_ip: IPv4Address
    recording_ip: IPv4Address | None
    flavor: str
    groups: tuple[str, ...]
    #: A floating IP: the hub (site routers dial it) and the platform (viewers).
    public: bool
    #: The model's address for the floating IP, when it names one.
    public_ip: IPv4Address | None
    #: Servers of one anti-affinity group never share a hypervisor.
    anti_affinity: str | None
    data_volumes_gib: tuple[int, ...]
    #: False: a recorder the sizing needs that province.yml does not list yet.
    declared: bool
    #: Addresses the node's port may carry besides its own (the hub: tunnels, camera LANs).
    forwards: tuple[IPv4Network, ...] = ()


@dataclass(frozen=True)
class IngressRule:
    group: str
    protocol: str | None  # None: every protocol
    port: int | None  # None: every port
    remote_ip_prefix: str | None
    remote_group: str | None
    description: str


@dataclass(frozen=True)
class CentralCloudPlan:
    name: str
    province: str
    management_network: IPv4Network
    recording_network: IPv4Network
    nodes: tuple[NodePlan, ...]
    rules: tuple[IngressRule, ...]
    #: Routed through the hub: the tunnel subnet and every camera LAN.
    routes: tuple[IPv4Network, ...]
    hub_ip: IPv4Address
    wireguard_port: int
    #: The recordings' storage the model requires, in decimal GB (one copy).
    required_gb: float
    replicas: int
    recorder_nodes_sized: int
    volume_type: str
    root_volume_gb: int
    settings: CloudSettings = field(repr=False)

    @property
    def store_gib(self) -> int:
        return sum(sum(node.data_volumes_gib) for node in self.nodes)

    def role(self, role: CentralRole) -> list[NodePlan]:
        return [node for node in self.nodes if role.value in node.roles]

    @property
    def undeclared(self) -> list[NodePlan]:
        return [node for node in self.nodes if not node.declared]


def required_gb(inventory: Inventory) -> float:
    """Storage for the retention period of every sized camera (one copy), decimal GB."""
    return size(inventory).central.storage_gb


def gib(gb: float) -> int:
    """Decimal GB as whole GiB, rounded up (volumes are sized in GiB)."""
    return math.ceil(gb * BYTES_PER_GB / BYTES_PER_GIB - 1e-9)


def split_volumes(total_gib: int, nodes: int, max_volume_gib: int) -> list[tuple[int, ...]]:
    """``total_gib`` over ``nodes`` nodes, each node's share in volumes of at most
    ``max_volume_gib`` (rounded up: never less than asked)."""
    if nodes <= 0:
        return []
    share = math.ceil(total_gib / nodes)
    count = max(1, math.ceil(share / max_volume_gib))
    each = math.ceil(share / count)
    return [tuple([each] * count) for _ in range(nodes)]


def _flavor(host_roles: tuple[str, ...], flavors: Mapping[str, str], hostname: str) -> str:
    if hostname in flavors:
        return flavors[hostname]
    for role in ROLE_WEIGHT:
        if role.value in host_roles:
            if role.value not in flavors:
                raise CloudPlanError(
                    f"flavors: no flavor for the role '{role.value}' (host {hostname}); set "
                    f"camops-central:flavors.{role.value} in the stack's config"
                )
            return flavors[role.value]
    raise CloudPlanError(f"host {hostname} has no role")  # the model forbids it


def _extra_recorders(
    inventory: Inventory, declared: list[CentralHost], count: int
) -> list[tuple[str, IPv4Address]]:
    """Names and addresses of ``count`` recorders after the declared ones."""
    central = inventory.province.central
    taken_names = {host.hostname for host in central.hosts}
    taken_ips = {host.ip for host in central.hosts}
    network = central.network
    reserved = {network.network_address, network.broadcast_address, network.network_address + 1}
    stem = f"{inventory.province.code.replace('_', '-')}-recorder-"
    if declared:
        found = re.match(r"^(.*?)(\d+)$", declared[-1].hostname)
        stem = found.group(1) if found else f"{declared[-1].hostname}-"
    start = max((host.ip for host in declared), default=network.network_address + 20)
    result: list[tuple[str, IPv4Address]] = []
    number = 1
    address = start
    while len(result) < count:
        while f"{stem}{number}" in taken_names:
            number += 1
        address += 1
        while address in taken_ips or address in reserved:
            address += 1
        if address not in network:
            raise CloudPlanError(
                f"province.central.network {network} has no free address for recorder "
                f"{stem}{number}: use a larger central network"
            )
        name = f"{stem}{number}"
        taken_names.add(name)
        taken_ips.add(address)
        result.append((name, address))
    return result


def _recording_ip(
    management: IPv4Network, recording: IPv4Network, address: IPv4Address
) -> IPv4Address:
    host = int(address) - int(management.network_address)
    result = IPv4Address(int(recording.network_address) + host)
    if result not in recording or result in (
        recording.network_address,
        recording.broadcast_address,
    ):
        raise CloudPlanError(
            f"recording_network {recording} is smaller than the central network {management}: "
            f"give it at least the same size (the hosts keep their host numbers)"
        )
    return result


def _endpoint_ip(endpoint: str) -> IPv4Address | None:
    host = endpoint.rsplit(":", 1)[0].strip("[]")
    try:
        address = ip_address(host)
    except ValueError:
        return None  # a DNS name: the floating IP comes from the pool, the DNS record after
    return address if isinstance(address, IPv4Address) else None


def plan(inventory: Inventory, settings: CloudSettings, name: str = "central") -> CentralCloudPlan:
    """The central site's servers, volumes, networks and rules for ``inventory``."""
    central = inventory.province.central
    if settings.recording_network.overlaps(central.network):
        raise CloudPlanError(
            f"recording_network {settings.recording_network} overlaps the central network "
            f"{central.network}: choose another range"
        )
    if settings.object_store_replicas < 1:
        raise CloudPlanError("object_store_replicas must be 1 or more")
    if settings.max_volume_gb < 1 or settings.root_volume_gb < 1:
        raise CloudPlanError("max_volume_gb and root_volume_gb must be 1 or more")
    if not settings.ssh_public_keys:
        raise CloudPlanError(
            "ssh_public_keys: give the ops engineers' SSH public keys (Ansible connects with them)"
        )
    ops_ranges = (
        settings.ops_ranges if settings.ops_ranges is not None else tuple(central.ops_ranges)
    )
    report = size(inventory)
    declared_recorders = [h for h in central.hosts if CentralRole.RECORDER in h.roles]
    sized = report.central.recorder_nodes
    extra = _extra_recorders(inventory, declared_recorders, max(0, sized - len(declared_recorders)))
    store_hosts = [h for h in central.hosts if CentralRole.OBJECT_STORE in h.roles]
    if settings.object_store_replicas > len(store_hosts):
        raise CloudPlanError(
            f"object_store_replicas is {settings.object_store_replicas} but the model has "
            f"{len(store_hosts)} object-store host(s): each copy needs a node of its own; add "
            f"hosts with the object_store role to province.yml or lower object_store_replicas"
        )
    total_gb = report.central.storage_gb
    volumes = split_volumes(
        gib(total_gb * settings.object_store_replicas),
        len(store_hosts),
        gib(settings.max_volume_gb),
    )
    volumes_of = {host.hostname: volumes[index] for index, host in enumerate(store_hosts)}
    camera_lans = sorted(
        {f.camera_subnet for f in inventory.facilities if f.status in SIZED_STATUSES},
        key=lambda net: (int(net.network_address), net.prefixlen),
    )
    routes = (central.wireguard.subnet, *camera_lans)
    hosts: list[tuple[str, tuple[str, ...], IPv4Address, bool]] = [
        (host.hostname, tuple(role.value for role in host.roles), host.ip, True)
        for host in central.hosts
    ]
    hosts += [(name_, (CentralRole.RECORDER.value,), ip, False) for name_, ip in extra]
    nodes = []
    for hostname, roles, address, declared in hosts:
        groups = [GROUP_SSH, GROUP_CLUSTER]
        public = False
        public_ip: IPv4Address | None = None
        forwards: tuple[IPv4Network, ...] = ()
        if CentralRole.WIREGUARD_HUB.value in roles:
            groups.append(GROUP_WIREGUARD)
            public, public_ip, forwards = True, _endpoint_ip(central.wireguard.endpoint), routes
        if CentralRole.PLATFORM.value in roles:
            groups.append(GROUP_VIEWERS)
            public = True
            public_ip = public_ip or settings.platform_public_ip
        on_recording = {CentralRole.RECORDER.value, CentralRole.OBJECT_STORE.value} & set(roles)
        nodes.append(
            NodePlan(
                hostname=hostname,
                roles=roles,
                management_ip=address,
                recording_ip=(
                    _recording_ip(central.network, settings.recording_network, address)
                    if on_recording
                    else None
                ),
                flavor=_flavor(roles, settings.flavors, hostname),
                groups=tuple(groups),
                public=public,
                public_ip=public_ip,
                anti_affinity="recorders" if CentralRole.RECORDER.value in roles else None,
                data_volumes_gib=volumes_of.get(hostname, ()),
                declared=declared,
                forwards=forwards,
            )
        )
    rules = [
        IngressRule(
            GROUP_WIREGUARD,
            "udp",
            central.wireguard.port,
            "0.0.0.0/0",
            None,
            "WireGuard from the facilities' routers, wherever their WAN is",
        ),
        *(
            IngressRule(GROUP_VIEWERS, "tcp", HTTPS_PORT, str(net), None, "HTTPS for viewers")
            for net in settings.viewer_ranges
        ),
        *(
            IngressRule(GROUP_SSH, "tcp", SSH_PORT, str(net), None, "SSH from the ops bastion")
            for net in ops_ranges
        ),
        IngressRule(GROUP_CLUSTER, None, None, None, GROUP_CLUSTER, "between the central nodes"),
    ]
    return CentralCloudPlan(
        name=name,
        province=inventory.province.code,
        management_network=central.network,
        recording_network=settings.recording_network,
        nodes=tuple(nodes),
        rules=tuple(rules),
        routes=routes,
        hub_ip=central.wireguard.hub_ip,
        wireguard_port=central.wireguard.port,
        required_gb=total_gb,
        replicas=settings.object_store_replicas,
        recorder_nodes_sized=sized,
        volume_type=settings.volume_type,
        root_volume_gb=settings.root_volume_gb,
        settings=settings,
    )


def cloud_init(settings: CloudSettings, hostname: str) -> str:
    """cloud-config that only prepares SSH for Ansible: the admin user with the ops engineers'
    keys and sudo, no password logins, no root login. Everything else is Ansible's (base role)."""
    import yaml  # noqa: PLC0415  # only the program needs it

    document = {
        "hostname": hostname,
        "preserve_hostname": False,
        "ssh_pwauth": False,
        "disable_root": True,
        "users": [
            {
                "name": settings.admin_user,
                "shell": "/bin/bash",
                "sudo": "ALL=(ALL) NOPASSWD:ALL",
                "lock_passwd": True,
                "ssh_authorized_keys": list(settings.ssh_public_keys),
            }
        ],
    }
    return "#cloud-config\n" + yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
