"""The recorder agent: what runs on an NVR or a central recorder (standard library only).

    camops-recorder record --camera ID --url-file FILE --root DIR
    camops-recorder seal   --root DIR [--segment-seconds 60]
    camops-recorder sweep  --root DIR --retention-days 30 [--metrics FILE]
    camops-recorder metrics --root DIR --retention-days 30 --metrics FILE
    camops-recorder upload --root DIR --config FILE [--metrics FILE]

``record`` runs one ffmpeg stream-copy segmenter (RTSP over TCP, fixed-length
Matroska segments named by their UTC start, a list of closed segments); systemd restarts it when
the camera drops, so recording resumes by itself. ``seal`` adds every closed segment to the
camera's hash chain. ``sweep`` deletes only what is past retention and writes the metrics;
``metrics`` only writes them (Prometheus text format, for the node exporter's textfile
collector). On a central recorder ``record --live-dir`` also writes a short HLS live playlist
and ``upload`` sends sealed segments and closed day manifests to the WORM store.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

from camops_recorder import chain, retention, segments

#: The seal, upload and sweep timers all seal: one at a time per recordings root, or two could
#: append the same segment's entry and fork the chain.
SEAL_LOCK = ".seal.lock"
FFMPEG = "/usr/bin/ffmpeg"


def live_args(live_dir: Path, hls_seconds: int, hls_list_size: int) -> list[str]:
    """A second output of the same ffmpeg: a short HLS playlist for live viewing (stream copy).

    Old parts are deleted as the playlist moves on; the evidence is the segments, not this.
    """
    return [
        "-map",
        "0:v:0",
        "-c",
        "copy",
        "-f",
        "hls",
        "-hls_time",
        str(hls_seconds),
        "-hls_list_size",
        str(hls_list_size),
        "-hls_flags",
        "delete_segments+omit_endlist+temp_file+program_date_time",
        "-hls_segment_filename",
        str(live_dir / "live-%d.ts"),
        str(live_dir / "index.m3u8"),
    ]


def input_list(url: str) -> bytes:
    """The camera's stream as an ffconcat list, which ffmpeg reads from its stdin: the address
    with its credentials never appears on a command line (``ps`` shows every process's
    arguments to every user of the host)."""
    quoted = "'" + url.replace("'", "'\\''") + "'"
    return (
        f"ffconcat version 1.0\nfile {quoted}\noption rtsp_transport tcp\noption timeout 10000000\n"
    ).encode()


def ffmpeg_args(
    camera: str,
    camera_dir: Path,
    segment_seconds: int,
    live: list[str] | None = None,
) -> list[str]:
    """The segmenter's command line: stream copy, no re-encoding, nothing but the video. The
    stream comes as :func:`input_list` on stdin (RTSP over TCP, 10 s timeout)."""
    return [
        FFMPEG,
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "warning",
        "-f",
        "concat",
        "-safe",
        "0",
        "-protocol_whitelist",
        "pipe,rtsp,rtp,tcp,udp,tls,rtsps",
        "-i",
        "pipe:0",
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
        str(camera_dir / segments.SEGMENT_LIST),
        "-segment_list_type",
        "csv",
        segments.ffmpeg_pattern(camera_dir, camera),
        *(live or []),
    ]


def redact(text: str, url: str) -> str:
    """The text without the stream's credentials (ffmpeg prints the URL it fails on)."""
    parts = urlsplit(url)
    secrets = [parts.password, parts.username, unquote(parts.password or "")]
    clean = text.replace(url, parts._replace(netloc=parts.hostname or "").geturl())
    for secret in filter(None, secrets):
        clean = clean.replace(secret, "***")
    return clean


#: ffmpeg's complaint when the camera's timestamps go back (it restarted or was reconfigured).
TIME_WENT_BACK = "Non-monotonous DTS"
#: This many in a row (a few seconds of frames, both outputs) and the stream-copy outputs have
#: stalled (ffmpeg bumps each timestamp by one tick, so neither the segment nor the live
#: playlist advances): start over. Fewer are the usual hiccup of a stream's first packets.
TIME_WENT_BACK_LIMIT = 150
#: Our exit status then (EX_TEMPFAIL): systemd restarts the unit, a new segment begins.
EXIT_RESTART = 75


