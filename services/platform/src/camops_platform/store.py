"""Data access: catalog and account upserts that say whether anything changed, sessions, tokens.

Every write that changes something is audited in the same transaction as the change.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from camops_platform import audit, passwords

SESSION_BYTES = 32
TOKEN_PREFIX = "cpt_"  # noqa: S105  # a prefix that marks camops tokens, not a secret

#: Upsertable resources: table, key column, columns a caller sets.
RESOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "district": ("districts", ("name",)),
    "facility": ("facilities", ("district_id", "name", "operator", "status", "status_ref")),
    "camera": ("cameras", ("facility_id", "name", "zone")),
    "account": (
        "accounts",
        ("full_name", "position", "unit", "phone", "note", "role", "scope", "enabled"),
    ),
}
KEYS = {"district": "id", "facility": "id", "camera": "id", "account": "email"}


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Upsert:
    changed: bool
    created: bool
    before: dict[str, Any] | None
    after: dict[str, Any]


def upsert(
    conn: psycopg.Connection[Any],
    kind: str,
    key: str,
    values: Mapping[str, Any],
    *,
    actor: str,
    source_ip: str = "",
) -> Upsert:
    """Create or update one resource to exactly ``values``; audit it when something changed."""
    table, columns = RESOURCES[kind]
    key_column = KEYS[kind]
    wanted = {column: values[column] for column in columns if column in values}
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        select = sql.SQL("SELECT {} FROM {} WHERE {} = %s FOR UPDATE").format(
            sql.SQL(", ").join(map(sql.Identifier, wanted)),
            sql.Identifier(table),
            sql.Identifier(key_column),
        )
        before = cur.execute(select, (key,)).fetchone()
        if before is not None and all(before[c] == v for c, v in wanted.items()):
            return Upsert(False, False, dict(before), dict(before))
        if before is None:
            names = [key_column, *wanted]
            cur.execute(
                sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                    sql.Identifier(table),
                    sql.SQL(", ").join(map(sql.Identifier, names)),
                    sql.SQL(", ").join(sql.Placeholder() * len(names)),
                ),
                (key, *wanted.values()),
            )
        else:
            cur.execute(
                sql.SQL("UPDATE {} SET {}, updated_at = now() WHERE {} = %s").format(
                    sql.Identifier(table),
                    sql.SQL(", ").join(
                        sql.SQL("{} = %s").format(sql.Identifier(c)) for c in wanted
                    ),
                    sql.Identifier(key_column),
                ),
                (*wanted.values(), key),
            )
        changes = {
            c: {"from": None if before is None else before[c], "to": v}
            for c, v in wanted.items()
            if before is None or before[c] != v
        }
        audit.append(
            conn,
            actor=actor,
            action=f"{kind}_{'create' if before is None else 'update'}",
            target=key,
            source_ip=source_ip,
            outcome="done",
            detail={"changes": changes},
        )
    return Upsert(True, before is None, None if before is None else dict(before), wanted)


# Sessions -------------------------------------------------------------------------------------


def new_session(
    conn: psycopg.Connection[Any], account_id: int, hours: float, source_ip: str
) -> str:
    token = secrets.token_urlsafe(SESSION_BYTES)
    conn.execute(
        "INSERT INTO sessions (token_sha256, account_id, expires_at, source_ip)"
        " VALUES (%s, %s, %s, %s)",
        (sha256(token), account_id, datetime.now(UTC) + timedelta(hours=hours), source_ip),
    )
    return token


def session_account(conn: psycopg.Connection[Any], token: str) -> dict[str, Any] | None:
    """The enabled account of a live session, or None."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT a.* FROM sessions s JOIN accounts a ON a.id = s.account_id"
            " WHERE s.token_sha256 = %s AND s.expires_at > now() AND a.enabled",
            (sha256(token),),
        ).fetchone()


