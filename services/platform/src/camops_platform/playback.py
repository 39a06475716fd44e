"""Playback of a time range: an HLS VOD playlist of closed segments, each remuxed to MPEG-TS.

Nothing is re-encoded: ffmpeg copies the recorded stream into MPEG-TS on the fly. Each part's
timestamps start at its UTC time of day (``-output_ts_offset``), so consecutive segments play as
one timeline; a gap in the recording or a new UTC day is marked ``#EXT-X-DISCONTINUITY``.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from camops_platform.recordings import Segment

FFMPEG = "/usr/bin/ffmpeg"
MAX_RANGE = timedelta(hours=24)
#: Consecutive segments closer than this count as one timeline (ffmpeg's cut is not exact).
CONTIGUOUS = 1.5
CHUNK = 1 << 16


def as_utc(moment: datetime) -> datetime:
    """Times without a zone are UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def range_problem(start: datetime, end: datetime, longest: timedelta = MAX_RANGE) -> str:
    """What is wrong with [start, end), naming the parameter; empty when it is fine."""
    if end <= start:
        return "to: must be after from"
    if end - start > longest:
        return f"to: the range may be at most {longest.total_seconds() / 3600:g} hours"
    return ""


def ts_offset(start: datetime) -> float:
    """Seconds since the UTC midnight before ``start`` (below the 26.5 h MPEG-TS wrap)."""
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    return (start - midnight).total_seconds()


def playlist(segments: list[Segment]) -> str:
    """An HLS VOD playlist (relative URIs ``seg/<stem>.ts``)."""
    target = max(math.ceil(segment.duration) for segment in segments)
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        f"#EXT-X-TARGETDURATION:{max(target, 1)}",
        "#EXT-X-MEDIA-SEQUENCE:0",
    ]
    previous: Segment | None = None
    for segment in segments:
        if previous is not None and (
            segment.start.date() != previous.start.date()
            or abs((segment.start - previous.end).total_seconds()) > CONTIGUOUS
        ):
            lines.append("#EXT-X-DISCONTINUITY")
        lines += [
            f"#EXT-X-PROGRAM-DATE-TIME:{segment.start.isoformat(timespec='milliseconds')}",
            f"#EXTINF:{segment.duration:.3f},",
            f"seg/{segment.stem}.ts",
        ]
        previous = segment
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def remux_args(segment: Segment) -> list[str]:
    """Stream copy of the segment into MPEG-TS on stdout, on the day's timeline."""
    return [
        FFMPEG,
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-i",
        str(segment.path),
        "-map",
        "0:v:0",
        "-c",
        "copy",
        "-output_ts_offset",
        f"{ts_offset(segment.start):.3f}",
        "-f",
        "mpegts",
        "pipe:1",
    ]


class RemuxError(Exception):
    """ffmpeg gave nothing; the message is what it said."""


async def remux(segment: Segment) -> AsyncIterator[bytes]:
    """The segment as MPEG-TS, chunk by chunk; ffmpeg is killed if the reader goes away.

    Raises RemuxError before the first chunk when ffmpeg produces nothing.
    """
    with tempfile.TemporaryFile() as errors:
        process = await asyncio.create_subprocess_exec(
            *remux_args(segment),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
        )
        assert process.stdout is not None  # noqa: S101  # stdout=PIPE
        try:
            first = await process.stdout.read(CHUNK)
            if not first:
                await process.wait()
                errors.seek(0)
                message = errors.read().decode("utf-8", "replace").strip()
                raise RemuxError(message or f"ffmpeg exited with {process.returncode}")
            yield first
            while chunk := await process.stdout.read(CHUNK):
                yield chunk
            await process.wait()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


async def first_chunk(stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Start ``stream`` now (so its errors come before any response), then go on lazily."""
    head = await anext(stream)

    async def rest() -> AsyncIterator[bytes]:
        yield head
        async for chunk in stream:
            yield chunk

    return rest()
