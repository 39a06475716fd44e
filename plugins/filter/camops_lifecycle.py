"""Ansible filters: a facility's decommission request checked with the camops package
(``infra.lifecycle``), so the playbook, ``camops decommission`` and the tests refuse the same
requests with the same words. Controller side only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError


def camops_decommission_request(
    inventory_dir: str, site: str, decision: str, decision_ref: str
) -> dict[str, Any]:
    """The request as a dict (site, decision, status, decision_ref, facility_file), or an
    error naming the field and the fix."""
    try:
        from infra.lifecycle import LifecycleError, check_request  # noqa: PLC0415
        from infra.loader import load  # noqa: PLC0415
    except ImportError as error:
        raise AnsibleFilterError(
            f"the camops lifecycle filters need the camops package ({error}); run 'make setup'"
        ) from error
    try:
        request = check_request(load(Path(inventory_dir)), site, decision, decision_ref)
    except LifecycleError as error:
        raise AnsibleFilterError(str(error)) from None
    return {
        "site": request.site,
        "decision": request.decision.value,
        "status": request.decision.status.value,
        "decision_ref": request.decision_ref,
        "facility_file": request.facility_file,
    }


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"camops_decommission_request": camops_decommission_request}
