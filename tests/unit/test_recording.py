"""Hash chain and retention sweeper, on files with fake times (never sleeping for days)."""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from camops_recorder import chain, retention, segments

CAMERA = "north_cam01"
LENGTH = timedelta(seconds=60)
RETENTION = timedelta(days=30)
T0 = datetime(2026, 10, 1, 23, 58, tzinfo=UTC)


def write_segment(root: Path, start: datetime, payload: bytes = b"") -> Path:
    path = root / CAMERA / f"{CAMERA}-{start.strftime('%Y%m%dT%H%M%SZ')}.mkv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload or f"segment {start.isoformat()}".encode() * 100)
    return path


def recorded(root: Path, count: int, start: datetime = T0) -> list[Path]:
    """``count`` consecutive sealed segments from ``start`` (across midnight)."""
    paths = []
    for index in range(count):
        moment = start + index * LENGTH
        path = write_segment(root, moment)
        chain.seal(CAMERA, root / CAMERA, path, moment)
        paths.append(path)
    return paths


def report(root: Path, now: datetime | None = None) -> chain.ChainReport:
    return chain.verify(CAMERA, root / CAMERA, RETENTION, now or T0 + timedelta(hours=1))


def test_intact_chain_spans_days(tmp_path: Path) -> None:
    recorded(tmp_path, 5)
    assert [p.name for p in chain.manifests(tmp_path / CAMERA)] == [
        "manifest-2026-10-01.jsonl",
        "manifest-2026-10-02.jsonl",
    ]
    result = report(tmp_path)
    assert result.ok, result.broken
    assert result.entries == 5


def test_sealing_twice_adds_nothing(tmp_path: Path) -> None:
    path = recorded(tmp_path, 1)[0]
    chain.seal(CAMERA, tmp_path / CAMERA, path, T0)
    assert report(tmp_path).entries == 1


def test_deleted_segment_is_named(tmp_path: Path) -> None:
    paths = recorded(tmp_path, 4)
    paths[2].unlink()
    broken = report(tmp_path).broken
    assert broken is not None
    assert broken.seq == 2
    assert broken.segment is not None and paths[2].name in broken.segment
    assert "deleted before its retention ended" in broken.reason


def test_altered_segment_is_named(tmp_path: Path) -> None:
    paths = recorded(tmp_path, 4)
    paths[1].write_bytes(paths[1].read_bytes().replace(b"segment", b"SEGMENT"))
    broken = report(tmp_path).broken
    assert broken is not None
    assert (broken.seq, "altered" in broken.reason) == (1, True)


def test_removed_manifest_entry_breaks_the_chain(tmp_path: Path) -> None:
    recorded(tmp_path, 3, start=datetime(2026, 10, 2, 8, 0, tzinfo=UTC))
    manifest = chain.manifests(tmp_path / CAMERA)[0]
    lines = manifest.read_text(encoding="utf-8").splitlines()
    manifest.write_text("\n".join([lines[0], lines[2]]) + "\n", encoding="utf-8")
    broken = report(tmp_path, datetime(2026, 10, 2, 9, tzinfo=UTC)).broken
    assert broken is not None and "chain broken" in broken.reason


def test_reordered_entries_break_the_chain(tmp_path: Path) -> None:
    recorded(tmp_path, 3, start=datetime(2026, 10, 2, 8, 0, tzinfo=UTC))
    manifest = chain.manifests(tmp_path / CAMERA)[0]
    lines = manifest.read_text(encoding="utf-8").splitlines()
    manifest.write_text("\n".join([lines[0], lines[2], lines[1]]) + "\n", encoding="utf-8")
    assert report(tmp_path, datetime(2026, 10, 2, 9, tzinfo=UTC)).broken is not None


def test_edited_entry_is_detected(tmp_path: Path) -> None:
    recorded(tmp_path, 2, start=datetime(2026, 10, 2, 8, 0, tzinfo=UTC))
    manifest = chain.manifests(tmp_path / CAMERA)[0]
    entries = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines()]
    entries[1]["size"] += 1
    manifest.write_text("".join(json.dumps(e) + "\n" for e in entries), encoding="utf-8")
    broken = report(tmp_path, datetime(2026, 10, 2, 9, tzinfo=UTC)).broken
    assert broken is not None and "entry altered" in broken.reason


