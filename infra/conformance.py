"""R2: which cameras meet the connection standard, and why the others do not.

A camera conforms when its stream is reachable and matches the model (codec, at least the
resolution, the frame rate, a bit rate near the model's), its clock is in sync, its factory
credentials are gone on ONVIF and RTSP, and it took the encoder settings. Only conforming
cameras are connected to the central platform.

Input: the model's cameras (``camops_cameras``), the results of ``camops_onvif_camera`` and
``camops_stream_probe`` per camera id. Output: a :class:`Report` with one verdict per camera
and reasons in Vietnamese (for officials) and English, as JSON and as text.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from infra.model import Camera

#: The fields of a module result the report reads (everything else, e.g. invocation, is dropped).
ONVIF_FIELDS = (
    "failed",
    "msg",
    "error_kind",
    "credentials_rotated",
    "factory_credentials_accepted",
    "device",
    "clock_skew_s",
    "encoder",
    "encoder_set",
    "ntp",
    "skipped",
)
PROBE_FIELDS = (
    "error",
    "error_kind",
    "codec",
    "width",
    "height",
    "fps",
    "bitrate_kbps",
    "refused_credentials_accepted",
    "refused_credentials_unverified",
)


class Thresholds(BaseModel):
    """How far a camera may be from the model and still conform."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_clock_skew_s: float = Field(default=2.0, gt=0)
    #: measured bit rate within model x (1 - t) .. model x (1 + t)
    bitrate_tolerance: float = Field(default=0.5, gt=0, lt=1)
    #: measured frame rate within model x (1 - t) .. model x (1 + t)
    fps_tolerance: float = Field(default=0.1, gt=0, lt=1)


