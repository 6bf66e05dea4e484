"""Property-based fuzzing of every place hostile input enters: the public forms, the import sheets, the reader API.

Arbitrary text (control characters and NUL included), huge fields, full-width digits, wrong
types, missing fields, random bytes and broken workbooks. The properties: never a 500, never
a partial write (a refused submission adds no row; an import writes exactly the rows it
reports, the department import all or nothing), always a message the user can read.
Runs are bounded (max_examples below, no deadline) so the suite stays fast; each test adds
its number of cases to CASES, printed at the end of the module.
"""

import io
import json
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import func, select

from models import Enterprise, Person, ReviewDepartment, User
from tests.conftest import make_id_number

EXAMPLES = 150
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
CASES = {}

FULL_WIDTH = str.maketrans("0123456789X", "０１２３４５６７８９ｘ")
nasty_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.sampled_from(["\x00", "a\x00b", "\u202e", "' OR 1=1 --", "<script>alert(1)</script>", "=1+1", "@SUM(A1)",
                     "１３８００１３８０００", "ｘ", " ", "\r\n", "\t", "０", "\ud7ff", "\U0001f600", "None", "null",
                     "[]"]),
    st.integers(1000, 6000).map(lambda n: "9" * n),   # huge fields
    st.integers(500, 3000).map(lambda n: "测" * n),
)


def count(db, model, *conditions):
    value = db.session.execute(select(func.count()).select_from(model).where(*conditions)).scalar_one()
    db.session.rollback()
    return value


def case(name):
    CASES[name] = CASES.get(name, 0) + 1


@pytest.fixture(scope="module", autouse=True)
def report_cases():
    yield
    print("\nfuzz cases run: " + ", ".join(f"{name} {n}" for name, n in sorted(CASES.items()))
          + f" (total {sum(CASES.values())})")


def readable(response):
    text = response.get_data(as_text=True)
    return any(mark in text for mark in ("invalid-feedback", "alert", "请", "不", "已"))


# ---------------------------------------------------------------- the employee form /e/<token>

@pytest.fixture
def enterprise(make_enterprise, db):
    row = make_enterprise()
    db.session.commit()
    return row


@FUZZ
@given(form=st.dictionaries(
    st.sampled_from(["name", "gender", "id_number", "age", "phone", "category", "lives_in_binhai", "community",
                     "remarks", "consent", "unexpected"]), nasty_text, max_size=11))
def test_employee_form_never_fails_and_never_half_writes(client, enterprise, db, form):
    case("employee form")
    before = count(db, Person)
    response = client.post(f"/e/{enterprise.qr_token}", data=form)
    assert response.status_code in (200, 302, 400), response.status_code  # 400: the input gate
    after = count(db, Person)
    if response.status_code == 302:
        assert after == before + 1
    else:
        assert after == before and readable(response)


@FUZZ
@given(number_index=st.integers(0, 10_000), full_width=st.booleans(), spaces=st.booleans(),
       phone_full_width=st.booleans())
def test_employee_form_normalises_full_width_digits_and_lower_case_x(client, enterprise, db, number_index,
                                                                      full_width, spaces, phone_full_width):
    case("employee form, normalisation")
    number = make_id_number()
    typed = number.translate(FULL_WIDTH) if full_width else number
    typed = typed.replace("X", "x") if not full_width else typed
    if spaces:
        typed = f" {typed[:6]} {typed[6:14]} {typed[14:]} "
    phone = "13800138000".translate(FULL_WIDTH) if phone_full_width else "138 0013 8000"
    response = client.post(f"/e/{enterprise.qr_token}", data={
        "name": "张三", "id_number": typed, "phone": phone, "category": "企业职工", "lives_in_binhai": "1",
        "community": "测试小区", "consent": "1"})
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    stored = db.session.execute(select(Person.id_number, Person.phone).where(Person.id_number == number)).one()
    db.session.rollback()
    assert stored == (number, "13800138000")


def test_the_same_person_twice_is_told_it_is_already_submitted(client, enterprise, db):
    number = make_id_number()
    form = {"name": "李四", "id_number": number, "phone": "13800138000", "category": "企业职工",
            "lives_in_binhai": "1", "community": "小区", "consent": "1"}
    assert client.post(f"/e/{enterprise.qr_token}", data=form).status_code == 302
    again = client.post(f"/e/{enterprise.qr_token}", data={**form, "id_number": number.lower()})
    assert again.status_code == 302 and again.headers["Location"].endswith("/done?already=1")
    assert count(db, Person, Person.id_number == number) == 1


@FUZZ
@given(token=nasty_text)
def test_any_token_in_the_url_gets_a_page_not_an_error(client, token):
    case("employee form token")
    from urllib.parse import quote

    response = client.get("/e/" + quote(token, safe=""))
    assert response.status_code in (200, 400, 404, 308), response.status_code


# ---------------------------------------------------------------- enterprise registration /register

@FUZZ
@given(form=st.dictionaries(
    st.sampled_from(["name", "credit_code", "department_id", "address", "contact_name", "phone", "password",
                     "confirm", "territory_id", "consent"]),
    st.one_of(nasty_text, st.integers(-2**63, 2**63).map(str)), max_size=10))
def test_registration_never_fails_and_never_half_writes(client, db, form, make_department, make_territory):
    case("registration form")
    before = (count(db, Enterprise), count(db, User))
    response = client.post("/register", data=form)
    assert response.status_code in (200, 302, 400), response.status_code  # 400: the input gate
    after = (count(db, Enterprise), count(db, User))
    assert after in (before, (before[0] + 1, before[1] + 1))
    if after == before:
        assert readable(response)


