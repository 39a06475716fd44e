"""Tamper-evident segment manifests: a SHA-256 hash chain per camera (R5).

Standard library only: the same file runs on the NVR and central recorders (sealing closed
segments) and in the ops library (``camops audit chain``).

A manifest is one JSON object per line, one file per camera per UTC day
(``<camera>/manifest-<YYYY-MM-DD>.jsonl``). Each entry names a closed segment, its size and
SHA-256, its start time, and the hash of the previous entry (the previous day's last entry for
a day's first; a genesis value for the camera's first). The entry's own hash covers all of it,
so removing, altering, inserting or reordering a segment or an entry breaks the chain at that
point. Segments deleted by the retention sweeper are listed in ``swept.jsonl`` with the hash they
had; the audit accepts them only once they are past retention.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from camops_recorder.segments import sha256_file

SWEPT = "swept.jsonl"


def genesis(camera: str) -> str:
    return hashlib.sha256(f"camops-chain:{camera}".encode()).hexdigest()


def entry_hash(entry: dict[str, Any]) -> str:
    body = {key: value for key, value in entry.items() if key != "hash"}
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def manifest_path(camera_dir: Path, day: str) -> Path:
    return camera_dir / f"manifest-{day}.jsonl"


def read_entries(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def manifests(camera_dir: Path) -> list[Path]:
    return sorted(camera_dir.glob("manifest-*.jsonl"))


def last_entry(camera_dir: Path) -> dict[str, Any] | None:
    for path in reversed(manifests(camera_dir)):
        entries = read_entries(path)
        if entries:
            return entries[-1]
    return None


def timestamp(moment: datetime) -> str:
    """How entries write a segment's start (UTC, seconds): sortable as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def seal(camera: str, camera_dir: Path, segment: Path, start: datetime) -> dict[str, Any]:
    """Append a closed segment to the camera's chain (idempotent for a segment already sealed)."""
    day = start.astimezone(UTC).strftime("%Y-%m-%d")
    path = manifest_path(camera_dir, day)
    relative = str(segment.relative_to(camera_dir))
    for existing in read_entries(path):
        if existing["segment"] == relative:
            return existing
    previous = last_entry(camera_dir)
    entry: dict[str, Any] = {
        "camera": camera,
        "seq": (previous["seq"] + 1) if previous else 0,
        "segment": relative,
        "start": timestamp(start),
        "size": segment.stat().st_size,
        "sha256": sha256_file(segment),
        "prev": previous["hash"] if previous else genesis(camera),
    }
    entry["hash"] = entry_hash(entry)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return entry


def record_swept(camera_dir: Path, entry: dict[str, Any], when: datetime) -> None:
    with (camera_dir / SWEPT).open("a", encoding="utf-8") as handle:
        line = {
            "segment": entry["segment"],
            "sha256": entry["sha256"],
            "swept": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        handle.write(json.dumps(line, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def swept(camera_dir: Path) -> dict[str, str]:
    return {line["segment"]: line["sha256"] for line in read_entries(camera_dir / SWEPT)}


@dataclass(frozen=True)
class Break:
    """The first broken link of a chain: where, and what is wrong."""

    manifest: str
    seq: int | None
    segment: str | None
    reason: str

    def line(self) -> str:
        where = f"{self.manifest}"
        if self.seq is not None:
            where += f" entry {self.seq}"
        if self.segment:
            where += f" ({self.segment})"
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class ChainReport:
    camera: str
    entries: int
    expired: int
    broken: Break | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def _iter_entries(camera_dir: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in manifests(camera_dir):
        for entry in read_entries(path):
            yield path, entry


@dataclass
class _Walk:
    """Where the walk along a chain stands."""

    previous_hash: str
    previous_seq: int = -1
    previous_start: str = ""


EXPIRED = "expired"


def _check(
    entry: dict[str, Any],
    walk: _Walk,
    stored_hash: str | None,
    swept_hash: str | None,
    oldest_allowed: datetime,
) -> str | None:
    """Why this entry breaks the chain; ``EXPIRED`` for a segment swept after retention."""
    checks: list[tuple[Callable[[], bool], str]] = [
        (
            lambda: entry.get("hash") != entry_hash(entry),
            "entry altered: its hash does not match its content",
        ),
        (
            lambda: entry.get("prev") != walk.previous_hash,
            "chain broken: the previous entry was removed, altered or reordered",
        ),
        (
            lambda: entry.get("seq") != walk.previous_seq + 1,
            f"sequence jumps from {walk.previous_seq} to {entry.get('seq')}",
        ),
        (lambda: str(entry.get("start")) < walk.previous_start, "segments out of order"),
    ]
    for failed, reason in checks:
        if failed():
            return reason
    if stored_hash is None:
        started = datetime.strptime(str(entry["start"]), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        if swept_hash == entry.get("sha256") and started < oldest_allowed:
            return EXPIRED
        return "segment missing (deleted before its retention ended)"
    if stored_hash != entry.get("sha256"):
        return "segment altered: its SHA-256 differs from the manifest"
    return None


def verify(
    camera: str,
    camera_dir: Path,
    retention: timedelta,
    now: datetime,
    segment_hash: Callable[[str], str | None] | None = None,
) -> ChainReport:
    """Walk the chain; return the first broken link, if any.

    ``segment_hash(relative_name)`` reads a stored segment's SHA-256 (None when absent); by
    default the segment file under ``camera_dir``. A missing segment is accepted only if the
    sweeper recorded it and it is past retention.
    """

    def local_hash(relative: str) -> str | None:
        path = camera_dir / relative
        return sha256_file(path) if path.exists() else None

    entries = ((path.name, entry) for path, entry in _iter_entries(camera_dir))
    return verify_entries(
        camera,
        entries,
        segment_hash or local_hash,
        swept(camera_dir),
        retention=retention,
        now=now,
    )


def verify_entries(
    camera: str,
    entries: Iterable[tuple[str, dict[str, Any]]],
    segment_hash: Callable[[str], str | None],
    gone: dict[str, str],
    *,
    retention: timedelta,
    now: datetime,
) -> ChainReport:
    """Walk (source name, entry) pairs in order, wherever they were read from (disk, S3).

    ``gone`` maps the segments that may be missing (deleted by a sweeper) to the hash they
    had; a missing segment is accepted only if it is listed there and past retention.
    """
    walk = _Walk(genesis(camera))
    count = expired = 0
    for source, entry in entries:
        segment = str(entry.get("segment", ""))
        reason = _check(entry, walk, segment_hash(segment), gone.get(segment), now - retention)
        if reason == EXPIRED:
            expired += 1
        elif reason is not None:
            where = Break(source, entry.get("seq"), segment, reason)
            return ChainReport(camera, count, expired, where)
        walk = _Walk(str(entry["hash"]), int(entry["seq"]), str(entry["start"]))
        count += 1
    return ChainReport(camera, count, expired, None)
