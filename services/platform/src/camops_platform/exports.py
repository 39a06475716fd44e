"""Recording exports (R5): a time range of one camera, with the approval that allows it.

The range's closed segments are joined by ffmpeg (concat demuxer, stream copy: no re-encoding)
into one Matroska file, beside a JSON manifest that lists every source segment with its SHA-256
(and the hash the recorder sealed, which must match). Files are written under a temporary name
and renamed when complete. Every step is audited with the approval reference.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from camops_platform import audit, recordings

FFMPEG = "/usr/bin/ffmpeg"
MAX_RANGE = timedelta(hours=24)
APPROVAL_MIN = 5
APPROVAL_MAX = 200


def approval_problem(reference: str | None) -> str:
    """Why this is not an approval reference (naming the field); empty when it can be one."""
    text = (reference or "").strip()
    if not text:
        return (
            "approval_ref: the reference of the Provincial People's Committee's written "
            "approval is required (R5), e.g. 123/UBND-VX"
        )
    if len(text) < APPROVAL_MIN or not re.search(r"\d", text):
        return (
            f"approval_ref: {text!r} is too short to be a document reference (at least "
            f"{APPROVAL_MIN} characters with its number, e.g. 123/UBND-VX)"
        )
    if len(text) > APPROVAL_MAX:
        return f"approval_ref: at most {APPROVAL_MAX} characters"
    return ""


@dataclass(frozen=True)
class Settings:
    recordings: Path
    exports: Path
    length: timedelta


def _concat_list(segments: list[recordings.Segment]) -> str:
    lines = ["ffconcat version 1.0"]
    for segment in segments:
        quoted = str(segment.path).replace("'", "'\\''")
        lines.append(f"file '{quoted}'")
    return "\n".join(lines) + "\n"


def _join(segments: list[recordings.Segment], target: Path) -> None:
    """The segments, in order, as one Matroska file (stream copy)."""
    with tempfile.NamedTemporaryFile("w", suffix=".ffconcat", encoding="utf-8") as listing:
        listing.write(_concat_list(segments))
        listing.flush()
        run = subprocess.run(  # noqa: S603  # a fixed program and arguments we built
            [
                FFMPEG,
                "-nostdin",
                "-hide_banner",
                "-loglevel",
                "error",
                "-f",
                "concat",
                "-safe",
                "0",
                "-i",
                listing.name,
                "-map",
                "0:v:0",
                "-c",
                "copy",
                "-f",
                "matroska",
                "-y",
                str(target),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    if run.returncode != 0:
        raise ExportError(f"ffmpeg failed: {run.stderr.strip()[-500:]}")


class ExportError(Exception):
    """The export could not be produced; the message says why."""


def _source(segment: recordings.Segment) -> dict[str, Any]:
    digest = recordings.sha256_file(segment.path)
    seal = recordings.sealed(segment.path.parent, f"{segment.start:%Y-%m-%d}")
    sealed = seal.get(segment.path.name)
    if sealed is not None and sealed != digest:
        raise ExportError(
            f"segment {segment.path.name} differs from the hash the recorder sealed; "
            "it was altered after recording (see camops audit chain)"
        )
    return {
        "segment": segment.path.name,
        "start": segment.start.isoformat(),
        "duration": round(segment.duration, 3),
        "size": segment.path.stat().st_size,
        "sha256": digest,
        "sealed_sha256": sealed,
    }


def claim(conn: psycopg.Connection[Any], request_id: int) -> dict[str, Any] | None:
    """Take a request nobody has started on (one producer per request, whatever the workers)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "UPDATE export_requests r SET started_at = now() FROM accounts a"
            " WHERE r.id = %s AND a.id = r.account_id AND r.status = 'requested'"
            " AND r.started_at IS NULL RETURNING r.*, a.email",
            (request_id,),
        ).fetchone()


def unstarted(conn: psycopg.Connection[Any]) -> list[int]:
    """Requests accepted but never started (the service stopped before their turn)."""
    return [
        int(row[0])
        for row in conn.execute(
            "SELECT id FROM export_requests WHERE status = 'requested' AND started_at IS NULL"
            " ORDER BY id"
        )
    ]


