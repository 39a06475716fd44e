"""Monitoring on the lab (issue [7]): Prometheus, the blackbox exporter and Alertmanager on
central-1 watch what the rollouts registered: every connected camera over RTSP through its
tunnel, the NVRs' and central's node exporters (the recorders' metrics), the platform's HTTPS;
the alert rules are loaded and Alertmanager routes each facility to its people."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

from camops_lab import lab as lab_module
from tests.lab.conftest import ssh
from tests.unit.test_alert_rules import REQUIRED

FETCH = (
    "python3 -c 'import sys, urllib.request; "
    'print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())\' "{url}"'
)


def fetch(estate: lab_module.Lab, url: str) -> Any:
    run = ssh(estate, estate.plan.host("central-1"), FETCH.format(url=url))
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def query(estate: lab_module.Lab, expression: str) -> dict[str, float]:
    """Instant query: the ``instance`` (or ``camera``) label of each series → its value."""
    answer = fetch(estate, f"http://127.0.0.1:9090/api/v1/query?query={quote(expression)}")
    assert answer["status"] == "success", answer
    return {
        item["metric"].get("camera") or item["metric"].get("instance", ""): float(item["value"][1])
        for item in answer["data"]["result"]
    }


def eventually(estate: lab_module.Lab, expression: str, want: dict[str, float]) -> None:
    """Scrapes come every 15 s: wait up to 90 s for ``expression`` to give ``want``."""
    deadline = time.monotonic() + 90
    got: dict[str, float] = {}
    while time.monotonic() < deadline:
        got = query(estate, expression)
        if got == want:
            return
        time.sleep(5)
    targets = fetch(estate, "http://127.0.0.1:9090/api/v1/targets")["data"]["activeTargets"]
    health = [
        (t["labels"].get("job"), t["labels"].get("instance"), t["health"], t["lastError"][:120])
        for t in targets
    ]
    files = ssh(
        estate,
        estate.plan.host("central-1"),
        "ls -l --time-style=+%T /etc/prometheus/file_sd; "
        "journalctl -u prometheus --no-pager -n 400 | grep -iE 'discover|file|reload' | tail -20",
    ).stdout
    assert got == want, f"{expression}; Prometheus' targets: {health}; target files: {files}"


def test_servers_listen_on_localhost_only(estate: lab_module.Lab) -> None:
    listening = ssh(estate, estate.plan.host("central-1"), "ss -Hltn").stdout
    for port in (9090, 9093, 9115):
        assert f"127.0.0.1:{port}" in listening
        assert f"*:{port}" not in listening and f"0.0.0.0:{port}" not in listening


def test_the_alert_rules_are_loaded(estate: lab_module.Lab) -> None:
    answer = fetch(estate, "http://127.0.0.1:9090/api/v1/rules")
    alerts = {
        rule["name"]
        for group in answer["data"]["groups"]
        for rule in group["rules"]
        if rule["type"] == "alerting"
    }
    assert alerts >= REQUIRED


def test_every_connected_camera_is_probed_through_its_tunnel(estate: lab_module.Lab) -> None:
    connected = ["north_cam01", "north_cam02", "north_cam03"]
    connected += ["south_cam01", "south_cam02", "south_cam03"]
    # south_cam04 does not conform (R2): not connected, not watched.
    eventually(estate, 'probe_success{job="camera_rtsp"}', dict.fromkeys(connected, 1.0))
    labels = fetch(
        estate,
        "http://127.0.0.1:9090/api/v1/query?query="
        + quote('probe_success{job="camera_rtsp",camera="north_cam01"}'),
    )["data"]["result"][0]["metric"]
    assert labels["facility"] == "lab_north_school" and labels["district"] == "lab_north"


def test_every_site_router_answers_a_ping_through_its_tunnel(estate: lab_module.Lab) -> None:
    """TunnelDown's fast input: the blackbox exporter (with CAP_NET_RAW only) pings each
    active facility's router at its tunnel address."""
    eventually(estate, 'probe_success{job="site_tunnel"}', {"rtr-north": 1.0, "rtr-south": 1.0})


def test_the_nvrs_and_central_are_scraped_with_the_recorders_metrics(
    estate: lab_module.Lab,
) -> None:
    eventually(estate, 'up{job="node"}', {"central-1": 1.0, "nvr-north": 1.0, "nvr-south": 1.0})
    # The recorder writes its metrics each minute and a camera's series appears with its first
    # closed segment: right after a rollout, wait for the scrape that has all three.
    deadline = time.monotonic() + 180
    recording: dict[str, float] = {}
    while time.monotonic() < deadline:
        recording = query(
            estate, 'camops_recorder_last_segment_timestamp_seconds{instance="nvr-north"}'
        )
        if set(recording) == {"north_cam01", "north_cam02", "north_cam03"} and all(
            time.time() - value < 300 for value in recording.values()
        ):
            return
        time.sleep(10)
    raise AssertionError(f"nvr-north's cameras' newest segments: {recording}")


def test_the_platform_is_probed_over_https(estate: lab_module.Lab) -> None:
    eventually(estate, 'probe_success{job="platform_https"}', {"https://10.77.0.10/": 1.0})


def test_alertmanager_routes_each_facility_to_its_people(estate: lab_module.Lab) -> None:
    status = fetch(estate, "http://127.0.0.1:9093/api/v2/status")
    config = status["config"]["original"]
    assert "facility-lab_north_school" in config and "facility-lab_south_barracks" in config
    assert "hvgac@bac.lab.gov.vn" in config and "lvmang@vnpt.vn" in config
    assert status["cluster"]["status"] in {"disabled", "ready"}


def test_the_hub_reports_each_sites_tunnel_and_the_nvrs_their_camera_lan(
    estate: lab_module.Lab,
) -> None:
    """TunnelDown's and UnknownDeviceOnCameraLAN's inputs, from the hub and the NVRs."""
    handshakes = {
        item["metric"]["facility"]: float(item["value"][1])
        for item in fetch(
            estate,
            "http://127.0.0.1:9090/api/v1/query?query="
            + quote("time() - camops_wireguard_peer_latest_handshake_seconds"),
        )["data"]["result"]
    }
    assert set(handshakes) == {"lab_north_school", "lab_south_barracks"}
    assert all(age < 180 for age in handshakes.values()), handshakes
    eventually(estate, "camops_camera_lan_unknown_devices", {"nvr-north": 0.0, "nvr-south": 0.0})
    # Every camera of the model on its LAN answered (south_cam04, unconnected, too), and the
    # router.
    devices = query(estate, "camops_camera_lan_devices")
    assert devices == {"nvr-north": 4.0, "nvr-south": 5.0}
