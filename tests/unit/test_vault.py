"""Vault references: resolved against real Ansible Vault files, created without loss."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from camops_platform.passwords import policy_problems
from infra import vault
from infra.loader import load
from infra.validate import validate_path
from tests.helpers import InventoryCopy, assert_no_secret, run_module


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "vault-pass"
    path.write_text("correct horse battery staple\n", encoding="utf-8")
    return path


def test_missing_references_are_errors(lab: InventoryCopy, password_file: Path) -> None:
    problems = validate_path(lab.path, password_file)
    missing = [p for p in problems if "is not defined" in p.message]
    assert len(missing) == 7
    assert missing[0].rule == "SECRET"


def test_init_fills_the_vault_and_keeps_what_exists(
    lab: InventoryCopy, password_file: Path
) -> None:
    result = load(lab.path)
    assert result.inventory is not None
    first = vault.init(result.inventory, password_file)
    assert len([name for name in first.added if name.startswith("vault_camera_")]) == 7
    raw = first.file.read_bytes()
    assert raw.startswith(b"$ANSIBLE_VAULT")
    stored = vault.read(first.file, password_file)
    before = stored["vault_camera_north_cam01"]["password"]
    assert len(before) >= 32
    # The lab's central host runs the object store: its three S3 identities get keys.
    for identity in ("admin", "writer", "auditor"):
        access = stored[f"vault_object_store_{identity}_access_key"]
        assert len(access) == 20
        assert access.isalnum()
        assert access.isupper()
        assert len(stored[f"vault_object_store_{identity}_secret_key"]) >= 40
    assert len({stored[f"vault_object_store_{i}_secret_key"] for i in ("admin", "writer")}) == 2
    # ... and the platform its automation tokens (no database password: peer authentication)
    # and a first password for every account of accounts.yml, each meeting the policy.
    assert "vault_platform_db_password" not in stored
    for name in ("registration", "accounts", "audit"):
        assert stored[f"vault_platform_token_{name}"].startswith("cpt_")
    initial = stored["vault_platform_initial_passwords"]
    assert set(initial) == {a.email for a in result.inventory.accounts}
    for email, password in initial.items():
        assert not policy_problems(password, email=email), email
    first_passwords = dict(initial)

    lab.camera("lab_north_school", 0, lambda cam: cam.update(credential="vault_camera_new"))
    result = load(lab.path)
    assert result.inventory is not None
    second = vault.init(result.inventory, password_file)
    assert second.added == ["vault_camera_new"]
    stored = vault.read(first.file, password_file)
    assert stored["vault_camera_north_cam01"]["password"] == before  # nothing rotated or lost
    assert stored["vault_platform_initial_passwords"] == first_passwords
    assert not [p for p in validate_path(lab.path, password_file) if "not defined" in p.message]


def test_wrong_password_is_reported(
    lab: InventoryCopy, password_file: Path, tmp_path: Path
) -> None:
    result = load(lab.path)
    assert result.inventory is not None
    vault.init(result.inventory, password_file)
    wrong = tmp_path / "wrong"
    wrong.write_text("nope\n", encoding="utf-8")
    problems = validate_path(lab.path, wrong)
    assert any("cannot decrypt" in p.message for p in problems)


def test_cli_never_prints_secrets(lab: InventoryCopy, password_file: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "infra.cli",
            "vault-init",
            str(lab.path),
            "--vault-password-file",
            str(password_file),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    # 7 camera credentials, 5 platform tokens, 3 x 2 object store keys, 4 first passwords.
    assert "22 added, 0 kept" in run.stdout
    stored = vault.read(lab.path / vault.DEFAULT_VAULT_FILE, password_file)
    secrets = []
    for name, entry in stored.items():
        if name == "vault_platform_initial_passwords":
            secrets.extend(entry.values())
        else:
            secrets.append(entry["password"] if isinstance(entry, dict) else entry)
    assert len(secrets) == 22
    for secret in secrets:
        assert_no_secret(secret, run.stdout + run.stderr, "vault-init output")
    # ansible-vault itself reads what camops wrote
    view = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-vault"),
            "view",
            "--vault-password-file",
            str(password_file),
            str(lab.path / vault.DEFAULT_VAULT_FILE),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert view.returncode == 0, view.stderr
    assert "vault_camera_south_cam03" in view.stdout


def test_handover_credentials_are_new_kept_encrypted_and_not_rotated_twice(
    tmp_path: Path, password_file: Path
) -> None:
    cameras = {"south_cam01": "camops", "south_cam02": "camops"}
    ref = "5678/QĐ-UBND ngày 20/11/2026"
    dry = vault.handover_credentials(
        tmp_path, "lab_south_barracks", cameras, password_file, decision_ref=ref, write=False
    )
    assert not dry.file.exists() and dry.created == ["south_cam01", "south_cam02"]

    first = vault.handover_credentials(
        tmp_path, "lab_south_barracks", cameras, password_file, decision_ref=ref
    )
    assert first.file == tmp_path / "handovers" / "lab_south_barracks.vault.yml"
    assert first.file.read_bytes().startswith(b"$ANSIBLE_VAULT")
    assert first.file.stat().st_mode & 0o777 == 0o600
    for camera, credential in first.credentials.items():
        assert credential["username"] == "camops"
        assert len(credential["password"]) >= 32
        assert_no_secret(credential["password"], first.file.read_text(encoding="utf-8"), camera)
    assert first.credentials["south_cam01"] != dry.credentials["south_cam01"]
    stored = vault.read(first.file, password_file)
    assert stored["facility"] == "lab_south_barracks" and stored["decision_ref"] == ref
    assert stored["cameras"] == first.credentials

    again = vault.handover_credentials(
        tmp_path, "lab_south_barracks", cameras, password_file, decision_ref=ref
    )
    assert again.created == [] and again.credentials == first.credentials
    more = vault.handover_credentials(
        tmp_path,
        "lab_south_barracks",
        {**cameras, "south_cam03": "admin"},
        password_file,
        decision_ref=ref,
    )
    assert more.created == ["south_cam03"]
    assert more.credentials["south_cam01"] == first.credentials["south_cam01"]
    assert more.credentials["south_cam03"]["username"] == "admin"


def test_the_handover_module_writes_once_with_ansible_vault_and_check_mode_writes_nothing(
    tmp_path: Path, password_file: Path
) -> None:
    args = {
        "inventory_dir": str(tmp_path),
        "site": "lab_south_barracks",
        "decision_ref": "5678/QĐ-BCH ngày 20/11/2026",
        "cameras": {"south_cam01": "camops"},
        "vault_password_file": str(password_file),
    }
    target = tmp_path / "handovers" / "lab_south_barracks.vault.yml"
    planned = run_module("camops_handover_vault", args, "--check")
    assert planned["changed"] is True and not target.exists()
    first = run_module("camops_handover_vault", args)
    assert first["changed"] is True and first["created"] == ["south_cam01"]
    assert target.stat().st_mode & 0o777 == 0o600
    stored = vault.read(target, password_file)
    assert stored["cameras"] == first["credentials"]
    again = run_module("camops_handover_vault", args)
    assert again["changed"] is False and again["credentials"] == first["credentials"]
    wrong = run_module("camops_handover_vault", {**args, "vault_password_file": "/nowhere"})
    assert wrong["failed"] and "vault_password_file=/nowhere: no such file" in wrong["msg"]