def end_session(conn: psycopg.Connection[Any], token: str) -> None:
    conn.execute("DELETE FROM sessions WHERE token_sha256 = %s", (sha256(token),))


# Login ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Login:
    account: dict[str, Any] | None
    reason: str  # "" when the login succeeded


def login(conn: psycopg.Connection[Any], email: str, password: str, source_ip: str) -> Login:
    """Check a password with lockout; audit success and failure alike."""
    email = email.strip().lower()
    now = datetime.now(UTC)
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        account = cur.execute(
            "SELECT * FROM accounts WHERE email = %s FOR UPDATE", (email,)
        ).fetchone()
        reason = ""
        if account is None:
            passwords.same_work(password)  # as long as for a known account
            reason = "unknown account"
        elif not account["enabled"]:
            passwords.same_work(password)
            reason = "account disabled"
        elif account["locked_until"] is not None and account["locked_until"] > now:
            passwords.same_work(password)
            reason = "account locked after repeated failures"
        elif not passwords.check(account["password_hash"], password):
            state = passwords.after_failure(account["failed_logins"], now, account["locked_until"])
            cur.execute(
                "UPDATE accounts SET failed_logins = %s, locked_until = %s WHERE id = %s",
                (state.failed, state.locked_until, account["id"]),
            )
            reason = "wrong password"
            if state.locked_until is not None:
                reason += f"; locked until {state.locked_until.isoformat(timespec='seconds')}"
        else:
            updates: dict[str, Any] = {"failed_logins": 0, "locked_until": None}
            if passwords.needs_rehash(account["password_hash"]):
                updates["password_hash"] = passwords.hash_password(password)
            cur.execute(
                sql.SQL("UPDATE accounts SET {} WHERE id = %s").format(
                    sql.SQL(", ").join(
                        sql.SQL("{} = %s").format(sql.Identifier(c)) for c in updates
                    )
                ),
                (*updates.values(), account["id"]),
            )
        audit.append(
            conn,
            actor=email,
            action="login",
            source_ip=source_ip,
            outcome="failed" if reason else "success",
            detail={"reason": reason} if reason else {},
        )
    return Login(None if reason else account, reason)


def set_password(
    conn: psycopg.Connection[Any], email: str, password: str, *, actor: str, source_ip: str = ""
) -> list[str]:
    """Set a password that meets the policy; the policy's objections otherwise."""
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        account = cur.execute(
            "SELECT id, email, full_name FROM accounts WHERE email = %s FOR UPDATE",
            (email.lower(),),
        ).fetchone()
        if account is None:
            return ["no such account"]
        problems = passwords.policy_problems(
            password, email=account["email"], full_name=account["full_name"]
        )
        if problems:
            return problems
        cur.execute(
            "UPDATE accounts SET password_hash = %s, password_set_at = now(), failed_logins = 0,"
            " locked_until = NULL WHERE id = %s",
            (passwords.hash_password(password), account["id"]),
        )
        cur.execute("DELETE FROM sessions WHERE account_id = %s", (account["id"],))
        audit.append(
            conn,
            actor=actor,
            action="password_set",
            target=account["email"],
            source_ip=source_ip,
            outcome="done",
        )
    return []


# Viewing rights and API tokens ----------------------------------------------------------------


def visible_facilities(conn: psycopg.Connection[Any], account_id: int) -> set[str]:
    return {
        row[0]
        for row in conn.execute(
            "SELECT facility_id FROM account_facilities WHERE account_id = %s", (account_id,)
        )
    }


def granted_facilities(conn: psycopg.Connection[Any], account: dict[str, Any]) -> set[str]:
    """The facilities granted to a district leader's district, whatever their status (their
    incidents); empty for every other role."""
    if account.get("role") != "district_leader" or not account.get("enabled", True):
        return set()
    return {
        row[0]
        for row in conn.execute(
            "SELECT facility_id FROM facility_grants WHERE grantee = %s", (account["scope"],)
        )
    }


