"""The camera role's modules against the lab camera simulator on loopback (fast tier).

camops_onvif_camera runs as Ansible runs it (ad hoc, a separate process) against camsim's
ONVIF service started in this process (no GStreamer needed). camops_stream_probe needs a real
RTSP server: camsim's own, run by the system Python when GStreamer's RTSP server bindings are
installed (python3-gi, gir1.2-gst-rtsp-server-1.0 and the GStreamer plugins of the lab camera
image); otherwise those tests are skipped and the parsing is tested on ffprobe-shaped data.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from onvif import ONVIFCamera
from zeep.exceptions import Fault

from tests.helpers import ROOT, assert_no_secret, run_module, shipped_module

SOURCE = ROOT / "lab" / "src" / "camops_lab" / "camera_sim" / "camsim.py"
VAULT_PASSWORD = "vault-Secret-9f3kq"  # a test value
FACTORY = [{"username": "admin", "password": "12345"}]
ENCODER = {"codec": "h264", "width": 1280, "height": 720, "fps": 15, "bitrate_kbps": 768}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(camera_id: str, onvif_port: int, rtsp_port: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": camera_id,
        "name": "Unit camera",
        "manufacturer": "camops-lab",
        "model": "gst-rtsp-sim",
        "firmware": "camsim-1.0",
        "serial": "CAMSIM-UNIT",
        "mac": "02:00:00:00:00:09",
        "listen": "127.0.0.1",
        "rtsp_port": rtsp_port,
        "rtsp_path": "/stream1",
        "onvif_port": onvif_port,
        "mode": "live",
        "clip": "",
        "factory": {
            "username": "admin",
            "password": "12345",
            "clock_offset_s": 0,
            "encoder": {"width": 640, "height": 360, "fps": 15, "bitrate_kbps": 512},
        },
        **extra,
    }


class Camsim:
    """camsim's ONVIF service in this process, its state file readable by the test."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **extra: Any) -> None:
        self.port = _free_port()
        self.config_path = tmp_path / "camera.json"
        self.state_path = tmp_path / "state" / "state.json"
        self.config_path.write_text(
            json.dumps(_config("unit_cam", self.port, _free_port(), **extra)), encoding="utf-8"
        )
        monkeypatch.setenv("CAMSIM_CONFIG", str(self.config_path))
        monkeypatch.setenv("CAMSIM_STATE", str(self.state_path))
        spec = importlib.util.spec_from_file_location("camsim_modules_under_test", SOURCE)
        assert spec is not None and spec.loader is not None
        self.module: ModuleType = importlib.util.module_from_spec(spec)
        sys.modules["camsim_modules_under_test"] = self.module
        spec.loader.exec_module(self.module)
        device = self.module.Device()
        self.module.load_state(device.config)
        self.module.Handler.device = device
        self.server = self.module.ThreadingHTTPServer(("127.0.0.1", self.port), self.module.Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def state(self) -> dict[str, Any]:
        return dict(json.loads(self.state_path.read_text(encoding="utf-8")))

    def users(self) -> list[tuple[str, str]]:
        return [(u["username"], u["password"]) for u in self.state()["users"]]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        del sys.modules["camsim_modules_under_test"]

    def args(self, **changes: Any) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "port": self.port,
            "camera_id": "unit_cam",
            "username": "camops",
            "password": VAULT_PASSWORD,
            "factory_credentials": FACTORY,
            "ntp_servers": ["10.79.1.2"],
            "encoder": ENCODER,
            "timeout": 5,
            **changes,
        }


@pytest.fixture
def camera_factory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Camsim]]:
    started: list[Camsim] = []

    def start(**extra: Any) -> Camsim:
        camera = Camsim(tmp_path, monkeypatch, **extra)
        started.append(camera)
        return camera

    yield start
    for camera in started:
        camera.stop()


def onvif(module_args: dict[str, Any], *flags: str) -> dict[str, Any]:
    result = run_module("camops_onvif_camera", module_args, *flags)
    text = json.dumps(result)
    assert_no_secret(str(module_args.get("password", "")), text, "camops_onvif_camera result")
    assert "12345" not in text.replace('"12345"', "")  # the factory password never returned
    return result


