"""The real Pulumi program of pulumi/central, run with Pulumi's mocks (no CLI, no cloud).

Each test runs ``__main__.py`` with a committed stack's config (Pulumi.<stack>.yaml), records
every resource it declares and reads the stack's outputs.
"""

from __future__ import annotations

import asyncio
import json
import math
import runpy
import sys
from dataclasses import dataclass
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.runtime import rpc

from infra.cloud import BYTES_PER_GIB
from infra.loader import load
from infra.sizing import BYTES_PER_GB, size
from tests.helpers import ROOT, InventoryCopy

PROGRAM = ROOT / "pulumi" / "central"
PROJECT = "camops-central"
SECGROUP_RULE = "openstack:networking/secGroupRule:SecGroupRule"
SECGROUP = "openstack:networking/secGroup:SecGroup"
INSTANCE = "openstack:compute/instance:Instance"
VOLUME = "openstack:blockstorage/volume:Volume"
SERVER_GROUP = "openstack:compute/serverGroup:ServerGroup"
FLOATING_IP = "openstack:networking/floatingIp:FloatingIp"
#: The address the mocked cloud allocates to a floating IP that asks for none.
ALLOCATED_ADDRESS = "198.51.100.200"


@dataclass
class Declared:
    type: str
    name: str
    inputs: dict[str, Any]
    id: str
    provider: str = ""


class Mocks(pulumi.runtime.Mocks):
    """Every resource declared, answered with its inputs (and an address for floating IPs)."""

    def __init__(self) -> None:
        self.declared: list[Declared] = []
        self.calls: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        resource_id = f"{args.name}-id"
        outputs = dict(args.inputs)
        if args.typ == FLOATING_IP and not outputs.get("address"):
            outputs["address"] = ALLOCATED_ADDRESS
        self.declared.append(
            Declared(args.typ, args.name, dict(args.inputs), resource_id, args.provider or "")
        )
        return resource_id, outputs

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        self.calls.append(args.token)
        if args.token == "openstack:networking/getNetwork:getNetwork":
            return {"id": "external-net-id", "name": args.args.get("name")}, []
        if args.token == "openstack:images/getImage:getImage":
            return {"id": "debian-12-image-id", "name": args.args.get("name")}, []
        return {}, [("token", f"{args.token}: not expected from the central program")]


@dataclass
class Run:
    declared: list[Declared]
    outputs: dict[str, Any]

    def of(self, kind: str) -> list[Declared]:
        return [item for item in self.declared if item.type == kind]

    def by_id(self, resource_id: str) -> Declared:
        return next(item for item in self.declared if item.id == resource_id)


