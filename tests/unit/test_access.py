"""R7 access matrix: provincial roles see all, district leaders their district's facilities."""

from __future__ import annotations

import csv
import io

from infra import access
from infra.loader import load
from infra.model import Inventory
from tests.helpers import INVENTORIES, ROOT, InventoryCopy


def _inventory(path: object) -> Inventory:
    result = load(str(path))
    assert result.inventory is not None
    return result.inventory


def _visible(inventory: Inventory, email: str) -> set[str]:
    account = next(a for a in inventory.accounts if a.email == email)
    return {f.id for f in access.visible_facilities(inventory, account)}


def test_lab_matrix() -> None:
    inv = _inventory(INVENTORIES / "lab")
    assert _visible(inv, "nvthu@lab.gov.vn") == {"lab_north_school", "lab_south_barracks"}
    assert _visible(inv, "ttbac@bac.lab.gov.vn") == {"lab_north_school"}
    assert _visible(inv, "lvvan@stttt.lab.gov.vn") == set()  # ops: no video
    assert _visible(inv, "ptkiem@stttt.lab.gov.vn") == set()  # auditor: no video


def test_military_facility_is_hidden_from_the_district_it_stands_in(lab: InventoryCopy) -> None:
    lab.account(1, lambda a: a.update(scope="district:lab_south"))
    inv = _inventory(lab.path)
    assert _visible(inv, "ttbac@bac.lab.gov.vn") == set()
    assert "lab_south_barracks" in _visible(inv, "nvthu@lab.gov.vn")


def test_district_run_facility_becomes_visible_to_its_district(lab: InventoryCopy) -> None:
    lab.facility("lab_south_barracks", lambda f: f.update(operator="district"))
    lab.account(1, lambda a: a.update(scope="district:lab_south"))
    assert _visible(_inventory(lab.path), "ttbac@bac.lab.gov.vn") == {"lab_south_barracks"}


def test_standby_facility_and_disabled_account_grant_nothing(lab: InventoryCopy) -> None:
    lab.facility("lab_north_school", lambda f: f.update(status="standby", status_ref="QĐ 1"))
    lab.account(0, lambda a: a.update(enabled=False))
    inv = _inventory(lab.path)
    assert _visible(inv, "ttbac@bac.lab.gov.vn") == set()
    assert _visible(inv, "nvthu@lab.gov.vn") == set()


def test_dong_thap_matrix() -> None:
    inv = _inventory(INVENTORIES / "dong_thap")
    active = {f.id for f in inv.facilities if f.status == "active"}
    assert _visible(inv, "hvphuoc@bchqs.dongthap.gov.vn") == active
    assert _visible(inv, "cvloc@tpcaolanh.dongthap.gov.vn") == {"dt_caolanh_city_ktx"}
    assert _visible(inv, "dvhau@thapmuoi.dongthap.gov.vn") == set()  # facility on standby
    military = {f.id for f in inv.facilities if f.operator == "military_command"}
    district_accounts = [a for a in inv.accounts if a.role == "district_leader"]
    for account in district_accounts:
        assert not military & {f.id for f in access.visible_facilities(inv, account)}


def test_csv_has_a_row_per_visible_camera() -> None:
    inv = _inventory(INVENTORIES / "lab")
    rows = list(csv.DictReader(io.StringIO(access.to_csv(inv))))
    provincial = [r for r in rows if r["email"] == "nvthu@lab.gov.vn"]
    assert len(provincial) == 7
    district = [r for r in rows if r["email"] == "ttbac@bac.lab.gov.vn"]
    assert {r["camera_id"] for r in district} == {"north_cam01", "north_cam02", "north_cam03"}
    ops = [r for r in rows if r["role"] == "ops_engineer"]
    assert len(ops) == 1
    assert ops[0]["facility_id"] == ""


def test_committed_access_matrices_are_current() -> None:
    for name in ("lab", "dong_thap"):
        expected = access.to_markdown(_inventory(INVENTORIES / name))
        committed = (ROOT / "docs" / f"access-matrix-{name}.md").read_text(encoding="utf-8")
        assert committed == expected, f"run: make access-matrix (docs/access-matrix-{name}.md)"
