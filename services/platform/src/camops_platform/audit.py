"""The append-only, hash-chained audit log (R8).

Every entry's hash covers its content and the previous entry's hash, so an edited, removed or
reordered row breaks the chain at that point. The table refuses UPDATE, DELETE and TRUNCATE
(a trigger); appends are serialised with a transaction-level advisory lock so the chain has no
forks even with several workers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

#: Serialises appends (an arbitrary constant).
APPEND_LOCK = 0x617564697420  # "audit "
GENESIS = hashlib.sha256(b"camops-audit-log").hexdigest()
FIELDS = ("seq", "at", "actor", "action", "target", "source_ip", "outcome", "detail", "prev_hash")


def entry_hash(entry: dict[str, Any]) -> str:
    body = {key: entry[key] for key in FIELDS}
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def append(
    conn: psycopg.Connection[Any],
    *,
    actor: str,
    action: str,
    outcome: str,
    target: str = "",
    source_ip: str = "",
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Add one entry (in the caller's transaction, or its own). Returns the entry."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK,))
        last = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        entry: dict[str, Any] = {
            "seq": (last[0] + 1) if last else 1,
            "at": _timestamp(datetime.now(UTC)),
            "actor": actor,
            "action": action,
            "target": target,
            "source_ip": source_ip,
            "outcome": outcome,
            "detail": detail or {},
            "prev_hash": last[1] if last else GENESIS,
        }
        entry["hash"] = entry_hash(entry)
        conn.execute(
            "INSERT INTO audit_log (seq, at, actor, action, target, source_ip, outcome, detail,"
            " prev_hash, hash) VALUES (%(seq)s, %(at)s, %(actor)s, %(action)s, %(target)s,"
            " %(source_ip)s, %(outcome)s, %(detail)s, %(prev_hash)s, %(hash)s)",
            {**entry, "detail": json.dumps(entry["detail"], ensure_ascii=False)},
        )
    return entry


def rows(
    conn: psycopg.Connection[Any],
    *,
    actor: str | None = None,
    target: str | None = None,
    facility: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Entries in order, as stored (timestamps in the chain's own format), optionally filtered."""
    filters: list[sql.Composable] = []
    params: list[Any] = []
    if facility is not None:
        filters.append(sql.SQL("(detail->>'facility' = %s OR target = %s)"))
        params += [facility, facility]
    for column, operator, value in (
        ("actor", "=", actor),
        ("target", "=", target),
        ("at", ">=", since),
        ("at", "<", until),
    ):
        if value is not None:
            filters.append(sql.SQL("{} {} %s").format(sql.Identifier(column), sql.SQL(operator)))
            params.append(value)
    where = sql.SQL(" WHERE ") + sql.SQL(" AND ").join(filters) if filters else sql.SQL("")
    query = sql.SQL(
        "SELECT seq, at, actor, action, target, source_ip, outcome, detail, prev_hash, hash"
        " FROM audit_log{} ORDER BY seq"
    ).format(where)
    result = []
    for record in conn.execute(query, params).fetchall():
        entry = dict(zip((*FIELDS, "hash"), record, strict=True))
        entry["at"] = _timestamp(entry["at"])
        result.append(entry)
    return result


@dataclass(frozen=True)
class Verdict:
    entries: int
    broken_seq: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


def verify(entries: Iterable[dict[str, Any]]) -> Verdict:
    """Walk the whole chain; the first broken entry and why."""
    previous, expected_seq, count = GENESIS, 1, 0
    for entry in entries:
        if entry["seq"] != expected_seq:
            return Verdict(
                count, entry["seq"], f"sequence jumps from {expected_seq - 1} to {entry['seq']}"
            )
        if entry["prev_hash"] != previous:
            return Verdict(
                count, entry["seq"], "chain broken: the previous entry was removed or altered"
            )
        if entry_hash(entry) != entry["hash"]:
            return Verdict(
                count, entry["seq"], "entry altered: its hash does not match its content"
            )
        previous, expected_seq, count = entry["hash"], expected_seq + 1, count + 1
    return Verdict(count)
