"""The daily copy of the audit log to the WORM store (R8): one closed UTC day per object pair.

``audit/<day>.jsonl`` holds every entry of the day in sequence order, one JSON object per line,
each with its hash (so anyone can re-check the chain from the copy alone); ``audit/<day>.json``
sums it up: entry count, first and last sequence numbers, the hash the day's first entry chains
to, the last hash, and the SHA-256 of the ``.jsonl``. Both are deterministic: exporting a day
again gives the same bytes, so a second run finds them "unchanged". An object that exists with
other content is never overwritten (the bucket has Object Lock anyway): the run fails and says
so, because the log or the bucket was altered.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import psycopg

from camops_platform import audit

PREFIX = "audit/"
ACTOR = "system:audit-export"
#: A day is closed this long after its UTC midnight (entries are stamped before they commit).
GRACE = timedelta(minutes=5)
METRIC = "camops_platform_audit_export"


class ExportError(Exception):
    """The day cannot be exported (not closed, chain broken, conflict, store error)."""


@dataclass(frozen=True)
class DayCopy:
    day: date
    jsonl: bytes
    summary: bytes
    entries: int

    @property
    def keys(self) -> tuple[str, str]:
        return f"{PREFIX}{self.day}.jsonl", f"{PREFIX}{self.day}.json"


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def closed(day: date, now: datetime) -> bool:
    return now >= datetime.combine(day + timedelta(days=1), time(), UTC) + GRACE


def build(conn: psycopg.Connection[Any], day: date) -> DayCopy:
    """The day's copy; ExportError if the chain up to the day's end does not verify."""
    start = datetime.combine(day, time(), UTC)
    end = start + timedelta(days=1)
    verdict = audit.verify(audit.rows(conn, until=end))
    if not verdict.ok:
        raise ExportError(
            f"the audit chain is broken at entry {verdict.broken_seq} ({verdict.reason}); "
            "nothing exported: investigate first (camops audit access)"
        )
    entries = audit.rows(conn, since=start, until=end)
    jsonl = "".join(_dump(entry) + "\n" for entry in entries).encode()
    summary = {
        "format": 1,
        "day": day.isoformat(),
        "entries": len(entries),
        "first_seq": entries[0]["seq"] if entries else None,
        "last_seq": entries[-1]["seq"] if entries else None,
        "prev_hash": entries[0]["prev_hash"] if entries else None,
        "last_hash": entries[-1]["hash"] if entries else None,
        "jsonl": f"{PREFIX}{day}.jsonl",
        "jsonl_sha256": hashlib.sha256(jsonl).hexdigest(),
    }
    return DayCopy(day, jsonl, (_dump(summary) + "\n").encode(), len(entries))


def first_day(conn: psycopg.Connection[Any]) -> date | None:
    row = conn.execute("SELECT min(at) FROM audit_log").fetchone()
    return None if row is None or row[0] is None else row[0].astimezone(UTC).date()


def _existing(s3: Any, bucket: str, key: str) -> bytes | None:
    from botocore.exceptions import ClientError  # noqa: PLC0415  # only this command needs it

    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404", "NotFound"}:
            return None
        raise
    body: bytes = response["Body"].read()
    return body


def store(s3: Any, bucket: str, copy: DayCopy) -> str:
    """Put the day's objects unless they are there; "exported" or "unchanged".

    The ``.jsonl`` goes first, the summary last (its presence marks a complete day).
    """
    from botocore.exceptions import ClientError  # noqa: PLC0415  # only this command needs it

    wrote = False
    for key, body, kind in zip(
        copy.keys,
        (copy.jsonl, copy.summary),
        ("application/x-ndjson", "application/json"),
        strict=True,
    ):
        ours = hashlib.sha256(body).hexdigest()
        there = _existing(s3, bucket, key)
        if there is None:
            try:
                s3.put_object(
                    Bucket=bucket,
                    Key=key,
                    Body=body,
                    ContentType=kind,
                    Metadata={"sha256": ours},
                    IfNoneMatch="*",  # two runs at once: the second put fails, never overwrites
                )
                wrote = True
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "PreconditionFailed":
                    raise
                there = _existing(s3, bucket, key)  # another run was quicker
        if there is not None and hashlib.sha256(there).hexdigest() != ours:
            raise ExportError(
                f"s3://{bucket}/{key} exists with other content (sha256 "
                f"{hashlib.sha256(there).hexdigest()}, the log gives {ours}); it is never "
                "overwritten: the audit log or the bucket was altered, investigate"
            )
    return "exported" if wrote else "unchanged"


def present_days(s3: Any, bucket: str) -> set[str]:
    """Days whose summary is in the bucket (a complete day)."""
    days: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=PREFIX):
        for item in page.get("Contents", []):
            key = str(item["Key"])
            if key.endswith(".json"):
                days.add(key.removeprefix(PREFIX).removesuffix(".json"))
    return days


def missing_days(first: date | None, present: set[str], now: datetime) -> list[date]:
    """Closed days from the first entry's day on that are not (completely) in the bucket."""
    if first is None:
        return []
    days, day = [], first
    while closed(day, now):
        if day.isoformat() not in present:
            days.append(day)
        day += timedelta(days=1)
    return days


