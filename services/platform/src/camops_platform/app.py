"""The platform's HTTP API (FastAPI; OpenAPI at /api/v1/openapi.json).

People log in with their e-mail and password (a server-side session in an HttpOnly cookie);
automation (the registration modules) uses scoped bearer tokens. nginx asks ``/api/v1/authz``
before every live or playback request (``auth_request``): 204 lets it through, 401/403 stop it,
and every decision on a playlist is written to the audit log.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

import psycopg
from fastapi import (
    Depends,
    FastAPI,
    Header,
    HTTPException,
    Query,
    Request,
    Response,
    status,
)
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, StreamingResponse
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import ConnectionPool
from pydantic import BaseModel, ConfigDict, Field

from camops_platform import audit, exports, incidents, playback, recordings, store

COOKIE = "camops_session"
SESSION_HOURS = float(os.environ.get("CAMOPS_PLATFORM_SESSION_HOURS", "8"))
#: /live/<camera>/<file>, /playback/<camera>/index.m3u8?from=…&to=… and
#: /playback/<camera>/seg/<file> are the protected video paths (the camera is the 2nd part).
VIDEO_PATH = re.compile(
    r"^/(?P<kind>live|playback)/(?P<camera>[a-z0-9_]+)/"
    r"(?P<file>(?:seg/)?[A-Za-z0-9][A-Za-z0-9_.-]*)(?:\?(?P<query>[^#]*))?$"
)

log = logging.getLogger("camops_platform")
cookie_scheme = APIKeyCookie(name=COOKIE, auto_error=False)
bearer_scheme = HTTPBearer(auto_error=False)


@asynccontextmanager
async def lifespan(app: FastAPI) -> Any:
    pool = ConnectionPool(
        os.environ.get("CAMOPS_PLATFORM_DSN", ""),
        open=False,
        min_size=1,
        max_size=int(os.environ.get("CAMOPS_PLATFORM_DB_POOL", "8")),
    )
    pool.open(wait=True, timeout=30)
    app.state.pool = pool
    app.state.recordings = Path(
        os.environ.get("CAMOPS_PLATFORM_RECORDINGS", "/var/lib/camops/recordings")
    )
    app.state.exports = Path(
        os.environ.get("CAMOPS_PLATFORM_EXPORTS", "/var/lib/camops-platform/exports")
    )
    app.state.segment_length = timedelta(
        seconds=int(os.environ.get("CAMOPS_PLATFORM_SEGMENT_SECONDS", "60"))
    )
    workers = ThreadPoolExecutor(
        max_workers=int(os.environ.get("CAMOPS_PLATFORM_EXPORT_WORKERS", "2")),
        thread_name_prefix="export",
    )
    app.state.exporter = workers
    with pool.connection() as conn:
        for request_id in exports.unstarted(conn):  # accepted before the last stop
            workers.submit(produce_export, pool, request_id, export_settings(app))
    stop = threading.Event()
    watcher = threading.Thread(
        target=watch_alertmanager, args=(pool, stop), name="incidents", daemon=True
    )
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join(timeout=10)
        workers.shutdown(wait=True, cancel_futures=True)
        pool.close()


def watch_alertmanager(pool: ConnectionPool[Any], stop: threading.Event) -> None:
    """Resolve acknowledged incidents whose alert ended (their silence muted the news)."""
    every = float(os.environ.get("CAMOPS_PLATFORM_INCIDENT_POLL_SECONDS", "15"))
    while not stop.wait(every):
        manager = alertmanager()
        if manager is None:
            continue
        try:
            with pool.connection() as conn:
                conn.autocommit = True
                resolved = incidents.reconcile(conn, manager)
        except (incidents.AlertmanagerError, psycopg.Error) as error:
            log.warning("incidents not reconciled with Alertmanager: %s", error)
            continue
        if resolved:
            log.info("incidents resolved (their alert ended): %s", resolved)


app = FastAPI(
    title="camops platform",
    version="1",
    summary="Catalog, accounts, role grants, authorization and audit log (R6-R8)",
    openapi_url="/api/v1/openapi.json",
    docs_url=None,
    redoc_url=None,
    lifespan=lifespan,
)


def connection(request: Request) -> Iterator[psycopg.Connection[Any]]:
    pool: ConnectionPool[psycopg.Connection[Any]] = request.app.state.pool
    with pool.connection() as conn:
        conn.autocommit = True
        yield conn


Conn = Annotated[psycopg.Connection[Any], Depends(connection)]


def client_ip(request: Request, x_real_ip: str | None) -> str:
    """nginx passes the viewer's address (the service listens on localhost only)."""
    return x_real_ip or (request.client.host if request.client else "")


