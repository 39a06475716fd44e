#!/usr/bin/env python3
"""Benchmark: the recorder's ffmpeg stream-copy segmenter, N parallel 1080p streams.

Puts the lab cameras in replay mode (a pre-encoded 1080p H.264 clip, no encoding on the
cameras), runs N segmenters with the recorder agent's own command line on the controller for a
measured period, and prints:

- CPU per stream as % of one core (target <= 0.5 %), from /proc utime + stime;
- bytes written vs the stream's payload (overhead target <= 2 %), from the segment files and
  ffprobe's packet sizes of the same segments.

A baseline in the same run: the same streams received and discarded (``-f null``), so the
recorder's own cost (muxing, writing) shows as a ratio. Asserts nothing. Needs the lab up
(`make lab-up`). Restores the cameras to live mode and removes the segments.
Usage: python bench/recording_cpu.py [--streams 16] [--seconds 60]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from camops_lab import lab as lab_module
from camops_lab.clip import ensure_clip
from camops_lab.plan import HostKind
from camops_recorder import agent

ROOT = Path(__file__).resolve().parent.parent
CLIP_MBPS = 4.0  # testsrc2-1080p25-4M
TICKS = os.sysconf("SC_CLK_TCK")


def provision(lab: lab_module.Lab, *extra: str) -> None:
    lab_module.run_camera_playbook(lab, *extra, cwd=ROOT).check_returncode()


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


def received() -> dict[int, int]:
    """Bytes received on TCP sockets, per process (``ss``): what the cameras delivered."""
    lines = subprocess.run(
        ["ss", "-Htinp"],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    found: dict[int, int] = {}
    pid = None
    for line in lines:
        owner = re.search(r"pid=(\d+)", line)
        if owner:
            pid = int(owner.group(1))
            continue
        got = re.search(r"bytes_received:(\d+)", line)
        if got and pid is not None:
            found[pid] = found.get(pid, 0) + int(got.group(1))
            pid = None
    return found


@dataclass
class Measure:
    cpu: list[float]  # % of one core, per process
    mbps: list[float]  # received Mbit/s, per process
    wall: float


def measure(commands: list[tuple[list[str], bytes]], warmup: int, seconds: int) -> Measure:
    """CPU % of one core and received rate of each command (its arguments, and its stdin: the
    stream's address, as the recorder gives it) over ``seconds`` after ``warmup``."""
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for args, stdin in commands:
            process = subprocess.Popen(  # noqa: S603
                args,
                env={**os.environ, "TZ": "UTC"},
                stdin=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            if process.stdin is not None:  # always: stdin=PIPE
                process.stdin.write(stdin)
                process.stdin.close()
            processes.append(process)
        time.sleep(warmup)
        got = received()
        before = {p.pid: (cpu_seconds(p.pid), got.get(p.pid, 0)) for p in processes}
        start = time.monotonic()
        time.sleep(seconds)
        wall = time.monotonic() - start
        got = received()
        after = {p.pid: (cpu_seconds(p.pid), got.get(p.pid, 0)) for p in processes}
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
    return Measure(
        cpu=[100 * (after[p.pid][0] - before[p.pid][0]) / wall for p in processes],
        mbps=[8 * (after[p.pid][1] - before[p.pid][1]) / wall / 1e6 for p in processes],
        wall=wall,
    )


def receive_only(url: str) -> tuple[list[str], bytes]:
    """Baseline: the same RTSP input read and thrown away (no muxing, no disk)."""
    args = agent.ffmpeg_args("baseline", Path("/nonexistent"), 10)
    output = args.index("-map")
    return [*args[:output], "-map", "0:v:0", "-f", "null", "-"], agent.input_list(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    options = parser.parse_args()

    lab = lab_module.open_lab(str(ROOT / "inventories" / "lab"), ROOT / ".lab")
    cameras = [h for h in lab.plan.hosts if h.kind is HostKind.CAMERA]
    clip = ensure_clip(ROOT / ".lab" / "clips" / "testsrc2-1080p25-4M-60s.mkv", seconds=60)
    provision(lab, "-e", "lab_camera_mode=replay", "-e", f"lab_camera_clip_src={clip}")
    workdir = Path(tempfile.mkdtemp(prefix="camops-bench-"))
    urls = [
        f"rtsp://admin:12345@{cameras[i % len(cameras)].address}:554/stream1"
        for i in range(options.streams)
    ]
    recorders = []
    for index, url in enumerate(urls):
        camera_dir = workdir / f"bench{index:02d}"
        camera_dir.mkdir()
        recorders.append(
            (agent.ffmpeg_args(camera_dir.name, camera_dir, 10), agent.input_list(url))
        )
    try:
        recorded = measure(recorders, options.warmup, options.seconds)
        time.sleep(options.warmup)  # let the cameras end the recorders' sessions
        baseline = measure([receive_only(u) for u in urls], options.warmup, options.seconds)
    finally:
        provision(lab)
    written = payload = 0
    for camera_dir in sorted(workdir.iterdir()):
        for segment in sorted(camera_dir.glob("*.mkv")):
            written += segment.stat().st_size
            payload += payload_bytes(segment)
    overhead = 100 * (written - payload) / payload if payload else float("nan")
    mean, base = statistics.mean(recorded.cpu), statistics.mean(baseline.cpu)
    rate, base_rate = statistics.mean(recorded.mbps), statistics.mean(baseline.mbps)
    print(
        f"{options.streams} parallel 1080p25 stream-copy recordings over {recorded.wall:.0f}s "
        f"(cameras in replay mode, {len(cameras)} cameras)"
    )
    print(
        f"CPU per stream, % of one core: mean {mean:.2f}, max {max(recorded.cpu):.2f} "
        f"(target <= 0.5) at {rate:.2f} Mbit/s received per stream (clip: {CLIP_MBPS:g})"
    )
    print(
        f"baseline, RTSP receive only (-f null), same streams: mean {base:.2f} % at "
        f"{base_rate:.2f} Mbit/s; recorder / baseline = {mean / base:.2f}"
    )
    if min(rate, base_rate) < 0.9 * CLIP_MBPS:
        print(
            "WARNING: the cameras delivered less than 90 % of the clip's rate (a loaded "
            "machine): the CPU figures are too low; run again with fewer streams or a quiet lab"
        )
    print(
        f"bytes written {written / 1e6:.1f} MB vs stream payload {payload / 1e6:.1f} MB: "
        f"container overhead {overhead:.2f} % (target <= 2)"
    )
    shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
