"""The catalog (districts, facilities, cameras), kept by the registration's automation tokens.

Writes say whether anything changed and are audited; reading is not. A facility's grants are
in ``camops_platform.routers.accounts``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, HTTPException, Request, status
from pydantic import BaseModel, Field

from camops_platform import store
from camops_platform.deps import CatalogReader, CatalogWriter, Conn, client_ip
from camops_platform.routers.common import Changed, Strict, get, put

router = APIRouter()


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


class CameraEntry(BaseModel):
    id: str
    name: str
    zone: str


class Deleted(BaseModel):
    changed: bool


@router.put("/api/v1/districts/{district_id}", tags=["catalog"])
def put_district(district_id: str, body: District, conn: Conn, actor: CatalogWriter) -> Changed:
    return put(conn, "district", district_id, body, actor)


@router.put("/api/v1/facilities/{facility_id}", tags=["catalog"])
def put_facility(facility_id: str, body: Facility, conn: Conn, actor: CatalogWriter) -> Changed:
    return put(conn, "facility", facility_id, body, actor)


@router.put("/api/v1/cameras/{camera_id}", tags=["catalog"])
def put_camera(camera_id: str, body: Camera, conn: Conn, actor: CatalogWriter) -> Changed:
    return put(conn, "camera", camera_id, body, actor)


@router.get("/api/v1/districts/{district_id}", tags=["catalog"])
def get_district(district_id: str, conn: Conn, actor: CatalogReader) -> District:
    """A district as stored (what the registration compares with); reading is not audited."""
    del actor
    return District(**get(conn, "district", district_id))


@router.get("/api/v1/facilities/{facility_id}", tags=["catalog"])
def get_facility(facility_id: str, conn: Conn, actor: CatalogReader) -> Facility:
    """A facility as stored; its grants are at ``/grants``."""
    del actor
    return Facility(**get(conn, "facility", facility_id))


@router.get("/api/v1/facilities/{facility_id}/cameras", tags=["catalog"])
def get_facility_cameras(facility_id: str, conn: Conn, actor: CatalogReader) -> list[CameraEntry]:
    """The facility's cameras as stored (registration removes the ones no longer listed)."""
    del actor
    get(conn, "facility", facility_id)
    return [CameraEntry(**row) for row in store.facility_cameras(conn, facility_id)]


@router.get("/api/v1/cameras/{camera_id}", tags=["catalog"])
def get_camera(camera_id: str, conn: Conn, actor: CatalogReader) -> Camera:
    del actor
    return Camera(**get(conn, "camera", camera_id))


@router.delete("/api/v1/cameras/{camera_id}", tags=["catalog"])
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


@router.delete(
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