def person(conn: Conn, token: Annotated[str | None, Depends(cookie_scheme)]) -> dict[str, Any]:
    account = store.session_account(conn, token) if token else None
    if account is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "log in first")
    return account


Person = Annotated[dict[str, Any], Depends(person)]


def automation(*accepted: str) -> Any:
    """A bearer token with one of the ``accepted`` scopes; the actor name for the audit log."""

    def check(
        conn: Conn,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    ) -> str:
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


# Models ---------------------------------------------------------------------------------------


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Credentials(Strict):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)


class District(Strict):
    name: str = Field(min_length=1)


class Facility(Strict):
    district_id: str
    name: str = Field(min_length=1)
    operator: Literal["district", "military_command"]
    status: Literal["active", "standby", "handed_over", "removed"]
    status_ref: str = ""


class Camera(Strict):
    facility_id: str
    name: str = Field(min_length=1)
    zone: str = Field(min_length=1)


class Account(Strict):
    full_name: str = Field(min_length=1)
    position: str = Field(min_length=1)
    unit: str = Field(min_length=1)
    phone: str = Field(min_length=1)
    note: str = ""
    role: Literal["provincial_steering", "district_leader", "ops_engineer", "auditor"]
    scope: str = "province"
    enabled: bool = True


class NewPassword(Strict):
    password: str = Field(max_length=1024)


class Changed(BaseModel):
    changed: bool
    created: bool


class GrantSet(Strict):
    grantees: list[str] = Field(
        max_length=200, description="exactly the grantees wanted, e.g. district:<district id>"
    )


class GrantChange(BaseModel):
    changed: bool
    created: bool
    added: list[str]
    removed: list[str]


class Deleted(BaseModel):
    changed: bool


# People ---------------------------------------------------------------------------------------


@app.post("/api/v1/session", status_code=204, tags=["session"])
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


@app.delete("/api/v1/session", status_code=204, tags=["session"])
def log_out(
    response: Response,
    conn: Conn,
    account: Person,
    token: Annotated[str | None, Depends(cookie_scheme)],
) -> None:
    if token:
        store.end_session(conn, token)
    audit.append(conn, actor=account["email"], action="logout", outcome="done")
    response.delete_cookie(COOKIE, path="/")


@app.get("/api/v1/me", tags=["session"])
def me(conn: Conn, account: Person) -> dict[str, Any]:
    """Who is logged in and the facilities and cameras they may watch."""
    visible = sorted(store.visible_facilities(conn, account["id"]))
    facilities = []
    for facility_id in visible:
        row = conn.execute(
            "SELECT name, district_id FROM facilities WHERE id = %s", (facility_id,)
        ).fetchone()
        cameras = conn.execute(
            "SELECT id, name, zone FROM cameras WHERE facility_id = %s ORDER BY id", (facility_id,)
        ).fetchall()
        facilities.append(
            {
                "id": facility_id,
                "name": row[0] if row else facility_id,
                "district": row[1] if row else "",
                "cameras": [{"id": c[0], "name": c[1], "zone": c[2]} for c in cameras],
            }
        )
    return {
        "email": account["email"],
        "full_name": account["full_name"],
        "role": account["role"],
        "facilities": facilities,
    }


