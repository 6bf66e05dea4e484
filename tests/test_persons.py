"""Person records through models/persons.py: imports all or nothing, edits check the version, races refused."""

import io

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from models import AuditEvent, ImportRejectFile, Person
from models import persons as person_records
from models.persons import (
    DUPLICATE_ID,
    TAKEN_ELSEWHERE,
    TAKEN_HERE,
    add_from_qr_form,
    delete_registered,
    edit_person,
    insert_people,
)
from tests.conftest import make_id_number

BAD_ROW = ["坏行", "", "123", "", "1", "企业职工", "是", "小区", ""]
HEADER = ["姓名", "性别", "身份证号", "年龄", "手机号", "人员类别", "是否住在滨海新区", "现居住小区", "备注"]


def count(db, model, *conditions):
    return db.session.execute(select(func.count()).select_from(model).where(*conditions)).scalar_one()


def sheet(rows):
    workbook = Workbook()
    workbook.active.append(HEADER)
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def good_row(name="赵一"):
    return [name, "", make_id_number(), "", "13911110001", "企业职工", "是", "新河小区", ""]


@pytest.fixture
def enterprise_user(make_enterprise, make_user, db):
    enterprise = make_enterprise("甲港航物流有限公司")
    user = make_user("enterprise", enterprise)
    db.session.commit()
    return user


def upload(client, data):
    return client.post("/enterprise/import/upload", data={"file": (io.BytesIO(data), "员工.xlsx")},
                       content_type="multipart/form-data")


