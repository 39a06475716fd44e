"""Storage, bandwidth and recorder sizing from the model (R4: at least 30 days, with headroom).

Units are decimal: 1 GB = 10^9 bytes, 1 Mbit/s = 10^6 bit/s, as disk and link vendors count.
A camera at ``b`` kbit/s for ``d`` days needs ``b * 1000 / 8 * 86400 * d`` bytes, times
``1 + headroom``. Facilities that are active or on standby count (a standby facility can be
re-activated at any time, so its capacity stays reserved); handed-over and removed ones do not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from infra.model import Camera, Facility, FacilityStatus, Inventory, Sizing

SECONDS_PER_DAY = 86_400
BYTES_PER_GB = 1_000_000_000

SIZED_STATUSES = frozenset({FacilityStatus.ACTIVE, FacilityStatus.STANDBY})


def bytes_per_day(bitrate_kbps: float) -> float:
    return bitrate_kbps * 1000 / 8 * SECONDS_PER_DAY


def storage_gb(bitrate_kbps: float, days: int, headroom: float) -> float:
    """Storage for ``days`` of a constant bit rate stream, with headroom, in GB."""
    return bytes_per_day(bitrate_kbps) * days * (1 + headroom) / BYTES_PER_GB


@dataclass(frozen=True)
class CameraSize:
    camera_id: str
    bitrate_kbps: int
    retention_days: int
    gb_per_day: float
    storage_gb: float


@dataclass
class FacilitySize:
    facility_id: str
    district: str
    status: str
    cameras: list[CameraSize] = field(default_factory=list)
    ingest_mbps: float = 0.0
    uplink_mbps: float = 0.0
    storage_gb: float = 0.0
    nvr_storage_gb: int | None = None
    uplink_available_mbps: float | None = None


@dataclass
class DistrictSize:
    district: str
    name: str
    facilities: int = 0
    cameras: int = 0
    ingest_mbps: float = 0.0
    storage_gb: float = 0.0


@dataclass
class CentralSize:
    facilities: int
    cameras: int
    ingest_mbps: float
    storage_gb: float
    recorder_nodes: int
    node_capacity_mbps: float
    headroom: float


@dataclass
class SizingReport:
    inventory: str
    facilities: list[FacilitySize]
    districts: list[DistrictSize]
    central: CentralSize

    def as_dict(self) -> dict[str, object]:
        from dataclasses import asdict  # noqa: PLC0415  # only the JSON output needs it

        return asdict(self)


def camera_size(
    inventory: Inventory, facility: Facility, camera: Camera, sizing: Sizing
) -> CameraSize:
    days = inventory.retention_days(facility, camera)
    return CameraSize(
        camera_id=camera.id,
        bitrate_kbps=camera.bitrate_kbps,
        retention_days=days,
        gb_per_day=bytes_per_day(camera.bitrate_kbps) / BYTES_PER_GB,
        storage_gb=storage_gb(camera.bitrate_kbps, days, sizing.headroom),
    )


def facility_size(inventory: Inventory, facility: Facility, sizing: Sizing) -> FacilitySize:
    result = FacilitySize(
        facility_id=facility.id,
        district=facility.district,
        status=facility.status.value,
        nvr_storage_gb=facility.nvr.storage_gb,
        uplink_available_mbps=facility.uplink_mbps,
    )
    for camera in facility.cameras:
        size = camera_size(inventory, facility, camera, sizing)
        result.cameras.append(size)
        result.ingest_mbps += camera.bitrate_kbps / 1000
        result.storage_gb += size.storage_gb
    result.uplink_mbps = result.ingest_mbps * (1 + sizing.uplink_overhead)
    return result


def recorder_nodes(ingest_mbps: float, sizing: Sizing) -> int:
    return max(
        sizing.recorder_min_nodes, math.ceil(ingest_mbps / sizing.recorder_node_capacity_mbps)
    )


def size(inventory: Inventory, sizing: Sizing | None = None) -> SizingReport:
    """Size every facility, district and the central site of an inventory."""
    sizing = sizing or inventory.province.sizing
    facilities = [facility_size(inventory, facility, sizing) for facility in inventory.facilities]
    districts = {
        district.id: DistrictSize(district=district.id, name=district.name)
        for district in inventory.province.districts
    }
    counted = [item for item in facilities if FacilityStatus(item.status) in SIZED_STATUSES]
    for item in counted:
        district = districts.setdefault(item.district, DistrictSize(item.district, item.district))
        district.facilities += 1
        district.cameras += len(item.cameras)
        district.ingest_mbps += item.ingest_mbps
        district.storage_gb += item.storage_gb
    ingest = sum(item.ingest_mbps for item in counted)
    central = CentralSize(
        facilities=len(counted),
        cameras=sum(len(item.cameras) for item in counted),
        ingest_mbps=ingest,
        storage_gb=sum(item.storage_gb for item in counted),
        recorder_nodes=recorder_nodes(ingest, sizing),
        node_capacity_mbps=sizing.recorder_node_capacity_mbps,
        headroom=sizing.headroom,
    )
    return SizingReport(
        inventory=inventory.name,
        facilities=facilities,
        districts=list(districts.values()),
        central=central,
    )