def login_refused(port: int, username: str, password: str) -> bool:
    async def scenario() -> bool:
        camera = ONVIFCamera("127.0.0.1", port, username, password, adjust_time=True)
        try:
            await camera.update_xaddrs()
            device = await camera.create_devicemgmt_service()
            await device.GetDeviceInformation()
        except Fault:
            return True
        finally:
            await camera.close()
        return False

    return asyncio.run(scenario())


def test_rotate_repeat_update_and_check_mode(camera_factory: Callable[..., Camsim]) -> None:
    camera = camera_factory()
    args = camera.args()

    # Check mode on a factory camera: reports everything, changes nothing.
    planned = onvif(args, "--check", "--diff")
    assert planned["changed"] is True
    assert planned["credentials_rotated"] is True
    assert planned["actions"] == [
        "create administrator camops from the vault",
        "delete user admin (not in the vault)",
        "set NTP servers 10.79.1.2",
        "set the clock to follow NTP",  # camsim does by itself with a server: check mode can't know
        "set the encoder to h264 1280x720 15 fps 768 kbps (was h264 640x360 15 fps 512 kbps)",
    ]
    assert planned["factory_credentials_accepted"] is True  # still true: nothing was done
    assert planned["encoder_set"] is True  # would be: the stream still has the old one
    assert camera.users() == [("admin", "12345")]
    assert camera.state()["encoder"]["width"] == 640
    assert planned["diff"]["before"]["users"] == [{"username": "admin", "level": "Administrator"}]
    assert planned["diff"]["after"]["users"] == [{"username": "camops", "level": "Administrator"}]

    # The run: the factory user is replaced by the vault user.
    done = onvif(args)
    assert (done["changed"], done["credentials_rotated"]) == (True, True)
    assert done["factory_credentials_accepted"] is False
    assert camera.users() == [("camops", VAULT_PASSWORD)]
    assert done["users"] == [{"username": "camops", "level": "Administrator"}]
    assert done["ntp"] == {"from_dhcp": False, "servers": ["10.79.1.2"], "datetime_type": "NTP"}
    assert done["encoder"] == ENCODER
    assert done["device"] == {
        "manufacturer": "camops-lab",
        "model": "gst-rtsp-sim",
        "firmware": "camsim-1.0",
        "serial": "CAMSIM-UNIT",
    }
    assert abs(done["clock_skew_s"]) <= 1.5
    assert done["stream_uri"].endswith("/stream1")
    assert login_refused(camera.port, "admin", "12345")

    # Repeat: nothing to do.
    again = onvif(args)
    assert (again["changed"], again["actions"], again["credentials_rotated"]) == (False, [], False)
    assert again["encoder_set"] is False

    # Update the encoder: exactly that, shown in the diff.
    lower = {**ENCODER, "width": 640, "height": 360, "bitrate_kbps": 512}
    updated = onvif(camera.args(encoder=lower), "--diff")
    assert updated["actions"] == [
        "set the encoder to h264 640x360 15 fps 512 kbps (was h264 1280x720 15 fps 768 kbps)"
    ]
    assert updated["diff"]["before"]["encoder"]["width"] == 1280
    assert updated["diff"]["after"]["encoder"]["width"] == 640
    assert updated["diff"]["before"]["users"] == updated["diff"]["after"]["users"]
    assert "password" not in json.dumps(updated["diff"])

    # Check mode on a converged camera with a new wish: reported, not done.
    state = camera.state()
    wish = onvif(camera.args(encoder=ENCODER, ntp_servers=["10.79.1.3"]), "--check")
    assert wish["changed"] is True
    assert len(wish["actions"]) == 2
    assert camera.state() == state


def test_same_user_name_gets_the_vault_password(camera_factory: Callable[..., Camsim]) -> None:
    camera = camera_factory()
    done = onvif(camera.args(username="admin"))
    assert done["actions"][0] == "set the password of user admin from the vault"
    assert camera.users() == [("admin", VAULT_PASSWORD)]
    assert done["factory_credentials_accepted"] is False
    assert login_refused(camera.port, "admin", "12345")
    assert onvif(camera.args(username="admin"))["changed"] is False