def camera_viewers(conn: psycopg.Connection[Any], camera: str) -> list[dict[str, str]] | None:
    """Who may watch this camera now (the same view the authorization reads); None: no camera."""
    facility = camera_facility(conn, camera)
    if facility is None:
        return None
    rows = conn.execute(
        "SELECT a.email, a.role, a.scope FROM account_facilities af"
        " JOIN accounts a ON a.id = af.account_id WHERE af.facility_id = %s ORDER BY a.email",
        (facility,),
    )
    return [{"email": row[0], "role": row[1], "scope": row[2]} for row in rows]


def camera_facility(conn: psycopg.Connection[Any], camera: str) -> str | None:
    row = conn.execute("SELECT facility_id FROM cameras WHERE id = %s", (camera,)).fetchone()
    return None if row is None else str(row[0])


def new_token(conn: psycopg.Connection[Any], name: str, scopes: list[str]) -> str:
    """A new API token (shown once; only its hash is stored)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    register_token(conn, name, token, scopes)
    return token


def register_token(conn: psycopg.Connection[Any], name: str, token: str, scopes: list[str]) -> bool:
    """Make ``token`` the token called ``name`` with ``scopes``; False if it already was."""
    row = conn.execute(
        "SELECT token_sha256, scopes, revoked_at FROM api_tokens WHERE name = %s", (name,)
    ).fetchone()
    if row is not None and row[0] == sha256(token) and list(row[1]) == scopes and row[2] is None:
        return False
    conn.execute(
        "INSERT INTO api_tokens (name, token_sha256, scopes) VALUES (%s, %s, %s)"
        " ON CONFLICT (name) DO UPDATE SET token_sha256 = EXCLUDED.token_sha256,"
        " scopes = EXCLUDED.scopes, revoked_at = NULL, created_at = now()",
        (name, sha256(token), scopes),
    )
    return True


def token_scopes(conn: psycopg.Connection[Any], token: str) -> tuple[str, list[str]] | None:
    row = conn.execute(
        "SELECT name, scopes FROM api_tokens WHERE token_sha256 = %s AND revoked_at IS NULL",
        (sha256(token),),
    ).fetchone()
    return None if row is None else (str(row[0]), list(row[1]))


# Reading and deleting catalog entries ---------------------------------------------------------


def get(conn: psycopg.Connection[Any], kind: str, key: str) -> dict[str, Any] | None:
    """One resource's caller-set columns as stored, or None."""
    table, columns = RESOURCES[kind]
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            sql.SQL("SELECT {} FROM {} WHERE {} = %s").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.Identifier(table),
                sql.Identifier(KEYS[kind]),
            ),
            (key,),
        ).fetchone()


class InUseError(Exception):
    """A facility still has cameras; the message says how many."""


def delete_camera(
    conn: psycopg.Connection[Any], camera: str, *, actor: str, source_ip: str = ""
) -> bool:
    """Remove a camera from the catalog (audited). False if there was none."""
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        before = cur.execute(
            "DELETE FROM cameras WHERE id = %s RETURNING facility_id, name, zone", (camera,)
        ).fetchone()
        if before is None:
            return False
        audit.append(
            conn,
            actor=actor,
            action="camera_delete",
            target=camera,
            source_ip=source_ip,
            outcome="done",
            detail={"facility": before["facility_id"], "before": dict(before)},
        )
    return True


