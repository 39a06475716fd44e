"""Recording exports (R5): asked for with the approval's reference, produced by a worker
(``camops_platform.background``), downloaded by the person who asked. Every step is audited."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from camops_platform import audit, exports, playback, recordings, store
from camops_platform.background import produce_export
from camops_platform.deps import Conn, Person, client_ip, export_settings
from camops_platform.routers.common import Strict

router = APIRouter()


class ExportBody(Strict):
    camera: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    start: datetime = Field(alias="from", description="ISO 8601; UTC if no zone")
    end: datetime = Field(alias="to", description="ISO 8601; at most 24 h after from")
    approval_ref: str | None = Field(
        default=None,
        max_length=1000,
        description="the Provincial People's Committee's written approval (R5), e.g. 123/UBND-VX",
    )


class ExportCreated(BaseModel):
    id: int
    status: str


class ExportStatus(BaseModel):
    id: int
    requested_by: str
    camera: str
    facility: str
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    approval_ref: str
    status: Literal["requested", "ready", "failed"]
    created_at: datetime
    finished_at: datetime | None
    sha256: str | None
    size_bytes: int | None
    segments: int | None
    error: str


def _export_status(row: dict[str, Any]) -> ExportStatus:
    return ExportStatus(
        id=row["id"],
        requested_by=row["requested_by"],
        camera=row["camera"],
        facility=row["facility_id"],
        start=row["range_from"],
        end=row["range_to"],
        approval_ref=row["approval_ref"],
        status=row["status"],
        created_at=row["created_at"],
        finished_at=row["finished_at"],
        sha256=row["sha256"],
        size_bytes=row["size_bytes"],
        segments=row["segments"],
        error=row["error"],
    )


@router.post(
    "/api/v1/exports",
    status_code=201,
    tags=["exports"],
    responses={
        401: {"description": "not logged in"},
        403: {"description": "not allowed to view this camera"},
        404: {"description": "no recording in the range"},
        422: {"description": "approval_ref missing or too short, or a bad range"},
    },
)
def request_export(
    body: ExportBody,
    request: Request,
    response: Response,
    *,
    conn: Conn,
    account: Person,
    x_real_ip: Annotated[str | None, Header()] = None,
) -> ExportCreated:
    """Ask for a recording export (R5: it needs the approval's reference). Every answer is audited.

    The export is produced after the answer, by a worker; ``GET /api/v1/exports/{id}`` shows when
    it is ready.
    """
    start, end = playback.as_utc(body.start), playback.as_utc(body.end)
    facility = store.camera_facility(conn, body.camera)
    detail: dict[str, Any] = {
        "facility": facility or "",
        "approval_ref": (body.approval_ref or "").strip()[:200],
        "from": start.isoformat(),
        "to": end.isoformat(),
    }

    def refuse(code: int, reason: str, outcome: str = "refused") -> HTTPException:
        audit.append(
            conn,
            actor=account["email"],
            action="export_request",
            target=body.camera,
            source_ip=client_ip(request, x_real_ip),
            outcome=outcome,
            detail=detail | {"reason": reason},
        )
        return HTTPException(code, reason)

    problem = exports.approval_problem(body.approval_ref)
    if problem:
        raise refuse(status.HTTP_422_UNPROCESSABLE_CONTENT, problem)
    if facility is None or facility not in store.visible_facilities(conn, account["id"]):
        raise refuse(status.HTTP_403_FORBIDDEN, "not allowed to view this camera", "denied")
    problem = playback.range_problem(start, end, exports.MAX_RANGE)
    if problem:
        raise refuse(status.HTTP_422_UNPROCESSABLE_CONTENT, problem)
    settings = export_settings(request.app)
    found = recordings.closed_segments(
        settings.recordings, body.camera, start, end, length=settings.length, now=datetime.now(UTC)
    )
    if not found:
        raise refuse(status.HTTP_404_NOT_FOUND, "no recording in this range")
    request_id = store.add_export_request(
        conn,
        account=account,
        camera=body.camera,
        facility=facility,
        start=start,
        end=end,
        approval_ref=detail["approval_ref"],
        source_ip=client_ip(request, x_real_ip),
        detail=detail,
        segments=len(found),
    )
    request.app.state.exporter.submit(produce_export, request.app.state.pool, request_id, settings)
    response.headers["Location"] = f"/api/v1/exports/{request_id}"
    return ExportCreated(id=request_id, status="requested")


def readable_export(export_id: int, conn: Conn, account: Person) -> dict[str, Any]:
    """An export its owner, an ops engineer or an auditor may see; 404 for anyone else."""
    row = exports.status(conn, export_id)
    if row is None or (
        row["account_id"] != account["id"] and account["role"] not in {"ops_engineer", "auditor"}
    ):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no export {export_id}")
    return row


@router.get("/api/v1/exports", tags=["exports"])
def list_exports(conn: Conn, account: Person) -> list[ExportStatus]:
    """This person's export requests, newest first (ops engineers and auditors: everyone's)."""
    everyone = account["role"] in {"ops_engineer", "auditor"}
    ids = store.export_ids(conn, account["id"], everyone=everyone)
    return [_export_status(row) for export_id in ids if (row := exports.status(conn, export_id))]


@router.get("/api/v1/exports/{export_id}", tags=["exports"])
def get_export(row: Annotated[dict[str, Any], Depends(readable_export)]) -> ExportStatus:
    """An export request's state (its owner, ops engineers, auditors)."""
    return _export_status(row)


@router.get(
    "/api/v1/exports/{export_id}/file",
    tags=["exports"],
    response_class=FileResponse,
    responses={
        200: {"content": {"video/x-matroska": {}}},
        403: {"description": "only the requester, while allowed to view the camera"},
        409: {"description": "not ready"},
    },
)
def download_export(
    request: Request,
    conn: Conn,
    account: Person,
    row: Annotated[dict[str, Any], Depends(readable_export)],
    x_real_ip: Annotated[str | None, Header()] = None,
) -> FileResponse:
    """The export's file, for the person who asked for it while they may still view the camera.

    Audited (allowed or denied) with the approval reference.
    """
    allowed = row["account_id"] == account["id"] and row["facility_id"] in (
        store.visible_facilities(conn, account["id"])
    )
    ready = row["status"] == "ready" and Path(row["file_path"] or "").is_file()
    audit.append(
        conn,
        actor=account["email"],
        action="export_download",
        target=row["camera"],
        source_ip=client_ip(request, x_real_ip),
        outcome=("allowed" if ready else "refused") if allowed else "denied",
        detail={
            "export": row["id"],
            "facility": row["facility_id"],
            "approval_ref": row["approval_ref"],
            "sha256": row["sha256"] or "",
        },
    )
    if not allowed:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "only the requester may download, while allowed to view"
        )
    if not ready:
        raise HTTPException(status.HTTP_409_CONFLICT, f"export {row['id']} is {row['status']}")
    path = Path(row["file_path"])
    return FileResponse(
        path,
        media_type="video/x-matroska",
        filename=path.name,
        headers={"Cache-Control": "private, no-store", "X-Content-SHA256": row["sha256"]},
    )
