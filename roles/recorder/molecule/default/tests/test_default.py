"""The recorder records the simulated camera: playable segments, chain, restarts, metrics."""

from __future__ import annotations

import re
import time
from typing import Any

ROOT = "/var/lib/camops/recordings/molecule_cam"
AGENT = "sudo -u camops-recorder /opt/camops/recorder/bin/camops-recorder"


def segments(host: Any) -> list[str]:
    out = host.run(f"sudo ls -1 {ROOT}").stdout.split()
    return sorted(name for name in out if name.endswith(".mkv"))


def wait_for(predicate: Any, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(1)
    assert predicate()


def test_recorder_runs_and_secret_is_private(host: Any) -> None:
    assert host.service("camops-recorder@molecule_cam").is_running
    owner = host.run("sudo stat -c '%U %a' /etc/camops/recorder/molecule_cam.url").stdout.split()
    assert owner == ["camops-recorder", "600"]


def test_closed_segments_are_playable_h264(host: Any) -> None:
    wait_for(lambda: len(segments(host)) >= 3)
    first = segments(host)[0]
    probe = host.run(
        f"sudo ffprobe -v error -show_entries stream=codec_name -of csv=p=0 {ROOT}/{first}"
    )
    assert probe.stdout.strip() == "h264", probe.stderr


def test_kill_9_loses_at_most_the_open_segment(host: Any) -> None:
    wait_for(lambda: len(segments(host)) >= 2)
    before = segments(host)
    host.run("sudo systemctl kill -s KILL camops-recorder@molecule_cam")
    wait_for(lambda: len(segments(host)) >= len(before) + 2)
    for name in before[:-1]:  # every closed segment survives the kill, playable
        probe = host.run(
            f"sudo ffprobe -v error -show_entries format=duration -of csv=p=0 {ROOT}/{name}"
        )
        assert probe.rc == 0, (name, probe.stderr)


def test_chain_is_sealed_and_verifies(host: Any) -> None:
    sealed = host.run(f"{AGENT} seal --root /var/lib/camops/recordings --segment-seconds 5")
    assert sealed.rc == 0, sealed.stderr
    assert re.fullmatch(r"sealed \d+ segment\(s\)\n", sealed.stdout), sealed.stdout
    check = host.run(
        "sudo /opt/camops/recorder/bin/python -c "
        '"from datetime import UTC, datetime, timedelta; from pathlib import Path; '
        "from camops_recorder import chain; "
        "r = chain.verify('molecule_cam', Path('" + ROOT + "'), timedelta(days=30), "
        'datetime.now(UTC)); print(r.ok, r.entries)"'
    )
    ok, entries = check.stdout.split()
    assert ok == "True", check.stdout + check.stderr
    assert int(entries) >= 2


def test_sweep_writes_metrics(host: Any) -> None:
    """The sweep unit itself succeeds (the metrics timer writes the same file: a crashing
    sweeper must not pass on the timer's metrics)."""
    since = host.run("date '+%Y-%m-%d %H:%M:%S'").stdout.strip()  # journalctl's local time
    swept = host.run("sudo systemctl start camops-recorder-sweep.service")
    assert swept.rc == 0, swept.stderr
    result = host.run("systemctl show -p Result --value camops-recorder-sweep.service")
    assert result.stdout.strip() == "success"
    journal = host.run(
        f"sudo journalctl -u camops-recorder-sweep.service --since '{since}' -o cat --no-pager"
    ).stdout
    assert re.search(r"deleted 0 segment\(s\) past retention, kept [1-9]\d*", journal), journal
    text = host.file("/var/lib/prometheus/node-exporter/camops_recorder.prom").content_string
    assert 'camops_recorder_segments{camera="molecule_cam"}' in text
    assert "camops_recorder_retention_days 30" in text
    assert 'camops_recorder_last_segment_timestamp_seconds{camera="molecule_cam"}' in text
