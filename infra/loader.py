"""Load an inventory folder into the model, turning every parse error into a :class:`Problem`.

Layout of ``inventories/<name>/``::

    inventory.camops.yml   # tells Ansible to read this folder with the camops inventory plugin
    province.yml           # province, districts, central site, retention, sizing factors
    facilities/<id>.yml    # one file per facility, with its NVR, router and cameras
    accounts.yml           # accounts from the §8 registration forms
    group_vars/, host_vars/  # Ansible-only settings (connection details, vault files)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from infra.model import Account, Facility, Inventory, Province
from infra.problems import Problem, Severity, errors

PROVINCE_FILE = "province.yml"
ACCOUNTS_FILE = "accounts.yml"
FACILITIES_DIR = "facilities"
PLUGIN_FILE = "inventory.camops.yml"
INVENTORIES_DIR = "inventories"


class InventoryNotFoundError(Exception):
    """The path given is not an inventory folder."""


@dataclass(frozen=True)
class VaultValue:
    """An inline ``!vault`` value: encrypted, never decrypted by the model."""

    ciphertext: str


#: libyaml's C parser when PyYAML was built with it (5-7x faster on a large province), the
#: pure-Python one otherwise; both give the same line and column in errors.
_SafeBase: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeBase):  # type: ignore[valid-type,misc]
    """Safe YAML loader that accepts Ansible's inline ``!vault`` values."""


def _vault_constructor(loader: yaml.SafeLoader, node: yaml.Node) -> VaultValue:
    return VaultValue(str(loader.construct_scalar(node)))  # type: ignore[arg-type]


