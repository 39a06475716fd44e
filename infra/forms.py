"""The directive's §8 registration form: import into and export from an inventory's accounts.

A form is a table with exactly the directive's columns — Stt, Họ và tên, Chức vụ, Đơn vị,
Điện thoại, Email (mail công vụ), Ghi chú — plus the two columns camops needs, Vai trò (role)
and Phạm vi (scope). It arrives as an Excel workbook (``.xlsx``, read with openpyxl) or CSV
(UTF-8, UTF-16, Windows-1258 or -1252; comma, semicolon or tab); title lines above the
header row are skipped.

Import is all or nothing. The form's rows are merged into the inventory's ``accounts.yml``: a
person is known by their official e-mail; a new e-mail adds an account numbered after the last
one, a known one updates it and keeps its number, accounts not on the form are kept. The whole
inventory is then validated with the same rules as ``camops validate``, and only when no row has
an error is ``accounts.yml`` rewritten. Every problem names the form's row and column.
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from infra.loader import ACCOUNTS_FILE, parse_yaml
from infra.problems import Severity
from infra.validate import validate_path

#: Form column → account field, in the directive's order (then camops' two).
COLUMNS: list[tuple[str, str]] = [
    ("Stt", "stt"),
    ("Họ và tên", "full_name"),
    ("Chức vụ", "position"),
    ("Đơn vị", "unit"),
    ("Điện thoại", "phone"),
    ("Email (mail công vụ)", "email"),
    ("Ghi chú", "note"),
    ("Vai trò", "role"),
    ("Phạm vi", "scope"),
]
FIELD_COLUMN = {name: header for header, name in COLUMNS}
#: Other spellings accepted in a header row (after folding case and diacritics).
ALIASES = {"email": "email", "email cong vu": "email", "mail cong vu": "email", "role": "role"}
ALIASES |= {"scope": "scope", "so thu tu": "stt", "ho ten": "full_name", "sdt": "phone"}
HEADER_SEARCH_ROWS = 20


class FormError(Exception):
    """The form cannot be read at all (file type, no header row, missing columns)."""


@dataclass(frozen=True)
class RowProblem:
    row: int  # the row number in the form (1-based, as a spreadsheet shows it)
    column: str
    message: str

    def line(self) -> str:
        return f"row {self.row}, column '{self.column}': {self.message}"


@dataclass
class ImportResult:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    written: bool = False


def fold(text: str) -> str:
    """Lower case without diacritics or punctuation: how header cells are matched."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in decomposed if unicodedata.category(c) != "Mn").lower()
    return " ".join("".join(c if c.isalnum() else " " for c in plain).split())


HEADERS = {fold(header): name for header, name in COLUMNS} | ALIASES


#: Excel's "Save as CSV" outside "CSV UTF-8" writes the Windows code page: Vietnamese
#: (Windows-1258, tone marks as combining characters at these bytes) or Western (Windows-1252).
TONE_MARK_BYTES = (b"\xcc", b"\xec", b"\xde", b"\xd2", b"\xf2")
SAVE_AS = (
    "save it again from Excel as 'CSV UTF-8 (Comma delimited) (*.csv)' or as an Excel "
    "workbook (.xlsx)"
)


def _csv_rows(text: str) -> list[list[str]]:
    """The rows of CSV text, comma- or semicolon-separated (Excel writes ';' where the decimal
    separator is a comma), or tab-separated (Excel's 'Unicode Text')."""
    sample = "\n".join(text.splitlines()[:HEADER_SEARCH_ROWS])
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return [list(row) for row in csv.reader(io.StringIO(text), dialect)]


def _windows_text(data: bytes) -> str | None:
    """Text saved in a Windows code page, when which one can be told: the one that decodes it
    if only one does, or both give the same text, or Windows-1258 when the bytes hold its
    combining tone marks (Vietnamese is seldom written without them); None otherwise."""
    texts: dict[str, str] = {}
    for encoding in ("cp1258", "cp1252"):
        try:
            texts[encoding] = unicodedata.normalize("NFC", data.decode(encoding))
        except UnicodeDecodeError:
            continue
    if len(set(texts.values())) == 1:
        return next(iter(texts.values()))
    if "cp1258" in texts and any(mark in data for mark in TONE_MARK_BYTES):
        return texts["cp1258"]
    return None


