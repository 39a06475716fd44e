"""The Ansible view of the model: hosts, groups and variables.

Used by the ``camops`` inventory plugin (``plugins/inventory/camops.py``), so Ansible reads the
very files ``camops validate`` checks. Groups (kubespray habit: one per site and device class):

- ``central`` and one ``central_<role>`` group per central role (platform, recorder, …);
- ``sites`` with one ``site_<facility id>`` child per facility, holding its NVR and router;
- ``nvr``, ``routers`` and ``routers_<platform>``;
- ``district_<id>``, ``operator_<district|military_command>``, ``status_<status>``.

Cameras are not Ansible hosts: they are devices configured through ONVIF from the controller,
listed in ``camops_facility.cameras``.
"""

from __future__ import annotations

from typing import Any

from infra.access import can_view, platform_grantees
from infra.model import Facility, Inventory
from infra.placement import recorder_jobs

HostVars = dict[str, Any]


class Spec:
    """An inventory in the shape of ``ansible-inventory --list``."""

    def __init__(self) -> None:
        self.groups: dict[str, dict[str, Any]] = {}
        self.hostvars: dict[str, HostVars] = {}

    def group(self, name: str, parent: str = "all") -> dict[str, Any]:
        group = self.groups.setdefault(name, {"hosts": [], "vars": {}, "children": []})
        if name != "all":
            parent_group = self.group(parent, "all") if parent != "all" else self.group("all")
            if name not in parent_group["children"]:
                parent_group["children"].append(name)
        return group

    def host(self, name: str, groups: list[str], hostvars: HostVars) -> None:
        self.hostvars.setdefault(name, {}).update(hostvars)
        for group in groups:
            members = self.groups[group]["hosts"]
            if name not in members:
                members.append(name)

    def as_list(self) -> dict[str, Any]:
        result: dict[str, Any] = {"_meta": {"hostvars": self.hostvars}}
        for name, group in self.groups.items():
            result[name] = {key: value for key, value in group.items() if value}
        return result


def facility_vars(inventory: Inventory, facility: Facility) -> HostVars:
    data = facility.model_dump(mode="json")
    return {
        "camops_facility_id": facility.id,
        "camops_facility": data,
        "camops_cameras": data["cameras"],
        "camops_retention_days": inventory.retention_days(facility),
        "camops_district_name": inventory.district_name(facility.district),
        # R7: whom the central platform grants this facility to (registration writes it).
        "camops_platform_grantees": platform_grantees(facility),
        # R7: who may watch it remotely per the model (the rollout's verification compares the
        # platform's answer with this, in both directions).
        "camops_expected_viewers": sorted(
            account.email.lower() for account in inventory.accounts if can_view(account, facility)
        ),
    }


def build(inventory: Inventory, inventory_dir: str) -> Spec:
    """The Ansible inventory of a loaded (structurally valid) model."""
    province = inventory.province
    spec = Spec()
    spec.group("all")["vars"] = {
        "camops_inventory_dir": inventory_dir,
        "camops_inventory_name": inventory.name,
        "camops_province": {"code": province.code, "name": province.name},
        "camops_province_retention_days": province.retention_days,
        "camops_districts": [district.model_dump(mode="json") for district in province.districts],
        "camops_wireguard": province.central.wireguard.model_dump(mode="json"),
        "camops_central_network": str(province.central.network),
        "camops_ops_ranges": [str(net) for net in province.central.ops_ranges],
    }

    central = spec.group("central")
    central["vars"] = {
        "camops_facilities": [f.model_dump(mode="json") for f in inventory.facilities],
        "camops_platform_grantees": {f.id: platform_grantees(f) for f in inventory.facilities},
    }
    for host in province.central.hosts:
        groups = ["central"]
        for role in host.roles:
            name = f"central_{role.value}"
            spec.group(name, "central")
            groups.append(name)
        spec.host(
            host.hostname,
            groups,
            {
                "ansible_host": str(host.ip),
                # The model's address (ansible_host may be overridden, e.g. by the lab).
                "camops_address": str(host.ip),
                "camops_central_roles": [role.value for role in host.roles],
            },
        )
    for node in recorder_jobs(inventory):
        # The central recorder's jobs: each camera with its facility (placement.py).
        spec.hostvars[node.hostname]["camops_recorder_cameras"] = [
            {**camera.model_dump(mode="json"), "facility": facility_id}
            for facility_id, camera in node.cameras
        ]
    if "central_platform" in spec.groups:
        spec.groups["central_platform"]["vars"]["camops_accounts"] = [
            account.model_dump(mode="json") for account in inventory.accounts
        ]

    spec.group("sites")
    spec.group("nvr")
    spec.group("routers")
    for facility in sorted(inventory.facilities, key=lambda item: item.id):
        site = f"site_{facility.id}"
        spec.group(site, "sites")["vars"] = facility_vars(inventory, facility)
        district = f"district_{facility.district}"
        operator = f"operator_{facility.operator.value}"
        status = f"status_{facility.status.value}"
        platform = f"routers_{facility.router.platform.value}"
        for name, parent in (
            (district, "all"),
            (operator, "all"),
            (status, "all"),
            (platform, "routers"),
        ):
            spec.group(name, parent)
        shared = [site, district, operator, status]
        spec.host(
            facility.nvr.hostname,
            [*shared, "nvr"],
            {
                "ansible_host": str(facility.nvr.ip),
                "camops_device": "nvr",
                # The NVR is on the camera LAN, which the WAN never reaches: Ansible goes
                # through the router's SSH, allowed to open only the NVR's port 22.
                "camops_ssh_jump_host": str(facility.router.wan_ip.ip),
            },
        )
        spec.host(
            facility.router.hostname,
            [*shared, "routers", platform],
            {
                "ansible_host": str(facility.router.wan_ip.ip),
                "camops_device": "router",
                "camops_router_platform": facility.router.platform.value,
            },
        )
    return spec
