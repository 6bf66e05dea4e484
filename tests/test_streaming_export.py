"""Exports stream: the .xlsx leaves in pieces as rows are read, and spreadsheet programs read it."""

import io
import shutil
import subprocess
from datetime import datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from models import AuditEvent
from services.spreadsheets import stream_xlsx

HEADERS = ("姓名", "身份证号", "手机号", "备注", "年龄", "住滨海", "时间")
ROWS = [
    ("王五", "11010519491231002X", 13800138000, "=HYPERLINK(\"http://x\")", 30, True, datetime(2026, 3, 1, 9, 30)),
    ("-1", "440524188001010014", "13900000000", "a&b<c>\x01", None, False, None),
]


def test_a_streamed_workbook_reads_back_like_write_xlsx_writes_it():
    data = b"".join(stream_xlsx(HEADERS, ROWS, title="人员清单", text_columns=(1, 2)))
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert sheet.title == "人员清单"
    assert values[0] == list(HEADERS)
    assert values[1] == ["王五", "11010519491231002X", "13800138000", "'=HYPERLINK(\"http://x\")", 30, "是",
                         "2026-03-01 09:30"]
    assert values[2] == ["'-1", "440524188001010014", "13900000000", "a&b<c>", None, "否", None]
    assert sheet.cell(row=1, column=1).font.b and sheet.cell(row=2, column=2).data_type == "s"
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_the_pieces_leave_as_the_rows_are_read():
    read = []

    def rows():
        for index in range(2000):
            read.append(index)
            yield (f"员工{index}", f"{120116199001010000 + index}")

    pieces = stream_xlsx(("姓名", "身份证号"), rows(), text_columns=(1,), rows_per_chunk=100)
    next(pieces)
    assert read == []  # the start of the file is out before any row is read
    next(pieces)
    assert 0 < len(read) < 2000
    rest = b"".join(pieces)
    assert rest and len(read) == 2000


def test_the_enterprise_export_streams_and_audits_when_done(client, login, make_enterprise, make_persons, make_user,
                                                             db):
    enterprise = make_enterprise()
    make_persons(enterprise, 1200)
    login(make_user("enterprise", enterprise))
    response = client.get("/enterprise/enterprise_persons/export?all=1", buffered=False)
    pieces = iter(response.response)
    first = next(pieces)
    exports = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "person_export")
    assert first and db.session.execute(exports).scalar_one() == 0  # answered before the file was complete
    data = first + b"".join(pieces)
    response.close()
    sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    assert sum(1 for _ in sheet.iter_rows(min_row=2)) == 1200
    assert db.session.execute(select(AuditEvent.changed).where(AuditEvent.action == "person_export")).scalar_one() \
        == 1200


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (libreoffice-calc-nogui) not installed")
def test_libreoffice_reads_a_streamed_export(tmp_path):
    source = tmp_path / "export.xlsx"
    source.write_bytes(b"".join(stream_xlsx(("姓名", "身份证号", "备注"), [("李四", "11010519491231002X", "=1+1")],
                                            text_columns=(1,))))
    subprocess.run(["soffice", f"-env:UserInstallation=file://{tmp_path}/.lo", "--headless", "--convert-to",
                    "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,true", "--outdir", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=120)
    text = (tmp_path / "export.csv").read_text(encoding="utf-8")
    assert '"李四","11010519491231002X","\'=1+1"' in text
