"""企业端 through HTTP: dashboard, 人员清单 tabs and search, edit and delete, submit, export, import, QR code."""

import io
import re

import pytest
from openpyxl import Workbook, load_workbook
from PIL import Image
from pyzbar.pyzbar import decode
from sqlalchemy import event, func, insert, select

from admin_views.labels import DUPLICATE_ID_MESSAGE
from models import AuditEvent, Person, PersonEvent, today
from models.identity import age_on, id_birth_date
from tests.conftest import make_id_number

PERSONS = "/enterprise/enterprise_persons"


@pytest.fixture
def firm(make_enterprise, make_user, make_persons, db):
    """Two enterprises with people in every stage; user_a logs in for enterprise A."""
    ent_a, ent_b = make_enterprise("甲港航物流有限公司"), make_enterprise("乙化工有限公司")
    ids = {
        "registered": make_persons(ent_a, 2, status="registered", name="甲未提交"),
        "returned": make_persons(ent_a, 1, status="registered", name="甲被退回", return_reason="身份证号与本人不符"),
        "submitted": make_persons(ent_a, 1, status="submitted", name="甲已提交"),
        "dept_approved": make_persons(ent_a, 1, status="dept_approved", name="甲初审过"),
        "allocated": make_persons(ent_a, 1, status="allocated", name="甲已分配"),
        "appointed": make_persons(ent_a, 1, status="appointed", name="甲已预约"),
        "vaccinated": make_persons(ent_a, 2, status="vaccinated", name="甲已接种"),
        "not_vaccinated": make_persons(ent_a, 1, status="not_vaccinated", name="甲未接种"),
        "other": make_persons(ent_b, 3, status="registered", name="乙员工"),
    }
    user_a = make_user("enterprise", ent_a)
    make_user("enterprise", ent_b)
    db.session.commit()
    return {"a": ent_a, "b": ent_b, "ids": ids, "user": user_a}


def status_of(db, person_id):
    db.session.expire_all()
    return db.session.execute(select(Person.status).where(Person.id == person_id)).scalar_one_or_none()


def figures(page):
    return {key: int(value) for key, value in re.findall(r'data-figure="(\w+)">(\d+)<', page)}


def listed_names(page):
    return re.findall(r'<td class="col-name">\s*([^<]+?)\s*</td>', page)


def qr_text(png):
    [found] = decode(Image.open(io.BytesIO(png)))
    return found.data.decode("ascii")


def read_xlsx(data):
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    return [[cell.value for cell in row] for row in sheet.iter_rows()], sheet


# ---------------------------------------------------------------- 企业看板

def test_dashboard_counts_the_funnel_of_this_enterprise_only(client, login, firm):
    login(firm["user"])
    page = client.get("/enterprise/").get_data(as_text=True)
    assert "申报总人数" in page and "已提交审核人数" in page and "已分配人数" in page and "已完成接种人数" in page
    # 10 people of A: 3 未提交; 7 reached 已提交; 5 reached 已分配; 2 vaccinated. B's 3 are not counted.
    assert figures(page) == {"declared": 10, "submitted": 7, "allocated": 5, "vaccinated": 2, "unsubmitted": 3,
                             "returned": 1}


def test_dashboard_shows_the_enterprise_qr_code(client, login, firm):
    login(firm["user"])
    page = client.get("/enterprise/").get_data(as_text=True)
    assert "企业专属二维码" in page and 'src="/enterprise/qr/qr.png"' in page and "下载企业专属二维码" in page
    assert qr_text(client.get("/enterprise/qr/qr.png", buffered=True).data) == f"http://vaccine.example.test/e/{firm['a'].qr_token}"


def test_dashboard_figures_move_when_people_register_and_are_submitted(client, login, firm, app):
    login(firm["user"])
    before = figures(client.get("/enterprise/").get_data(as_text=True))
    app.test_client().post(f"/e/{firm['a'].qr_token}", data={
        "name": "新员工", "id_number": "440524198001010013", "phone": "13912345678", "category": "企业职工",
        "lives_in_binhai": "否", "community": "塘沽某小区", "consent": "1"})
    client.post(f"{PERSONS}/all/submit?tab=unsubmitted")
    after = figures(client.get("/enterprise/").get_data(as_text=True))
    assert after["declared"] == before["declared"] + 1
    assert after["submitted"] == before["submitted"] + 4 and after["unsubmitted"] == 0


