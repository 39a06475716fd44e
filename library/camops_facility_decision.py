#!/usr/bin/python
"""Ansible module: a facility's status and its decision written into the inventory, with the
decommission report beside it (R13). Runs on the controller (``delegate_to: localhost``)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: camops_facility_decision
short_description: Record a facility's status and its decision in the camops inventory (R13)
description:
  - Writes the facility's C(status) and C(status_ref) into its file in the inventory, keeping
    every other line as written (comments included); git is the record.
  - When the status changes and O(report) is given, writes the decommission report (Vietnamese,
    then English) to C(<inventory>/decommissions/<facility>-<status>-<date>.md): the decision,
    what was done and until when the facility's recordings stay protected.
  - A second run with the same status and reference changes nothing.
version_added: "0.1.0"
author: camops maintainers
options:
  inventory_dir:
    description: The province's inventory folder.
    type: path
    required: true
  site:
    description: The facility's id.
    type: str
    required: true
  status:
    description: The facility's new status.
    type: str
    required: true
    choices: [active, standby, handed_over, removed]
  status_ref:
    description: The decision's document (number and date); empty only for V(active).
    type: str
    default: ""
  report:
    description:
      - The decommission report's contents, C(decision) (standby, handover or remove),
        C(done) (the steps done, ids of C(infra.lifecycle.STEPS)) and C(actor); for a
        handover also C(cameras) (the camera module's results as handed over) and
        C(handover_vault) (the file of the credentials).
    type: dict
notes:
  - Supports check mode and diff mode.
requirements:
  - the camops package on the controller (C(make setup))
"""

EXAMPLES = r"""
- name: R13 | The decision in the inventory (git is the record)
  camops_facility_decision:
    inventory_dir: "{{ camops_inventory_dir }}"
    site: lab_south_barracks
    status: standby
    status_ref: 1234/QĐ-UBND ngày 15/11/2026
    report:
      decision: standby
      done: [access, monitoring, central_recording, tunnel_disabled, inventory]
      actor: ops@lab
  delegate_to: localhost
"""

RETURN = r"""
facility_file:
  description: The facility's file that holds the status.
  type: str
  returned: always
report_path:
  description: The report written (empty when the status did not change).
  type: str
  returned: always
protected_until:
  description: Until when the facility's recordings stay protected at least (UTC, ISO 8601).
  type: str
  returned: always
"""

from datetime import UTC, datetime  # noqa: E402  # after DOCUMENTATION, as Ansible modules do
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.camops_infra import missing  # noqa: E402

try:
    from infra import lifecycle
    from infra.loader import load
    from infra.model import FacilityStatus

    INFRA_ERROR = ""
except ImportError as error:  # see module_utils/camops_infra.py
    INFRA_ERROR = missing(error)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "inventory_dir": {"type": "path", "required": True},
            "site": {"type": "str", "required": True},
            "status": {
                "type": "str",
                "required": True,
                "choices": ["active", "standby", "handed_over", "removed"],
            },
            "status_ref": {"type": "str", "default": ""},
            "report": {"type": "dict"},
        },
        supports_check_mode=True,
    )
    if INFRA_ERROR:
        module.fail_json(msg=INFRA_ERROR)
    params = module.params
    inventory_dir = Path(params["inventory_dir"])
    loaded = load(inventory_dir)
    inventory = loaded.inventory
    if inventory is None:
        module.fail_json(msg=f"{inventory_dir}: the inventory does not load (camops validate)")
        return
    try:
        facility = inventory.facility(params["site"])
    except KeyError:
        module.fail_json(msg=f"site={params['site']!r} is not a facility of {inventory_dir}")
        return
    status = FacilityStatus(params["status"])
    ref = " ".join(params["status_ref"].split())
    if status is not FacilityStatus.ACTIVE and not ref:
        module.fail_json(msg=f"status={status.value} needs status_ref: the decision's document")
    facility_file = loaded.facility_files.get(facility.id, f"facilities/{facility.id}.yml")
    before = {"status": facility.status.value, "status_ref": facility.status_ref}
    after = {"status": status.value, "status_ref": ref}
    now = datetime.now(UTC)
    protected = lifecycle.protected_until(now, inventory.retention_days(facility))
    changed = before != after
    report_path = ""
    if changed and not module.check_mode:
        lifecycle.set_status(inventory_dir, facility_file, status, ref)
        if params["report"]:
            report = params["report"]
            try:
                request = lifecycle.Request(
                    facility.id,
                    lifecycle.Decision(report.get("decision", "")),
                    ref,
                    facility_file,
                )
                text = lifecycle.report_markdown(
                    request,
                    facility.name,
                    list(report.get("done") or []),
                    when=now,
                    protected=protected,
                    actor=str(report.get("actor") or "ansible"),
                    cameras=list(report.get("cameras") or []),
                    handover_vault=str(report.get("handover_vault") or ""),
                )
            except ValueError as error:
                module.fail_json(msg=f"report: {error}")
            folder = inventory_dir / "decommissions"
            folder.mkdir(exist_ok=True)
            path = folder / f"{facility.id}-{status.value}-{now:%Y%m%dT%H%M%SZ}.md"
            path.write_text(text, encoding="utf-8")
            report_path = str(path)
    result: dict[str, Any] = {
        "changed": changed,
        "facility_file": str(inventory_dir / facility_file),
        "report_path": report_path,
        "protected_until": protected.isoformat(),
    }
    if module._diff:  # Ansible's own flag
        result["diff"] = {"before": before, "after": after, "before_header": facility_file}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
