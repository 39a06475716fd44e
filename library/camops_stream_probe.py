#!/usr/bin/python
"""Ansible module: measure cameras' RTSP streams with ffprobe (read-only)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: camops_stream_probe
short_description: Measure a camera's RTSP stream with ffprobe - codec, resolution, fps, bit rate
description:
  - Reads O(seconds) of the camera's stream with ffprobe and returns its codec and resolution
    and the frame rate and bit rate measured from the packets (R2 connection standard).
  - Optionally checks that credentials that must be gone (factory defaults) are refused by the
    RTSP server (O(check_refused_credentials)).
  - The credentials never appear on a command line (ffprobe reads the address from an
    ffconcat list on its standard input), nor in the result or an error message.
  - Several streams can be probed at once (O(streams)); all ffprobe runs then go together, so
    the module lasts about O(seconds) whatever the number of cameras.
  - The stream is analysed for at most one second before its packets are read (codec and
    resolution come from its parameter sets), so a camera reached between two key frames of
    a long GOP does not cost ffmpeg's default analysis of up to 5 s; a stream whose
    resolution is not known after that second is probed again with the full analysis.
  - Changes nothing; runs the same in check mode.
version_added: "0.1.0"
author: camops maintainers
requirements:
  - ffprobe (Debian package ffmpeg) on the host that runs the module
options:
  url:
    description:
      - The stream's address without credentials, for example V(rtsp://10.79.1.11:554/stream1).
      - One of O(url) and O(streams) is required.
    type: str
  username:
    description: User name for the stream (with O(url)).
    type: str
  password:
    description: Password for the stream (with O(url)).
    type: str
  check_refused_credentials:
    description:
      - Credentials (C(username), C(password)) the RTSP server must refuse, for example the
        vendor's factory defaults (with O(url)).
    type: list
    elements: dict
    default: []
    suboptions:
      username:
        description: User name.
        type: str
        required: true
      password:
        description: Password.
        type: str
        required: true
  streams:
    description:
      - Several streams probed at the same time, each with C(id), C(url), C(username),
        C(password) and optionally C(check_refused_credentials) as above.
    type: list
    elements: dict
    suboptions:
      id:
        description: The camera's id (the key in RV(streams)).
        type: str
        required: true
      url:
        description: The stream's address without credentials.
        type: str
        required: true
      username:
        description: User name.
        type: str
      password:
        description: Password.
        type: str
      check_refused_credentials:
        description: Credentials the server must refuse.
        type: list
        elements: dict
        default: []
        suboptions:
          username:
            description: User name.
            type: str
            required: true
          password:
            description: Password.
            type: str
            required: true
  seconds:
    description: Seconds of packets to read (at least two GOPs give a steady bit rate).
    type: float
    default: 3
  timeout:
    description: Seconds before a stream that does not answer is given up.
    type: float
    default: 20
  transport:
    description: RTSP transport.
    type: str
    choices: [tcp, udp]
    default: tcp
  ffprobe:
    description: The ffprobe program.
    type: str
    default: ffprobe
notes:
  - Supports check mode (it changes nothing).
"""

EXAMPLES = r"""
- name: R2 | Measure the camera's stream
  camops_stream_probe:
    url: rtsp://10.79.1.11:554/stream1
    username: "{{ vault_camera_north_cam01.username }}"
    password: "{{ vault_camera_north_cam01.password }}"
    check_refused_credentials:
      - { username: admin, password: "12345" }
  no_log: true

- name: R2 | Measure every camera of the site at once
  camops_stream_probe:
    streams: "{{ camera_probe_streams }}"
    seconds: 3
  no_log: true
"""

