"""The daily audit export to the WORM store, against a real SeaweedFS with Object Lock."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from botocore.exceptions import ClientError

from camops_platform import audit, cli
from tests.helpers import render_role_template, role_value, run_module
from tests.seaweed import Store, seaweed

#: The platform's bucket as its role deploys it (audit-log), not one the test makes up.
BUCKET = role_value("platform", "platform_audit_export_bucket")
TODAY = datetime.now(UTC).date()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """SeaweedFS with the object_store role's rendered identities, and its buckets made as the
    role makes them: the camops_s3_bucket module with the role's retention (audit-log 365 d)."""
    with seaweed(tmp_path_factory.mktemp("seaweed")) as running:
        access, secret = running.keys[role_value("object_store", "object_store_admin_identity")]
        for bucket in role_value("object_store", "object_store_buckets"):
            made = run_module(
                "camops_s3_bucket",
                {
                    "endpoint_url": running.endpoint,
                    "access_key": access,
                    "secret_key": secret,
                    "name": bucket["name"],
                    "retention_days": int(bucket["retention_days"]),
                    "mode": "COMPLIANCE",
                },
            )
            assert not made.get("failed"), made.get("msg")
        # As on a host, other collections have their volumes before the audit-log's first
        # object comes (the recorders upload before the first day closes; the lab's store had
        # all its slots taken so, and refused the export): recordings and one more bucket.
        running.client("writer").put_object(Bucket="recordings", Key="first", Body=b"segment")
        admin = running.client("admin")
        admin.create_bucket(Bucket="another-collection")
        admin.put_object(Bucket="another-collection", Key="first", Body=b"x")
        yield running


def platform_environment(store: Store) -> dict[str, str]:
    """The audit export's keys as the platform role writes them (audit-export.env.j2, rendered
    with the vault's object-store keys): the writer identity, whatever the role picks."""
    vault = {}
    for name, (access, secret) in store.keys.items():
        vault[f"vault_object_store_{name}_access_key"] = access
        vault[f"vault_object_store_{name}_secret_key"] = secret
    text = render_role_template(
        "platform", "audit-export.env.j2", {**vault, "ansible_managed": "-"}
    )
    pairs = [line.partition("=") for line in text.splitlines() if line and line[0] != "#"]
    return {key: value for key, _, value in pairs}


def append_at(conn: psycopg.Connection[Any], moment: datetime, actor: str, action: str) -> None:
    """An entry written at ``moment`` (the log's own rules: next seq, chained to the last)."""
    last = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    entry: dict[str, Any] = {
        "seq": last[0] + 1 if last else 1,
        "at": moment.isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "target": "n1_cam01",
        "source_ip": "10.77.0.50",
        "outcome": "allowed",
        "detail": {"facility": "n1", "note": "Khu cách ly"},
        "prev_hash": last[1] if last else audit.GENESIS,
    }
    entry["hash"] = audit.entry_hash(entry)
    conn.execute(
        "INSERT INTO audit_log (seq, at, actor, action, target, source_ip, outcome, detail,"
        " prev_hash, hash) VALUES (%(seq)s, %(at)s, %(actor)s, %(action)s, %(target)s,"
        " %(source_ip)s, %(outcome)s, %(detail)s, %(prev_hash)s, %(hash)s)",
        {**entry, "detail": json.dumps(entry["detail"], ensure_ascii=False)},
    )


def day(offset: int) -> date:
    return TODAY - timedelta(days=offset)


def noon(offset: int, minute: int = 0) -> datetime:
    return datetime(day(offset).year, day(offset).month, day(offset).day, 12, minute, tzinfo=UTC)


def fetch(store: Store, key: str) -> bytes:
    body: bytes = store.client("admin").get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return body


def metrics(path: Path) -> dict[str, float]:
    return {
        line.split()[0]: float(line.split()[1])
        for line in path.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    }


