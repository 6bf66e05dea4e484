"""services.spreadsheets: exports that keep ID numbers as text and never run formulas; reading uploads safely."""

import io
import shutil
import subprocess
import zipfile
from datetime import datetime

import pytest
from openpyxl import Workbook, load_workbook

from services.spreadsheets import (
    LOST_DIGITS_MARK,
    SpreadsheetError,
    neutralise,
    read_rows,
    write_template,
    write_xlsx,
)

HEADER_MAP = {"姓名": "name", "身份证号": "id_number", "手机号": "phone", "备注": "remarks"}
REQUIRED = ("姓名", "身份证号")


def upload_of(rows):
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    return buffer


@pytest.mark.parametrize("value, expected", [
    ("=1+1", "'=1+1"), ("+8613800138000", "'+8613800138000"), ("-2+3", "'-2+3"), ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
    ("\t=cmd", "'\t=cmd"), ("\r=cmd", "'\r=cmd"), ("张三", "张三"), ("a=b", "a=b"), ("", ""), (42, 42), (None, None),
])
def test_neutralise_prefixes_only_what_a_spreadsheet_would_run(value, expected):
    assert neutralise(value) == expected


def test_export_keeps_id_numbers_and_phones_as_text_and_writes_no_formula():
    rows = [
        ("王五", 110105194912310023, "11010519491231002X", 13800138000, "=HYPERLINK(\"http://x\")", 30, True,
         datetime(2026, 3, 1, 9, 30)),
        ("-1", "440524188001010014", "440524188001010014", "13900000000", "@cmd", None, False, None),
    ]
    with write_xlsx(("姓名", "证件1", "证件2", "手机号", "备注", "年龄", "住滨海", "时间"), rows, title="人员清单",
                    text_columns=(1, 2, 3)) as output:
        sheet = load_workbook(output).worksheets[0]
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert sheet.title == "人员清单"
    assert values[0] == ["姓名", "证件1", "证件2", "手机号", "备注", "年龄", "住滨海", "时间"]
    assert values[1] == ["王五", "110105194912310023", "11010519491231002X", "13800138000", "'=HYPERLINK(\"http://x\")",
                         30, "是", "2026-03-01 09:30"]
    assert values[2][0] == "'-1" and values[2][4] == "'@cmd" and values[2][6] == "否"
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    assert sheet.cell(row=2, column=2).data_type == "s"


def test_export_streams_many_rows():
    rows = ((f"员工{i}", f"{120116199001010000 + i}") for i in range(20000))
    with write_xlsx(("姓名", "身份证号"), rows, text_columns=(1,)) as output:
        workbook = load_workbook(output, read_only=True)
        rows_back = list(workbook.worksheets[0].iter_rows(min_row=2, values_only=True))
        workbook.close()
    assert len(rows_back) == 20000 and rows_back[-1] == ("员工19999", "120116199001029999")


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (libreoffice-calc-nogui) not installed")
def test_a_real_spreadsheet_program_reads_the_export(tmp_path):
    source = tmp_path / "export.xlsx"
    rows = [("李四", "11010519491231002X", "=1+1")]
    with write_xlsx(("姓名", "身份证号", "备注"), rows, text_columns=(1,)) as output:
        source.write_bytes(output.read())
    subprocess.run(["soffice", f"-env:UserInstallation=file://{tmp_path}/.lo", "--headless", "--convert-to",
                    "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,true", "--outdir", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=120)
    text = (tmp_path / "export.csv").read_text(encoding="utf-8")
    assert '"李四","11010519491231002X","\'=1+1"' in text


def test_read_rows_maps_headers_with_required_marks_and_skips_blank_rows():
    upload = upload_of([
        ["身份证号*", "姓名 *", "无关列", "手机号"],
        ["11010519491231002X", "张三", "x", 13800138000],
        [None, None, None, None],
        ["440524188001010014", " 李四 ", None, "139 0000 0000"],
    ])
    rows = read_rows(upload, HEADER_MAP, REQUIRED, max_rows=10)
    assert rows == [
        (2, {"id_number": "11010519491231002X", "name": "张三", "phone": "13800138000"}),
        (4, {"id_number": "440524188001010014", "name": "李四", "phone": "139 0000 0000"}),
    ]


def test_an_id_number_stored_as_a_number_is_marked_as_lost_digits():
    # A spreadsheet number is a double: an 18-digit number has lost its last digits once saved.
    upload = upload_of([["姓名", "身份证号", "手机号"], ["张三", 1.10105194912310023e17, 13800138000.0],
                        ["李四", 110105194912310023, 13800138000]])
    rows = read_rows(upload, HEADER_MAP, REQUIRED, max_rows=10)
    assert [row["id_number"] for _, row in rows] == [LOST_DIGITS_MARK, LOST_DIGITS_MARK]
    assert [row["phone"] for _, row in rows] == ["13800138000", "13800138000"]


def test_missing_columns_too_many_rows_and_empty_sheets_are_explained():
    with pytest.raises(SpreadsheetError, match="表格缺少列：身份证号"):
        read_rows(upload_of([["姓名", "电话"], ["张三", "1"]]), HEADER_MAP, REQUIRED, max_rows=10)
    with pytest.raises(SpreadsheetError, match="每次最多导入2行"):
        read_rows(upload_of([["姓名", "身份证号"], ["a", "1"], ["b", "2"], ["c", "3"]]), HEADER_MAP, REQUIRED,
                  max_rows=2)
    with pytest.raises(SpreadsheetError, match="表格是空的"):
        read_rows(upload_of([]), HEADER_MAP, REQUIRED, max_rows=10)


def zip_without_workbook():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    return buffer.getvalue()


@pytest.mark.parametrize("data", [b"", b"plain text", b"PK\x03\x04 truncated", zip_without_workbook()])
def test_files_that_are_not_xlsx_raise_a_spreadsheet_error(data):
    with pytest.raises(SpreadsheetError, match="无法读取|已损坏"):
        read_rows(io.BytesIO(data), HEADER_MAP, REQUIRED, max_rows=10)


def test_template_marks_required_columns_formats_id_as_text_and_offers_choices():
    with write_template(("姓名", "身份证号", "人员类别"), ("姓名", "身份证号"), ["说明一", "说明二"],
                        choices={"人员类别": ["企业职工", "其他"]}, text_headers=("身份证号",), rows=50) as output:
        workbook = load_workbook(output)
    sheet = workbook["人员信息"]
    assert [cell.value for cell in sheet[1]] == ["姓名*", "身份证号*", "人员类别"]
    assert sheet["B2"].number_format == "@" and sheet["B51"].number_format == "@"
    [validation] = sheet.data_validations.dataValidation
    assert validation.formula1 == "'选项'!$C$1:$C$2" and "C2:C51" in str(validation.sqref)
    assert [cell.value for cell in workbook["选项"]["C"]] == ["企业职工", "其他"]
    assert workbook["选项"].sheet_state == "hidden"
    assert [row[0].value for row in workbook["填写说明"].iter_rows()] == ["说明一", "说明二"]
