"""Facility grants and catalog reads and deletes, on a real PostgreSQL through the real app."""

from __future__ import annotations

import psycopg
from fastapi.testclient import TestClient

from camops_platform import audit
from tests.platform.api import bearer, catalog, log_in, person

NORTH = "north@lab.gov.vn"


def visible(client: TestClient, email: str) -> list[str]:
    log_in(client, email)
    return [f["id"] for f in client.get("/api/v1/me").json()["facilities"]]


def authz(client: TestClient, camera: str) -> int:
    return int(
        client.get(
            "/api/v1/authz", headers={"X-Original-URI": f"/live/{camera}/index.m3u8"}
        ).status_code
    )


def test_grants_create_repeat_update_remove_decide_what_a_district_leader_sees(
    client: TestClient, tokens: dict[str, str], database: str
) -> None:
    catalog(client, tokens["catalog"])
    person(client, tokens, NORTH)
    person(client, tokens, "steer@lab.gov.vn", role="provincial_steering", scope="province")
    url = "/api/v1/facilities/n2/grants"  # run by the Military Command: no grant yet
    write = bearer(tokens["catalog"])
    assert client.get(url, headers=bearer(tokens["reader"])).json() == {"grantees": []}
    assert visible(client, NORTH) == ["n1"]
    assert authz(client, "n2_cam01") == 403

    created = client.put(url, json={"grantees": ["district:north"]}, headers=write)
    assert created.json() == {
        "changed": True,
        "created": True,
        "added": ["district:north"],
        "removed": [],
    }
    assert visible(client, NORTH) == ["n1", "n2"]
    assert authz(client, "n2_cam01") == 204

    repeated = client.put(url, json={"grantees": ["district:north"]}, headers=write)
    assert repeated.json() == {"changed": False, "created": False, "added": [], "removed": []}

    updated = client.put(url, json={"grantees": ["district:south"]}, headers=write)
    assert updated.json() == {
        "changed": True,
        "created": False,
        "added": ["district:south"],
        "removed": ["district:north"],
    }
    assert client.get(url, headers=write).json() == {"grantees": ["district:south"]}
    assert visible(client, NORTH) == ["n1"]
    assert authz(client, "n2_cam01") == 403

    removed = client.put(url, json={"grantees": []}, headers=write)
    assert removed.json() == {
        "changed": True,
        "created": False,
        "added": [],
        "removed": ["district:south"],
    }
    assert client.get(url, headers=write).json() == {"grantees": []}
    assert visible(client, "steer@lab.gov.vn") == ["n1", "n2", "s1"]  # the committee sees all

    with psycopg.connect(database) as conn:
        entries = [e for e in audit.rows(conn, target="n2") if e["action"] == "grant_update"]
    assert [(e["detail"]["added"], e["detail"]["removed"]) for e in entries] == [
        (["district:north"], []),
        (["district:south"], ["district:north"]),
        ([], ["district:south"]),
    ]
    assert {e["actor"] for e in entries} == {"token:registration"}


def test_grants_refuse_bad_input_and_unknown_facilities(
    client: TestClient, tokens: dict[str, str], database: str
) -> None:
    catalog(client, tokens["catalog"])
    write = bearer(tokens["catalog"])
    for bad in ("district:", "District:north", "province", "district:north/../x"):
        answer = client.put("/api/v1/facilities/n1/grants", json={"grantees": [bad]}, headers=write)
        assert answer.status_code == 422, bad
        assert "grantees" in answer.text
    unknown = client.put(
        "/api/v1/facilities/n1/grants", json={"grantees": ["district:east"]}, headers=write
    )
    assert unknown.status_code == 422
    assert "no district east" in unknown.text
    assert (
        client.put(
            "/api/v1/facilities/nowhere/grants", json={"grantees": []}, headers=write
        ).status_code
        == 404
    )
    assert client.get("/api/v1/facilities/nowhere/grants", headers=write).status_code == 404
    # Reading needs catalog:read or catalog:write; writing catalog:write.
    read_only = bearer(tokens["reader"])
    assert client.get("/api/v1/facilities/n1/grants", headers=read_only).status_code == 200
    assert (
        client.put(
            "/api/v1/facilities/n1/grants", json={"grantees": []}, headers=read_only
        ).status_code
        == 403
    )
    assert (
        client.get("/api/v1/facilities/n1/grants", headers=bearer(tokens["accounts"])).status_code
        == 403
    )
    with psycopg.connect(database) as conn:
        grants = conn.execute("SELECT grantee FROM facility_grants WHERE facility_id = 'n1'")
        assert grants.fetchall() == [("district:north",)]  # nothing refused was stored