@app.get(
    "/api/v1/authz",
    status_code=204,
    tags=["authorization"],
    responses={401: {"description": "not logged in"}, 403: {"description": "not allowed"}},
)
def authorize(
    request: Request,
    conn: Conn,
    token: Annotated[str | None, Depends(cookie_scheme)],
    x_original_uri: Annotated[str, Header()] = "",
    x_real_ip: Annotated[str | None, Header()] = None,
) -> None:
    """nginx ``auth_request``: may this session fetch X-Original-URI? Playlists are audited."""
    match = VIDEO_PATH.match(x_original_uri)
    account = store.session_account(conn, token) if token else None
    actor = account["email"] if account else "anonymous"
    allowed = False
    facility = store.camera_facility(conn, match["camera"]) if match else None
    if account is not None and facility is not None:
        allowed = facility in store.visible_facilities(conn, account["id"])
    if match is None or match["file"].endswith(".m3u8") or not allowed:
        detail = {"uri": x_original_uri[:200], "facility": facility or ""}
        if match and match["kind"] == "playback" and match["file"].endswith(".m3u8"):
            query = parse_qs(match["query"] or "")
            detail |= {key: query.get(key, [""])[0][:40] for key in ("from", "to")}
        audit.append(
            conn,
            actor=actor,
            action=f"{match['kind']}_view" if match else "video_request",
            target=match["camera"] if match else x_original_uri[:200],
            source_ip=client_ip(request, x_real_ip),
            outcome="allowed" if allowed else "denied",
            detail=detail,
        )
    if account is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "log in first")
    if not allowed:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "not allowed to view this camera")


# Playback -------------------------------------------------------------------------------------


def viewable_camera(camera: str, conn: Conn, account: Person) -> str:
    """The camera, if this person may watch it now (R7). Not audited: nginx's authz request
    before this one was, and one request is one audit entry."""
    facility = store.camera_facility(conn, camera)
    if facility is None or facility not in store.visible_facilities(conn, account["id"]):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "not allowed to view this camera")
    return camera


ViewableCamera = Annotated[str, Depends(viewable_camera)]
VIDEO_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "not logged in"},
    403: {"description": "not allowed to view this camera"},
    404: {"description": "no recording"},
}


@app.get(
    "/playback/{camera}/index.m3u8",
    tags=["playback"],
    response_class=Response,
    responses={200: {"content": {"application/vnd.apple.mpegurl": {}}}, **VIDEO_ERRORS},
)
def playback_playlist(
    request: Request,
    camera: ViewableCamera,
    start: Annotated[datetime, Query(alias="from", description="ISO 8601; UTC if no zone")],
    end: Annotated[datetime, Query(alias="to", description="ISO 8601; at most 24 h after from")],
) -> Response:
    """An HLS VOD playlist of the camera's closed segments overlapping [from, to)."""
    start, end = playback.as_utc(start), playback.as_utc(end)
    problem = playback.range_problem(start, end)
    if problem:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, problem)
    segments = recordings.closed_segments(
        request.app.state.recordings,
        camera,
        start,
        end,
        length=request.app.state.segment_length,
        now=datetime.now(UTC),
    )
    if not segments:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no recording in this range")
    return Response(
        playback.playlist(segments),
        media_type="application/vnd.apple.mpegurl",
        headers={"Cache-Control": "private, no-store"},
    )


@app.get(
    "/playback/{camera}/seg/{stem}.ts",
    tags=["playback"],
    response_class=StreamingResponse,
    responses={200: {"content": {"video/mp2t": {}}}, **VIDEO_ERRORS},
)
async def playback_segment(request: Request, camera: ViewableCamera, stem: str) -> Response:
    """One closed segment, remuxed to MPEG-TS by ffmpeg (stream copy), streamed."""
    segment = await run_in_threadpool(
        recordings.closed_segment,
        request.app.state.recordings,
        camera,
        stem,
        length=request.app.state.segment_length,
        now=datetime.now(UTC),
    )
    if segment is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such segment")
    try:
        stream = await playback.first_chunk(playback.remux(segment))
    except playback.RemuxError as error:
        log.error("playback of %s: ffmpeg failed: %s", segment.path, error)
        raise HTTPException(
            status.HTTP_502_BAD_GATEWAY, f"segment {stem} could not be read"
        ) from error
    return StreamingResponse(
        stream, media_type="video/mp2t", headers={"Cache-Control": "private, max-age=3600"}
    )


# Export requests (R5) -------------------------------------------------------------------------


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


def export_settings(app: FastAPI) -> exports.Settings:
    return exports.Settings(app.state.recordings, app.state.exports, app.state.segment_length)


