"""Video: nginx's authorization of every live and playback request, and recorded playback.

nginx asks ``/api/v1/authz`` before every live or playback request (``auth_request``): 204 lets
it through, 401/403 stop it, and every decision on a playlist is written to the audit log.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from camops_platform import audit, playback, recordings, store
from camops_platform.deps import Conn, Person, SessionToken, client_ip

#: /live/<camera>/<file>, /playback/<camera>/index.m3u8?from=…&to=… and
#: /playback/<camera>/seg/<file> are the protected video paths (the camera is the 2nd part).
VIDEO_PATH = re.compile(
    r"^/(?P<kind>live|playback)/(?P<camera>[a-z0-9_]+)/"
    r"(?P<file>(?:seg/)?[A-Za-z0-9][A-Za-z0-9_.-]*)(?:\?(?P<query>[^#]*))?$"
)

log = logging.getLogger("camops_platform")
router = APIRouter()


@router.get(
    "/api/v1/authz",
    status_code=204,
    tags=["authorization"],
    responses={401: {"description": "not logged in"}, 403: {"description": "not allowed"}},
)
def authorize(
    request: Request,
    conn: Conn,
    token: SessionToken,
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


@router.get(
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


@router.get(
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