@dataclass
class Run:
    results: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def export_days(
    conn: psycopg.Connection[Any], s3: Any, bucket: str, days: Iterable[date], now: datetime
) -> Run:
    """Export each day in turn; stop at the first failure. Audits the run as one entry."""
    run = Run()
    try:
        for day in days:
            if not closed(day, now):
                raise ExportError(f"{day} is not over yet (closed {GRACE} after UTC midnight)")
            copy = build(conn, day)
            result = store(s3, bucket, copy)
            run.results.append(
                {
                    "day": day.isoformat(),
                    "result": result,
                    "entries": copy.entries,
                    "sha256": hashlib.sha256(copy.jsonl).hexdigest(),
                }
            )
    except ExportError as error:
        run.error = str(error)
    except Exception as error:  # the store's errors: reported, audited, metered
        run.error = f"{type(error).__name__}: {error}"
    exported = any(r["result"] == "exported" for r in run.results)
    audit.append(
        conn,
        actor=ACTOR,
        action="audit_export",
        target=f"s3://{bucket}/{PREFIX}",
        outcome="failed" if run.error else ("done" if exported else "unchanged"),
        detail={"days": run.results} | ({"error": run.error[:500]} if run.error else {}),
    )
    return run


def _previous(path: Path) -> dict[str, float]:
    values: dict[str, float] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return values
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition(" ")
            try:
                values[name] = float(value)
            except ValueError:
                continue
    return values


def write_metrics(path: Path, run: Run, now: datetime, newest_day: date | None) -> None:
    """Prometheus textfile metrics, replaced atomically; the failure counter survives runs."""
    before = _previous(path)
    success = now.timestamp() if run.ok else before.get(f"{METRIC}_last_success_timestamp_seconds")
    failures = before.get(f"{METRIC}_failures_total", 0.0) + (0 if run.ok else 1)
    metrics: list[tuple[str, str, str, float | None]] = [
        ("last_run_ok", "gauge", "1 when the last audit export run succeeded.", float(run.ok)),
        ("last_run_timestamp_seconds", "gauge", "When the last run ended.", now.timestamp()),
        ("last_success_timestamp_seconds", "gauge", "When a run last succeeded.", success),
        ("failures_total", "counter", "Runs that failed.", failures),
        (
            "days_exported",
            "gauge",
            "Days the last run uploaded.",
            float(sum(r["result"] == "exported" for r in run.results)),
        ),
        (
            "newest_day_timestamp_seconds",
            "gauge",
            "UTC midnight of the newest day in the bucket.",
            None if newest_day is None else datetime.combine(newest_day, time(), UTC).timestamp(),
        ),
    ]
    lines = []
    for name, kind, text, value in metrics:
        if value is None:
            continue
        lines += [
            f"# HELP {METRIC}_{name} {text}",
            f"# TYPE {METRIC}_{name} {kind}",
            f"{METRIC}_{name} {value:.0f}" if value.is_integer() else f"{METRIC}_{name} {value}",
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=f".{path.name}.", delete=False, encoding="utf-8"
    ) as handle:
        handle.write("\n".join(lines) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    Path(handle.name).chmod(0o644)
    Path(handle.name).replace(path)


def client(endpoint: str, region: str) -> Any:
    """An S3 client; keys from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (never arguments)."""
    import boto3  # noqa: PLC0415  # only this command needs it
    from botocore.config import Config  # noqa: PLC0415

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        config=Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 5, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
        ),
    )
