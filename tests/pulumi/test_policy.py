"""The policy pack of pulumi/policy: each rule with a violating and a compliant resource, and
the central program's own resources (run under mocks) passing every rule."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)

from tests.helpers import ROOT
from tests.pulumi.test_central_program import Run, run_program, stack_config

POLICY = ROOT / "pulumi" / "policy"
if str(POLICY) not in sys.path:
    sys.path.insert(0, str(POLICY))

from camops_policy import rules  # noqa: E402

CONFIG = {
    "encryptedVolumeTypes": ["encrypted-luks"],
    "wireguardPort": 51820,
    "requiredGb": 1000,
    "objectStoreReplicas": 1,
}


def _options() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def resource(
    kind: str,
    name: str,
    props: dict[str, Any],
    dependencies: dict[str, list[PolicyResource]] | None = None,
) -> PolicyResource:
    return PolicyResource(
        kind,
        props,
        f"urn:pulumi:test::camops-central::{kind}::{name}",
        name,
        _options(),
        None,
        None,
        [],
        dependencies or {},
    )


def check(
    validate: Any, kind: str, props: dict[str, Any], config: dict[str, Any] | None = None
) -> list[str]:
    found: list[str] = []
    args = ResourceValidationArgs(
        kind,
        props,
        f"urn:x::{kind}::r",
        "r",
        _options(),
        None,
        config if config is not None else CONFIG,
    )
    validate(args, lambda message, urn=None: found.append(message))
    return found


def check_stack(
    validate: Any, resources: list[PolicyResource], config: dict[str, Any] | None = None
) -> list[str]:
    found: list[str] = []
    args = StackValidationArgs(resources, config if config is not None else CONFIG)
    validate(args, lambda message, urn=None: found.append(message))
    return found


def rule_props(**extra: Any) -> dict[str, Any]:
    return {"direction": "ingress", "ethertype": "IPv4", **extra}


def test_open_ingress_only_for_wireguard() -> None:
    wireguard = rule_props(
        protocol="udp", portRangeMin=51820, portRangeMax=51820, remoteIpPrefix="0.0.0.0/0"
    )
    assert check(rules.open_ingress, rules.SECGROUP_RULE, wireguard) == []
    ssh_from_anywhere = rule_props(
        protocol="tcp", portRangeMin=22, portRangeMax=22, remoteIpPrefix="0.0.0.0/0"
    )
    [message] = check(rules.open_ingress, rules.SECGROUP_RULE, ssh_from_anywhere)
    assert "from anywhere" in message and "remote_ip_prefix" in message
    # No source at all is "anywhere" too; IPv6's too.
    assert check(
        rules.open_ingress,
        rules.SECGROUP_RULE,
        rule_props(protocol="tcp", portRangeMin=443, portRangeMax=443),
    )
    assert check(
        rules.open_ingress, rules.SECGROUP_RULE, rule_props(protocol="tcp", remoteIpPrefix="::/0")
    )
    # A range, a group, or egress: fine.
    assert (
        check(
            rules.open_ingress,
            rules.SECGROUP_RULE,
            rule_props(protocol="tcp", remoteIpPrefix="192.0.2.0/25"),
        )
        == []
    )
    assert check(rules.open_ingress, rules.SECGROUP_RULE, rule_props(remoteGroupId="sg-1")) == []
    assert (
        check(
            rules.open_ingress,
            rules.SECGROUP_RULE,
            {"direction": "egress", "remoteIpPrefix": "0.0.0.0/0"},
        )
        == []
    )
    # WireGuard's port on another protocol is not WireGuard.
    assert check(
        rules.open_ingress,
        rules.SECGROUP_RULE,
        rule_props(
            protocol="tcp", portRangeMin=51820, portRangeMax=51820, remoteIpPrefix="0.0.0.0/0"
        ),
    )


def test_every_volume_encrypted() -> None:
    assert (
        check(rules.volumes_encrypted, rules.VOLUME, {"size": 100, "volumeType": "encrypted-luks"})
        == []
    )
    [message] = check(
        rules.volumes_encrypted, rules.VOLUME, {"size": 100, "volumeType": "standard"}
    )
    assert "'standard' is not an encrypted type" in message
    assert check(rules.volumes_encrypted, rules.VOLUME, {"size": 100})  # the cloud's default type
    boot = {
        "sourceType": "image",
        "destinationType": "volume",
        "bootIndex": 0,
        "volumeType": "encrypted-luks",
    }
    assert check(rules.volumes_encrypted, rules.INSTANCE, {"blockDevices": [boot]}) == []
    [local] = check(rules.volumes_encrypted, rules.INSTANCE, {"imageName": "debian-12"})
    assert "local disk" in local
    assert check(
        rules.volumes_encrypted, rules.INSTANCE, {"blockDevices": [{**boot, "volumeType": "fast"}]}
    )


def test_object_store_capacity() -> None:
    def store(size_gib: int, role: str = "object_store") -> PolicyResource:
        return resource(
            rules.VOLUME, f"v{size_gib}", {"size": size_gib, "metadata": {"camops_role": role}}
        )

    # requiredGb 1000 is 10^12 bytes = 931.32 GiB (volumes are sized in GiB): 931 is short.
    [message] = check_stack(rules.store_capacity, [store(931)])
    assert "the model's retention needs 1,000 GB" in message
    assert check_stack(rules.store_capacity, [store(932)]) == []
    assert check_stack(rules.store_capacity, [store(500), store(432)]) == []  # summed
    # Only the object store's volumes count.
    assert check_stack(rules.store_capacity, [store(500), store(431, "other"), store(400)])
    # Two replicas: 2 x 10^12 bytes = 1862.65 GiB.
    replicated = {**CONFIG, "objectStoreReplicas": 2}
    assert check_stack(rules.store_capacity, [store(932)], replicated)
    assert check_stack(rules.store_capacity, [store(1862)], replicated)
    assert check_stack(rules.store_capacity, [store(1863)], replicated) == []


def test_object_store_capacity_from_the_inventory() -> None:
    config = {"inventory": str(ROOT / "inventories" / "dong_thap")}
    needed = rules.required_bytes(config)
    from infra.loader import load  # noqa: PLC0415
    from infra.sizing import size  # noqa: PLC0415

    inventory = load(ROOT / "inventories" / "dong_thap").inventory
    assert inventory is not None
    assert needed == pytest.approx(size(inventory).central.storage_gb * 1e9)
    small = resource(rules.VOLUME, "v", {"size": 10, "metadata": {"camops_role": "object_store"}})
    assert check_stack(rules.store_capacity, [small], config)


def test_recorders_in_an_anti_affinity_group() -> None:
    group = resource(rules.SERVER_GROUP, "recorders", {"id": "g1", "policies": "anti-affinity"})
    soft = resource(rules.SERVER_GROUP, "soft", {"id": "g2", "policies": "soft-anti-affinity"})

    def recorder(name: str, hint: str | None, deps: list[PolicyResource]) -> PolicyResource:
        props: dict[str, Any] = {"metadata": {"camops_roles": "recorder"}}
        if hint:
            props["schedulerHints"] = [{"group": hint}]
        return resource(rules.INSTANCE, name, props, {"schedulerHints": deps} if deps else None)

    good = [group, recorder("r1", "g1", [group]), recorder("r2", "g1", [group])]
    assert check_stack(rules.recorder_anti_affinity, good) == []
    # Known only by id (a preview's resolved values): still found.
    assert check_stack(rules.recorder_anti_affinity, [group, recorder("r1", "g1", [])]) == []
    [outside] = check_stack(rules.recorder_anti_affinity, [group, recorder("r1", None, [])])
    assert "outside an anti-affinity server group" in outside
    assert check_stack(rules.recorder_anti_affinity, [soft, recorder("r1", "g2", [soft])])
    split = [group, soft, recorder("r1", "g1", [group]), recorder("r2", "g2", [soft])]
    assert any(
        "different server groups" in m for m in check_stack(rules.recorder_anti_affinity, split)
    )
    # Other servers are not recorders.
    platform = resource(rules.INSTANCE, "p", {"metadata": {"camops_roles": "platform"}})
    assert check_stack(rules.recorder_anti_affinity, [platform]) == []


def _as_policy_resources(run: Run) -> list[PolicyResource]:
    return [
        resource(item.type, item.name, {**json.loads(json.dumps(item.inputs)), "id": item.id})
        for item in run.declared
    ]


@pytest.mark.parametrize("stack", ["dong-thap", "lab-example"])
def test_the_program_passes_its_own_policies(stack: str) -> None:
    run = run_program(stack_config(stack), stack)
    config_file = json.loads((POLICY / f"config.{stack}.json").read_text(encoding="utf-8"))
    merged: dict[str, Any] = {}
    for values in config_file.values():
        merged.update(values)
    merged["inventory"] = str((POLICY / merged["inventory"]).resolve())
    found: list[str] = []
    for item in _as_policy_resources(run):
        args = ResourceValidationArgs(
            item.resource_type, item.props, item.urn, item.name, _options(), None, merged
        )
        for policy in (rules.open_ingress, rules.volumes_encrypted):
            policy(args, lambda message, urn=None: found.append(message))
    for stack_policy in (rules.store_capacity, rules.recorder_anti_affinity):
        stack_policy(
            StackValidationArgs(_as_policy_resources(run), merged),
            lambda m, urn=None: found.append(m),
        )
    assert found == []
    # And the pack declares the four rules, all mandatory.
    assert sorted(p.name for p in rules.policies()) == [
        "no-open-ingress-except-wireguard",
        "object-store-capacity",
        "recorder-anti-affinity",
        "volumes-encrypted",
    ]