# ---------------------------------------------------------------- 人员清单

@pytest.mark.parametrize("tab, names", [
    ("unsubmitted", {"甲未提交", "甲被退回"}),
    ("submitted", {"甲已提交", "甲初审过"}),
    ("allocated", {"甲已分配", "甲已预约", "甲未接种"}),
    ("vaccinated", {"甲已接种"}),
])
def test_each_tab_lists_its_stages_of_this_enterprise(client, login, firm, tab, names):
    login(firm["user"])
    page = client.get(f"{PERSONS}/?tab={tab}").get_data(as_text=True)
    assert set(listed_names(page)) == names


def test_lists_mask_id_numbers_and_phones_and_show_the_return_reason(client, login, firm, db):
    login(firm["user"])
    page = client.get(f"{PERSONS}/?tab=unsubmitted").get_data(as_text=True)
    number = db.session.get(Person, firm["ids"]["returned"][0]).id_number
    assert number not in page and f"{number[:6]}********{number[-4:]}" in page
    assert "13912345678" not in page and "139****5678" in page
    assert "身份证号与本人不符" in page and "退回原因" in page


def test_row_buttons_edit_and_delete_only_in_unsubmitted(client, login, firm):
    login(firm["user"])
    unsubmitted = client.get(f"{PERSONS}/?tab=unsubmitted").get_data(as_text=True)
    submitted = client.get(f"{PERSONS}/?tab=submitted").get_data(as_text=True)
    assert unsubmitted.count(">修改</a>") == 3 and "全部提交" in unsubmitted and "提交接种人员" in unsubmitted
    assert ">修改</a>" not in submitted and "全部提交" not in submitted
    assert 'data-model-action="remove"' in unsubmitted and 'data-model-action="remove"' not in submitted
    assert 'data-model-action="export_selected"' in submitted


def test_search_by_exact_or_prefix_id_number_and_by_name(client, login, firm, db, make_persons):
    [special] = make_persons(firm["a"], 1, name="王特别", id_number="11010519491231002X")
    db.session.commit()
    login(firm["user"])

    def search(term, tab="unsubmitted"):
        return listed_names(client.get(f"{PERSONS}/", query_string={"tab": tab, "search": term})
                            .get_data(as_text=True))

    assert search("11010519491231002x") == ["王特别"]
    assert search("１１０１０５１９４９") == ["王特别"]  # a prefix, typed in full-width digits
    assert search("特别") == ["王特别"]
    assert search("19491231002X") == []  # digits in the middle of the number do not match
    assert search("1101051949123100") == ["王特别"]
    assert search("乙员工") == []  # another enterprise's people are never found
    assert special


def test_search_does_not_use_like_over_the_id_column(client, login, firm, app):
    from extensions import db as _db

    statements = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    login(firm["user"])
    with app.app_context():
        engine = _db.engine
    event.listen(engine, "before_cursor_execute", remember)
    try:
        client.get(f"{PERSONS}/", query_string={"tab": "unsubmitted", "search": "120116"})
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    listing = [(s, p) for s, p in statements if "FROM person" in s and "id_number" in s.split("WHERE", 1)[-1]]
    assert listing, "the list query was not seen"
    for statement, parameters in listing:
        assert not re.search(r"CAST\(person\.id_number", statement)
        flat = parameters.values() if isinstance(parameters, dict) else parameters
        assert not any(isinstance(p, str) and p.startswith("%") for p in flat)


def test_filters_by_category_and_status(client, login, firm, make_persons, db):
    make_persons(firm["a"], 1, status="registered", name="冷链甲", category="冷链从业人员")
    db.session.commit()
    login(firm["user"])
    by_category = client.get(f"{PERSONS}/", query_string={"tab": "unsubmitted", "flt0_0": "冷链从业人员"})
    assert listed_names(by_category.get_data(as_text=True)) == ["冷链甲"]
    by_status = client.get(f"{PERSONS}/", query_string={"tab": "allocated", "flt0_1": "appointed"})
    assert listed_names(by_status.get_data(as_text=True)) == ["甲已预约"]


# ---------------------------------------------------------------- submit

