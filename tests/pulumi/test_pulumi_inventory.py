"""``camops pulumi-inventory``: the central stack's recorded outputs as an Ansible inventory."""

from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import sys
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from infra.cli import main
from infra.loader import load
from infra.model import CentralRole, Inventory
from infra.pulumi_inventory import StackOutputError, differences, hosts
from infra.sizing import SIZED_STATUSES, size
from tests.helpers import ROOT
from tests.pulumi.test_central_program import ALLOCATED_ADDRESS, run_program, stack_config

RECORDED = Path(__file__).parent / "data" / "stack-output.dong-thap.json"
DONG_THAP = ROOT / "inventories" / "dong_thap"


def recorded() -> dict[str, Any]:
    return dict(json.loads(RECORDED.read_text(encoding="utf-8")))


def expected_outputs(inventory: Inventory, config: dict[str, Any]) -> dict[str, Any]:
    """The stack's outputs as the model, the sizing and the stack's config say they must be
    (independently of the program's plan); the object store's volumes are checked apart, by
    their rules (``check_volumes``)."""
    central = inventory.province.central
    flavors = config["camops-central:flavors"]
    recording = IPv4Network(config["camops-central:recording_network"])
    endpoint_host, _, endpoint_port = central.wireguard.endpoint.rpartition(":")
    #: A multi-role host gets the flavor of its most demanding role (platform before monitoring).
    weight = ["object_store", "recorder", "platform", "monitoring", "wireguard_hub"]
    hosts = []
    for host in sorted(central.hosts, key=lambda h: h.hostname):
        roles = [role.value for role in host.roles]
        offset = int(host.ip) - int(central.network.network_address)
        public = None
        if "wireguard_hub" in roles:
            public = endpoint_host  # the routers dial the model's endpoint
        elif "platform" in roles:
            public = config.get("camops-central:platform_public_ip", ALLOCATED_ADDRESS)
        hosts.append(
            {
                "hostname": host.hostname,
                "roles": roles,
                "management_ip": str(host.ip),
                "recording_ip": (
                    str(recording.network_address + offset)
                    if {"recorder", "object_store"} & set(roles)
                    else None
                ),
                "public_ip": public,
                "declared": True,
                "flavor": flavors[min(roles, key=weight.index)],
                "data_volumes_gib": BY_RULE if "object_store" in roles else [],
                "server_id": f"{host.hostname}-id",  # the mocked cloud's ids
            }
        )
    report = size(inventory)
    replicas = int(config["camops-central:object_store_replicas"])
    lans = [f.camera_subnet for f in inventory.facilities if f.status in SIZED_STATUSES]
    recorders = [h for h in central.hosts if CentralRole.RECORDER in h.roles]
    return {
        "province": inventory.province.code,
        "hosts": hosts,
        "wireguard": {
            "hub": next(h["hostname"] for h in hosts if "wireguard_hub" in h["roles"]),
            "hub_ip": str(central.wireguard.hub_ip),
            "port": int(endpoint_port),
        },
        "networks": {
            "management": str(central.network),
            "recording": str(recording),
            "routed_through_hub": [
                str(central.wireguard.subnet),
                *(str(net) for net in sorted(set(lans), key=lambda n: int(n.network_address))),
            ],
        },
        "sizing": {
            "required_gb": round(report.central.storage_gb * replicas, 3),
            "replicas": replicas,
            "store_gib": BY_RULE,
            "recorder_nodes_sized": report.central.recorder_nodes,
            "recorder_nodes": max(len(recorders), report.central.recorder_nodes),
            "undeclared_recorders": [],
        },
    }


#: Where the store's volumes stand in the derived document: ``check_volumes`` checks them.
BY_RULE = "checked by check_volumes"


def volumes_by_rule(document: dict[str, Any]) -> dict[str, Any]:
    copied = copy.deepcopy(document)
    for host in copied["hosts"]:
        if "object_store" in host["roles"]:
            host["data_volumes_gib"] = BY_RULE
    copied["sizing"]["store_gib"] = BY_RULE
    return copied


def check_volumes(document: dict[str, Any], config: dict[str, Any]) -> None:
    """The store's volumes hold what the sizing needs (x replicas), in GiB rounded up, in as few
    equal volumes as the stack's largest volume allows; store_gib is their sum."""
    needed_gib = document["sizing"]["required_gb"] * 10**9 / 2**30
    largest_gib = int(config["camops-central:max_volume_gb"]) * 10**9 / 2**30
    [store] = [h for h in document["hosts"] if "object_store" in h["roles"]]
    volumes = store["data_volumes_gib"]
    assert len(volumes) == math.ceil(needed_gib / largest_gib)
    assert len(set(volumes)) == 1 and volumes[0] <= largest_gib
    assert needed_gib <= sum(volumes) < needed_gib + len(volumes)
    assert document["sizing"]["store_gib"] == sum(volumes)


def test_the_programs_outputs_are_what_the_model_and_the_stack_config_say() -> None:
    """Derived from the model, the sizing and Pulumi.dong-thap.yaml, not recorded from the
    program; the recorded document the other tests read must say the same."""
    config = stack_config("dong-thap")
    inventory = load(DONG_THAP).inventory
    assert inventory is not None
    expected = expected_outputs(inventory, config)
    run = run_program(config, "dong-thap")
    produced = json.loads(json.dumps(run.outputs))
    assert volumes_by_rule(produced) == expected
    check_volumes(produced, config)
    assert recorded() == produced  # re-record: tests/pulumi/data/README


