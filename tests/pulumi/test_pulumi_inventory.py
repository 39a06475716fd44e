"""``camops pulumi-inventory``: the central stack's recorded outputs as an Ansible inventory."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from infra.cli import main
from infra.loader import load
from infra.pulumi_inventory import StackOutputError, differences, hosts
from tests.helpers import ROOT
from tests.pulumi.test_central_program import run_program, stack_config

RECORDED = Path(__file__).parent / "data" / "stack-output.dong-thap.json"
DONG_THAP = ROOT / "inventories" / "dong_thap"


def recorded() -> dict[str, Any]:
    return dict(json.loads(RECORDED.read_text(encoding="utf-8")))


def test_the_recorded_document_is_the_programs_output() -> None:
    """The fixture is what the program exports now (re-record it when the outputs change:
    tests/pulumi/data/README)."""
    run = run_program(stack_config("dong-thap"), "dong-thap")
    assert json.loads(json.dumps(run.outputs)) == recorded()


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
