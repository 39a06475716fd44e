"""The central recorder's segments as the platform reads them (playback and export).

The recording format (names, the segment list, the day manifests, hashing) is the recorder's:
:mod:`camops_recorder.segments` and :mod:`camops_recorder.chain`, imported here, never repeated.
The platform only reads the recordings root; it never writes in it. The segment still being
written is never played or exported.
"""

from __future__ import annotations

import bisect
import json
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from camops_recorder import chain
from camops_recorder.segments import CAMERA, EXTENSION, listed, sha256_file, stem_start

__all__ = ["Segment", "closed_segment", "closed_segments", "sealed", "sha256_file"]

FFPROBE = "/usr/bin/ffprobe"
#: How long after its last write an unlisted newest segment counts as closed (beyond its length).
CLOSE_MARGIN = timedelta(seconds=30)


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


def sealed(camera_dir: Path, day: str) -> dict[str, str]:
    """Segment name → SHA-256 for the day's sealed segments (the recorder's hash chain).

    Lines that cannot be read (a line the recorder is still writing) are skipped.
    """
    found: dict[str, str] = {}
    try:
        text = chain.manifest_path(camera_dir, day).read_text(encoding="utf-8")
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
    listed_now = listed(camera_dir)
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
        if not (name in listed_now or name in seals[day] or next_start is not None or quiet):
            continue  # still being written
        duration: float | None = listed_now.get(name)
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
