"""Which central recorder records which camera (capacity-aware, stable placement).

Every camera of an active facility is recorded centrally once. Cameras go to the recorder
nodes (central hosts with the ``recorder`` role) by bit rate, largest first, each to the least
loaded node, so the ingest spreads evenly and the same inventory always gives the same jobs.
Facilities on standby, handed over or removed are not recorded centrally (R13).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from infra.model import Camera, CentralRole, FacilityStatus, Inventory


@dataclass
class RecorderJobs:
    """One recorder node and the cameras it records."""

    hostname: str
    cameras: list[tuple[str, Camera]] = field(default_factory=list)  # (facility id, camera)

    @property
    def ingest_kbps(self) -> int:
        return sum(camera.bitrate_kbps for _facility, camera in self.cameras)


def recorder_jobs(inventory: Inventory) -> list[RecorderJobs]:
    """The cameras of every central recorder node (in the inventory's host order)."""
    nodes = [
        RecorderJobs(host.hostname)
        for host in inventory.province.central.hosts
        if CentralRole.RECORDER in host.roles
    ]
    if not nodes:
        return []
    cameras = [
        (facility.id, camera)
        for facility in inventory.facilities
        if facility.status is FacilityStatus.ACTIVE
        for camera in facility.cameras
    ]
    cameras.sort(key=lambda item: (-item[1].bitrate_kbps, item[0], item[1].id))
    for facility_id, camera in cameras:
        node = min(nodes, key=lambda n: (n.ingest_kbps, nodes.index(n)))
        node.cameras.append((facility_id, camera))
    for node in nodes:
        node.cameras.sort(key=lambda item: (item[0], item[1].id))
    return nodes