def test_an_interrupted_rotation_converges(camera_factory: Callable[..., Camsim]) -> None:
    """The vault user was created, the factory user not yet deleted: the run finishes it."""
    camera = camera_factory()
    state = camera.state()
    state["users"].append(
        {"username": "camops", "password": VAULT_PASSWORD, "level": "Administrator"}
    )
    camera.module.save_state(state)
    done = onvif(camera.args())
    assert done["actions"][0] == "delete user admin (not in the vault)"
    assert done["credentials_rotated"] is False
    assert camera.users() == [("camops", VAULT_PASSWORD)]


def test_an_outdated_camera_is_rotated_then_refused_with_a_clear_message(
    camera_factory: Callable[..., Camsim],
) -> None:
    camera = camera_factory(capabilities={"resolutions": [[320, 180]], "max_fps": 15})
    wanted = {**ENCODER, "width": 640, "height": 360, "bitrate_kbps": 512}
    predicted = onvif(camera.args(encoder=wanted), "--check")
    assert predicted["failed"] is True
    assert predicted["error_kind"] == "encoder_refused"
    assert camera.users() == [("admin", "12345")]
    failed = onvif(camera.args(encoder=wanted))
    assert failed["failed"] is True
    assert failed["error_kind"] == "encoder_refused"
    assert failed["msg"] == (
        "camera unit_cam (127.0.0.1): refused the encoder settings h264 640x360 15 fps 512 kbps: "
        "resolution 640x360 not supported (the camera offers H.264 at 320x180, 1-15 fps)"
    )
    # Rotation and NTP came first; the report still gets the checks of the end.
    assert failed["credentials_rotated"] is True
    assert camera.users() == [("camops", VAULT_PASSWORD)]
    assert failed["factory_credentials_accepted"] is False
    assert failed["clock_skew_s"] is not None
    assert failed["encoder"]["width"] == 320
    again = onvif(camera.args(encoder=wanted))
    assert (again["failed"], again["changed"]) == (True, False)


def test_unknown_credentials_fail_without_touching_the_camera(
    camera_factory: Callable[..., Camsim],
) -> None:
    camera = camera_factory()
    failed = onvif(camera.args(factory_credentials=[{"username": "admin", "password": "54321"}]))
    assert failed["error_kind"] == "credentials"
    assert "every known factory credential" in failed["msg"]
    assert camera.users() == [("admin", "12345")]


def test_a_factory_password_as_vault_password_is_refused(
    camera_factory: Callable[..., Camsim],
) -> None:
    camera = camera_factory()
    failed = run_module("camops_onvif_camera", camera.args(password="12345"))
    assert failed["error_kind"] == "credentials"
    assert "factory default" in failed["msg"]


def test_an_unreachable_camera_fails_fast_and_clearly() -> None:
    """A closed port (refused at once) and a camera that takes the connection but never answers
    (the module's own timeout ends the wait: its message names the timeout it applied)."""
    args = {
        "host": "127.0.0.1",
        "camera_id": "gone_cam",
        "username": "u",
        "password": VAULT_PASSWORD,
        "timeout": 2,
    }
    refused = run_module("camops_onvif_camera", {**args, "port": _free_port()})
    assert refused["error_kind"] == "unreachable"
    assert refused["msg"].startswith("camera gone_cam (127.0.0.1): ONVIF at port")
    assert refused["factory_credentials_accepted"] is None

    with socket.socket() as silent:  # listens, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        started = time.monotonic()
        hung = run_module("camops_onvif_camera", {**args, "port": port})
        took = time.monotonic() - started
    assert hung["error_kind"] == "unreachable"
    assert f"ONVIF at port {port} did not answer in 2 s" in hung["msg"]
    assert 2 <= hung["elapsed_s"] < 10, hung["elapsed_s"]  # the timeout it was given, once
    assert took < 60  # a hang guard, generous for a loaded machine


# -- stream probe ----------------------------------------------------------------------------


