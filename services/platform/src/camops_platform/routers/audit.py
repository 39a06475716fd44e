"""The audit log (R8) and who may watch a camera (R7), for auditors' tokens (``audit:read``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, status

from camops_platform import audit, store
from camops_platform.deps import Conn, automation
from camops_platform.routers.common import Strict

router = APIRouter()


class Viewer(Strict):
    email: str
    role: str
    scope: str


@router.get(
    "/api/v1/cameras/{camera_id}/viewers",
    tags=["audit"],
    responses={404: {"description": "no such camera"}},
)
def camera_viewers(
    camera_id: str, conn: Conn, who: Annotated[str, automation("audit:read")]
) -> list[Viewer]:
    """R7: the accounts that may watch this camera now, as the video authorization decides.

    For auditors and for the site rollout's verification (compared with the model's access
    matrix, both ways).
    """
    del who
    viewers = store.camera_viewers(conn, camera_id)
    if viewers is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no camera {camera_id}")
    return [Viewer(**viewer) for viewer in viewers]


@router.get("/api/v1/audit", tags=["audit"])
def read_audit(
    conn: Conn,
    who: Annotated[str, automation("audit:read")],
    *,
    actor: str | None = None,
    target: str | None = None,
    facility: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Audit log entries, filtered by person, camera, facility or time; and the chain's verdict.

    The whole chain is verified whatever the filter.
    """
    verdict = audit.verify(audit.rows(conn))
    entries = audit.rows(
        conn, actor=actor, target=target, facility=facility, since=since, until=until
    )
    audit.append(conn, actor=who, action="audit_read", outcome="done")
    return {
        "chain_ok": verdict.ok,
        "broken_seq": verdict.broken_seq,
        "reason": verdict.reason,
        "entries": entries,
    }