def test_catalog_reads_as_stored(client: TestClient, tokens: dict[str, str]) -> None:
    catalog(client, tokens["catalog"])
    read = bearer(tokens["reader"])
    assert client.get("/api/v1/districts/north", headers=read).json() == {"name": "north"}
    assert client.get("/api/v1/facilities/n2", headers=read).json() == {
        "district_id": "north",
        "name": "n2",
        "operator": "military_command",
        "status": "active",
        "status_ref": "",
    }
    assert client.get("/api/v1/cameras/n1_cam01", headers=read).json() == {
        "facility_id": "n1",
        "name": "n1 gate",
        "zone": "gate",
    }
    for path in ("districts/east", "facilities/e1", "cameras/e1_cam01"):
        assert client.get(f"/api/v1/{path}", headers=read).status_code == 404
    assert client.get("/api/v1/cameras/n1_cam01").status_code == 401


def test_deletes_are_audited_and_a_facility_with_cameras_needs_cascade(
    client: TestClient, tokens: dict[str, str], database: str
) -> None:
    catalog(client, tokens["catalog"])
    write = bearer(tokens["catalog"])
    body = {"facility_id": "n1", "name": "n1 yard", "zone": "yard"}
    assert client.put("/api/v1/cameras/n1_cam02", json=body, headers=write).status_code == 200
    read_only = bearer(tokens["reader"])
    assert client.delete("/api/v1/cameras/n1_cam02", headers=read_only).status_code == 403
    assert client.delete("/api/v1/cameras/n1_cam02", headers=write).json() == {"changed": True}
    assert client.delete("/api/v1/cameras/n1_cam02", headers=write).json() == {"changed": False}
    assert client.get("/api/v1/cameras/n1_cam02", headers=write).status_code == 404

    refused = client.delete("/api/v1/facilities/n1", headers=write)
    assert refused.status_code == 409
    assert "n1_cam01" in refused.text
    assert "cascade" in refused.text
    assert client.get("/api/v1/cameras/n1_cam01", headers=write).status_code == 200
    gone = client.delete("/api/v1/facilities/n1", params={"cascade": "true"}, headers=write)
    assert gone.json() == {"changed": True}
    assert client.get("/api/v1/facilities/n1", headers=write).status_code == 404
    assert client.get("/api/v1/cameras/n1_cam01", headers=write).status_code == 404
    assert client.delete("/api/v1/facilities/n1", headers=write).json() == {"changed": False}
    # The facility's name may be registered again, without the old grants.
    facility = {"district_id": "north", "name": "n1", "operator": "district", "status": "active"}
    assert client.put("/api/v1/facilities/n1", json=facility, headers=write).status_code == 200
    assert client.get("/api/v1/facilities/n1/grants", headers=write).json() == {"grantees": []}

    with psycopg.connect(database) as conn:
        deleted = {e["target"]: e for e in audit.rows(conn) if e["action"].endswith("_delete")}
        assert audit.verify(audit.rows(conn)).ok
        created = [e for e in audit.rows(conn, target="n1_cam02") if e["action"] == "camera_create"]
    assert deleted["n1_cam02"]["detail"]["before"]["zone"] == "yard"
    assert deleted["n1"]["detail"]["cameras"] == ["n1_cam01"]
    assert deleted["n1"]["detail"]["grantees"] == ["district:north"]
    assert len(created) == 1  # the audit entries of what was deleted stay


def test_a_facility_lists_its_cameras(client: TestClient, tokens: dict[str, str]) -> None:
    """Every camera of the facility, by id (registered out of order here), none of another."""
    catalog(client, tokens["catalog"])
    write = bearer(tokens["catalog"])
    for camera, zone in (("n1_cam10", "yard"), ("n1_cam03", "ward"), ("n1_cam02", "gate")):
        body = {"facility_id": "n1", "name": f"{camera} {zone}", "zone": zone}
        assert client.put(f"/api/v1/cameras/{camera}", json=body, headers=write).status_code == 200
    listed = client.get("/api/v1/facilities/n1/cameras", headers=bearer(tokens["reader"]))
    assert listed.status_code == 200
    assert listed.json() == [
        {"id": "n1_cam01", "name": "n1 gate", "zone": "gate"},
        {"id": "n1_cam02", "name": "n1_cam02 gate", "zone": "gate"},
        {"id": "n1_cam03", "name": "n1_cam03 ward", "zone": "ward"},
        {"id": "n1_cam10", "name": "n1_cam10 yard", "zone": "yard"},
    ]
    missing = client.get("/api/v1/facilities/nowhere/cameras", headers=bearer(tokens["reader"]))
    assert missing.status_code == 404