def delete_facility(
    conn: psycopg.Connection[Any],
    facility: str,
    *,
    actor: str,
    cascade: bool = False,
    source_ip: str = "",
) -> bool:
    """Remove a facility (its grants go with it; its cameras only with ``cascade``), audited.

    False if there was none; InUseError while cameras remain and ``cascade`` is not set.
    """
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        before = cur.execute(
            "SELECT district_id, name, operator, status, status_ref FROM facilities"
            " WHERE id = %s FOR UPDATE",
            (facility,),
        ).fetchone()
        if before is None:
            return False
        cameras = [
            row["id"]
            for row in cur.execute(
                "SELECT id FROM cameras WHERE facility_id = %s ORDER BY id FOR UPDATE", (facility,)
            )
        ]
        if cameras and not cascade:
            raise InUseError(
                f"facility {facility} still has {len(cameras)} camera(s) "
                f"({', '.join(cameras[:5])}{', …' if len(cameras) > 5 else ''}); "
                "delete them first or pass cascade=true"
            )
        grantees = [
            row["grantee"]
            for row in cur.execute(
                "SELECT grantee FROM facility_grants WHERE facility_id = %s ORDER BY grantee",
                (facility,),
            )
        ]
        cur.execute("DELETE FROM cameras WHERE facility_id = %s", (facility,))
        cur.execute("DELETE FROM facilities WHERE id = %s", (facility,))
        audit.append(
            conn,
            actor=actor,
            action="facility_delete",
            target=facility,
            source_ip=source_ip,
            outcome="done",
            detail={
                "facility": facility,
                "before": dict(before),
                "cameras": cameras,
                "grantees": grantees,
            },
        )
    return True


# Grants ---------------------------------------------------------------------------------------

#: Grantees: ``district:<district id>`` (the model's identifier rule). More scopes may follow.
GRANTEE = re.compile(r"^district:(?P<district>[a-z][a-z0-9_]{1,47})$")


@dataclass(frozen=True)
class Grants:
    changed: bool
    created: bool  # the facility had no grant before
    added: list[str]
    removed: list[str]


def grantees(conn: psycopg.Connection[Any], facility: str) -> list[str] | None:
    """The facility's grantees, sorted; None for an unknown facility."""
    if conn.execute("SELECT 1 FROM facilities WHERE id = %s", (facility,)).fetchone() is None:
        return None
    return [
        str(row[0])
        for row in conn.execute(
            "SELECT grantee FROM facility_grants WHERE facility_id = %s ORDER BY grantee",
            (facility,),
        )
    ]


def grantee_problems(conn: psycopg.Connection[Any], wanted: list[str]) -> list[str]:
    """Why these grantees cannot be stored (malformed, unknown district); empty if they can."""
    problems = []
    for grantee in wanted:
        match = GRANTEE.match(grantee)
        if match is None:
            problems.append(f"{grantee!r} is not district:<district id>")
        elif (
            conn.execute("SELECT 1 FROM districts WHERE id = %s", (match["district"],)).fetchone()
            is None
        ):
            problems.append(f"{grantee!r}: no district {match['district']}")
    return problems


def set_grants(
    conn: psycopg.Connection[Any],
    facility: str,
    wanted: list[str],
    *,
    actor: str,
    source_ip: str = "",
) -> Grants | None:
    """Make the facility's grants exactly ``wanted``; audit when that changed anything.

    None for an unknown facility. Grantees must have passed ``grantee_problems``.
    """
    with conn.transaction():
        found = conn.execute(
            "SELECT 1 FROM facilities WHERE id = %s FOR UPDATE", (facility,)
        ).fetchone()
        if found is None:
            return None
        current = {
            str(row[0])
            for row in conn.execute(
                "SELECT grantee FROM facility_grants WHERE facility_id = %s", (facility,)
            )
        }
        added = sorted(set(wanted) - current)
        removed = sorted(current - set(wanted))
        if not added and not removed:
            return Grants(False, False, [], [])
        if removed:
            conn.execute(
                "DELETE FROM facility_grants WHERE facility_id = %s AND grantee = ANY(%s)",
                (facility, removed),
            )
        for grantee in added:
            conn.execute(
                "INSERT INTO facility_grants (facility_id, grantee, created_by)"
                " VALUES (%s, %s, %s)",
                (facility, grantee, actor),
            )
        audit.append(
            conn,
            actor=actor,
            action="grant_update",
            target=facility,
            source_ip=source_ip,
            outcome="done",
            detail={"facility": facility, "added": added, "removed": removed},
        )
    return Grants(True, not current, added, removed)


