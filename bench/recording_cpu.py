#!/usr/bin/env python3
"""Benchmark: the recorder's ffmpeg stream-copy segmenter, N parallel 1080p streams.

Puts the lab cameras in replay mode (a pre-encoded 1080p H.264 clip, no encoding on the
cameras), runs N segmenters with the recorder agent's own command line on the controller for a
measured period, and prints:

- CPU per stream as % of one core (target <= 0.5 %), from /proc utime + stime;
- bytes written vs the stream's payload (overhead target <= 2 %), from the segment files and
  ffprobe's packet sizes of the same segments.

Asserts nothing. Needs the lab up (`make lab-up`). Restores the cameras to live mode.
Usage: python bench/recording_cpu.py [--streams 16] [--seconds 60]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from infra.lab import lab as lab_module
from infra.lab.clip import ensure_clip
from infra.lab.plan import HostKind
from infra.recording import agent

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


def provision(*extra: str) -> None:
    subprocess.run(  # noqa: S603
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "playbooks/lab_cameras.yml",
            "--skip-tags",
            "validate_inventory",
            "-e",
            "lab_camera_install_packages=false",
            *extra,
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")},
    )


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def payload_bytes(path: Path) -> int:
    out = subprocess.run(  # noqa: S603
        [
            "/usr/bin/ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v",
            "-show_entries",
            "packet=size",
            "-of",
            "csv=p=0",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sum(int(line) for line in out.split() if line.strip().isdigit())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    options = parser.parse_args()

    lab = lab_module.open_lab(str(ROOT / "inventories" / "lab"), ROOT / ".lab")
    cameras = [h for h in lab.plan.hosts if h.kind is HostKind.CAMERA]
    clip = ensure_clip(ROOT / ".lab" / "clips" / "testsrc2-1080p25-4M-60s.mkv", seconds=60)
    provision("-e", "lab_camera_mode=replay", "-e", f"lab_camera_clip_src={clip}")
    workdir = Path(tempfile.mkdtemp(prefix="camops-bench-"))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for index in range(options.streams):
            camera = cameras[index % len(cameras)]
            name = f"bench{index:02d}"
            camera_dir = workdir / name
            camera_dir.mkdir()
            url = f"rtsp://admin:12345@{camera.address}:554/stream1"
            args = agent.ffmpeg_args(url, name, camera_dir, segment_seconds=10)
            processes.append(subprocess.Popen(args, env={**os.environ, "TZ": "UTC"}))  # noqa: S603
        time.sleep(options.warmup)
        before = {p.pid: cpu_seconds(p.pid) for p in processes}
        start = time.monotonic()
        time.sleep(options.seconds)
        wall = time.monotonic() - start
        after = {p.pid: cpu_seconds(p.pid) for p in processes}
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        provision()
    per_stream = [100 * (after[p.pid] - before[p.pid]) / wall for p in processes]
    written = payload = 0
    for camera_dir in sorted(workdir.iterdir()):
        for segment in sorted(camera_dir.glob("*.mkv")):
            written += segment.stat().st_size
            payload += payload_bytes(segment)
    overhead = 100 * (written - payload) / payload if payload else float("nan")
    print(
        f"{options.streams} parallel 1080p25 stream-copy recordings over {wall:.0f}s "
        f"(cameras in replay mode, {len(cameras)} cameras)"
    )
    print(
        f"CPU per stream, % of one core: mean {statistics.mean(per_stream):.2f}, "
        f"max {max(per_stream):.2f} (target <= 0.5)"
    )
    print(
        f"bytes written {written / 1e6:.1f} MB vs stream payload {payload / 1e6:.1f} MB: "
        f"container overhead {overhead:.2f} % (target <= 2)"
    )
    print(f"segments in {workdir} (delete when done)")


if __name__ == "__main__":
    main()
