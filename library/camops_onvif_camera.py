#!/usr/bin/python
"""Ansible module: IP cameras configured over ONVIF (credentials, NTP, encoder), one or many."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: camops_onvif_camera
short_description: Configure IP cameras over ONVIF - vault credential, NTP, encoder profile
description:
  - Logs in with the camera's vault credential. When the camera refuses it, logs in with a
    known factory credential and rotates it (R2 "default credentials gone"); if the vault user
    name is the factory user name its password is set, otherwise the vault user is created as
    Administrator, a login with it is verified, and then the factory user is deleted. Users
    that are not in the vault are deleted too (O(remove_other_users)), so the camera is never
    left with a credential the vault does not hold, and a run interrupted at any point
    converges when run again.
  - Then sets the NTP servers (manual, the clock following NTP) and the video encoder of the
    main media profile (codec, resolution, frame rate, bit rate) from the model.
  - At the end every factory credential is tried again (it must be refused) and the camera's
    clock skew is measured.
  - Runs on a host that reaches the camera (the facility's NVR), with a Python that has
    C(onvif-zeep-async) (the camera role's tools virtualenv).
  - Reads before it writes; a second run reports no change. Check mode changes nothing and
    reports what would change; diff mode shows users (names and levels, never passwords), NTP
    and encoder before and after.
  - A camera that refuses the encoder settings fails with C(error_kind=encoder_refused) after
    its credentials were rotated and NTP set; an unreachable camera fails with
    C(error_kind=unreachable); unknown credentials with C(error_kind=credentials).
  - With O(cameras) a whole facility is configured in one run, several cameras at a time
    (O(concurrency)); each camera's result is in RV(cameras), a camera that fails does not fail
    the run (its entry has C(failed), C(msg), C(error_kind)), so the caller reports it and goes
    on with the rest.
version_added: "0.1.0"
author: camops maintainers
requirements:
  - onvif-zeep-async (in the Python that runs the module)
options:
  host:
    description: The camera's address (one camera). Either O(host) or O(cameras).
    type: str
  port:
    description: The camera's ONVIF (HTTP) port.
    type: int
    default: 80
  camera_id:
    description: The camera's id in the inventory, for messages. Defaults to O(host).
    type: str
  username:
    description: The user name of the camera's vault credential (required with O(host)).
    type: str
  password:
    description: The password of the camera's vault credential (required with O(host)).
    type: str
  cameras:
    description:
      - Several cameras in one run instead of O(host). Each item takes O(host), O(port),
        O(camera_id), O(username), O(password), O(factory_credentials) and O(encoder) as the
        options of one camera do; O(ntp_servers), O(remove_other_users) and O(timeout) apply
        to all.
    type: list
    elements: dict
    suboptions:
      host:
        description: The camera's address.
        type: str
        required: true
      port:
        description: The camera's ONVIF (HTTP) port.
        type: int
        default: 80
      camera_id:
        description: The camera's id in the inventory. Defaults to its C(host).
        type: str
      username:
        description: The user name of the camera's vault credential.
        type: str
        required: true
      password:
        description: The password of the camera's vault credential.
        type: str
        required: true
      factory_credentials:
        description: As O(factory_credentials), for this camera.
        type: list
        elements: dict
        default: []
      encoder:
        description: As O(encoder), for this camera.
        type: dict
  concurrency:
    description: With O(cameras), how many cameras are configured at the same time.
    type: int
    default: 8
  factory_credentials:
    description:
      - Known factory-default credentials of the camera's vendor, each a dict with
        C(username) and C(password), tried when the vault credential is refused and checked
        again at the end (they must be refused).
    type: list
    elements: dict
    default: []
    suboptions:
      username:
        description: Factory user name.
        type: str
        required: true
      password:
        description: Factory password.
        type: str
        required: true
  remove_other_users:
    description:
      - Delete every user but the vault user. With V(false) only users named in
        O(factory_credentials) are deleted.
    type: bool
    default: true
  ntp_servers:
    description: NTP servers (addresses or names), in order. Empty leaves NTP as it is.
    type: list
    elements: str
    default: []
  encoder:
    description:
      - The main stream's encoder settings. Omitted leaves the encoder as it is.
    type: dict
    suboptions:
      codec:
        description: Video codec.
        type: str
        choices: [h264, h265]
        default: h264
      width:
        description: Width in pixels.
        type: int
        required: true
      height:
        description: Height in pixels.
        type: int
        required: true
      fps:
        description: Frame rate limit.
        type: int
        required: true
      bitrate_kbps:
        description: Bit rate limit in kbit/s.
        type: int
        required: true
  timeout:
    description: Seconds to wait for each answer of the camera.
    type: float
    default: 10
notes:
  - Supports check mode and diff mode.
  - Each run tries every factory credential once at the end; cameras that lock an account
    after failed logins count these attempts, so pass only the vendor's own defaults.
"""

