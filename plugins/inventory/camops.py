"""Ansible inventory plugin: a camops province folder as Ansible hosts, groups and variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin

DOCUMENTATION = r"""
name: camops
short_description: The camops province model as an Ansible inventory
description:
  - Reads C(province.yml), C(facilities/*.yml) and C(accounts.yml) of the folder that holds
    the C(inventory.camops.yml) file, with the camops model (package C(infra)), and turns
    central hosts, facility NVRs and routers into hosts and groups.
  - Structural errors (a field of the wrong type, a missing field) stop the parse with every
    problem listed. Province-wide rules (R1 zones, duplicates, R7 scopes) are checked by the
    C(validate_inventory) role that opens every playbook, and by C(camops validate).
options:
  plugin:
    description: Marks the file as a source for this plugin.
    required: true
    choices: ["camops"]
"""

EXAMPLES = r"""
# inventories/lab/inventory.camops.yml
plugin: camops
"""


class InventoryModule(BaseInventoryPlugin):  # type: ignore[misc]
    NAME = "camops"

    def verify_file(self, path: str) -> bool:
        return bool(super().verify_file(path)) and path.endswith(("camops.yml", "camops.yaml"))

    def parse(self, inventory: Any, loader: Any, path: str, cache: bool = True) -> None:
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        try:
            from infra import ansible_inventory  # noqa: PLC0415  # reported below if missing
            from infra.loader import load  # noqa: PLC0415
            from infra.problems import errors  # noqa: PLC0415
        except ImportError as error:
            raise AnsibleParserError(
                f"the camops inventory plugin needs the camops package ({error}); "
                "run 'make setup' and use the project's .venv"
            ) from error
        root = str(Path(path).resolve().parent)
        result = load(root)
        found = errors(result.problems)
        if result.inventory is None or found:
            lines = "\n".join(problem.line() for problem in found)
            raise AnsibleParserError(f"{root}: the inventory does not parse:\n{lines}")
        spec = ansible_inventory.build(result.inventory, root)
        self._apply(spec.as_list())

    def _apply(self, listing: dict[str, Any]) -> None:
        for name in listing:
            if name not in {"_meta", "all"}:
                self.inventory.add_group(name)
        for name, group in listing.items():
            if name == "_meta":
                continue
            for child in group.get("children", []):
                self.inventory.add_child(name, child)
            for host in group.get("hosts", []):
                self.inventory.add_host(host, group=name)
            for key, value in group.get("vars", {}).items():
                self.inventory.set_variable(name, key, value)
        for host, hostvars in listing["_meta"]["hostvars"].items():
            for key, value in hostvars.items():
                self.inventory.set_variable(host, key, value)