def test_submit_ticked_rows_moves_only_those_and_reports_skips(client, login, firm, db):
    login(firm["user"])
    ids = firm["ids"]
    ticked = [ids["registered"][0], ids["submitted"][0], ids["other"][0]]
    page = client.post(f"{PERSONS}/action/", data={"action": "submit", "rowid": [str(i) for i in ticked]},
                       follow_redirects=True).get_data(as_text=True)
    assert "已处理 1 人，跳过 2 人" in page
    assert status_of(db, ids["registered"][0]) == "submitted"
    assert status_of(db, ids["registered"][1]) == "registered"
    assert status_of(db, ids["other"][0]) == "registered"


def test_submit_all_moves_every_unsubmitted_person_of_this_enterprise_and_clears_return_reasons(client, login,
                                                                                               firm, db):
    login(firm["user"])
    page = client.post(f"{PERSONS}/all/submit?tab=unsubmitted", follow_redirects=True).get_data(as_text=True)
    assert "已处理 3 人，跳过 0 人" in page
    ids = firm["ids"]
    assert {status_of(db, i) for i in ids["registered"] + ids["returned"]} == {"submitted"}
    assert db.session.get(Person, ids["returned"][0]).return_reason is None
    assert {status_of(db, i) for i in ids["other"]} == {"registered"}
    assert status_of(db, ids["vaccinated"][0]) == "vaccinated"


# ---------------------------------------------------------------- 操作: edit

def edit_form(person, **changes):
    data = {"version": str(person.version), "name": person.name, "id_number": person.id_number,
            "phone": person.phone, "category": person.category,
            "lives_in_binhai": "是" if person.lives_in_binhai else "否",
            "community": person.community or "某小区", "remarks": person.remarks or ""}
    data.update(changes)
    return data


def test_edit_saves_a_checked_change_and_recomputes_gender_and_age(client, login, firm, db):
    login(firm["user"])
    person = db.session.get(Person, firm["ids"]["returned"][0])
    page = client.get(f"{PERSONS}/person/{person.id}/edit").get_data(as_text=True)
    assert "身份证号与本人不符" in page and person.id_number in page  # full value where the job needs it
    changes = {"name": "甲更正", "id_number": "11010219840406970x", "phone": "+86 13800138000"}
    response = client.post(f"{PERSONS}/person/{person.id}/edit", data=edit_form(person, **changes))
    assert response.status_code == 302
    db.session.expire_all()
    person = db.session.get(Person, person.id)
    assert (person.name, person.id_number, person.phone, person.gender) == (
        "甲更正", "11010219840406970X", "13800138000", "F")
    assert person.age == age_on(id_birth_date("11010219840406970X"), today())
    assert person.version == 2 and person.status == "registered"
    audit = db.session.execute(select(AuditEvent).where(AuditEvent.action == "person_edit")).scalar_one()
    assert audit.target_id == person.id and "11010219840406970X" not in (audit.detail or "")


@pytest.mark.parametrize("changes, message", [
    ({"id_number": "11010519491230002X"}, "身份证号校验位不正确"),
    ({"phone": "1380013800"}, "请输入正确的11位手机号"),
    ({"name": ""}, "请填写姓名"),
    ({"gender": "M", "id_number": "11010219840406970X"}, "性别与身份证号不符"),
])
def test_edit_refuses_invalid_values_and_changes_nothing(client, login, firm, db, changes, message):
    login(firm["user"])
    person = db.session.get(Person, firm["ids"]["registered"][0])
    before = (person.name, person.id_number, person.phone, person.version)
    page = client.post(f"{PERSONS}/person/{person.id}/edit", data=edit_form(person, **changes)).get_data(as_text=True)
    assert message in page
    db.session.expire_all()
    person = db.session.get(Person, person.id)
    assert (person.name, person.id_number, person.phone, person.version) == before


def test_edit_refuses_an_id_number_registered_elsewhere(client, login, firm, db):
    login(firm["user"])
    theirs = db.session.get(Person, firm["ids"]["other"][0])
    mine = db.session.get(Person, firm["ids"]["registered"][0])
    page = client.post(f"{PERSONS}/person/{mine.id}/edit",
                       data=edit_form(mine, id_number=theirs.id_number)).get_data(as_text=True)
    assert DUPLICATE_ID_MESSAGE in page and "乙化工" not in page
    db.session.expire_all()
    assert db.session.get(Person, mine.id).id_number != theirs.id_number