class Reason(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    vi: str
    en: str


class Verdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    conforming: bool
    reasons: list[Reason]
    measured: dict[str, Any] = Field(default_factory=dict)


class Report(BaseModel):
    facility_id: str
    facility_name: str = ""
    generated_at: str
    thresholds: Thresholds
    cameras: list[Verdict]

    @property
    def conforming(self) -> list[str]:
        return [v.id for v in self.cameras if v.conforming]

    def outcome(self) -> dict[str, list[str]]:
        """Per camera the reason codes (empty: conforming) — what makes two reports differ."""
        return {v.id: [r.code for r in v.reasons] for v in self.cameras}


def pick(result: dict[str, Any] | None, fields: tuple[str, ...]) -> dict[str, Any]:
    return {key: result[key] for key in fields if result and key in result}


class _Reasons(list[Reason]):
    def add(self, code: str, vi: str, en: str) -> None:
        self.append(Reason(code=code, vi=vi, en=en))


def _reasons(
    camera: Camera,
    onvif: dict[str, Any],
    probe: dict[str, Any],
    limits: Thresholds,
    *,
    check_mode: bool = False,
) -> list[Reason]:
    found = _Reasons()
    _onvif_reasons(found, onvif)
    _credential_and_clock_reasons(found, onvif, probe, limits)
    # A check run that would set the encoder measured the stream with the old settings; the run
    # measures it after setting them. The codec, size and rates are not judged from it then
    # (the ONVIF task shows the drift); reachability and credentials still are.
    pending = check_mode and bool(onvif.get("encoder_set"))
    _stream_reasons(found, camera, probe, limits, encoder_pending=pending)
    return list(found)


def _onvif_reasons(found: _Reasons, onvif: dict[str, Any]) -> None:
    kind = onvif.get("error_kind") or ("error" if onvif.get("failed") else "")
    detail = str(onvif.get("msg") or "")
    if not onvif or onvif.get("skipped"):
        found.add(
            "not_checked",
            "Camera chưa được kiểm tra qua ONVIF",
            "The camera was not checked over ONVIF",
        )
    elif kind == "unreachable":
        found.add(
            "unreachable",
            f"Không kết nối được tới camera (ONVIF): {detail}",
            f"The camera is unreachable (ONVIF): {detail}",
        )
    elif kind == "credentials":
        found.add(
            "credentials_not_rotated",
            f"Không thay được mật khẩu mặc định bằng mật khẩu riêng của camera: {detail}",
            f"The factory credentials could not be replaced by the camera's own: {detail}",
        )
    elif kind == "encoder_refused":
        found.add(
            "encoder_refused",
            f"Camera không thực hiện được cấu hình mã hóa theo chuẩn kết nối: {detail}",
            f"The camera refused the encoder settings of the connection standard: {detail}",
        )
    elif kind:
        found.add(
            "onvif_error", f"Lỗi cấu hình ONVIF: {detail}", f"ONVIF configuration error: {detail}"
        )


def _credential_and_clock_reasons(
    found: _Reasons, onvif: dict[str, Any], probe: dict[str, Any], limits: Thresholds
) -> None:
    if onvif.get("factory_credentials_accepted"):
        found.add(
            "default_password_onvif",
            "Camera vẫn chấp nhận mật khẩu mặc định của nhà sản xuất (ONVIF)",
            "The camera still accepts a factory-default password (ONVIF)",
        )
    if probe.get("refused_credentials_accepted"):
        found.add(
            "default_password_rtsp",
            "Luồng video vẫn chấp nhận mật khẩu mặc định của nhà sản xuất (RTSP)",
            "The video stream still accepts a factory-default password (RTSP)",
        )
    elif probe.get("refused_credentials_unverified"):
        found.add(
            "default_password_unverified",
            "Chưa xác minh được việc luồng video từ chối mật khẩu mặc định (RTSP)",
            "Could not verify that the stream refuses the factory-default password (RTSP)",
        )
    skew = onvif.get("clock_skew_s")
    limit = limits.max_clock_skew_s
    if skew is not None and abs(float(skew)) > limit:
        found.add(
            "clock_skew",
            f"Đồng hồ camera lệch {float(skew):+.1f} giây (cho phép ±{limit:g} giây)",
            f"The camera's clock is {float(skew):+.1f} s off (at most ±{limit:g} s)",
        )


def _stream_reasons(
    found: _Reasons,
    camera: Camera,
    probe: dict[str, Any],
    limits: Thresholds,
    *,
    encoder_pending: bool = False,
) -> None:
    if not probe:
        found.add(
            "stream_not_checked",
            "Luồng video chưa được kiểm tra",
            "The video stream was not checked",
        )
        return
    if probe.get("error"):
        error = str(probe["error"])
        found.add(
            "stream_unreachable",
            f"Không nhận được luồng video: {error}",
            f"The video stream could not be read: {error}",
        )
        return
    if encoder_pending:
        return
    codec = str(probe.get("codec") or "")
    if codec != camera.codec.value:
        found.add(
            "wrong_codec",
            f"Chuẩn nén {codec or '?'} thay vì {camera.codec.value}",
            f"Codec {codec or '?'} instead of {camera.codec.value}",
        )
    width, height = int(probe.get("width") or 0), int(probe.get("height") or 0)
    if width < camera.resolution.width or height < camera.resolution.height:
        found.add(
            "below_resolution",
            f"Độ phân giải {width}x{height} thấp hơn yêu cầu {camera.resolution}",
            f"Resolution {width}x{height} is below the required {camera.resolution}",
        )
    _rate_reasons(found, camera, probe, limits)


def _rate_reasons(
    found: _Reasons, camera: Camera, probe: dict[str, Any], limits: Thresholds
) -> None:
    fps = probe.get("fps")
    slack = camera.fps * limits.fps_tolerance
    if fps is None or float(fps) < camera.fps - slack:
        shown = f"{float(fps):g}" if fps is not None else "?"
        found.add(
            "low_fps",
            f"Tốc độ khung hình {shown} khung/giây thấp hơn yêu cầu {camera.fps}",
            f"Frame rate {shown} fps is below the required {camera.fps}",
        )
    elif float(fps) > camera.fps + slack:
        found.add(
            "wrong_fps",
            f"Tốc độ khung hình {float(fps):g} khung/giây khác yêu cầu {camera.fps}",
            f"Frame rate {float(fps):g} fps differs from the required {camera.fps}",
        )
    bitrate = probe.get("bitrate_kbps")
    target, tolerance = camera.bitrate_kbps, limits.bitrate_tolerance
    if bitrate is None or abs(float(bitrate) - target) > target * tolerance:
        shown = f"{float(bitrate):.0f}" if bitrate is not None else "?"
        found.add(
            "bitrate_off",
            f"Tốc độ bit {shown} kbps lệch nhiều so với {target} kbps (cho phép ±{tolerance:.0%})",
            f"Bit rate {shown} kbps is far from {target} kbps (at most ±{tolerance:.0%})",
        )


def evaluate(
    facility_id: str,
    cameras: list[dict[str, Any]],
    onvif: dict[str, dict[str, Any]],
    probes: dict[str, dict[str, Any]],
    *,
    facility_name: str = "",
    thresholds: Thresholds | None = None,
    now: datetime | None = None,
    check_mode: bool = False,
) -> Report:
    """One verdict per camera of the model, from the modules' results keyed by camera id.

    ``check_mode``: the results are a check run's (a camera whose encoder would be set is not
    judged on the stream measured before)."""
    limits = thresholds or Thresholds()
    verdicts = []
    for raw in cameras:
        camera = Camera.model_validate(raw)
        result = pick(onvif.get(camera.id), ONVIF_FIELDS)
        probe = pick(probes.get(camera.id), PROBE_FIELDS)
        reasons = _reasons(camera, result, probe, limits, check_mode=check_mode)
        measured = {
            "codec": probe.get("codec"),
            "width": probe.get("width"),
            "height": probe.get("height"),
            "fps": probe.get("fps"),
            "bitrate_kbps": probe.get("bitrate_kbps"),
            "clock_skew_s": result.get("clock_skew_s"),
            "device": result.get("device") or {},
            "credentials_rotated": bool(result.get("credentials_rotated")),
        }
        verdicts.append(
            Verdict(
                id=camera.id,
                name=camera.name,
                conforming=not reasons,
                reasons=reasons,
                measured=measured,
            )
        )
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    return Report(
        facility_id=facility_id,
        facility_name=facility_name,
        generated_at=moment.isoformat().replace("+00:00", "Z"),
        thresholds=limits,
        cameras=verdicts,
    )


def render_json(report: Report) -> str:
    data = report.model_dump(mode="json")
    data["conforming"] = report.conforming
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False) + "\n"


