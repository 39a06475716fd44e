"""The lab camera's ONVIF service on loopback, driven by onvif-zeep-async (fast tier).

The lab tier drives the same code inside the lab's camera hosts; here the operations the lab
tests do not reach are covered: CreateUsers, DeleteUsers, user levels, weak passwords,
GetCapabilities, Set/GetSystemDateAndTime and the UsernameToken freshness check.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from onvif import ONVIFCamera
from zeep.exceptions import Fault

from tests.helpers import ROOT

SOURCE = ROOT / "lab" / "src" / "camops_lab" / "camera_sim" / "camsim.py"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def camsim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ModuleType, int]]:
    port = _free_port()
    config = {
        "id": "unit_cam",
        "name": "Unit camera",
        "manufacturer": "camops-lab",
        "model": "gst-rtsp-sim",
        "firmware": "camsim-1.0",
        "serial": "CAMSIM-UNIT",
        "mac": "02:00:00:00:00:09",
        "rtsp_port": 554,
        "rtsp_path": "/stream1",
        "onvif_port": port,
        "mode": "live",
        "clip": "",
        "factory": {
            "username": "admin",
            "password": "12345",
            "clock_offset_s": 0,
            "encoder": {"width": 640, "height": 360, "fps": 25, "bitrate_kbps": 1024},
        },
    }
    (tmp_path / "camera.json").write_text(json.dumps(config), encoding="utf-8")
    monkeypatch.setenv("CAMSIM_CONFIG", str(tmp_path / "camera.json"))
    monkeypatch.setenv("CAMSIM_STATE", str(tmp_path / "state" / "state.json"))
    spec = importlib.util.spec_from_file_location("camsim_under_test", SOURCE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["camsim_under_test"] = module
    spec.loader.exec_module(module)
    device = module.Device()
    module.load_state(device.config)
    module.Handler.device = device
    server = module.ThreadingHTTPServer(("127.0.0.1", port), module.Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield module, port
    server.shutdown()
    server.server_close()
    del sys.modules["camsim_under_test"]


def call(port: int, user: str, password: str, operation: str, *args: Any) -> Any:
    async def scenario() -> Any:
        camera = ONVIFCamera("127.0.0.1", port, user, password, adjust_time=True)
        try:
            await camera.update_xaddrs()
            device = await camera.create_devicemgmt_service()
            return await getattr(device, operation)(*args)
        finally:
            await camera.close()

    return asyncio.run(scenario())


def test_users_lifecycle(camsim: tuple[ModuleType, int]) -> None:
    _, port = camsim
    call(
        port,
        "admin",
        "12345",
        "CreateUsers",
        {"User": [{"Username": "viewer", "Password": "viewer-pass-1", "UserLevel": "User"}]},
    )
    users = call(port, "admin", "12345", "GetUsers")
    assert [(u.Username, u.UserLevel) for u in users] == [
        ("admin", "Administrator"),
        ("viewer", "User"),
    ]
    # A user-level account may read, not change.
    info = call(port, "viewer", "viewer-pass-1", "GetDeviceInformation")
    assert info.SerialNumber == "CAMSIM-UNIT"
    with pytest.raises(Fault, match="Administrator"):
        call(port, "viewer", "viewer-pass-1", "DeleteUsers", {"Username": ["admin"]})
    call(port, "admin", "12345", "DeleteUsers", {"Username": ["viewer"]})
    assert [u.Username for u in call(port, "admin", "12345", "GetUsers")] == ["admin"]


def test_weak_password_and_last_administrator_are_refused(camsim: tuple[ModuleType, int]) -> None:
    _, port = camsim
    with pytest.raises(Fault, match="8 characters"):
        call(
            port,
            "admin",
            "12345",
            "SetUser",
            {"User": [{"Username": "admin", "Password": "short", "UserLevel": "Administrator"}]},
        )
    with pytest.raises(Fault, match="Administrator must remain"):
        call(port, "admin", "12345", "DeleteUsers", {"Username": ["admin"]})


def test_capabilities_and_clock(camsim: tuple[ModuleType, int]) -> None:
    _, port = camsim
    capabilities = call(port, "admin", "12345", "GetCapabilities", {"Category": "All"})
    assert capabilities.Media.XAddr == f"http://127.0.0.1:{port}/onvif/media_service"
    call(
        port,
        "admin",
        "12345",
        "SetSystemDateAndTime",
        {
            "DateTimeType": "Manual",
            "DaylightSavings": False,
            "UTCDateTime": {
                "Date": {"Year": 2030, "Month": 1, "Day": 2},
                "Time": {"Hour": 3, "Minute": 4, "Second": 5},
            },
        },
    )
    clock = call(port, "admin", "12345", "GetSystemDateAndTime")
    assert clock.UTCDateTime.Date.Year == 2030
    assert clock.DateTimeType == "Manual"
    # NTP brings the clock back (the lab camera reaches its server at once).
    call(
        port,
        "admin",
        "12345",
        "SetNTP",
        {"FromDHCP": False, "NTPManual": [{"Type": "IPv4", "IPv4Address": "10.79.1.2"}]},
    )
    clock = call(port, "admin", "12345", "GetSystemDateAndTime")
    assert clock.DateTimeType == "NTP"
    assert clock.UTCDateTime.Date.Year < 2030


def test_stale_or_forged_tokens_are_refused(camsim: tuple[ModuleType, int]) -> None:
    module, _ = camsim
    device = module.Device()
    state = module.load_state(device.config)
    envelope = (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header>'
        '<Security xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-'
        'secext-1.0.xsd"><UsernameToken><Username>admin</Username>'
        '<Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-'
        'profile-1.0#PasswordDigest">{digest}</Password><Nonce>{nonce}</Nonce>'
        '<Created xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-'
        'utility-1.0.xsd">{created}</Created></UsernameToken></Security></s:Header><s:Body>'
        '<GetUsers xmlns="http://www.onvif.org/ver10/device/wsdl"/></s:Body></s:Envelope>'
    )
    import base64  # noqa: PLC0415
    import hashlib  # noqa: PLC0415

    def token(created: str, password: str) -> bytes:
        nonce = b"0123456789abcdef"
        digest = base64.b64encode(
            hashlib.sha1(nonce + created.encode() + password.encode()).digest()  # noqa: S324
        ).decode()
        return envelope.format(
            digest=digest, nonce=base64.b64encode(nonce).decode(), created=created
        ).encode()

    from datetime import UTC, datetime  # noqa: PLC0415

    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert device.handle(token(now, state["users"][0]["password"]), "127.0.0.1")[0] == 200
    status, body = device.handle(token("2020-01-01T00:00:00Z", "12345"), "127.0.0.1")
    assert status == 400
    assert b"out of range" in body
    status, body = device.handle(token(now, "wrong"), "127.0.0.1")
    assert (status, b"NotAuthorized" in body) == (400, True)


def media_call(port: int, user: str, password: str, operation: str, *args: Any) -> Any:
    async def scenario() -> Any:
        camera = ONVIFCamera("127.0.0.1", port, user, password, adjust_time=True)
        try:
            await camera.update_xaddrs()
            media = await camera.create_media_service()
            return await getattr(media, operation)(*args)
        finally:
            await camera.close()

    return asyncio.run(scenario())


def test_an_outdated_camera_offers_and_accepts_only_its_capabilities(
    camsim: tuple[ModuleType, int],
) -> None:
    module, port = camsim
    current = module.Handler.device.config
    assert module.capabilities(current) == (module.RESOLUTIONS, 30)
    current["capabilities"] = {"resolutions": [[320, 180]], "max_fps": 15}
    options = media_call(
        port,
        "admin",
        "12345",
        "GetVideoEncoderConfigurationOptions",
        {"ConfigurationToken": "vec_main"},
    )
    assert [(r.Width, r.Height) for r in options.H264.ResolutionsAvailable] == [(320, 180)]
    assert (options.H264.FrameRateRange.Min, options.H264.FrameRateRange.Max) == (1, 15)
    configuration = media_call(port, "admin", "12345", "GetProfiles")[0].VideoEncoderConfiguration
    configuration.Resolution.Width, configuration.Resolution.Height = 640, 360
    with pytest.raises(Fault, match="resolution 640x360 not supported"):
        media_call(
            port,
            "admin",
            "12345",
            "SetVideoEncoderConfiguration",
            {"Configuration": configuration, "ForcePersistence": True},
        )
    configuration.Resolution.Width, configuration.Resolution.Height = 320, 180
    configuration.RateControl.FrameRateLimit = 25
    with pytest.raises(Fault, match=r"frame rate 25 not supported \(1-15\)"):
        media_call(
            port,
            "admin",
            "12345",
            "SetVideoEncoderConfiguration",
            {"Configuration": configuration, "ForcePersistence": True},
        )
    configuration.RateControl.FrameRateLimit = 15
    media_call(
        port,
        "admin",
        "12345",
        "SetVideoEncoderConfiguration",
        {"Configuration": configuration, "ForcePersistence": True},
    )
    assert module.load_state(current)["encoder"]["width"] == 320


def test_an_outdated_camera_leaves_the_factory_within_its_capabilities(
    camsim: tuple[ModuleType, int],
) -> None:
    module, _ = camsim
    config = {
        **module.Handler.device.config,
        "capabilities": {"resolutions": [[320, 180]], "max_fps": 15},
    }
    encoder = module.factory_state(config)["encoder"]
    assert (encoder["width"], encoder["height"], encoder["fps"]) == (320, 180, 15)
    assert module.factory_state(module.Handler.device.config)["encoder"]["width"] == 640
