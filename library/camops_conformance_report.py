#!/usr/bin/python
"""Ansible module: the R2 conformance report of a facility's cameras (runs on the controller)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: camops_conformance_report
short_description: Write the facility's camera conformance report (R2) and say which cameras conform
description:
  - From the model's cameras and the results of M(camops_onvif_camera) and
    M(camops_stream_probe), a verdict per camera with its reasons (unreachable, credentials
    not rotated, encoder settings refused, wrong codec, below resolution, wrong or low frame
    rate, bit rate far off, clock skew, factory password still accepted on ONVIF or RTSP).
  - Writes the report as JSON and as text (Vietnamese for officials, with English) and returns
    the conforming camera ids and a short summary for the play's output.
  - The files are the report of this run and are rewritten every run (not in check mode);
    C(changed) says whether a verdict or a reason differs from the previous report.
  - Runs on the controller (delegated to localhost) with the camops virtualenv's Python.
version_added: "0.1.0"
author: camops maintainers
options:
  facility_id:
    description: The facility's id.
    type: str
    required: true
  facility_name:
    description: The facility's name, for the report's heading.
    type: str
    default: ""
  cameras:
    description: The facility's cameras as in the model (C(camops_cameras)).
    type: list
    elements: dict
    required: true
  onvif_results:
    description:
      - Results of M(camops_onvif_camera), one per camera, each with C(camera_id) or the loop's
        C(item.id) (its RV(camops_onvif_camera#module:cameras) of a facility run, or a
        registered loop's C(results), as they are). Only the fields the report
        reads are kept.
    type: list
    elements: dict
    default: []
  probe_results:
    description: Results of M(camops_stream_probe) per camera id (its RV(streams) return).
    type: dict
    default: {}
  json_path:
    description: Where the JSON report goes (on the controller).
    type: path
    required: true
  text_path:
    description: Where the text report goes (on the controller).
    type: path
    required: true
  thresholds:
    description: Limits of conformance.
    type: dict
    default: {}
    suboptions:
      max_clock_skew_s:
        description: Largest clock skew in seconds.
        type: float
        default: 2.0
      bitrate_tolerance:
        description: Largest relative difference of the measured bit rate from the model's.
        type: float
        default: 0.5
      fps_tolerance:
        description: Largest relative difference of the measured frame rate from the model's.
        type: float
        default: 0.1
notes:
  - Supports check mode (nothing is written) and diff mode (the verdicts before and after).
"""

EXAMPLES = r"""
- name: R2 | Conformance report of the facility's cameras
  camops_conformance_report:
    facility_id: "{{ camops_facility.id }}"
    facility_name: "{{ camops_facility.name }}"
    cameras: "{{ camops_cameras }}"
    onvif_results: "{{ camera_onvif.cameras }}"
    probe_results: "{{ camera_probe.streams }}"
    json_path: "{{ playbook_dir }}/../reports/conformance/{{ camops_facility.id }}.json"
    text_path: "{{ playbook_dir }}/../reports/conformance/{{ camops_facility.id }}.txt"
  delegate_to: localhost
"""

RETURN = r"""
conforming:
  description: Ids of the cameras that meet the connection standard.
  returned: always
  type: list
  elements: str
non_conforming:
  description: Per camera that does not conform, its reason codes.
  returned: always
  type: dict
summary:
  description: A few lines (Vietnamese and English) for the play's output.
  returned: always
  type: list
  elements: str
report:
  description: The report as written to O(json_path).
  returned: always
  type: dict
"""

import json  # noqa: E402  # after DOCUMENTATION, as Ansible modules do
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible.module_utils.camops_infra import missing  # noqa: E402

try:
    from infra import conformance

    INFRA_ERROR = ""
except ImportError as error:  # see module_utils/camops_infra.py
    INFRA_ERROR = missing(error)


def _camera_id(result: dict[str, Any]) -> str:
    item = result.get("item")
    if result.get("camera_id"):
        return str(result["camera_id"])
    if isinstance(item, dict) and item.get("id"):
        return str(item["id"])
    return ""


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "facility_id": {"type": "str", "required": True},
            "facility_name": {"type": "str", "default": ""},
            "cameras": {"type": "list", "elements": "dict", "required": True},
            "onvif_results": {"type": "list", "elements": "dict", "default": []},
            "probe_results": {"type": "dict", "default": {}},
            "json_path": {"type": "path", "required": True},
            "text_path": {"type": "path", "required": True},
            "thresholds": {
                "type": "dict",
                "default": {},
                "options": {
                    "max_clock_skew_s": {"type": "float", "default": 2.0},
                    "bitrate_tolerance": {"type": "float", "default": 0.5},
                    "fps_tolerance": {"type": "float", "default": 0.1},
                },
            },
        },
        supports_check_mode=True,
    )
    if INFRA_ERROR:
        module.fail_json(msg=INFRA_ERROR)
    params = module.params
    onvif = {
        _camera_id(result): conformance.pick(result, conformance.ONVIF_FIELDS)
        for result in params["onvif_results"]
        if _camera_id(result)
    }
    probes = {
        str(key): conformance.pick(value, conformance.PROBE_FIELDS)
        for key, value in params["probe_results"].items()
        if isinstance(value, dict)
    }
    try:
        report = conformance.evaluate(
            params["facility_id"],
            params["cameras"],
            onvif,
            probes,
            facility_name=params["facility_name"],
            thresholds=conformance.Thresholds(**(params["thresholds"] or {})),
            check_mode=module.check_mode,
        )
    except ValueError as error:  # a camera that is not a model camera, a bad threshold
        module.fail_json(msg=f"facility {params['facility_id']}: {error}")
    json_path, text_path = Path(params["json_path"]), Path(params["text_path"])
    before = conformance.previous_outcome(json_path)
    after = report.outcome()
    if not module.check_mode:
        conformance.write(report, json_path, text_path, params["cameras"])
    result: dict[str, Any] = {
        "changed": before != after,
        "conforming": report.conforming,
        "non_conforming": {camera: codes for camera, codes in after.items() if codes},
        "summary": conformance.summary(report),
        "report": json.loads(conformance.render_json(report)),
        "json_path": str(json_path),
        "text_path": str(text_path),
    }
    if module._diff:  # Ansible's own flag
        result["diff"] = {"before": before or {}, "after": after}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
