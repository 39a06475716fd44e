"""Ansible Vault files of an inventory: read the names they define, create missing secrets.

Encryption is Ansible's own (``ansible.parsing.vault.VaultLib``), so ``ansible-vault`` and
playbooks read what camops writes. Secret values are never printed or returned to callers that
print; only variable names are.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infra.loader import parse_yaml
from infra.model import CentralRole, Inventory
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


#: S3 identities of the WORM object store (roles/object_store): who puts, who reads, who manages.
OBJECT_STORE_IDENTITIES = ("admin", "writer", "auditor")


#: Automation tokens of the platform (roles/platform registers them): registration modules,
#: the accounts playbook, audit reads and exports, Alertmanager's incidents webhook, and
#: `camops incidents`.
PLATFORM_TOKENS = ("registration", "accounts", "audit", "alertmanager", "incidents")


def new_platform_token() -> str:
    """An automation token in the platform's format (``cpt_`` and 43 URL-safe characters)."""
    return "cpt_" + secrets.token_urlsafe(32)


def new_s3_access_key() -> str:
    """An access key id in the usual S3 shape: 20 upper-case letters and digits."""
    alphabet = string.ascii_uppercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(20))


#: Where the accounts' first passwords are kept (e-mail → password), for handing over.
INITIAL_PASSWORDS = "vault_platform_initial_passwords"


def new_initial_password() -> str:
    """A first password that meets the platform's policy: 20 characters of four kinds."""
    while True:
        candidate = secrets.token_urlsafe(15) + "-" + secrets.choice(string.digits)
        if (
            any(c.islower() for c in candidate)
            and any(c.isupper() for c in candidate)
            and any(c.isdigit() for c in candidate)
        ):
            return candidate


def central_secrets(inventory: Inventory) -> dict[str, Callable[[], Any]]:
    """Secrets the central services need (name → how to make one), from the hosts' roles."""
    roles = {role for host in inventory.province.central.hosts for role in host.roles}
    wanted: dict[str, Callable[[], Any]] = {}
    if CentralRole.PLATFORM in roles:
        # The database needs no password: the service uses peer authentication locally.
        for name in PLATFORM_TOKENS:
            wanted[f"vault_platform_token_{name}"] = new_platform_token
    if CentralRole.OBJECT_STORE in roles:
        for identity in OBJECT_STORE_IDENTITIES:
            prefix = f"vault_object_store_{identity}"
            wanted[f"{prefix}_access_key"] = new_s3_access_key
            wanted[f"{prefix}_secret_key"] = lambda: secrets.token_urlsafe(30)
    return wanted


def init(inventory: Inventory, password_file: Path, file: Path | None = None) -> InitResult:
    """Add a random secret for every reference of the model missing from the vault file.

    Device credentials named by the model and the central services' secrets (object store
    keys). Existing entries are kept as they are: nothing already stored is lost or rotated.
    """
    target = file or Path(inventory.path) / DEFAULT_VAULT_FILE
    data = read(target, password_file)
    kept = len(data)
    defined = keys(Path(inventory.path), password_file) | set(data)
    added = []
    wanted: dict[str, Callable[[], Any]] = {
        reference: new_credential for _facility, _path, reference in credential_refs(inventory)
    }
    wanted.update(central_secrets(inventory))
    for reference, make in wanted.items():
        if reference not in defined:
            data[reference] = make()
            defined.add(reference)
            added.append(reference)
    if CentralRole.PLATFORM in {r for h in inventory.province.central.hosts for r in h.roles}:
        # Every person with an account gets a first password (kept; changed at first login).
        # (When another vault file of the inventory holds them, that file is left alone.)
        elsewhere = INITIAL_PASSWORDS in defined and INITIAL_PASSWORDS not in data
        initial = data.get(INITIAL_PASSWORDS)
        if not isinstance(initial, dict):
            initial = {}
        if not elsewhere:
            for account in inventory.accounts:
                email = account.email.strip().lower()
                if email not in initial:
                    initial[email] = new_initial_password()
                    added.append(f"{INITIAL_PASSWORDS}[{email}]")
            data[INITIAL_PASSWORDS] = initial
    if added:
        write_file(target, data, password_file)
    return InitResult(file=target, added=added, kept=kept)


def write_file(target: Path, data: dict[str, Any], password_file: Path) -> None:
    """``data`` as an encrypted vault file (mode 0600), replacing ``target`` in one rename."""
    plain = "---\n" + yaml.safe_dump(data, sort_keys=True, allow_unicode=True)
    encrypted = _vault(password_file).encrypt(plain)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(encrypted)
    tmp.chmod(0o600)
    tmp.replace(target)


#: A handed-over facility's camera credentials (R13 handover), beside its inventory.
HANDOVER_FOLDER = "handovers"


def handover_file(inventory_dir: Path, site: str) -> Path:
    return inventory_dir / HANDOVER_FOLDER / f"{site}.vault.yml"


@dataclass(frozen=True)
class Handover:
    file: Path
    #: camera id → {username, password}: what the receiving unit logs in with.
    credentials: dict[str, dict[str, str]]
    #: camera ids given a new credential now (empty on a re-run).
    created: list[str]


def merge_handover(
    target: Path, stored: dict[str, Any], site: str, cameras: dict[str, str], decision_ref: str
) -> tuple[Handover, dict[str, Any]]:
    """The handover file ``target``'s ``stored`` document (empty when new) completed for ``cameras``
    (camera id → the user name it keeps): kept credentials stay, missing ones are made.
    Returns the credentials and the document to store (unchanged when nothing was made)."""
    found = stored.get("cameras")
    kept: dict[str, Any] = found if isinstance(found, dict) else {}
    credentials: dict[str, dict[str, str]] = {}
    created: list[str] = []
    for camera, username in sorted(cameras.items()):
        known = kept.get(camera)
        if isinstance(known, dict) and known.get("username") and known.get("password"):
            credentials[camera] = {"username": known["username"], "password": known["password"]}
        else:
            credentials[camera] = new_credential(username)
            created.append(camera)
    document = {
        "facility": site,
        "decision_ref": stored.get("decision_ref") or decision_ref,
        "cameras": {**kept, **credentials},
    }
    return Handover(target, credentials, created), document


def handover_credentials(
    inventory_dir: Path,
    site: str,
    cameras: dict[str, str],
    password_file: Path,
    *,
    decision_ref: str,
    write: bool = True,
) -> Handover:
    """Each camera's credential for the unit that receives the facility (R13 handover).

    Kept in their own Ansible Vault file (``handovers/<site>.vault.yml``, the inventory's vault
    password; ``ansible-vault rekey`` gives it the receiving unit's): a re-run finds them there
    and rotates nothing again. ``write=False`` (check mode) makes the missing ones without
    storing them. (The camops_handover_vault module does the same with the ansible-vault
    command: Ansible's own library is not importable in a module under Mitogen.)"""
    target = handover_file(inventory_dir, site)
    handover, document = merge_handover(
        target, read(target, password_file), site, cameras, decision_ref
    )
    if handover.created and write:
        write_file(target, document, password_file)
    return handover