def _unsafe_constructor(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


_Loader.add_constructor("!vault", _vault_constructor)
_Loader.add_constructor("!unsafe", _unsafe_constructor)


@dataclass
class LoadResult:
    inventory: Inventory | None
    problems: list[Problem]
    documents: dict[str, Any] = field(default_factory=dict)  # relative path -> parsed YAML
    facility_files: dict[str, str] = field(default_factory=dict)  # facility id -> file
    #: The file of each of ``inventory.facilities``, in the same order (two may share an id).
    facility_sources: list[str] = field(default_factory=list)
    #: Files that could not be read or parsed (already reported once, with line and column).
    unreadable: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return self.inventory is not None and not errors(self.problems)


def resolve(path: str | os.PathLike[str]) -> Path:
    """An inventory folder from a path or a bare name (``lab`` -> ``inventories/lab``)."""
    candidate = Path(path)
    if not (candidate / PROVINCE_FILE).is_file() and not candidate.is_absolute():
        # A bare name, also where a folder of that name that is no inventory exists (``lab``
        # is both the lab's package folder and the lab inventory's name).
        named = Path(INVENTORIES_DIR) / candidate
        if (named / PROVINCE_FILE).is_file():
            candidate = named
    if not candidate.is_dir():
        raise InventoryNotFoundError(
            f"{path}: no such inventory folder; give a path like inventories/lab"
        )
    if not (candidate / PROVINCE_FILE).is_file():
        raise InventoryNotFoundError(
            f"{path}: not a camops inventory (no {PROVINCE_FILE}); "
            "see docs/architecture.md for the layout"
        )
    return candidate.resolve()


def parse_yaml(text: str) -> Any:
    """Parse YAML safely, keeping inline ``!vault`` values as :class:`VaultValue`."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506  # _Loader is a SafeLoader


def read_yaml(path: Path) -> Any:
    return parse_yaml(path.read_text(encoding="utf-8"))


def _loc_to_path(prefix: str, loc: tuple[int | str, ...], data: Any) -> str:
    """Turn a pydantic location into a readable path, naming list items by their id."""
    parts = [prefix] if prefix else []
    node = data
    for item in loc:
        if isinstance(item, int):
            label = str(item)
            if isinstance(node, list) and item < len(node):
                child = node[item]
                if isinstance(child, dict) and isinstance(child.get("id"), str):
                    label = child["id"]
                node = child
            else:
                node = None
            if parts:
                parts[-1] = f"{parts[-1]}[{label}]"
            else:
                parts.append(f"[{label}]")
        else:
            parts.append(str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts)


_FIXES: dict[str, str] = {
    "missing": "add this field",
    "extra_forbidden": "remove this field or correct its spelling (see docs/inventory.md)",
    "string_pattern_mismatch": "use lower-case letters, digits and '_' starting with a letter",
    "ip_v4_address": "write a dotted IPv4 address such as 10.20.1.11",
    "ip_v4_network": "write a network such as 10.20.1.0/24 (host bits zero)",
    "ip_v4_interface": "write an address with prefix such as 192.0.2.10/24",
    "enum": "use one of the values listed",
    "int_parsing": "write a whole number",
    "int_type": "write a whole number",
    "float_parsing": "write a number",
    "bool_parsing": "write true or false",
    "string_type": "write text in quotes",
    "list_type": "write a YAML list",
    "dict_type": "write a YAML mapping",
    "model_type": "write a YAML mapping",
    "too_short": "add at least one entry",
    "string_too_short": "fill in this field",
}


def _validation_problems(
    error: ValidationError, file: str, prefix: str, data: Any
) -> list[Problem]:
    problems = []
    for item in error.errors(include_url=False):
        kind = str(item["type"])
        fix = _FIXES.get(kind, "correct the value")
        if kind.startswith(("greater_than", "less_than")):
            fix = "use a value within the allowed range"
        if kind == "value_error":
            fix = str(item["msg"]).removeprefix("Value error, ")
        problems.append(
            Problem(
                file=file,
                path=_loc_to_path(prefix, tuple(item["loc"]), data),
                rule="SCHEMA",
                message=str(item["msg"]),
                fix=fix,
            )
        )
    return problems


M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], data: Any, file: str, prefix: str, problems: list[Problem]) -> M | None:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems.extend(_validation_problems(error, file, prefix, data))
        return None


def _read(path: Path, root: Path, problems: list[Problem]) -> Any:
    rel = str(path.relative_to(root))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        problems.append(Problem(rel, "", "YAML", f"cannot read: {error}", "fix the file"))
        return None
    if text.startswith("$ANSIBLE_VAULT"):
        return None
    try:
        return parse_yaml(text)
    except yaml.YAMLError as error:
        where = ""
        mark = getattr(error, "problem_mark", None)
        if mark is not None:
            where = f"line {mark.line + 1}, column {mark.column + 1}"
        problems.append(
            Problem(
                rel,
                where,
                "YAML",
                f"not valid YAML: {getattr(error, 'problem', error)}",
                "correct the YAML syntax",
            )
        )
        return None


def _load_province(
    documents: dict[str, Any], problems: list[Problem], unreadable: set[str]
) -> Province | None:
    doc = documents.get(PROVINCE_FILE)
    if PROVINCE_FILE in unreadable:
        return None  # its YAML error is the one problem to fix
    if not isinstance(doc, dict) or "province" not in doc:
        problems.append(
            Problem(
                PROVINCE_FILE,
                "province",
                "SCHEMA",
                "no 'province:' mapping",
                "start the file with 'province:' (see inventories/lab/province.yml)",
            )
        )
        return None
    return _parse(Province, doc["province"], PROVINCE_FILE, "province", problems)


def _load_facility(rel: str, doc: Any, problems: list[Problem]) -> Facility | None:
    stem = Path(rel).stem
    if not isinstance(doc, dict) or "facility" not in doc:
        problems.append(
            Problem(
                rel,
                "facility",
                "SCHEMA",
                "no 'facility:' mapping",
                "start the file with 'facility:' (see inventories/lab/facilities/)",
            )
        )
        return None
    raw = doc["facility"]
    label = raw.get("id", stem) if isinstance(raw, dict) else stem
    facility = _parse(Facility, raw, rel, f"facilities[{label}]", problems)
    if facility is not None and facility.id != stem:
        problems.append(
            Problem(
                rel,
                f"facilities[{facility.id}].id",
                "SCHEMA",
                f"facility id '{facility.id}' differs from its file name '{stem}'",
                f"rename the file to {FACILITIES_DIR}/{facility.id}.yml",
            )
        )
    return facility


def _load_accounts(
    documents: dict[str, Any], problems: list[Problem], unreadable: set[str]
) -> list[Account]:
    doc = documents.get(ACCOUNTS_FILE)
    if ACCOUNTS_FILE in unreadable:
        return []  # its YAML error is the one problem to fix
    if doc is None:
        problems.append(
            Problem(
                ACCOUNTS_FILE,
                "",
                "R6",
                "no accounts file",
                "create accounts.yml from the §8 registration forms (may be 'accounts: []')",
                Severity.WARNING,
            )
        )
        return []
    if not isinstance(doc, dict) or not isinstance(doc.get("accounts"), list):
        problems.append(
            Problem(
                ACCOUNTS_FILE,
                "accounts",
                "SCHEMA",
                "no 'accounts:' list",
                "start the file with 'accounts:' followed by a list",
            )
        )
        return []
    accounts = []
    for index, raw in enumerate(doc["accounts"]):
        account = _parse(Account, raw, ACCOUNTS_FILE, f"accounts[{index}]", problems)
        if account is not None:
            accounts.append(account)
    return accounts


def load(path: str | os.PathLike[str]) -> LoadResult:
    """Load and structurally validate an inventory folder. Never raises on bad content.

    Facilities are the ``facilities/*.yml`` files (not subfolders: a copy kept in
    ``facilities/old/`` is reported, not loaded). A file whose YAML does not parse is reported
    once, with its line and column, and not checked further."""
    root = resolve(path)
    problems: list[Problem] = []
    documents: dict[str, Any] = {}
    unreadable: set[str] = set()
    for file in sorted(root.rglob("*.y*ml")):
        if file.is_file() and file.suffix in {".yml", ".yaml"}:
            rel = str(file.relative_to(root))
            before = len(problems)
            documents[rel] = _read(file, root, problems)
            if len(problems) > before:
                unreadable.add(rel)

    province = _load_province(documents, problems, unreadable)
    facilities: list[Facility] = []
    facility_files: dict[str, str] = {}
    facility_sources: list[str] = []
    for rel in sorted(documents):
        parts = Path(rel).parts
        if parts[0] != FACILITIES_DIR:
            continue
        if len(parts) > 2:
            problems.append(
                Problem(
                    rel,
                    "",
                    "LAYOUT",
                    f"not read: facilities are the files directly in {FACILITIES_DIR}/, "
                    "not in its subfolders",
                    f"move it into {FACILITIES_DIR}/ if it is a facility, or out of the "
                    "inventory if it is an old copy",
                    Severity.WARNING,
                )
            )
            continue
        if rel in unreadable:
            continue
        facility = _load_facility(rel, documents[rel], problems)
        if facility is not None:
            facility_files.setdefault(facility.id, rel)
            facility_sources.append(rel)
            facilities.append(facility)
    accounts = _load_accounts(documents, problems, unreadable)

    inventory = None
    if province is not None:
        inventory = Inventory(
            name=root.name,
            path=str(root),
            province=province,
            facilities=facilities,
            accounts=accounts,
        )
    return LoadResult(inventory, problems, documents, facility_files, facility_sources, unreadable)
