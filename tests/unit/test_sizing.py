"""Sizing against figures computed by hand."""

from __future__ import annotations

import math

import pytest

from infra import sizing
from infra.loader import load
from infra.model import Sizing
from tests.helpers import INVENTORIES, InventoryCopy


def test_storage_for_one_camera_by_hand() -> None:
    # 4096 kbit/s = 512,000 B/s; x 86,400 s = 44.2368 GB/day; x 30 d = 1,327.104 GB; x 1.2
    assert sizing.storage_gb(4096, 30, 0.2) == pytest.approx(1592.5248)
    assert sizing.storage_gb(2000, 30, 0.0) == pytest.approx(648.0)  # REQUIREMENTS: ~650 GB
    assert sizing.storage_gb(4000, 30, 0.0) == pytest.approx(1296.0)  # and ~1.3 TB


def test_lab_facility_figures() -> None:
    result = load(INVENTORIES / "lab")
    assert result.inventory is not None
    report = sizing.size(result.inventory)
    north = next(f for f in report.facilities if f.facility_id == "lab_north_school")
    # 3 cameras x 512 kbit/s x 86,400 s / 8 x 30 d x 1.2 = 3 x 199.0656 GB
    assert north.storage_gb == pytest.approx(597.1968)
    assert north.ingest_mbps == pytest.approx(1.536)
    assert north.uplink_mbps == pytest.approx(1.536 * 1.15)
    assert [c.gb_per_day for c in north.cameras] == pytest.approx([5.5296] * 3)
    central = report.central
    assert central.cameras == 7  # south_cam04 too: storage is planned for every camera
    assert central.storage_gb == pytest.approx(7 * 199.0656)
    assert central.recorder_nodes == 1  # lab: min 1 node, 3.07 Mbit/s << 400


def test_headroom_and_node_capacity_are_configurable() -> None:
    result = load(INVENTORIES / "lab")
    assert result.inventory is not None
    factors = Sizing(headroom=0.5, recorder_node_capacity_mbps=1.0, recorder_min_nodes=1)
    report = sizing.size(result.inventory, factors)
    assert report.central.storage_gb == pytest.approx(7 * 199.0656 / 1.2 * 1.5)
    assert report.central.recorder_nodes == math.ceil(7 * 0.512 / 1.0) == 4


def test_retention_override_extends_storage(lab: InventoryCopy) -> None:
    lab.camera("lab_north_school", 0, lambda cam: cam.update(retention_days=90))
    result = load(lab.path)
    assert result.inventory is not None
    report = sizing.size(result.inventory)
    cam = report.facilities[0].cameras[0]
    assert (cam.camera_id, cam.retention_days) == ("north_cam01", 90)
    assert cam.storage_gb == pytest.approx(199.0656 * 3)


def test_only_active_and_standby_facilities_count_centrally() -> None:
    result = load(INVENTORIES / "dong_thap")
    assert result.inventory is not None
    report = sizing.size(result.inventory)
    counted = [f for f in report.facilities if f.status in {"active", "standby"}]
    assert report.central.facilities == len(counted) == 6
    assert report.central.storage_gb == pytest.approx(sum(f.storage_gb for f in counted))
    by_district = {d.district: d for d in report.districts}
    assert by_district["h_lai_vung"].cameras == 0  # handed over
    assert by_district["h_thap_muoi"].cameras == 5  # standby keeps its reservation


def test_more_cameras_need_more_recorders() -> None:
    factors = Sizing(recorder_node_capacity_mbps=100, recorder_min_nodes=2)
    assert sizing.recorder_nodes(50, factors) == 2
    assert sizing.recorder_nodes(201, factors) == 3
