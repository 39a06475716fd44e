#!/usr/bin/python
"""Ansible module: validate a camops inventory before any host is touched."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: camops_validate
short_description: Validate a camops province inventory
description:
  - Runs the camops validation rules (R1 zones and coverage, duplicates, addressing, R4
    retention, R6 accounts, R7 roles and scopes, no plaintext secrets) on an inventory folder,
    the same rules as C(camops validate).
  - Fails with one line per problem, naming the file, the field path and the fix.
  - Runs on the controller; use C(delegate_to: localhost) and C(run_once: true).
version_added: "0.1.0"
author: camops maintainers
options:
  path:
    description: The inventory folder (holding C(province.yml)).
    type: path
    required: true
  strict:
    description: Fail on warnings (such as missing R1 coverage) as well as errors.
    type: bool
    default: false
notes:
  - Supports check mode; it never changes anything.
requirements:
  - the camops Python package (C(make setup)) in the controller's Python
"""

EXAMPLES = r"""
- name: Validate the inventory
  camops_validate:
    path: "{{ camops_inventory_dir }}"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
valid:
  description: Whether the inventory passed (errors, and warnings when strict).
  returned: always
  type: bool
error_lines:
  description: One line per error.
  returned: always
  type: list
  elements: str
  sample: ["ERROR [R1] facilities/x.yml: facilities[x].cameras[x_cam01].zone: ..."]
warning_lines:
  description: One line per warning (each is also reported as an Ansible warning).
  returned: always
  type: list
  elements: str
problems:
  description: Every problem as a mapping (file, path, rule, message, fix, severity).
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402  # after DOCUMENTATION, as Ansible modules do
from ansible.module_utils.camops_inventory import (  # noqa: E402  # after DOCUMENTATION
    INFRA_ERROR,
    validate_inventory,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "strict": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    if INFRA_ERROR:
        module.fail_json(msg=INFRA_ERROR)
    try:
        result = validate_inventory(module.params["path"], module.params["strict"])
    except Exception as error:  # any load failure is reported, never a trace
        module.fail_json(msg=f"cannot validate {module.params['path']}: {error}")
    if not result["valid"]:
        lines = result["error_lines"]
        if module.params["strict"]:
            lines = lines + result["warning_lines"]
        module.fail_json(
            msg=f"the inventory has {len(lines)} problem(s); fix them before any host is "
            "touched:\n" + "\n".join(lines),
            changed=False,
            **result,
        )
    for line in result["warning_lines"]:
        module.warn(line)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
