"""Real recordings for the playback and export tests: short H.264 Matroska segments made by
ffmpeg, named and listed the way the central recorder names and lists them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

FFMPEG = "/usr/bin/ffmpeg"
FFPROBE = "/usr/bin/ffprobe"
#: The tests' segment length (the recorder's is 60 s); what the app is told.
SEGMENT_SECONDS = 3
LENGTH = timedelta(seconds=SEGMENT_SECONDS)
START = datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)


def make_segment(path: Path, title: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            FFMPEG,
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"testsrc=size=320x240:rate=10:duration={SEGMENT_SECONDS}",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-g",
            "10",
            "-metadata",
            f"title={title}",
            "-f",
            "matroska",
            str(path),
        ],
        check=True,
    )


def iso(moment: datetime) -> str:
    """A query or body timestamp as a client sends it (UTC, ``Z``)."""
    return moment.isoformat().replace("+00:00", "Z")


def stem(camera: str, start: datetime) -> str:
    return f"{camera}-{start:%Y%m%dT%H%M%SZ}"


def record(
    library: Path,
    root: Path,
    camera: str,
    starts: list[datetime],
    *,
    listed: int = 0,
    old: bool = True,
) -> list[Path]:
    """Segments starting at ``starts`` in ``<root>/<camera>/``; the first ``listed`` of them in
    ``segments.csv`` as ffmpeg lists closed ones. Old files look closed by their age; the newest
    one is left fresh unless ``old`` is set for all (then it is still "being written")."""
    paths = []
    lines = []
    for index, start in enumerate(starts):
        name = stem(camera, start)
        source = library / f"{name}.mkv"
        if not source.exists():
            make_segment(source, name)
        path = root / camera / f"{name}.mkv"
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, path)
        if old or index < len(starts) - 1:
            stamp = (datetime.now(UTC) - timedelta(hours=1)).timestamp()
            os.utime(path, (stamp, stamp))
        if index < listed:
            offset = index * SEGMENT_SECONDS
            lines.append(f"{path.name},{offset}.000000,{offset + SEGMENT_SECONDS}.000000")
        paths.append(path)
    if lines:
        (root / camera / "segments.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths


def probe(path: Path) -> dict[str, Any]:
    run = subprocess.run(
        [FFPROBE, "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(run.stdout)
    return result
