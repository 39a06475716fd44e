"""People's sessions: log in, log out, who am I (and what may I watch)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request, Response, status
from pydantic import Field

from camops_platform import audit, store
from camops_platform.deps import (
    COOKIE,
    SESSION_HOURS,
    Conn,
    Person,
    SessionToken,
    client_ip,
)
from camops_platform.routers.common import Strict

router = APIRouter()


class Credentials(Strict):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)


@router.post("/api/v1/session", status_code=204, tags=["session"])
def log_in(
    body: Credentials,
    request: Request,
    response: Response,
    conn: Conn,
    x_real_ip: Annotated[str | None, Header()] = None,
) -> None:
    """Log in; sets the session cookie. The same answer for every kind of failure."""
    result = store.login(conn, body.email, body.password, client_ip(request, x_real_ip))
    if result.account is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong e-mail or password")
    token = store.new_session(
        conn, result.account["id"], SESSION_HOURS, client_ip(request, x_real_ip)
    )
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(SESSION_HOURS * 3600),
        httponly=True,
        secure=True,
        samesite="strict",
        path="/",
    )


@router.delete("/api/v1/session", status_code=204, tags=["session"])
def log_out(response: Response, conn: Conn, account: Person, token: SessionToken) -> None:
    if token:
        store.end_session(conn, token)
    audit.append(conn, actor=account["email"], action="logout", outcome="done")
    response.delete_cookie(COOKIE, path="/")


@router.get("/api/v1/me", tags=["session"])
def me(conn: Conn, account: Person) -> dict[str, Any]:
    """Who is logged in and the facilities and cameras they may watch."""
    visible = sorted(store.visible_facilities(conn, account["id"]))
    facilities = []
    for facility_id in visible:
        row = store.facility_summary(conn, facility_id)
        cameras = store.facility_cameras(conn, facility_id)
        facilities.append(
            {
                "id": facility_id,
                "name": row["name"] if row else facility_id,
                "district": row["district_id"] if row else "",
                "cameras": cameras,
            }
        )
    return {
        "email": account["email"],
        "full_name": account["full_name"],
        "role": account["role"],
        "facilities": facilities,
    }
