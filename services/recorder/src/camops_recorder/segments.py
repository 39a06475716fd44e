"""The recording format: where segments are, what they are called, how they are hashed.

The one implementation for every reader — the agent (recording, sealing, retention, upload),
the platform (playback, export) and the ops library (``camops audit``).

The recorder writes ``<root>/<camera>/<camera>-<YYYYmmddTHHMMSSZ>.mkv`` (ffmpeg's segment muxer,
fixed length, aligned on the clock, the UTC start in the name), lists each segment ffmpeg has
closed in ``segments.csv`` (``name,start,end`` in seconds; emptied when ffmpeg restarts) and seals
closed segments into ``manifest-<YYYY-MM-DD>.jsonl`` (:mod:`camops_recorder.chain`). Older
recordings may be ``.mp4`` or ``.ts``: they are segments too (retention, audit), but only
``.mkv`` is played or exported.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path

#: A camera id as the model allows it (and a folder name under the recordings root).
CAMERA = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
#: What the recorder writes now.
EXTENSION = ".mkv"
#: A segment's file name: the camera, its UTC start, a container.
NAME = re.compile(
    r"^(?P<camera>[a-z][a-z0-9_]{0,63})-(?P<start>\d{8}T\d{6}Z)\.(?P<ext>mkv|mp4|ts)$"
)
#: The start in a name (strftime/strptime; also ffmpeg's ``-strftime`` pattern).
START_FORMAT = "%Y%m%dT%H%M%SZ"
#: ffmpeg's list of the segments it has closed since it started.
SEGMENT_LIST = "segments.csv"
CHUNK = 1 << 20


def ffmpeg_pattern(camera_dir: Path, camera: str) -> str:
    """The output name ffmpeg's segment muxer expands (``-strftime 1``)."""
    return str(camera_dir / f"{camera}-{START_FORMAT}{EXTENSION}")


def name(camera: str, start: datetime, extension: str = EXTENSION) -> str:
    """The file name of the camera's segment that starts at ``start``."""
    return f"{camera}-{start.astimezone(UTC):{START_FORMAT}}{extension}"


def _start(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, START_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None  # 20261399T…: the right shape, not a time


def parse(file_name: str) -> tuple[str, datetime] | None:
    """(camera, start) of a segment's file name; None unless it is exactly one."""
    match = NAME.match(file_name)
    if match is None:
        return None
    start = _start(match["start"])
    return None if start is None else (match["camera"], start)


def parse_start(file_name: str) -> datetime | None:
    """The start of the segment called ``file_name``; None unless it is exactly one."""
    parsed = parse(file_name)
    return None if parsed is None else parsed[1]


def stem_start(camera: str, stem: str) -> datetime | None:
    """The start of the camera's ``.mkv`` segment called ``stem`` (no extension), or None."""
    parsed = parse(stem + EXTENSION)
    if parsed is None or parsed[0] != camera:
        return None
    return parsed[1]


def listed(camera_dir: Path) -> dict[str, float]:
    """Segment name → duration for the segments ffmpeg has closed since it last started.

    Lines that cannot be read (a torn last line while ffmpeg writes) are skipped.
    """
    found: dict[str, float] = {}
    try:
        text = (camera_dir / SEGMENT_LIST).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return found
    for line in text.splitlines():
        parts = line.rsplit(",", 2)
        if len(parts) == 3:  # name,start,end
            try:
                found[parts[0]] = max(0.0, float(parts[2]) - float(parts[1]))
            except ValueError:
                continue
    return found


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MiB blocks (what a manifest entry records)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()