EXAMPLES = r"""
- name: R2 | Configure every camera of the facility over ONVIF, eight at a time
  camops_onvif_camera:
    cameras: >-
      {%- set ns = namespace(cameras=[]) -%}
      {%- for camera in camops_cameras -%}
      {%- set secret = lookup('ansible.builtin.vars', camera.credential) -%}
      {%- set ns.cameras = ns.cameras + [{
        'host': camera.ip, 'port': camera.onvif_port, 'camera_id': camera.id,
        'username': secret.username, 'password': secret.password,
        'factory_credentials': [{'username': 'admin', 'password': '12345'}],
        'encoder': {'codec': camera.codec, 'width': camera.resolution.width,
                    'height': camera.resolution.height, 'fps': camera.fps,
                    'bitrate_kbps': camera.bitrate_kbps}}] -%}
      {%- endfor -%}
      {{ ns.cameras }}
    ntp_servers: ["{{ camops_facility.nvr.ip }}"]
  vars:
    ansible_python_interpreter: /opt/camops/camera-tools/bin/python
  register: onvif
  no_log: true

- name: R2 | Configure one camera over ONVIF
  camops_onvif_camera:
    host: "{{ item.ip }}"
    port: "{{ item.onvif_port }}"
    camera_id: "{{ item.id }}"
    username: "{{ lookup('ansible.builtin.vars', item.credential).username }}"
    password: "{{ lookup('ansible.builtin.vars', item.credential).password }}"
    factory_credentials:
      - { username: admin, password: "12345" }
    ntp_servers: ["{{ camops_facility.nvr.ip }}"]
    encoder:
      codec: "{{ item.codec }}"
      width: "{{ item.resolution.width }}"
      height: "{{ item.resolution.height }}"
      fps: "{{ item.fps }}"
      bitrate_kbps: "{{ item.bitrate_kbps }}"
  loop: "{{ camops_cameras }}"
  vars:
    ansible_python_interpreter: /opt/camops/camera-tools/bin/python
  no_log: true
"""

RETURN = r"""
actions:
  description: What the run did (or would do in check mode), one line each, no secrets.
  returned: always
  type: list
  elements: str
credentials_rotated:
  description:
    - The factory credential was replaced by the vault credential (would be, in check mode).
  returned: always
  type: bool
factory_credentials_accepted:
  description:
    - Whether the camera still accepts a factory credential, checked at the end; false after
      a successful run. Null when the run stopped before the check.
  returned: always
  type: bool
device:
  description: C(manufacturer), C(model), C(firmware), C(serial) as the camera reports them.
  returned: when logged in
  type: dict
clock_skew_s:
  description: The camera's UTC time minus the local time, in seconds (resolution about 0.5 s).
  returned: always
  type: float
encoder:
  description:
    - The main stream's encoder as the camera now has it (C(codec), C(width), C(height),
      C(fps), C(bitrate_kbps)).
  returned: when logged in
  type: dict
ntp:
  description: C(from_dhcp), C(servers) and C(datetime_type) as the camera now has them.
  returned: when logged in
  type: dict
users:
  description: The camera's users after the run, C(username) and C(level) only.
  returned: when logged in
  type: list
  elements: dict
stream_uri:
  description: The main profile's RTSP address as the camera announces it (no credentials).
  returned: when logged in
  type: str
cameras:
  description:
    - With O(cameras), one result per camera in the order given, each with C(camera_id),
      C(failed), C(changed), C(elapsed_s) and the fields above (and C(msg), C(error_kind)
      when it failed). The diff of such a run is keyed by camera id.
  returned: with O(cameras)
  type: list
  elements: dict
failed_cameras:
  description: With O(cameras), the ids of the cameras that failed.
  returned: with O(cameras)
  type: list
  elements: str
error_kind:
  description:
    - On failure, one of C(unreachable), C(credentials), C(ntp), C(encoder_refused), C(error).
  returned: failure
  type: str
"""

import sys  # noqa: E402  # after DOCUMENTATION, as Ansible modules do
import time  # noqa: E402
from typing import Any  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.camops_onvif import (  # noqa: E402
    HAS_ONVIF,
    IMPORT_ERROR,
    CameraError,
    Credential,
    Encoder,
    Run,
    configure,
    configure_all,
)