# What the API reads for people and automation ------------------------------------------------


def facility_summary(conn: psycopg.Connection[Any], facility: str) -> dict[str, Any] | None:
    """A facility's name and district_id, or None."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT name, district_id FROM facilities WHERE id = %s", (facility,)
        ).fetchone()


def facility_cameras(conn: psycopg.Connection[Any], facility: str) -> list[dict[str, Any]]:
    """The facility's cameras (id, name, zone), by id."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT id, name, zone FROM cameras WHERE facility_id = %s ORDER BY id", (facility,)
        ).fetchall()


def _stored_accounts(where: sql.Composable) -> sql.Composed:
    """Accounts' caller-set columns and ``has_password`` (never the hash itself)."""
    return sql.SQL(
        "SELECT email, {}, password_hash IS NOT NULL AS has_password FROM accounts {}"
    ).format(sql.SQL(", ").join(map(sql.Identifier, RESOURCES["account"][1])), where)


def stored_accounts(conn: psycopg.Connection[Any]) -> dict[str, dict[str, Any]]:
    """Every account as stored, by e-mail (sorted), with ``has_password``."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(_stored_accounts(sql.SQL("ORDER BY email"))).fetchall()
    return {row.pop("email"): row for row in rows}


def stored_account(conn: psycopg.Connection[Any], email: str) -> dict[str, Any] | None:
    """An account as stored, with ``has_password``; None if there is none."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(_stored_accounts(sql.SQL("WHERE email = %s")), (email,)).fetchone()
    if row is not None:
        del row["email"]
    return row


# Export requests (R5) -------------------------------------------------------------------------


def add_export_request(
    conn: psycopg.Connection[Any],
    *,
    account: dict[str, Any],
    camera: str,
    facility: str,
    start: datetime,
    end: datetime,
    approval_ref: str,
    source_ip: str,
    detail: dict[str, Any],
    segments: int,
) -> int:
    """Record an accepted export request and audit it (``detail`` with the id and the count of
    ``segments``), in one transaction; its id."""
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO export_requests (account_id, camera, facility_id, range_from, range_to,"
            " approval_ref) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            (account["id"], camera, facility, start, end, approval_ref),
        ).fetchone()
        assert row is not None  # noqa: S101  # INSERT … RETURNING
        request_id = int(row[0])
        audit.append(
            conn,
            actor=account["email"],
            action="export_request",
            target=camera,
            source_ip=source_ip,
            outcome="accepted",
            detail=detail | {"export": request_id, "segments": segments},
        )
    return request_id


def export_ids(conn: psycopg.Connection[Any], account_id: int, *, everyone: bool) -> list[int]:
    """The newest 200 export requests' ids, newest first: the account's, or ``everyone``'s."""
    return [
        row[0]
        for row in conn.execute(
            "SELECT id FROM export_requests WHERE %s OR account_id = %s ORDER BY id DESC LIMIT 200",
            (everyone, account_id),
        )
    ]


# Incidents (R11) ------------------------------------------------------------------------------


def set_substitute(
    conn: psycopg.Connection[Any], incident: int, measure: str, *, actor: str, facility: str
) -> None:
    """Record the substitute monitoring measure of an incident and audit it.

    In the caller's transaction, which holds the incident's row (``incidents.get(lock=True)``).
    """
    conn.execute(
        "UPDATE incidents SET substitute = %s, substitute_at = now(), substitute_by = %s"
        " WHERE id = %s",
        (measure, actor, incident),
    )
    audit.append(
        conn,
        actor=actor,
        action="incident_substitute",
        target=f"incident:{incident}",
        outcome="done",
        detail={"facility": facility, "measure": measure},
    )