@dataclass(frozen=True)
class Made:
    video: Path
    sha256: str
    size: int
    segments: int


def make(request: dict[str, Any], settings: Settings) -> Made:
    """The export's video and manifest under ``<exports>/<id>/``; ExportError if impossible."""
    folder = settings.exports / str(request["id"])
    name = (
        f"{request['camera']}-{request['range_from']:%Y%m%dT%H%M%SZ}"
        f"-{request['range_to']:%Y%m%dT%H%M%SZ}"
    )
    video, manifest = folder / f"{name}.mkv", folder / f"{name}.json"
    try:
        segments = recordings.closed_segments(
            settings.recordings,
            request["camera"],
            request["range_from"].astimezone(UTC),
            request["range_to"].astimezone(UTC),
            length=settings.length,
            now=datetime.now(UTC),
        )
        if not segments:
            raise ExportError("no recording in the range (any more)")
        sources = [_source(segment) for segment in segments]
        folder.mkdir(parents=True, exist_ok=True, mode=0o750)
        partial = folder / f".{video.name}.partial"
        _join(segments, partial)
        digest = recordings.sha256_file(partial)
        size = partial.stat().st_size
        partial.rename(video)
        body = {
            "export": request["id"],
            "camera": request["camera"],
            "facility": request["facility_id"],
            "from": request["range_from"].astimezone(UTC).isoformat(),
            "to": request["range_to"].astimezone(UTC).isoformat(),
            "approval_ref": request["approval_ref"],
            "requested_by": request["email"],
            "requested_at": request["created_at"].astimezone(UTC).isoformat(),
            "file": video.name,
            "sha256": digest,
            "size": size,
            "segments": sources,
        }
        partial = folder / f".{manifest.name}.partial"
        partial.write_text(json.dumps(body, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        partial.rename(manifest)
    except (OSError, subprocess.SubprocessError) as error:
        raise ExportError(str(error)) from error
    return Made(video, digest, size, len(segments))


def finish(
    conn: psycopg.Connection[Any], request: dict[str, Any], made: Made | ExportError
) -> None:
    """Record the outcome and audit it with the approval reference."""
    detail: dict[str, Any] = {
        "export": request["id"],
        "facility": request["facility_id"],
        "approval_ref": request["approval_ref"],
        "from": request["range_from"].astimezone(UTC).isoformat(),
        "to": request["range_to"].astimezone(UTC).isoformat(),
    }
    with conn.transaction():
        if isinstance(made, ExportError):
            message = str(made)[:1000]
            conn.execute(
                "UPDATE export_requests SET status = 'failed', error = %s, finished_at = now()"
                " WHERE id = %s",
                (message, request["id"]),
            )
            outcome, detail = "failed", detail | {"error": message}
        else:
            conn.execute(
                "UPDATE export_requests SET status = 'ready', file_path = %s, sha256 = %s,"
                " size_bytes = %s, segments = %s, finished_at = now() WHERE id = %s",
                (str(made.video), made.sha256, made.size, made.segments, request["id"]),
            )
            outcome = "ready"
            detail |= {"sha256": made.sha256, "size": made.size, "segments": made.segments}
        audit.append(
            conn,
            actor=request["email"],
            action="export_produce",
            target=request["camera"],
            outcome=outcome,
            detail=detail,
        )


def status(conn: psycopg.Connection[Any], request_id: int) -> dict[str, Any] | None:
    """A request as the API shows it (with the owner's e-mail and the manifest when ready)."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT r.id, r.account_id, a.email AS requested_by, r.camera, r.facility_id,"
            " r.range_from, r.range_to, r.approval_ref, r.status, r.created_at, r.finished_at,"
            " r.file_path, r.sha256, r.size_bytes, r.segments, r.error"
            " FROM export_requests r JOIN accounts a ON a.id = r.account_id WHERE r.id = %s",
            (request_id,),
        ).fetchone()
    return None if row is None else dict(row)