def produce_export(
    pool: ConnectionPool[psycopg.Connection[Any]], request_id: int, settings: exports.Settings
) -> None:
    """Make one export (in a worker thread); a database connection only to claim and record."""
    try:
        with pool.connection() as conn:
            conn.autocommit = True
            request = exports.claim(conn, request_id)
        if request is None:
            return  # another worker has it, or it is done
        made: exports.Made | exports.ExportError
        try:
            made = exports.make(request, settings)
        except exports.ExportError as error:
            made = error
        with pool.connection() as conn:
            conn.autocommit = True
            exports.finish(conn, request, made)
    except Exception:
        log.exception("export %s", request_id)
        raise


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


@app.post(
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
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO export_requests (account_id, camera, facility_id, range_from, range_to,"
            " approval_ref) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            (account["id"], body.camera, facility, start, end, detail["approval_ref"]),
        ).fetchone()
        assert row is not None  # noqa: S101  # INSERT … RETURNING
        request_id = int(row[0])
        audit.append(
            conn,
            actor=account["email"],
            action="export_request",
            target=body.camera,
            source_ip=client_ip(request, x_real_ip),
            outcome="accepted",
            detail=detail | {"export": request_id, "segments": len(found)},
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


@app.get("/api/v1/exports", tags=["exports"])
def list_exports(conn: Conn, account: Person) -> list[ExportStatus]:
    """This person's export requests, newest first (ops engineers and auditors: everyone's)."""
    everyone = account["role"] in {"ops_engineer", "auditor"}
    ids = conn.execute(
        "SELECT id FROM export_requests WHERE %s OR account_id = %s ORDER BY id DESC LIMIT 200",
        (everyone, account["id"]),
    ).fetchall()
    return [_export_status(row) for (export_id,) in ids if (row := exports.status(conn, export_id))]


@app.get("/api/v1/exports/{export_id}", tags=["exports"])
def get_export(row: Annotated[dict[str, Any], Depends(readable_export)]) -> ExportStatus:
    """An export request's state (its owner, ops engineers, auditors)."""
    return _export_status(row)


@app.get(
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


# Automation -----------------------------------------------------------------------------------


CatalogReader = Annotated[str, automation("catalog:read", "catalog:write")]
CatalogWriter = Annotated[str, automation("catalog:write")]


def _put(
    conn: psycopg.Connection[Any], kind: str, key: str, body: BaseModel, actor: str
) -> Changed:
    try:
        result = store.upsert(conn, kind, key, body.model_dump(), actor=actor)
    except psycopg.errors.ForeignKeyViolation as error:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"{kind} {key}: refers to something unknown"
        ) from error
    except psycopg.errors.CheckViolation as error:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"{kind} {key}: {error.diag.message_primary}"
        ) from error
    return Changed(changed=result.changed, created=result.created)


@app.put("/api/v1/districts/{district_id}", tags=["catalog"])
def put_district(district_id: str, body: District, conn: Conn, actor: CatalogWriter) -> Changed:
    return _put(conn, "district", district_id, body, actor)


@app.put("/api/v1/facilities/{facility_id}", tags=["catalog"])
def put_facility(facility_id: str, body: Facility, conn: Conn, actor: CatalogWriter) -> Changed:
    return _put(conn, "facility", facility_id, body, actor)


@app.put("/api/v1/cameras/{camera_id}", tags=["catalog"])
def put_camera(camera_id: str, body: Camera, conn: Conn, actor: CatalogWriter) -> Changed:
    return _put(conn, "camera", camera_id, body, actor)


def _get(conn: psycopg.Connection[Any], kind: str, key: str) -> dict[str, Any]:
    found = store.get(conn, kind, key)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no {kind} {key}")
    return found


@app.get("/api/v1/districts/{district_id}", tags=["catalog"])
def get_district(district_id: str, conn: Conn, actor: CatalogReader) -> District:
    """A district as stored (what the registration compares with); reading is not audited."""
    del actor
    return District(**_get(conn, "district", district_id))


@app.get("/api/v1/facilities/{facility_id}", tags=["catalog"])
def get_facility(facility_id: str, conn: Conn, actor: CatalogReader) -> Facility:
    """A facility as stored; its grants are at ``/grants``."""
    del actor
    return Facility(**_get(conn, "facility", facility_id))


class CameraEntry(BaseModel):
    id: str
    name: str
    zone: str


@app.get("/api/v1/facilities/{facility_id}/cameras", tags=["catalog"])
def get_facility_cameras(facility_id: str, conn: Conn, actor: CatalogReader) -> list[CameraEntry]:
    """The facility's cameras as stored (registration removes the ones no longer listed)."""
    del actor
    _get(conn, "facility", facility_id)
    rows = conn.execute(
        "SELECT id, name, zone FROM cameras WHERE facility_id = %s ORDER BY id", (facility_id,)
    ).fetchall()
    return [CameraEntry(id=row[0], name=row[1], zone=row[2]) for row in rows]


@app.get("/api/v1/cameras/{camera_id}", tags=["catalog"])
def get_camera(camera_id: str, conn: Conn, actor: CatalogReader) -> Camera:
    del actor
    return Camera(**_get(conn, "camera", camera_id))


class Viewer(Strict):
    email: str
    role: str
    scope: str


@app.get(
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


@app.delete("/api/v1/cameras/{camera_id}", tags=["catalog"])
def delete_camera(
    camera_id: str,
    request: Request,
    conn: Conn,
    actor: CatalogWriter,
    x_real_ip: Annotated[str | None, Header()] = None,
) -> Deleted:
    """Remove a camera from the catalog (audited; its recordings and audit entries stay).

    ``changed: false`` when there was no such camera.
    """
    return Deleted(
        changed=store.delete_camera(
            conn, camera_id, actor=actor, source_ip=client_ip(request, x_real_ip)
        )
    )


@app.delete(
    "/api/v1/facilities/{facility_id}",
    tags=["catalog"],
    responses={409: {"description": "cameras remain and cascade is not set"}},
)
def delete_facility(
    facility_id: str,
    request: Request,
    conn: Conn,
    actor: CatalogWriter,
    *,
    cascade: bool = False,
    x_real_ip: Annotated[str | None, Header()] = None,
) -> Deleted:
    """Remove a facility and its grants; refused while it has cameras unless ``cascade=true``.

    ``changed: false`` when there was no such facility.
    """
    try:
        deleted = store.delete_facility(
            conn,
            facility_id,
            actor=actor,
            cascade=cascade,
            source_ip=client_ip(request, x_real_ip),
        )
    except store.InUseError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from error
    return Deleted(changed=deleted)


@app.get(
    "/api/v1/facilities/{facility_id}/grants",
    tags=["catalog"],
    responses={404: {"description": "no such facility"}},
)
def get_grants(facility_id: str, conn: Conn, actor: CatalogReader) -> GrantSet:
    """Who the facility is granted to (``district:<id>``; the steering committee sees all)."""
    del actor
    found = store.grantees(conn, facility_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no facility {facility_id}")
    return GrantSet(grantees=found)


@app.put(
    "/api/v1/facilities/{facility_id}/grants",
    tags=["catalog"],
    responses={404: {"description": "no such facility"}},
)
def put_grants(
    facility_id: str,
    body: GrantSet,
    request: Request,
    conn: Conn,
    *,
    actor: CatalogWriter,
    x_real_ip: Annotated[str | None, Header()] = None,
) -> GrantChange:
    """Set exactly these grantees (an empty list removes every grant); audited when changed."""
    problems = store.grantee_problems(conn, body.grantees)
    if problems:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "grantees: " + "; ".join(problems)
        )
    result = store.set_grants(
        conn, facility_id, body.grantees, actor=actor, source_ip=client_ip(request, x_real_ip)
    )
    if result is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no facility {facility_id}")
    return GrantChange(
        changed=result.changed, created=result.created, added=result.added, removed=result.removed
    )


@app.put("/api/v1/accounts/{email}", tags=["accounts"])
def put_account(
    email: str, body: Account, conn: Conn, actor: Annotated[str, automation("accounts:write")]
) -> Changed:
    """Create or update a person's account (§8 fields, role, scope, enabled)."""
    if body.role == "district_leader" and not body.scope.startswith("district:"):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "scope: a district leader's scope is district:<id>",
        )
    return _put(conn, "account", email.lower(), body, actor)


class StoredAccount(Account):
    """An account as stored, and whether its person has a password yet (never the hash)."""

    has_password: bool


ACCOUNT_COLUMNS = ("full_name", "position", "unit", "phone", "note", "role", "scope", "enabled")


@app.get("/api/v1/accounts", tags=["accounts"])
def list_accounts(
    conn: Conn, actor: Annotated[str, automation("accounts:write")]
) -> dict[str, StoredAccount]:
    """Every account by e-mail (the accounts playbook disables people no longer on a form)."""
    del actor
    rows = conn.execute(
        f"SELECT email, {', '.join(ACCOUNT_COLUMNS)}, password_hash IS NOT NULL"  # noqa: S608  # fixed names
        " FROM accounts ORDER BY email"
    ).fetchall()
    return {
        row[0]: StoredAccount(
            **dict(zip(ACCOUNT_COLUMNS, row[1:-1], strict=True)), has_password=row[-1]
        )
        for row in rows
    }


@app.get("/api/v1/accounts/{email}", tags=["accounts"])
def get_account(
    email: str, conn: Conn, actor: Annotated[str, automation("accounts:write")]
) -> StoredAccount:
    """A person's account as stored (what the accounts playbook compares with)."""
    del actor  # the token's scope is checked; reading is not audited
    row = conn.execute(
        f"SELECT {', '.join(ACCOUNT_COLUMNS)}, password_hash IS NOT NULL"  # noqa: S608  # fixed names
        " FROM accounts WHERE email = %s",
        (email.lower(),),
    ).fetchone()
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no account {email}")
    return StoredAccount(**dict(zip(ACCOUNT_COLUMNS, row[:-1], strict=True)), has_password=row[-1])


@app.put("/api/v1/accounts/{email}/password", status_code=204, tags=["accounts"])
def put_password(
    email: str, body: NewPassword, conn: Conn, actor: Annotated[str, automation("accounts:write")]
) -> None:
    problems = store.set_password(conn, email, body.password, actor=actor)
    if problems == ["no such account"]:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no account {email}")
    if problems:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "password: " + "; ".join(problems)
        )