def run_redacted(args: list[str], url: str) -> int:
    """Run ffmpeg, passing its messages on without the credentials; its exit status is ours.

    systemd stops the whole unit (both processes) and restarts it when ffmpeg ends. When the
    camera's clock goes back (a camera restart, a new encoder setting), ffmpeg is stopped and the
    recorder exits with :data:`EXIT_RESTART`, so recording resumes at once in a new segment.
    """
    process = subprocess.Popen(args, stdin=subprocess.PIPE, stderr=subprocess.PIPE)  # noqa: S603
    stopping: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        stopping.append(signum)
        process.terminate()

    # systemctl stop (a camera leaving, a decommission): ffmpeg closes its segment and the
    # unit ends cleanly (inactive, not failed), whatever status ffmpeg dies with.
    signal.signal(signal.SIGTERM, stop)
    assert process.stdin is not None and process.stderr is not None  # noqa: S101  # PIPEs
    with contextlib.suppress(BrokenPipeError):  # an ffmpeg that died at once says why below
        process.stdin.write(input_list(url))
    with contextlib.suppress(BrokenPipeError):
        process.stdin.close()
    went_back = 0
    for raw in process.stderr:
        line = raw.decode("utf-8", "replace")
        went_back = went_back + 1 if TIME_WENT_BACK in line else 0
        if went_back == TIME_WENT_BACK_LIMIT:
            print(
                "the camera's timestamps went back (restarted or reconfigured): "
                "starting a new segment",
                file=sys.stderr,
                flush=True,
            )
            process.terminate()
            process.wait()
            return EXIT_RESTART
        if went_back <= 3:  # the first few are worth reading; the rest are the same
            sys.stderr.write(redact(line, url))
            sys.stderr.flush()
    status = process.wait()
    return 0 if stopping else status


def sealable(camera_dir: Path, length: timedelta, now: datetime) -> list[retention.Segment]:
    """Closed segments not yet sealed, oldest first, so the chain stays in time order.

    A segment is closed when ffmpeg lists it, or when a dead ffmpeg left it and it is old enough
    (2 segment lengths without a write). Sealing stops at the first segment not known to be
    closed: after a restart the new process's segments wait until the one the old process left
    is old enough, instead of being sealed before it.
    """
    listed = segments.listed(camera_dir)
    stale = now.timestamp() - 2 * length.total_seconds()
    known = {
        entry["segment"]
        for path in chain.manifests(camera_dir)
        for entry in chain.read_entries(path)
    }
    last = chain.last_entry(camera_dir)
    chain_end = str(last["start"]) if last else ""
    found: list[retention.Segment] = []
    for segment in retention.segments(camera_dir):
        if segment.path.name in known or chain.timestamp(segment.start) <= chain_end:
            continue  # sealed, or older than the chain's end (never sealed out of order)
        if segment.path.name not in listed:
            if segment.path.stat().st_mtime >= stale:
                break  # still being written, or not yet old enough to call closed
            if segment.path.stat().st_size == 0:
                # ffmpeg died (kill -9) before writing anything of it: no video to keep, and
                # not a segment to vouch for. Left in place (the retention sweep removes it).
                continue
        found.append(segment)
    return found


def seal_all(root: Path, length: timedelta, now: datetime) -> int:
    """Seal every closed, unsealed segment, oldest first. Returns how many were sealed."""
    if not root.is_dir():
        return 0
    sealed = 0
    with (root / SEAL_LOCK).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        for camera_dir in retention.cameras(root):
            for segment in sealable(camera_dir, length, now):
                chain.seal(camera_dir.name, camera_dir, segment.path, segment.start)
                sealed += 1
    return sealed


def _metric(lines: list[str], name: str, help_text: str, samples: list[tuple[str, float]]) -> None:
    lines.append(f"# HELP {name} {help_text}")
    lines.append(f"# TYPE {name} gauge")
    lines.extend(f"{name}{labels} {value:.15g}" for labels, value in samples)


RECORDING_SINCE = ".camops-recording-since"


def recording_since(root: Path, oldest: list[datetime]) -> datetime | None:
    """When this recorder recorded its first segment: kept in ``root`` the first time segments
    are seen (the sweeper deletes old segments; this date stays), so an alert can tell a young
    recorder from one that lost recordings (RetentionAtRisk)."""
    path = root / RECORDING_SINCE
    try:
        return datetime.fromtimestamp(float(path.read_text(encoding="utf-8").strip()), UTC)
    except (OSError, ValueError):
        pass
    if not oldest:
        return None
    first = min(oldest)
    write_atomic(path, f"{first.timestamp():.0f}\n")
    return first


def camera_facilities(jobs: Path | None) -> dict[str, str]:
    """Camera → facility from a central recorder's registrations (``<facility>.json`` files of
    camera objects with an ``id``); empty when there are none (an NVR: its scrape target
    carries the facility already)."""
    found: dict[str, str] = {}
    if jobs is None or not jobs.is_dir():
        return found
    for path in sorted(jobs.glob("*.json")):
        try:
            cameras = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for camera in cameras if isinstance(cameras, list) else []:
            if isinstance(camera, dict) and isinstance(camera.get("id"), str):
                found[camera["id"]] = path.stem
    return found


