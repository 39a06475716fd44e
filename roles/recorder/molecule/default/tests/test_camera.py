"""The lab_camera role (converged in this scenario before the recorder): the simulator runs
from a minimal base, its packages came through the lab proxy."""

from __future__ import annotations

import os
import subprocess
from typing import Any

IP = os.environ.get("CAMOPS_MOLECULE_IP", "10.78.0.200")


def test_service_runs_and_listens(host: Any) -> None:
    assert host.service("camsim").is_running
    assert host.service("camsim").is_enabled
    assert host.socket("tcp://0.0.0.0:554").is_listening
    assert host.socket("tcp://0.0.0.0:8080").is_listening


def test_stream_is_h264_with_factory_credentials() -> None:
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-rtsp_transport",
            "tcp",
            "-show_entries",
            "stream=codec_name",
            "-of",
            "csv=p=0",
            f"rtsp://admin:12345@{IP}:554/stream1",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert probe.stdout.strip() == "h264", probe.stderr