def _stream_utils() -> ModuleType:
    """module_utils/camops_stream.py, imported by path (Ansible ships it with the module)."""
    module: ModuleType = shipped_module(
        "camops_stream_under_test", ROOT / "module_utils" / "camops_stream.py"
    )
    return module


def test_credentials_stay_out_of_ffprobe_arguments() -> None:
    stream = _stream_utils()
    credential = stream.Credential("admin", "p@ss:w/rd'x")
    url = stream.with_credentials("rtsp://10.0.0.1:554/s", credential)
    assert url == "rtsp://admin:p%40ss%3Aw%2Frd%27x@10.0.0.1:554/s"
    listing = stream.ffconcat(url, "tcp").decode()
    assert listing.splitlines()[1] == "file 'rtsp://admin:p%40ss%3Aw%2Frd%27x@10.0.0.1:554/s'"
    for packets in (True, False):
        argv = " ".join(stream.command("ffprobe", 3, packets=packets))
        assert "rtsp://" not in argv
        assert "p%40ss" not in argv
    assert stream.scrub(f"x {url} y", ["p@ss:w/rd'x"]) == "x rtsp://admin:********@10.0.0.1:554/s y"


FAKE_FFPROBE = """#!/usr/bin/env python3
# ffprobe as a camera without parameter sets in its SDP and a long GOP answers: a short
# analysis finds no resolution, the whole one does. Each run's ffconcat list is kept.
import json, pathlib, sys
listing = sys.stdin.read()
log = pathlib.Path(sys.argv[0]).with_suffix(".runs")
log.write_text(log.read_text() + listing + "--\\n" if log.exists() else listing + "--\\n")
short = "option analyzeduration" in listing
stream = {"codec_name": "h264", "width": 0 if short else 1920, "height": 0 if short else 1080,
          "avg_frame_rate": "25/1"}
packets = [{"pts_time": str(i / 25), "size": "4000", "flags": "K_" if i % 50 == 0 else "__"}
           for i in range(75)]
print(json.dumps({"streams": [stream], "packets": packets}))
"""


def test_a_stream_without_its_resolution_in_the_short_analysis_is_probed_again(
    tmp_path: Path,
) -> None:
    stream = _stream_utils()
    listing = stream.ffconcat("rtsp://10.0.0.1/s", "tcp", 1.0).decode()
    assert "option analyzeduration 1000000" in listing.splitlines()
    assert "analyzeduration" not in stream.ffconcat("rtsp://10.0.0.1/s", "tcp").decode()

    ffprobe = tmp_path / "ffprobe"
    ffprobe.write_text(FAKE_FFPROBE)
    ffprobe.chmod(0o755)
    probe = stream.Probe(url="rtsp://10.0.0.1/s", seconds=3, ffprobe=str(ffprobe))
    outcome = probe.run(stream.Credential("camops", VAULT_PASSWORD), [])
    assert (outcome.figures["width"], outcome.figures["height"]) == (1920, 1080)
    assert outcome.figures["fps"] == 25
    runs = (tmp_path / "ffprobe.runs").read_text().split("--\n")[:-1]
    assert len(runs) == 2  # the short analysis, then the whole one
    assert "option analyzeduration 1000000" in runs[0]
    assert "analyzeduration" not in runs[1]
    assert all(VAULT_PASSWORD in run for run in runs)  # the credential went on stdin, both times


def test_measure_counts_frames_and_bits_over_whole_gops() -> None:
    stream = _stream_utils()
    # 10 fps, a key frame every 10 frames of 5000 bytes, others 1000 bytes: one GOP is
    # 5000 + 9 * 1000 bytes in 1 s = 112 kbit/s.
    packets = [
        {
            "pts_time": f"{i / 10:.6f}",
            "size": "5000" if i % 10 == 0 else "1000",
            "flags": "K_" if i % 10 == 0 else "__",
        }
        for i in range(25)
    ]
    figures = stream.measure(
        {
            "streams": [
                {"codec_name": "h264", "width": 640, "height": 360, "avg_frame_rate": "10/1"}
            ],
            "packets": [{"pts_time": "N/A", "size": "9"}, *packets],
        }
    )
    assert figures["fps"] == 10.0
    assert figures["bitrate_kbps"] == 112
    assert (figures["codec"], figures["width"], figures["height"]) == ("h264", 640, 360)
    assert figures["keyframes"] == 3
    with pytest.raises(stream.ProbeError, match="no video"):
        stream.measure({"streams": [], "packets": []})