RETURN = r"""
codec:
  description: The video codec (ffprobe's name, for example C(h264)). With O(url).
  returned: success with O(url)
  type: str
width:
  description: Width in pixels.
  returned: success with O(url)
  type: int
height:
  description: Height in pixels.
  returned: success with O(url)
  type: int
fps:
  description: Frames per second measured from the packets' presentation times.
  returned: success with O(url)
  type: float
announced_fps:
  description: The frame rate the stream announces.
  returned: success with O(url)
  type: float
bitrate_kbps:
  description: Bit rate measured from the packets, over whole GOPs when two key frames were read.
  returned: success with O(url)
  type: int
packets:
  description: Video packets read.
  returned: success with O(url)
  type: int
measured_s:
  description: Seconds of presentation time the packets span.
  returned: success with O(url)
  type: float
refused_credentials_accepted:
  description: User names of O(check_refused_credentials) the server let in (must be empty).
  returned: success with O(url)
  type: list
  elements: str
refused_credentials_unverified:
  description: User names whose refusal could not be seen (neither refused nor let in).
  returned: success with O(url)
  type: list
  elements: str
streams:
  description:
    - With O(streams), per camera id the fields above, or C(error) and C(error_kind)
      (C(unreachable), C(credentials), C(error)) for a stream that could not be measured.
  returned: with O(streams)
  type: dict
error_kind:
  description: With O(url), on failure, C(unreachable), C(credentials) or C(error).
  returned: failure
  type: str
"""

import shutil  # noqa: E402  # after DOCUMENTATION, as Ansible modules do
from typing import Any  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.camops_stream import (  # noqa: E402
    Credential,
    Pending,
    Probe,
    ProbeError,
)

CREDENTIALS = {
    "type": "list",
    "elements": "dict",
    "default": [],
    "options": {
        "username": {"type": "str", "required": True},
        "password": {"type": "str", "required": True, "no_log": True},
    },
}


def _figures(pending: Pending) -> dict[str, Any]:
    outcome = pending.collect()
    return {
        **outcome.figures,
        "refused_credentials_accepted": outcome.accepted,
        "refused_credentials_unverified": outcome.unverified,
    }


def _start(module: AnsibleModule, stream: dict[str, Any]) -> Pending:
    url = stream["url"]
    if "@" in url.split("//", 1)[-1].split("/", 1)[0]:
        module.fail_json(msg="give the stream address without credentials (username, password)")
    probe = Probe(
        url=url,
        transport=module.params["transport"],
        seconds=module.params["seconds"],
        timeout=module.params["timeout"],
        ffprobe=module.params["ffprobe"],
    )
    return probe.begin(
        Credential(stream.get("username") or "", stream.get("password") or ""),
        [Credential(c["username"], c["password"]) for c in stream["check_refused_credentials"]],
    )


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "url": {"type": "str"},
            "username": {"type": "str"},
            "password": {"type": "str", "no_log": True},
            "check_refused_credentials": CREDENTIALS,
            "streams": {
                "type": "list",
                "elements": "dict",
                "options": {
                    "id": {"type": "str", "required": True},
                    "url": {"type": "str", "required": True},
                    "username": {"type": "str"},
                    "password": {"type": "str", "no_log": True},
                    "check_refused_credentials": CREDENTIALS,
                },
            },
            "seconds": {"type": "float", "default": 3},
            "timeout": {"type": "float", "default": 20},
            "transport": {"type": "str", "choices": ["tcp", "udp"], "default": "tcp"},
            "ffprobe": {"type": "str", "default": "ffprobe"},
        },
        required_one_of=[("url", "streams")],
        mutually_exclusive=[("url", "streams")],
        supports_check_mode=True,
    )
    params = module.params
    if shutil.which(params["ffprobe"]) is None:
        module.fail_json(msg=f"{params['ffprobe']} not found: install ffmpeg", error_kind="error")
    if params["url"]:
        try:
            result = _figures(_start(module, params))
        except ProbeError as error:
            module.fail_json(msg=str(error), error_kind=error.kind)
        module.exit_json(changed=False, **result)
    pending = {stream["id"]: _start(module, stream) for stream in params["streams"]}
    streams: dict[str, Any] = {}
    for camera_id, running in pending.items():
        try:
            streams[camera_id] = _figures(running)
        except ProbeError as error:
            streams[camera_id] = {"error": str(error), "error_kind": error.kind}
    module.exit_json(changed=False, streams=streams)


if __name__ == "__main__":
    main()
