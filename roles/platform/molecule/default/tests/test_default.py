"""The platform role alone: the service on localhost behind nginx with TLS, tokens registered."""

from __future__ import annotations

import json
import os
from typing import Any

#: The instance's address on the lab WAN (scripts/test-lab.sh gives each scenario its own).
BASE = f"https://{os.environ.get('CAMOPS_MOLECULE_IP', '10.78.0.200')}"
#: A tiny HTTPS client on the instance (no curl in the image): status and body, CA checked.
FETCH = """
import ssl, sys, urllib.request, urllib.error
ca = "/usr/local/share/ca-certificates/camops-platform-ca.crt"
context = ssl.create_default_context(cafile=ca)
request = urllib.request.Request(sys.argv[1], headers=dict(h.split(": ", 1) for h in sys.argv[2:]))
try:
    with urllib.request.urlopen(request, context=context, timeout=10) as answer:
        status, body = answer.status, answer.read()
except urllib.error.HTTPError as error:
    status, body = error.code, error.read()
print(status)
sys.stdout.write(body.decode("utf-8", "replace"))
"""


def fetch(host: Any, path: str, *headers: str) -> tuple[int, str]:
    args = " ".join(f"'{h}'" for h in headers)
    run = host.run(f"python3 -c '{FETCH}' {BASE}{path} {args}")
    assert run.rc == 0, run.stderr
    status, _, body = run.stdout.partition("\n")
    return int(status), body


ACCOUNTS = "cpt_molecule-accounts-token-0123456789abcdefghijk"
ALERTMANAGER = "cpt_molecule-alertmanager-token-0123456789abcdefgh"
INCIDENTS = "cpt_molecule-incidents-token-0123456789abcdefghijk"


def test_services_run_and_listen_where_they_should(host: Any) -> None:
    assert host.service("camops-platform").is_running
    assert host.service("camops-platform").is_enabled
    assert host.service("postgresql").is_running
    assert host.service("nginx").is_running
    listening = host.run("ss -Hltn").stdout
    assert "127.0.0.1:8100" in listening
    assert "0.0.0.0:443" in listening
    assert "0.0.0.0:8100" not in listening


def test_tls_page_player_and_api(host: Any) -> None:
    assert fetch(host, "/")[0] == 200
    status, player = fetch(host, "/hls/hls.min.js")
    assert status == 200
    assert "isSupported" in player
    spec = json.loads(fetch(host, "/api/v1/openapi.json")[1])
    assert "/api/v1/authz" in spec["paths"]
    assert fetch(host, "/live/cam/index.m3u8")[0] == 401


def test_vault_tokens_are_registered_with_their_scopes(host: Any) -> None:
    auth = f"Authorization: Bearer {ACCOUNTS}"
    assert fetch(host, "/api/v1/accounts", auth)[0] == 200
    # The accounts token has no catalog scope.
    assert fetch(host, "/api/v1/facilities/x/grants", auth)[0] == 403
    # Incidents: `camops incidents` reads them, Alertmanager's token only writes.
    assert fetch(host, "/api/v1/incidents", f"Authorization: Bearer {INCIDENTS}")[0] == 200
    assert fetch(host, "/api/v1/incidents", f"Authorization: Bearer {ALERTMANAGER}")[0] == 403


def test_database_needs_no_password_and_audit_log_is_append_only(host: Any) -> None:
    env = host.run("sudo cat /etc/camops/platform/platform.env").stdout
    assert "CAMOPS_PLATFORM_DSN=postgresql:///camops?host=/var/run/postgresql" in env
    assert "password" not in env.lower()
    refused = host.run("sudo -u camops-platform psql -d camops -c 'TRUNCATE audit_log' 2>&1")
    assert "append-only" in refused.stdout


def test_key_is_private(host: Any) -> None:
    stat = host.run("sudo stat -c '%U %a' /etc/camops/platform/tls/key.pem").stdout.split()
    assert stat == ["root", "600"]
