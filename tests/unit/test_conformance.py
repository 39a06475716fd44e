"""R2 conformance: every reason a camera is refused, the report files and the module."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from infra.conformance import (
    Thresholds,
    evaluate,
    previous_outcome,
    render_text,
    summary,
    write,
)
from tests.helpers import run_module

CAMERA: dict[str, Any] = {
    "id": "north_cam01",
    "name": "Cổng chính",
    "zone": "gate",
    "ip": "10.79.1.11",
    "mac": "02:42:0a:4f:01:0b",
    "vendor": "camops-lab",
    "model": "gst-rtsp-sim",
    "onvif_port": 8080,
    "rtsp_port": 554,
    "rtsp_path": "/stream1",
    "resolution": {"width": 640, "height": 360},
    "fps": 15,
    "bitrate_kbps": 512,
    "codec": "h264",
    "credential": "vault_camera_north_cam01",
}
ONVIF: dict[str, Any] = {
    "changed": False,
    "credentials_rotated": False,
    "factory_credentials_accepted": False,
    "device": {"manufacturer": "camops-lab", "model": "m", "firmware": "f", "serial": "s"},
    "clock_skew_s": 0.3,
    "encoder": {"codec": "h264", "width": 640, "height": 360, "fps": 15, "bitrate_kbps": 512},
    "ntp": {"servers": ["10.79.1.2"], "from_dhcp": False, "datetime_type": "NTP"},
    "item": {"id": "north_cam01"},
    "invocation": {"module_args": {"password": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"}},
}
PROBE: dict[str, Any] = {
    "codec": "h264",
    "width": 640,
    "height": 360,
    "fps": 15.0,
    "bitrate_kbps": 530,
    "refused_credentials_accepted": [],
    "refused_credentials_unverified": [],
}


def codes(
    onvif: Callable[[dict[str, Any]], None] | None = None,
    probe: Callable[[dict[str, Any]], None] | None = None,
    thresholds: Thresholds | None = None,
) -> list[str]:
    o, p = json.loads(json.dumps(ONVIF)), json.loads(json.dumps(PROBE))
    if onvif:
        onvif(o)
    if probe:
        probe(p)
    report = evaluate(
        "lab_north_school", [CAMERA], {"north_cam01": o}, {"north_cam01": p}, thresholds=thresholds
    )
    verdict = report.cameras[0]
    assert verdict.conforming == (not verdict.reasons)
    for reason in verdict.reasons:  # every reason in both languages
        assert reason.vi
        assert reason.en
        assert reason.vi != reason.en
    return [r.code for r in verdict.reasons]


def test_a_camera_that_meets_the_standard_conforms() -> None:
    assert codes() == []


def _fail(kind: str, msg: str) -> Callable[[dict[str, Any]], None]:
    def change(o: dict[str, Any]) -> None:
        o.update(failed=True, error_kind=kind, msg=msg)

    return change


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("unreachable", "unreachable"),
        ("credentials", "credentials_not_rotated"),
        ("encoder_refused", "encoder_refused"),
        ("error", "onvif_error"),
    ],
)
def test_onvif_failures(kind: str, code: str) -> None:
    assert codes(onvif=_fail(kind, f"camera north_cam01: {kind} details")) == [code]


def test_the_camera_message_is_in_the_reason() -> None:
    report = evaluate(
        "f",
        [CAMERA],
        {"north_cam01": {**ONVIF, "failed": True, "error_kind": "encoder_refused", "msg": "X1"}},
        {"north_cam01": PROBE},
    )
    assert "X1" in report.cameras[0].reasons[0].vi
    assert "X1" in report.cameras[0].reasons[0].en


def test_a_module_crash_without_error_kind_is_an_onvif_error() -> None:
    assert codes(onvif=lambda o: o.update(failed=True, msg="MODULE FAILURE")) == ["onvif_error"]


def test_not_checked_at_all() -> None:
    report = evaluate("f", [CAMERA], {}, {})
    assert [r.code for r in report.cameras[0].reasons] == ["not_checked", "stream_not_checked"]
    assert report.conforming == []


def test_a_skipped_camera_is_not_checked() -> None:
    assert codes(onvif=lambda o: o.update(skipped=True)) == ["not_checked"]


def test_default_password_still_accepted_on_onvif() -> None:
    assert codes(onvif=lambda o: o.update(factory_credentials_accepted=True)) == [
        "default_password_onvif"
    ]


def test_default_password_still_accepted_on_rtsp() -> None:
    assert codes(probe=lambda p: p.update(refused_credentials_accepted=["admin"])) == [
        "default_password_rtsp"
    ]


def test_default_password_refusal_not_verified_on_rtsp() -> None:
    assert codes(probe=lambda p: p.update(refused_credentials_unverified=["admin"])) == [
        "default_password_unverified"
    ]


@pytest.mark.parametrize(("skew", "refused"), [(2.5, True), (-3.0, True), (1.9, False)])
def test_clock_skew(skew: float, refused: bool) -> None:
    found = codes(onvif=lambda o: o.update(clock_skew_s=skew))
    assert found == (["clock_skew"] if refused else [])


def test_clock_skew_threshold_is_configurable() -> None:
    limits = Thresholds(max_clock_skew_s=5)
    assert codes(onvif=lambda o: o.update(clock_skew_s=4.0), thresholds=limits) == []


def test_stream_unreachable() -> None:
    found = codes(probe=lambda p: p.update(error="rtsp://x: Connection refused"))
    assert found == ["stream_unreachable"]


def test_stream_not_probed() -> None:
    report = evaluate("f", [CAMERA], {"north_cam01": ONVIF}, {})
    assert [r.code for r in report.cameras[0].reasons] == ["stream_not_checked"]


def test_wrong_codec() -> None:
    assert codes(probe=lambda p: p.update(codec="hevc")) == ["wrong_codec"]


@pytest.mark.parametrize(("width", "height"), [(320, 180), (640, 240), (480, 360)])
def test_below_resolution(width: int, height: int) -> None:
    assert codes(probe=lambda p: p.update(width=width, height=height)) == ["below_resolution"]


def test_a_higher_resolution_conforms() -> None:
    assert codes(probe=lambda p: p.update(width=1280, height=720)) == []


@pytest.mark.parametrize(
    ("fps", "code"), [(10.0, "low_fps"), (None, "low_fps"), (25.0, "wrong_fps"), (14.2, None)]
)
def test_frame_rate(fps: float | None, code: str | None) -> None:
    assert codes(probe=lambda p: p.update(fps=fps)) == ([code] if code else [])


@pytest.mark.parametrize(
    ("bitrate", "off"), [(200, True), (900, True), (None, True), (300, False), (760, False)]
)
def test_bitrate_far_off(bitrate: int | None, off: bool) -> None:
    assert codes(probe=lambda p: p.update(bitrate_kbps=bitrate)) == (["bitrate_off"] if off else [])


def test_several_reasons_at_once() -> None:
    found = codes(
        onvif=lambda o: o.update(clock_skew_s=30.0, factory_credentials_accepted=True),
        probe=lambda p: p.update(codec="mjpeg", width=320, height=180),
    )
    assert found == ["default_password_onvif", "clock_skew", "wrong_codec", "below_resolution"]


def test_an_outdated_camera_refused_but_rotated_is_reported_with_its_stream() -> None:
    """Encoder refused: the stream is still measured (the reasons say what it really does)."""
    found = codes(
        onvif=_fail("encoder_refused", "resolution 640x360 not supported"),
        probe=lambda p: p.update(width=320, height=180),
    )
    assert found == ["encoder_refused", "below_resolution"]


def test_report_files_summary_and_previous_outcome(tmp_path: Path) -> None:
    second = {**CAMERA, "id": "north_cam02", "name": "Hành lang", "credential": "vault_x"}
    report = evaluate(
        "lab_north_school",
        [CAMERA, second],
        {"north_cam01": ONVIF, "north_cam02": {**ONVIF, "clock_skew_s": 9.0}},
        {"north_cam01": PROBE, "north_cam02": PROBE},
        facility_name="Khu cách ly (lab)",
        now=datetime(2021, 8, 1, 7, 0, tzinfo=UTC),
    )
    assert report.conforming == ["north_cam01"]
    write(report, tmp_path / "r.json", tmp_path / "r.txt", [CAMERA, second])
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert data["conforming"] == ["north_cam01"]
    assert data["generated_at"] == "2021-08-01T07:00:00Z"
    assert previous_outcome(tmp_path / "r.json") == {
        "north_cam01": [],
        "north_cam02": ["clock_skew"],
    }
    assert previous_outcome(tmp_path / "missing.json") is None
    text = (tmp_path / "r.txt").read_text(encoding="utf-8")
    assert text == render_text(report, [CAMERA, second])
    assert "BÁO CÁO KIỂM TRA CAMERA THEO CHUẨN KẾT NỐI" in text
    assert "CONFORMANCE REPORT" in text
    assert "[ĐẠT / PASS] north_cam01 — Cổng chính" in text
    assert "[KHÔNG ĐẠT / FAIL] north_cam02 — Hành lang" in text
    assert "Đồng hồ camera lệch +9.0 giây" in text
    assert "Yêu cầu / Required: h264 640x360 15 fps 512 kbps" in text
    lines = summary(report)
    assert lines[0].startswith("R2 | lab_north_school: 1/2")
    assert any("north_cam02: clock_skew" in line for line in lines)


def test_report_module_writes_files_changed_only_when_verdicts_change(tmp_path: Path) -> None:
    args = {
        "facility_id": "lab_north_school",
        "facility_name": "Khu cách ly (lab)",
        "cameras": [CAMERA],
        "onvif_results": [ONVIF],
        "probe_results": {"north_cam01": PROBE},
        "json_path": str(tmp_path / "lab_north_school.json"),
        "text_path": str(tmp_path / "lab_north_school.txt"),
    }
    checked = run_module("camops_conformance_report", args, "--check")
    assert checked["changed"] is True
    assert not (tmp_path / "lab_north_school.json").exists()  # check mode writes nothing
    first = run_module("camops_conformance_report", args)
    assert (first["changed"], first["conforming"]) == (True, ["north_cam01"])
    assert (tmp_path / "lab_north_school.txt").is_file()
    again = run_module("camops_conformance_report", args)
    assert again["changed"] is False
    skewed = {**args, "onvif_results": [{**ONVIF, "clock_skew_s": 12.5}]}
    worse = run_module("camops_conformance_report", skewed, "--diff")
    assert worse["changed"] is True
    assert worse["non_conforming"] == {"north_cam01": ["clock_skew"]}
    assert worse["diff"] == {
        "before": {"north_cam01": []},
        "after": {"north_cam01": ["clock_skew"]},
    }


def test_a_check_run_that_would_set_the_encoder_does_not_judge_the_old_stream() -> None:
    """Drift check (R9): the encoder was changed by hand to 10 fps, 384 kbps; a check run
    measures that stream, but the run would set the encoder first, so the camera is not judged
    non-conforming on it (the ONVIF task reports the drift); outside check mode it is."""
    onvif = json.loads(json.dumps(ONVIF)) | {"changed": True, "encoder_set": True}
    probe = json.loads(json.dumps(PROBE)) | {"fps": 10.0, "bitrate_kbps": 380}

    def verdict(check_mode: bool) -> list[str]:
        report = evaluate(
            "f", [CAMERA], {"north_cam01": onvif}, {"north_cam01": probe}, check_mode=check_mode
        )
        return [r.code for r in report.cameras[0].reasons]

    assert verdict(check_mode=True) == []
    assert verdict(check_mode=False) == ["low_fps"]
    # Reachability and credentials are still judged in a check run.
    probe["error"] = "rtsp://x: Connection refused"
    assert verdict(check_mode=True) == ["stream_unreachable"]
    onvif["encoder_set"] = False
    probe.pop("error")
    assert verdict(check_mode=True) == ["low_fps"]
