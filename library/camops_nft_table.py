#!/usr/bin/python
"""Ansible module: the live nftables table matches its file (R9 drift), loaded when not."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: camops_nft_table
short_description: Make a live nftables table match its file, and show the drift
description:
  - Lists the table as the file makes it (the file applied in a scratch network namespace) and
    as the kernel has it, both with C(nft -s) (no counters), and compares them.
  - When they differ, loads the file (one nft transaction: the file replaces only its own
    table) and checks that the kernel now has exactly it. A rule deleted or added by hand is
    a change; an unchanged file does not hide it.
  - Check mode reports the drift without loading anything; diff mode shows it line by line.
version_added: "0.1.0"
author: camops maintainers
options:
  path:
    description: The nft file that defines the table (it deletes and redefines it).
    type: path
    required: true
  family:
    description: The table's family.
    type: str
    default: inet
  table:
    description: The table's name.
    type: str
    required: true
notes:
  - Supports check mode and diff mode.
requirements:
  - nftables (C(nft)) and util-linux (C(unshare)) on the host; root
"""

EXAMPLES = r"""
- name: R9 | The router's forwarding policy is live, exactly
  camops_nft_table:
    path: /etc/camops/firewall/20-router.nft
    table: camops_router
"""

RETURN = r"""
drift:
  description: The live table differed from the file (before this run).
  type: bool
  returned: always
lines:
  description: The unified diff from the live table to the intended one (empty when equal).
  type: list
  elements: str
  returned: always
"""

from typing import Any  # noqa: E402  # after DOCUMENTATION, as Ansible modules do

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.camops_nft import NftError, apply, compare  # noqa: E402


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "family": {"type": "str", "default": "inet"},
            "table": {"type": "str", "required": True},
        },
        supports_check_mode=True,
    )
    params = module.params

    def run(argv: list[str]) -> tuple[int, str, str]:
        rc, out, err = module.run_command(argv)
        return int(rc), str(out), str(err)

    label = f"table {params['family']} {params['table']}"
    try:
        before = compare(run, params["path"], params["family"], params["table"])
        if before.drift and not module.check_mode:
            apply(run, params["path"], params["family"], params["table"])
    except NftError as error:
        module.fail_json(msg=str(error))
        return
    result: dict[str, Any] = {
        "changed": before.drift,
        "drift": before.drift,
        "lines": before.diff(label),
    }
    if module._diff:  # Ansible's own flag
        result["diff"] = {
            "before": before.live or "",
            "after": before.intended,
            "before_header": f"{label} (live)",
            "after_header": f"{label} ({params['path']})",
        }
    module.exit_json(**result)


if __name__ == "__main__":
    main()