def test_measure_is_not_fooled_by_a_clock_jump_inside_the_window() -> None:
    """15 fps, and the camera's clock goes back 1 s half way (it restarted its encoder): the
    span would read 34 fps; the median frame interval reads 15 (found in the lab)."""
    stream = _stream_utils()
    times = [i / 15 for i in range(20)] + [i / 15 for i in range(5, 25)]
    packets = [
        {
            "pts_time": f"{t:.6f}",
            "size": "5000" if n % 15 == 0 else "1000",
            "flags": "K_" if n % 15 == 0 else "__",
        }
        for n, t in enumerate(times)
    ]
    figures = stream.measure(
        {"streams": [{"codec_name": "h264", "width": 640, "height": 360}], "packets": packets}
    )
    assert figures["fps"] == 15.0


def _rtsp_server_available() -> bool:
    if shutil.which("ffprobe") is None or not Path("/usr/bin/python3").exists():
        return False
    check = subprocess.run(
        [
            "/usr/bin/python3",
            "-c",
            "import gi; gi.require_version('GstRtspServer', '1.0'); "
            "from gi.repository import GstRtspServer",
        ],
        capture_output=True,
        check=False,
    )
    return check.returncode == 0


@pytest.fixture
def rtsp_tools() -> None:
    """`make setup` installs them (deps/apt.txt, deps/lab-apt.txt): missing is a broken set-up,
    a failure, never a skip."""
    if not _rtsp_server_available():
        pytest.fail(
            "GStreamer's RTSP server bindings (gir1.2-gst-rtsp-server-1.0) or ffprobe are "
            "missing: run 'make setup'"
        )


needs_rtsp = pytest.mark.usefixtures("rtsp_tools")


