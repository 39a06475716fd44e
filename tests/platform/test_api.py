"""The platform API on a real PostgreSQL (FastAPI's TestClient drives the real app)."""

from __future__ import annotations

import psycopg
import pytest
from argon2 import extract_parameters
from argon2.profiles import RFC_9106_LOW_MEMORY
from fastapi.testclient import TestClient

from camops_platform import audit, passwords
from tests.platform.api import PASSWORD, account, bearer, catalog, log_in, person


def test_accounts_create_repeat_update_disable(
    client: TestClient, tokens: dict[str, str], database: str
) -> None:
    url = "/api/v1/accounts/ttbac@bac.lab.gov.vn"
    headers = bearer(tokens["accounts"])
    first = client.put(url, json=account(), headers=headers)
    assert first.json() == {"changed": True, "created": True}
    assert client.put(url, json=account(), headers=headers).json() == {
        "changed": False,
        "created": False,
    }
    updated = client.put(url, json=account(position="Bí thư Huyện ủy"), headers=headers)
    assert updated.json() == {"changed": True, "created": False}
    disabled = client.put(url, json=account(enabled=False), headers=headers)
    assert disabled.json() == {"changed": True, "created": False}
    # Bad input: a clear error naming the field; nothing stored.
    bad = client.put(url, json=account(scope="province"), headers=headers)
    assert bad.status_code == 422
    assert "scope" in bad.text
    assert client.put(url, json=account(role="facility_staff"), headers=headers).status_code == 422
    # Wrong or missing token.
    assert client.put(url, json=account(), headers=bearer(tokens["catalog"])).status_code == 403
    assert client.put(url, json=account()).status_code == 401
    with psycopg.connect(database) as conn:
        actions = [e["action"] for e in audit.rows(conn, target="ttbac@bac.lab.gov.vn")]
    assert actions == ["account_create", "account_update", "account_update"]


