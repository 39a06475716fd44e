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

SCOPES = ("catalog:write", "catalog:read", "accounts:write", "audit:read")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="camops-platform", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply pending schema migrations")
    token = commands.add_parser("token", help="(re)issue an automation token")
    token.add_argument("name")
    token.add_argument("--scope", action="append", choices=SCOPES, required=True)
    where = token.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--output",
        type=Path,
        help="make a new token and write it to this file (mode 0600); never printed",
    )
    where.add_argument(
        "--value-file",
        type=Path,
        help="register the token this file holds (from the vault); 'unchanged' if it is",
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
    scopes = sorted(set(options.scope))
    if options.value_file:
        value = options.value_file.read_text(encoding="utf-8").strip()
        if not value.startswith(store.TOKEN_PREFIX) or len(value) < 40:
            print(f"camops-platform: {options.value_file}: not a camops token", file=sys.stderr)
            return 1
        with psycopg.connect(dsn, autocommit=True) as conn:
            changed = store.register_token(conn, options.name, value, scopes)
        print(
            f"token {options.name} ({', '.join(scopes)}) {'registered' if changed else 'unchanged'}"
        )
        return 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        secret = store.new_token(conn, options.name, scopes)
    options.output.touch(mode=0o600)
    options.output.chmod(0o600)
    options.output.write_text(secret + "\n", encoding="utf-8")
    print(f"token {options.name} ({', '.join(scopes)}) written to {options.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