def test_edit_with_a_stale_version_is_refused_not_silently_overwritten(client, login, firm, db):
    login(firm["user"])
    person = db.session.get(Person, firm["ids"]["registered"][0])
    stale = edit_form(person, name="我的修改")
    client.post(f"{PERSONS}/person/{person.id}/edit", data=edit_form(person, name="同事的修改"))
    page = client.post(f"{PERSONS}/person/{person.id}/edit", data=stale).get_data(as_text=True)
    assert "已被他人修改" in page and "同事的修改" in page
    db.session.expire_all()
    assert db.session.get(Person, person.id).name == "同事的修改"


def test_a_submitted_person_cannot_be_edited(client, login, firm, db):
    login(firm["user"])
    person = db.session.get(Person, firm["ids"]["submitted"][0])
    response = client.post(f"{PERSONS}/person/{person.id}/edit", data=edit_form(person, name="改不了"),
                           follow_redirects=True)
    assert "该人员已提交，不能修改" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Person, person.id).name == "甲已提交"


def test_submit_between_loading_and_saving_an_edit_wins(client, login, firm, db):
    login(firm["user"])
    person = db.session.get(Person, firm["ids"]["registered"][0])
    form = edit_form(person, name="迟到的修改")
    client.post(f"{PERSONS}/action/", data={"action": "submit", "rowid": [str(person.id)]})
    client.post(f"{PERSONS}/person/{person.id}/edit", data=form)
    db.session.expire_all()
    person = db.session.get(Person, person.id)
    assert (person.status, person.name) == ("submitted", "甲未提交")


# ---------------------------------------------------------------- delete

def test_delete_removes_only_own_unsubmitted_people_and_their_history(client, login, firm, db):
    ids = firm["ids"]
    db.session.execute(insert(AuditEvent), [{"id": 9001, "action": "dept_return", "requested": 1, "changed": 1}])
    db.session.execute(insert(PersonEvent), [{"event_id": 9001, "person_id": ids["returned"][0],
                                              "from_status": "submitted", "to_status": "registered"}])
    db.session.commit()
    login(firm["user"])
    ticked = [ids["returned"][0], ids["submitted"][0], ids["other"][0]]
    page = client.post(f"{PERSONS}/action/", data={"action": "remove", "rowid": [str(i) for i in ticked]},
                       follow_redirects=True).get_data(as_text=True)
    assert "已删除 1 人，跳过 2 人" in page
    assert status_of(db, ids["returned"][0]) is None
    assert status_of(db, ids["submitted"][0]) == "submitted" and status_of(db, ids["other"][0]) == "registered"
    assert db.session.execute(select(func.count(PersonEvent.id))).scalar_one() == 0
    audit = db.session.execute(select(AuditEvent).where(AuditEvent.action == "person_delete")).scalar_one()
    assert (audit.requested, audit.changed) == (3, 1)


# ---------------------------------------------------------------- another enterprise's people by id

def test_another_enterprises_person_is_unreachable_by_id_in_every_url(client, login, firm, db):
    login(firm["user"])
    theirs = db.session.get(Person, firm["ids"]["other"][0])
    assert client.get(f"{PERSONS}/person/{theirs.id}/edit").status_code == 404
    assert client.post(f"{PERSONS}/person/{theirs.id}/edit", data=edit_form(theirs, name="越权")).status_code == 404
    for action in ("submit", "remove"):
        client.post(f"{PERSONS}/action/", data={"action": action, "rowid": [str(theirs.id)]})
    exported = client.post(f"{PERSONS}/action/", data={"action": "export_selected", "rowid": [str(theirs.id)]},
                           buffered=True)
    rows, _ = read_xlsx(exported.data)
    assert len(rows) == 1  # the header only
    db.session.expire_all()
    theirs = db.session.get(Person, theirs.id)
    assert (theirs.name, theirs.status) == ("乙员工", "registered")
    everything, _ = read_xlsx(client.get(f"{PERSONS}/export?all=1", buffered=True).data)
    assert all("乙员工" not in row for row in everything)


def test_console_is_closed_to_other_roles_and_anonymous(client, login, firm, make_user):
    assert client.get(f"{PERSONS}/").status_code == 302
    assert client.get("/enterprise/qr/qr.png").status_code == 302
    login(make_user("center"))
    assert client.get(f"{PERSONS}/export?all=1").status_code == 403
    assert client.get("/enterprise/import/").status_code == 403


# ---------------------------------------------------------------- export