# ---------------------------------------------------------------- the reader API

@pytest.fixture
def reader_token(make_station, db):
    from models.reader import ReaderToken

    _, plain = ReaderToken.issue(make_station(), name="fuzz")
    db.session.commit()
    return plain


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), nasty_text),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8)


@FUZZ
@given(body=st.one_of(
    st.dictionaries(st.sampled_from(["read_id", "id_number", "name", "reader", "read_at", "extra"]), json_values,
                    max_size=6).map(json.dumps),
    json_values.map(json.dumps),
    st.binary(max_size=600),
    st.just("{" * 5000),
    st.just(json.dumps({"read_id": "x" * 100000})),
))
def test_reader_api_answers_json_and_never_500(client, reader_token, db, body):
    case("reader API")
    from models.reader import CardRead

    before = count(db, CardRead)
    response = client.post("/api/v1/card-reads", data=body, content_type="application/json",
                           headers={"Authorization": f"Bearer {reader_token}"})
    assert response.status_code in (200, 201, 400, 413, 422), response.status_code
    payload = response.get_json()
    assert payload is not None
    after = count(db, CardRead)
    if response.status_code == 201:
        assert after == before + 1
    else:
        assert after == before and payload.get("error")


# ---------------------------------------------------------------- the import sheets

def workbook_bytes(rows, formula_cells=()):
    """An .xlsx of `rows`; control characters no workbook can hold are dropped (the forms get those)."""
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value for value in row])
    for cell, formula in formula_cells:
        sheet[cell] = formula
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def zip_without_workbook():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    return buffer.getvalue()


IMPORT_HEADER = ("姓名", "性别", "身份证号", "年龄", "手机号", "人员类别", "是否住在滨海新区", "现居住小区", "备注")
cell_values = st.one_of(nasty_text, st.integers(-10**20, 10**20), st.floats(allow_nan=False, allow_infinity=False),
                        st.none(), st.booleans())
sheets = st.one_of(
    st.binary(max_size=2000),
    st.just(zip_without_workbook()),
    st.just(b"PK\x03\x04" + b"\x00" * 100),
    st.lists(st.lists(cell_values, min_size=0, max_size=11), max_size=8).map(
        lambda rows: workbook_bytes([IMPORT_HEADER, *rows])),
    st.lists(st.lists(cell_values, max_size=9), max_size=5).map(workbook_bytes),
    st.just(workbook_bytes([IMPORT_HEADER, ["=1+1", "男", "=A1", 30, "=HYPERLINK(\"x\")", "企业职工", "是", "x", "y"]],
                           formula_cells=[("C2", "=CONCATENATE(\"1201\",\"16\")")])),
    st.just(workbook_bytes([IMPORT_HEADER, ["张三", "男", "1" * 18, 30, "13800138000", "企业职工", "是",
                                            "x" * 32767, "y"]])),
)


@pytest.fixture
def enterprise_client(client, make_enterprise, make_user, login, db):
    enterprise = make_enterprise()
    login(make_user("enterprise", enterprise))
    return client, enterprise


@FUZZ
@given(sheet=sheets, filename=st.sampled_from(["人员.xlsx", "a.XLSX", "x.xls", "", "..\\..\\etc.xlsx"]))
def test_enterprise_import_never_fails_and_writes_what_it_reports(enterprise_client, db, sheet, filename):
    case("enterprise import")
    client, enterprise = enterprise_client
    before = count(db, Person, Person.enterprise_id == enterprise.id)
    response = client.post("/enterprise/import/upload", data={"file": (io.BytesIO(sheet), filename)},
                           content_type="multipart/form-data", follow_redirects=True)
    assert response.status_code == 200, response.status_code
    text = response.get_data(as_text=True)
    after = count(db, Person, Person.enterprise_id == enterprise.id)
    import re

    reported = re.search(r'data-inserted="(\d+)"|成功导入\s*(?:<[^>]+>)?\s*(\d+)', text)
    if after != before:
        assert reported, "rows were written but the page does not say how many"
        assert after - before == int(reported.group(1) or reported.group(2))
    assert readable(response)


@pytest.fixture
def admin_client(client, make_user, login):
    login(make_user("admin"))
    return client


DEPARTMENT_HEADER = ("名称", "维度", "上级部门", "联系电话", "账号")


@FUZZ
@given(sheet=st.one_of(
    st.binary(max_size=2000), st.just(zip_without_workbook()),
    st.lists(st.lists(cell_values, max_size=6), max_size=6).map(lambda rows: workbook_bytes([DEPARTMENT_HEADER,
                                                                                               *rows])),
))
def test_department_import_is_all_or_nothing_and_never_fails(admin_client, db, sheet):
    case("department import")
    before = (count(db, ReviewDepartment), count(db, User))
    response = admin_client.post("/admin/admin_departments/import/", data={"file": (io.BytesIO(sheet), "部门.xlsx")},
                                 content_type="multipart/form-data", follow_redirects=True)
    assert response.status_code == 200, response.status_code
    after = (count(db, ReviewDepartment), count(db, User))
    text = response.get_data(as_text=True)
    if after != before:
        # Everything in the sheet went in: as many departments as accounts were made or kept.
        assert "导入完成" in text or "新建" in text
    assert readable(response)
