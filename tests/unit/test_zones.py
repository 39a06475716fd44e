"""R1: camera zones, in English and Vietnamese, with and without diacritics."""

from __future__ import annotations

import pytest

from infra.zones import Forbidden, Zone, classify, fold, forbidden_place


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("gate", Zone.GATE),
        ("Cổng ra vào", Zone.GATE),
        ("cong ra vao", Zone.GATE),
        ("Hành lang", Zone.CORRIDOR),
        ("hành lang bên ngoài cửa phòng", Zone.CORRIDOR),
        ("Sảnh chờ các tầng", Zone.FLOOR_LOBBY),
        ("Khu vực lấy mẫu xét nghiệm", Zone.SAMPLE_TAKING),
        ("Tiếp đón", Zone.RECEPTION),
        ("Khám sức khỏe", Zone.MEDICAL_CHECK),
        ("Tiếp nhận thực phẩm, đồ dùng", Zone.SUPPLY_RECEIPT),
        ("Phía ngoài khu vực nhà tắm, nhà vệ sinh chung", Zone.OUTSIDE_SHARED_BATHROOM),
        ("outside_shared_bathroom", Zone.OUTSIDE_SHARED_BATHROOM),
        ("Outside shared toilet", Zone.OUTSIDE_SHARED_BATHROOM),
        ("SÂN", Zone.YARD),
        ("other_public", Zone.OTHER_PUBLIC),
    ],
)
def test_allowed_zones_resolve(text: str, zone: Zone) -> None:
    verdict = classify(text)
    assert verdict.zone is zone
    assert verdict.forbidden is None


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("nhà vệ sinh", Forbidden.TOILET),
        ("Nhà vệ sinh tầng 2", Forbidden.TOILET),
        ("nha ve sinh", Forbidden.TOILET),
        ("NHÀ TẮM", Forbidden.BATHROOM),
        ("phòng tắm chung", Forbidden.BATHROOM),
        ("trong phòng cách ly", Forbidden.ROOM),
        ("Phòng 201", Forbidden.ROOM),
        ("phong 12a", Forbidden.ROOM),
        ("buồng cách ly", Forbidden.ROOM),
        ("toilet", Forbidden.TOILET),
        ("WC nam", Forbidden.TOILET),
        ("bathroom", Forbidden.BATHROOM),
        ("in_room", Forbidden.ROOM),
        ("inside room 12", Forbidden.ROOM),
        ("bedroom", Forbidden.ROOM),
    ],
)
def test_forbidden_places_are_recognised(text: str, kind: Forbidden) -> None:
    verdict = classify(text)
    assert verdict.zone is None
    assert verdict.forbidden is kind


@pytest.mark.parametrize(
    "text",
    [
        "Bên ngoài nhà vệ sinh chung dãy B",
        "Hành lang trước cửa phòng 201",
        "corridor outside room 12",
        "Phòng khám tầng 1",
        "Khu lấy mẫu",
        "",
    ],
)
def test_outside_or_public_locations_are_not_forbidden(text: str) -> None:
    assert forbidden_place(text) is None


def test_unknown_zone_is_neither_allowed_nor_forbidden() -> None:
    verdict = classify("mái nhà")
    assert verdict.zone is None
    assert verdict.forbidden is None


def test_fold_strips_vietnamese_diacritics() -> None:
    assert fold("Đường Nhà Vệ Sinh — Tầng 2") == "duong nha ve sinh tang 2"