def _camera_label(camera: str, facilities: dict[str, str]) -> str:
    facility = facilities.get(camera)
    return f'{{camera="{camera}",facility="{facility}"}}' if facility else f'{{camera="{camera}"}}'


def metrics_text(
    root: Path,
    retention_period: timedelta,
    length: timedelta,
    now: datetime,
    report: retention.SweepReport,
    *,
    facilities: dict[str, str] | None = None,
) -> str:
    """The recorder's textfile metrics. ``facilities`` (a central recorder's): each camera's
    metrics also name its facility, so its alerts reach that facility's people."""
    rows = [retention.camera_retention(d, length) for d in retention.cameras(root)]
    cams = [(_camera_label(r.camera, facilities or {}), r) for r in rows]
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
    since = recording_since(root, [r.oldest for _label, r in cams if r.oldest])
    if since is not None:
        _metric(
            lines,
            "camops_recorder_recording_since_timestamp_seconds",
            "When this recorder recorded its first segment (UTC epoch).",
            [("", since.timestamp())],
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
    record.add_argument("--live-dir", type=Path, help="also write a short HLS live playlist here")
    record.add_argument("--live-seconds", type=int, default=2)
    record.add_argument("--live-list-size", type=int, default=6)
    upload = commands.add_parser("upload", help="upload sealed segments to the WORM store")
    upload.add_argument(
        "--config",
        type=Path,
        required=True,
        help="root-only JSON: endpoint, bucket, access_key, secret_key, cameras (id: facility)",
    )
    upload.add_argument("--metrics", type=Path)
    for name in ("record", "seal", "sweep", "metrics", "upload"):
        sub = {"record": record, "upload": upload}.get(name) or commands.add_parser(name)
        sub.add_argument("--root", type=Path, required=True)
        sub.add_argument("--segment-seconds", type=int, default=60)
        if name in {"sweep", "metrics"}:
            sub.add_argument("--retention-days", type=int, required=True)
            sub.add_argument("--metrics", type=Path)
            sub.add_argument(
                "--jobs",
                type=Path,
                help="a central recorder's registrations: label each camera with its facility",
            )
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
        live = None
        if options.live_dir:
            live_dir = options.live_dir / options.camera
            live_dir.mkdir(parents=True, exist_ok=True)
            for stale in live_dir.iterdir():  # a previous run's parts: never served again
                stale.unlink()
            live = live_args(live_dir, options.live_seconds, options.live_list_size)
        args = ffmpeg_args(options.camera, camera_dir, options.segment_seconds, live)
        return run_redacted(args, url)
    if options.command == "seal":
        print(f"sealed {seal_all(options.root, length, now)} segment(s)")
        return 0
    if options.command == "upload":
        return _upload(options.root, options.config, options.metrics, length, now)
    period = timedelta(days=options.retention_days)
    seal_all(options.root, length, now)
    report = retention.sweep(
        options.root, period, length, now, dry_run=options.command == "metrics"
    )
    if options.command == "metrics":
        report.deleted = []
    if options.metrics:
        write_atomic(
            options.metrics,
            metrics_text(
                options.root,
                period,
                length,
                now,
                report,
                facilities=camera_facilities(options.jobs),
            ),
        )
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


def _upload(
    root: Path, config: Path, metrics: Path | None, length: timedelta, now: datetime
) -> int:
    from camops_recorder import upload  # noqa: PLC0415  # boto3: central recorders only

    seal_all(root, length, now)
    report = upload.upload_all(root, upload.Target.from_file(config), now)
    for failure in report.failures:
        print(f"UPLOAD FAILED: {failure}", file=sys.stderr)
    if metrics:
        lines: list[str] = []
        pending = [
            (f'{{camera="{camera_dir.name}"}}', float(upload.pending(camera_dir)))
            for camera_dir in retention.cameras(root)
        ]
        _metric(
            lines,
            "camops_recorder_upload_pending",
            "Sealed segments not yet in the WORM store.",
            pending,
        )
        _metric(
            lines,
            "camops_recorder_upload_failures",
            "Failures of the last upload run.",
            [("", float(len(report.failures)))],
        )
        _metric(
            lines,
            "camops_recorder_upload_timestamp_seconds",
            "When the last upload run ended.",
            [("", now.timestamp())],
        )
        write_atomic(metrics, "\n".join(lines) + "\n")
    print(f"uploaded {report.segments} segment(s), {report.manifests} manifest(s)")
    return 1 if report.failures else 0


def retention_period_text(period: timedelta) -> str:
    return f"{period / timedelta(days=1):g} days"


if __name__ == "__main__":
    sys.exit(main())