def stack_config(stack: str) -> dict[str, Any]:
    document = yaml.safe_load((PROGRAM / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8"))
    return dict(document["config"])


def run_program(config: dict[str, Any], stack: str = "test") -> Run:
    """Run pulumi/central/__main__.py under mocks with ``config`` (a stack file's keys)."""
    mocks = Mocks()
    # Pulumi's mocks take the thread's current event loop; asyncio.run() earlier in this process
    # (an ONVIF module run in-process, on the same xdist worker) leaves none set.
    asyncio.set_event_loop(asyncio.new_event_loop())
    pulumi.runtime.settings.reset_options(project=PROJECT, stack=stack)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False)
    pulumi.runtime.set_all_config(
        {
            key: value if isinstance(value, str) else json.dumps(value)
            for key, value in config.items()
        },
        secret_keys=[f"{PROJECT}:password"],
    )
    if str(PROGRAM) not in sys.path:
        sys.path.insert(0, str(PROGRAM))
    outputs: dict[str, Any] = {}

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def program() -> pulumi.Output[Any]:
        runpy.run_path(str(PROGRAM / "__main__.py"), run_name="__main__")
        root = pulumi.runtime.settings.get_root_resource()
        exported = dict(root.outputs)  # type: ignore[union-attr]
        return pulumi.Output.all(**exported).apply(outputs.update)

    program()
    return Run(mocks.declared, outputs)


@pytest.fixture(scope="module")
def dong_thap_run() -> Run:
    return run_program(stack_config("dong-thap"), "dong-thap")


@pytest.fixture(scope="module")
def lab_run() -> Run:
    return run_program(stack_config("lab-example"), "lab-example")


def _required_gb(inventory_dir: Path) -> float:
    result = load(inventory_dir)
    assert result.inventory is not None
    return size(result.inventory).central.storage_gb


def test_every_central_host_of_the_model_is_a_server(dong_thap_run: Run) -> None:
    result = load(ROOT / "inventories" / "dong_thap")
    assert result.inventory is not None
    model = {host.hostname for host in result.inventory.province.central.hosts}
    servers = {item.inputs["name"] for item in dong_thap_run.of(INSTANCE)}
    assert model <= servers
    hosts = {host["hostname"]: host for host in dong_thap_run.outputs["hosts"]}
    assert set(hosts) == servers
    for host in result.inventory.province.central.hosts:
        assert hosts[host.hostname]["management_ip"] == str(host.ip)
        assert hosts[host.hostname]["roles"] == [role.value for role in host.roles]


def test_every_volume_is_encrypted(dong_thap_run: Run, lab_run: Run) -> None:
    for run, stack in ((dong_thap_run, "dong-thap"), (lab_run, "lab-example")):
        encrypted = stack_config(stack)["camops-central:volume_type"]
        volumes = run.of(VOLUME)
        assert volumes, "the object store has data volumes"
        assert {item.inputs["volumeType"] for item in volumes} == {encrypted}
        for server in run.of(INSTANCE):
            devices = server.inputs["blockDevices"]
            assert devices, f"{server.name} boots from a volume, never an unencrypted local disk"
            assert all(d["destinationType"] == "volume" for d in devices)
            assert {d["volumeType"] for d in devices} == {encrypted}


def _ingress(run: Run) -> set[tuple[str, str | None, int | None, str | None, str | None]]:
    groups = {item.id: item.inputs["name"].rsplit("-", 1)[-1] for item in run.of(SECGROUP)}
    return {
        (
            groups[rule.inputs["securityGroupId"]],
            rule.inputs.get("protocol"),
            rule.inputs.get("portRangeMin"),
            rule.inputs.get("remoteIpPrefix"),
            groups.get(rule.inputs.get("remoteGroupId", "")),
        )
        for rule in run.of(SECGROUP_RULE)
        if rule.inputs["direction"] == "ingress"
    }


def test_security_group_rules_are_exactly_the_allowed_inbound_traffic(dong_thap_run: Run) -> None:
    config = stack_config("dong-thap")
    result = load(ROOT / "inventories" / "dong_thap")
    assert result.inventory is not None
    central = result.inventory.province.central
    expected: set[tuple[str, str | None, int | None, str | None, str | None]] = {
        ("wireguard", "udp", central.wireguard.port, "0.0.0.0/0", None)
    }
    expected |= {
        ("viewers", "tcp", 443, net, None) for net in config["camops-central:viewer_ranges"]
    }
    expected |= {("ssh", "tcp", 22, str(net), None) for net in central.ops_ranges}
    expected |= {("cluster", None, None, None, "cluster")}
    assert _ingress(dong_thap_run) == expected
    # 0.0.0.0/0 only for WireGuard.
    for group, protocol, port, prefix, _remote in _ingress(dong_thap_run):
        if prefix == "0.0.0.0/0":
            assert (group, protocol, port) == ("wireguard", "udp", central.wireguard.port)

    # Who is in which group: the hub faces the tunnels, the platform the viewers, every node SSH.
    ports = {
        item.inputs["name"]: item for item in dong_thap_run.of("openstack:networking/port:Port")
    }
    groups = {
        item.id: item.inputs["name"].rsplit("-", 1)[-1] for item in dong_thap_run.of(SECGROUP)
    }
    member_of = {
        name.removesuffix("-management"): {groups[g] for g in port.inputs["securityGroupIds"]}
        for name, port in ports.items()
        if name.endswith("-management")
    }
    assert member_of["dt-hub-1"] == {"ssh", "cluster", "wireguard"}
    assert member_of["dt-platform-1"] == {"ssh", "cluster", "viewers"}
    assert member_of["dt-recorder-1"] == {"ssh", "cluster"}
    assert member_of["dt-store-1"] == {"ssh", "cluster"}


def test_storage_holds_the_retention_period_with_headroom(dong_thap_run: Run) -> None:
    result = load(ROOT / "inventories" / "dong_thap")
    assert result.inventory is not None
    inventory = result.inventory
    # Σ bitrate x retention days x (1 + headroom), straight from the facility files.
    expected_bytes = sum(
        camera.bitrate_kbps * 1000 / 8 * 86_400 * inventory.retention_days(facility, camera)
        for facility in inventory.facilities
        if facility.status.value in ("active", "standby")
        for camera in facility.cameras
    ) * (1 + inventory.province.sizing.headroom)
    replicas = stack_config("dong-thap").get("camops-central:object_store_replicas", 1)
    provisioned = sum(item.inputs["size"] for item in dong_thap_run.of(VOLUME)) * BYTES_PER_GIB
    assert provisioned >= expected_bytes * replicas
    # Rounded up to whole GiB per volume, no more.
    volumes = len(dong_thap_run.of(VOLUME))
    assert provisioned < expected_bytes * replicas + volumes * BYTES_PER_GIB + BYTES_PER_GIB
    sizing = dong_thap_run.outputs["sizing"]
    assert sizing["required_gb"] == pytest.approx(expected_bytes / BYTES_PER_GB, abs=0.001)
    assert sizing["store_gib"] * BYTES_PER_GIB == provisioned
    assert all(
        item.inputs["metadata"]["camops_role"] == "object_store"
        for item in dong_thap_run.of(VOLUME)
    )


def test_recorders_are_kept_apart_and_counted_from_the_sizing(dong_thap_run: Run) -> None:
    [group] = dong_thap_run.of(SERVER_GROUP)
    assert group.inputs["policies"] == "anti-affinity"
    recorders = [
        s for s in dong_thap_run.of(INSTANCE) if "recorder" in s.inputs["metadata"]["camops_roles"]
    ]
    result = load(ROOT / "inventories" / "dong_thap")
    assert result.inventory is not None
    assert len(recorders) == max(
        size(result.inventory).central.recorder_nodes,
        sum(1 for h in result.inventory.province.central.hosts if "recorder" in h.roles),
    )
    for server in recorders:
        assert [hint["group"] for hint in server.inputs["schedulerHints"]] == [group.id]
    others = [s for s in dong_thap_run.of(INSTANCE) if s not in recorders]
    assert all(not s.inputs.get("schedulerHints") for s in others)


def _add_facility(
    copy: InventoryCopy, new_id: str, cameras: int, bitrate_kbps: int, number: int
) -> None:
    """A copy of dt_military_school as a new active facility with ``cameras`` cameras."""
    source = copy.read("facilities/dt_military_school.yml")["facility"]
    facility = json.loads(json.dumps(source))
    subnet = f"10.101.{number}"
    facility.update(
        id=new_id,
        name=f"Khu cách ly mới {number}",
        camera_subnet=f"{subnet}.0/24",
        status="active",
    )
    # Big enough for its cameras (R3, R4): the central side is what is under test.
    facility["uplink_mbps"] = 2000
    facility["nvr"].update(
        hostname=f"nvr-{new_id.replace('_', '-')}", ip=f"{subnet}.2", storage_gb=500_000
    )
    facility["router"].update(
        hostname=f"rtr-{new_id.replace('_', '-')}",
        lan_ip=f"{subnet}.1",
        wan_ip=f"203.0.113.{number + 100}/24",
        tunnel_ip=f"10.250.0.{number + 100}",
    )
    template = facility["cameras"]
    facility["cameras"] = []
    for index in range(cameras):
        camera = dict(template[index % len(template)])
        camera.update(
            id=f"{new_id}_cam{index + 1:02d}",
            ip=f"{subnet}.{index + 11}",
            mac=f"02:00:00:{number:02x}:00:{index + 11:02x}",
            bitrate_kbps=bitrate_kbps,
            credential=f"vault_camera_{new_id}_cam{index + 1:02d}",
        )
        facility["cameras"].append(camera)
    copy.write(f"facilities/{new_id}.yml", {"facility": facility})


def test_one_more_facility_of_ten_cameras_adds_the_expected_storage(
    dong_thap: InventoryCopy,
) -> None:
    config = {**stack_config("dong-thap"), "camops-central:inventory": str(dong_thap.path)}
    before = run_program(config)
    _add_facility(dong_thap, "dt_new_ktx", cameras=10, bitrate_kbps=2048, number=9)
    assert [p for p in dong_thap.problems() if p.severity == "error"] == []
    after = run_program(config)

    retention = load(dong_thap.path).inventory.province.retention_days  # type: ignore[union-attr]
    headroom = load(dong_thap.path).inventory.province.sizing.headroom  # type: ignore[union-attr]
    added_gb = 10 * 2048 * 1000 / 8 * 86_400 * retention * (1 + headroom) / BYTES_PER_GB
    assert after.outputs["sizing"]["required_gb"] - before.outputs["sizing"][
        "required_gb"
    ] == pytest.approx(added_gb, abs=0.002)
    assert _required_gb(dong_thap.path) == pytest.approx(
        after.outputs["sizing"]["required_gb"], abs=0.001
    )
    replicas = config.get("camops-central:object_store_replicas", 1)
    gib_before = sum(v.inputs["size"] for v in before.of(VOLUME))
    gib_after = sum(v.inputs["size"] for v in after.of(VOLUME))
    expected_gib = added_gb * replicas * BYTES_PER_GB / BYTES_PER_GIB
    # Volumes are whole GiB, rounded up on each volume.
    assert abs((gib_after - gib_before) - expected_gib) <= len(after.of(VOLUME)) + 1
    # Its camera LAN is routed through the hub.
    assert "10.101.9.0/24" in after.outputs["networks"]["routed_through_hub"]
    assert "10.101.9.0/24" not in before.outputs["networks"]["routed_through_hub"]


def test_more_cameras_bring_more_recorders(dong_thap: InventoryCopy) -> None:
    config = {**stack_config("dong-thap"), "camops-central:inventory": str(dong_thap.path)}
    before = run_program(config)
    capacity = load(dong_thap.path).inventory.province.sizing.recorder_node_capacity_mbps  # type: ignore[union-attr]
    # Three facilities of 40 cameras at 8 Mbit/s: ~960 Mbit/s more ingest.
    for offset in range(3):
        _add_facility(
            dong_thap, f"dt_big_{offset}", cameras=40, bitrate_kbps=8192, number=20 + offset
        )
    after = run_program(config)
    sized = after.outputs["sizing"]["recorder_nodes_sized"]
    ingest = 3 * 40 * 8.192 + sum(0 for _ in ())
    assert sized > before.outputs["sizing"]["recorder_nodes_sized"]
    assert sized >= math.ceil(ingest / capacity)
    recorders = [
        s for s in after.of(INSTANCE) if "recorder" in s.inputs["metadata"]["camops_roles"]
    ]
    assert len(recorders) == sized
    # The ones province.yml does not list are named after the listed ones, on free addresses,
    # and reported to be declared.
    undeclared = after.outputs["sizing"]["undeclared_recorders"]
    assert undeclared and all(name.startswith("dt-recorder-") for name in undeclared)
    addresses = [h["management_ip"] for h in after.outputs["hosts"]]
    assert len(addresses) == len(set(addresses))
    assert all(
        h["declared"] is False for h in after.outputs["hosts"] if h["hostname"] in undeclared
    )

    # The same store nodes, with more (and bigger) volumes.
    def hosts(run: Run) -> set[str]:
        return {v.inputs["metadata"]["camops_host"] for v in run.of(VOLUME)}

    assert hosts(after) == hosts(before)
    assert sum(v.inputs["size"] for v in after.of(VOLUME)) > sum(
        v.inputs["size"] for v in before.of(VOLUME)
    )


def test_outputs_are_complete(dong_thap_run: Run, lab_run: Run) -> None:
    for run in (dong_thap_run, lab_run):
        outputs = run.outputs
        assert set(outputs) == {"province", "hosts", "wireguard", "networks", "sizing"}
        for host in outputs["hosts"]:
            assert set(host) >= {"hostname", "roles", "management_ip", "public_ip", "server_id"}
        hub = next(h for h in outputs["hosts"] if "wireguard_hub" in h["roles"])
        assert hub["public_ip"]
        platform = next(h for h in outputs["hosts"] if "platform" in h["roles"])
        assert platform["public_ip"]
        for net in outputs["networks"]["routed_through_hub"]:
            IPv4Network(net)
    # The hub keeps the address the model's WireGuard endpoint names (routers dial it).
    hub_ip = next(
        item for item in dong_thap_run.of(FLOATING_IP) if item.name.startswith("dt-hub-1")
    )
    assert hub_ip.inputs["address"] == "198.51.100.10"


def test_cloud_init_only_prepares_ssh(dong_thap_run: Run) -> None:
    keys = stack_config("dong-thap")["camops-central:ssh_public_keys"]
    for server in dong_thap_run.of(INSTANCE):
        text = server.inputs["userData"]
        assert text.startswith("#cloud-config\n")
        document = yaml.safe_load(text)
        assert set(document) == {
            "hostname",
            "preserve_hostname",
            "ssh_pwauth",
            "disable_root",
            "users",
        }
        assert document["ssh_pwauth"] is False and document["disable_root"] is True
        [user] = document["users"]
        assert user["ssh_authorized_keys"] == keys and user["lock_passwd"] is True


def test_the_lab_example_stack_sizes_the_lab_model(lab_run: Run) -> None:
    # One central host with every role (the lab's sizing asks for one recorder node).
    [host] = lab_run.outputs["hosts"]
    assert host["hostname"] == "central-1"
    assert host["roles"] == ["platform", "recorder", "object_store", "monitoring", "wireguard_hub"]
    assert lab_run.outputs["sizing"]["undeclared_recorders"] == []
    assert len(lab_run.of(FLOATING_IP)) == 1  # hub and platform on one host: one address


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("camops-central:inventory", "../../inventories/nowhere", "nowhere"),
        ("camops-central:recording_network", "10.240.0.0/25", "overlaps the central network"),
        ("camops-central:flavors", {"platform": "x"}, "camops-central:flavors.recorder"),
        ("camops-central:viewer_ranges", ["not-a-range"], "viewer_ranges"),
        ("camops-central:object_store_replicas", 2, "each copy needs a node of its own"),
    ],
)
def test_bad_settings_stop_the_program_with_the_key_named(
    key: str, value: Any, message: str
) -> None:
    config = {**stack_config("dong-thap"), key: value}
    with pytest.raises(Exception, match=message):
        run_program(config)


