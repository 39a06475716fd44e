"""The recorder agent: what runs on an NVR or a central recorder (standard library only).

    python3 -m infra.recording.agent record --camera ID --url-file FILE --root DIR
    python3 -m infra.recording.agent seal   --root DIR [--segment-seconds 60]
    python3 -m infra.recording.agent sweep  --root DIR --retention-days 30 [--metrics FILE]
    python3 -m infra.recording.agent metrics --root DIR --retention-days 30 --metrics FILE

``record`` replaces itself with one ffmpeg stream-copy segmenter (RTSP over TCP, fixed-length
Matroska segments named by their UTC start, a list of closed segments); systemd restarts it when
the camera drops, so recording resumes by itself. ``seal`` adds every closed segment to the
camera's hash chain. ``sweep`` deletes only what is past retention and writes the metrics;
``metrics`` only writes them (Prometheus text format, for the node exporter's textfile
collector).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from infra.recording import chain, retention

SEGMENT_LIST = "segments.csv"
FFMPEG = "/usr/bin/ffmpeg"


def ffmpeg_args(url: str, camera: str, camera_dir: Path, segment_seconds: int) -> list[str]:
    """The segmenter's command line: stream copy, no re-encoding, nothing but the video."""
    return [
        FFMPEG,
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "warning",
        "-rtsp_transport",
        "tcp",
        "-timeout",
        "10000000",
        "-i",
        url,
        "-map",
        "0:v:0",
        "-c",
        "copy",
        "-f",
        "segment",
        "-segment_time",
        str(segment_seconds),
        "-segment_atclocktime",
        "1",
        "-reset_timestamps",
        "1",
        "-segment_format",
        "matroska",
        "-strftime",
        "1",
        "-segment_list",
        str(camera_dir / SEGMENT_LIST),
        "-segment_list_type",
        "csv",
        str(camera_dir / f"{camera}-%Y%m%dT%H%M%SZ.mkv"),
    ]


def closed_segments(camera_dir: Path, length: timedelta, now: datetime) -> list[retention.Segment]:
    """Segments ffmpeg has closed (in its list), or left behind when it died (old enough)."""
    listed: set[str] = set()
    listing = camera_dir / SEGMENT_LIST
    if listing.exists():
        listed = {line.split(",", 1)[0] for line in listing.read_text().splitlines() if line}
    stale = now.timestamp() - 2 * length.total_seconds()
    return [
        segment
        for segment in retention.segments(camera_dir)
        if segment.path.name in listed or segment.path.stat().st_mtime < stale
    ]


def seal_all(root: Path, length: timedelta, now: datetime) -> int:
    """Seal every closed, unsealed segment, oldest first. Returns how many were sealed."""
    sealed = 0
    for camera_dir in retention.cameras(root):
        known = {
            entry["segment"]
            for path in chain.manifests(camera_dir)
            for entry in chain.read_entries(path)
        }
        for segment in closed_segments(camera_dir, length, now):
            if segment.path.name not in known:
                chain.seal(camera_dir.name, camera_dir, segment.path, segment.start)
                sealed += 1
    return sealed


def _metric(lines: list[str], name: str, help_text: str, samples: list[tuple[str, float]]) -> None:
    lines.append(f"# HELP {name} {help_text}")
    lines.append(f"# TYPE {name} gauge")
    lines.extend(f"{name}{labels} {value:.6g}" for labels, value in samples)


