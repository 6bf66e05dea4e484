"""Every spreadsheet the system writes neutralises formula injection (cells starting with = + - @)."""

import io

from openpyxl import load_workbook
from sqlalchemy import update

from models import Person
from services.spreadsheets_departments import credentials_workbook

HOSTILE = ("=HYPERLINK(\"http://evil\",\"点我\")", "+1+1", "-2+3", "@SUM(A1)", "=cmd|' /C calc'!A0")


def cells_of(data):
    book = load_workbook(io.BytesIO(data))
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    book.close()
    return cells


def assert_no_formula(data):
    cells = cells_of(data)
    assert cells
    for cell in cells:
        assert cell.data_type != "f", cell.coordinate
        if isinstance(cell.value, str):
            assert not cell.value.startswith(("=", "+", "-", "@")), (cell.coordinate, cell.value)
    return [cell.value for cell in cells]


def test_enterprise_export_neutralises_every_text_cell(client, login, make_enterprise, make_user, make_persons, db):
    enterprise = make_enterprise()
    ids = make_persons(enterprise, len(HOSTILE))
    for pid, value in zip(ids, HOSTILE):
        db.session.execute(update(Person).where(Person.id == pid).values(
            name=value[:50], community=value, remarks=value, return_reason=value))
    login(make_user("enterprise", enterprise))
    response = client.get("/enterprise/enterprise_persons/export?all=1")
    assert response.status_code == 200
    data = response.get_data()
    response.close()
    values = assert_no_formula(data)
    assert "'=HYPERLINK(\"http://evil\",\"点我\")" in values and "'@SUM(A1)" in values


def test_rejected_rows_sheet_neutralises_the_uploaded_values(client, login, make_enterprise, make_user, db):
    from openpyxl import Workbook

    login(make_user("enterprise", make_enterprise()))
    book = Workbook()
    book.active.append(["姓名", "性别", "身份证号", "年龄", "手机号", "人员类别", "是否住在滨海新区", "现居住小区",
                        "备注"])
    for value in HOSTILE:
        book.active.append([value, "男", "=1+1", 30, value, "企业职工", "是", value, value])
    buffer = io.BytesIO()
    book.save(buffer)
    page = client.post("/enterprise/import/upload", data={"file": (io.BytesIO(buffer.getvalue()), "x.xlsx")},
                       content_type="multipart/form-data").get_data(as_text=True)
    import re

    link = re.search(r'href="(/enterprise/import/rejected/[^"]+\.xlsx)"', page)
    assert link, page[:2000]
    sheet = client.get(link.group(1))
    data = sheet.get_data()
    sheet.close()
    values = assert_no_formula(data)
    assert "'+1+1" in values


def test_credentials_sheet_neutralises_department_names():
    values = assert_no_formula(credentials_workbook([("=HYPERLINK(\"x\")", "dept_user", "Abc12345"),
                                                     ("@部门", "user2", "Xyz98765")]))
    assert "'=HYPERLINK(\"x\")" in values and "'@部门" in values