@app.get("/api/v1/audit", tags=["audit"])
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


# Incidents (R3, R11) --------------------------------------------------------------------------


def alertmanager() -> incidents.Alertmanager | None:
    """Alertmanager's API, where acknowledgements silence the alert (unset: no silences)."""
    url = os.environ.get("CAMOPS_PLATFORM_ALERTMANAGER_URL", "")
    return incidents.Alertmanager(url) if url else None


def silence_for() -> timedelta:
    """How long an acknowledgement stops the repeats; still firing after it, they resume."""
    return timedelta(hours=float(os.environ.get("CAMOPS_PLATFORM_ACK_SILENCE_HOURS", "12")))


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


@app.post("/api/v1/alerts", tags=["incidents"])
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
    conn: Conn,
    token: Annotated[str | None, Depends(cookie_scheme)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
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


@app.get("/api/v1/incidents", tags=["incidents"])
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


@app.get("/api/v1/incidents/{incident_id}", tags=["incidents"])
def get_incident(incident_id: int, conn: Conn, reader: IncidentReader) -> IncidentView:
    _, account, facilities = reader
    row = incidents.get(conn, incident_id)
    if row is None or (account is not None and not incidents.visible(account, facilities, row)):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no incident {incident_id}")
    return _incident_view(row)


@app.post("/api/v1/incidents/{incident_id}/acknowledge", tags=["incidents"])
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


class Substitute(Strict):
    measure: str = Field(max_length=incidents.SUBSTITUTE_MAX * 2)


@app.put("/api/v1/incidents/{incident_id}/substitute", tags=["incidents"])
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
            conn.execute(
                "UPDATE incidents SET substitute = %s, substitute_at = now(), substitute_by = %s"
                " WHERE id = %s",
                (measure, account["email"], incident_id),
            )
            audit.append(
                conn,
                actor=account["email"],
                action="incident_substitute",
                target=f"incident:{incident_id}",
                outcome="done",
                detail={"facility": row["facility_id"], "measure": measure},
            )
        found = incidents.get(conn, incident_id)
    assert found is not None  # noqa: S101  # read just now
    return _incident_view(found)


class Resolution(Strict):
    note: str = Field(min_length=1, max_length=1000)


@app.post("/api/v1/incidents/{incident_id}/resolve", tags=["incidents"])
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
