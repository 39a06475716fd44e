#!/usr/bin/python
"""Ansible module: the credentials a facility's cameras are handed over with (R13 handover),
kept in their own Ansible Vault file beside the inventory. Runs on the controller."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: camops_handover_vault
short_description: Each camera's credential for the unit that receives a facility (R13)
description:
  - For a facility handed over to another unit (decommission decision C(handover)), makes one
    new random password per camera (the user name stays) and keeps them in an Ansible Vault
    file, C(<inventory>/handovers/<facility>.vault.yml), encrypted with the inventory's vault
    password. C(ansible-vault rekey) then gives the file the receiving unit's password; the
    credentials are never printed.
  - A re-run finds the file and returns the same credentials (nothing rotated again); a camera
    missing from the file gets one.
  - Check mode makes the missing credentials without storing them.
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
  decision_ref:
    description: The handover decision's document (number and date), kept in the file.
    type: str
    required: true
  cameras:
    description: Camera id → the user name the camera keeps.
    type: dict
    required: true
  vault_password_file:
    description: The inventory's vault password file (camops sets ANSIBLE_VAULT_PASSWORD_FILE).
    type: path
    required: true
notes:
  - Supports check mode. Use C(no_log) on the task: the result holds the credentials.
requirements:
  - the camops package on the controller (C(make setup))
"""

EXAMPLES = r"""
- name: R13 | The cameras' credentials for the receiving unit, in their own vault file
  camops_handover_vault:
    inventory_dir: "{{ camops_inventory_dir }}"
    site: lab_south_barracks
    decision_ref: 1234/QĐ-UBND ngày 15/11/2026
    cameras: {south_cam01: camops, south_cam02: camops}
    vault_password_file: "{{ lookup('ansible.builtin.env', 'ANSIBLE_VAULT_PASSWORD_FILE') }}"
  register: handover
  no_log: true
  delegate_to: localhost
"""

RETURN = r"""
path:
  description: The handover vault file.
  type: str
  returned: always
credentials:
  description: Camera id → C(username), C(password). Secret.
  type: dict
  returned: always
created:
  description: The cameras given a new credential by this run.
  type: list
  elements: str
  returned: always
"""

import shutil  # noqa: E402  # after DOCUMENTATION, as Ansible modules do
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.camops_infra import missing  # noqa: E402

try:
    from infra import vault

    INFRA_ERROR = ""
except ImportError as error:  # see module_utils/camops_infra.py
    INFRA_ERROR = missing(error)


def _ansible_vault() -> str:
    """The ansible-vault of the Python running Ansible (the camops virtualenv), else PATH's."""
    beside = Path(sys.executable).parent / "ansible-vault"
    return str(beside) if beside.exists() else (shutil.which("ansible-vault") or "ansible-vault")


def _password(password_file: Path) -> dict[str, str]:
    """The password file as the only vault secret of the ansible-vault command (a second one,
    e.g. on its command line besides this environment variable, makes it refuse to choose)."""
    return {"ANSIBLE_VAULT_PASSWORD_FILE": str(password_file), "ANSIBLE_VAULT_IDENTITY_LIST": ""}


def _read(module: AnsibleModule, target: Path, password_file: Path) -> dict[str, Any]:
    import yaml  # noqa: PLC0415

    if not target.exists():
        return {}
    rc, out, err = module.run_command(
        [_ansible_vault(), "view", str(target)], environ_update=_password(password_file)
    )
    if rc != 0:
        module.fail_json(msg=f"{target}: ansible-vault cannot read it: {err.strip()}")
    data = yaml.safe_load(out)
    if not isinstance(data, dict):
        module.fail_json(msg=f"{target}: a handover file holds a mapping (facility, cameras)")
    return dict(data)


def _write(
    module: AnsibleModule, target: Path, document: dict[str, Any], password_file: Path
) -> None:
    import yaml  # noqa: PLC0415

    plain = "---\n" + yaml.safe_dump(document, sort_keys=True, allow_unicode=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".tmp")
    temporary.unlink(missing_ok=True)
    command = [_ansible_vault(), "encrypt", "--output", str(temporary), "-"]
    rc, _out, err = module.run_command(
        command, data=plain, binary_data=True, environ_update=_password(password_file)
    )
    if rc != 0:
        temporary.unlink(missing_ok=True)
        module.fail_json(msg=f"{target}: ansible-vault cannot encrypt it: {err.strip()}")
    temporary.chmod(0o600)
    temporary.replace(target)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "inventory_dir": {"type": "path", "required": True},
            "site": {"type": "str", "required": True},
            "decision_ref": {"type": "str", "required": True},
            "cameras": {"type": "dict", "required": True},
            "vault_password_file": {"type": "path", "required": True, "no_log": False},
        },
        supports_check_mode=True,
    )
    if INFRA_ERROR:
        module.fail_json(msg=INFRA_ERROR)
    params = module.params
    password_file = Path(params["vault_password_file"])
    if not password_file.is_file():
        module.fail_json(
            msg=f"vault_password_file={password_file}: no such file; give the inventory's vault "
            "password file (ANSIBLE_VAULT_PASSWORD_FILE; camops decommission sets it)"
        )
    target = vault.handover_file(Path(params["inventory_dir"]), params["site"])
    handover, document = vault.merge_handover(
        target,
        _read(module, target, password_file),
        params["site"],
        {str(camera): str(user) for camera, user in params["cameras"].items()},
        params["decision_ref"],
    )
    if handover.created and not module.check_mode:
        _write(module, target, document, password_file)
    module.exit_json(
        changed=bool(handover.created),
        path=str(target),
        credentials=handover.credentials,
        created=handover.created,
    )


if __name__ == "__main__":
    main()
