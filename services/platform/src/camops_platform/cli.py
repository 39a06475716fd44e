"""``camops-platform``: what the platform role runs on a platform host.

    camops-platform migrate                      apply pending schema migrations
    camops-platform token NAME --scope S ...     (re)issue an automation token, written to a file
    camops-platform audit-export --endpoint-url URL --bucket B [--day D | --all-missing]
                                                 copy closed days of the audit log to WORM

The database comes from ``CAMOPS_PLATFORM_DSN`` (or libpq's PG* variables); the object store's
keys from ``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg

from camops_platform import audit, auditexport, db, store

SCOPES = (
    "catalog:write",
    "catalog:read",
    "accounts:write",
    "audit:read",
    "incidents:write",
    "incidents:read",
)


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
    worm = commands.add_parser(
        "audit-export",
        help="copy closed days of the audit log to the WORM store (idempotent, never overwrites)",
    )
    worm.add_argument("--endpoint-url", required=True)
    worm.add_argument("--bucket", required=True)
    worm.add_argument("--region", default="us-east-1")
    days = worm.add_mutually_exclusive_group()
    days.add_argument("--day", type=date.fromisoformat, help="YYYY-MM-DD (default: yesterday, UTC)")
    days.add_argument(
        "--all-missing",
        action="store_true",
        help="every closed day since the first entry that is not in the bucket yet",
    )
    worm.add_argument("--metrics", type=Path, help="Prometheus textfile to write (atomically)")
    options = parser.parse_args(argv)
    dsn = os.environ.get("CAMOPS_PLATFORM_DSN", "")
    if options.command == "audit-export":
        return audit_export(options, dsn)
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


def audit_export(options: argparse.Namespace, dsn: str) -> int:
    if not (os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY")):
        print(
            "camops-platform: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for the object store",
            file=sys.stderr,
        )
        return 2
    now = datetime.now(UTC)
    s3 = auditexport.client(options.endpoint_url, options.region)
    with psycopg.connect(dsn, autocommit=True) as conn:
        present: set[str] = set()
        try:
            if options.all_missing:
                present = auditexport.present_days(s3, options.bucket)
                days = auditexport.missing_days(auditexport.first_day(conn), present, now)
            else:
                days = [options.day or (now - timedelta(days=1)).date()]
            run = auditexport.export_days(conn, s3, options.bucket, days, now)
        except Exception as error:  # listing the bucket failed: report, meter
            run = auditexport.Run(error=f"{type(error).__name__}: {error}")
            audit.append(
                conn,
                actor=auditexport.ACTOR,
                action="audit_export",
                target=f"s3://{options.bucket}/{auditexport.PREFIX}",
                outcome="failed",
                detail={"days": [], "error": run.error[:500]},
            )
    for result in run.results:
        print(
            f"{auditexport.PREFIX}{result['day']}.jsonl: {result['result']}"
            f" ({result['entries']} entries, sha256 {result['sha256']})"
        )
    if not run.results and run.ok:
        print("nothing to export: every closed day is in the bucket")
    if options.metrics:
        newest = max(present | {r["day"] for r in run.results}, default=None)
        auditexport.write_metrics(
            options.metrics, run, now, date.fromisoformat(newest) if newest else None
        )
    if not run.ok:
        print(f"camops-platform: audit-export: {run.error}", file=sys.stderr)
        return 1
    return 0
