"""Replay mode: a pre-encoded 1080p clip served as it is — no encoding on the camera. Cost: ~1 min
(the camera provisioned twice, 12 s of stream)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from camops_lab import lab as lab_module
from camops_lab.clip import ensure_clip
from tests.helpers import INVENTORIES, ROOT
from tests.lab.conftest import rtsp_url, ssh, stream

BIN = Path(sys.executable).parent


def provision(camera: str, *extra: str) -> None:
    run = subprocess.run(
        [
            str(BIN / "ansible-playbook"),
            "playbooks/lab_cameras.yml",
            "-i",
            str(INVENTORIES / "lab"),
            "-l",
            camera,
            # The inventory was validated by `lab up`, as camops lab up skips it too.
            "--skip-tags",
            "validate_inventory",
            *extra,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        env={
            **os.environ,
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_VAULT_PASSWORD_FILE": str(ROOT / ".lab" / "vault-pass"),
        },
    )
    assert run.returncode == 0, run.stdout[-3000:]


def stream_seconds(url: str, seconds: int) -> float:
    """Stream time ffmpeg reads in ``seconds`` of stream, copying (no decoding)."""
    run = subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-rtsp_transport",
            "tcp",
            "-i",
            url,
            "-t",
            str(seconds),
            "-c",
            "copy",
            "-f",
            "null",
            "-",
            "-progress",
            "pipe:1",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=seconds + 30,
    )
    assert run.returncode == 0, run.stderr
    times = [
        line.split("=")[1] for line in run.stdout.splitlines() if line.startswith("out_time_us=")
    ]
    return int(times[-1]) / 1e6


def test_replay_serves_the_clip_without_encoding(lab: lab_module.Lab) -> None:
    clip = ensure_clip(ROOT / ".lab" / "clips" / "testsrc2-1080p25-4M-8s.mkv", seconds=8)
    host = lab.plan.host("south_cam03")
    try:
        provision(host.name, "-e", "lab_camera_mode=replay", "-e", f"lab_camera_clip_src={clip}")
        info = stream(rtsp_url(host, "admin", "12345"))
        assert info["codec_name"] == "h264"
        assert (info["width"], info["height"]) == (1920, 1080)
        # No encoder in the camera's process: libx264 is never loaded.
        maps = ssh(lab, host, "sudo cat /proc/$(systemctl show -p MainPID --value camsim)/maps")
        assert maps.returncode == 0, maps.stderr
        assert "libx264" not in maps.stdout
        # The 8 s clip loops without a gap: 12 s of stream (the clip and half of it again)
        # with increasing timestamps.
        assert stream_seconds(rtsp_url(host, "admin", "12345"), 12) >= 11.5
    finally:
        provision(host.name)
    live = stream(rtsp_url(host, "admin", "12345"))
    assert (live["width"], live["height"]) == (640, 360)
