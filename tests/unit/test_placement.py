"""Placement of cameras on central recorder nodes."""

from __future__ import annotations

import json

from infra.ansible_inventory import build
from infra.loader import load
from infra.model import FacilityStatus
from infra.placement import recorder_jobs
from tests.helpers import INVENTORIES, InventoryCopy, in_fresh_interpreters

#: The placement of an inventory, printed by another process.
PLACEMENT = """
import json
from infra.loader import load
from infra.placement import recorder_jobs
jobs = recorder_jobs(load({path!r}).inventory)
print(json.dumps([[n.hostname, [c.id for _f, c in n.cameras]] for n in jobs]))
"""


def test_every_active_camera_is_recorded_once_and_the_load_is_even() -> None:
    result = load(INVENTORIES / "dong_thap")
    assert result.inventory is not None
    inventory = result.inventory
    jobs = recorder_jobs(inventory)
    assert [node.hostname for node in jobs] == ["dt-recorder-1", "dt-recorder-2"]
    placed = [(f, c.id) for node in jobs for f, c in node.cameras]
    active = [
        (facility.id, camera.id)
        for facility in inventory.facilities
        if facility.status is FacilityStatus.ACTIVE
        for camera in facility.cameras
    ]
    assert sorted(placed) == sorted(active)
    assert len(set(placed)) == len(placed)
    # Greedy largest-first: the nodes differ by at most the largest camera's bit rate.
    largest = max(c.bitrate_kbps for node in jobs for _f, c in node.cameras)
    assert abs(jobs[0].ingest_kbps - jobs[1].ingest_kbps) <= largest
    # Standby and handed-over facilities are not recorded centrally.
    idle = {f.id for f in inventory.facilities if f.status is not FacilityStatus.ACTIVE}
    assert idle
    assert not {f for f, _c in placed} & idle


def test_placement_is_stable_and_reaches_the_ansible_inventory(lab: InventoryCopy) -> None:
    result = load(lab.path)
    assert result.inventory is not None
    here = [[n.hostname, [c.id for _f, c in n.cameras]] for n in recorder_jobs(result.inventory)]
    # The same inventory gives the same jobs in every process (hash seeds differ between them).
    elsewhere = in_fresh_interpreters(PLACEMENT.format(path=str(lab.path)))
    assert [json.loads(out) for out in elsewhere] == [here] * len(elsewhere)
    spec = build(result.inventory, str(lab.path))
    cameras = spec.hostvars["central-1"]["camops_recorder_cameras"]
    assert [c["id"] for c in cameras] == [
        "north_cam01",
        "north_cam02",
        "north_cam03",
        "south_cam01",
        "south_cam02",
        "south_cam03",
        "south_cam04",
    ]
    assert cameras[0]["facility"] == "lab_north_school"
    assert cameras[0]["credential"] == "vault_camera_north_cam01"

    lab.facility(
        "lab_south_barracks", lambda f: f.update(status="standby", status_ref="QĐ 1/QĐ-UBND")
    )
    result = load(lab.path)
    assert result.inventory is not None
    (node,) = recorder_jobs(result.inventory)
    assert {f for f, _c in node.cameras} == {"lab_north_school"}
