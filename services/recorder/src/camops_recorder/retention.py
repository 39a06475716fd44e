"""Retention that proves itself (R4): the sweeper, capacity forecast and gap report.

Standard library only: the same file runs on recorders (the sweeper timer) and in the ops
library (``camops audit retention``).

Segments live at ``<root>/<camera>/<camera>-<YYYYmmddTHHMMSSZ>.<ext>`` (ffmpeg's segment muxer
writes them there; the manifests sit beside them); the start time is in the name, so no clock
but the caller's ``now`` decides what is old. The sweeper deletes a segment only when all of it
is older than the retention period — never a younger one, whatever the disk state. When the
disk cannot hold the retention period at the recent daily volume, it reports the risk (metric
and log) instead of deleting early.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from camops_recorder import chain
from camops_recorder.segments import parse_start, sha256_file

DAY = timedelta(days=1)


@dataclass(frozen=True)
class Segment:
    camera: str
    path: Path
    start: datetime
    size: int

    def end(self, length: timedelta) -> datetime:
        return self.start + length


def segments(camera_dir: Path) -> list[Segment]:
    """The camera's segment files, oldest first (files not named as segments are ignored)."""
    found = []
    for path in camera_dir.iterdir():
        start = parse_start(path.name)
        if start is not None and path.is_file():
            found.append(Segment(camera_dir.name, path, start, path.stat().st_size))
    return sorted(found, key=lambda segment: segment.start)


def cameras(root: Path) -> list[Path]:
    return sorted(path for path in root.iterdir() if path.is_dir()) if root.exists() else []


def is_expired(segment: Segment, retention: timedelta, length: timedelta, now: datetime) -> bool:
    """All of the segment is older than the retention period."""
    return segment.end(length) <= now - retention


@dataclass(frozen=True)
class Capacity:
    bytes_per_day: float
    needed: float  # bytes for the retention period at that rate
    available: float  # bytes recordings may use: what they use now + free space
    at_risk: bool


def capacity(
    all_segments: list[Segment],
    retention: timedelta,
    now: datetime,
    free_bytes: int,
    window: timedelta = 2 * DAY,
) -> Capacity:
    """Can the disk hold the retention period at the volume of the last ``window``?"""
    recent = [s for s in all_segments if s.start >= now - window]
    if recent:
        span = max(now - min(s.start for s in recent), timedelta(hours=1))
        rate = sum(s.size for s in recent) / (span / DAY)
    else:
        rate = 0.0
    needed = rate * (retention / DAY)
    available = sum(s.size for s in all_segments) + free_bytes
    return Capacity(rate, needed, available, needed > available)


@dataclass
class SweepReport:
    deleted: list[Path] = field(default_factory=list)
    kept: int = 0
    oldest: dict[str, datetime] = field(default_factory=dict)
    capacity: Capacity | None = None


def sweep(
    root: Path,
    retention: timedelta,
    length: timedelta,
    now: datetime,
    *,
    dry_run: bool = False,
    disk_free: Callable[[Path], int] = lambda path: shutil.disk_usage(path).free,
) -> SweepReport:
    """Delete the segments past retention, and only those; record each in the camera's
    ``swept.jsonl`` with the hash its manifest gave it."""
    report = SweepReport()
    everything: list[Segment] = []
    for camera_dir in cameras(root):
        sealed = {
            entry["segment"]: entry
            for path in chain.manifests(camera_dir)
            for entry in chain.read_entries(path)
        }
        for segment in segments(camera_dir):
            if is_expired(segment, retention, length, now):
                if not dry_run:
                    relative = str(segment.path.relative_to(camera_dir))
                    entry = sealed.get(relative) or {
                        "segment": relative,
                        "sha256": sha256_file(segment.path),
                    }
                    chain.record_swept(camera_dir, entry, now)
                    segment.path.unlink()
                report.deleted.append(segment.path)
            else:
                report.kept += 1
                everything.append(segment)
                report.oldest.setdefault(segment.camera, segment.start)
    if root.exists():
        report.capacity = capacity(everything, retention, now, disk_free(root))
    return report


@dataclass(frozen=True)
class Gap:
    camera: str
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class CameraRetention:
    camera: str
    segments: int
    oldest: datetime | None
    newest: datetime | None
    bytes: int
    gaps: list[Gap]

    def oldest_age(self, now: datetime) -> timedelta | None:
        return now - self.oldest if self.oldest else None


def camera_retention(
    camera_dir: Path, length: timedelta, tolerance: timedelta = timedelta(seconds=5)
) -> CameraRetention:
    """Oldest and newest recording and every gap longer than one segment plus tolerance."""
    found = segments(camera_dir)
    gaps = [
        Gap(camera_dir.name, before.end(length), after.start)
        for before, after in itertools.pairwise(found)
        if after.start - before.end(length) > tolerance
    ]
    return CameraRetention(
        camera=camera_dir.name,
        segments=len(found),
        oldest=found[0].start if found else None,
        newest=found[-1].start if found else None,
        bytes=sum(s.size for s in found),
        gaps=gaps,
    )
