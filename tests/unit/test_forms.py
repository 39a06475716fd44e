"""The §8 registration form: import all-or-nothing with row/column messages, export."""

from __future__ import annotations

import csv
import subprocess
import sys
import unicodedata
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


#: Combining tone marks: Windows-1258 writes them after the base letter.
TONE_MARKS = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def as_windows_1258(text: str) -> bytes:
    """Text as Windows' Vietnamese code page stores it (what Excel writes for 'CSV' on a
    Vietnamese Windows): a letter it holds precomposed as is, others as the base letter with its
    circumflex, breve or horn, then the tone mark as a combining character."""
    clusters: list[list[str]] = []
    for char in unicodedata.normalize("NFD", text):
        if clusters and unicodedata.combining(char):
            clusters[-1].append(char)
        else:
            clusters.append([char])
    out = []
    for base, *marks in clusters:
        others = "".join(m for m in marks if m not in TONE_MARKS)
        tones = "".join(m for m in marks if m in TONE_MARKS)
        whole = unicodedata.normalize("NFC", base + others + tones)
        try:
            whole.encode("cp1258")  # a letter the code page holds precomposed (à, é, ô)
            out.append(whole)
        except UnicodeEncodeError:
            out.append(unicodedata.normalize("NFC", base + others) + tones)
    return "".join(out).encode("cp1258")


def form_text(separator: str = ",") -> str:
    lines = [HEADERS, person(1, "Phạm Văn Mới", "pvmoi@bac.lab.gov.vn", note="Đội trưởng")]
    return "".join(separator.join(line) + "\r\n" for line in lines)


@pytest.mark.parametrize(
    ("encoding", "separator"),
    [("cp1258", ","), ("utf-16", "\t"), ("utf-8", ";"), ("cp1258", ";")],
)
def test_a_csv_form_in_the_encodings_and_separators_excel_writes(
    lab: InventoryCopy, tmp_path: Path, encoding: str, separator: str
) -> None:
    path = tmp_path / "form.csv"
    text = form_text(separator)
    data = as_windows_1258(text) if encoding == "cp1258" else text.encode(encoding)
    path.write_bytes(data)
    [(row, values)] = forms.read_form(path)
    assert row == 2
    assert (values["full_name"], values["note"]) == ("Phạm Văn Mới", "Đội trưởng")
    result = forms.import_form(lab.path, path, dry_run=True)
    assert (result.added, result.problems) == (["pvmoi@bac.lab.gov.vn"], [])


def test_a_western_csv_is_read_and_an_undecidable_one_says_how_to_save_it(
    lab: InventoryCopy, tmp_path: Path
) -> None:
    # Windows-1252 (a Western Windows): headers without diacritics, a name it can hold.
    western = tmp_path / "western.csv"
    header = "Stt,Ho va ten,Chuc vu,Don vi,Dien thoai,Email (mail cong vu),Ghi chu,Vai tro,Pham vi"
    row = "1,Lê Hà,Chuyên viên,UBND,0912 100 001,lha@bac.lab.gov.vn,Š,district_leader,"
    western.write_bytes(f"{header}\r\n{row}district:lab_north\r\n".encode("cp1252"))
    [(_row, values)] = forms.read_form(western)
    assert (values["full_name"], values["note"]) == ("Lê Hà", "Š")  # Š: not in Windows-1258
    # Bytes both code pages read, differently, with no tone mark to tell Vietnamese by.
    unclear = tmp_path / "unclear.csv"
    unclear.write_bytes(f"{header}\r\n1,\xc3nh,x,y,0912,a@b.gov.vn,,r,s\r\n".encode("latin-1"))
    with pytest.raises(forms.FormError) as error:
        forms.read_form(unclear)
    assert "unclear.csv: not UTF-8" in str(error.value)
    assert "save it again from Excel as 'CSV UTF-8 (Comma delimited) (*.csv)'" in str(error.value)
    original = (lab.path / "accounts.yml").read_bytes()
    cli = run("accounts", "import", str(lab.path), str(unclear))
    assert cli.returncode == 1 and "Windows-1258" in cli.stderr, cli.stderr
    assert "Traceback" not in cli.stderr
    assert (lab.path / "accounts.yml").read_bytes() == original


def test_a_file_named_xlsx_that_is_not_a_workbook(lab: InventoryCopy, tmp_path: Path) -> None:
    fake = tmp_path / "form.xlsx"
    fake.write_text(form_text(), encoding="utf-8")  # a CSV renamed
    with pytest.raises(forms.FormError, match=r"form\.xlsx: not an Excel workbook"):
        forms.read_form(fake)
    original = (lab.path / "accounts.yml").read_bytes()
    cli = run("accounts", "import", str(lab.path), str(fake))
    assert cli.returncode == 1 and "not an Excel workbook" in cli.stderr, cli.stderr
    assert "Traceback" not in cli.stderr
    assert (lab.path / "accounts.yml").read_bytes() == original
