"""No plaintext secret in an inventory: credentials are references to Ansible Vault variables.

Two checks run without any password: a scan of every YAML document of the inventory for
secret-looking keys with clear-text values, and for URLs with embedded passwords; and a check
that every file named ``vault*.yml`` is encrypted. With a vault password file, the references
of the model are also resolved against the decrypted vault files.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from infra.loader import VaultValue
from infra.model import VAULT_REF_RE, Inventory
from infra.problems import Problem

SECRET_KEY = re.compile(
    r"(^|_)(pass|password|passwd|passphrase|secret|token|api_?key|private_?key|psk|"
    r"preshared_?key|community|pin)$",
    re.IGNORECASE,
)
URL_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.IGNORECASE)
JINJA_VAULT_REF = re.compile(r"^\{\{\s*(vault_[a-z0-9_]+)(\s*\|[^}]*)?\s*\}\}$")
VAULT_FILE = re.compile(r"(^|/)vault[^/]*\.ya?ml$")


def _walk(node: Any, path: str) -> Iterator[tuple[str, str | None, Any]]:
    """Yield (path, key, value) for every scalar in a YAML tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            child = f"{path}.{key}" if path else str(key)
            if isinstance(value, dict | list):
                yield from _walk(value, child)
            else:
                yield child, str(key), value
    elif isinstance(node, list):
        for index, value in enumerate(node):
            child = f"{path}[{index}]"
            if isinstance(value, dict | list):
                yield from _walk(value, child)
            else:
                yield child, None, value


def is_reference(value: Any) -> bool:
    """True for a vault variable name, a Jinja reference to one, or an inline !vault value."""
    if isinstance(value, VaultValue):
        return True
    if not isinstance(value, str):
        return False
    text = value.strip()
    return bool(re.fullmatch(VAULT_REF_RE, text) or JINJA_VAULT_REF.match(text))


def scan_documents(documents: dict[str, Any]) -> list[Problem]:
    """Plaintext secrets in the parsed YAML documents of an inventory."""
    problems: list[Problem] = []
    for file, document in sorted(documents.items()):
        if VAULT_FILE.search(file) and document is not None:
            problems.append(
                Problem(
                    file,
                    "",
                    "SECRET",
                    "vault file is not encrypted",
                    f"encrypt it: ansible-vault encrypt {file}",
                )
            )
            continue
        for path, key, value in _walk(document, ""):
            if value is None or value == "" or is_reference(value):
                continue
            if key is not None and SECRET_KEY.search(key):
                problems.append(
                    Problem(
                        file,
                        path,
                        "SECRET",
                        "plaintext secret in the inventory",
                        "move the value to an encrypted vault file and put a vault_* "
                        "variable name here",
                    )
                )
            elif isinstance(value, str) and URL_WITH_PASSWORD.search(value):
                problems.append(
                    Problem(
                        file,
                        path,
                        "SECRET",
                        "URL with an embedded password",
                        "remove the user:password@ part; credentials come from the vault",
                    )
                )
    return problems


def credential_refs(inventory: Inventory) -> Iterator[tuple[str, str, str]]:
    """(facility id, field path, reference) for every credential the model names."""
    for facility in inventory.facilities:
        prefix = f"facilities[{facility.id}]"
        for camera in facility.cameras:
            yield facility.id, f"{prefix}.cameras[{camera.id}].credential", camera.credential
        if facility.nvr.credential is not None:
            yield facility.id, f"{prefix}.nvr.credential", facility.nvr.credential
        if facility.router.credential is not None:
            yield facility.id, f"{prefix}.router.credential", facility.router.credential
