"""The lab layout derived from the lab inventory (no podman needed)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest

from camops_lab import lab as lab_module
from camops_lab.plan import HostKind, LabPlanError, NetKind, build, lab_mac
from infra.loader import load
from tests.helpers import INVENTORIES, InventoryCopy, in_fresh_interpreters

#: The shape label of the lab's nvr-north, printed by another process.
SHAPE = """
from camops_lab import lab as lab_module
from tests.helpers import INVENTORIES
lab = lab_module.open_lab(str(INVENTORIES / "lab"))
args = lab_module._run_args(lab, lab.plan.host("nvr-north"), {images!r})
print(next(a for a in args if a.startswith("camops.lab.shape=")))
"""


def _plan(path: object) -> object:
    result = load(str(path))
    assert result.inventory is not None
    return build(result.inventory)


def test_lab_plan_from_the_lab_inventory() -> None:
    result = load(INVENTORIES / "lab")
    assert result.inventory is not None
    plan = build(result.inventory)
    assert [n.kind for n in plan.networks] == [
        NetKind.CENTRAL,
        NetKind.WAN,
        NetKind.LAN,
        NetKind.LAN,
    ]
    assert plan.controller_ip == IPv4Address("10.78.0.1")
    kinds = [h.kind for h in plan.hosts]
    assert kinds.count(HostKind.CAMERA) == 7
    assert kinds.count(HostKind.ROUTER) == kinds.count(HostKind.NVR) == 2
    router = plan.host("rtr-north")
    assert router.router
    assert [a.network.kind for a in router.attachments] == [NetKind.WAN, NetKind.LAN]
    assert router.address == IPv4Address("10.78.0.11")
    nvr = plan.host("nvr-north")
    assert nvr.gateway == IPv4Address("10.79.1.1")
    camera = plan.host("north_cam01")
    assert camera.attachments[0].mac == "02:42:0a:4f:01:0b"  # the inventory's MAC
    assert camera.hostname == "north-cam01"
    assert camera.image == "camera"
    hub = plan.host("central-1")
    assert {a.ip for a in hub.attachments} == {IPv4Address("10.77.0.10"), IPv4Address("10.78.0.10")}
    assert {(str(r.subnet), str(r.via)) for r in plan.routes} == {
        ("10.79.1.0/24", "10.78.0.11"),
        ("10.79.2.0/24", "10.78.0.12"),
    }
    # The hub reaches the camera LANs only through the tunnels the site rollout builds.
    assert not hub.routes
    assert hub.wireguard_hub and hub.forwards
    assert not nvr.routes and not nvr.forwards
    assert plan.host("rtr-north").forwards


def test_camera_lans_have_no_podman_addressing() -> None:
    result = load(INVENTORIES / "lab")
    assert result.inventory is not None
    plan = build(result.inventory)
    lan = plan.network(NetKind.LAN, "lab_north_school")
    assert not lan.podman_addressing
    assert lan.subnet == IPv4Network("10.79.1.0/24")
    assert plan.network(NetKind.WAN).podman_addressing


def test_generated_macs_are_stable_and_local() -> None:
    mac = lab_mac("nvr-north", "camops-lab-lan-lab-north-school")
    assert mac == lab_mac("nvr-north", "camops-lab-lan-lab-north-school")
    assert int(mac.split(":")[0], 16) & 0b11 == 0b10  # locally administered, unicast


def test_routers_on_different_wans_are_refused(lab: InventoryCopy) -> None:
    lab.facility("lab_south_barracks", lambda f: f["router"].update(wan_ip="10.98.0.12/24"))
    with pytest.raises(LabPlanError, match="one WAN"):
        _plan(lab.path)


def test_host_on_the_controller_address_is_refused(lab: InventoryCopy) -> None:
    lab.facility("lab_south_barracks", lambda f: f["router"].update(wan_ip="10.78.0.1/24"))
    with pytest.raises(LabPlanError, match="controller"):
        _plan(lab.path)


def test_lab_refuses_an_invalid_inventory(lab: InventoryCopy) -> None:
    lab.camera("lab_north_school", 0, lambda cam: cam.update(zone="nhà vệ sinh"))
    with pytest.raises(lab_module.LabError, match=r"cameras\[north_cam01\]\.zone"):
        lab_module.open_lab(str(lab.path))


def test_lab_hosts_document() -> None:
    lab = lab_module.open_lab(str(INVENTORIES / "lab"))
    doc = lab_module.lab_hosts_document(lab, "http://npm.example.test/")
    assert doc["all"]["vars"]["ansible_user"] == "camops"
    # The controller's npm registry, for the platform role's fetch on the controller.
    assert doc["all"]["vars"]["platform_npm_registry"] == "http://npm.example.test/"
    cameras = doc["all"]["children"]["lab_cameras"]["hosts"]
    # Camera simulators are fixtures reached through podman, whatever the site firewall allows.
    assert cameras["south_cam02"]["ansible_host"] == "camops-lab-south_cam02"
    assert cameras["south_cam02"]["ansible_connection"] == "podman"
    # NVRs through their router (the only SSH path once the router is rolled out).
    nvr_args = doc["all"]["hosts"]["nvr-south"]["ansible_ssh_common_args"]
    assert "ProxyCommand='ssh " in nvr_args
    assert nvr_args.endswith("-W %h:%p camops@10.78.0.12'")
    assert cameras["south_cam02"]["lab_camera_device"]["onvif_port"] == 8080
    assert doc["all"]["hosts"]["rtr-south"]["ansible_host"] == "10.78.0.12"


def test_an_nvr_records_on_a_disk_of_a_fixed_size_and_a_changed_layout_remakes_containers() -> None:
    """RetentionAtRisk and a full disk in the lab must not depend on the machine's own disk."""
    lab = lab_module.open_lab(str(INVENTORIES / "lab"))
    images = {host.image: f"localhost/{host.image}:x" for host in lab.plan.hosts}
    nvr = lab_module._run_args(lab, lab.plan.host("nvr-north"), images)
    router = lab_module._run_args(lab, lab.plan.host("rtr-north"), images)
    disk = f"type=tmpfs,destination={lab_module.NVR_RECORDINGS},tmpfs-size={lab_module.NVR_DISK}"
    assert nvr[nvr.index("--mount") + 1] == disk
    assert "--mount" not in router
    assert nvr[-1] == images[lab.plan.host("nvr-north").image]

    def shape(args: list[str]) -> str:
        return next(a for a in args if a.startswith("camops.lab.shape="))

    assert shape(nvr) != shape(router)
    # The same layout gives the same label in every process (else every lab up remakes them).
    elsewhere = in_fresh_interpreters(SHAPE.format(images=images))
    assert elsewhere == [shape(nvr) + "\n"] * len(elsewhere)
    other = {name: ref + "2" for name, ref in images.items()}
    assert shape(nvr) != shape(lab_module._run_args(lab, lab.plan.host("nvr-north"), other))
