"""The central site's mandatory rules, as Pulumi policies (``pulumi preview --policy-pack``).

- no ingress from anywhere (0.0.0.0/0, ::/0, or no source at all) except WireGuard;
- every volume encrypted: data volumes and servers' boot volumes of an encrypted volume type,
  and no server on the hypervisor's local disk;
- the object store's volumes hold the model's retention requirement (``camops size``) times
  the replica count;
- recorders in a server group with the anti-affinity policy (never two on one hypervisor).

The validate functions are plain functions of the policy arguments, unit-tested on their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

ReportViolation = Callable[..., None]

SECGROUP_RULE = "openstack:networking/secGroupRule:SecGroupRule"
VOLUME = "openstack:blockstorage/volume:Volume"
INSTANCE = "openstack:compute/instance:Instance"
SERVER_GROUP = "openstack:compute/serverGroup:ServerGroup"
ANYWHERE = {"0.0.0.0/0", "::/0"}
BYTES_PER_GIB = 2**30
POLICY_DIR = Path(__file__).resolve().parents[1]


def _config(args: Any) -> Mapping[str, Any]:
    return args.get_config() if hasattr(args, "get_config") else (args.config or {})


# -- no 0.0.0.0/0 ingress except WireGuard ---------------------------------------------------


def open_ingress(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type != SECGROUP_RULE:
        return
    props = args.props
    if props.get("direction") != "ingress":
        return
    prefix = props.get("remoteIpPrefix")
    from_anywhere = prefix in ANYWHERE or (not prefix and not props.get("remoteGroupId"))
    if not from_anywhere:
        return
    port = int(_config(args).get("wireguardPort", 51820))
    wireguard = (
        props.get("protocol") == "udp"
        and props.get("portRangeMin") == port
        and props.get("portRangeMax") == port
    )
    if not wireguard:
        report_violation(
            f"{args.name}: inbound {props.get('protocol') or 'any protocol'} "
            f"{props.get('portRangeMin') or 'any port'} from anywhere; only WireGuard "
            f"(udp {port}) may come from 0.0.0.0/0: give remote_ip_prefix a configured range",
            None,
        )


# -- every volume encrypted -------------------------------------------------------------------


def _encrypted_types(args: Any) -> set[str]:
    return set(_config(args).get("encryptedVolumeTypes") or [])


def volumes_encrypted(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    encrypted = _encrypted_types(args)
    if args.resource_type == VOLUME:
        kind = args.props.get("volumeType")
        if kind not in encrypted:
            report_violation(
                f"{args.name}: volume type {kind!r} is not an encrypted type "
                f"({', '.join(sorted(encrypted)) or 'none configured'}): set volume_type",
                None,
            )
    elif args.resource_type == INSTANCE:
        devices = args.props.get("blockDevices") or []
        boots_from_volume = any(
            d.get("destinationType") == "volume" and d.get("bootIndex") in (0, "0") for d in devices
        )
        if not boots_from_volume:
            report_violation(
                f"{args.name}: boots from the hypervisor's local disk (not encrypted): boot "
                "from a volume of an encrypted type (block_devices, destination_type volume)",
                None,
            )
        for device in devices:
            if (
                device.get("destinationType") == "volume"
                and device.get("volumeType") not in encrypted
            ):
                report_violation(
                    f"{args.name}: a volume of type {device.get('volumeType')!r} is not encrypted",
                    None,
                )


# -- object-store capacity >= the model's retention requirement --------------------------------


def required_bytes(config: Mapping[str, Any]) -> float:
    """The retention requirement in bytes: from the inventory (``camops size``), or given."""
    if "requiredGb" in config:
        gb = float(config["requiredGb"])
    else:
        from infra.loader import load  # noqa: PLC0415  # the venv's camops package
        from infra.sizing import size  # noqa: PLC0415

        folder = Path(str(config["inventory"]))
        if not folder.is_absolute():
            folder = POLICY_DIR / folder
        result = load(folder)
        if result.inventory is None:
            raise ValueError(f"inventory {folder} does not load: run camops validate {folder}")
        gb = size(result.inventory).central.storage_gb
    return gb * 1_000_000_000 * int(config.get("objectStoreReplicas", 1))


def store_capacity(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    config = _config(args)
    needed = required_bytes(config)
    volumes = [
        r
        for r in args.resources
        if r.resource_type == VOLUME
        and (r.props.get("metadata") or {}).get("camops_role") == "object_store"
    ]
    provisioned = sum(int(r.props.get("size") or 0) for r in volumes) * BYTES_PER_GIB
    if provisioned < needed:
        report_violation(
            f"the object store's volumes hold {provisioned / 1e9:,.0f} GB; the model's retention "
            f"needs {needed / 1e9:,.0f} GB (camops size, x replicas): size the volumes from the "
            "inventory",
            None,
        )


# -- recorder anti-affinity ---------------------------------------------------------------------


def _roles(resource: PolicyResource) -> set[str]:
    text = (resource.props.get("metadata") or {}).get("camops_roles", "")
    return {role for role in str(text).split(",") if role}


def _anti_affinity(group: PolicyResource) -> bool:
    policies = group.props.get("policies")
    values = [policies] if isinstance(policies, str) else list(policies or [])
    return values == ["anti-affinity"]


def _hinted_groups(
    server: PolicyResource, groups: Iterable[PolicyResource]
) -> list[PolicyResource]:
    found = [
        dependency
        for dependency in (server.property_dependencies or {}).get("schedulerHints", [])
        if dependency.resource_type == SERVER_GROUP
    ]
    ids = {str(hint.get("group")) for hint in server.props.get("schedulerHints") or []}
    found += [g for g in groups if g.props.get("id") in ids and g not in found]
    return found


def recorder_anti_affinity(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    groups = [r for r in args.resources if r.resource_type == SERVER_GROUP]
    recorders = [
        r for r in args.resources if r.resource_type == INSTANCE and "recorder" in _roles(r)
    ]
    shared: set[str] = set()
    for server in recorders:
        hinted = _hinted_groups(server, groups)
        if not hinted or not all(_anti_affinity(group) for group in hinted):
            report_violation(
                f"{server.name}: a recorder outside an anti-affinity server group: two recorders "
                "on one hypervisor would lose both at once; put it in the recorders' server group",
                server.urn,
            )
        shared |= {group.urn for group in hinted}
    if len(recorders) > 1 and len(shared) > 1:
        report_violation(
            "the recorders are in different server groups: anti-affinity holds only inside one",
            None,
        )


CONFIG: dict[str, dict[str, Any]] = {
    "encryptedVolumeTypes": {"type": "array", "items": {"type": "string"}, "minItems": 1},
    "wireguardPort": {"type": "integer", "default": 51820},
    "inventory": {"type": "string"},
    "requiredGb": {"type": "number"},
    "objectStoreReplicas": {"type": "integer", "default": 1},
}


def policies() -> list[ResourceValidationPolicy | StackValidationPolicy]:
    mandatory = EnforcementLevel.MANDATORY
    return [
        ResourceValidationPolicy(
            name="no-open-ingress-except-wireguard",
            description="Nothing comes in from 0.0.0.0/0 but WireGuard.",
            validate=open_ingress,
            enforcement_level=mandatory,
            config_schema=PolicyConfigSchema({"wireguardPort": CONFIG["wireguardPort"]}),
        ),
        ResourceValidationPolicy(
            name="volumes-encrypted",
            description="Every volume, boot volumes included, is of an encrypted volume type.",
            validate=volumes_encrypted,
            enforcement_level=mandatory,
            config_schema=PolicyConfigSchema(
                {"encryptedVolumeTypes": CONFIG["encryptedVolumeTypes"]},
                required=["encryptedVolumeTypes"],
            ),
        ),
        StackValidationPolicy(
            name="object-store-capacity",
            description="The object store holds the model's retention requirement (R4).",
            validate=store_capacity,
            enforcement_level=mandatory,
            config_schema=PolicyConfigSchema(
                {key: CONFIG[key] for key in ("inventory", "requiredGb", "objectStoreReplicas")}
            ),
        ),
        StackValidationPolicy(
            name="recorder-anti-affinity",
            description="Recorders never share a hypervisor.",
            validate=recorder_anti_affinity,
            enforcement_level=mandatory,
        ),
    ]
