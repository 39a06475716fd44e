"""``camops-platform``: what the platform role runs on a platform host.

    camops-platform migrate                      apply pending schema migrations
    camops-platform token NAME --scope S ...     (re)issue an automation token, written to a file

The database comes from ``CAMOPS_PLATFORM_DSN`` (or libpq's PG* variables).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import psycopg

from camops_platform import db, store

SCOPES = ("catalog:write", "accounts:write", "audit:read")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="camops-platform", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply pending schema migrations")
    token = commands.add_parser("token", help="(re)issue an automation token")
    token.add_argument("name")
    token.add_argument("--scope", action="append", choices=SCOPES, required=True)
    token.add_argument(
        "--output",
        type=Path,
        required=True,
        help="file to write the token to (mode 0600); the token is never printed",
    )
    options = parser.parse_args(argv)
    dsn = os.environ.get("CAMOPS_PLATFORM_DSN", "")
    if options.command == "migrate":
        try:
            applied = db.migrate(dsn)
        except db.MigrationError as error:
            print(f"camops-platform: {error}", file=sys.stderr)
            return 1
        print(f"applied {len(applied)}" + (f": {', '.join(applied)}" if applied else ""))
        return 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        secret = store.new_token(conn, options.name, sorted(set(options.scope)))
    options.output.touch(mode=0o600)
    options.output.chmod(0o600)
    options.output.write_text(secret + "\n", encoding="utf-8")
    scopes = ", ".join(sorted(set(options.scope)))
    print(f"token {options.name} ({scopes}) written to {options.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