def test_audit_export_is_verifiable_idempotent_and_never_overwrites(
    store: Store,
    database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    environment = platform_environment(store)
    assert environment["AWS_ACCESS_KEY_ID"] == store.keys["writer"][0]  # least privilege
    monkeypatch.setenv("CAMOPS_PLATFORM_DSN", database)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with psycopg.connect(database, autocommit=True) as conn:
        for minute in range(3):
            append_at(conn, noon(5, minute), "north@lab.gov.vn", "live_view")
        for minute in range(2):
            append_at(conn, noon(3, minute), "steer@lab.gov.vn", "playback_view")
    prom = tmp_path / "textfile" / "camops_platform_audit_export.prom"
    base = ["audit-export", "--endpoint-url", store.endpoint, "--bucket", BUCKET]
    base += ["--metrics", str(prom)]

    assert cli.main([*base, "--day", day(5).isoformat()]) == 0
    assert f"audit/{day(5)}.jsonl: exported (3 entries" in capsys.readouterr().out
    lines = fetch(store, f"audit/{day(5)}.jsonl").decode().splitlines()
    entries = [json.loads(line) for line in lines]
    assert audit.verify(entries).ok  # the copy alone proves itself
    assert [e["detail"]["note"] for e in entries] == ["Khu cách ly"] * 3
    summary = json.loads(fetch(store, f"audit/{day(5)}.json"))
    assert summary == {
        "format": 1,
        "day": day(5).isoformat(),
        "entries": 3,
        "first_seq": 1,
        "last_seq": 3,
        "prev_hash": audit.GENESIS,
        "last_hash": entries[-1]["hash"],
        "jsonl": f"audit/{day(5)}.jsonl",
        "jsonl_sha256": hashlib.sha256(fetch(store, f"audit/{day(5)}.jsonl")).hexdigest(),
    }
    # Locked as the role's bucket locks it; the platform's own identity cannot undo its copy.
    buckets = {
        b["name"]: int(b["retention_days"])
        for b in role_value("object_store", "object_store_buckets")
    }
    writer = store.client("writer")
    for key in (f"audit/{day(5)}.jsonl", f"audit/{day(5)}.json"):
        head = writer.head_object(Bucket=BUCKET, Key=key)
        assert head["ObjectLockMode"] == "COMPLIANCE"
        kept = head["ObjectLockRetainUntilDate"] - datetime.now(UTC)
        assert timedelta(days=buckets[BUCKET] - 1) < kept <= timedelta(days=buckets[BUCKET])
        with pytest.raises(ClientError):
            writer.delete_object(Bucket=BUCKET, Key=key, VersionId=head["VersionId"])
        with pytest.raises(ClientError):
            writer.delete_object(Bucket=BUCKET, Key=key)  # not even a delete marker
        assert writer.get_object(Bucket=BUCKET, Key=key)["VersionId"] == head["VersionId"]
    first = metrics(prom)
    assert first["camops_platform_audit_export_last_run_ok"] == 1
    assert first["camops_platform_audit_export_failures_total"] == 0
    assert first["camops_platform_audit_export_days_exported"] == 1

    assert cli.main([*base, "--day", day(5).isoformat()]) == 0
    assert "unchanged" in capsys.readouterr().out
    assert metrics(prom)["camops_platform_audit_export_days_exported"] == 0

    # What the daily timer runs: every closed day not there yet, empty ones too; today waits.
    assert cli.main([*base, "--all-missing"]) == 0
    out = capsys.readouterr().out
    assert [line.split(".jsonl")[0] for line in out.splitlines()] == [
        f"audit/{day(n)}" for n in (4, 3, 2, 1)
    ]
    assert json.loads(fetch(store, f"audit/{day(4)}.json"))["entries"] == 0
    third = json.loads(fetch(store, f"audit/{day(3)}.json"))
    assert (third["first_seq"], third["prev_hash"]) == (4, summary["last_hash"])
    assert metrics(prom)["camops_platform_audit_export_newest_day_timestamp_seconds"] == (
        datetime(day(1).year, day(1).month, day(1).day, tzinfo=UTC).timestamp()
    )
    assert cli.main([*base, "--all-missing"]) == 0
    assert "nothing to export" in capsys.readouterr().out

    # Today is not over; an object that differs is never overwritten.
    assert cli.main([*base, "--day", TODAY.isoformat()]) == 1
    assert "not over yet" in capsys.readouterr().err
    store.client("admin").put_object(Bucket=BUCKET, Key=f"audit/{day(9)}.jsonl", Body=b"other")
    assert cli.main([*base, "--day", day(9).isoformat()]) == 1
    assert "exists with other content" in capsys.readouterr().err
    assert fetch(store, f"audit/{day(9)}.jsonl") == b"other"
    failed = metrics(prom)
    assert failed["camops_platform_audit_export_last_run_ok"] == 0
    assert failed["camops_platform_audit_export_failures_total"] == 2
    success = "camops_platform_audit_export_last_success_timestamp_seconds"
    assert failed[success] >= first[success]  # kept from the last good run

    # A tampered log is not copied; the run says where the chain breaks.
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        conn.execute("UPDATE audit_log SET outcome = 'denied' WHERE seq = 2")
    assert cli.main([*base, "--day", day(1).isoformat()]) == 1
    assert "broken at entry 2" in capsys.readouterr().err

    with psycopg.connect(database) as conn:
        runs = [e for e in audit.rows(conn) if e["action"] == "audit_export"]
    assert [r["outcome"] for r in runs] == [
        "done",
        "unchanged",
        "done",
        "unchanged",
        "failed",
        "failed",
        "failed",
    ]
    assert {r["actor"] for r in runs} == {"system:audit-export"}
    assert runs[0]["detail"]["days"][0]["day"] == day(5).isoformat()
    assert all(r["at"].startswith(TODAY.isoformat()) for r in runs)


def test_audit_export_needs_the_keys(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CAMOPS_PLATFORM_DSN", database)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    args = ["audit-export", "--endpoint-url", "http://127.0.0.1:9", "--bucket", BUCKET]
    assert cli.main(args) == 2
    assert "AWS_ACCESS_KEY_ID" in capsys.readouterr().err