def test_validation_warns_when_the_model_lists_fewer_recorders_than_the_sizing(
    dong_thap: InventoryCopy,
) -> None:
    for offset in range(3):
        _add_facility(
            dong_thap, f"dt_big_{offset}", cameras=40, bitrate_kbps=8192, number=20 + offset
        )
    [warning] = [p for p in dong_thap.problems() if p.path == "province.central.hosts"]
    assert warning.severity == "warning" and warning.rule == "R3"
    assert "3 recorder node(s) at 400 Mbit/s each, the model lists 2" in warning.message
    assert "add 1 central host(s) with the recorder role" in warning.fix


def test_every_setting_the_project_declares_is_set_by_every_stack() -> None:
    project = yaml.safe_load((PROGRAM / "Pulumi.yaml").read_text(encoding="utf-8"))
    required = {key for key, spec in project["config"].items() if "default" not in spec}
    assert required >= {"inventory", "image", "external_network", "volume_type"}
    for stack in ("lab-example", "dong-thap"):
        keys = {key.split(":", 1)[1] for key in stack_config(stack)}
        assert required <= keys, f"Pulumi.{stack}.yaml lacks {sorted(required - keys)}"


def test_the_cloud_password_is_a_pulumi_secret(lab_run: Run) -> None:
    config = {**stack_config("dong-thap"), f"{PROJECT}:password": "cloud-Secret-7hq2"}  # test value
    run = run_program(config, "dong-thap")
    [provider] = [item for item in run.declared if item.type == "pulumi:providers:openstack"]
    assert provider.inputs["authUrl"] == "https://cloud.example.gov.vn:5000/v3"
    # It reaches the provider as a secret (Pulumi's wire form of a secret value).
    assert provider.inputs["password"] == {
        rpc._special_sig_key: rpc._special_secret_sig,
        "value": "cloud-Secret-7hq2",
    }
    assert "cloud-Secret-7hq2" not in json.dumps(run.outputs)
    # Every OpenStack resource goes through that provider (none through a default one).
    for item in run.declared:
        if item.type.startswith("openstack:"):
            assert "pulumi:providers:openstack::cloud::" in item.provider, item.name
    # A stack without auth_url (lab-example) uses the default provider: OS_* from the
    # environment (an openrc file), no explicit provider.
    assert f"{PROJECT}:auth_url" not in stack_config("lab-example")
    assert [item for item in lab_run.declared if item.type == "pulumi:providers:openstack"] == []
