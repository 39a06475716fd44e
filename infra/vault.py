"""Ansible Vault files of an inventory: read the names they define, create missing secrets.

Encryption is Ansible's own (``ansible.parsing.vault.VaultLib``), so ``ansible-vault`` and
playbooks read what camops writes. Secret values are never printed or returned to callers that
print; only variable names are.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infra.loader import parse_yaml
from infra.model import Inventory
from infra.secrets import credential_refs

DEFAULT_VAULT_FILE = Path("group_vars") / "all" / "vault.yml"
VAULT_HEADER = b"$ANSIBLE_VAULT"


class VaultError(Exception):
    """A vault file cannot be read or written; the message names the file and the fix."""


def _vault(password_file: Path) -> Any:
    from ansible.constants import DEFAULT_VAULT_ID_MATCH  # noqa: PLC0415  # slow import
    from ansible.parsing.dataloader import DataLoader  # noqa: PLC0415
    from ansible.parsing.vault import FileVaultSecret, VaultLib  # noqa: PLC0415

    secret = FileVaultSecret(filename=str(password_file), loader=DataLoader())
    secret.load()
    return VaultLib([(DEFAULT_VAULT_ID_MATCH, secret)])


def read(file: Path, password_file: Path) -> dict[str, Any]:
    """The variables of one encrypted vault file (empty if the file does not exist)."""
    if not file.exists():
        return {}
    text = file.read_bytes()
    if not text.startswith(VAULT_HEADER):
        raise VaultError(f"{file} is not encrypted: run 'ansible-vault encrypt {file}'")
    try:
        plain = _vault(password_file).decrypt(text)
    except Exception as error:
        raise VaultError(f"{file}: cannot decrypt with {password_file} ({error})") from error
    data = parse_yaml(plain.decode("utf-8"))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise VaultError(f"{file}: a vault file must hold a mapping of variables")
    return data


def keys(root: Path, password_file: Path) -> set[str]:
    """Top-level variable names defined in the inventory's encrypted ``vault*.yml`` files."""
    found: set[str] = set()
    for file in sorted(root.rglob("vault*.y*ml")):
        if file.read_bytes().startswith(VAULT_HEADER):
            found.update(str(key) for key in read(file, password_file))
    return found


@dataclass(frozen=True)
class InitResult:
    file: Path
    added: list[str]
    kept: int


def new_credential(username: str = "camops") -> dict[str, str]:
    """A fresh device credential: a fixed service user and a 32-character random password."""
    return {"username": username, "password": secrets.token_urlsafe(24)}


def init(inventory: Inventory, password_file: Path, file: Path | None = None) -> InitResult:
    """Add a random credential for every reference of the model missing from the vault file.

    Existing entries are kept as they are: nothing already stored is lost or rotated.
    """
    target = file or Path(inventory.path) / DEFAULT_VAULT_FILE
    data = read(target, password_file)
    defined = keys(Path(inventory.path), password_file) | set(data)
    added = []
    for _facility, _path, reference in credential_refs(inventory):
        if reference not in defined:
            data[reference] = new_credential()
            defined.add(reference)
            added.append(reference)
    if added:
        plain = "---\n" + yaml.safe_dump(data, sort_keys=True, allow_unicode=True)
        encrypted = _vault(password_file).encrypt(plain)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(encrypted)
        tmp.chmod(0o600)
        tmp.replace(target)
    return InitResult(file=target, added=added, kept=len(data) - len(added))
