"""The central site's parts as Pulumi components, built from :mod:`infra.cloud`'s plan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_openstack as openstack

from infra.cloud import CentralCloudPlan, CloudSettings, NodePlan, cloud_init

PREFIX = "camops:central"


def _child(parent: pulumi.Resource, **extra: Any) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions(parent=parent, **extra)


class CentralNetwork(pulumi.ComponentResource):
    """Management and recording networks, the router to the external network, and the routes
    to the facilities' tunnels and camera LANs through the WireGuard hub."""

    def __init__(
        self,
        name: str,
        plan: CentralCloudPlan,
        external_network_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(f"{PREFIX}:Network", name, None, opts)
        management = plan.management_network
        recording = plan.recording_network
        self.management = openstack.networking.Network(
            f"{name}-management",
            name=f"{plan.name}-management",
            admin_state_up=True,
            opts=_child(self),
        )
        self.management_subnet = openstack.networking.Subnet(
            f"{name}-management",
            name=f"{plan.name}-management",
            network_id=self.management.id,
            cidr=str(management),
            ip_version=4,
            gateway_ip=str(management.network_address + 1),
            # The model's addresses are fixed; DHCP hands out only the top of the range.
            allocation_pools=[
                openstack.networking.SubnetAllocationPoolArgs(
                    start=str(management.network_address + management.num_addresses // 2),
                    end=str(management.broadcast_address - 1),
                )
            ],
            opts=_child(self),
        )
        self.recording = openstack.networking.Network(
            f"{name}-recording",
            name=f"{plan.name}-recording",
            admin_state_up=True,
            opts=_child(self),
        )
        self.recording_subnet = openstack.networking.Subnet(
            f"{name}-recording",
            name=f"{plan.name}-recording",
            network_id=self.recording.id,
            cidr=str(recording),
            ip_version=4,
            no_gateway=True,  # segment uploads only: no way out through it
            opts=_child(self),
        )
        self.router = openstack.networking.Router(
            f"{name}-router",
            name=f"{plan.name}-router",
            external_network_id=external_network_id,
            opts=_child(self),
        )
        self.router_interface = openstack.networking.RouterInterface(
            f"{name}-router-management",
            router_id=self.router.id,
            subnet_id=self.management_subnet.id,
            opts=_child(self),
        )
        self.routes = [
            openstack.networking.SubnetRoute(
                f"{name}-route-{str(net).replace('/', '-')}",
                subnet_id=self.management_subnet.id,
                destination_cidr=str(net),
                next_hop=str(_hub(plan).management_ip),
                opts=_child(self),
            )
            for net in plan.routes
        ]
        self.register_outputs({"management": self.management.id, "recording": self.recording.id})


def _hub(plan: CentralCloudPlan) -> NodePlan:
    return next(node for node in plan.nodes if "wireguard_hub" in node.roles)


class SecurityGroups(pulumi.ComponentResource):
    """One group per kind of inbound traffic the plan lets in; nothing else comes in."""

    def __init__(
        self, name: str, plan: CentralCloudPlan, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(f"{PREFIX}:SecurityGroups", name, None, opts)
        kinds = sorted(
            {rule.group for rule in plan.rules} | {g for n in plan.nodes for g in n.groups}
        )
        self.groups: dict[str, openstack.networking.SecGroup] = {
            kind: openstack.networking.SecGroup(
                f"{name}-{kind}",
                name=f"{plan.name}-{kind}",
                description=f"camops central: {kind}",
                opts=_child(self),
            )
            for kind in kinds
        }
        self.rules = []
        for index, rule in enumerate(plan.rules):
            self.rules.append(
                openstack.networking.SecGroupRule(
                    f"{name}-{rule.group}-{index}",
                    security_group_id=self.groups[rule.group].id,
                    direction="ingress",
                    ethertype="IPv4",
                    protocol=rule.protocol,
                    port_range_min=rule.port,
                    port_range_max=rule.port,
                    remote_ip_prefix=rule.remote_ip_prefix,
                    remote_group_id=(
                        self.groups[rule.remote_group].id if rule.remote_group else None
                    ),
                    description=rule.description,
                    opts=_child(self),
                )
            )
        self.register_outputs({kind: group.id for kind, group in self.groups.items()})


class CentralNode(pulumi.ComponentResource):
    """One server: its ports at the model's addresses, an encrypted boot volume, its data
    volumes, a floating IP when it faces the outside, cloud-init for SSH only."""

    def __init__(
        self,
        node: NodePlan,
        plan: CentralCloudPlan,
        *,
        network: CentralNetwork,
        groups: Mapping[str, openstack.networking.SecGroup],
        image_id: pulumi.Input[str],
        external_network: str,
        server_group: openstack.compute.ServerGroup | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(f"{PREFIX}:Node", node.hostname, None, opts)
        settings: CloudSettings = plan.settings
        name = node.hostname
        self.port = openstack.networking.Port(
            f"{name}-management",
            name=f"{name}-management",
            network_id=network.management.id,
            fixed_ips=[
                openstack.networking.PortFixedIpArgs(
                    subnet_id=network.management_subnet.id, ip_address=str(node.management_ip)
                )
            ],
            security_group_ids=[groups[g].id for g in node.groups],
            allowed_address_pairs=[
                openstack.networking.PortAllowedAddressPairArgs(ip_address=str(net))
                for net in node.forwards
            ],
            opts=_child(self),
        )
        ports: list[openstack.networking.Port] = [self.port]
        if node.recording_ip is not None:
            self.recording_port: openstack.networking.Port | None = openstack.networking.Port(
                f"{name}-recording",
                name=f"{name}-recording",
                network_id=network.recording.id,
                fixed_ips=[
                    openstack.networking.PortFixedIpArgs(
                        subnet_id=network.recording_subnet.id, ip_address=str(node.recording_ip)
                    )
                ],
                security_group_ids=[groups["cluster"].id],
                opts=_child(self),
            )
            ports.append(self.recording_port)
        else:
            self.recording_port = None
        self.server = openstack.compute.Instance(
            name,
            name=name,
            flavor_name=node.flavor,
            block_devices=[
                openstack.compute.InstanceBlockDeviceArgs(
                    source_type="image",
                    uuid=image_id,
                    destination_type="volume",
                    volume_size=plan.root_volume_gb,
                    volume_type=plan.volume_type,
                    boot_index=0,
                    delete_on_termination=True,
                )
            ],
            networks=[openstack.compute.InstanceNetworkArgs(port=port.id) for port in ports],
            scheduler_hints=(
                [openstack.compute.InstanceSchedulerHintArgs(group=server_group.id)]
                if server_group is not None
                else None
            ),
            user_data=cloud_init(settings, name),
            metadata={"camops_roles": ",".join(node.roles), "camops_declared": str(node.declared)},
            opts=_child(self, depends_on=[network.router_interface]),
        )
        self.volumes: list[openstack.blockstorage.Volume] = []
        for index, size_gib in enumerate(node.data_volumes_gib, start=1):
            volume = openstack.blockstorage.Volume(
                f"{name}-data-{index}",
                name=f"{name}-data-{index}",
                size=size_gib,
                volume_type=plan.volume_type,
                description="camops recordings (object store, WORM)",
                metadata={"camops_role": "object_store", "camops_host": name},
                opts=_child(self),
            )
            openstack.compute.VolumeAttach(
                f"{name}-data-{index}",
                instance_id=self.server.id,
                volume_id=volume.id,
                opts=_child(self),
            )
            self.volumes.append(volume)
        self.public_ip: pulumi.Output[str] | None = None
        if node.public:
            floating = openstack.networking.FloatingIp(
                f"{name}-public",
                pool=external_network,
                address=str(node.public_ip) if node.public_ip is not None else None,
                port_id=self.port.id,
                description=f"camops {name}",
                opts=_child(self, depends_on=[network.router_interface]),
            )
            self.public_ip = floating.address
        self.register_outputs({"id": self.server.id})

    def describe(self, node: NodePlan) -> pulumi.Output[dict[str, Any]]:
        """The host as ``camops pulumi-inventory`` reads it."""
        return pulumi.Output.all(
            id=self.server.id,
            public_ip=self.public_ip if self.public_ip is not None else None,
        ).apply(
            lambda values: {
                "hostname": node.hostname,
                "roles": list(node.roles),
                "management_ip": str(node.management_ip),
                "recording_ip": str(node.recording_ip) if node.recording_ip else None,
                "public_ip": values["public_ip"],
                "declared": node.declared,
                "flavor": node.flavor,
                "data_volumes_gib": list(node.data_volumes_gib),
                "server_id": values["id"],
            }
        )


class RecorderPool(pulumi.ComponentResource):
    """The central recorders, never two on one hypervisor (a server group with anti-affinity)."""

    def __init__(
        self,
        name: str,
        nodes: Sequence[NodePlan],
        make_node: Any,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(f"{PREFIX}:RecorderPool", name, None, opts)
        self.server_group = openstack.compute.ServerGroup(
            f"{name}-anti-affinity",
            name=f"{name}-anti-affinity",
            policies="anti-affinity",
            opts=_child(self),
        )
        self.nodes = [make_node(node, self, self.server_group) for node in nodes]
        self.register_outputs({"server_group": self.server_group.id})


class ObjectStore(pulumi.ComponentResource):
    """The WORM store's nodes and their encrypted data volumes."""

    def __init__(
        self,
        name: str,
        nodes: Sequence[NodePlan],
        make_node: Any,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(f"{PREFIX}:ObjectStore", name, None, opts)
        self.nodes = [make_node(node, self, None) for node in nodes]
        self.register_outputs({})