@pytest.fixture
def camsim_processes(tmp_path: Path) -> Iterator[Callable[..., dict[str, Any]]]:
    """camsim serve (RTSP and ONVIF) on loopback, each camera a process of the system Python."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(camera_id: str = "rtsp_cam", **extra: Any) -> dict[str, Any]:
        folder = tmp_path / camera_id
        folder.mkdir()
        config = _config(camera_id, _free_port(), _free_port(), **extra)
        (folder / "camera.json").write_text(json.dumps(config), encoding="utf-8")
        env = {
            "CAMSIM_CONFIG": str(folder / "camera.json"),
            "CAMSIM_STATE": str(folder / "state" / "state.json"),
            "PATH": "/usr/bin:/bin",
        }
        processes.append(
            subprocess.Popen(
                ["/usr/bin/python3", str(SOURCE), "serve"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        deadline = time.monotonic() + 20
        for port in (config["rtsp_port"], config["onvif_port"]):
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        pytest.fail(f"camsim {camera_id} did not listen on {port}")
                    time.sleep(0.2)
        return config

    try:
        yield start
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


@pytest.fixture
def rtsp_camera(camsim_processes: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return camsim_processes()


@needs_rtsp
def test_a_facility_in_one_run_each_camera_reported_none_stopping_the_others(
    camsim_processes: Callable[..., dict[str, Any]],
) -> None:
    good = camsim_processes("good_cam")
    outdated = camsim_processes(
        "old_cam", capabilities={"resolutions": [[320, 180]], "max_fps": 15}
    )

    def camera(config: dict[str, Any], **changes: Any) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "port": config["onvif_port"],
            "camera_id": config["id"],
            "username": "camops",
            "password": VAULT_PASSWORD,
            "factory_credentials": FACTORY,
            "encoder": {**ENCODER, "width": 640, "height": 360, "bitrate_kbps": 512},
            **changes,
        }

    gone = {
        "host": "127.0.0.1",
        "port": _free_port(),
        "camera_id": "gone_cam",
        "username": "camops",
        "password": VAULT_PASSWORD,
    }
    args = {
        "cameras": [camera(good), camera(outdated), gone],
        "ntp_servers": ["10.79.1.2"],
        "timeout": 3,
    }
    first = onvif(args)
    assert not first.get("failed")  # the site goes on; each camera says how it went
    assert first["changed"] is True
    by_id = {c["camera_id"]: c for c in first["cameras"]}
    assert [c["camera_id"] for c in first["cameras"]] == ["good_cam", "old_cam", "gone_cam"]
    assert by_id["good_cam"]["failed"] is False
    assert by_id["good_cam"]["credentials_rotated"] is True
    assert by_id["good_cam"]["factory_credentials_accepted"] is False
    assert by_id["good_cam"]["encoder"]["width"] == 640
    assert by_id["old_cam"]["error_kind"] == "encoder_refused"
    assert by_id["old_cam"]["credentials_rotated"] is True  # rotated before the encoder
    assert "320x180" in by_id["old_cam"]["msg"]
    assert by_id["gone_cam"]["error_kind"] == "unreachable"
    assert first["failed_cameras"] == ["old_cam", "gone_cam"]

    again = onvif({**args, "cameras": [camera(good), camera(outdated)]})
    assert again["changed"] is False
    assert [c["failed"] for c in again["cameras"]] == [False, True]

    slower = camera(
        good, encoder={**ENCODER, "width": 640, "height": 360, "fps": 10, "bitrate_kbps": 512}
    )
    checked = onvif({**args, "cameras": [slower]}, "--check", "--diff")
    assert checked["changed"] is True
    assert checked["diff"]["before"]["good_cam"]["encoder"]["fps"] == 15
    assert checked["diff"]["after"]["good_cam"]["encoder"]["fps"] == 10
    assert onvif({**args, "cameras": [camera(good)]})["changed"] is False  # check changed nothing

    twice = run_module("camops_onvif_camera", {**args, "cameras": [gone, gone]})
    assert twice["failed"] is True
    assert "gone_cam" in twice["msg"]


@needs_rtsp
def test_probe_measures_the_real_stream_and_old_passwords_die_with_rotation(
    rtsp_camera: dict[str, Any],
) -> None:
    url = f"rtsp://127.0.0.1:{rtsp_camera['rtsp_port']}/stream1"
    factory = {"url": url, "username": "admin", "password": "12345", "seconds": 2.5}
    # A factory camera: the stream plays with the factory password (which must be refused).
    before = run_module("camops_stream_probe", {**factory, "check_refused_credentials": FACTORY})
    assert (before["codec"], before["width"], before["height"]) == ("h264", 640, 360)
    assert 13 <= before["fps"] <= 17
    assert 256 <= before["bitrate_kbps"] <= 768
    assert before["refused_credentials_accepted"] == ["admin"]
    assert before["changed"] is False

    # Rotation over ONVIF: the RTSP password follows.
    args = {
        "host": "127.0.0.1",
        "port": rtsp_camera["onvif_port"],
        "camera_id": "rtsp_cam",
        "username": "camops",
        "password": VAULT_PASSWORD,
        "factory_credentials": FACTORY,
        "encoder": {"codec": "h264", "width": 1280, "height": 720, "fps": 10, "bitrate_kbps": 640},
    }
    assert onvif(args)["factory_credentials_accepted"] is False
    time.sleep(1)  # camsim applies a new encoder within half a second
    many = run_module(
        "camops_stream_probe",
        {
            "streams": [
                {
                    "id": "rtsp_cam",
                    "url": url,
                    "username": "camops",
                    "password": VAULT_PASSWORD,
                    "check_refused_credentials": FACTORY,
                },
                {"id": "old_password", "url": url, "username": "admin", "password": "12345"},
            ],
            "seconds": 2.5,
        },
    )
    assert_no_secret(VAULT_PASSWORD, json.dumps(many), "camops_stream_probe result")
    after = many["streams"]["rtsp_cam"]
    assert (after["width"], after["height"]) == (1280, 720)
    assert 9 <= after["fps"] <= 11
    assert after["refused_credentials_accepted"] == []
    assert after["refused_credentials_unverified"] == []
    assert many["streams"]["old_password"]["error_kind"] == "credentials"
    assert "12345" not in many["streams"]["old_password"]["error"]

    single = run_module("camops_stream_probe", factory)
    assert single["failed"] is True
    assert single["error_kind"] == "credentials"


def _packet_times(url: str, seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            "timeout",
            str(seconds),
            "ffprobe",
            "-v",
            "error",
            "-rtsp_transport",
            "tcp",
            "-show_entries",
            "packet=pts_time",
            "-of",
            "csv=p=0",
            url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


@needs_rtsp
def test_a_second_client_does_not_rewind_the_first_ones_stream(
    rtsp_camera: dict[str, Any],
) -> None:
    """The NVR and central record the same camera: one (re)connecting must not send the
    other's timestamps back (a shared live media seeked to 0 did, and the recorders restarted
    each other's segments in a loop)."""
    url = f"rtsp://admin:12345@127.0.0.1:{rtsp_camera['rtsp_port']}/stream1"
    first = _packet_times(url, 7)
    time.sleep(3)
    second = _packet_times(url, 2.5)
    second.communicate()
    output = first.communicate()[0]
    times = [float(v) for v in output.replace(",", " ").split() if v != "N/A"]
    assert len(times) > 60, output[-500:]  # ~7 s at 15 fps
    rewinds = [(a, b) for a, b in itertools.pairwise(times) if b < a]
    assert rewinds == []