def _csv_cells(path: Path) -> list[list[Any]]:
    """A CSV form in whichever encoding Excel saved it, when that can be told: a byte-order mark
    (UTF-16, UTF-8), valid UTF-8, or a Windows code page (``_windows_text``)."""
    data = path.read_bytes()
    text: str | None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16", errors="replace")
    elif data.startswith(b"\xef\xbb\xbf"):
        text = data.decode("utf-8-sig", errors="replace")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = _windows_text(data)
    if text is None:
        raise FormError(
            f"{path}: not UTF-8, and whether it is Vietnamese (Windows-1258) or Western "
            f"(Windows-1252) text cannot be told; {SAVE_AS}"
        )
    return _csv_rows(unicodedata.normalize("NFC", text))


def _cells(path: Path) -> list[list[Any]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv_cells(path)
    if suffix in {".xlsx", ".xlsm"}:
        from zipfile import BadZipFile  # noqa: PLC0415

        from openpyxl import load_workbook  # noqa: PLC0415  # only for workbooks
        from openpyxl.utils.exceptions import InvalidFileException  # noqa: PLC0415

        try:
            workbook = load_workbook(path, read_only=True, data_only=True)
        except (BadZipFile, InvalidFileException, KeyError, OSError) as error:
            raise FormError(
                f"{path}: not an Excel workbook although its name ends in {suffix} "
                f"({type(error).__name__}); open it in Excel and {SAVE_AS}"
            ) from None
        try:
            sheet = workbook.worksheets[0]
            return [list(row) for row in sheet.iter_rows(values_only=True)]
        finally:
            workbook.close()
    raise FormError(f"{path}: a form must be .xlsx or .csv (got '{suffix or 'no suffix'}')")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_form(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(form row number, {field: text}) for every non-empty row under the header row."""
    cells = _cells(path)
    for index, row in enumerate(cells[:HEADER_SEARCH_ROWS]):
        names = [HEADERS.get(fold(_text(cell))) for cell in row]
        if "full_name" in names and "email" in names:
            header_index, columns = index, names
            break
    else:
        raise FormError(
            f"{path}: no header row with 'Họ và tên' and 'Email (mail công vụ)' in the first "
            f"{HEADER_SEARCH_ROWS} rows; use the columns "
            + ", ".join(header for header, _ in COLUMNS)
        )
    missing = [header for header, name in COLUMNS if name not in columns and name != "note"]
    if missing:
        raise FormError(f"{path}: the header row lacks the column(s) {', '.join(missing)}")
    rows = []
    for offset, row in enumerate(cells[header_index + 1 :], start=header_index + 2):
        values = {
            name: _text(cell) for name, cell in zip(columns, row, strict=False) if name is not None
        }
        if any(values.values()):
            rows.append((offset, values))
    return rows


def _account(values: dict[str, str]) -> dict[str, Any]:
    """A form row as an accounts.yml entry (the model checks the values)."""
    entry: dict[str, Any] = {}
    for _header, name in COLUMNS:
        value = values.get(name, "")
        if name == "stt":
            entry[name] = int(value) if value.isdigit() else (value or None)
        elif name == "scope":
            entry[name] = value or "province"
        else:
            entry[name] = value
    return entry


def _column(path: str) -> str:
    """The form column of a problem path like ``accounts[3].email``."""
    name = path.split(".", 1)[1].split("[", 1)[0] if "." in path else ""
    return FIELD_COLUMN.get(name, "(row)")


def import_form(inventory: Path, form: Path, *, dry_run: bool = False) -> ImportResult:
    """Merge a form into the inventory's accounts; write only if every row is valid."""
    rows = read_form(form)
    accounts_file = inventory / ACCOUNTS_FILE
    document = (
        parse_yaml(accounts_file.read_text(encoding="utf-8")) if accounts_file.exists() else {}
    )
    current: list[dict[str, Any]] = list((document or {}).get("accounts") or [])
    result = ImportResult()
    merged = [dict(entry) for entry in current]
    by_email = {str(e.get("email", "")).strip().lower(): i for i, e in enumerate(merged)}
    origin: dict[int, int] = {}  # index in merged → form row
    seen: dict[str, int] = {}
    for number, values in rows:
        entry = _account(values)
        email = entry["email"].lower()
        if email and email in seen:
            result.problems.append(
                RowProblem(
                    number,
                    FIELD_COLUMN["email"],
                    f"{entry['email']} is also on row {seen[email]}: one account per person",
                )
            )
            continue
        if email:
            seen[email] = number
        if email in by_email:
            index = by_email[email]
            # Stt numbers a form's rows; in the inventory it stays the person's number.
            entry["stt"] = merged[index].get("stt", entry["stt"])
            changed = {k: v for k, v in entry.items() if merged[index].get(k) != v}
            before = merged[index].get("enabled")
            merged[index] = {**entry, **({"enabled": before} if before is not None else {})}
            (result.updated if changed else result.unchanged).append(entry["email"])
        else:
            index = len(merged)
            numbers = [e["stt"] for e in merged if isinstance(e.get("stt"), int)]
            if isinstance(entry["stt"], int) or not entry["stt"]:
                entry["stt"] = max(numbers, default=0) + 1
            merged.append(entry)
            by_email[email] = index
            result.added.append(entry["email"] or entry["full_name"])
        origin[index] = number
    result.problems += _check(inventory, merged, origin)
    result.problems.sort(key=lambda p: (p.row, p.column))
    if result.problems or dry_run or not (result.added or result.updated):
        return result
    _write(accounts_file, merged)
    result.written = True
    return result


def _check(
    inventory: Path, merged: list[dict[str, Any]], origin: dict[int, int]
) -> list[RowProblem]:
    """Validate the inventory as it would be, on a copy; problems of the form's rows."""
    with tempfile.TemporaryDirectory(prefix="camops-form-") as scratch:
        copy = Path(scratch) / inventory.name
        shutil.copytree(
            inventory, copy, ignore=shutil.ignore_patterns("vault*.yml", "lab-hosts.yml")
        )
        _write(copy / ACCOUNTS_FILE, merged)
        problems = validate_path(copy)
    found = []
    for problem in problems:
        if problem.severity is not Severity.ERROR or problem.file != ACCOUNTS_FILE:
            continue
        if not problem.path.startswith("accounts["):
            continue
        index = int(problem.path[len("accounts[") :].split("]", 1)[0])
        if index in origin:
            found.append(RowProblem(origin[index], _column(problem.path), problem.message))
    return found


def _write(path: Path, accounts: Iterable[dict[str, Any]]) -> None:
    """Rewrite accounts.yml (its leading comment kept), atomically."""
    header = ""
    if path.exists():
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        header = "".join(line for line in lines if line.startswith(("#", "---")))
    body = yaml.safe_dump(
        {"accounts": list(accounts)}, allow_unicode=True, sort_keys=False, width=100
    )
    text = (header if header.startswith("---") else "---\n" + header) + body
    tmp = path.with_suffix(".yml.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def export_form(inventory_accounts: list[dict[str, Any]], output: Path) -> int:
    """Write the accounts as a §8 form (.xlsx or .csv). Returns the number of rows."""
    rows = [[entry.get(name, "") for _header, name in COLUMNS] for entry in inventory_accounts]
    headers = [header for header, _name in COLUMNS]
    suffix = output.suffix.lower()
    if suffix == ".csv":
        with output.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(headers)
            writer.writerows(rows)
    elif suffix == ".xlsx":
        from openpyxl import Workbook  # noqa: PLC0415

        workbook = Workbook()
        sheet = workbook.active
        assert sheet is not None  # noqa: S101  # a new workbook has one sheet
        sheet.title = "Mẫu đăng ký"
        sheet.append(headers)
        for row in rows:
            sheet.append(row)
        workbook.save(output)
    else:
        raise FormError(f"{output}: export to .xlsx or .csv")
    return len(rows)
