"""What the routers share: settings, the database connection, who is asking, where from.

People are known by their session cookie (``Person``); automation by a scoped bearer token
(``automation(scope, ...)``, ``CatalogReader``, ``CatalogWriter``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Any

import psycopg
from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import ConnectionPool

from camops_platform import exports, incidents, store

# Settings -------------------------------------------------------------------------------------

COOKIE = "camops_session"
SESSION_HOURS = float(os.environ.get("CAMOPS_PLATFORM_SESSION_HOURS", "8"))


def alertmanager() -> incidents.Alertmanager | None:
    """Alertmanager's API, where acknowledgements silence the alert (unset: no silences)."""
    url = os.environ.get("CAMOPS_PLATFORM_ALERTMANAGER_URL", "")
    return incidents.Alertmanager(url) if url else None


def silence_for() -> timedelta:
    """How long an acknowledgement stops the repeats; still firing after it, they resume."""
    return timedelta(hours=float(os.environ.get("CAMOPS_PLATFORM_ACK_SILENCE_HOURS", "12")))


def export_settings(app: FastAPI) -> exports.Settings:
    """Where recordings are read and exports written (set at startup, on ``app.state``)."""
    return exports.Settings(app.state.recordings, app.state.exports, app.state.segment_length)


# The database ---------------------------------------------------------------------------------


def connection(request: Request) -> Iterator[psycopg.Connection[Any]]:
    """A connection from the app's pool for one request, in autocommit."""
    pool: ConnectionPool[psycopg.Connection[Any]] = request.app.state.pool
    with pool.connection() as conn:
        conn.autocommit = True
        yield conn


Conn = Annotated[psycopg.Connection[Any], Depends(connection)]


# Who asks, from where -------------------------------------------------------------------------

cookie_scheme = APIKeyCookie(name=COOKIE, auto_error=False)
bearer_scheme = HTTPBearer(auto_error=False)

#: The session cookie's value, if any.
SessionToken = Annotated[str | None, Depends(cookie_scheme)]
#: The bearer token, if any.
BearerToken = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def client_ip(request: Request, x_real_ip: str | None) -> str:
    """nginx passes the viewer's address (the service listens on localhost only)."""
    return x_real_ip or (request.client.host if request.client else "")


def person(conn: Conn, token: SessionToken) -> dict[str, Any]:
    """The logged-in person's account; 401 without a live session."""
    account = store.session_account(conn, token) if token else None
    if account is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "log in first")
    return account


Person = Annotated[dict[str, Any], Depends(person)]


def automation(*accepted: str) -> Any:
    """A bearer token with one of the ``accepted`` scopes; the actor name for the audit log."""

    def check(conn: Conn, credentials: BearerToken) -> str:
        found = store.token_scopes(conn, credentials.credentials) if credentials else None
        if found is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "a valid API token is required")
        name, scopes = found
        if not set(accepted) & set(scopes):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"the token lacks the scope {' or '.join(accepted)}"
            )
        return f"token:{name}"

    return Depends(check)


CatalogReader = Annotated[str, automation("catalog:read", "catalog:write")]
CatalogWriter = Annotated[str, automation("catalog:write")]
