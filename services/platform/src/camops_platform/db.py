"""PostgreSQL: connections and schema migrations (numbered SQL files, applied once each)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

import psycopg

#: Serialises migrations between hosts and processes (an arbitrary constant).
MIGRATION_LOCK = 0x63616D6F7073  # "camops"


class MigrationError(Exception):
    """An applied migration changed, or one failed; the message names it."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations() -> list[Migration]:
    """The package's migrations, in order (``NNNN_name.sql``)."""
    found = []
    for item in resources.files("camops_platform").joinpath("migrations").iterdir():
        if item.name.endswith(".sql"):
            version = int(item.name.split("_", 1)[0])
            found.append(Migration(version, item.name, item.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


def migrate(conninfo: str) -> list[str]:
    """Apply every migration not applied yet, each in its own transaction. Returns their names.

    Refuses to go on when a migration already applied differs from the package's file.
    """
    applied: list[str] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL, sha256 text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {
                row[0]: (row[1], row[2])
                for row in conn.execute("SELECT version, name, sha256 FROM schema_migrations")
            }
            for migration in migrations():
                if migration.version in done:
                    name, digest = done[migration.version]
                    if digest != migration.sha256:
                        raise MigrationError(
                            f"migration {name} was applied with other content; never edit an "
                            "applied migration, add a new one"
                        )
                    continue
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, sha256) VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.sha256),
                    )
                applied.append(migration.name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    return applied