def _requirement(camera: dict[str, Any]) -> str:
    resolution = camera.get("resolution") or {}
    return (
        f"{camera.get('codec', 'h264')} {resolution.get('width')}x{resolution.get('height')} "
        f"{camera.get('fps')} fps {camera.get('bitrate_kbps')} kbps"
    )


def summary(report: Report) -> list[str]:
    """A few lines for the play's output."""
    total, good = len(report.cameras), len(report.conforming)
    lines = [
        f"R2 | {report.facility_id}: {good}/{total} camera đạt chuẩn kết nối / cameras conform",
    ]
    for verdict in report.cameras:
        if verdict.conforming:
            lines.append(f"  ĐẠT / PASS  {verdict.id}")
        else:
            codes = ", ".join(r.code for r in verdict.reasons)
            lines.append(
                f"  KHÔNG ĐẠT / FAIL  {verdict.id}: {codes} — không kết nối / not connected"
            )
    return lines


def render_text(report: Report, cameras: list[dict[str, Any]] | None = None) -> str:
    """The human-readable report: Vietnamese for officials, English after each line."""
    wanted = {c["id"]: c for c in cameras or []}
    total, good = len(report.cameras), len(report.conforming)
    t = report.thresholds
    lines = [
        "BÁO CÁO KIỂM TRA CAMERA THEO CHUẨN KẾT NỐI",
        "CAMERA CONNECTION STANDARD CONFORMANCE REPORT (R2)",
        "",
        f"Cơ sở cách ly / Facility: {report.facility_name or report.facility_id}"
        f" ({report.facility_id})",
        f"Thời điểm kiểm tra / Checked at: {report.generated_at}",
        f"Kết quả / Result: {good}/{total} camera đạt chuẩn / cameras conform",
        f"Ngưỡng / Limits: lệch giờ / clock skew ≤ {t.max_clock_skew_s:g} s; "
        f"tốc độ bit / bit rate ±{t.bitrate_tolerance:.0%}; "
        f"khung hình / frame rate ±{t.fps_tolerance:.0%}",
        "",
        "Camera không đạt chuẩn không được kết nối tới nền tảng trung tâm.",
        "Cameras that do not conform are not connected to the central platform.",
    ]
    for verdict in report.cameras:
        m = verdict.measured
        status = "ĐẠT / PASS" if verdict.conforming else "KHÔNG ĐẠT / FAIL"
        lines += ["", f"[{status}] {verdict.id} — {verdict.name}"]
        if verdict.id in wanted:
            lines.append(f"  Yêu cầu / Required: {_requirement(wanted[verdict.id])}")
        if m.get("codec"):
            lines.append(
                f"  Đo được / Measured: {m['codec']} {m['width']}x{m['height']} "
                f"{m['fps']} fps {m['bitrate_kbps']} kbps"
            )
        if m.get("clock_skew_s") is not None:
            lines.append(f"  Lệch giờ / Clock skew: {float(m['clock_skew_s']):+.1f} s")
        device = m.get("device") or {}
        if device:
            lines.append(
                f"  Thiết bị / Device: {device.get('manufacturer', '')} {device.get('model', '')}"
                f", firmware {device.get('firmware', '')}, serial {device.get('serial', '')}"
            )
        for reason in verdict.reasons:
            lines += [f"  - {reason.vi}", f"    {reason.en}"]
    return "\n".join(lines) + "\n"


def _write(path: Path, text: str) -> None:
    """Atomically (a reader never sees half a report)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    Path(name).chmod(0o644)
    Path(name).replace(path)


def previous_outcome(json_path: Path) -> dict[str, list[str]] | None:
    """The verdicts of the report at ``json_path`` (None if there is none readable)."""
    try:
        data = json.loads(json_path.read_text(encoding="utf-8"))
        return {c["id"]: [r["code"] for r in c["reasons"]] for c in data["cameras"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write(
    report: Report, json_path: Path, text_path: Path, cameras: list[dict[str, Any]] | None = None
) -> None:
    _write(json_path, render_json(report))
    _write(text_path, render_text(report, cameras))
