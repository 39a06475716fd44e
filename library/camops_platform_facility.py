#!/usr/bin/python
"""Ansible module: a facility, its cameras and its grants in the camops central platform."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: camops_platform_facility
short_description: Register a facility, its cameras and its district grants in the camops platform
description:
  - Makes the central platform's catalog hold exactly this facility (in its district), these
    cameras and these grants (requirements R6, R7); cameras of the facility that are not listed
    are removed from the catalog (their recordings and audit entries stay).
  - Reads the stored state first, so a second run reports no change; check mode changes
    nothing and diff mode shows what would change.
  - With O(state=absent) the facility and its cameras are deregistered (decommissioning); the
    platform's audit log keeps every entry about them.
version_added: "0.1.0"
author: camops maintainers
extends_documentation_fragment:
  - camops_platform_options
options:
  id:
    description: The facility's id in the inventory.
    type: str
    required: true
  name:
    description: The facility's name. Required with O(state=present).
    type: str
  district:
    description: The id of the district the facility is in. Required with O(state=present).
    type: str
  district_name:
    description: The district's name (the district is registered too).
    type: str
  operator:
    description: Who runs the facility.
    type: str
    choices: [district, military_command]
    default: district
  status:
    description: The facility's status (decommissioning sets the others).
    type: str
    choices: [active, standby, handed_over, removed]
    default: active
  status_ref:
    description: The document behind the status (number and date of the decision).
    type: str
    default: ""
  cameras:
    description:
      - The facility's cameras, each a dict with C(id), C(name) and C(zone); other keys (the
        inventory's other camera fields) are ignored.
      - Left out, the cameras the platform holds stay as they are (none for a new facility).
    type: list
    elements: dict
  grantees:
    description:
      - Scopes the facility is granted to, for example V(district:lab_north) (R7). A
        facility run by the Provincial Military Command has none.
      - Left out, the grants the platform holds stay as they are (none for a new facility).
    type: list
    elements: str
  state:
    description: Registered or deregistered.
    type: str
    choices: [present, absent]
    default: present
notes:
  - The token needs the C(catalog:write) and C(catalog:read) scopes.
  - Supports check mode and diff mode.
"""

EXAMPLES = r"""
- name: R6, R7 | Register the facility in the central platform
  camops_platform_facility:
    url: "{{ camops_platform_url }}"
    token: "{{ vault_platform_token_registration }}"
    ca_path: "{{ camops_platform_ca_path }}"
    id: "{{ camops_facility.id }}"
    name: "{{ camops_facility.name }}"
    district: "{{ camops_facility.district }}"
    district_name: "{{ camops_district_name }}"
    operator: "{{ camops_facility.operator }}"
    cameras: "{{ camops_cameras }}"
    grantees: "{{ camops_platform_grantees }}"
  delegate_to: localhost

- name: Deregister a removed facility
  camops_platform_facility:
    url: "{{ camops_platform_url }}"
    token: "{{ vault_platform_token_registration }}"
    id: lab_north_school
    state: absent
  delegate_to: localhost
"""

RETURN = r"""
facility:
  description: The facility as registered after the run (empty when absent).
  returned: always
  type: dict
actions:
  description: What the run did (or would do in check mode), one line each.
  returned: always
  type: list
  elements: str
"""

from typing import Any  # noqa: E402  # after DOCUMENTATION, as Ansible modules do

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.camops_platform_api import (  # noqa: E402
    ARGUMENT_SPEC,
    Platform,
    PlatformError,
    platform_from,
)

FACILITY_FIELDS = ("district_id", "name", "operator", "status", "status_ref")
CAMERA_FIELDS = ("facility_id", "name", "zone")


def stored_state(platform: Platform, facility_id: str) -> dict[str, Any] | None:
    """The facility with its cameras and grantees as the platform holds it, or None."""
    status, facility = platform.call("GET", f"/facilities/{facility_id}")
    if status == 404:
        return None
    _status, cameras = platform.call("GET", f"/facilities/{facility_id}/cameras")
    _status, grants = platform.call("GET", f"/facilities/{facility_id}/grants")
    return {
        **{name: facility[name] for name in FACILITY_FIELDS},
        "cameras": {
            camera["id"]: {"name": camera["name"], "zone": camera["zone"]}
            for camera in cameras or []
        },
        "grantees": sorted(grants["grantees"]),
    }


