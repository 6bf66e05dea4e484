"""The employee mobile form an enterprise's QR code opens: checks, duplicates, consent, tokens, CSRF, rate limit."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from admin_views import labels
from app import create_app
from models import Enterprise, OptionItem, Person, now, today
from models import persons as person_records
from models.identity import age_on, id_birth_date
from models.options import PERSON_CATEGORY
from tests.conftest import sms_code_sent_to

# Test vectors of /work/shared/guides/card-reader.md
VALID_IDS = {"11010519491231002X": "F", "440524198001010013": "M", "11010219840406970X": "F"}
INVALID_IDS = {
    "11010519491230002X": "身份证号校验位不正确",
    "110105194902300025": "身份证号中的出生日期不存在",
    "990105194912310023": "身份证号的地区码不正确",
    "120199198503041236": "身份证号的地区码不正确：前6位不是任何年份的行政区划代码",
    "11010519491231002": "身份证号应为18位",
    "1101051949123100XX": "身份证号应为18位",
}


@pytest.fixture
def enterprise(make_enterprise, db):
    row = make_enterprise("天津港轮驳有限公司")
    db.session.commit()
    return row


def answer(**overrides):
    data = {"name": "李娜", "id_number": "11010519491231002X", "phone": "13912345678", "category": "企业职工",
            "lives_in_binhai": "是", "community": "新河街道·华润橡树湾", "remarks": "", "consent": "1"}
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def persons(db):
    return db.session.execute(select(Person).order_by(Person.id)).scalars().all()


def messages(response):
    return re.findall(r'class="invalid-feedback[^"]*"[^>]*>([^<]+)<', response.get_data(as_text=True))


def test_the_form_shows_the_enterprise_and_every_field(client, enterprise):
    page = client.get(f"/e/{enterprise.qr_token}").get_data(as_text=True)
    assert "天津港轮驳有限公司" in page
    for label in ("姓名", "性别", "身份证号", "年龄", "手机号", "人员类别", "是否住在滨海新区", "现居住小区", "备注",
                  "已阅读并同意", "相关隐私条款", "立刻提交"):
        assert label in page
    assert 'href="/privacy"' in page and 'name="viewport"' in page


def test_categories_are_the_admin_edited_list(client, enterprise, db):
    db.session.add(OptionItem(kind=PERSON_CATEGORY, label="港口装卸人员", sort_order=99))
    db.session.execute(OptionItem.__table__.update().where(OptionItem.label == "冷链从业人员").values(active=False))
    db.session.commit()
    page = client.get(f"/e/{enterprise.qr_token}").get_data(as_text=True)
    assert ">港口装卸人员</option>" in page and "冷链从业人员" not in page
    refused = client.post(f"/e/{enterprise.qr_token}", data=answer(category="冷链从业人员"))
    assert any("人员类别不在可选范围内" in m for m in messages(refused)) and persons(db) == []
    client.post(f"/e/{enterprise.qr_token}", data=answer(category="港口装卸人员"))
    assert persons(db)[0].category == "港口装卸人员"


def test_an_unlisted_category_is_named_beside_the_other_mistakes(client, enterprise, db):
    refused = client.post(f"/e/{enterprise.qr_token}", data=answer(category="外星人", name=""))
    found = messages(refused)
    assert "请填写姓名" in found and any("人员类别不在可选范围内" in m for m in found)
    assert persons(db) == []


def test_the_insert_itself_refuses_a_category_that_left_the_list_after_the_check(client, enterprise, db,
                                                                                 monkeypatch):
    # The Python checks never see the list on a submission: the INSERT ... SELECT decides, so a
    # category switched off a moment ago is refused even though the page still offered it.
    db.session.execute(OptionItem.__table__.update().where(OptionItem.label == "企业职工").values(active=False))
    db.session.commit()
    refused = client.post(f"/e/{enterprise.qr_token}", data=answer())
    assert refused.status_code == 200 and persons(db) == []
    assert any("人员类别不在可选范围内" in m for m in messages(refused))


def test_a_stored_submission_costs_one_statement_and_a_commit(client, enterprise, db, app):
    from sqlalchemy import event
    token, statements = enterprise.qr_token, []
    listener = lambda *args: statements.append(args[2])  # noqa: E731 - (conn, cursor, statement, ...)
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        response = client.post(f"/e/{token}", data=answer())
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert response.status_code == 302 and len(persons(db)) == 1
    assert [s.split()[0] for s in statements] == ["INSERT"], statements


@pytest.mark.parametrize("number, gender", VALID_IDS.items())
def test_a_valid_id_number_registers_the_person_with_gender_and_age_from_it(client, enterprise, number, gender,
                                                                           db, app):
    response = client.post(f"/e/{enterprise.qr_token}", data=answer(id_number=number))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/e/{enterprise.qr_token}/done"
    [person] = persons(db)
    assert (person.id_number, person.gender, person.age) == (number, gender, age_on(id_birth_date(number), today()))
    assert (person.enterprise_id, person.status, person.source) == (enterprise.id, "registered", "qr")
    assert person.policy_version == app.config["PRIVACY_POLICY_VERSION"]
    assert now() - timedelta(minutes=1) <= person.consent_at <= now()
    assert (person.lives_in_binhai, person.community) == (True, "新河街道·华润橡树湾")


@pytest.mark.parametrize("typed", [
    "11010519491231002x", "１１０１０５１９４９１２３１００２Ｘ", " 110105 19491231 002x ",
])
def test_full_width_digits_spaces_and_lower_case_x_are_normalised(client, enterprise, typed, db):
    assert client.post(f"/e/{enterprise.qr_token}", data=answer(id_number=typed)).status_code == 302
    assert persons(db)[0].id_number == "11010519491231002X"


@pytest.mark.parametrize("number, message", INVALID_IDS.items())
def test_an_invalid_id_number_is_refused_with_a_clear_message(client, enterprise, number, message, db):
    response = client.post(f"/e/{enterprise.qr_token}", data=answer(id_number=number))
    assert response.status_code == 200
    assert any(text.startswith(message) for text in messages(response)), messages(response)
    assert persons(db) == []
    assert "李娜" in response.get_data(as_text=True)  # what was typed stays in the form


def test_a_birth_date_in_the_future_is_refused(client, enterprise, db):
    from models.identity import id_check_char

    first17 = f"120116{today() + timedelta(days=2):%Y%m%d}123"
    response = client.post(f"/e/{enterprise.qr_token}", data=answer(id_number=first17 + id_check_char(first17)))
    assert "身份证号中的出生日期晚于今天" in messages(response) and persons(db) == []


def test_gender_or_age_that_contradict_the_id_number_are_refused(client, enterprise, db):
    age = age_on(id_birth_date("11010519491231002X"), today())
    wrong_gender = client.post(f"/e/{enterprise.qr_token}", data=answer(gender="M"))
    assert "性别与身份证号不符（按身份证号应为女）" in messages(wrong_gender)
    wrong_age = client.post(f"/e/{enterprise.qr_token}", data=answer(age=str(age + 1)))
    assert f"年龄与身份证号不符（按身份证号应为{age}岁）" in messages(wrong_age)
    assert persons(db) == []
    agreeing = client.post(f"/e/{enterprise.qr_token}", data=answer(gender="F", age=str(age)))
    assert agreeing.status_code == 302 and len(persons(db)) == 1


@pytest.mark.parametrize("field, value, message", [
    ("name", "", "请填写姓名"),
    ("id_number", "", "请填写身份证号"),
    ("phone", "", "请填写手机号"),
    ("phone", "12345678901", "请输入正确的11位手机号"),
    ("category", "", "请选择人员类别"),
    ("lives_in_binhai", None, "请选择是否住在滨海新区"),
    ("community", "", "请填写现居住小区"),
    ("consent", None, "请阅读并同意隐私条款后再提交"),
    ("remarks", "很" * 201, "最多200个字"),
])
def test_each_missing_or_wrong_field_is_named(client, enterprise, field, value, message, db):
    response = client.post(f"/e/{enterprise.qr_token}", data=answer(**{field: value}))
    assert message in messages(response)
    assert persons(db) == []


def test_phone_in_international_form_is_normalised(client, enterprise, db):
    client.post(f"/e/{enterprise.qr_token}", data=answer(phone="+86 139-1234-5678"))
    assert persons(db)[0].phone == "13912345678"


def test_an_id_number_registered_anywhere_is_refused_without_saying_where(client, enterprise, make_enterprise,
                                                                        make_persons, db):
    elsewhere = make_enterprise("别的单位有限公司")
    [existing_id] = make_persons(elsewhere, 1, name="原登记人", id_number="11010519491231002X", phone="13700000000")
    db.session.commit()
    response = client.post(f"/e/{enterprise.qr_token}", data=answer(name="冒用者"))
    page = response.get_data(as_text=True)
    assert labels.DUPLICATE_ID_MESSAGE in messages(response)
    assert "别的单位" not in page and "原登记人" not in page
    [person] = persons(db)
    assert (person.id, person.name, person.enterprise_id, person.phone) == (existing_id, "原登记人", elsewhere.id,
                                                                           "13700000000")


def test_a_second_submission_of_the_same_person_says_it_is_already_submitted(client, enterprise, db):
    assert client.post(f"/e/{enterprise.qr_token}", data=answer()).status_code == 302
    again = client.post(f"/e/{enterprise.qr_token}", data=answer(id_number="11010519491231002x", name="李娜娜"))
    assert again.status_code == 302 and again.headers["Location"] == f"/e/{enterprise.qr_token}/done?already=1"
    page = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "您的信息已提交" in page and "已在 <strong>天津港轮驳有限公司</strong> 登记过，无需重复填报" in page
    assert "提交成功" not in page
    assert [p.name for p in persons(db)] == ["李娜"]


def test_the_form_pages_are_not_stored_so_back_asks_again(client, enterprise):
    # Back after a success would otherwise show a refused submission's messages again.
    for response in (client.get(f"/e/{enterprise.qr_token}"),
                     client.post(f"/e/{enterprise.qr_token}", data=answer(phone="123"))):
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"


def test_after_a_success_the_form_says_this_browser_has_submitted(client, enterprise, make_enterprise, db):
    other = make_enterprise("别的单位有限公司")
    db.session.commit()
    note = "本机已成功提交过信息，无需重复填报"
    assert note not in client.get(f"/e/{enterprise.qr_token}").get_data(as_text=True)
    client.post(f"/e/{enterprise.qr_token}", data=answer())
    assert note in client.get(f"/e/{enterprise.qr_token}").get_data(as_text=True)
    assert note not in client.get(f"/e/{other.qr_token}").get_data(as_text=True)
    # A colleague's refused try on the same phone shows only what to correct.
    refused = client.post(f"/e/{enterprise.qr_token}", data=answer(id_number="", name="王强"))
    assert "请填写身份证号" in messages(refused) and note not in refused.get_data(as_text=True)


def test_simultaneous_submissions_of_one_id_number_meet_the_unique_constraint(client, enterprise, make_enterprise,
                                                                             make_persons, db, monkeypatch):
    make_persons(make_enterprise("别的单位有限公司"), 1, name="先到者", id_number="11010519491231002X")
    db.session.commit()
    # Nothing is looked up before the insert: the constraint refuses the second one, and
    # only then is the number looked up, to tell a duplicate from another failure.
    real_check, calls = person_records.where_id_number_is_taken, []

    def counted_check(number, qr_token):
        calls.append(number)
        return real_check(number, qr_token)

    monkeypatch.setattr(person_records, "where_id_number_is_taken", counted_check)
    response = client.post(f"/e/{enterprise.qr_token}", data=answer(name="后到者"))
    assert len(calls) == 1
    assert response.status_code == 200
    assert labels.DUPLICATE_ID_MESSAGE in messages(response)
    assert [p.name for p in persons(db)] == ["先到者"]


def test_the_success_page_says_what_happens_next(client, enterprise):
    page = client.post(f"/e/{enterprise.qr_token}", data=answer(), follow_redirects=True).get_data(as_text=True)
    assert "提交成功" in page and "天津港轮驳有限公司" in page
    assert "短信" in page and "身份证" in page and "联系本单位管理员" in page


@pytest.mark.parametrize("token", ["nonsense", "x" * 65, "%00", "' OR '1'='1"])
def test_an_unknown_token_gets_a_clear_page_not_an_error(client, token, db):
    # A NUL is refused by the input gate before the token is looked up (400 输入有误).
    status, message = (400, "输入有误") if token == "%00" else (404, "二维码无效或已失效")
    response = client.get(f"/e/{token}")
    assert response.status_code == status and message in response.get_data(as_text=True)
    assert client.post(f"/e/{token}", data=answer()).status_code == status
    assert persons(db) == []


def test_a_rotated_token_stops_working_and_the_new_one_works(client, enterprise, db):
    old = enterprise.qr_token
    enterprise.rotate_qr_token()
    db.session.commit()
    assert enterprise.qr_token != old
    for path in (f"/e/{old}", f"/e/{old}/qr.png", f"/e/{old}/poster"):
        assert client.get(path).status_code == 404
    assert client.post(f"/e/{old}", data=answer()).status_code == 404 and persons(db) == []
    assert client.post(f"/e/{enterprise.qr_token}", data=answer()).status_code == 302


def test_the_privacy_terms_say_what_why_and_how_long(client, app):
    page = client.get("/privacy").get_data(as_text=True)
    assert app.config["PRIVACY_POLICY_VERSION"] in page
    for words in ("收集哪些信息", "身份证号", "为什么收集", "保存多久", "6个月", "您的权利"):
        assert words in page


# ---------------------------------------------------------------- CSRF and rate limit, on apps of their own

@pytest.fixture
def own_app(database_url):
    """Build an app with given settings on the test database; dispose of its connections afterwards."""
    built = []

    def build(**settings):
        application = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url,
                                  "SECRET_KEY": "own-app-secret", "PUBLIC_BASE_URL": "http://vaccine.example.test",
                                  **settings})
        built.append(application)
        return application

    yield build
    from extensions import db as _db

    for application in built:
        with application.app_context():
            _db.engine.dispose()


def test_public_forms_refuse_a_post_without_csrf_token(own_app, enterprise, org_for_registration, db):
    guarded = own_app(WTF_CSRF_ENABLED=True, RATELIMIT_ENABLED=False)
    client = guarded.test_client()
    for path, data in ((f"/e/{enterprise.qr_token}", answer()), ("/register", org_for_registration)):
        refused = client.post(path, data=data)
        assert refused.status_code == 400 and "页面已过期" in refused.get_data(as_text=True)
    assert persons(db) == []
    assert db.session.execute(select(func.count(Enterprise.id))).scalar_one() == 1

    for path, data in ((f"/e/{enterprise.qr_token}", answer()), ("/register", org_for_registration)):
        page = client.get(path).get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        if path == "/register":
            assert client.post("/register/code", data=data).status_code == 400, "获取验证码 needs the token too"
            assert client.post("/register/code", data={**data, "csrf_token": token}).status_code == 200
            data = {**data, "sms_code": sms_code_sent_to(db, data["phone"], kind="register")}
        assert client.post(path, data={**data, "csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert len(persons(db)) == 1
    assert db.session.execute(select(func.count(Enterprise.id))).scalar_one() == 2


@pytest.fixture
def org_for_registration(make_department, make_territory, db):
    department, territory = make_department("区商务局"), make_territory("塘沽街道")
    db.session.commit()
    return {"name": "天津鑫源贸易有限公司", "credit_code": "91330100799655058B", "department_id": department.id,
            "address": "滨海新区", "contact_name": "赵敏", "phone": "13820000001", "password": "Binhai2026x",
            "confirm": "Binhai2026x", "territory_id": territory.id}


def test_the_employee_form_is_rate_limited(own_app, enterprise, db):
    limited = own_app(WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://",
                      EMPLOYEE_FORM_RATE_LIMIT="3 per minute")
    client = limited.test_client()
    numbers = list(VALID_IDS)
    statuses = [client.post(f"/e/{enterprise.qr_token}", data=answer(id_number=n)).status_code for n in numbers]
    refused = client.post(f"/e/{enterprise.qr_token}", data=answer(id_number="11010519491231002X"))
    assert statuses == [302, 302, 302]
    assert refused.status_code == 429 and "操作过于频繁" in refused.get_data(as_text=True)
    assert client.get(f"/e/{enterprise.qr_token}").status_code == 200  # reading the form is not limited
    assert len(persons(db)) == 3


def test_a_deactivated_enterprise_takes_no_submission_and_says_why(client, enterprise, make_user, db):
    account = make_user("enterprise", enterprise)
    db.session.commit()
    assert client.get(f"/e/{enterprise.qr_token}").status_code == 200
    account.active = False
    db.session.commit()
    page = client.get(f"/e/{enterprise.qr_token}")
    assert page.status_code == 403 and "账号已停用" in page.get_data(as_text=True)
    refused = client.post(f"/e/{enterprise.qr_token}", data=answer())
    assert refused.status_code == 403 and "不会被保存" in refused.get_data(as_text=True)
    assert persons(db) == []
    account.active = True  # reactivated: the same code takes submissions again
    db.session.commit()
    assert client.post(f"/e/{enterprise.qr_token}", data=answer()).status_code == 302
    assert len(persons(db)) == 1
