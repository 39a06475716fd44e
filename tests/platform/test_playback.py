"""Playback of a time range on real recordings: the HLS playlist, the MPEG-TS parts, who may
fetch them and what is audited (the service checks the session again behind nginx's authz)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from camops_platform import audit
from tests.platform.api import catalog, log_in, person
from tests.platform.media import LENGTH, START, iso, probe, record, stem

CAMERA = "n1_cam01"
NORTH = "north@lab.gov.vn"


def playlist_url(camera: str, start: datetime, end: datetime) -> str:
    return f"/playback/{camera}/index.m3u8?from={iso(start)}&to={iso(end)}"


def entries(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_playlist_and_parts_of_a_range(
    client: TestClient,
    tokens: dict[str, str],
    library: Path,
    recordings_root: Path,
    database: str,
) -> None:
    catalog(client, tokens["catalog"])
    person(client, tokens, NORTH)
    # Three contiguous segments (two listed by ffmpeg, one only old enough), a gap, one more,
    # and the newest, still being written.
    starts = [START, START + LENGTH, START + 2 * LENGTH, START + 5 * LENGTH, START + 6 * LENGTH]
    record(library, recordings_root, CAMERA, starts, listed=2, old=False)
    log_in(client, NORTH)

    answer = client.get(playlist_url(CAMERA, START, START + timedelta(minutes=5)))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    text = answer.text
    assert text.startswith("#EXTM3U\n")
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in text
    assert text.rstrip().endswith("#EXT-X-ENDLIST")
    assert entries(text) == [f"seg/{stem(CAMERA, s)}.ts" for s in starts[:4]]  # not the open one
    assert text.count("#EXT-X-DISCONTINUITY") == 1  # the gap
    assert text.index("#EXT-X-DISCONTINUITY") < text.index(stem(CAMERA, starts[3]))
    assert "#EXTINF:3.000," in text
    assert "#EXT-X-PROGRAM-DATE-TIME:2026-03-01T10:00:00.000+00:00" in text

    # Only what overlaps the range; a time without a zone is UTC.
    middle = client.get(
        f"/playback/{CAMERA}/index.m3u8",
        params={"from": "2026-03-01T10:00:04", "to": "2026-03-01T10:00:07"},
    )
    assert entries(middle.text) == [f"seg/{stem(CAMERA, s)}.ts" for s in starts[1:3]]

    # A part: valid H.264 in MPEG-TS, on the day's timeline.
    part = client.get(f"/playback/{CAMERA}/{entries(text)[1]}")
    assert part.status_code == 200, part.text
    assert part.headers["content-type"] == "video/mp2t"
    ts = recordings_root.parent / "part.ts"
    ts.write_bytes(part.content)
    found = probe(ts)
    assert found["format"]["format_name"] == "mpegts"
    assert [s["codec_name"] for s in found["streams"]] == ["h264"]
    assert float(found["format"]["duration"]) == pytest.approx(3, abs=0.5)
    assert float(found["format"]["start_time"]) == pytest.approx(10 * 3600 + 3, abs=2)

    # The open segment, other cameras' names, impossible times, traversal: nothing.
    for name in (
        stem(CAMERA, starts[4]),
        stem("s1_cam01", START),
        f"{CAMERA}-20260399T100000Z",
        f"{CAMERA}-20260301T100000Z.mkv",
        "..%2F..%2Fetc%2Fpasswd",
        f"..%2Fs1_cam01%2F{stem('s1_cam01', START)}",
    ):
        assert client.get(f"/playback/{CAMERA}/seg/{name}.ts").status_code == 404, name

    # Once the newest segment is old enough it is closed too (ffmpeg died with it open).
    stamp = (datetime.now(UTC) - timedelta(hours=1)).timestamp()
    os.utime(recordings_root / CAMERA / f"{stem(CAMERA, starts[4])}.mkv", (stamp, stamp))
    again = client.get(playlist_url(CAMERA, START, START + timedelta(minutes=5)))
    assert entries(again.text)[-1] == f"seg/{stem(CAMERA, starts[4])}.ts"

    with psycopg.connect(database) as conn:
        viewed = [e for e in audit.rows(conn) if e["action"] == "playback_view"]
    assert viewed == []  # the service's own check writes nothing: nginx's authz request did


def test_playback_refuses_bad_ranges_strangers_and_other_districts(
    client: TestClient, tokens: dict[str, str], library: Path, recordings_root: Path
) -> None:
    catalog(client, tokens["catalog"])
    person(client, tokens, NORTH)
    record(library, recordings_root, CAMERA, [START])
    record(library, recordings_root, "s1_cam01", [START])
    url = f"/playback/{CAMERA}/index.m3u8"
    day = START + timedelta(hours=24)
    assert client.get(playlist_url(CAMERA, START, day)).status_code == 401
    assert client.get(f"/playback/{CAMERA}/seg/{stem(CAMERA, START)}.ts").status_code == 401

    log_in(client, NORTH)
    assert client.get(playlist_url(CAMERA, START, day)).status_code == 200  # 24 h is allowed
    for params, named in (
        ({"from": iso(day), "to": iso(START)}, "to"),
        ({"from": iso(START), "to": iso(day + timedelta(seconds=1))}, "to"),
        ({"from": "yesterday", "to": iso(START)}, "from"),
        ({"to": iso(START)}, "from"),
    ):
        refused = client.get(url, params=params)
        assert refused.status_code == 422, params
        assert named in refused.text
    empty = client.get(playlist_url(CAMERA, START + LENGTH, START + 2 * LENGTH))
    assert empty.status_code == 404
    assert (
        client.get(playlist_url("s1_cam01", START, START + LENGTH)).status_code == 403
    )  # another district's camera, though its recording exists
    assert client.get(f"/playback/s1_cam01/seg/{stem('s1_cam01', START)}.ts").status_code == 403
    assert client.get(playlist_url("nowhere", START, START + LENGTH)).status_code == 403
    # A damaged segment: listed (its length assumed), but ffmpeg cannot read it.
    damaged = recordings_root / CAMERA / f"{stem(CAMERA, START + 10 * LENGTH)}.mkv"
    damaged.write_bytes(b"not matroska" * 100)
    stamp = (datetime.now(UTC) - timedelta(hours=1)).timestamp()
    os.utime(damaged, (stamp, stamp))
    later = client.get(playlist_url(CAMERA, START + 10 * LENGTH, START + 11 * LENGTH))
    assert entries(later.text) == [f"seg/{damaged.stem}.ts"]
    assert "#EXTINF:3.000," in later.text
    broken = client.get(f"/playback/{CAMERA}/seg/{damaged.stem}.ts")
    assert broken.status_code == 502
    assert str(recordings_root) not in broken.text


def test_authz_recognises_playback_paths_and_audits_playlists_with_their_range(
    client: TestClient, tokens: dict[str, str], database: str
) -> None:
    catalog(client, tokens["catalog"])
    person(client, tokens, NORTH)
    log_in(client, NORTH)
    start, end = "2026-03-01T10:00:00Z", "2026-03-01T11:00:00Z"

    def authz(uri: str) -> int:
        return int(client.get("/api/v1/authz", headers={"X-Original-URI": uri}).status_code)

    assert authz(f"/playback/{CAMERA}/index.m3u8?from={start}&to={end}") == 204
    assert authz(f"/playback/{CAMERA}/seg/{stem(CAMERA, START)}.ts") == 204  # not audited
    assert authz(f"/playback/s1_cam01/seg/{stem('s1_cam01', START)}.ts") == 403
    assert authz(f"/playback/{CAMERA}/seg/../../s1_cam01/index.m3u8") == 403
    assert authz(f"/playback/{CAMERA}/../s1_cam01/index.m3u8") == 403
    with psycopg.connect(database) as conn:
        entries = [e for e in audit.rows(conn, actor=NORTH) if e["action"] != "login"]
    assert [(e["action"], e["target"], e["outcome"]) for e in entries] == [
        ("playback_view", CAMERA, "allowed"),
        ("playback_view", "s1_cam01", "denied"),
        ("video_request", f"/playback/{CAMERA}/seg/../../s1_cam01/index.m3u8", "denied"),
        ("video_request", f"/playback/{CAMERA}/../s1_cam01/index.m3u8", "denied"),
    ]
    assert (entries[0]["detail"]["from"], entries[0]["detail"]["to"]) == (start, end)
    assert entries[0]["detail"]["facility"] == "n1"
