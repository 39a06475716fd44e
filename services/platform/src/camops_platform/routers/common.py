"""What several routers share: the strict request model, and catalog-style upserts and reads."""

from __future__ import annotations

from typing import Any

import psycopg
from fastapi import HTTPException, status
from pydantic import BaseModel, ConfigDict

from camops_platform import store


class Strict(BaseModel):
    """A request body that refuses unknown fields."""

    model_config = ConfigDict(extra="forbid")


class Changed(BaseModel):
    changed: bool
    created: bool


def put(conn: psycopg.Connection[Any], kind: str, key: str, body: BaseModel, actor: str) -> Changed:
    """Create or update one ``store.RESOURCES`` entry; the database's refusals as 422."""
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


def get(conn: psycopg.Connection[Any], kind: str, key: str) -> dict[str, Any]:
    """One ``store.RESOURCES`` entry as stored; 404 if there is none."""
    found = store.get(conn, kind, key)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no {kind} {key}")
    return found
