"""The one .xlsx writer: what goes in comes back, in openpyxl and in calamine (another reader, in Rust).

Text with quotes, &, < and characters XML cannot carry, in the sheet name (an attribute),
the headers and the cells, at every position; formulas neutralised after those characters
are dropped; whole numbers too long for Excel kept as text; a ZIP64 sheet entry.
"""

import io
import zipfile

import pytest
from openpyxl import load_workbook
from python_calamine import CalamineWorkbook

from services.spreadsheets import sheet_title, stream_xlsx, write_xlsx

BASE = 'He said "hi" & <b>ok</b> \'x\''
CONTROLS = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x0e", "\x1b", "\x1f", "\ufffe", "\ud800"]


def _with_control_at_every_position(text, control="\x1f"):
    return [text[:i] + control + text[i:] for i in range(len(text) + 1)]


# 0x1F at every position of the text, then each other character XML cannot carry in place of the spaces.
CELLS = _with_control_at_every_position(BASE) + [BASE.replace(" ", c) for c in CONTROLS]
CELLS_BACK = [BASE] * (len(BASE) + 1) + [BASE.replace(" ", "")] * len(CONTROLS)
TITLE = '清单"A&B<C>\x1f\'D'
HEADERS = ("姓\x1f名", 'say "x"', "a&b", "<tag>", "身份证号")
ROWS = [(text, text, text, text, "11010519491231002X") for text in CELLS] + [
    ("\x1f=1+1", "\x00@SUM(A1)", "=x\x1f", 120116199001010000, 42),
]
EXPECTED_ROWS = [[text, text, text, text, "11010519491231002X"] for text in CELLS_BACK] + [
    ["'=1+1", "'@SUM(A1)", "'=x", "120116199001010000", "42"],  # the last column is a text column
]
EXPECTED_HEADERS = ["姓名", 'say "x"', "a&b", "<tag>", "身份证号"]
EXPECTED_TITLE = "清单\"A&B<C>'D"


def _both_ways():
    streamed = b"".join(stream_xlsx(HEADERS, ROWS, title=TITLE, text_columns=(4,)))
    with write_xlsx(HEADERS, ROWS, title=TITLE, text_columns=(4,)) as output:
        written = output.read()
    return {"stream_xlsx": streamed, "write_xlsx": written}


@pytest.mark.parametrize("way", ["stream_xlsx", "write_xlsx"])
def test_openpyxl_reads_back_every_title_header_and_cell(way):
    workbook = load_workbook(io.BytesIO(_both_ways()[way]))
    sheet = workbook.worksheets[0]
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert workbook.sheetnames == [EXPECTED_TITLE]
    assert values[0] == EXPECTED_HEADERS
    assert values[1:] == EXPECTED_ROWS
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


@pytest.mark.parametrize("way", ["stream_xlsx", "write_xlsx"])
def test_calamine_reads_back_every_title_header_and_cell(way):
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(_both_ways()[way]))
    assert workbook.sheet_names == [EXPECTED_TITLE]
    rows = workbook.get_sheet_by_index(0).to_python()
    assert rows[0] == EXPECTED_HEADERS
    assert rows[1:] == EXPECTED_ROWS


def test_both_paths_write_the_same_workbook():
    ways = _both_ways()
    def parts(data):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return {name: archive.read(name) for name in archive.namelist()}
    assert parts(ways["stream_xlsx"]) == parts(ways["write_xlsx"])


@pytest.mark.parametrize(("title", "expected"), [
    ("人员清单", "人员清单"), ("a/b\\c?d*e[f]g:h", "a_b_c_d_e_f_g_h"), ("'quoted'", "quoted"), ("\x00\x1f", "Sheet1"),
    ("长" * 40, "长" * 31), ('批号"X"&<1>', '批号"X"&<1>'),
])
def test_sheet_titles_are_names_excel_accepts(title, expected):
    assert sheet_title(title) == expected


def test_the_sheet_is_a_zip64_entry_and_a_stream_past_the_zip_limit_stays_readable(monkeypatch):
    # Past ZIP64_LIMIT a plain entry cannot be closed ("File size too large"); lowering the limit
    # makes a small workbook cross it, so the ZIP64 records are written and read for real.
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 4096)
    rows = [(f"员工{i}", f"{120116199001010000 + i}") for i in range(3000)]
    data = b"".join(stream_xlsx(("姓名", "身份证号"), rows, text_columns=(1,)))
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo("xl/worksheets/sheet1.xml")
        assert info.file_size > 4096 and b"\x01\x00" in info.extra[:2]  # the ZIP64 extra field (id 0x0001)
    monkeypatch.undo()
    read = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()
    assert len(read) == 3001 and read[-1] == ["员工2999", "120116199001012999"]
    sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    assert sum(1 for _ in sheet.iter_rows(min_row=2)) == 3000
