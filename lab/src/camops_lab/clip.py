"""Pre-encoded H.264 clips for the lab cameras' replay mode (load tests without encoding)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def ensure_clip(
    path: Path,
    *,
    width: int = 1920,
    height: int = 1080,
    fps: int = 25,
    seconds: int = 20,
    bitrate_kbps: int = 4096,
) -> Path:
    """Encode a test clip once with the controller's ffmpeg (Matroska, H.264, no B-frames, a
    key frame every two seconds: what an IP camera sends)."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part.mkv")
    subprocess.run(  # noqa: S603
        [
            "/usr/bin/ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size={width}x{height}:rate={fps}",
            "-t",
            str(seconds),
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-profile:v",
            "main",
            "-pix_fmt",
            "yuv420p",
            "-b:v",
            f"{bitrate_kbps}k",
            "-maxrate",
            f"{bitrate_kbps}k",
            "-bufsize",
            f"{2 * bitrate_kbps}k",
            "-g",
            str(2 * fps),
            "-bf",
            "0",
            "-an",
            str(tmp),
        ],
        check=True,
    )
    tmp.replace(path)
    return path