def test_export_of_the_tab_reads_back_with_text_ids_and_neutralised_formulas(client, login, firm, make_persons, db):
    make_persons(firm["a"], 1, name="=HYPERLINK(\"http://evil\",\"点我\")", remarks="+1-2", community="@SUM(A1)")
    db.session.commit()
    login(firm["user"])
    response = client.get(f"{PERSONS}/export?tab=unsubmitted", buffered=True)
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    disposition = response.headers["Content-Disposition"]
    expected = f"甲港航物流有限公司-人员清单-未提交-{today():%Y%m%d}.xlsx"
    from urllib.parse import quote

    assert f"filename*=UTF-8''{quote(expected)}" in disposition
    rows, sheet = read_xlsx(response.data)
    header, body = rows[0], rows[1:]
    assert header[:5] == ["姓名", "性别", "身份证号", "年龄", "手机号"]
    assert len(body) == 4
    numbers = {db.session.get(Person, i).id_number for i in firm["ids"]["registered"] + firm["ids"]["returned"]}
    assert numbers <= {row[2] for row in body}
    assert all(isinstance(row[2], str) and len(row[2]) == 18 for row in body)
    assert all(isinstance(row[4], str) for row in body)
    evil = next(row for row in body if "HYPERLINK" in row[0])
    assert evil[0].startswith("'=") and evil[8] == "'+1-2" and evil[7] == "'@SUM(A1)"
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    assert db.session.execute(select(AuditEvent.changed).where(AuditEvent.action == "person_export")).scalar_one() == 4


def test_export_of_ticked_rows_and_of_everyone(client, login, firm, db):
    login(firm["user"])
    ids = firm["ids"]
    ticked = client.post(f"{PERSONS}/action/", data={"action": "export_selected",
                                                      "rowid": [str(ids["vaccinated"][0]), str(ids["submitted"][0])]},
                          buffered=True)
    rows, _ = read_xlsx(ticked.data)
    assert sorted(row[0] for row in rows[1:]) == ["甲已接种", "甲已提交"]
    everyone, _ = read_xlsx(client.get(f"{PERSONS}/export?all=1", buffered=True).data)
    assert len(everyone) == 1 + 10
    statuses = {row[9] for row in everyone[1:]}
    assert {"未提交", "已接种", "未接种"} <= statuses


def test_export_follows_the_search_of_the_list(client, login, firm):
    login(firm["user"])
    rows, _ = read_xlsx(client.get(f"{PERSONS}/export", query_string={"tab": "unsubmitted", "search": "退回"},
                                  buffered=True).data)
    assert [row[0] for row in rows[1:]] == ["甲被退回"]


# ---------------------------------------------------------------- 企业专属二维码

def test_qr_code_download_poster_and_reset(client, login, firm, db):
    login(firm["user"])
    old = firm["a"].qr_token
    download = client.get("/enterprise/qr/qr.png?download=1", buffered=True)
    assert "filename*=UTF-8''" in download.headers["Content-Disposition"]
    assert qr_text(download.data) == f"http://vaccine.example.test/e/{old}"
    poster = client.get("/enterprise/qr/poster").get_data(as_text=True)
    assert "甲港航物流有限公司" in poster and "/enterprise/qr/qr.png" in poster
    page = client.get("/enterprise/qr/").get_data(as_text=True)
    assert "重置二维码" in page and "data-confirm" in page

    assert client.get("/enterprise/qr/rotate").status_code == 405
    client.post("/enterprise/qr/rotate")
    db.session.expire_all()
    new = db.session.get(type(firm["a"]), firm["a"].id).qr_token
    assert new != old
    assert client.get(f"/e/{old}").status_code == 404 and client.get(f"/e/{new}").status_code == 200
    assert qr_text(client.get("/enterprise/qr/qr.png", buffered=True).data).endswith(f"/e/{new}")


# ---------------------------------------------------------------- 批量导入

IMPORT_HEADER = ["姓名*", "性别", "身份证号*", "年龄", "手机号*", "人员类别*", "是否住在滨海新区*", "现居住小区*",
                 "备注"]


