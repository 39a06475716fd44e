"""A small client of the platform's API (``services/platform``), standard library only.

Automation authenticates with a scoped bearer token (``camops audit access``, ``camops
incidents``, the lab's outage checks); a person logs in (``POST /api/v1/session``) and the
session cookie the platform sets (HttpOnly, Secure, SameSite=Strict) is kept by the client's
cookie jar and sent back over HTTPS (the lab's viewer check). The platform has no CSRF token:
its session cookie is SameSite=Strict.

Errors are :class:`PlatformError`: the URL, the HTTP status and the platform's ``detail``, or
why no answer came (refused, TLS, timeout).
"""

from __future__ import annotations

import http.client
import http.cookiejar
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any, Self

#: Seconds to wait for the platform to connect and for each read.
TIMEOUT = 30.0


class PlatformError(RuntimeError):
    """The platform refused (``status``: its HTTP status, ``detail``: its reason) or did not
    answer (``status`` None)."""

    def __init__(self, message: str, status: int | None = None, detail: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


@dataclass
class Response:
    """An answer of any status."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def detail(self) -> Any:
        """The platform's reason for an error (FastAPI's ``{"detail": ...}``), or the start of
        the body."""
        try:
            document = self.json()
        except ValueError:
            document = None
        if isinstance(document, dict) and "detail" in document:
            return document["detail"]
        return self.body[:200].decode("utf-8", "replace").strip()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer of its own (a bearer token is not sent on to where it points)."""

    def redirect_request(  # noqa: PLR0917  # urllib's signature
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


def ssl_context(ca_file: str | Path | None = None) -> ssl.SSLContext:
    """Verifying TLS context: the system's CAs, or ``ca_file`` (a province's or the lab's CA)."""
    return ssl.create_default_context(cafile=None if ca_file is None else str(ca_file))


class PlatformClient:
    """The platform at ``url`` (``https://platform.example.gov.vn``; a lab's http URL in
    tests), with a bearer ``token`` for automation or a session after :meth:`log_in`."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        ca_file: str | Path | None = None,
        context: ssl.SSLContext | None = None,
        timeout: float = TIMEOUT,
        follow_redirects: bool = False,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._token = token
        self.cookies = http.cookiejar.CookieJar()
        handlers: list[urllib.request.BaseHandler] = [
            urllib.request.HTTPSHandler(context=context or ssl_context(ca_file)),
            urllib.request.HTTPCookieProcessor(self.cookies),
        ]
        if not follow_redirects:
            handlers.append(_NoRedirect())
        self._opener = urllib.request.build_opener(*handlers)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Forget the session (the platform ends it by itself; see :meth:`log_out`)."""
        self.cookies.clear()

    def _url(self, path: str, query: Mapping[str, str] | None) -> str:
        url = f"{self.url}{path}"
        return f"{url}?{urllib.parse.urlencode(query)}" if query else url

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        json_body: Any = None,
    ) -> Response:
        """Send one request; its answer whatever its status. :class:`PlatformError` only when
        no answer came."""
        url = self._url(path, query)
        headers = {}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        data = None
        if json_body is not None:
            data = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310  # https, or a lab's http URL
        try:
            with self._opener.open(request, timeout=self.timeout) as answer:
                return Response(answer.status, answer.read(), dict(answer.headers.items()))
        except urllib.error.HTTPError as error:
            with error:
                return Response(error.code, error.read(), dict(error.headers.items()))
        except urllib.error.URLError as error:
            raise PlatformError(f"{self.url}: {error.reason}") from error
        except TimeoutError as error:
            raise PlatformError(f"{self.url}: no answer within {self.timeout:g} s") from error
        except (OSError, http.client.HTTPException) as error:
            raise PlatformError(f"{self.url}: {error}") from error

    def call(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        json_body: Any = None,
    ) -> Any:
        """Send one request; its JSON (``None`` for an empty answer). :class:`PlatformError`
        with the status and the platform's ``detail`` unless it succeeded."""
        answer = self.request(method, path, query=query, json_body=json_body)
        if not answer.ok:
            raise PlatformError(
                f"{self.url}{path}: HTTP {answer.status} {answer.detail}",
                answer.status,
                answer.detail,
            )
        try:
            return answer.json()
        except ValueError as error:
            raise PlatformError(f"{self.url}{path}: not JSON ({error})", answer.status) from None

    def get(self, path: str, query: Mapping[str, str] | None = None) -> Any:
        """GET ``path`` (with ``query``); its JSON."""
        return self.call("GET", path, query=query)

    def post(self, path: str, body: Any) -> Any:
        """POST ``body`` as JSON to ``path``; the answer's JSON."""
        return self.call("POST", path, json_body=body)

    def log_in(self, email: str, password: str) -> None:
        """Log in as a person: the session cookie is kept for the next requests.
        :class:`PlatformError` (401) for a wrong e-mail or password."""
        self.call("POST", "/api/v1/session", json_body={"email": email, "password": password})

    def log_out(self) -> None:
        self.call("DELETE", "/api/v1/session")
        self.cookies.clear()
