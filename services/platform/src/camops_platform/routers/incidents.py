"""Incidents (R3, R11): Alertmanager's webhook opens and ends them; people acknowledge them,
note the substitute measure and resolve them. Acknowledged incidents whose alert ended are
resolved by the watcher in ``camops_platform.background``."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any, Literal

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from camops_platform import incidents, store
from camops_platform.deps import (
    BearerToken,
    Conn,
    Person,
    SessionToken,
    alertmanager,
    automation,
    person,
    silence_for,
)
from camops_platform.routers.common import Strict

log = logging.getLogger("camops_platform")
router = APIRouter()


class IncidentView(BaseModel):
    id: int
    alertname: str
    severity: str
    facility_id: str
    district_id: str
    camera: str
    instance: str
    summary: str
    labels: dict[str, str]
    status: Literal["open", "acknowledged", "resolved"]
    started_at: datetime
    opened_at: datetime
    notifications: int
    acknowledged_at: datetime | None
    acknowledged_by: str
    substitute: str
    substitute_at: datetime | None
    substitute_by: str
    resolved_at: datetime | None
    resolved_by: str
    resolution: str
    time_to_acknowledge_s: float | None = Field(description="outage start to acknowledgement")
    time_to_repair_s: float | None = Field(description="outage start to resolution")


def _incident_view(row: dict[str, Any]) -> IncidentView:
    return IncidentView.model_validate(
        {key: row[key] for key in IncidentView.model_fields if key in row}
        | incidents.durations(row)
    )


class AlertsReceived(BaseModel):
    opened: list[int]
    renotified: list[int]
    resolved: list[int]
    ignored: int


class Substitute(Strict):
    measure: str = Field(max_length=incidents.SUBSTITUTE_MAX * 2)


class Resolution(Strict):
    note: str = Field(min_length=1, max_length=1000)


@router.post("/api/v1/alerts", tags=["incidents"])
async def receive_alerts(
    request: Request, conn: Conn, who: Annotated[str, automation("incidents:write")]
) -> AlertsReceived:
    """Alertmanager's webhook (version 4): firing alerts open incidents, resolved ones end them."""
    try:
        body = await request.json()
    except ValueError as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "body: JSON expected") from error
    try:
        alerts = incidents.parse(body)
    except incidents.AlertError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
    done = await run_in_threadpool(incidents.receive, conn, alerts, who)
    return AlertsReceived(
        opened=done.opened, renotified=done.renotified, resolved=done.resolved, ignored=done.ignored
    )


def incident_reader(
    conn: Conn, token: SessionToken, credentials: BearerToken
) -> tuple[str, dict[str, Any] | None, set[str]]:
    """A person (who sees what their role allows) or a token with incidents:read (every one)."""
    if credentials is not None:
        found = store.token_scopes(conn, credentials.credentials)
        if found is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "a valid API token is required")
        if "incidents:read" not in found[1]:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, "the token lacks the scope incidents:read"
            )
        return f"token:{found[0]}", None, set()
    account = person(conn, token)
    return account["email"], account, store.granted_facilities(conn, account)


IncidentReader = Annotated[tuple[str, dict[str, Any] | None, set[str]], Depends(incident_reader)]


@router.get("/api/v1/incidents", tags=["incidents"])
def list_incidents(
    conn: Conn,
    reader: IncidentReader,
    status_: Annotated[
        Literal["open", "acknowledged", "resolved", "unresolved"] | None, Query(alias="status")
    ] = None,
    facility: str | None = None,
    since: datetime | None = None,
) -> list[IncidentView]:
    """Incidents, newest first: everyone's for province-wide roles and tokens, a district
    leader's district's facilities' otherwise."""
    _, account, facilities = reader
    rows = incidents.listing(conn, status=status_, facility=facility, since=since)
    return [
        _incident_view(row)
        for row in rows
        if account is None or incidents.visible(account, facilities, row)
    ]


def _incident(
    conn: psycopg.Connection[Any], incident_id: int, account: dict[str, Any], act: bool
) -> dict[str, Any]:
    row = incidents.get(conn, incident_id, lock=act)
    facilities = store.granted_facilities(conn, account)
    if row is None or not incidents.visible(account, facilities, row):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no incident {incident_id}")
    if act and not incidents.may_act(account, facilities, row):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "only ops engineers, and district leaders for their district's facilities, act on "
            "incidents",
        )
    return row


@router.get("/api/v1/incidents/{incident_id}", tags=["incidents"])
def get_incident(incident_id: int, conn: Conn, reader: IncidentReader) -> IncidentView:
    _, account, facilities = reader
    row = incidents.get(conn, incident_id)
    if row is None or (account is not None and not incidents.visible(account, facilities, row)):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no incident {incident_id}")
    return _incident_view(row)


@router.post("/api/v1/incidents/{incident_id}/acknowledge", tags=["incidents"])
def acknowledge_incident(incident_id: int, conn: Conn, account: Person) -> IncidentView:
    """Taken in hand: the alert's repeated notifications stop (an Alertmanager silence) and
    the time to acknowledge is kept. Acknowledging twice changes nothing."""
    with conn.transaction():
        row = _incident(conn, incident_id, account, act=True)
        if row["status"] != "open":
            return _incident_view(row)
        try:
            row = incidents.acknowledge(conn, row, account["email"], alertmanager(), silence_for())
        except incidents.AlertmanagerError as error:
            log.error("incident %s: %s", incident_id, error)
            raise HTTPException(
                status.HTTP_502_BAD_GATEWAY,
                "Alertmanager did not take the silence; the incident stays open, try again",
            ) from error
    return _incident_view(row)


@router.put("/api/v1/incidents/{incident_id}/substitute", tags=["incidents"])
def note_substitute(
    incident_id: int, body: Substitute, conn: Conn, account: Person
) -> IncidentView:
    """The substitute monitoring measure in force while the camera is down (R11)."""
    problem = incidents.substitute_problem(body.measure)
    if problem:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, problem)
    with conn.transaction():
        row = _incident(conn, incident_id, account, act=True)
        measure = body.measure.strip()
        if row["substitute"] != measure:
            store.set_substitute(
                conn, incident_id, measure, actor=account["email"], facility=row["facility_id"]
            )
        found = incidents.get(conn, incident_id)
    assert found is not None  # noqa: S101  # read just now
    return _incident_view(found)


@router.post("/api/v1/incidents/{incident_id}/resolve", tags=["incidents"])
def resolve_incident(
    incident_id: int, body: Resolution, conn: Conn, account: Person
) -> IncidentView:
    """Closed by a person (e.g. a camera retired), with what was done; its silence expires."""
    with conn.transaction():
        row = _incident(conn, incident_id, account, act=True)
        if row["status"] != "resolved":
            incidents.resolve(
                conn, row, by=account["email"], note=body.note.strip(), alertmanager=alertmanager()
            )
        found = incidents.get(conn, incident_id)
    assert found is not None  # noqa: S101  # read just now
    return _incident_view(found)
