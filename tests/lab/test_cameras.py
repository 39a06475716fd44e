"""Simulated cameras: H.264 over RTSP with digest auth, ONVIF driven by a third-party client."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from onvif import ONVIFCamera
from zeep.exceptions import Fault

from camops_lab import lab as lab_module
from camops_lab.plan import LabHost
from tests.lab.conftest import cameras, ffprobe, rtsp_url, ssh, stream

FACTORY = ("admin", "12345")


def test_every_camera_streams_h264_with_its_credentials(lab: lab_module.Lab) -> None:
    for host in cameras(lab):
        info = stream(rtsp_url(host, *FACTORY))
        assert info["codec_name"] == "h264", host.name
        facility = lab.inventory.facility(host.facility or "")
        model = next(c.model for c in facility.cameras if c.id == host.camera_id)
        # The outdated model's hardware cannot do more than 320x180 (lab_module.LAB_CAMERA_MODELS).
        expected = (320, 180) if model in lab_module.LAB_CAMERA_MODELS else (640, 360)
        assert (info["width"], info["height"]) == expected, host.name


def test_wrong_credentials_are_refused(lab: lab_module.Lab) -> None:
    for host in cameras(lab):
        run = ffprobe(rtsp_url(host, "admin", "not-the-password"))
        assert run.returncode != 0
        assert "401" in run.stderr


async def _onvif(host: LabHost, user: str, password: str) -> ONVIFCamera:
    camera = ONVIFCamera(str(host.address), 8080, user, password, adjust_time=True)
    await camera.update_xaddrs()
    return camera


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.mark.usefixtures("factory_reset")
def test_onvif_client_reads_the_camera_and_changes_the_password(lab: lab_module.Lab) -> None:
    host = lab.plan.host("north_cam02")
    new_password = "Lab-Pass-2026!"
    # A camera as it leaves the factory (the lab gives cameras their vault credential too).
    assert ssh(lab, host, "sudo camsim factory-reset").returncode == 0

    async def scenario() -> dict[str, Any]:
        camera = await _onvif(host, *FACTORY)
        try:
            device = await camera.create_devicemgmt_service()
            info = await device.GetDeviceInformation()
            media = await camera.create_media_service()
            profiles = await media.GetProfiles()
            token = profiles[0].token
            uri = await media.GetStreamUri(
                {
                    "StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
                    "ProfileToken": token,
                }
            )
            users = await device.GetUsers()
            await device.SetUser(
                {
                    "User": [
                        {
                            "Username": "admin",
                            "Password": new_password,
                            "UserLevel": "Administrator",
                        }
                    ]
                }
            )
            return {"info": info, "profiles": profiles, "uri": uri.Uri, "users": users}
        finally:
            await camera.close()

    result = run(scenario())
    assert result["info"].Manufacturer == "camops-lab"
    assert result["info"].HardwareId == "north_cam02"
    encoder = result["profiles"][0].VideoEncoderConfiguration
    assert (encoder.Encoding, encoder.Resolution.Width) == ("H264", 640)
    assert result["uri"] == f"rtsp://{host.address}:554/stream1"
    assert [u.Username for u in result["users"]] == ["admin"]

    # The RTSP server now accepts only the new password.
    refused = ffprobe(rtsp_url(host, *FACTORY))
    assert refused.returncode != 0
    assert "401" in refused.stderr
    assert stream(rtsp_url(host, "admin", new_password))["codec_name"] == "h264"


def test_onvif_refuses_a_wrong_password(lab: lab_module.Lab) -> None:
    host = lab.plan.host("north_cam01")

    async def scenario() -> None:
        camera = await _onvif(host, "admin", "wrong-password")
        try:
            device = await camera.create_devicemgmt_service()
            await device.GetDeviceInformation()
        finally:
            await camera.close()

    with pytest.raises(Fault, match="not authorized"):
        run(scenario())


@pytest.mark.usefixtures("factory_reset")
def test_settings_persist_across_a_camera_restart(lab: lab_module.Lab) -> None:
    host = lab.plan.host("south_cam01")

    async def configure() -> None:
        camera = await _onvif(host, *FACTORY)
        try:
            media = await camera.create_media_service()
            config = (await media.GetVideoEncoderConfigurations())[0]
            config.RateControl.FrameRateLimit = 10
            config.RateControl.BitrateLimit = 384
            await media.SetVideoEncoderConfiguration(
                {"Configuration": config, "ForcePersistence": True}
            )
            device = await camera.create_devicemgmt_service()
            await device.SetNTP(
                {"FromDHCP": False, "NTPManual": [{"Type": "IPv4", "IPv4Address": "10.79.2.2"}]}
            )
        finally:
            await camera.close()

    async def read() -> tuple[Any, Any]:
        camera = await _onvif(host, *FACTORY)
        try:
            media = await camera.create_media_service()
            device = await camera.create_devicemgmt_service()
            return (await media.GetVideoEncoderConfigurations())[0], await device.GetNTP()
        finally:
            await camera.close()

    run(configure())
    restart = ssh(lab, host, "sudo systemctl restart camsim")
    assert restart.returncode == 0, restart.stderr
    config, ntp = _retry(lambda: run(read()))
    assert config.RateControl.FrameRateLimit == 10
    assert ntp.NTPManual[0].IPv4Address == "10.79.2.2"
    assert stream(rtsp_url(host, *FACTORY))["r_frame_rate"] == "10/1"


def _retry(action: Any, attempts: int = 20) -> Any:
    import time  # noqa: PLC0415

    for _ in range(attempts - 1):
        try:
            return action()
        except Exception:  # the service is restarting
            time.sleep(0.5)
    return action()
