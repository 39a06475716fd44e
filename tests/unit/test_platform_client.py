"""The platform client (infra/platform_client.py) against a small HTTPS server that answers as
the platform does: a bearer token for automation, a Secure HttpOnly session cookie after
``POST /api/v1/session``, FastAPI's ``{"detail": ...}`` for errors."""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from infra.platform_client import PlatformClient, PlatformError

TOKEN = "automation-token"
PASSWORD = "first-password"
SESSION = "session-value"


class Platform(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(
        self, status: int, body: object = None, headers: dict[str, str] | None = None
    ) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/api/v1/incidents":
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._answer(401, {"detail": "a valid API token is required"})
                return
            self._answer(200, [dict(urllib.parse.parse_qsl(url.query))])
        elif url.path == "/api/v1/me":
            if f"camops_session={SESSION}" not in (self.headers.get("Cookie") or ""):
                self._answer(401, {"detail": "log in first"})
                return
            self._answer(200, {"email": "a@b.gov.vn", "facilities": []})
        elif url.path == "/moved":
            self._answer(302, headers={"Location": "/api/v1/me"})
        elif url.path == "/slow":
            time.sleep(2)
            self._answer(200, {})
        else:
            self.send_response(404)
            self.send_header("Content-Length", "9")
            self.end_headers()
            self.wfile.write(b"Not Found")

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/api/v1/session" and body == {"email": "a@b.gov.vn", "password": PASSWORD}:
            cookie = (
                f"camops_session={SESSION}; HttpOnly; Max-Age=60; Path=/; SameSite=strict; Secure"
            )
            self._answer(204, headers={"Set-Cookie": cookie})
        else:
            self._answer(401, {"detail": "wrong e-mail or password"})


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that gave up (a timeout, an untrusted certificate) is no server error."""


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "platform test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The test platform's https URL and its CA file."""
    cert_file, key_file = _certificate(tmp_path)
    server = Server(("127.0.0.1", 0), Platform)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/", cert_file
    finally:
        server.shutdown()
        server.server_close()


def test_a_token_reads_json_with_a_query(platform: tuple[str, Path]) -> None:
    url, ca = platform
    client = PlatformClient(url, token=TOKEN, ca_file=ca)
    assert client.get("/api/v1/incidents", {"status": "open", "facility": "f 1"}) == [
        {"status": "open", "facility": "f 1"}
    ]
    assert client.get("/api/v1/incidents") == [{}]


def test_an_error_names_the_status_and_the_platforms_detail(platform: tuple[str, Path]) -> None:
    url, ca = platform
    with pytest.raises(PlatformError) as raised:
        PlatformClient(url, token="wrong", ca_file=ca).get("/api/v1/incidents")
    assert raised.value.status == 401
    assert raised.value.detail == "a valid API token is required"
    assert str(raised.value) == (
        f"{url.rstrip('/')}/api/v1/incidents: HTTP 401 a valid API token is required"
    )
    with pytest.raises(PlatformError, match="HTTP 404 Not Found"):
        PlatformClient(url, ca_file=ca).get("/nowhere")


def test_a_person_logs_in_and_the_session_cookie_goes_back(platform: tuple[str, Path]) -> None:
    url, ca = platform
    with PlatformClient(url, ca_file=ca) as client:
        with pytest.raises(PlatformError) as refused:
            client.log_in("a@b.gov.vn", "wrong")
        assert (refused.value.status, refused.value.detail) == (401, "wrong e-mail or password")
        assert client.request("GET", "/api/v1/me").status == 401
        client.log_in("a@b.gov.vn", PASSWORD)
        assert client.get("/api/v1/me")["email"] == "a@b.gov.vn"
    other = PlatformClient(url, ca_file=ca)  # a session is the client's own
    assert other.request("GET", "/api/v1/me").status == 401


def test_redirects_are_answers_unless_followed(platform: tuple[str, Path]) -> None:
    url, ca = platform
    assert PlatformClient(url, ca_file=ca).request("GET", "/moved").status == 302
    followed = PlatformClient(url, ca_file=ca, follow_redirects=True)
    assert followed.request("GET", "/moved").status == 401  # /api/v1/me without a session


def test_no_answer_is_an_error_without_a_status(platform: tuple[str, Path]) -> None:
    url, ca = platform
    with pytest.raises(PlatformError, match="CERTIFICATE_VERIFY_FAILED") as untrusted:
        PlatformClient(url).get("/api/v1/incidents")  # the system's CAs do not know it
    assert untrusted.value.status is None
    with pytest.raises(PlatformError, match="no answer within") as slow:
        PlatformClient(url, ca_file=ca, timeout=0.3).get("/slow")
    assert slow.value.status is None
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    with pytest.raises(PlatformError, match="refused") as closed:
        PlatformClient(f"https://127.0.0.1:{port}", ca_file=ca).get("/api/v1/incidents")
    assert closed.value.status is None