def test_the_written_file_is_an_ansible_inventory_with_the_roles_groups(tmp_path: Path) -> None:
    output = tmp_path / "central.yml"
    result = CliRunner().invoke(
        main, ["pulumi-inventory", str(RECORDED), "-i", str(DONG_THAP), "-o", str(output)]
    )
    assert result.exit_code == 0, result.output
    assert "WARNING" not in result.output  # the model declares every host of the stack
    # Ansible itself reads it.
    listing = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-inventory"), "-i", str(output), "--list"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "ANSIBLE_INVENTORY_ENABLED": "yaml"},
    )
    inventory = json.loads(listing.stdout)
    assert sorted(inventory["central_recorder"]["hosts"]) == ["dt-recorder-1", "dt-recorder-2"]
    assert inventory["central_platform"]["hosts"] == ["dt-platform-1"]
    assert inventory["central_monitoring"]["hosts"] == ["dt-platform-1"]
    assert inventory["central_object_store"]["hosts"] == ["dt-store-1"]
    assert inventory["central_wireguard_hub"]["hosts"] == ["dt-hub-1"]
    assert sorted(inventory["central"]["children"]) == [
        "central_monitoring",
        "central_object_store",
        "central_platform",
        "central_recorder",
        "central_wireguard_hub",
    ]
    hub = inventory["_meta"]["hostvars"]["dt-hub-1"]
    assert hub["ansible_host"] == hub["camops_address"] == "10.240.0.5"
    assert hub["camops_public_ip"] == "198.51.100.10"
    # The same groups and addresses the camops plugin gives the model's central hosts.
    model = load(DONG_THAP).inventory
    assert model is not None
    for host in model.province.central.hosts:
        assert inventory["_meta"]["hostvars"][host.hostname]["camops_address"] == str(host.ip)
        for role in host.roles:
            assert host.hostname in inventory[f"central_{role.value}"]["hosts"]


def test_a_recorder_the_sizing_added_is_to_be_declared(tmp_path: Path) -> None:
    document = recorded()
    extra = copy.deepcopy(document["hosts"][2])
    extra.update(
        hostname="dt-recorder-3",
        management_ip="10.240.0.23",
        recording_ip="10.241.0.23",
        declared=False,
    )
    document["hosts"].append(extra)
    model = load(DONG_THAP).inventory
    assert model is not None
    [message] = differences(document, model)
    assert "dt-recorder-3 (10.240.0.23) is in the stack but not in the model" in message
    assert "- hostname: dt-recorder-3\n  ip: 10.240.0.23\n  roles: [recorder]" in message

    runner = CliRunner()
    path = tmp_path / "stack.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    loose = runner.invoke(main, ["pulumi-inventory", str(path), "-i", str(DONG_THAP)])
    strict = runner.invoke(main, ["pulumi-inventory", str(path), "-i", str(DONG_THAP), "--strict"])
    assert loose.exit_code == 0 and "WARNING province.central.hosts: dt-recorder-3" in loose.output
    assert strict.exit_code == 1 and "ERROR province.central.hosts: dt-recorder-3" in strict.output


def test_a_host_whose_address_differs_from_the_model() -> None:
    document = recorded()
    document["hosts"][0]["management_ip"] = "10.240.0.6"
    model = load(DONG_THAP).inventory
    assert model is not None
    [message] = differences(document, model)
    assert message.startswith("province.central.hosts[dt-hub-1].ip: the model says 10.240.0.5")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("hosts"), "hosts: not in the document"),
        (lambda d: d["hosts"][1].pop("management_ip"), r"hosts\[1\]\.management_ip: missing"),
        (
            lambda d: d["hosts"][1].update(management_ip="10.240.0.999"),
            r"hosts\[1\]\.management_ip: '10.240.0.999'",
        ),
        (lambda d: d["hosts"][0].update(roles=["dns"]), r"hosts\[0\]\.roles"),
        (lambda d: d["hosts"].append(dict(d["hosts"][0])), "dt-hub-1 appears twice"),
    ],
)
def test_a_document_that_is_not_the_stacks_output_is_refused(change: Any, message: str) -> None:
    document = recorded()
    change(document)
    with pytest.raises(StackOutputError, match=message):
        hosts(document)


def test_the_command_names_the_field_and_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "out.json"
    bad.write_text(
        json.dumps({"hosts": [{"hostname": "x", "roles": ["recorder"]}]}), encoding="utf-8"
    )
    target = tmp_path / "central.yml"
    result = CliRunner().invoke(main, ["pulumi-inventory", str(bad), "-o", str(target)])
    assert result.exit_code == 2
    assert "hosts[0].management_ip: missing" in result.output
    assert not target.exists()
    not_json = tmp_path / "x.json"
    not_json.write_text("Current stack outputs (5):", encoding="utf-8")
    result = CliRunner().invoke(main, ["pulumi-inventory", str(not_json)])
    assert result.exit_code == 2 and "pulumi stack output --json" in result.output


def test_stack_through_the_automation_api_needs_the_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no pulumi CLI on this machine's PATH
    result = CliRunner().invoke(main, ["pulumi-inventory", "--stack", "dong-thap"])
    assert result.exit_code == 2
    assert "the Pulumi CLI is not installed here" in result.output
    both = CliRunner().invoke(main, ["pulumi-inventory", str(RECORDED), "--stack", "dong-thap"])
    assert both.exit_code == 2 and "not both" in both.output