def metrics_text(
    root: Path,
    retention_period: timedelta,
    length: timedelta,
    now: datetime,
    report: retention.SweepReport,
) -> str:
    rows = [retention.camera_retention(d, length) for d in retention.cameras(root)]
    cams = [(f'{{camera="{r.camera}"}}', r) for r in rows]
    lines: list[str] = []
    _metric(
        lines,
        "camops_recorder_last_segment_timestamp_seconds",
        "Start of the newest segment (UTC epoch).",
        [(label, r.newest.timestamp()) for label, r in cams if r.newest],
    )
    _metric(
        lines,
        "camops_recorder_oldest_segment_age_seconds",
        "Age of the oldest segment kept.",
        [(label, (now - r.oldest).total_seconds()) for label, r in cams if r.oldest],
    )
    _metric(
        lines,
        "camops_recorder_bytes",
        "Bytes of segments kept.",
        [(label, float(r.bytes)) for label, r in cams],
    )
    _metric(
        lines,
        "camops_recorder_segments",
        "Segments kept.",
        [(label, float(r.segments)) for label, r in cams],
    )
    _metric(
        lines,
        "camops_recorder_gaps",
        "Gaps between kept segments.",
        [(label, float(len(r.gaps))) for label, r in cams],
    )
    _metric(
        lines,
        "camops_recorder_gap_seconds",
        "Seconds missing between kept segments.",
        [(label, sum(g.seconds for g in r.gaps)) for label, r in cams],
    )
    capacity = report.capacity
    _metric(
        lines,
        "camops_recorder_retention_days",
        "Retention target in days.",
        [("", retention_period / timedelta(days=1))],
    )
    if capacity is not None:
        _metric(
            lines,
            "camops_recorder_retention_at_risk",
            "1 when the disk cannot hold the retention period at the recent volume.",
            [("", 1.0 if capacity.at_risk else 0.0)],
        )
        _metric(
            lines,
            "camops_recorder_retention_needed_bytes",
            "Bytes the retention period needs at the recent volume.",
            [("", capacity.needed)],
        )
        _metric(
            lines,
            "camops_recorder_retention_available_bytes",
            "Bytes recordings may use (kept + free).",
            [("", capacity.available)],
        )
    _metric(
        lines,
        "camops_recorder_sweep_deleted",
        "Segments deleted by the last sweep.",
        [("", float(len(report.deleted)))],
    )
    _metric(
        lines,
        "camops_recorder_metrics_timestamp_seconds",
        "When these metrics were written.",
        [("", now.timestamp())],
    )
    return "\n".join(lines) + "\n"


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    Path(name).chmod(0o644)
    Path(name).replace(path)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="camops-recorder", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    record = commands.add_parser("record", help="run the camera's ffmpeg segmenter")
    record.add_argument("--camera", required=True)
    record.add_argument(
        "--url-file",
        type=Path,
        required=True,
        help="root-only file holding the RTSP URL with credentials",
    )
    for name in ("record", "seal", "sweep", "metrics"):
        sub = record if name == "record" else commands.add_parser(name)
        sub.add_argument("--root", type=Path, required=True)
        sub.add_argument("--segment-seconds", type=int, default=60)
        if name in {"sweep", "metrics"}:
            sub.add_argument("--retention-days", type=int, required=True)
            sub.add_argument("--metrics", type=Path)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    length = timedelta(seconds=options.segment_seconds)
    now = datetime.now(UTC)
    if options.command == "record":
        camera_dir = options.root / options.camera
        camera_dir.mkdir(parents=True, exist_ok=True)
        url = options.url_file.read_text(encoding="utf-8").strip()
        os.environ["TZ"] = "UTC"
        time.tzset()
        args = ffmpeg_args(url, options.camera, camera_dir, options.segment_seconds)
        os.execv(FFMPEG, args)  # noqa: S606  # replaces this process; systemd supervises it
    if options.command == "seal":
        print(f"sealed {seal_all(options.root, length, now)} segment(s)")
        return 0
    period = timedelta(days=options.retention_days)
    seal_all(options.root, length, now)
    report = retention.sweep(
        options.root, period, length, now, dry_run=options.command == "metrics"
    )
    if options.command == "metrics":
        report.deleted = []
    if options.metrics:
        write_atomic(options.metrics, metrics_text(options.root, period, length, now, report))
    capacity = report.capacity
    if capacity is not None and capacity.at_risk:
        print(
            f"RETENTION AT RISK: {retention_period_text(period)} need {capacity.needed / 1e9:.1f}"
            f" GB at the recent volume, {capacity.available / 1e9:.1f} GB available; nothing "
            "younger than retention was deleted",
            file=sys.stderr,
        )
    print(f"deleted {len(report.deleted)} segment(s) past retention, kept {report.kept}")
    return 0


def retention_period_text(period: timedelta) -> str:
    return f"{period / timedelta(days=1):g} days"


if __name__ == "__main__":
    sys.exit(main())
