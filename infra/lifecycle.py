"""A facility's end of duty (R13, §II.7e): the decision, checked before anything is touched, and
its record in the inventory (git is the record).

The district (or the Provincial Military Command for the facilities it runs) decides what
becomes of a facility's camera system: ``standby`` (kept for re-activation in an emergency,
R14), ``handover`` (returned to a unit for other use) or ``remove``. Whatever the decision,
remote access ends and recordings stay protected until their retention ends.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from infra.loader import LoadResult
from infra.model import FacilityStatus


class Decision(StrEnum):
    STANDBY = "standby"
    HANDOVER = "handover"
    REMOVE = "remove"

    @property
    def status(self) -> FacilityStatus:
        return {
            Decision.STANDBY: FacilityStatus.STANDBY,
            Decision.HANDOVER: FacilityStatus.HANDED_OVER,
            Decision.REMOVE: FacilityStatus.REMOVED,
        }[self]


class LifecycleError(ValueError):
    """A decommission request that cannot go ahead; the message names the field and the fix."""


@dataclass(frozen=True)
class Request:
    site: str
    decision: Decision
    decision_ref: str
    #: The facility's file in the inventory (relative to the inventory folder).
    facility_file: str


#: A decision's reference names its document: at least a number and a date, e.g.
#: "1234/QĐ-UBND ngày 15/11/2026".
MIN_REF_LENGTH = 6


def unknown_site(site: str, known: list[str]) -> str:
    """The one wording of "no such facility" (the CLI, the playbooks' filter)."""
    return f"site={site!r} is not a facility of this inventory; facilities: {', '.join(known)}"


def check_request(loaded: LoadResult, site: str, decision: str, decision_ref: str) -> Request:
    """The decommission request, or LifecycleError naming what is wrong and how to fix it."""
    inventory = loaded.inventory
    if inventory is None:
        raise LifecycleError("the inventory does not load: run 'camops validate' and fix it first")
    known = sorted(facility.id for facility in inventory.facilities)
    if site not in known:
        raise LifecycleError(unknown_site(site, known))
    try:
        chosen = Decision(decision)
    except ValueError:
        choices = " | ".join(d.value for d in Decision)
        raise LifecycleError(
            f"decision={decision!r} is not a decision of §II.7e: use {choices}"
        ) from None
    ref = " ".join(decision_ref.split())
    if len(ref) < MIN_REF_LENGTH or not any(ch.isdigit() for ch in ref):
        raise LifecycleError(
            "decision_ref is missing or too short: give the decision's document number and date, "
            'e.g. -e decision_ref="1234/QĐ-UBND ngày 15/11/2026"'
        )
    facility = inventory.facility(site)
    if facility.status is FacilityStatus.REMOVED and chosen is not Decision.REMOVE:
        raise LifecycleError(
            f"{site} was removed ({facility.status_ref}); a removed facility is rolled out anew, "
            "not put on standby or handed over"
        )
    return Request(site, chosen, ref, loaded.facility_files.get(site, f"facilities/{site}.yml"))


def _yaml() -> YAML:
    yaml = YAML()  # round trip: comments, order and quoting stay as written
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def set_status(
    inventory_dir: Path, facility_file: str, status: FacilityStatus, status_ref: str
) -> bool:
    """Write the facility's status and its decision into its file, keeping everything else as
    written (comments included). Returns False when the file already says so."""
    path = inventory_dir / facility_file
    yaml = _yaml()
    text = path.read_text(encoding="utf-8")
    yaml.explicit_start = text.lstrip().startswith("---")
    document = yaml.load(text)
    facility = document["facility"]
    if facility.get("status") == status.value and facility.get("status_ref", "") == status_ref:
        return False
    facility["status"] = status.value
    if status is FacilityStatus.ACTIVE and not status_ref:
        facility.pop("status_ref", None)
    elif "status_ref" in facility:
        facility["status_ref"] = status_ref
    else:
        keys = list(facility.keys())
        facility.insert(keys.index("status") + 1, "status_ref", status_ref)
    out = io.StringIO()
    yaml.dump(document, out)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(out.getvalue(), encoding="utf-8")
    temporary.replace(path)
    return True


def protected_until(last_recording: datetime, retention_days: int) -> datetime:
    """Until when the facility's last recordings stay protected (the WORM store's lock)."""
    return (last_recording + timedelta(days=retention_days)).astimezone(UTC)


#: What each decision does, in the report's two languages (Vietnamese first: the officials').
STEPS: dict[str, tuple[str, str]] = {
    "access": (
        "Chấm dứt truy cập từ xa: cơ sở không còn hiển thị với tài khoản nào",
        "Remote access ended: no account sees the facility any more",
    ),
    "monitoring": (
        "Ngừng giám sát cơ sở (không còn cảnh báo)",
        "Monitoring of the facility stopped (no more alerts)",
    ),
    "central_recording": (
        "Ngừng ghi hình tại trung tâm; bản ghi đã có giữ nguyên trong kho WORM",
        "Central recording stopped; the recordings already made stay in the WORM store",
    ),
    "tunnel_disabled": (
        "Tạm ngắt đường hầm WireGuard (cấu hình giữ nguyên để tái kích hoạt)",
        "WireGuard tunnel peer disabled (configuration kept for re-activation)",
    ),
    "tunnel_removed": ("Gỡ bỏ đường hầm WireGuard", "WireGuard tunnel peer removed"),
    "nvr_stopped": (
        "Đầu ghi ngừng ghi hình; bản ghi trong thời hạn lưu trữ được giữ nguyên",
        "The NVR stopped recording; recordings within retention are kept",
    ),
    "credentials_rotated": (
        "Đổi mật khẩu camera; mật khẩu mới bàn giao qua kho bí mật (vault), không in ra",
        "Camera passwords rotated; handed over through the vault, never printed",
    ),
    "deregistered": (
        "Xoá camera và quyền xem của cơ sở khỏi nền tảng (quyết định được lưu lại)",
        "The facility's cameras and grants removed from the platform (the decision is kept)",
    ),
    "nvr_wiped": (
        "Xoá cấu hình đầu ghi; chỉ xoá bản ghi đã hết thời hạn lưu trữ",
        "The NVR's configuration wiped; only recordings past retention deleted",
    ),
    "inventory": (
        "Ghi quyết định vào hồ sơ hạ tầng (inventory, lưu trong git)",
        "The decision written into the inventory (kept in git)",
    ),
}

DECISION_NAMES = {
    Decision.STANDBY: ("Dự phòng (giữ nguyên để tái kích hoạt khi khẩn cấp)", "Standby"),
    Decision.HANDOVER: ("Bàn giao cho đơn vị khác sử dụng", "Handover"),
    Decision.REMOVE: ("Tháo dỡ", "Removal"),
}


def report_markdown(
    request: Request,
    facility_name: str,
    done: list[str],
    *,
    when: datetime,
    protected: datetime | None,
    actor: str,
    cameras: list[dict[str, Any]] | None = None,
    handover_vault: str = "",
) -> str:
    """The decommission report (R13): the decision, what was done, and until when the
    facility's recordings stay protected; Vietnamese, then English. A handover adds each camera
    as handed over (``cameras``: the ONVIF module's results: device, encoder, NTP, users) and
    where the credentials are (``handover_vault``), never a password."""
    unknown = [step for step in done if step not in STEPS]
    if unknown:
        raise LifecycleError(f"unknown decommission steps: {', '.join(unknown)}")
    name_vi, name_en = DECISION_NAMES[request.decision]
    stamp = when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    until = protected.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if protected else None
    lines = [
        f"# Báo cáo kết thúc hoạt động hệ thống camera — {facility_name}",
        "",
        f"- Cơ sở: `{request.site}`",
        f"- Quyết định: **{name_vi}** — căn cứ {request.decision_ref}",
        f"- Thời điểm thực hiện: {stamp}; người thực hiện: {actor}",
        "",
        "## Đã thực hiện",
        "",
        *(f"- {STEPS[step][0]}" for step in done),
        "",
        "## Bản ghi hình",
        "",
        (
            f"Bản ghi hình của cơ sở được bảo vệ (không thể xoá) đến ít nhất {until}."
            if until
            else "Cơ sở chưa có bản ghi hình tại trung tâm."
        ),
        "",
        *_handover_section(cameras, handover_vault, vietnamese=True),
        f"# Decommission report — {facility_name}",
        "",
        f"- Facility: `{request.site}`",
        f"- Decision: **{name_en}** — per {request.decision_ref}",
        f"- Done at {stamp} by {actor}",
        "",
        "## Done",
        "",
        *(f"- {STEPS[step][1]}" for step in done),
        "",
        "## Recordings",
        "",
        (
            f"The facility's recordings stay protected (undeletable) until at least {until}."
            if until
            else "The facility has no central recordings."
        ),
        "",
        *_handover_section(cameras, handover_vault, vietnamese=False),
    ]
    return "\n".join(lines)


def _camera_row(camera: dict[str, Any]) -> str:
    device = camera.get("device") or {}
    encoder = camera.get("encoder") or {}
    ntp = camera.get("ntp") or {}
    users = ", ".join(
        f"{user.get('username')} ({user.get('level')})" for user in camera.get("users") or []
    )
    made = " ".join(str(device.get(key, "")) for key in ("manufacturer", "model", "firmware"))
    stream = (
        f"{encoder.get('codec')} {encoder.get('width')}x{encoder.get('height')} "
        f"{encoder.get('fps')} fps {encoder.get('bitrate_kbps')} kbps"
        if encoder
        else "?"
    )
    servers = ", ".join(ntp.get("servers") or []) or "-"
    made = made.strip() or "?"
    return f"| `{camera.get('camera_id')}` | {made} | {stream} | {servers} | {users} |"


def _handover_section(
    cameras: list[dict[str, Any]] | None, vault_file: str, *, vietnamese: bool
) -> list[str]:
    if not cameras:
        return []
    if vietnamese:
        head = [
            "## Bàn giao camera",
            "",
            "Mật khẩu mới của từng camera được lưu mã hoá trong tệp vault "
            f"`{vault_file}` (mở bằng `ansible-vault view`, đổi mật khẩu tệp cho đơn vị nhận "
            "bằng `ansible-vault rekey`); mật khẩu cũ và mật khẩu mặc định đều bị từ chối.",
            "",
            "| Camera | Thiết bị | Luồng video | Máy chủ thời gian (NTP) | Tài khoản |",
        ]
    else:
        head = [
            "## Cameras handed over",
            "",
            "Each camera's new password is kept encrypted in the vault file "
            f"`{vault_file}` (read it with `ansible-vault view`; give it the receiving unit's "
            "password with `ansible-vault rekey`); the old and the factory passwords are refused.",
            "",
            "| Camera | Device | Stream | Time servers (NTP) | Accounts |",
        ]
    return [*head, "|---|---|---|---|---|", *(_camera_row(c) for c in cameras), ""]