def sheet_bytes(rows, header=IMPORT_HEADER):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def upload(client, data, filename="员工.xlsx"):
    return client.post("/enterprise/import/upload", data={"file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data", follow_redirects=True)


def test_the_import_template_has_the_columns_text_ids_and_category_choices(client, login, firm):
    login(firm["user"])
    response = client.get("/enterprise/import/template.xlsx", buffered=True)
    workbook = load_workbook(io.BytesIO(response.data))
    sheet = workbook["人员信息"]
    assert [c.value for c in sheet[1]] == IMPORT_HEADER
    assert sheet["C2"].number_format == "@" and sheet["E2"].number_format == "@"
    assert "填写说明" in workbook.sheetnames
    lists = [v.formula1 for v in sheet.data_validations.dataValidation]
    assert any("选项" in formula for formula in lists)
    assert "企业职工" in [c.value for c in workbook["选项"]["F"]]


def test_import_inserts_good_rows_and_returns_the_bad_ones_with_reasons(client, login, firm, db):
    login(firm["user"])
    taken = db.session.get(Person, firm["ids"]["other"][0]).id_number
    good = [make_id_number() for _ in range(3)]
    rows = [
        ["赵一", "", good[0], "", "13911110001", "企业职工", "是", "新河小区", ""],
        ["钱二", None, good[1], None, 13911110002, "医务人员", "否", "塘沽小区", "夜班"],
        ["孙三", "男", good[2].lower(), age_on(id_birth_date(good[2]), today()), "13911110003", "其他", "是", "小区",
         ""],
        ["李四", "", "11010519491230002X", "", "13911110004", "企业职工", "是", "小区", ""],
        ["周五", "", good[0], "", "13911110005", "企业职工", "是", "小区", ""],
        ["吴六", "", taken, "", "13911110006", "企业职工", "是", "小区", ""],
        ["郑七", "女", "440524198001010013", "", "13911110007", "企业职工", "是", "小区", ""],
        ["王八", "", 110105194912310023, "", "13911110008", "企业职工", "是", "小区", ""],
        ["冯九", "", make_id_number(), "", "13911110009", "不存在的类别", "是", "小区", ""],
        ["陈十", "", make_id_number(), "", "13911110010", "企业职工", "是", "", ""],
    ]
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(IMPORT_HEADER)
    for row in rows:
        sheet.append(row)
    sheet["C9"].value = 1.10105194912310023e17  # what Excel stores when the ID column was left as a number
    buffer = io.BytesIO()
    workbook.save(buffer)

    page = upload(client, buffer.getvalue()).get_data(as_text=True)
    assert "共 10 行" in page and "成功导入 3 人" in page and "未导入 7 行" in page

    imported = db.session.execute(select(Person).where(Person.source == "import").order_by(Person.id)).scalars().all()
    assert [p.name for p in imported] == ["赵一", "钱二", "孙三"]
    assert {p.status for p in imported} == {"registered"} and {p.enterprise_id for p in imported} == {firm["a"].id}
    assert imported[1].phone == "13911110002" and imported[1].lives_in_binhai is False
    assert imported[2].id_number == good[2]

    link = re.search(r'href="(/enterprise/import/rejected/[^"]+\.xlsx)"', page).group(1)
    rejected, _ = read_xlsx(client.get(link, buffered=True).data)
    assert rejected[0][0] == "原行号" and rejected[0][-1] == "未导入原因"
    reasons = {row[0]: row[-1] for row in rejected[1:]}
    assert set(reasons) == {5, 6, 7, 8, 9, 10, 11}
    assert "校验位不正确" in reasons[5]
    assert "与第2行重复" in reasons[6]
    assert DUPLICATE_ID_MESSAGE in reasons[7]
    assert "性别与身份证号不符" in reasons[8]
    assert "存成了数字" in reasons[9]
    assert "人员类别不在可选范围内" in reasons[10]
    assert "请填写现居住小区" in reasons[11]
    assert all(isinstance(row[3], str) for row in rejected[1:] if row[3])
    assert db.session.get(Person, firm["ids"]["other"][0]).enterprise_id == firm["b"].id  # not overwritten


def test_import_writes_all_rows_with_one_bulk_insert(client, login, firm, app):
    from extensions import db as _db

    login(firm["user"])
    rows = [[f"员工{i}", "", make_id_number(), "", "13911110000", "企业职工", "是", "小区", ""] for i in range(120)]
    inserts = []

    def count_inserts(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO person "):
            inserts.append(statement.count("), (") + 1)  # rows in this one statement

    with app.app_context():
        engine = _db.engine
    event.listen(engine, "before_cursor_execute", count_inserts)
    try:
        page = upload(client, sheet_bytes(rows)).get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", count_inserts)
    assert "成功导入 120 人" in page
    # One multi-row statement, not a driver executemany (which may run one statement per row).
    assert inserts == [120], f"rows per INSERT statement: {inserts}"


def test_another_enterprise_cannot_download_the_rejected_rows(app, client, login, firm, make_user, db):
    login(firm["user"])
    bad_row = ["坏行", "", "123", "", "1", "企业职工", "是", "小区", ""]
    page = upload(client, sheet_bytes([bad_row])).get_data(as_text=True)
    link = re.search(r'href="(/enterprise/import/rejected/[^"]+\.xlsx)"', page).group(1)
    other = app.test_client()
    login(make_user("enterprise", firm["b"], username="b-admin"), test_client=other)
    assert other.get(link).status_code == 404
    assert client.get(link, buffered=True).status_code == 200


def test_the_rejected_rows_come_from_the_database_to_any_server_and_expire_after_a_day(
        app, client, login, firm, db, database_url, tmp_path, monkeypatch):
    from datetime import timedelta

    from app import create_app
    from models import ImportRejectFile, now

    login(firm["user"])
    bad_row = ["坏行", "", "123", "", "1", "企业职工", "是", "小区", ""]
    page = upload(client, sheet_bytes([bad_row])).get_data(as_text=True)
    link = re.search(r'href="(/enterprise/import/rejected/[^"]+\.xlsx)"', page).group(1)
    # A second app server: the same database, an instance folder of its own.
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    other_server = create_app({**{k: app.config[k] for k in ("SECRET_KEY", "WTF_CSRF_ENABLED", "RATELIMIT_ENABLED")},
                               "SQLALCHEMY_DATABASE_URI": database_url})
    assert other_server.instance_path != app.instance_path
    other_client = other_server.test_client()
    other_client.set_cookie("session", client.get_cookie("session").value)
    try:
        rows, _ = read_xlsx(other_client.get(link, buffered=True).data)
    finally:
        with other_server.app_context():
            db.engine.dispose()  # its own pool: no connection left to the garbage collector
    assert rows[1][1] == "坏行" and "身份证号" in rows[1][-1]
    # A day later the workbook (personal data) is gone; the next import clears it out.
    db.session.execute(ImportRejectFile.__table__.update().values(created_at=now() - timedelta(days=1, minutes=1)))
    db.session.commit()
    assert client.get(link).status_code == 404
    upload(client, sheet_bytes([["又一坏行", "", "123", "", "1", "企业职工", "是", "小区", ""]]))
    assert db.session.execute(select(func.count()).select_from(ImportRejectFile)).scalar_one() == 1


@pytest.mark.parametrize("data, filename, message", [
    (b"not a spreadsheet at all", "员工.xlsx", "无法读取该文件"),
    (b"PK\x03\x04broken zip", "员工.xlsx", "无法读取该文件"),
    (b"name,id\n", "员工.csv", "只支持 .xlsx 格式"),
    (b"\xd0\xcf\x11\xe0 old excel", "员工.xls", "只支持 .xlsx 格式"),
])
def test_malformed_files_get_a_clear_message(client, login, firm, data, filename, message, db):
    login(firm["user"])
    response = upload(client, data, filename)
    assert response.status_code == 200 and message in response.get_data(as_text=True)
    assert db.session.execute(select(func.count(Person.id)).where(Person.source == "import")).scalar_one() == 0


def test_a_sheet_without_the_required_columns_or_rows_is_explained(client, login, firm):
    login(firm["user"])
    missing = upload(client, sheet_bytes([["张三", "13900000000"]], header=["姓名", "电话"]))
    assert "表格缺少列：身份证号、手机号" in missing.get_data(as_text=True)
    empty = upload(client, sheet_bytes([]))
    assert "表格中没有人员数据" in empty.get_data(as_text=True)
    nothing = client.post("/enterprise/import/upload", data={}, follow_redirects=True)
    assert "请选择要上传的 Excel 文件" in nothing.get_data(as_text=True)


def test_every_tab_shows_its_count_as_review_and_center_do(client, login, firm):
    login(firm["user"])
    page = client.get(f"{PERSONS}/?tab=unsubmitted").get_data(as_text=True)
    counts = {key: int(n) for key, n in re.findall(r'data-tab-count="(\w+)">(\d+)<', page)}
    # this enterprise only (乙's three never count)
    assert counts == {"unsubmitted": 3, "submitted": 2, "allocated": 3, "due_next": 0, "vaccinated": 2}
