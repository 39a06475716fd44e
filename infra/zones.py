"""Camera zones of directive §II.1 (requirement R1).

Cameras may cover public areas only. A zone is written in the inventory either as its key
(``gate``) or as a Vietnamese or English label (``Cổng ra vào``, ``cong ra vao``, ``Gate``);
labels are matched without regard to case or diacritics. Anything that names a place inside a
room, a toilet or a bathroom is forbidden, in either language.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class Zone(StrEnum):
    """Public areas a camera may cover (directive §II.1)."""

    CORRIDOR = "corridor"
    FLOOR_LOBBY = "floor_lobby"
    YARD = "yard"
    SAMPLE_TAKING = "sample_taking"
    RECEPTION = "reception"
    MEDICAL_CHECK = "medical_check"
    SUPPLY_RECEIPT = "supply_receipt"
    OUTSIDE_SHARED_BATHROOM = "outside_shared_bathroom"
    GATE = "gate"
    OTHER_PUBLIC = "other_public"


#: Zones every facility should cover; missing ones are reported as warnings.
REQUIRED_ZONES: tuple[Zone, ...] = (
    Zone.GATE,
    Zone.RECEPTION,
    Zone.CORRIDOR,
    Zone.SAMPLE_TAKING,
    Zone.SUPPLY_RECEIPT,
)

#: Vietnamese labels of the zones, as the directive words them (used in reports).
ZONE_LABELS_VI: dict[Zone, str] = {
    Zone.CORRIDOR: "Hành lang bên ngoài cửa phòng cách ly",
    Zone.FLOOR_LOBBY: "Sảnh chờ các tầng",
    Zone.YARD: "Khu vực sân",
    Zone.SAMPLE_TAKING: "Khu vực lấy mẫu xét nghiệm",
    Zone.RECEPTION: "Khu vực tiếp đón",
    Zone.MEDICAL_CHECK: "Khu vực kiểm tra y tế",
    Zone.SUPPLY_RECEIPT: "Khu vực tiếp nhận thực phẩm, đồ dùng",
    Zone.OUTSIDE_SHARED_BATHROOM: "Phía ngoài khu vực nhà tắm, nhà vệ sinh chung",
    Zone.GATE: "Cổng ra vào",
    Zone.OTHER_PUBLIC: "Khu vực công cộng khác",
}

ZONE_LABELS_EN: dict[Zone, str] = {
    Zone.CORRIDOR: "Corridor outside the quarantine room doors",
    Zone.FLOOR_LOBBY: "Floor lobby",
    Zone.YARD: "Yard",
    Zone.SAMPLE_TAKING: "Sample-taking area",
    Zone.RECEPTION: "Reception",
    Zone.MEDICAL_CHECK: "Medical check",
    Zone.SUPPLY_RECEIPT: "Food and supply receipt",
    Zone.OUTSIDE_SHARED_BATHROOM: "Outside the shared bathrooms and toilets",
    Zone.GATE: "Facility gate",
    Zone.OTHER_PUBLIC: "Other public area",
}

# Labels accepted for each zone, written without diacritics (they are compared folded).
_ALIASES: dict[Zone, tuple[str, ...]] = {
    Zone.CORRIDOR: (
        "hanh lang",
        "hanh lang ben ngoai cua phong",
        "hanh lang ben ngoai cua phong cach ly",
        "hanh lang truoc cua phong",
        "corridor",
        "corridor outside rooms",
        "corridor outside the rooms",
        "corridor outside room doors",
        "corridor outside the quarantine room doors",
        "hallway",
    ),
    Zone.FLOOR_LOBBY: ("sanh tang", "sanh cho", "sanh cho cac tang", "floor lobby", "lobby"),
    Zone.YARD: ("san", "khu vuc san", "yard", "courtyard"),
    Zone.SAMPLE_TAKING: (
        "lay mau",
        "khu vuc lay mau",
        "khu vuc lay mau xet nghiem",
        "lay mau xet nghiem",
        "sample taking",
        "sampling",
        "sample-taking area",
        "sample taking area",
    ),
    Zone.RECEPTION: ("tiep don", "khu vuc tiep don", "tiep nhan nguoi cach ly", "reception"),
    Zone.MEDICAL_CHECK: (
        "kiem tra y te",
        "khu vuc kiem tra y te",
        "kham suc khoe",
        "medical check",
        "medical check area",
        "health check",
    ),
    Zone.SUPPLY_RECEIPT: (
        "tiep nhan thuc pham",
        "tiep nhan thuc pham do dung",
        "khu vuc tiep nhan thuc pham do dung",
        "nhan hang tiep te",
        "tiep te",
        "supply receipt",
        "food receipt",
        "food and supply receipt",
        "supply and food receipt",
    ),
    Zone.OUTSIDE_SHARED_BATHROOM: (
        "ben ngoai nha ve sinh chung",
        "ben ngoai nha tam nha ve sinh chung",
        "phia ngoai khu vuc nha tam nha ve sinh chung",
        "phia ngoai nha ve sinh chung",
        "ngoai nha ve sinh chung",
        "outside shared bathroom",
        "outside shared toilet",
        "outside the shared bathrooms and toilets",
        "outside shared bathroom toilet",
    ),
    Zone.GATE: ("cong", "cong ra vao", "cong chinh", "gate", "main gate", "facility gate"),
    Zone.OTHER_PUBLIC: (
        "khu vuc cong cong khac",
        "khu vuc cong cong",
        "other public area",
        "public area",
    ),
}


class Forbidden(StrEnum):
    """Kinds of place where R1 forbids a camera."""

    ROOM = "room"
    TOILET = "toilet"
    BATHROOM = "bathroom"


# Phrases (folded) that name a forbidden place. Word-bounded when matched.
_FORBIDDEN_PHRASES: dict[Forbidden, tuple[str, ...]] = {
    Forbidden.ROOM: (
        "trong phong",
        "ben trong phong",
        "phong cach ly",
        "phong o",
        "phong ngu",
        "buong",
        "buong cach ly",
        "inside room",
        "inside the room",
        "in room",
        "in the room",
        "bedroom",
        "quarantine room",
        "guest room",
        "dormitory room",
        "ward room",
        "in_room",
        "inside_room",
    ),
    Forbidden.TOILET: (
        "nha ve sinh",
        "phong ve sinh",
        "khu ve sinh",
        "ve sinh",
        "toilet",
        "toilets",
        "wc",
        "restroom",
        "washroom",
        "lavatory",
        "latrine",
    ),
    Forbidden.BATHROOM: ("nha tam", "phong tam", "buong tam", "bathroom", "bathrooms", "shower"),
}

# A bare "phòng 201" / "room 12" names a room too.
_NUMBERED_ROOM = re.compile(r"\b(?:phong|room|p)\s*\.?\s*\d+[a-z]?\b")
# Words that put the camera outside the place: "bên ngoài nhà vệ sinh", "corridor outside room".
_OUTSIDE = re.compile(
    r"\b(?:ben ngoai|phia ngoai|ngoai|outside|truoc cua|in front of|hanh lang|corridor|hallway)\b"
)


def fold(text: str) -> str:
    """Lower-case, strip Vietnamese diacritics (đ → d) and punctuation, collapse spaces."""
    decomposed = unicodedata.normalize("NFD", text.casefold().replace("đ", "d"))
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    cleaned = re.sub(r"[^a-z0-9]+", " ", stripped.replace("_", " "))
    return " ".join(cleaned.split())


_ALIAS_INDEX: dict[str, Zone] = {}
for _zone, _labels in _ALIASES.items():
    _ALIAS_INDEX[fold(_zone.value)] = _zone
    _ALIAS_INDEX[fold(ZONE_LABELS_VI[_zone])] = _zone
    _ALIAS_INDEX[fold(ZONE_LABELS_EN[_zone])] = _zone
    for _label in _labels:
        _ALIAS_INDEX[fold(_label)] = _zone


@dataclass(frozen=True)
class ZoneVerdict:
    """What a zone text means: an allowed zone, a forbidden place, or unknown (both None)."""

    zone: Zone | None
    forbidden: Forbidden | None
    text: str

    @property
    def allowed(self) -> bool:
        return self.zone is not None


def forbidden_place(text: str) -> Forbidden | None:
    """The forbidden place a free text names, unless it says the camera is outside it."""
    folded = fold(text)
    if not folded:
        return None
    if _OUTSIDE.search(folded):
        return None
    for kind, phrases in _FORBIDDEN_PHRASES.items():
        for phrase in phrases:
            if re.search(rf"\b{re.escape(fold(phrase))}\b", folded):
                return kind
    if _NUMBERED_ROOM.search(folded):
        return Forbidden.ROOM
    return None


def classify(text: str) -> ZoneVerdict:
    """Resolve a zone written in the inventory to an allowed zone or a forbidden place."""
    folded = fold(text)
    zone = _ALIAS_INDEX.get(folded)
    if zone is not None:
        return ZoneVerdict(zone=zone, forbidden=None, text=text)
    return ZoneVerdict(zone=None, forbidden=forbidden_place(text), text=text)


def allowed_zone_keys() -> list[str]:
    return [zone.value for zone in Zone]