def test_login_lockout_and_disable(
    client: TestClient, tokens: dict[str, str], database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "/api/v1/accounts/ttbac@bac.lab.gov.vn"
    client.put(url, json=account(), headers=bearer(tokens["accounts"]))
    weak = client.put(
        f"{url}/password", json={"password": "12345"}, headers=bearer(tokens["accounts"])
    )
    assert weak.status_code == 422
    assert "at least 12 characters" in weak.text
    assert (
        client.put(
            f"{url}/password", json={"password": PASSWORD}, headers=bearer(tokens["accounts"])
        ).status_code
        == 204
    )

    ok = client.post(
        "/api/v1/session", json={"email": "TTBAC@bac.lab.gov.vn", "password": PASSWORD}
    )
    assert ok.status_code == 204
    assert "httponly" in ok.headers["set-cookie"].lower()
    assert "secure" in ok.headers["set-cookie"].lower()
    assert client.get("/api/v1/me").json()["email"] == "ttbac@bac.lab.gov.vn"
    assert client.delete("/api/v1/session").status_code == 204
    assert client.get("/api/v1/me").status_code == 401

    for _ in range(5):
        wrong = client.post(
            "/api/v1/session", json={"email": "ttbac@bac.lab.gov.vn", "password": "nope"}
        )
        assert wrong.status_code == 401
    # Answered after a password check's work, as for any account (timing tells nothing).
    worked: list[str] = []
    real_work = passwords.same_work

    def counted(password: str) -> None:
        worked.append(password)
        real_work(password)

    monkeypatch.setattr(passwords, "same_work", counted)
    locked = client.post(
        "/api/v1/session", json={"email": "ttbac@bac.lab.gov.vn", "password": PASSWORD}
    )
    assert locked.status_code == 401  # locked: the right password does not help now
    unknown = client.post(
        "/api/v1/session", json={"email": "nobody@bac.lab.gov.vn", "password": PASSWORD}
    )
    assert unknown.status_code == 401
    assert worked == [PASSWORD, PASSWORD]
    monkeypatch.setattr(passwords, "same_work", real_work)
    with psycopg.connect(database) as conn:
        logins = [
            e for e in audit.rows(conn, actor="ttbac@bac.lab.gov.vn") if e["action"] == "login"
        ]
    assert [e["outcome"] for e in logins] == ["success"] + ["failed"] * 6
    assert "locked" in logins[-1]["detail"]["reason"]
    assert PASSWORD not in str(logins)

    # The lock ends (as if LOCK_TIME had passed): one wrong try does not lock the account again
    # (else a try every 15 minutes would keep its owner out for good); the right one lets in.
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute(
            "UPDATE accounts SET locked_until = now() - interval '1 second' WHERE email = %s",
            ("ttbac@bac.lab.gov.vn",),
        )
    again = client.post(
        "/api/v1/session", json={"email": "ttbac@bac.lab.gov.vn", "password": "nope"}
    )
    assert again.status_code == 401
    back = client.post(
        "/api/v1/session", json={"email": "ttbac@bac.lab.gov.vn", "password": PASSWORD}
    )
    assert back.status_code == 204
    with psycopg.connect(database) as conn:
        logins = [
            e for e in audit.rows(conn, actor="ttbac@bac.lab.gov.vn") if e["action"] == "login"
        ]
    assert [e["detail"].get("reason", "") for e in logins[-2:]] == ["wrong password", ""]


def test_authz_follows_r7_and_audits_every_decision(
    client: TestClient, tokens: dict[str, str], database: str
) -> None:
    catalog(client, tokens["catalog"])
    people = {
        "north@lab.gov.vn": account(),
        "steer@lab.gov.vn": account(role="provincial_steering", scope="province"),
    }
    for email, body in people.items():
        client.put(f"/api/v1/accounts/{email}", json=body, headers=bearer(tokens["accounts"]))
        client.put(
            f"/api/v1/accounts/{email}/password",
            json={"password": PASSWORD},
            headers=bearer(tokens["accounts"]),
        )

    def decide(email: str | None, camera: str) -> int:
        client.cookies.clear()
        if email:
            assert (
                client.post(
                    "/api/v1/session", json={"email": email, "password": PASSWORD}
                ).status_code
                == 204
            )
        return int(
            client.get(
                "/api/v1/authz",
                headers={"X-Original-URI": f"/live/{camera}/index.m3u8", "X-Real-IP": "10.77.0.50"},
            ).status_code
        )

    assert decide("north@lab.gov.vn", "n1_cam01") == 204
    assert decide("north@lab.gov.vn", "s1_cam01") == 403  # another district
    assert decide("north@lab.gov.vn", "n2_cam01") == 403  # run by the Military Command
    assert [decide("steer@lab.gov.vn", c) for c in ("n1_cam01", "n2_cam01", "s1_cam01")] == [
        204
    ] * 3
    assert [f["id"] for f in client.get("/api/v1/me").json()["facilities"]] == ["n1", "n2", "s1"]
    assert decide(None, "n1_cam01") == 401

    report = client.get(
        "/api/v1/audit", params={"actor": "north@lab.gov.vn"}, headers=bearer(tokens["audit"])
    ).json()
    assert report["chain_ok"]
    views = [(e["target"], e["outcome"]) for e in report["entries"] if e["action"] == "live_view"]
    assert views == [("n1_cam01", "allowed"), ("s1_cam01", "denied"), ("n2_cam01", "denied")]
    assert {e["source_ip"] for e in report["entries"] if e["action"] == "live_view"} == {
        "10.77.0.50"
    }

    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        conn.execute("UPDATE audit_log SET outcome = 'allowed' WHERE outcome = 'denied'")
    tampered = client.get("/api/v1/audit", headers=bearer(tokens["audit"])).json()
    assert not tampered["chain_ok"]
    assert "altered" in tampered["reason"]


def test_openapi_is_published(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/authz" in spec["paths"]
    assert "/api/v1/accounts/{email}" in spec["paths"]
    for path, methods in {
        "/api/v1/facilities/{facility_id}/grants": {"get", "put"},
        "/api/v1/facilities/{facility_id}": {"get", "put", "delete"},
        "/api/v1/cameras/{camera_id}": {"get", "put", "delete"},
        "/api/v1/districts/{district_id}": {"get", "put"},
        "/api/v1/exports": {"get", "post"},
        "/api/v1/exports/{export_id}": {"get"},
        "/api/v1/exports/{export_id}/file": {"get"},
        "/playback/{camera}/index.m3u8": {"get"},
        "/playback/{camera}/seg/{stem}.ts": {"get"},
    }.items():
        assert methods <= set(spec["paths"][path]), path
    playlist = spec["paths"]["/playback/{camera}/index.m3u8"]["get"]
    assert {p["name"] for p in playlist["parameters"]} >= {"from", "to"}


def test_stored_accounts_say_whether_a_password_is_set(
    client: TestClient, tokens: dict[str, str]
) -> None:
    headers = bearer(tokens["accounts"])
    url = "/api/v1/accounts/ttbac@bac.lab.gov.vn"
    client.put(url, json=account(), headers=headers)
    stored = client.get(url, headers=headers).json()
    assert stored == {**account(), "has_password": False}
    assert (
        client.put(f"{url}/password", json={"password": PASSWORD}, headers=headers).status_code
        == 204
    )
    assert client.get(url, headers=headers).json()["has_password"] is True
    listed = client.get("/api/v1/accounts", headers=headers).json()
    assert list(listed) == ["ttbac@bac.lab.gov.vn"]
    assert listed["ttbac@bac.lab.gov.vn"]["has_password"] is True
    assert "password_hash" not in client.get(url, headers=headers).text
    assert client.get("/api/v1/accounts", headers=bearer(tokens["catalog"])).status_code == 403


def test_camera_viewers_are_who_the_authorization_lets_in(
    client: TestClient, tokens: dict[str, str]
) -> None:
    catalog(client, tokens["catalog"])
    people = {
        "north@lab.gov.vn": account(),
        "steer@lab.gov.vn": account(role="provincial_steering", scope="province"),
        "gone@lab.gov.vn": account(enabled=False),
        "ops@lab.gov.vn": account(role="ops_engineer", scope="province"),
    }
    for email, body in people.items():
        client.put(f"/api/v1/accounts/{email}", json=body, headers=bearer(tokens["accounts"]))

    def viewers(camera: str, token: str = tokens["audit"]) -> list[str] | int:
        response = client.get(f"/api/v1/cameras/{camera}/viewers", headers=bearer(token))
        if response.status_code != 200:
            return int(response.status_code)
        return [str(viewer["email"]) for viewer in response.json()]

    assert viewers("n1_cam01") == ["north@lab.gov.vn", "steer@lab.gov.vn"]
    assert viewers("s1_cam01") == ["steer@lab.gov.vn"]  # another district: steering only
    assert viewers("n2_cam01") == ["steer@lab.gov.vn"]  # run by the Military Command
    assert viewers("nope") == 404
    assert viewers("n1_cam01", tokens["catalog"]) == 403  # auditors' scope only


def test_the_production_hash_cost_verifies_and_rehashes_a_cheaper_hash(
    client: TestClient, tokens: dict[str, str], database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the tests' cheap cost the platform hashes with argon2-cffi's default profile
    (RFC 9106 low memory, what it runs with on central); a login brings a hash of a lower cost
    up to it (the rehash branch), and a second login leaves it alone. About 1.4 s."""
    email = "rehash@lab.gov.vn"
    catalog(client, tokens["catalog"])
    person(client, tokens, email)  # hashed at the tests' cheap cost

    def stored() -> str:
        with psycopg.connect(database) as conn:
            row = conn.execute("SELECT password_hash FROM accounts WHERE email = %s", (email,))
            value: str = row.fetchone()[0]  # type: ignore[index]
        return value

    cheap = stored()
    assert extract_parameters(cheap) != RFC_9106_LOW_MEMORY
    monkeypatch.delenv("CAMOPS_PLATFORM_FAST_HASH")
    log_in(client, email)
    upgraded = stored()
    assert upgraded != cheap
    assert extract_parameters(upgraded) == RFC_9106_LOW_MEMORY
    log_in(client, email)
    assert stored() == upgraded  # at the production cost already: not rehashed again
    client.cookies.clear()
    wrong = client.post("/api/v1/session", json={"email": email, "password": PASSWORD + "x"})
    assert wrong.status_code == 401
    assert stored() == upgraded
