"""Recording exports (R5) on real recordings: the approval reference is required, only people who
may view the camera may ask, ffmpeg joins the range's segments, every step is audited."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from camops_platform import audit
from tests.platform.api import catalog, log_in, person
from tests.platform.media import LENGTH, START, iso, probe, record

CAMERA = "n1_cam01"
NORTH = "north@lab.gov.vn"
APPROVAL = "123/UBND-VX"


def body(**extra: object) -> dict[str, object]:
    return {
        "camera": CAMERA,
        "from": iso(START),
        "to": iso(START + 3 * LENGTH),
        "approval_ref": APPROVAL,
    } | extra


def finished(client: TestClient, export_id: int) -> dict[str, Any]:
    """The export's state once a worker is done with it."""
    deadline = time.monotonic() + 60
    while True:
        state: dict[str, Any] = client.get(f"/api/v1/exports/{export_id}").json()
        if state["status"] != "requested" or time.monotonic() > deadline:
            return state
        time.sleep(0.1)


def seal(paths: list[Path], *, altered: Path | None = None) -> None:
    """The recorder's day manifest for these segments (name and SHA-256 as sealed)."""
    lines = []
    for path in paths:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if path == altered:
            digest = "0" * 64
        lines.append(json.dumps({"segment": path.name, "sha256": digest}))
    (paths[0].parent / f"manifest-{START:%Y-%m-%d}.jsonl").write_text(
        "\n".join(lines) + "\n", encoding="utf-8"
    )


def test_export_needs_the_approval_and_the_right_to_view_and_is_audited(
    client: TestClient,
    tokens: dict[str, str],
    library: Path,
    recordings_root: Path,
    database: str,
) -> None:
    catalog(client, tokens["catalog"])
    person(client, tokens, NORTH)
    person(client, tokens, "south@lab.gov.vn", scope="district:south")
    person(client, tokens, "ops@lab.gov.vn", role="ops_engineer", scope="province")
    paths = record(library, recordings_root, CAMERA, [START + i * LENGTH for i in range(4)])
    seal(paths)

    assert client.post("/api/v1/exports", json=body()).status_code == 401
    log_in(client, NORTH)
    for refused in (
        {k: v for k, v in body().items() if k != "approval_ref"},
        body(approval_ref="   "),
        body(approval_ref="12"),
        body(approval_ref="xin phép"),
    ):
        answer = client.post("/api/v1/exports", json=refused)
        assert answer.status_code == 422, refused
        assert "approval_ref" in answer.text
    reversed_range = client.post("/api/v1/exports", json=body(to=iso(START)))
    assert reversed_range.status_code == 422
    assert "to:" in reversed_range.text
    empty = body(**{"from": iso(START - 10 * LENGTH), "to": iso(START - 5 * LENGTH)})
    assert client.post("/api/v1/exports", json=empty).status_code == 404

    log_in(client, "south@lab.gov.vn")
    assert client.post("/api/v1/exports", json=body()).status_code == 403

    log_in(client, NORTH)
    created = client.post("/api/v1/exports", json=body())
    assert created.status_code == 201, created.text
    export_id = created.json()["id"]
    assert created.headers["location"] == f"/api/v1/exports/{export_id}"
    state = finished(client, export_id)
    assert state["status"] == "ready", state
    assert (state["approval_ref"], state["segments"], state["facility"]) == (APPROVAL, 3, "n1")
    assert state["from"].startswith("2026-03-01T10:00:00")
    assert [e["id"] for e in client.get("/api/v1/exports").json()] == [export_id]

    download = client.get(f"/api/v1/exports/{export_id}/file")
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == state["sha256"]
    exported = recordings_root.parent / "export.mkv"
    exported.write_bytes(download.content)
    found = probe(exported)
    assert [s["codec_name"] for s in found["streams"]] == ["h264"]
    assert float(found["format"]["duration"]) == pytest.approx(9, abs=1)
    manifest = json.loads(
        next((recordings_root.parent / "exports" / str(export_id)).glob("*.json")).read_text()
    )
    assert manifest["sha256"] == state["sha256"]
    assert manifest["approval_ref"] == APPROVAL
    assert [(s["segment"], s["sha256"]) for s in manifest["segments"]] == [
        (p.name, hashlib.sha256(p.read_bytes()).hexdigest()) for p in paths[:3]
    ]
    assert all(s["sealed_sha256"] == s["sha256"] for s in manifest["segments"])

    # Others: the steering committee member does not see someone else's export; an ops
    # engineer sees its state but may not download video.
    person(client, tokens, "steer@lab.gov.vn", role="provincial_steering", scope="province")
    log_in(client, "steer@lab.gov.vn")
    assert client.get(f"/api/v1/exports/{export_id}").status_code == 404
    assert client.get(f"/api/v1/exports/{export_id}/file").status_code == 404
    log_in(client, "ops@lab.gov.vn")
    assert client.get(f"/api/v1/exports/{export_id}").json()["status"] == "ready"
    assert client.get(f"/api/v1/exports/{export_id}/file").status_code == 403

    with psycopg.connect(database) as conn:
        steps = [
            (e["actor"], e["action"], e["outcome"], e["detail"].get("approval_ref"))
            for e in audit.rows(conn, target=CAMERA)
            if e["action"].startswith("export")
        ]
        assert audit.verify(audit.rows(conn)).ok
    assert steps == [
        (NORTH, "export_request", "refused", ""),
        (NORTH, "export_request", "refused", ""),
        (NORTH, "export_request", "refused", "12"),
        (NORTH, "export_request", "refused", "xin phép"),
        (NORTH, "export_request", "refused", APPROVAL),  # reversed range
        (NORTH, "export_request", "refused", APPROVAL),  # nothing recorded
        ("south@lab.gov.vn", "export_request", "denied", APPROVAL),
        (NORTH, "export_request", "accepted", APPROVAL),
        (NORTH, "export_produce", "ready", APPROVAL),
        (NORTH, "export_download", "allowed", APPROVAL),
        ("ops@lab.gov.vn", "export_download", "denied", APPROVAL),
    ]


