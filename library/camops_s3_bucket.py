#!/usr/bin/python
"""Ansible module: a WORM S3 bucket (Object Lock, default retention) on an S3 endpoint."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: camops_s3_bucket
short_description: Ensure a WORM bucket with S3 Object Lock and a default retention
description:
  - Creates the bucket with Object Lock enabled (and so versioning) if it is absent, and sets
    its default retention (mode and days) for every new object (requirements R4, R5).
  - Refuses a bucket that exists without Object Lock, which cannot be enabled later.
  - Runs where boto3 is installed, normally the controller (C(delegate_to: localhost)).
version_added: "0.1.0"
author: camops maintainers
options:
  endpoint_url:
    description: S3 endpoint, for example V(http://10.77.0.10:8333).
    type: str
    required: true
  access_key:
    description: Access key of an identity allowed to manage buckets.
    type: str
    required: true
    no_log: true
  secret_key:
    description: Secret key of that identity.
    type: str
    required: true
    no_log: true
  name:
    description: Bucket name.
    type: str
    required: true
  retention_days:
    description: Default retention of new objects, in days (at least 30 for recordings).
    type: int
    required: true
  mode:
    description: Object Lock mode; COMPLIANCE cannot be shortened or bypassed by anyone.
    type: str
    choices: [COMPLIANCE, GOVERNANCE]
    default: COMPLIANCE
notes:
  - Supports check mode and diff mode; a second run reports no change.
requirements:
  - boto3 (in the project's virtualenv)
"""

EXAMPLES = r"""
- name: R5 | Recordings bucket, locked for the retention period
  camops_s3_bucket:
    endpoint_url: "http://{{ ansible_host }}:8333"
    access_key: "{{ vault_object_store_admin_access_key }}"
    secret_key: "{{ vault_object_store_admin_secret_key }}"
    name: recordings
    retention_days: 30
  delegate_to: localhost
"""

RETURN = r"""
bucket:
  description: The bucket after the run.
  returned: always
  type: dict
  sample: {name: recordings, versioning: Enabled, object_lock: true, mode: COMPLIANCE, days: 30}
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402  # after DOCUMENTATION, as Ansible modules do
from ansible.module_utils.camops_s3 import (  # noqa: E402  # after DOCUMENTATION
    HAS_BOTO3,
    S3Error,
    client,
    ensure_worm_bucket,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "endpoint_url": {"type": "str", "required": True},
            "access_key": {"type": "str", "required": True, "no_log": True},
            "secret_key": {"type": "str", "required": True, "no_log": True},
            "name": {"type": "str", "required": True},
            "retention_days": {"type": "int", "required": True},
            "mode": {
                "type": "str",
                "default": "COMPLIANCE",
                "choices": ["COMPLIANCE", "GOVERNANCE"],
            },
        },
        supports_check_mode=True,
    )
    if not HAS_BOTO3:
        module.fail_json(msg="boto3 is needed on the host running this module (make setup)")
    params = module.params
    if params["retention_days"] < 1:
        module.fail_json(msg="retention_days must be at least 1")
    s3 = client(params["endpoint_url"], params["access_key"], params["secret_key"])
    try:
        changed, before, after = ensure_worm_bucket(
            s3, params["name"], params["retention_days"], params["mode"], module.check_mode
        )
    except S3Error as error:
        module.fail_json(msg=str(error))
    result = {"changed": changed, "bucket": after}
    if module._diff:  # Ansible's own flag
        result["diff"] = {"before": before or {}, "after": after}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