@pytest.mark.parametrize("failing", ["save_rejects", "record_event"])
def test_an_import_that_fails_after_its_rows_leaves_nothing_written(client, login, db, enterprise_user,
                                                                   monkeypatch, failing):
    login(enterprise_user)

    def broken(*args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(person_records, failing, broken)
    with pytest.raises(RuntimeError):
        upload(client, sheet([good_row("赵一"), good_row("钱二"), BAD_ROW]))
    db.session.rollback()  # what the end of the failed request does with its session
    assert count(db, Person) == 0
    assert count(db, ImportRejectFile) == 0
    assert count(db, AuditEvent, AuditEvent.action == "person_import") == 0


def test_an_import_writes_its_rows_rejects_and_audit_together(client, login, db, enterprise_user):
    login(enterprise_user)
    page = upload(client, sheet([good_row("赵一"), BAD_ROW]))
    assert "成功导入 1 人" in page.get_data(as_text=True)
    db.session.rollback()
    assert count(db, Person) == 1 and count(db, ImportRejectFile) == 1
    [event] = db.session.execute(select(AuditEvent).where(AuditEvent.action == "person_import")).scalars()
    assert (event.requested, event.changed) == (2, 1)


def test_a_number_registered_between_check_and_insert_is_refused_and_the_rest_kept(db, make_enterprise,
                                                                                     make_persons):
    enterprise = make_enterprise()
    [taken_id] = make_persons(enterprise, 1)
    taken = db.session.get(Person, taken_id).id_number
    values = {"name": "后到者", "gender": "M", "age": 30, "phone": "13900000000", "category": "企业职工",
              "lives_in_binhai": True, "community": "小区", "remarks": ""}
    rows = [person_records.person_row(enterprise.id, {**values, "id_number": number}, "import")
            for number in (taken, make_id_number())]
    refused = insert_people(rows)
    assert [row["id_number"] for row in refused] == [taken]
    assert count(db, Person) == 2  # the transaction goes on: nothing else had to be given up


def test_the_qr_form_tells_where_a_number_is_taken_without_aborting_the_transaction(db, make_enterprise,
                                                                                    make_persons):
    enterprise, other = make_enterprise(), make_enterprise("别的单位有限公司")
    [taken_id] = make_persons(enterprise, 1)
    [taken_elsewhere_id] = make_persons(other, 1)
    taken = db.session.get(Person, taken_id).id_number
    values = {"name": "后到者", "gender": "M", "id_number": taken, "age": 30, "phone": "13900000000",
              "category": "企业职工", "lives_in_binhai": True, "community": "小区", "remarks": ""}
    assert add_from_qr_form(enterprise.qr_token, values, None, "v1") == (None, TAKEN_HERE)
    elsewhere = {**values, "id_number": db.session.get(Person, taken_elsewhere_id).id_number}
    assert add_from_qr_form(enterprise.qr_token, elsewhere, None, "v1") == (None, TAKEN_ELSEWHERE)
    assert add_from_qr_form("no-such-token", values, None, "v1") == (None, TAKEN_ELSEWHERE)
    fresh = {**values, "id_number": make_id_number()}
    person_id, taken_where = add_from_qr_form(enterprise.qr_token, fresh, None, "v1")
    assert person_id is not None and taken_where is None
    assert add_from_qr_form("no-such-token", {**values, "id_number": make_id_number()}, None, "v1") == (None, None)


def test_an_edit_lands_only_on_the_version_it_was_made_from(db, make_enterprise, make_persons, make_user):
    enterprise = make_enterprise()
    user = make_user("enterprise", enterprise)
    [person_id] = make_persons(enterprise, 1, name="张三", community="旧小区", lives_in_binhai=True)
    person = db.session.get(Person, person_id)
    values = {"name": "张三", "id_number": person.id_number, "phone": "13911112222", "category": "企业职工",
              "lives_in_binhai": "是", "community": "新小区", "remarks": ""}
    assert edit_person(user, person, values, ["企业职工"], posted_version=person.version + 1).conflict
    outcome = edit_person(user, person, values, ["企业职工"], posted_version=person.version)
    assert outcome.saved
    db.session.expire_all()
    assert (person.community, person.version) == ("新小区", 2)
    stale = edit_person(user, person, {**values, "community": "别处"}, ["企业职工"], posted_version=1)
    assert stale.conflict and person.community == "新小区"
    [other] = make_persons(enterprise, 1)
    taken = db.session.get(Person, other).id_number
    refused = edit_person(user, person, {**values, "id_number": taken}, ["企业职工"], posted_version=2)
    assert refused.errors == {"id_number": DUPLICATE_ID}


def test_delete_removes_only_the_actors_unsubmitted_people_and_audits(db, make_enterprise, make_persons, make_user):
    mine, theirs = make_enterprise(), make_enterprise()
    user = make_user("enterprise", mine)
    ids = make_persons(mine, 2) + make_persons(mine, 1, status="submitted") + make_persons(theirs, 1)
    assert delete_registered(user, ids) == (4, 2)
    assert count(db, Person) == 2
    [event] = db.session.execute(select(AuditEvent).where(AuditEvent.action == "person_delete")).scalars()
    assert (event.requested, event.changed) == (4, 2)


def _person(**values):
    return {"name": "王小明", "id_number": make_id_number(), "phone": "13912345678", "category": "企业职工",
            "lives_in_binhai": "是", **values}


@pytest.mark.parametrize("name, message", [
    ("\u200b\u200c\u200d", "请填写姓名"),                       # only zero-width characters
    ("\ufeff \u2060", "请填写姓名"),
    ("王\u202e明小", "不可见或控制方向的字符"),                  # a right-to-left override turns it round on screen
    ("王\u200b小明", "不可见或控制方向的字符"),                  # looks like 王小明, another record
])
def test_names_of_invisible_or_direction_characters_are_refused(name, message):
    checked = person_records.clean_person(_person(name=name), ["企业职工"])
    assert message in str(checked.errors["name"])


def test_a_minority_name_with_its_middle_dot_is_kept():
    checked = person_records.clean_person(_person(name="买买提·艾力"), ["企业职工"])
    assert "name" not in checked.errors


def test_an_id_number_giving_an_age_over_120_is_refused():
    from models.identity import id_check_char

    first17 = "12011619000101001"  # born 1900: 126 on the day the issue was filed
    checked = person_records.clean_person(_person(id_number=first17 + id_check_char(first17)), ["企业职工"])
    assert "超过120岁" in str(checked.errors["id_number"])
    first17 = "12011619200101001"
    assert "id_number" not in person_records.clean_person(_person(id_number=first17 + id_check_char(first17)),
                                                          ["企业职工"]).errors