def test_probe_of_an_unreachable_stream() -> None:
    if shutil.which("ffprobe") is None:
        pytest.fail("ffprobe is missing: run 'make setup' (deps/lab-apt.txt: ffmpeg)")
    failed = run_module(
        "camops_stream_probe",
        {"url": f"rtsp://127.0.0.1:{_free_port()}/x", "username": "a", "password": VAULT_PASSWORD},
    )
    assert failed["error_kind"] == "unreachable"
    assert_no_secret(VAULT_PASSWORD, json.dumps(failed), "camops_stream_probe failure")


def test_probe_refuses_credentials_in_the_address() -> None:
    failed = run_module("camops_stream_probe", {"url": "rtsp://a:b@127.0.0.1/x"})
    assert "without credentials" in failed["msg"]


def _process_arguments() -> str:
    """What ps shows every user of the host: every process's arguments."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            found.append(cmdline.read_bytes().replace(b"\0", b" ").decode("utf-8", "replace"))
        except OSError:  # the process ended meanwhile
            continue
    return "\n".join(found)


@needs_rtsp
def test_the_recorder_records_a_real_stream_and_ps_never_shows_its_credentials(
    camsim_processes: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    """R5: the stream address with its password goes to ffmpeg on stdin, never as an argument
    (every user of the NVR or central host can read every process's arguments)."""
    camera = camsim_processes("rec_cam")
    password = VAULT_PASSWORD
    configured = onvif(
        {
            "host": "127.0.0.1",
            "port": camera["onvif_port"],
            "camera_id": "rec_cam",
            "username": "camops",
            "password": password,
            "factory_credentials": FACTORY,
        }
    )
    assert configured["credentials_rotated"] is True
    url_file = tmp_path / "rec_cam.url"
    url_file.write_text(
        f"rtsp://camops:{password}@127.0.0.1:{camera['rtsp_port']}/stream1", encoding="utf-8"
    )
    root = tmp_path / "recordings"
    recorder = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "camops_recorder.agent",
            "record",
            "--camera",
            "rec_cam",
            "--url-file",
            str(url_file),
            "--root",
            str(root),
            "--segment-seconds",
            "2",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while len(list((root / "rec_cam").glob("rec_cam-*.mkv"))) < 3:
            assert recorder.poll() is None, recorder.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "no segments after 30 s"
            time.sleep(0.5)
        listing = _process_arguments()
        assert "rec_cam" in listing  # the recorder and its ffmpeg are there...
        assert password not in listing  # ...without the password
    finally:
        recorder.terminate()
        errors = recorder.communicate(timeout=15)[1]
    assert password not in errors
    first = sorted((root / "rec_cam").glob("rec_cam-*.mkv"))[0]
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", first],
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "h264"
