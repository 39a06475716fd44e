"""Incidents (R3, R11): opened by Alertmanager's webhook, acknowledged, resolved; timed.

Alertmanager sends every notification of an alert group to ``POST /api/v1/alerts`` (its
webhook format, version 4): a firing alert opens an incident (one per alert fingerprint while
it is unresolved; the same alert notified again, or through another receiver, counts one more
notification on it), a resolved alert resolves it. Alertmanager repeats the notifications
(mail included) until a person acknowledges the incident here: the acknowledgement puts a
silence on exactly that alert's labels in Alertmanager, and the platform then watches
Alertmanager's active alerts to resolve the incident when the alert ends (a silenced alert's
"resolved" notification is muted too). Time to acknowledge and time to repair are kept for
the reports.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from camops_platform import audit

log = logging.getLogger("camops_platform.incidents")

#: The label keys copied into columns (the rest stays in ``labels``).
COLUMNS = {"facility": "facility_id", "district": "district_id", "camera": "camera"}
SUBSTITUTE_MIN = 10
SUBSTITUTE_MAX = 1000
#: Roles that see (and, for ops engineers, act on) every incident; district leaders see and
#: acknowledge their district's facilities' incidents.
PROVINCE_READERS = {"provincial_steering", "ops_engineer", "auditor"}
ACTORS = {"ops_engineer", "district_leader"}
FIELDS = (
    "id",
    "fingerprint",
    "alertname",
    "severity",
    "facility_id",
    "district_id",
    "camera",
    "instance",
    "summary",
    "labels",
    "status",
    "started_at",
    "opened_at",
    "last_notified_at",
    "notifications",
    "acknowledged_at",
    "acknowledged_by",
    "silence_id",
    "substitute",
    "substitute_at",
    "substitute_by",
    "resolved_at",
    "resolved_by",
    "resolution",
)


class AlertError(ValueError):
    """A webhook body that is not Alertmanager's; the message names the field."""


@dataclass(frozen=True)
class Received:
    opened: list[int]
    renotified: list[int]
    resolved: list[int]
    ignored: int


def _time(value: Any, field: str) -> datetime | None:
    if not value or str(value).startswith("0001-01-01"):
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as error:
        raise AlertError(f"{field}: {value!r} is not an RFC 3339 time") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _alert(raw: Any, index: int) -> dict[str, Any]:
    where = f"alerts[{index}]"
    if not isinstance(raw, dict):
        raise AlertError(f"{where}: an object is expected")
    labels = raw.get("labels")
    if not isinstance(labels, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        raise AlertError(f"{where}.labels: an object of strings is expected")
    if not labels.get("alertname"):
        raise AlertError(f"{where}.labels.alertname: missing")
    fingerprint = str(raw.get("fingerprint") or "")
    if not fingerprint or len(fingerprint) > 64 or set(fingerprint) - set("0123456789abcdef"):
        raise AlertError(f"{where}.fingerprint: Alertmanager's hexadecimal fingerprint expected")
    state = raw.get("status")
    if state not in ("firing", "resolved"):
        raise AlertError(f"{where}.status: 'firing' or 'resolved' expected, not {state!r}")
    annotations = raw.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise AlertError(f"{where}.annotations: an object is expected")
    starts = _time(raw.get("startsAt"), f"{where}.startsAt")
    if starts is None:
        raise AlertError(f"{where}.startsAt: missing")
    return {
        "labels": labels,
        "annotations": {str(k): str(v) for k, v in annotations.items()},
        "fingerprint": fingerprint,
        "status": state,
        "starts": starts,
        "ends": _time(raw.get("endsAt"), f"{where}.endsAt"),
    }


def parse(body: Any) -> list[dict[str, Any]]:
    """The alerts of an Alertmanager webhook body (version 4), checked."""
    if not isinstance(body, dict):
        raise AlertError("body: Alertmanager's webhook object expected")
    if str(body.get("version", "4")) != "4":
        raise AlertError(f"version: webhook version 4 expected, not {body.get('version')!r}")
    alerts = body.get("alerts")
    if not isinstance(alerts, list):
        raise AlertError("alerts: a list is expected")
    if len(alerts) > 1000:
        raise AlertError("alerts: at most 1000 per notification")
    return [_alert(raw, index) for index, raw in enumerate(alerts)]


def receive(conn: psycopg.Connection[Any], alerts: list[dict[str, Any]], actor: str) -> Received:
    """Open, count or resolve the incidents of these alerts (one transaction)."""
    opened: list[int] = []
    renotified: list[int] = []
    resolved: list[int] = []
    ignored = 0
    with conn.transaction():
        for alert in alerts:
            labels = alert["labels"]
            current = conn.execute(
                "SELECT id FROM incidents WHERE fingerprint = %s AND status <> 'resolved'"
                " FOR UPDATE",
                (alert["fingerprint"],),
            ).fetchone()
            if alert["status"] == "resolved":
                if current is None:
                    ignored += 1
                    continue
                ended = alert["ends"] or datetime.now(UTC)
                conn.execute(
                    "UPDATE incidents SET status = 'resolved', resolved_at = %s,"
                    " resolved_by = 'alertmanager', resolution = 'the alert ended'"
                    " WHERE id = %s",
                    (ended, current[0]),
                )
                resolved.append(int(current[0]))
                _audit(
                    conn,
                    actor,
                    "incident_resolve",
                    incident=int(current[0]),
                    labels=labels,
                    outcome="done",
                )
                continue
            if current is not None:
                conn.execute(
                    "UPDATE incidents SET notifications = notifications + 1,"
                    " last_notified_at = now() WHERE id = %s",
                    (current[0],),
                )
                renotified.append(int(current[0]))
                continue
            row = conn.execute(
                "INSERT INTO incidents (fingerprint, alertname, severity, facility_id,"
                " district_id, camera, instance, summary, labels, annotations, started_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (
                    alert["fingerprint"],
                    labels["alertname"],
                    labels.get("severity", ""),
                    labels.get("facility", ""),
                    labels.get("district", ""),
                    labels.get("camera", ""),
                    labels.get("instance", ""),
                    alert["annotations"].get("summary", "")[:500],
                    Jsonb(labels),
                    Jsonb(alert["annotations"]),
                    alert["starts"],
                ),
            ).fetchone()
            assert row is not None  # noqa: S101  # INSERT … RETURNING
            opened.append(int(row[0]))
            _audit(
                conn, actor, "incident_open", incident=int(row[0]), labels=labels, outcome="done"
            )
    return Received(opened, renotified, resolved, ignored)


