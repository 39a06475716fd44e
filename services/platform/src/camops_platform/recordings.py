"""The central recorder's segments as the platform reads them (playback and export).

The recorder writes ``<root>/<camera>/<camera>-<YYYYmmddTHHMMSSZ>.mkv`` (ffmpeg's segment muxer,
fixed length, aligned on the clock, the UTC start in the name), lists each closed segment in
``segments.csv`` (name, start, end; emptied when ffmpeg restarts) and seals closed segments into
``manifest-<YYYY-MM-DD>.jsonl`` (name, SHA-256, …). The platform only reads all of that; it never
writes in the recordings root. The segment still being written is never played or exported.

The same naming is ``infra.recording.retention.NAME`` in the ops library; the service is deployed
alone, so it is repeated here.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

CAMERA = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
STEM = re.compile(r"^(?P<camera>[a-z][a-z0-9_]{0,63})-(?P<start>\d{8}T\d{6}Z)$")
EXTENSION = ".mkv"
SEGMENT_LIST = "segments.csv"
FFPROBE = "/usr/bin/ffprobe"
#: How long after its last write an unlisted newest segment counts as closed (beyond its length).
CLOSE_MARGIN = timedelta(seconds=30)
CHUNK = 1 << 20


@dataclass(frozen=True)
class Segment:
    path: Path
    start: datetime
    duration: float  # seconds

    @property
    def stem(self) -> str:
        return self.path.stem

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.duration)


def stem_start(camera: str, stem: str) -> datetime | None:
    """The start of the camera's segment called ``stem``; None unless the name is exactly one."""
    match = STEM.match(stem)
    if match is None or match["camera"] != camera:
        return None
    try:
        return datetime.strptime(match["start"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None  # 20261399T…: the right shape, not a time


def _listed(camera_dir: Path) -> dict[str, float]:
    """Segment name → duration for the segments ffmpeg has closed since it last started."""
    listed: dict[str, float] = {}
    try:
        text = (camera_dir / SEGMENT_LIST).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return listed
    for line in text.splitlines():
        parts = line.rsplit(",", 2)
        if len(parts) == 3:  # name,start,end
            try:
                listed[parts[0]] = max(0.0, float(parts[2]) - float(parts[1]))
            except ValueError:
                continue
    return listed


def sealed(camera_dir: Path, day: str) -> dict[str, str]:
    """Segment name → SHA-256 for the day's sealed segments (the recorder's hash chain)."""
    found: dict[str, str] = {}
    try:
        text = (camera_dir / f"manifest-{day}.jsonl").read_text(encoding="utf-8")
    except OSError:
        return found
    for line in text.splitlines():
        try:
            entry = json.loads(line)
            found[str(entry["segment"])] = str(entry["sha256"])
        except (ValueError, KeyError, TypeError):
            continue
    return found


def probe_duration(path: Path) -> float | None:
    run = subprocess.run(  # noqa: S603  # a fixed program, a path we built
        [FFPROBE, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    try:
        return float(run.stdout.strip()) if run.returncode == 0 else None
    except ValueError:
        return None


def closed_segments(
    root: Path,
    camera: str,
    start: datetime,
    end: datetime,
    *,
    length: timedelta,
    now: datetime,
) -> list[Segment]:
    """The camera's closed segments overlapping [start, end), oldest first.

    A segment is closed when ffmpeg listed it, the recorder sealed it, a later segment exists,
    or nothing has written to it for its length plus a margin. Durations come from ffmpeg's
    list, else from the next segment's start (segments are aligned on the clock), else ffprobe.
    """
    if CAMERA.match(camera) is None:
        return []
    camera_dir = root / camera
    try:
        names = sorted(
            path.name
            for path in camera_dir.iterdir()
            if path.name.endswith(EXTENSION) and path.name.startswith(f"{camera}-")
        )
    except OSError:
        return []
    # Names sort by time: only look at those that may overlap (and the one after, if any).
    low = f"{camera}-{start - length:%Y%m%dT%H%M%SZ}{EXTENSION}"
    high = f"{camera}-{end:%Y%m%dT%H%M%SZ}{EXTENSION}"
    first = bisect.bisect_left(names, low)
    last = bisect.bisect_left(names, high)
    listed = _listed(camera_dir)
    seals: dict[str, dict[str, str]] = {}
    found: list[Segment] = []
    for index in range(first, last):
        name = names[index]
        after = names[index + 1] if index + 1 < len(names) else None
        segment_start = stem_start(camera, name.removesuffix(EXTENSION))
        if segment_start is None:
            continue
        path = camera_dir / name
        day = f"{segment_start:%Y-%m-%d}"
        if day not in seals:
            seals[day] = sealed(camera_dir, day)
        next_start = stem_start(camera, after.removesuffix(EXTENSION)) if after else None
        try:
            quiet = path.stat().st_mtime <= (now - length - CLOSE_MARGIN).timestamp()
        except OSError:
            continue
        if not (name in listed or name in seals[day] or next_start is not None or quiet):
            continue  # still being written
        duration: float | None = listed.get(name)
        if duration is None and next_start is not None and next_start - segment_start <= length:
            duration = (next_start - segment_start).total_seconds()
        if duration is None:
            duration = probe_duration(path) or length.total_seconds()
        segment = Segment(path, segment_start, duration)
        if segment.start < end and segment.end > start:
            found.append(segment)
    return found


def closed_segment(
    root: Path, camera: str, stem: str, *, length: timedelta, now: datetime
) -> Segment | None:
    """The camera's closed segment called ``stem``, or None (bad name, missing, still open)."""
    start = stem_start(camera, stem)
    if start is None:
        return None
    second = timedelta(seconds=1)
    for segment in closed_segments(root, camera, start, start + second, length=length, now=now):
        if segment.stem == stem:
            return segment
    return None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()