def wanted_state(params: dict[str, Any], before: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the platform must hold; ``cameras`` or ``grantees`` left out (None) keep what it
    holds (a status change of a registered facility: its decommissioning)."""
    stored = before or {"cameras": {}, "grantees": []}
    return {
        "district_id": params["district"],
        "name": params["name"],
        "operator": params["operator"],
        "status": params["status"],
        "status_ref": params["status_ref"],
        "cameras": stored["cameras"]
        if params["cameras"] is None
        else {
            camera["id"]: {"name": camera["name"], "zone": camera["zone"]}
            for camera in params["cameras"]
        },
        "grantees": stored["grantees"]
        if params["grantees"] is None
        else sorted(set(params["grantees"])),
    }


def plan(
    facility_id: str, before: dict[str, Any] | None, after: dict[str, Any]
) -> list[tuple[str, str, Any]]:
    """The API calls (method, path, body) that turn ``before`` into ``after``, in order."""
    calls: list[tuple[str, str, Any]] = []
    old = before or {"cameras": {}, "grantees": []}
    if before is None or any(before[name] != after[name] for name in FACILITY_FIELDS):
        calls.append(("PUT", f"/facilities/{facility_id}", {n: after[n] for n in FACILITY_FIELDS}))
    for camera_id, camera in sorted(after["cameras"].items()):
        if old["cameras"].get(camera_id) != camera:
            calls.append(("PUT", f"/cameras/{camera_id}", {"facility_id": facility_id, **camera}))
    for camera_id in sorted(set(old["cameras"]) - set(after["cameras"])):
        calls.append(("DELETE", f"/cameras/{camera_id}", None))
    if old["grantees"] != after["grantees"]:
        calls.append(("PUT", f"/facilities/{facility_id}/grants", {"grantees": after["grantees"]}))
    return calls


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **ARGUMENT_SPEC,
            "id": {"type": "str", "required": True},
            "name": {"type": "str"},
            "district": {"type": "str"},
            "district_name": {"type": "str"},
            "operator": {
                "type": "str",
                "choices": ["district", "military_command"],
                "default": "district",
            },
            "status": {
                "type": "str",
                "choices": ["active", "standby", "handed_over", "removed"],
                "default": "active",
            },
            "status_ref": {"type": "str", "default": ""},
            "cameras": {"type": "list", "elements": "dict"},
            "grantees": {"type": "list", "elements": "str"},
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
        },
        required_if=[("state", "present", ("name", "district"))],
        supports_check_mode=True,
    )
    params = module.params
    facility_id = params["id"]
    for grantee in params["grantees"] or []:
        if not grantee.startswith("district:") or grantee == "district:":
            module.fail_json(
                msg=f"facility {facility_id}: grantees: {grantee!r} is not district:<id>"
            )
    for index, camera in enumerate(params["cameras"] or []):
        missing = [key for key in ("id", "name", "zone") if not camera.get(key)]
        if missing:
            module.fail_json(
                msg=f"facility {facility_id}: cameras[{index}]: missing {', '.join(missing)}"
            )
    platform = platform_from(params)
    actions: list[str] = []
    try:
        before = stored_state(platform, facility_id)
        if params["state"] == "absent":
            after: dict[str, Any] = {}
            calls: list[tuple[str, str, Any]] = (
                [("DELETE", f"/facilities/{facility_id}?cascade=true", None)] if before else []
            )
        else:
            after = wanted_state(params, before)
            calls = []  # the district first, then plan()'s calls
            district = params["district"]
            status, stored_district = platform.call("GET", f"/districts/{district}")
            district_name = params["district_name"] or (
                stored_district["name"] if status == 200 else district
            )
            if status == 404 or stored_district["name"] != district_name:
                calls.append(("PUT", f"/districts/{district}", {"name": district_name}))
            calls += plan(facility_id, before, after)
        for method, path, body in calls:
            actions.append(f"{method} {path}")
            if not module.check_mode:
                platform.call(method, path, body)
    except PlatformError as error:
        module.fail_json(msg=f"facility {facility_id}: {error}", actions=actions)
    result: dict[str, Any] = {
        "changed": bool(actions),
        "actions": actions,
        "facility": {"id": facility_id, **after} if after else {},
    }
    if module._diff:  # Ansible's own flag
        result["diff"] = {"before": before or {}, "after": after}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