def _audit(
    conn: psycopg.Connection[Any],
    actor: str,
    action: str,
    *,
    incident: int,
    labels: dict[str, str],
    outcome: str,
    **detail: Any,
) -> None:
    audit.append(
        conn,
        actor=actor,
        action=action,
        target=f"incident:{incident}",
        outcome=outcome,
        detail={"alertname": labels.get("alertname", ""), "facility": labels.get("facility", "")}
        | detail,
    )


def durations(row: dict[str, Any]) -> dict[str, float | None]:
    """Seconds from the outage's start to acknowledgement and to repair (None: not yet)."""
    start = row["started_at"]

    def since(moment: datetime | None) -> float | None:
        return None if moment is None else round((moment - start).total_seconds(), 1)

    return {
        "time_to_acknowledge_s": since(row["acknowledged_at"]),
        "time_to_repair_s": since(row["resolved_at"]),
    }


def visible(account: dict[str, Any], facilities: set[str], row: dict[str, Any]) -> bool:
    """May this person see this incident? District leaders: their facilities' only."""
    if account["role"] in PROVINCE_READERS:
        return True
    return account["role"] == "district_leader" and row["facility_id"] in facilities


def may_act(account: dict[str, Any], facilities: set[str], row: dict[str, Any]) -> bool:
    """May this person acknowledge it, note its substitute measure, resolve it?"""
    if account["role"] == "ops_engineer":
        return True
    return account["role"] == "district_leader" and row["facility_id"] in facilities