def test_sweeper_deletes_past_retention_and_keeps_a_minute_younger(tmp_path: Path) -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    old = now - RETENTION - LENGTH - timedelta(minutes=1)  # ends a minute past retention
    young = now - RETENTION + timedelta(minutes=1)  # a minute younger than retention
    recorded(tmp_path, 1, start=old)
    recorded(tmp_path, 1, start=young)
    result = retention.sweep(tmp_path, RETENTION, LENGTH, now, disk_free=lambda _: 10**12)
    assert [p.name for p in result.deleted] == [f"{CAMERA}-{old.strftime('%Y%m%dT%H%M%SZ')}.mkv"]
    assert result.kept == 1
    # The chain still verifies: the swept segment is recorded and past retention.
    verified = chain.verify(CAMERA, tmp_path / CAMERA, RETENTION, now)
    assert verified.ok, verified.broken
    assert verified.expired == 1


def test_sweeper_never_deletes_early_when_the_disk_is_full(tmp_path: Path) -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    recorded(tmp_path, 30, start=now - timedelta(hours=1))
    result = retention.sweep(tmp_path, RETENTION, LENGTH, now, disk_free=lambda _: 0)
    assert result.deleted == []
    assert result.kept == 30
    assert result.capacity is not None and result.capacity.at_risk
    assert result.capacity.needed > result.capacity.available


def test_capacity_ok_with_room(tmp_path: Path) -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    recorded(tmp_path, 10, start=now - timedelta(hours=1))
    result = retention.sweep(tmp_path, RETENTION, LENGTH, now, disk_free=lambda _: 10**12)
    assert result.capacity is not None and not result.capacity.at_risk


def test_gaps_are_reported(tmp_path: Path) -> None:
    start = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    recorded(tmp_path, 3, start=start)
    recorded(tmp_path, 2, start=start + 5 * LENGTH)  # two minutes missing
    info = retention.camera_retention(tmp_path / CAMERA, LENGTH)
    assert info.segments == 5
    assert [(g.start, g.seconds) for g in info.gaps] == [(start + 3 * LENGTH, 120.0)]
    assert info.oldest == start


@pytest.mark.parametrize("name", ["other.mkv", "north_cam01-2026.mkv", "manifest-2026-10-01.jsonl"])
def test_unrelated_files_are_not_segments(name: str) -> None:
    assert segments.parse_start(name) is None


