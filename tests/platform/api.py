"""Helpers for the platform API tests: tokens in headers, §8 account bodies, a small catalog."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

PASSWORD = "Quan-Sat-2026!"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def account(
    role: str = "district_leader", scope: str = "district:north", **extra: Any
) -> dict[str, Any]:
    return {
        "full_name": "Trần Thị Bắc",
        "position": "Chủ tịch UBND huyện",
        "unit": "UBND huyện Bắc",
        "phone": "0912 000 002",
        "note": "",
        "role": role,
        "scope": scope,
        "enabled": True,
    } | extra


def catalog(client: TestClient, token: str) -> None:
    for district in ("north", "south"):
        assert (
            client.put(
                f"/api/v1/districts/{district}", json={"name": district}, headers=bearer(token)
            ).status_code
            == 200
        )
    facilities = {
        "n1": ("north", "district"),
        "n2": ("north", "military_command"),
        "s1": ("south", "district"),
    }
    for facility, (district, operator) in facilities.items():
        body = {"district_id": district, "name": facility, "operator": operator, "status": "active"}
        assert (
            client.put(
                f"/api/v1/facilities/{facility}", json=body, headers=bearer(token)
            ).status_code
            == 200
        )
        # What the registration derives from the model: a district-run facility is granted to
        # its district, the Military Command's to no district.
        grantees = [f"district:{district}"] if operator == "district" else []
        assert (
            client.put(
                f"/api/v1/facilities/{facility}/grants",
                json={"grantees": grantees},
                headers=bearer(token),
            ).status_code
            == 200
        )
        body = {"facility_id": facility, "name": f"{facility} gate", "zone": "gate"}
        assert (
            client.put(
                f"/api/v1/cameras/{facility}_cam01", json=body, headers=bearer(token)
            ).status_code
            == 200
        )


def person(client: TestClient, tokens: dict[str, str], email: str, **fields: Any) -> None:
    """An account with the test password."""
    headers = bearer(tokens["accounts"])
    created = client.put(f"/api/v1/accounts/{email}", json=account(**fields), headers=headers)
    assert created.status_code == 200, created.text
    assert (
        client.put(
            f"/api/v1/accounts/{email}/password", json={"password": PASSWORD}, headers=headers
        ).status_code
        == 204
    )


def log_in(client: TestClient, email: str) -> None:
    client.cookies.clear()
    response = client.post("/api/v1/session", json={"email": email, "password": PASSWORD})
    assert response.status_code == 204, response.text
