"""Platform tests against a real PostgreSQL (Debian's pg_virtualenv makes a throw-away cluster).

``make test-fast`` runs pytest under ``pg_virtualenv``, which exports PGHOST, PGPORT, PGUSER,
PGPASSWORD and PGDATABASE. Each test gets a database of its own, migrated.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from camops_platform import db, store
from tests.platform.media import SEGMENT_SECONDS


@pytest.fixture(autouse=True)
def _cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMOPS_PLATFORM_FAST_HASH", "1")


@pytest.fixture
def empty_database() -> Iterator[str]:
    """A fresh database without any migration; its conninfo."""
    if not os.environ.get("PGHOST"):
        pytest.fail(
            "no PostgreSQL: run the tests under Debian's pg_virtualenv "
            "(make test-fast does: pg_virtualenv -t -- pytest ...)"
        )
    name = f"camops_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect("", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        yield f"dbname={name}"
    finally:
        with psycopg.connect("", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)'.encode())


@pytest.fixture
def database(empty_database: str) -> str:
    """A fresh, migrated database; its conninfo."""
    db.migrate(empty_database)
    return empty_database


@pytest.fixture
def recordings_root(tmp_path: Path) -> Path:
    """The central recorder's recordings root the app reads (empty)."""
    root = tmp_path / "recordings"
    root.mkdir()
    return root


@pytest.fixture
def exports_root(tmp_path: Path) -> Path:
    return tmp_path / "exports"


@pytest.fixture
def client(
    database: str, recordings_root: Path, exports_root: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.setenv("CAMOPS_PLATFORM_DSN", database)
    monkeypatch.setenv("CAMOPS_PLATFORM_RECORDINGS", str(recordings_root))
    monkeypatch.setenv("CAMOPS_PLATFORM_EXPORTS", str(exports_root))
    monkeypatch.setenv("CAMOPS_PLATFORM_SEGMENT_SECONDS", str(SEGMENT_SECONDS))
    from camops_platform.app import app  # noqa: PLC0415

    # The cookie is Secure (TLS behind nginx): the test client talks https.
    with TestClient(app, base_url="https://platform.test") as test_client:
        yield test_client


@pytest.fixture
def tokens(database: str) -> dict[str, str]:
    with psycopg.connect(database, autocommit=True) as conn:
        return {
            "catalog": store.new_token(conn, "registration", ["catalog:write"]),
            "accounts": store.new_token(conn, "accounts", ["accounts:write"]),
            "audit": store.new_token(conn, "auditor", ["audit:read"]),
            "reader": store.new_token(conn, "reader", ["catalog:read"]),
        }


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Segments made once per module (tests/platform/media.py), copied into each test's root."""
    return tmp_path_factory.mktemp("segments")