def test_audit_commands(tmp_path: Path) -> None:
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    start = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    paths = recorded(tmp_path, 3, start=start)
    recorded(tmp_path, 1, start=start + 5 * LENGTH)
    cli = [sys.executable, "-m", "infra.cli", "audit"]
    now = ["--now", "2026-11-28T11:00:00Z"]
    ok = subprocess.run(
        [*cli, "chain", str(tmp_path), *now], capture_output=True, text=True, check=False
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"OK     {CAMERA}: 4 segments chained" in ok.stdout
    paths[1].unlink()
    bad = subprocess.run(
        [*cli, "chain", str(tmp_path), *now], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 1
    assert paths[1].name in bad.stdout
    gaps = subprocess.run(
        [*cli, "retention", str(tmp_path), "--json", *now],
        capture_output=True,
        text=True,
        check=False,
    )
    data = json.loads(gaps.stdout)
    assert [g["seconds"] for g in data[0]["gaps"]] == [60.0, 120.0]  # deleted, never recorded


def test_agent_seals_only_closed_segments(tmp_path: Path) -> None:
    import os  # noqa: PLC0415

    from camops_recorder import agent  # noqa: PLC0415

    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    camera_dir = tmp_path / CAMERA
    closed = write_segment(tmp_path, now - 3 * LENGTH)
    listed = write_segment(tmp_path, now - 2 * LENGTH)
    open_ = write_segment(tmp_path, now - LENGTH)
    old_mtime = (now - 10 * LENGTH).timestamp()
    os.utime(closed, (old_mtime, old_mtime))  # left behind by a killed ffmpeg
    for path in (listed, open_):
        os.utime(path, (now.timestamp(), now.timestamp()))
    (camera_dir / segments.SEGMENT_LIST).write_text(f"{listed.name},0.0,60.0\n", encoding="utf-8")
    assert agent.seal_all(tmp_path, LENGTH, now) == 2
    assert agent.seal_all(tmp_path, LENGTH, now) == 0
    entries = [e["segment"] for p in chain.manifests(camera_dir) for e in chain.read_entries(p)]
    assert entries == [closed.name, listed.name]


def test_after_a_restart_segments_are_sealed_in_time_order(tmp_path: Path) -> None:
    """The segment a killed ffmpeg left is sealed before the new process's segments."""
    import os  # noqa: PLC0415

    from camops_recorder import agent  # noqa: PLC0415

    t = datetime(2026, 11, 28, 13, 34, 15, tzinfo=UTC)
    camera_dir = tmp_path / CAMERA
    left = write_segment(tmp_path, t)  # the old process's open segment when it was killed
    os.utime(left, (t.timestamp() + 45, t.timestamp() + 45))
    new = write_segment(tmp_path, t + timedelta(seconds=52))  # the new process's first
    (camera_dir / segments.SEGMENT_LIST).write_text(f"{new.name},0.0,8.0\n", encoding="utf-8")
    soon = t + timedelta(seconds=110)  # `left` is not yet old enough to call closed
    assert agent.seal_all(tmp_path, LENGTH, soon) == 0
    later = t + timedelta(seconds=170)
    assert agent.seal_all(tmp_path, LENGTH, later) == 2
    entries = [e["segment"] for p in chain.manifests(camera_dir) for e in chain.read_entries(p)]
    assert entries == [left.name, new.name]
    assert chain.verify(CAMERA, camera_dir, RETENTION, later).ok
    # A file older than the chain's end is never sealed after it.
    write_segment(tmp_path, t - LENGTH)
    assert agent.seal_all(tmp_path, LENGTH, later + LENGTH) == 0
    assert chain.verify(CAMERA, camera_dir, RETENTION, later).ok


def test_agent_metrics_and_sweep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from camops_recorder import agent  # noqa: PLC0415

    now = datetime.now(UTC).replace(microsecond=0)
    write_segment(tmp_path, now - RETENTION - 3 * LENGTH)
    write_segment(tmp_path, now - timedelta(minutes=10))
    metrics = tmp_path / "textfile" / "camops_recorder.prom"
    code = agent.main(
        ["sweep", "--root", str(tmp_path), "--retention-days", "30", "--metrics", str(metrics)]
    )
    assert code == 0
    text = metrics.read_text(encoding="utf-8")
    assert f'camops_recorder_segments{{camera="{CAMERA}"}} 1' in text
    assert "camops_recorder_sweep_deleted 1" in text
    assert "camops_recorder_retention_days 30" in text
    assert "# TYPE camops_recorder_retention_at_risk gauge" in text


def test_a_central_recorder_names_each_cameras_facility(tmp_path: Path) -> None:
    """Central recorders record many facilities: their per-camera metrics name the facility
    (from the registrations), so RecordingStalled at central reaches that facility's people."""
    from camops_recorder import agent  # noqa: PLC0415

    now = datetime.now(UTC).replace(microsecond=0)
    root = tmp_path / "recordings"
    write_segment(root, now - timedelta(minutes=10))
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "lab_north_school.json").write_text(
        json.dumps([{"id": CAMERA, "url_file": "x"}]), encoding="utf-8"
    )
    (jobs / "broken.json").write_text("{not json", encoding="utf-8")
    metrics = tmp_path / "camops_recorder.prom"
    command = ["metrics", "--root", str(root), "--retention-days", "30"]
    agent.main([*command, "--metrics", str(metrics), "--jobs", str(jobs)])
    text = metrics.read_text(encoding="utf-8")
    assert f'camops_recorder_segments{{camera="{CAMERA}",facility="lab_north_school"}} 1' in text
    # An NVR (no registrations): the camera only; its scrape target names the facility.
    agent.main([*command, "--metrics", str(metrics)])
    assert f'camops_recorder_segments{{camera="{CAMERA}"}} 1' in metrics.read_text("utf-8")


def test_when_recording_began_outlives_the_first_segment(tmp_path: Path) -> None:
    """RetentionAtRisk tells a young recorder from one that lost recordings by this date."""
    from camops_recorder import agent  # noqa: PLC0415

    now = datetime.now(UTC).replace(microsecond=0)
    metrics = tmp_path / "textfile" / "camops_recorder.prom"
    command = ["metrics", "--root", str(tmp_path), "--retention-days", "30"]
    command += ["--metrics", str(metrics)]
    agent.main(command)  # nothing recorded yet: no date
    assert "recording_since" not in metrics.read_text(encoding="utf-8")
    first = write_segment(tmp_path, now - timedelta(minutes=30))
    agent.main(command)
    began = (now - timedelta(minutes=30)).timestamp()
    expected = f"camops_recorder_recording_since_timestamp_seconds {began:.15g}"
    assert expected in metrics.read_text(encoding="utf-8")
    write_segment(tmp_path, now - timedelta(minutes=5))
    first.unlink()  # gone (swept, or lost): the date stays
    agent.main(command)
    assert expected in metrics.read_text(encoding="utf-8")


def test_segmenter_is_a_stream_copy() -> None:
    from camops_recorder import agent  # noqa: PLC0415

    args = agent.ffmpeg_args(CAMERA, Path("/r") / CAMERA, 60)
    assert args[args.index("-c") + 1] == "copy"
    assert args[args.index("-i") + 1] == "pipe:0"  # the address comes on stdin, never in ps
    assert args[-1] == f"/r/{CAMERA}/{CAMERA}-%Y%m%dT%H%M%SZ.mkv"
    listing = agent.input_list("rtsp://u:it's@10.79.1.11:554/stream1").decode()
    assert "file 'rtsp://u:it'\\''s@10.79.1.11:554/stream1'" in listing
    assert "option rtsp_transport tcp" in listing
    assert segments.parse_start(f"{CAMERA}-20261128T120000Z.mkv") is not None


def test_ffmpeg_messages_never_carry_the_credentials() -> None:
    from camops_recorder import agent  # noqa: PLC0415

    url = "rtsp://camops:p%40ss%2Fw0rd-secret@10.79.1.11:554/stream1"
    message = f"{url}: Connection refused\n[rtsp @ 0x1] user camops password p@ss/w0rd-secret\n"
    clean = agent.redact(message, url)
    assert "w0rd-secret" not in clean
    assert "rtsp://10.79.1.11/stream1: Connection refused" in clean


def test_recorder_passes_ffmpeg_messages_on_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """A real ffmpeg failing on an unreachable camera: its status and a clean message."""
    from camops_recorder import agent  # noqa: PLC0415

    monkeypatch.setenv("TZ", "UTC")  # the recorder sets it; restored after the test
    url_file = tmp_path / "cam.url"
    url = "rtsp://camops:Sup3rSecret@127.0.0.1:9/stream1"  # port 9 (discard): refused
    url_file.write_text(url, encoding="utf-8")
    status = agent.main(
        ["record", "--camera", "cam", "--url-file", str(url_file), "--root", str(tmp_path)]
    )
    assert status != 0
    err = capfd.readouterr().err
    assert "rtsp://127.0.0.1/stream1" in err
    assert "Sup3rSecret" not in err


def test_recorder_starts_over_when_the_camera_clock_goes_back(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A camera that restarts sends timestamps from zero again; ffmpeg's stream copy then
    stalls (found in the lab: a live playlist that stopped after a camera restart). The recorder
    stops ffmpeg and exits for systemd to start a new segment."""
    import sys  # noqa: PLC0415
    import time  # noqa: PLC0415

    from camops_recorder import agent  # noqa: PLC0415

    fake = tmp_path / "ffmpeg"
    told = tmp_path / "signal"
    fake.write_text(
        "import signal, sys, time\n"
        f"def stop(signum, frame):\n    open({str(told)!r}, 'w').write(str(signum))\n"
        "    sys.exit(255)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        "for n in range(400):\n"
        "    print('[segment @ 0x1] Non-monotonous DTS in output stream 0:0; previous: 9, '\n"
        "          'current: 1; changing to 10.', file=sys.stderr, flush=True)\n"
        "time.sleep(600)\n",
        encoding="utf-8",
    )
    start = time.monotonic()
    status = agent.run_redacted(
        [sys.executable, str(fake)], "rtsp://camops:Sup3rSecret@127.0.0.1/s"
    )
    assert status == agent.EXIT_RESTART
    # The agent stopped ffmpeg itself (SIGTERM) rather than wait for it to end.
    assert told.read_text(encoding="utf-8") == str(signal.SIGTERM.value)
    assert time.monotonic() - start < 120  # a hang guard, generous for a loaded machine
    err = capfd.readouterr().err
    assert "starting a new segment" in err
    assert err.count("Non-monotonous DTS") == 3  # the rest are not repeated in the journal


def test_an_empty_leftover_of_a_killed_ffmpeg_is_not_sealed(tmp_path: Path) -> None:
    """kill -9 right after ffmpeg opened a new segment leaves an empty file that it never
    listed: not a recording to vouch for (the lab's kill -9 test found it sealed, then
    unplayable); the segments after it are still sealed."""
    import os  # noqa: PLC0415

    from camops_recorder import agent  # noqa: PLC0415

    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    empty = write_segment(tmp_path, now - 10 * LENGTH)
    empty.write_bytes(b"")
    after = write_segment(tmp_path, now - 9 * LENGTH)
    old = (now - 8 * LENGTH).timestamp()
    for path in (empty, after):
        os.utime(path, (old, old))
    names = [s.path.name for s in agent.sealable(tmp_path / CAMERA, LENGTH, now)]
    assert names == [after.name]


def test_concurrent_sealers_never_fork_the_chain(tmp_path: Path) -> None:
    """The seal, upload and sweep timers all seal; run at once they must not append the same
    segment twice (found in the lab: a forked chain in the WORM store)."""
    import os  # noqa: PLC0415
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    from camops_recorder import agent  # noqa: PLC0415

    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    camera_dir = tmp_path / CAMERA
    paths = [
        write_segment(tmp_path, now - (40 - i) * LENGTH, payload=bytes([i])) for i in range(30)
    ]
    for path in paths:
        old = (now - 50 * LENGTH).timestamp()
        os.utime(path, (old, old))
    with ThreadPoolExecutor(max_workers=8) as pool:
        counts = list(pool.map(lambda _: agent.seal_all(tmp_path, LENGTH, now), range(8)))
    assert sum(counts) == 30
    entries = [e["segment"] for p in chain.manifests(camera_dir) for e in chain.read_entries(p)]
    assert entries == [path.name for path in paths]
    assert chain.verify(CAMERA, camera_dir, RETENTION, now).ok


def test_a_stopped_recorder_ends_cleanly_whatever_ffmpeg_dies_with(tmp_path: Path) -> None:
    """systemctl stop (a camera leaving, a decommission) sends SIGTERM: ffmpeg is terminated
    and the recorder exits 0, so the unit is inactive, not failed."""
    import os  # noqa: PLC0415
    import signal  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    fake = tmp_path / "ffmpeg.py"
    fake.write_text(
        "import sys, time\nsys.stdin.read()\nprint('started', file=sys.stderr, flush=True)\n"
        "time.sleep(60)\n",
        encoding="utf-8",
    )
    program = (
        "import sys\nfrom camops_recorder import agent\n"
        f"sys.exit(agent.run_redacted([sys.executable, {str(fake)!r}], 'rtsp://u:p@127.0.0.1/s'))"
    )
    recorder = subprocess.Popen(
        [sys.executable, "-c", program],
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert recorder.stderr is not None
    assert "started" in recorder.stderr.readline()
    recorder.send_signal(signal.SIGTERM)
    assert recorder.wait(timeout=20) == 0
