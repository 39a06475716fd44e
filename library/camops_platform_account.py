#!/usr/bin/python
"""Ansible module: one person's account in the camops platform (§8 fields, role, scope)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: camops_platform_account
short_description: Ensure a person's account in the camops central platform
description:
  - Creates or updates the account of one person, known by the official e-mail, with the
    fields of the directive's §8 registration form, the role and the scope (requirements R6, R7).
  - Compares with the stored account first, so a second run reports no change; check mode
    changes nothing and diff mode shows the fields that would change.
  - Disabling (C(enabled=false)) keeps the account and its audit trail; there is no delete.
version_added: "0.1.0"
author: camops maintainers
extends_documentation_fragment:
  - camops_platform_options
options:
  email:
    description: Official e-mail; identifies the person.
    type: str
    required: true
  full_name:
    description: Họ và tên.
    type: str
    required: true
  position:
    description: Chức vụ.
    type: str
    required: true
  unit:
    description: Đơn vị.
    type: str
    required: true
  phone:
    description: Điện thoại.
    type: str
    required: true
  note:
    description: Ghi chú.
    type: str
    default: ""
  role:
    description: The person's role (R7).
    type: str
    required: true
    choices: [provincial_steering, district_leader, ops_engineer, auditor]
  scope:
    description: V(province) or V(district:<id>) (district leaders).
    type: str
    default: province
  enabled:
    description: Whether the person may log in.
    type: bool
    default: true
  initial_password:
    description:
      - The person's first password, set only when this run creates the account or the
        account has no password yet; never changes a password the person has set.
    type: str
notes:
  - The token needs the C(accounts:write) scope.
  - Supports check mode and diff mode.
"""

EXAMPLES = r"""
- name: R6 | Accounts from the registration forms
  camops_platform_account:
    url: "https://{{ platform_address }}"
    token: "{{ platform_accounts_token }}"
    email: "{{ item.email }}"
    full_name: "{{ item.full_name }}"
    position: "{{ item.position }}"
    unit: "{{ item.unit }}"
    phone: "{{ item.phone }}"
    role: "{{ item.role }}"
    scope: "{{ item.scope }}"
  loop: "{{ camops_accounts }}"
  delegate_to: localhost
"""

RETURN = r"""
account:
  description: The account's fields after the run.
  returned: always
  type: dict
created:
  description: Whether the account was created by this run.
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402  # after DOCUMENTATION, as Ansible modules do
from ansible.module_utils.camops_platform_api import (  # noqa: E402
    ARGUMENT_SPEC,
    PlatformError,
    platform_from,
)

FIELDS = ("full_name", "position", "unit", "phone", "note", "role", "scope", "enabled")


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **ARGUMENT_SPEC,
            "email": {"type": "str", "required": True},
            "full_name": {"type": "str", "required": True},
            "position": {"type": "str", "required": True},
            "unit": {"type": "str", "required": True},
            "phone": {"type": "str", "required": True},
            "note": {"type": "str", "default": ""},
            "role": {
                "type": "str",
                "required": True,
                "choices": ["provincial_steering", "district_leader", "ops_engineer", "auditor"],
            },
            "scope": {"type": "str", "default": "province"},
            "enabled": {"type": "bool", "default": True},
            "initial_password": {"type": "str", "no_log": True},
        },
        supports_check_mode=True,
    )
    params = module.params
    if params["role"] == "district_leader" and not params["scope"].startswith("district:"):
        module.fail_json(msg=f"scope of {params['email']}: a district leader's is district:<id>")
    email = params["email"].strip().lower()
    wanted = {name: params[name] for name in FIELDS}
    platform = platform_from(params)
    try:
        status, stored = platform.call("GET", f"/accounts/{email}")
        before = {name: stored[name] for name in FIELDS} if status == 200 else None
        has_password = bool(stored.get("has_password", True)) if status == 200 else False
        changed = before != wanted
        created = before is None
        if changed and not module.check_mode:
            _status, answer = platform.call("PUT", f"/accounts/{email}", wanted)
            changed, created = bool(answer["changed"]), bool(answer["created"])
        if params["initial_password"] and not has_password:
            changed = True
            if not module.check_mode:
                platform.call(
                    "PUT", f"/accounts/{email}/password", {"password": params["initial_password"]}
                )
    except PlatformError as error:
        module.fail_json(msg=f"account {email}: {error}")
    result = {"changed": changed, "created": created, "account": {"email": email, **wanted}}
    if module._diff:  # Ansible's own flag
        result["diff"] = {
            "before": {"email": email, **before} if before else {},
            "after": {"email": email, **wanted},
        }
    module.exit_json(**result)


if __name__ == "__main__":
    main()