def listing(
    conn: psycopg.Connection[Any],
    *,
    status: str | None = None,
    facility: str | None = None,
    since: datetime | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if status == "unresolved":
        clauses.append("status <> 'resolved'")
    elif status:
        clauses.append("status = %s")
        params.append(status)
    if facility:
        clauses.append("facility_id = %s")
        params.append(facility)
    if since:
        clauses.append("started_at >= %s")
        params.append(since)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    with conn.cursor(row_factory=dict_row) as cursor:
        rows = cursor.execute(
            f"SELECT {', '.join(FIELDS)} FROM incidents{where}"  # noqa: S608  # fixed names
            " ORDER BY started_at DESC, id DESC LIMIT %s",
            (*params, limit),
        ).fetchall()
    return rows


def get(conn: psycopg.Connection[Any], incident: int, lock: bool = False) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cursor:
        return cursor.execute(
            f"SELECT {', '.join(FIELDS)} FROM incidents WHERE id = %s"  # noqa: S608
            + (" FOR UPDATE" if lock else ""),
            (incident,),
        ).fetchone()


def substitute_problem(text: str | None) -> str:
    measure = (text or "").strip()
    if len(measure) < SUBSTITUTE_MIN:
        return (
            "measure: say what replaces the camera while it is down (R11), e.g. 'bảo vệ trực "
            f"tại cổng 24/7' - at least {SUBSTITUTE_MIN} characters"
        )
    if len(measure) > SUBSTITUTE_MAX:
        return f"measure: at most {SUBSTITUTE_MAX} characters"
    return ""


# Alertmanager's API (v2) ----------------------------------------------------------------------


class AlertmanagerError(RuntimeError):
    """Alertmanager did not answer as expected; the message says what was asked."""


@dataclass(frozen=True)
class Alertmanager:
    url: str
    timeout: float = 5.0

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310  # the configured http(s) URL
            self.url.rstrip("/") + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
                text = answer.read()
        except (urllib.error.URLError, OSError) as error:
            raise AlertmanagerError(f"{method} {self.url}{path}: {error}") from error
        return json.loads(text) if text else None

    def silence(self, labels: dict[str, str], until: datetime, by: str, comment: str) -> str:
        """Silence exactly the alert with these labels until ``until``; the silence's id."""
        answer = self._call(
            "POST",
            "/api/v2/silences",
            {
                "matchers": [
                    {"name": key, "value": value, "isRegex": False, "isEqual": True}
                    for key, value in sorted(labels.items())
                ],
                "startsAt": datetime.now(UTC).isoformat(),
                "endsAt": until.astimezone(UTC).isoformat(),
                "createdBy": by,
                "comment": comment,
            },
        )
        if not isinstance(answer, dict) or not answer.get("silenceID"):
            raise AlertmanagerError(f"POST {self.url}/api/v2/silences: no silenceID in {answer!r}")
        return str(answer["silenceID"])

    def expire(self, silence_id: str) -> None:
        try:
            self._call("DELETE", f"/api/v2/silence/{silence_id}")
        except AlertmanagerError as error:
            log.warning("silence %s not expired: %s", silence_id, error)

    def active_fingerprints(self) -> set[str]:
        """Fingerprints of the alerts Alertmanager holds as firing (silenced ones included)."""
        answer = self._call(
            "GET", "/api/v2/alerts?active=true&silenced=true&inhibited=true&unprocessed=true"
        )
        if not isinstance(answer, list):
            raise AlertmanagerError(f"GET {self.url}/api/v2/alerts: a list expected")
        return {str(alert.get("fingerprint")) for alert in answer if isinstance(alert, dict)}


def acknowledge(
    conn: psycopg.Connection[Any],
    row: dict[str, Any],
    by: str,
    alertmanager: Alertmanager | None,
    silence_for: timedelta,
) -> dict[str, Any]:
    """Acknowledge an open incident: repeats stop (a silence on its alert), time kept."""
    silence_id = ""
    if alertmanager is not None:
        silence_id = alertmanager.silence(
            row["labels"],
            datetime.now(UTC) + silence_for,
            by,
            f"camops incident {row['id']} acknowledged",
        )
    conn.execute(
        "UPDATE incidents SET status = 'acknowledged', acknowledged_at = now(),"
        " acknowledged_by = %s, silence_id = %s WHERE id = %s",
        (by, silence_id, row["id"]),
    )
    _audit(
        conn,
        by,
        "incident_acknowledge",
        incident=row["id"],
        labels=row["labels"],
        outcome="done",
        silence=silence_id,
    )
    found = get(conn, row["id"])
    assert found is not None  # noqa: S101  # updated just now
    return found


def resolve(
    conn: psycopg.Connection[Any],
    row: dict[str, Any],
    *,
    by: str,
    note: str,
    alertmanager: Alertmanager | None,
    at: datetime | None = None,
) -> None:
    conn.execute(
        "UPDATE incidents SET status = 'resolved', resolved_at = %s, resolved_by = %s,"
        " resolution = %s WHERE id = %s",
        (at or datetime.now(UTC), by, note, row["id"]),
    )
    if row["silence_id"] and alertmanager is not None:
        alertmanager.expire(row["silence_id"])
    _audit(
        conn,
        by,
        "incident_resolve",
        incident=row["id"],
        labels=row["labels"],
        outcome="done",
        note=note,
    )


def reconcile(conn: psycopg.Connection[Any], alertmanager: Alertmanager) -> list[int]:
    """Resolve acknowledged incidents whose alert Alertmanager no longer holds (their silence
    muted the "resolved" notification). Returns the incidents resolved."""
    with conn.cursor(row_factory=dict_row) as cursor:
        waiting = cursor.execute(
            f"SELECT {', '.join(FIELDS)} FROM incidents"  # noqa: S608  # fixed names
            " WHERE status = 'acknowledged' AND silence_id <> ''"
        ).fetchall()
    if not waiting:
        return []
    active = alertmanager.active_fingerprints()
    done = []
    for row in waiting:
        if row["fingerprint"] in active:
            continue
        with conn.transaction():
            current = get(conn, row["id"], lock=True)
            if current is None or current["status"] != "acknowledged":
                continue
            resolve(
                conn, current, by="alertmanager", note="the alert ended", alertmanager=alertmanager
            )
        done.append(int(row["id"]))
    return done