_CREDENTIAL: dict[str, dict[str, Any]] = {
    "username": {"type": "str", "required": True},
    "password": {"type": "str", "required": True, "no_log": True},
}
_ENCODER: dict[str, dict[str, Any]] = {
    "codec": {"type": "str", "choices": ["h264", "h265"], "default": "h264"},
    "width": {"type": "int", "required": True},
    "height": {"type": "int", "required": True},
    "fps": {"type": "int", "required": True},
    "bitrate_kbps": {"type": "int", "required": True},
}
_FACTORY: dict[str, Any] = {
    "type": "list",
    "elements": "dict",
    "default": [],
    "options": _CREDENTIAL,
}
_CAMERA: dict[str, dict[str, Any]] = {
    "host": {"type": "str", "required": True},
    "port": {"type": "int", "default": 80},
    "camera_id": {"type": "str"},
    "username": {"type": "str", "required": True},
    "password": {"type": "str", "required": True, "no_log": True},
    "factory_credentials": _FACTORY,
    "encoder": {"type": "dict", "options": _ENCODER},
}


def _run(camera: dict[str, Any], params: dict[str, Any], dry_run: bool) -> Run:
    return Run(
        camera_id=camera["camera_id"] or camera["host"],
        host=camera["host"],
        port=camera["port"],
        credential=Credential(camera["username"], camera["password"]),
        factory_credentials=[
            Credential(c["username"], c["password"]) for c in camera["factory_credentials"]
        ],
        ntp_servers=params["ntp_servers"],
        encoder=Encoder(**camera["encoder"]) if camera["encoder"] else None,
        timeout=params["timeout"],
        dry_run=dry_run,
        remove_other_users=params["remove_other_users"],
    )


def _result(run: Run, failure: CameraError | None, elapsed: float) -> dict[str, Any]:
    result: dict[str, Any] = {
        **run.outcome.result(),
        "camera_id": run.camera_id,
        "elapsed_s": round(elapsed, 2),
        "failed": failure is not None,
    }
    if failure is not None:
        result.update(msg=str(failure), error_kind=failure.kind)
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **{key: {**spec, "required": False} for key, spec in _CAMERA.items()},
            "cameras": {"type": "list", "elements": "dict", "options": _CAMERA},
            "concurrency": {"type": "int", "default": 8},
            "remove_other_users": {"type": "bool", "default": True},
            "ntp_servers": {"type": "list", "elements": "str", "default": []},
            "timeout": {"type": "float", "default": 10},
        },
        mutually_exclusive=[("host", "cameras")],
        required_one_of=[("host", "cameras")],
        required_by={"host": ("username", "password")},
        supports_check_mode=True,
    )
    params = module.params
    names = [c["camera_id"] or c["host"] for c in params["cameras"] or [params]]
    if not HAS_ONVIF:
        module.fail_json(
            msg=f"camera(s) {', '.join(names)}: onvif-zeep-async is not installed for "
            f"{sys.executable} ({IMPORT_ERROR}); run the module with the camera role's tools "
            "virtualenv",
            error_kind="error",
        )
    if params["cameras"] is not None:
        _many(module, params)
    else:
        _one(module, params)


def _one(module: AnsibleModule, params: dict[str, Any]) -> None:
    run = _run(params, params, module.check_mode)
    started = time.monotonic()
    failure: CameraError | None = None
    try:
        configure(run)
    except CameraError as error:
        failure = error
    result = _result(run, None, time.monotonic() - started)
    del result["failed"]
    if module._diff:  # Ansible's own flag
        result["diff"] = {"before": run.outcome.before, "after": run.outcome.after}
    for warning in run.outcome.warnings:
        module.warn(f"camera {run.camera_id}: {warning}")
    if failure is not None:
        module.fail_json(msg=str(failure), error_kind=failure.kind, **result)
    module.exit_json(**result)


def _many(module: AnsibleModule, params: dict[str, Any]) -> None:
    runs = [_run(camera, params, module.check_mode) for camera in params["cameras"]]
    ids = [run.camera_id for run in runs]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        module.fail_json(msg=f"cameras: each camera once; given more than once: {', '.join(twice)}")
    started = time.monotonic()
    failures = configure_all(runs, params["concurrency"])
    elapsed = time.monotonic() - started
    cameras = [_result(run, failure, elapsed) for run, failure in zip(runs, failures, strict=True)]
    result: dict[str, Any] = {
        "changed": any(run.outcome.changed for run in runs),
        "cameras": cameras,
        "failed_cameras": [c["camera_id"] for c in cameras if c["failed"]],
        "elapsed_s": round(elapsed, 2),
    }
    if module._diff:
        result["diff"] = {
            "before": {run.camera_id: run.outcome.before for run in runs},
            "after": {run.camera_id: run.outcome.after for run in runs},
        }
    for run in runs:
        for warning in run.outcome.warnings:
            module.warn(f"camera {run.camera_id}: {warning}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