def test_an_altered_segment_fails_the_export(
    client: TestClient, tokens: dict[str, str], library: Path, recordings_root: Path
) -> None:
    catalog(client, tokens["catalog"])
    person(client, tokens, NORTH)
    paths = record(library, recordings_root, CAMERA, [START + i * LENGTH for i in range(3)])
    seal(paths, altered=paths[1])
    log_in(client, NORTH)
    created = client.post("/api/v1/exports", json=body())
    assert created.status_code == 201
    state = finished(client, created.json()["id"])
    assert state["status"] == "failed"
    assert paths[1].name in state["error"]
    assert "sealed" in state["error"]
    download = client.get(f"/api/v1/exports/{created.json()['id']}/file")
    assert download.status_code == 409


def test_requests_accepted_before_a_stop_are_produced_at_start(
    client: TestClient,
    tokens: dict[str, str],
    library: Path,
    recordings_root: Path,
    database: str,
) -> None:
    catalog(client, tokens["catalog"])
    person(client, tokens, NORTH)
    record(library, recordings_root, CAMERA, [START, START + LENGTH])
    with psycopg.connect(database, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO export_requests (account_id, camera, facility_id, range_from, range_to,"
            " approval_ref) SELECT id, %s, 'n1', %s, %s, %s FROM accounts WHERE email = %s"
            " RETURNING id",
            (CAMERA, START, START + 2 * LENGTH, APPROVAL, NORTH),
        ).fetchone()
    assert row is not None
    from camops_platform.app import app  # noqa: PLC0415

    with TestClient(app, base_url="https://platform.test") as restarted:
        log_in(restarted, NORTH)
        state = finished(restarted, row[0])
    assert (state["status"], state["segments"]) == ("ready", 2)
