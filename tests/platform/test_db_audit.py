"""Schema migrations, the append-only audit chain and the R7 view, on a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import argon2
import psycopg
import pytest
from argon2 import extract_parameters

from camops_platform import audit, db, passwords


def test_migrations_apply_once_and_refuse_an_edited_one(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert db.migrate(database) == []  # the fixture applied them; again: nothing
    original = db.migrations()
    edited = [db.Migration(m.version, m.name, m.sql + "\n-- edited") for m in original]
    monkeypatch.setattr(db, "migrations", lambda: edited)
    with pytest.raises(db.MigrationError, match=r"0001_init\.sql was applied with other content"):
        db.migrate(database)


def test_audit_chain_verifies_and_names_an_edited_row(database: str) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        for index in range(5):
            audit.append(
                conn,
                actor="ttbac@bac.lab.gov.vn",
                action="live_view",
                target=f"north_cam0{index}",
                source_ip="10.77.0.1",
                outcome="allowed",
                detail={"facility": "lab_north_school"},
            )
        assert audit.verify(audit.rows(conn)).ok
        assert audit.verify(audit.rows(conn)).entries == 5
        # The table refuses edits, deletes and truncation...
        for statement in (
            "UPDATE audit_log SET outcome = 'denied' WHERE seq = 3",
            "DELETE FROM audit_log WHERE seq = 3",
            "TRUNCATE audit_log",
        ):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(statement.encode())
        # ... and whoever bypasses that as the database owner is caught by the chain.
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        conn.execute("UPDATE audit_log SET outcome = 'denied' WHERE seq = 3")
        verdict = audit.verify(audit.rows(conn))
        assert (verdict.ok, verdict.broken_seq) == (False, 3)
        assert "entry altered" in verdict.reason
        conn.execute("DELETE FROM audit_log WHERE seq = 3")
        verdict = audit.verify(audit.rows(conn))
        assert (verdict.broken_seq, verdict.entries) == (4, 2)


def test_r7_view_follows_role_scope_and_operator(database: str) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("INSERT INTO districts (id, name) VALUES ('north', 'Bắc'), ('south', 'Nam')")
        conn.execute(
            "INSERT INTO facilities (id, district_id, name, operator, status) VALUES"
            " ('n1', 'north', 'N1', 'district', 'active'),"
            " ('n2', 'north', 'N2', 'military_command', 'active'),"
            " ('n3', 'north', 'N3', 'district', 'standby'),"
            " ('s1', 'south', 'S1', 'district', 'active')"
        )
        # What the registration derives: district-run facilities are granted to their district;
        # the Military Command's facility n2 gets no district grant.
        conn.execute(
            "INSERT INTO facility_grants (facility_id, grantee) VALUES"
            " ('n1', 'district:north'), ('n3', 'district:north'), ('s1', 'district:south')"
        )
        people = [
            ("steer@lab.gov.vn", "provincial_steering", "province"),
            ("north@lab.gov.vn", "district_leader", "district:north"),
            ("ops@lab.gov.vn", "ops_engineer", "province"),
        ]
        for email, role, scope in people:
            conn.execute(
                "INSERT INTO accounts (email, full_name, position, unit, phone, role, scope)"
                " VALUES (%s, 'X', 'Y', 'Z', '0912000000', %s, %s)",
                (email, role, scope),
            )
        seen = {
            email: sorted(
                row[0]
                for row in conn.execute(
                    "SELECT facility_id FROM account_facilities v JOIN accounts a"
                    " ON a.id = v.account_id WHERE a.email = %s",
                    (email,),
                )
            )
            for email, _role, _scope in people
        }
        assert seen == {
            "steer@lab.gov.vn": ["n1", "n2", "s1"],
            "north@lab.gov.vn": ["n1"],  # not the Military Command's, not standby, not south
            "ops@lab.gov.vn": [],
        }
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "INSERT INTO accounts (email, full_name, position, unit, phone, role, scope)"
                " VALUES ('x@lab.gov.vn', 'X', 'Y', 'Z', '0', 'district_leader', 'province')"
            )


def test_grants_migration_keeps_the_viewers_version_1_gave(empty_database: str) -> None:
    first, grants, *_ = db.migrations()
    assert grants.name == "0002_grants.sql"
    with psycopg.connect(empty_database, autocommit=True) as conn:
        conn.execute(first.sql.encode())
        conn.execute("INSERT INTO districts (id, name) VALUES ('north', 'Bắc')")
        conn.execute(
            "INSERT INTO facilities (id, district_id, name, operator, status) VALUES"
            " ('n1', 'north', 'N1', 'district', 'active'),"
            " ('n2', 'north', 'N2', 'military_command', 'active')"
        )
        conn.execute(
            "INSERT INTO accounts (email, full_name, position, unit, phone, role, scope)"
            " VALUES ('north@lab.gov.vn', 'X', 'Y', 'Z', '0912000000', 'district_leader',"
            " 'district:north')"
        )
        before = conn.execute("SELECT facility_id FROM account_facilities").fetchall()
        conn.execute(grants.sql.encode())
        after = conn.execute("SELECT facility_id FROM account_facilities").fetchall()
        stored = conn.execute("SELECT facility_id, grantee FROM facility_grants").fetchall()
    assert before == after == [("n1",)]
    assert stored == [("n1", "district:north")]


def test_password_policy_hash_and_lockout() -> None:
    from datetime import UTC, datetime  # noqa: PLC0415

    assert passwords.policy_problems("short") != []
    assert passwords.policy_problems("alllowercaseletters") != []
    assert passwords.policy_problems("Ttbac-2026-secure!", email="ttbac@bac.lab.gov.vn") == [
        "must not contain the e-mail name"
    ]
    good = "Quan-Sat-2026!"
    assert passwords.policy_problems(good, email="ttbac@bac.lab.gov.vn") == []
    stored = passwords.hash_password(good)
    assert stored.startswith("$argon2id$")
    assert passwords.check(stored, good)
    assert not passwords.check(stored, "Quan-Sat-2026?")
    assert not passwords.check(None, good)
    now = datetime(2026, 11, 28, tzinfo=UTC)
    state = passwords.Lockout(0, None)
    for _ in range(passwords.MAX_FAILURES - 1):
        state = passwords.after_failure(state.failed, now)
        assert state.locked_until is None
    state = passwords.after_failure(state.failed, now)
    assert state.locked_until == now + passwords.LOCK_TIME
    # Still locked: the count goes on. Once the lock has ended, it starts again.
    assert passwords.after_failure(state.failed, now, state.locked_until).failed == 6
    ended = now + passwords.LOCK_TIME
    assert passwords.after_failure(state.failed, ended, state.locked_until) == passwords.Lockout(
        1, None
    )


@pytest.mark.parametrize("fast", ["1", "0"])
def test_no_real_hash_to_check_costs_what_a_real_check_costs(
    monkeypatch: pytest.MonkeyPatch, fast: str
) -> None:
    """Unknown, disabled and locked accounts are answered after the same Argon2 work as a real
    password check (the test cost and the production one), so timing tells nobody which
    accounts exist or are locked."""
    monkeypatch.setenv("CAMOPS_PLATFORM_FAST_HASH", fast)
    real = extract_parameters(passwords.hash_password("Quan-Sat-2026!"))
    verified: list[str] = []
    original = argon2.PasswordHasher.verify

    def spy(self: argon2.PasswordHasher, hash: str, password: str) -> bool:
        verified.append(hash)
        return original(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", spy)
    assert not passwords.check(None, "Quan-Sat-2026!")
    passwords.same_work("Quan-Sat-2026!")
    assert [extract_parameters(dummy) for dummy in verified] == [real, real]


def test_audit_rows_filter_by_actor_and_target(database: str) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        for actor, target in (
            ("a@x.gov.vn", "cam1"),
            ("b@x.gov.vn", "cam1"),
            ("a@x.gov.vn", "cam2"),
        ):
            audit.append(conn, actor=actor, action="live_view", target=target, outcome="allowed")
        assert [e["seq"] for e in audit.rows(conn, actor="a@x.gov.vn")] == [1, 3]
        assert [e["seq"] for e in audit.rows(conn, actor="a@x.gov.vn", target="cam1")] == [1]
        assert audit.rows(conn, target="nothing") == []


def test_platform_cli_migrates_and_issues_tokens_without_printing_them(
    database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from camops_platform import cli, store  # noqa: PLC0415

    monkeypatch.setenv("CAMOPS_PLATFORM_DSN", database)
    assert cli.main(["migrate"]) == 0
    assert capsys.readouterr().out.strip() == "applied 0"
    output = tmp_path / "token"
    assert (
        cli.main(["token", "registration", "--scope", "catalog:write", "--output", str(output)])
        == 0
    )
    secret = output.read_text(encoding="utf-8").strip()
    assert secret not in capsys.readouterr().out
    assert output.stat().st_mode & 0o777 == 0o600
    with psycopg.connect(database) as conn:
        assert store.token_scopes(conn, secret) == ("registration", ["catalog:write"])


def test_platform_cli_registers_a_token_from_the_vault_idempotently(
    database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from camops_platform import cli, store  # noqa: PLC0415
    from infra.vault import new_platform_token  # noqa: PLC0415  # what vault-init makes

    monkeypatch.setenv("CAMOPS_PLATFORM_DSN", database)
    value = tmp_path / "token"
    value.write_text(new_platform_token() + "\n", encoding="utf-8")
    args = ["token", "registration", "--scope", "catalog:write", "--value-file", str(value)]
    assert cli.main(args) == 0
    assert "registered" in capsys.readouterr().out
    assert cli.main(args) == 0
    assert "unchanged" in capsys.readouterr().out
    with psycopg.connect(database) as conn:
        found = store.token_scopes(conn, value.read_text(encoding="utf-8").strip())
    assert found == ("registration", ["catalog:write"])
    value.write_text("not-a-token", encoding="utf-8")
    assert cli.main(args) == 1
