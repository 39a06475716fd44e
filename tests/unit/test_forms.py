"""The §8 registration form: import all-or-nothing with row/column messages, export."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from infra import forms
from infra.loader import load
from tests.helpers import InventoryCopy

HEADERS = [header for header, _name in forms.COLUMNS]


def person(stt: int, name: str, email: str, **extra: str) -> list[str]:
    row = {
        "stt": str(stt),
        "full_name": name,
        "position": "Phó Chủ tịch UBND huyện",
        "unit": "UBND huyện Bắc",
        "phone": f"0912 100 {stt:03d}",
        "email": email,
        "note": "",
        "role": "district_leader",
        "scope": "district:lab_north",
    } | extra
    return [row[name] for _header, name in forms.COLUMNS]


def workbook(path: Path, rows: list[list[str]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["MẪU ĐĂNG KÝ TÀI KHOẢN"])  # a title line above the header, as on paper
    sheet.append([])
    sheet.append(HEADERS)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra.cli", *args], capture_output=True, text=True, check=False
    )


def test_import_adds_updates_and_is_idempotent(lab: InventoryCopy, tmp_path: Path) -> None:
    before = lab.read("accounts.yml")["accounts"]
    form = workbook(
        tmp_path / "form.xlsx",
        [
            person(1, "Phạm Văn Mới", "pvmoi@bac.lab.gov.vn"),
            # a known person (by e-mail) with a new position
            person(2, "Trần Thị Bắc", "ttbac@bac.lab.gov.vn", position="Bí thư Huyện ủy"),
        ],
    )
    first = forms.import_form(lab.path, form)
    assert first.problems == []
    assert (first.added, first.updated) == (["pvmoi@bac.lab.gov.vn"], ["ttbac@bac.lab.gov.vn"])
    assert first.written
    after = lab.read("accounts.yml")["accounts"]
    assert len(after) == len(before) + 1  # nobody removed
    assert next(a for a in after if a["email"] == "ttbac@bac.lab.gov.vn")["position"] == (
        "Bí thư Huyện ủy"
    )
    assert (lab.path / "accounts.yml").read_text(encoding="utf-8").startswith("---\n# Accounts")
    result = load(lab.path)
    assert result.inventory is not None
    assert any(a.full_name == "Phạm Văn Mới" for a in result.inventory.accounts)

    again = forms.import_form(lab.path, form)
    assert (again.added, again.updated, again.written) == ([], [], False)
    assert len(again.unchanged) == 2


def test_bad_rows_are_named_and_nothing_is_imported(lab: InventoryCopy, tmp_path: Path) -> None:
    original = (lab.path / "accounts.yml").read_bytes()
    form = workbook(
        tmp_path / "form.xlsx",
        [
            person(1, "Phạm Văn Mới", "pvmoi@bac.lab.gov.vn"),
            person(2, "Ngô Văn Sai", "ngovansai@gmail.com"),
            person(3, "Phạm Văn Mới", "pvmoi@bac.lab.gov.vn"),
            person(4, "Đỗ Thị Phạm Vi", "dtpv@bac.lab.gov.vn", scope="district:nowhere"),
        ],
    )
    result = forms.import_form(lab.path, form)
    assert not result.written
    lines = [p.line() for p in result.problems]
    assert any(line.startswith("row 5, column 'Email (mail công vụ)'") for line in lines), lines
    assert any(
        line.startswith("row 6, column 'Email (mail công vụ)'") and "also on row 4" in line
        for line in lines
    ), lines
    assert any(line.startswith("row 7, column 'Phạm vi'") for line in lines), lines
    assert (lab.path / "accounts.yml").read_bytes() == original  # nothing half-imported

    cli = run("accounts", "import", str(lab.path), str(form))
    assert cli.returncode == 1
    assert "ERROR form.xlsx: row 5, column 'Email (mail công vụ)'" in cli.stdout
    assert "nothing imported" in cli.stderr
    assert (lab.path / "accounts.yml").read_bytes() == original


def test_csv_with_other_header_spellings(lab: InventoryCopy, tmp_path: Path) -> None:
    path = tmp_path / "form.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "STT",
                "Họ và Tên",
                "Chức vụ",
                "Đơn vị",
                "Điện thoại",
                "Email công vụ",
                "Ghi chú",
                "Vai trò",
                "Phạm vi",
            ]
        )
        writer.writerow(person(1, "Phạm Văn Mới", "pvmoi@bac.lab.gov.vn"))
    result = forms.import_form(lab.path, path, dry_run=True)
    assert (result.added, result.problems, result.written) == (["pvmoi@bac.lab.gov.vn"], [], False)


def test_a_form_without_the_columns_is_refused(tmp_path: Path, lab: InventoryCopy) -> None:
    path = tmp_path / "form.csv"
    path.write_text("Tên,Điện thoại\nA,0912\n", encoding="utf-8")
    with pytest.raises(forms.FormError, match="no header row"):
        forms.import_form(lab.path, path)
    with pytest.raises(forms.FormError, match=r"must be \.xlsx or \.csv"):
        forms.import_form(lab.path, tmp_path / "form.pdf")


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_export_has_exactly_the_directive_columns_and_round_trips(
    lab: InventoryCopy, tmp_path: Path, suffix: str
) -> None:
    output = tmp_path / f"out{suffix}"
    cli = run("accounts", "export", str(lab.path), "--output", str(output))
    assert cli.returncode == 0, cli.stderr
    rows: list[list[object]]
    if suffix == ".xlsx":
        rows = [list(r) for r in load_workbook(output).worksheets[0].iter_rows(values_only=True)]
    else:
        rows = [list(r) for r in csv.reader(output.read_text(encoding="utf-8-sig").splitlines())]
    assert rows[0] == HEADERS
    assert rows[0][:7] == [
        "Stt",
        "Họ và tên",
        "Chức vụ",
        "Đơn vị",
        "Điện thoại",
        "Email (mail công vụ)",
        "Ghi chú",
    ]
    assert len(rows) - 1 == len(lab.read("accounts.yml")["accounts"])
    again = forms.import_form(lab.path, output)
    assert again.problems == []
    assert (again.added, again.updated) == ([], [])  # the export is what is stored
