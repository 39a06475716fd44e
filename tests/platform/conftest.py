"""Platform tests against a real PostgreSQL (Debian's pg_virtualenv makes a throw-away cluster).

``make test-fast`` runs pytest under ``pg_virtualenv``, which exports PGHOST, PGPORT, PGUSER,
PGPASSWORD and PGDATABASE. Each test gets a database of its own, migrated.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from camops_platform import db


@pytest.fixture(autouse=True)
def _cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMOPS_PLATFORM_FAST_HASH", "1")


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh, migrated database; its conninfo."""
    if not os.environ.get("PGHOST"):
        pytest.fail(
            "no PostgreSQL: run the tests under Debian's pg_virtualenv "
            "(make test-fast does: pg_virtualenv -t -- pytest ...)"
        )
    name = f"camops_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect("", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
    conninfo = f"dbname={name}"
    db.migrate(conninfo)
    try:
        yield conninfo
    finally:
        with psycopg.connect("", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)'.encode())
