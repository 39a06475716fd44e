"""The platform as it runs on a host: uvicorn serving the app on a real PostgreSQL, driven over
HTTP, and `camops audit access` reading its log."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import pytest

from camops_platform import audit, store
from tests.helpers import assert_no_secret
from tests.helpers import run_module as library_module

PASSWORD = "Quan-Sat-2026!"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def service(database: str, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "uvicorn.log").open("wb")
    process = subprocess.Popen(
        [
            str(BIN / "uvicorn"),
            "camops_platform.app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env={**os.environ, "CAMOPS_PLATFORM_DSN": database},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v1/openapi.json", timeout=2):  # noqa: S310
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail((tmp_path / "uvicorn.log").read_text(encoding="utf-8"))
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def call(
    url: str, method: str, path: str, body: object = None, headers: dict[str, str] | None = None
) -> int:
    request = urllib.request.Request(  # noqa: S310
        f"{url}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_audit_access_command_against_the_running_service(
    service: str, database: str, tmp_path: Path
) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        admin = store.new_token(conn, "setup", ["catalog:write", "accounts:write"])
        reader = store.new_token(conn, "auditor", ["audit:read"])
    auth = {"Authorization": f"Bearer {admin}"}
    assert call(service, "PUT", "/api/v1/districts/north", {"name": "Bắc"}, auth) == 200
    facility = {"district_id": "north", "name": "N1", "operator": "district", "status": "active"}
    assert call(service, "PUT", "/api/v1/facilities/n1", facility, auth) == 200
    camera = {"facility_id": "n1", "name": "Cổng", "zone": "gate"}
    assert call(service, "PUT", "/api/v1/cameras/n1_cam01", camera, auth) == 200
    person = {
        "full_name": "Trần Thị Bắc",
        "position": "Chủ tịch",
        "unit": "UBND huyện Bắc",
        "phone": "0912 000 002",
        "role": "district_leader",
        "scope": "district:north",
    }
    assert call(service, "PUT", "/api/v1/accounts/ttbac@bac.lab.gov.vn", person, auth) == 200
    assert (
        call(
            service,
            "PUT",
            "/api/v1/accounts/ttbac@bac.lab.gov.vn/password",
            {"password": PASSWORD},
            auth,
        )
        == 204
    )
    assert (
        call(
            service,
            "POST",
            "/api/v1/session",
            {"email": "ttbac@bac.lab.gov.vn", "password": "wrong"},
        )
        == 401
    )

    token_file = tmp_path / "token"
    token_file.write_text(reader, encoding="utf-8")
    cli = [
        sys.executable,
        "-m",
        "infra.cli",
        "audit",
        "access",
        "--url",
        service,
        "--token-file",
        str(token_file),
    ]
    run = subprocess.run(
        [*cli, "--user", "ttbac@bac.lab.gov.vn"], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "login" in run.stdout
    assert "failed" in run.stdout
    assert "chain OK" in run.stdout
    assert_no_secret(reader, run.stdout + run.stderr, "audit access output")
    as_json = subprocess.run(
        [*cli, "--json", "--camera", "n1_cam01"], capture_output=True, text=True, check=False
    )
    actions = [e["action"] for e in json.loads(as_json.stdout)["entries"]]
    assert actions == ["camera_create"]

    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        conn.execute("UPDATE audit_log SET outcome = 'success' WHERE action = 'login'")
    broken = subprocess.run(cli, capture_output=True, text=True, check=False)
    assert broken.returncode == 1
    assert "chain BROKEN at entry" in broken.stdout


def account_module(service: str, token: str, *flags: str, **fields: Any) -> dict[str, Any]:
    """camops_platform_account run in-process (as on the controller); its JSON result."""
    return run_module("camops_platform_account", service, token, *flags, **fields)


def run_module(
    module_name: str, service: str, token: str, /, *flags: str, **fields: Any
) -> dict[str, Any]:
    """A camops module run in-process against the test service; its JSON result."""
    return library_module(module_name, {"url": service, "token": token, **fields}, *flags)


def test_account_module_is_idempotent_with_check_and_diff(service: str, database: str) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        token = store.new_token(conn, "accounts", ["accounts:write"])
    fields = {
        "email": "TTBac@bac.lab.gov.vn",
        "full_name": "Trần Thị Bắc",
        "position": "Chủ tịch UBND huyện",
        "unit": "UBND huyện Bắc",
        "phone": "0912 000 002",
        "role": "district_leader",
        "scope": "district:north",
    }
    checked = account_module(service, token, "--check", "--diff", **fields)
    assert "created" in checked, checked
    assert (checked["changed"], checked["created"]) == (True, True)
    assert checked["diff"]["before"] == {}
    created = account_module(service, token, **fields)
    assert (created["changed"], created["created"]) == (True, True)
    assert account_module(service, token, **fields)["changed"] is False
    assert account_module(service, token, "--check", **fields)["changed"] is False
    moved = account_module(service, token, "--check", "--diff", **{**fields, "position": "Bí thư"})
    assert moved["changed"] is True
    assert moved["diff"]["before"]["position"] == "Chủ tịch UBND huyện"
    assert account_module(service, token, **fields)["changed"] is False  # check changed nothing
    refused = account_module(service, token, **{**fields, "scope": "province"})
    assert refused.get("failed") is True
    assert "district:<id>" in refused["msg"]


def test_facility_module_create_repeat_update_deregister(service: str, database: str) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        token = store.new_token(conn, "registration", ["catalog:write", "catalog:read"])
    facility = {
        "id": "north_school",
        "name": "Khu cách ly Trường THCS Bắc",
        "district": "north",
        "district_name": "Huyện Bắc",
        "operator": "district",
        "cameras": [
            {"id": "north_cam01", "name": "Cổng", "zone": "gate", "ip": "10.0.0.1"},
            {"id": "north_cam02", "name": "Sân", "zone": "yard"},
        ],
        "grantees": ["district:north"],
    }
    module = partial(run_module, "camops_platform_facility", service, token)
    checked = module("--check", "--diff", **facility)
    assert checked["changed"] is True
    assert checked["diff"]["before"] == {}
    with psycopg.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM facilities").fetchone() == (0,)  # check mode
    created = module(**facility)
    assert created["actions"] == [
        "PUT /districts/north",
        "PUT /facilities/north_school",
        "PUT /cameras/north_cam01",
        "PUT /cameras/north_cam02",
        "PUT /facilities/north_school/grants",
    ]
    assert module(**facility)["changed"] is False
    # One camera renamed, one gone, the grant withdrawn: exactly those calls, shown in the diff.
    update = {
        **facility,
        "cameras": [{"id": "north_cam01", "name": "Cổng chính", "zone": "gate"}],
        "grantees": [],
    }
    updated = module("--diff", **update)
    assert updated["actions"] == [
        "PUT /cameras/north_cam01",
        "DELETE /cameras/north_cam02",
        "PUT /facilities/north_school/grants",
    ]
    assert updated["diff"]["before"]["grantees"] == ["district:north"]
    assert updated["diff"]["after"]["cameras"] == {
        "north_cam01": {"name": "Cổng chính", "zone": "gate"}
    }
    assert module(**update)["changed"] is False
    # Decommissioning: the status and its decision only; cameras and grants left out stay.
    standby = {key: value for key, value in update.items() if key not in {"cameras", "grantees"}}
    standby.update(status="standby", status_ref="1234/QĐ-UBND ngày 15/11/2026")
    parked = module("--diff", **standby)
    assert parked["actions"] == ["PUT /facilities/north_school"]
    assert parked["diff"]["after"]["cameras"] == updated["diff"]["after"]["cameras"]
    assert module(**standby)["changed"] is False
    gone = module(id="north_school", state="absent")
    assert gone["actions"] == ["DELETE /facilities/north_school?cascade=true"]
    assert module(id="north_school", state="absent")["changed"] is False
    with psycopg.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM cameras").fetchone() == (0,)
        actions = [e["action"] for e in audit.rows(conn, target="north_school")]
    assert "facility_create" in actions
    assert "facility_delete" in actions
    # Bad input is refused before any call, naming the field.
    bad = module(**{**facility, "grantees": ["north"]})
    assert bad["failed"] is True
    assert "grantees" in bad["msg"]
