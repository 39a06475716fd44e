"""Ansible filters: monitoring's targets and Alertmanager's configuration from the model.

They load the province folder with the camops package (``infra.monitoring``), so Ansible and
the tests use the same code. Controller side only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ansible.errors import AnsibleFilterError


def _inventory(inventory_dir: str) -> Any:
    try:
        from infra.loader import load  # noqa: PLC0415  # reported below if missing
    except ImportError as error:
        raise AnsibleFilterError(
            f"the camops monitoring filters need the camops package ({error}); run 'make setup'"
        ) from error
    result = load(Path(inventory_dir))
    if result.inventory is None:
        raise AnsibleFilterError(f"{inventory_dir}: the inventory does not load (camops validate)")
    return result.inventory


def camops_alertmanager_config(
    inventory_dir: str, delivery: dict[str, Any], templates: list[str] | None = None
) -> dict[str, Any]:
    """``delivery``: smtp_smarthost, smtp_from, smtp_require_tls, webhook_url (empty: none),
    webhook_ca_file (empty: the system's CAs), webhook_token_file (the platform's token)."""
    from infra.monitoring import Delivery, alertmanager_config  # noqa: PLC0415

    try:
        options = Delivery(
            webhook_url=str(delivery.get("webhook_url") or "") or None,
            smtp_smarthost=str(delivery["smtp_smarthost"]),
            smtp_from=str(delivery["smtp_from"]),
            smtp_require_tls=bool(delivery.get("smtp_require_tls", True)),
            webhook_ca_file=str(delivery.get("webhook_ca_file") or "") or None,
            webhook_token_file=str(delivery.get("webhook_token_file") or "") or None,
        )
    except KeyError as error:
        raise AnsibleFilterError(f"camops_alertmanager_config: delivery needs {error}") from None
    return alertmanager_config(_inventory(inventory_dir), options, templates=templates)


def camops_scrape_targets(
    inventory_dir: str, kind: str, facility_id: str = "", only: list[str] | None = None
) -> list[Any]:
    """``file_sd`` groups: ``cameras``, ``nvr`` or ``tunnel`` of one facility, or ``central`` nodes;
    ``only``: just these cameras (the connected ones)."""
    from infra import monitoring  # noqa: PLC0415

    inventory = _inventory(inventory_dir)
    if kind == "central":
        return monitoring.central_node_targets(inventory)
    try:
        facility = inventory.facility(facility_id)
    except KeyError:
        raise AnsibleFilterError(f"{facility_id}: not a facility of {inventory_dir}") from None
    if kind == "cameras":
        groups = monitoring.camera_targets(inventory, facility)
        if only is not None:
            groups = [group for group in groups if group["labels"]["camera"] in only]
        return groups
    if kind == "nvr":
        return monitoring.facility_node_targets(inventory, facility)
    if kind == "tunnel":
        return monitoring.tunnel_targets(inventory, facility)
    raise AnsibleFilterError(
        f"camops_scrape_targets: kind {kind!r} is not cameras, nvr, tunnel or central"
    )


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "camops_alertmanager_config": camops_alertmanager_config,
            "camops_scrape_targets": camops_scrape_targets,
        }
