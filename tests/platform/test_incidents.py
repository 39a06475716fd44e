"""Incidents (R3, R11) with a real Alertmanager (Debian's, from make setup) on loopback.

Alertmanager notifies a small HTTP receiver in the test; its real webhook bodies are handed to
the platform, so the parser is checked against what Alertmanager sends, and acknowledgements
put real silences into it.
"""

from __future__ import annotations

import http.server
import json
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from camops_platform import incidents, store
from tests.platform.api import bearer, catalog, log_in, person

ALERTMANAGER = shutil.which("prometheus-alertmanager", path=str(Path(sys.executable).parent))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Receiver(http.server.BaseHTTPRequestHandler):
    """Alertmanager's webhook notifications, queued for the test."""

    inbox: queue.Queue[dict[str, Any]]

    def do_POST(self) -> None:  # http.server's name
        length = int(self.headers.get("Content-Length", "0"))
        self.inbox.put(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


class Lab:
    def __init__(self, url: str, inbox: queue.Queue[dict[str, Any]]) -> None:
        self.url = url
        self.inbox = inbox

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310  # loopback
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
            text = answer.read()
        return json.loads(text) if text else None

    def fire(self, labels: dict[str, str], *, ended: bool = False) -> None:
        now = datetime.now(UTC)
        self.call(
            "POST",
            "/api/v2/alerts",
            [
                {
                    "labels": labels,
                    "annotations": {"summary": f"{labels['alertname']} test"},
                    "startsAt": (now - timedelta(seconds=40)).isoformat(),
                    "endsAt": (now if ended else now + timedelta(minutes=5)).isoformat(),
                }
            ],
        )

    def notification(self, status: str, timeout: float = 20) -> dict[str, Any]:
        """The next notification whose alerts are all ``status``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                body = self.inbox.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if all(alert["status"] == status for alert in body["alerts"]):
                return body
        raise AssertionError(f"Alertmanager sent no {status} notification in {timeout} s")


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Lab]:
    if ALERTMANAGER is None:
        pytest.fail("no prometheus-alertmanager in the venv: run make setup")
    inbox: queue.Queue[dict[str, Any]] = queue.Queue()
    handler = type("Handler", (Receiver,), {"inbox": inbox})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        json.dumps(
            {
                "route": {
                    "receiver": "platform",
                    "group_by": ["alertname", "facility"],
                    "group_wait": "0s",
                    "group_interval": "1s",
                    "repeat_interval": "1h",
                },
                "receivers": [
                    {
                        "name": "platform",
                        "webhook_configs": [
                            {
                                "url": f"http://127.0.0.1:{server.server_address[1]}/",
                                "send_resolved": True,
                            }
                        ],
                    }
                ],
            }
        )
    )
    port, cluster = free_port(), free_port()
    process = subprocess.Popen(  # the venv's binary
        [
            ALERTMANAGER,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--cluster.listen-address=127.0.0.1:{cluster}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    lab = Lab(f"http://127.0.0.1:{port}", inbox)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{lab.url}/-/ready", timeout=1).close()  # noqa: S310
                break
            except OSError:
                time.sleep(0.1)
        else:
            process.kill()
            raise AssertionError(process.communicate()[1].decode()[-2000:])
        yield lab
    finally:
        process.terminate()
        process.wait(timeout=10)
        server.shutdown()


@pytest.fixture
def platform(
    client: TestClient,
    tokens: dict[str, str],
    database: str,
    alertmanager: Lab,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """The catalog, three people, and the tokens of Alertmanager and `camops incidents`."""
    monkeypatch.setenv("CAMOPS_PLATFORM_ALERTMANAGER_URL", alertmanager.url)
    catalog(client, tokens["catalog"])
    person(client, tokens, "ops@lab.gov.vn", role="ops_engineer", scope="province")
    person(client, tokens, "bac@lab.gov.vn", role="district_leader", scope="district:north")
    person(client, tokens, "nam@lab.gov.vn", role="district_leader", scope="district:south")
    with psycopg.connect(database, autocommit=True) as conn:
        return {
            "alerts": store.new_token(conn, "alertmanager", ["incidents:write"]),
            "incidents": store.new_token(conn, "reports", ["incidents:read"]),
        }


def camera_down(camera: str = "n1_cam01", facility: str = "n1") -> dict[str, str]:
    return {
        "alertname": "CameraDown",
        "severity": "critical",
        "facility": facility,
        "district": "north",
        "camera": camera,
        "instance": f"rtsp://{camera}:554",
        "job": "camera_rtsp",
    }


def deliver(client: TestClient, token: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = client.post("/api/v1/alerts", json=body, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_an_outage_is_opened_acknowledged_noted_and_resolved_with_its_times(
    client: TestClient, platform: dict[str, str], alertmanager: Lab, database: str
) -> None:
    alertmanager.fire(camera_down())
    firing = alertmanager.notification("firing")
    opened = deliver(client, platform["alerts"], firing)
    assert len(opened["opened"]) == 1
    incident = opened["opened"][0]
    # The same alert through a second receiver (the central on-call's) is one incident.
    again = deliver(client, platform["alerts"], firing)
    assert again == {"opened": [], "renotified": [incident], "resolved": [], "ignored": 0}

    # The district's leader sees it, the other district's does not.
    log_in(client, "nam@lab.gov.vn")
    assert client.get("/api/v1/incidents").json() == []
    assert client.get(f"/api/v1/incidents/{incident}").status_code == 404
    assert client.post(f"/api/v1/incidents/{incident}/acknowledge").status_code == 404
    log_in(client, "bac@lab.gov.vn")
    [seen] = client.get("/api/v1/incidents", params={"status": "open"}).json()
    assert seen["id"] == incident
    assert seen["camera"] == "n1_cam01" and seen["facility_id"] == "n1"
    assert seen["notifications"] == 2
    assert seen["time_to_acknowledge_s"] is None

    # Acknowledged: a silence on exactly this alert stops the repeats.
    acked = client.post(f"/api/v1/incidents/{incident}/acknowledge")
    assert acked.status_code == 200, acked.text
    assert acked.json()["status"] == "acknowledged"
    assert acked.json()["acknowledged_by"] == "bac@lab.gov.vn"
    assert acked.json()["time_to_acknowledge_s"] >= 40
    [held] = alertmanager.call("GET", "/api/v2/alerts")
    assert held["status"]["state"] == "suppressed"
    [silence] = [
        s for s in alertmanager.call("GET", "/api/v2/silences") if s["status"]["state"] == "active"
    ]
    assert {m["name"]: m["value"] for m in silence["matchers"]} == camera_down()
    assert silence["createdBy"] == "bac@lab.gov.vn"
    # Acknowledging again changes nothing (no second silence).
    assert client.post(f"/api/v1/incidents/{incident}/acknowledge").status_code == 200
    assert len(alertmanager.call("GET", "/api/v2/silences")) == 1

    # R11: the substitute measure, refused when it says nothing.
    short = client.put(f"/api/v1/incidents/{incident}/substitute", json={"measure": "ok"})
    assert short.status_code == 422
    assert "measure" in short.json()["detail"]
    measure = "Bảo vệ trực tại cổng 24/7 đến khi camera hoạt động lại"
    noted = client.put(f"/api/v1/incidents/{incident}/substitute", json={"measure": measure})
    assert noted.status_code == 200, noted.text
    assert noted.json()["substitute"] == measure

    # The camera is back: the silenced alert's end is found in Alertmanager.
    alertmanager.fire(camera_down(), ended=True)
    with psycopg.connect(database, autocommit=True) as conn:
        assert incidents.reconcile(conn, incidents.Alertmanager(alertmanager.url)) == [incident]
        assert incidents.reconcile(conn, incidents.Alertmanager(alertmanager.url)) == []
    done = client.get(f"/api/v1/incidents/{incident}").json()
    assert done["status"] == "resolved" and done["resolved_by"] == "alertmanager"
    assert done["time_to_repair_s"] >= done["time_to_acknowledge_s"]
    assert silence["id"] not in {
        s["id"]
        for s in alertmanager.call("GET", "/api/v2/silences")
        if s["status"]["state"] == "active"
    }

    # Every step is in the audit log.
    with psycopg.connect(database) as conn:
        actions = [
            row[0]
            for row in conn.execute(
                "SELECT action FROM audit_log WHERE target = %s ORDER BY seq",
                (f"incident:{incident}",),
            )
        ]
    assert actions == [
        "incident_open",
        "incident_acknowledge",
        "incident_substitute",
        "incident_resolve",
    ]


def test_an_alert_that_ends_before_anyone_acknowledges_resolves_at_its_end(
    client: TestClient, platform: dict[str, str], alertmanager: Lab
) -> None:
    alertmanager.fire(camera_down("n1_cam02"))
    firing = alertmanager.notification("firing")
    [incident] = deliver(client, platform["alerts"], firing)["opened"]
    alertmanager.fire(camera_down("n1_cam02"), ended=True)
    resolved = alertmanager.notification("resolved")
    assert deliver(client, platform["alerts"], resolved)["resolved"] == [incident]
    # Late or repeated "resolved" news opens nothing.
    assert deliver(client, platform["alerts"], resolved)["ignored"] == 1
    listed = client.get(
        "/api/v1/incidents", params={"status": "resolved"}, headers=bearer(platform["incidents"])
    ).json()
    assert [row["id"] for row in listed] == [incident]
    assert listed[0]["acknowledged_at"] is None
    # From the alert's own times (Alertmanager's startsAt and endsAt), however long the machine
    # took between the two notifications.
    started = datetime.fromisoformat(firing["alerts"][0]["startsAt"])
    ended = datetime.fromisoformat(resolved["alerts"][0]["endsAt"])
    assert listed[0]["time_to_repair_s"] == round((ended - started).total_seconds(), 1)
    assert datetime.fromisoformat(listed[0]["resolved_at"]) == ended

    # The same camera down again later: a new incident.
    alertmanager.fire(camera_down("n1_cam02"))
    body = alertmanager.notification("firing")
    assert body["alerts"][0]["fingerprint"] == resolved["alerts"][0]["fingerprint"]
    [again] = deliver(client, platform["alerts"], body)["opened"]
    assert again != incident


def test_only_alertmanager_opens_incidents_and_bad_bodies_name_their_field(
    client: TestClient, platform: dict[str, str], tokens: dict[str, str]
) -> None:
    alert = {
        "status": "firing",
        "labels": camera_down(),
        "annotations": {},
        "startsAt": "2026-12-01T00:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": "0123456789abcdef",
    }
    assert client.post("/api/v1/alerts", json={"alerts": [alert]}).status_code == 401
    wrong = client.post(
        "/api/v1/alerts", json={"alerts": [alert]}, headers=bearer(platform["incidents"])
    )
    assert wrong.status_code == 403
    cases = {
        "alerts[0].fingerprint": alert | {"fingerprint": "not hex!"},
        "alerts[0].status": alert | {"status": "burning"},
        "alerts[0].labels.alertname": alert | {"labels": {"facility": "n1"}},
        "alerts[0].startsAt": alert | {"startsAt": "yesterday"},
    }
    for field, bad in cases.items():
        answer = client.post(
            "/api/v1/alerts",
            json={"version": "4", "alerts": [bad]},
            headers=bearer(platform["alerts"]),
        )
        assert answer.status_code == 422, field
        assert answer.json()["detail"].startswith(field), answer.text
    # Nothing was stored by the refused bodies.
    assert client.get("/api/v1/incidents", headers=bearer(platform["incidents"])).json() == []


def test_who_may_act_on_an_incident(
    client: TestClient, platform: dict[str, str], tokens: dict[str, str]
) -> None:
    alert = {
        "status": "firing",
        "labels": {"alertname": "PlatformDown", "severity": "critical", "instance": "central-1"},
        "startsAt": datetime.now(UTC).isoformat(),
        "fingerprint": "00aa",
    }
    [central] = deliver(client, platform["alerts"], {"alerts": [alert]})["opened"]
    person(client, tokens, "audit@lab.gov.vn", role="auditor", scope="province")
    # A district leader does not see the central site's incidents; an auditor sees, cannot act.
    log_in(client, "bac@lab.gov.vn")
    assert client.get(f"/api/v1/incidents/{central}").status_code == 404
    log_in(client, "audit@lab.gov.vn")
    assert client.get(f"/api/v1/incidents/{central}").status_code == 200
    assert client.post(f"/api/v1/incidents/{central}/acknowledge").status_code == 403
    # The ops engineer closes it by hand (no silence to expire: none was made).
    log_in(client, "ops@lab.gov.vn")
    closed = client.post(
        f"/api/v1/incidents/{central}/resolve", json={"note": "máy chủ khởi động lại"}
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["resolved_by"] == "ops@lab.gov.vn"
    assert closed.json()["resolution"] == "máy chủ khởi động lại"
