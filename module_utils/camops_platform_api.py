"""Shared code of the camops platform modules: a small client of the platform's API."""

from __future__ import annotations

import json
from typing import Any
from urllib.error import HTTPError, URLError

from ansible.module_utils.urls import open_url


class PlatformError(Exception):
    """An API call failed; the message says which and why (never the token)."""


class Platform:
    """The platform's /api/v1 with an automation token."""

    def __init__(self, url: str, token: str, ca_path: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.ca_path = ca_path

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """(status, decoded JSON or None); 404 is a normal answer, other errors raise."""
        try:
            response = open_url(
                f"{self.url}/api/v1{path}",
                method=method,
                data=None if body is None else json.dumps(body),
                headers={
                    "Authorization": f"Bearer {self.token}",
                    "Content-Type": "application/json",
                },
                ca_path=self.ca_path,
                timeout=30,
            )
        except HTTPError as error:
            if error.code == 404:
                return 404, None
            detail = error.read().decode("utf-8", "replace")[:500]
            raise PlatformError(f"{method} {path}: HTTP {error.code} {detail}") from error
        except URLError as error:
            raise PlatformError(f"{method} {path}: {error.reason}") from error
        text = response.read().decode("utf-8")
        return response.status, json.loads(text) if text else None


#: The options of every platform module (documented by the camops_platform_options doc fragment).
ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "url": {"type": "str", "required": True},
    "token": {"type": "str", "required": True, "no_log": True},
    "ca_path": {"type": "path"},
}


def platform_from(params: dict[str, Any]) -> Platform:
    """The client for a module's ``url``, ``token`` and ``ca_path``."""
    return Platform(params["url"], params["token"], params.get("ca_path"))
