"""The central site's Pulumi program: the model (the province inventory) sizes it, the stack's
config names the cloud's flavors, image, networks and ranges."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

import pulumi
import pulumi_openstack as openstack

from camops_central.components import (
    CentralNetwork,
    CentralNode,
    ObjectStore,
    RecorderPool,
    SecurityGroups,
)
from infra.cloud import CentralCloudPlan, CloudPlanError, CloudSettings, NodePlan, plan
from infra.loader import load
from infra.model import CentralRole, Inventory
from infra.problems import errors
from infra.validate import validate

PROGRAM_DIR = Path(__file__).resolve().parents[1]


class ConfigError(ValueError):
    """A stack setting is missing or wrong: the message names the key and the fix."""


def _networks(config: pulumi.Config, key: str, required: bool = True) -> tuple[IPv4Network, ...]:
    values = config.get_object(key)
    if values is None:
        if required:
            raise ConfigError(
                f"camops-central:{key} is not set: pulumi config set --path '{key}[0]' <CIDR>"
            )
        return ()
    try:
        return tuple(IPv4Network(str(value)) for value in values)
    except ValueError as error:
        raise ConfigError(f"camops-central:{key}: {error}") from None


def settings_from(config: pulumi.Config) -> CloudSettings:
    """The stack's settings; a missing or malformed key is named with the command to fix it."""
    flavors = config.get_object("flavors")
    if not isinstance(flavors, dict) or not flavors:
        raise ConfigError(
            "camops-central:flavors is not set: pulumi config set --path 'flavors.recorder' "
            "<flavor> (and platform, object_store, monitoring, wireguard_hub)"
        )
    ops = config.get_object("ops_ranges")
    keys = config.get_object("ssh_public_keys") or []
    public = config.get("platform_public_ip")
    try:
        return CloudSettings(
            image=config.require("image"),
            external_network=config.require("external_network"),
            flavors={str(k): str(v) for k, v in flavors.items()},
            volume_type=config.require("volume_type"),
            viewer_ranges=_networks(config, "viewer_ranges"),
            recording_network=IPv4Network(config.require("recording_network")),
            ssh_public_keys=tuple(str(key) for key in keys),
            ops_ranges=_networks(config, "ops_ranges") if ops is not None else None,
            root_volume_gb=config.get_int("root_volume_gb") or 40,
            object_store_replicas=config.get_int("object_store_replicas") or 1,
            max_volume_gb=config.get_int("max_volume_gb") or 4000,
            admin_user=config.get("admin_user") or "camops",
            platform_public_ip=IPv4Address(public) if public else None,
        )
    except ValueError as error:
        raise ConfigError(f"camops-central: {error}") from None


def load_inventory(path: str) -> Inventory:
    """The province inventory, validated as ``camops validate`` does; errors stop the program."""
    folder = Path(path)
    if not folder.is_absolute():
        folder = PROGRAM_DIR / folder
    result = load(folder)
    found = errors(validate(result))
    if result.inventory is None or found:
        lines = "\n".join(problem.line() for problem in found)
        raise ConfigError(
            f"camops-central:inventory {path}: the inventory does not validate:\n{lines}"
        )
    return result.inventory


def provider(config: pulumi.Config) -> openstack.Provider | None:
    """An explicit OpenStack provider when the stack names its cloud (the password is a
    Pulumi secret); otherwise the default provider reads OS_* from the environment."""
    auth_url = config.get("auth_url")
    if not auth_url:
        return None
    return openstack.Provider(
        "cloud",
        auth_url=auth_url,
        region=config.get("region"),
        tenant_name=config.get("project"),
        user_name=config.get("user"),
        user_domain_name=config.get("domain") or "Default",
        project_domain_name=config.get("domain") or "Default",
        password=config.get_secret("password"),
    )


def build(config: pulumi.Config) -> dict[str, Any]:
    """Declare the central site; returns the stack's outputs."""
    settings = settings_from(config)
    inventory = load_inventory(config.require("inventory"))
    try:
        central = plan(
            inventory, settings, name=f"camops-{inventory.province.code.replace('_', '-')}"
        )
    except CloudPlanError as error:
        raise ConfigError(str(error)) from None
    cloud = provider(config)
    opts = pulumi.ResourceOptions(provider=cloud) if cloud is not None else None
    invoke = pulumi.InvokeOptions(provider=cloud) if cloud is not None else None
    external = openstack.networking.get_network(name=settings.external_network, opts=invoke)
    image = openstack.images.get_image(name=settings.image, most_recent=True, opts=invoke)

    network = CentralNetwork("central", central, external.id, opts=opts)
    groups = SecurityGroups("central", central, opts=opts)
    described: list[pulumi.Output[dict[str, Any]]] = []

    def make_node(
        node: NodePlan,
        parent: pulumi.Resource | None,
        server_group: openstack.compute.ServerGroup | None,
    ) -> CentralNode:
        made = CentralNode(
            node,
            central,
            network=network,
            groups=groups.groups,
            image_id=image.id,
            external_network=settings.external_network,
            server_group=server_group,
            opts=pulumi.ResourceOptions(parent=parent) if parent is not None else opts,
        )
        described.append(made.describe(node))
        return made

    recorders = central.role(CentralRole.RECORDER)
    stores = [n for n in central.role(CentralRole.OBJECT_STORE) if n not in recorders]
    RecorderPool("recorders", recorders, make_node, opts=opts)
    ObjectStore("object-store", stores, make_node, opts=opts)
    for node in central.nodes:  # platform, monitoring, hub: servers of their own
        if node not in recorders and node not in stores:
            make_node(node, None, None)
    return outputs(central, described)


def outputs(
    central: CentralCloudPlan, described: list[pulumi.Output[dict[str, Any]]]
) -> dict[str, Any]:
    hub = central.role(CentralRole.WIREGUARD_HUB)[0]
    return {
        "province": central.province,
        "hosts": pulumi.Output.all(*described).apply(
            lambda hosts: sorted(hosts, key=lambda host: host["hostname"])
        ),
        "wireguard": {
            "hub": hub.hostname,
            "hub_ip": str(central.hub_ip),
            "port": central.wireguard_port,
        },
        "networks": {
            "management": str(central.management_network),
            "recording": str(central.recording_network),
            "routed_through_hub": [str(net) for net in central.routes],
        },
        "sizing": {
            "required_gb": round(central.required_gb, 3),
            "replicas": central.replicas,
            "store_gib": central.store_gib,
            "recorder_nodes_sized": central.recorder_nodes_sized,
            "recorder_nodes": len(central.role(CentralRole.RECORDER)),
            "undeclared_recorders": [node.hostname for node in central.undeclared],
        },
    }


def main() -> None:
    for key, value in build(pulumi.Config()).items():
        pulumi.export(key, value)
