"""Enterprise self-registration from the portal's QR code: the form, its checks, the enterprise's own QR code."""

import io
import re

import pytest
from PIL import Image
from pyzbar.pyzbar import decode
from sqlalchemy import func, select

from bench.fake_sms_gateway import FakeGateway
from models import Enterprise, User
from models.org import TERRITORY
from models.sms import SmsCode, SmsMessage
from public_forms import registration
from services.sms import deliver_batch
from tests.conftest import sms_code_sent_to

VALID_CODE = "914403001922038216"
PASSWORD = "Binhai2026x"


def qr_text(png_bytes):
    """Decode the one QR code in a PNG back to its text."""
    found = decode(Image.open(io.BytesIO(png_bytes)))
    assert len(found) == 1
    return found[0].data.decode("ascii")


@pytest.fixture
def org(make_department, make_territory, db):
    transport = make_department("区交通运输局")
    child = make_department("区道路运输管理中心", parent=transport)
    street = make_department("新河街道", dimension=TERRITORY)
    territory = make_territory("新河街道")
    db.session.commit()
    return {"department": transport, "child": child, "street": street, "territory": territory}


@pytest.fixture
def typed(org):
    """The form as a company fills it in, before 获取验证码."""
    return {
        "name": "天津滨城海通物流有限公司", "credit_code": VALID_CODE, "department_id": str(org["child"].id),
        "address": "滨海新区新港二号路1号", "contact_name": "王海", "phone": "13902211234",
        "password": PASSWORD, "confirm": PASSWORD, "territory_id": str(org["territory"].id),
    }


def get_code(client, db, data):
    """Press 获取验证码 and read the code off the phone; return the page and the code."""
    page = client.post("/register/code", data=data)
    return page, sms_code_sent_to(db, data["phone"], kind="register")


@pytest.fixture
def form(typed, client, db):
    """The form with the code the phone received."""
    _, code = get_code(client, db, typed)
    return {**typed, "sms_code": code}


def enterprise_count(db):
    return db.session.execute(select(func.count(Enterprise.id))).scalar_one()


def messages(response):
    return re.findall(r'class="invalid-feedback[^"]*"[^>]*>([^<]+)<', response.get_data(as_text=True))


def test_form_offers_departments_grouped_by_industry_and_territory(client, org):
    page = client.get("/register").get_data(as_text=True)
    for label in ("企业名称", "社会统一信用代码", "申报部门", "详细地址", "联系人", "手机号", "密码", "二次确认密码",
                  "所属辖区", "立刻提交"):
        assert label in page
    departments = page[page.index('id="department_id"'):page.index("</select>", page.index('id="department_id"'))]
    industry, territory = departments.index('<optgroup label="行业">'), departments.index('<optgroup label="属地">')
    assert industry < departments.index("区交通运输局") < departments.index("└ 区道路运输管理中心") < territory
    assert departments.index("新河街道") > territory
    territories = page[page.index('id="territory_id"'):]
    assert f'<option value="{org["territory"].id}" >新河街道</option>' in territories
    assert 'name="viewport"' in page


def test_registration_creates_the_enterprise_its_account_and_shows_its_own_qr_code(client, form, org, db):
    response = client.post("/register", data={**form, "credit_code": " 9144 0300 1922 0382 16 "})
    assert response.status_code == 302 and response.headers["Location"] == "/register/done"

    enterprise = db.session.execute(select(Enterprise)).scalar_one()
    assert (enterprise.name, enterprise.credit_code, enterprise.department_id, enterprise.territory_id) == (
        form["name"], VALID_CODE, org["child"].id, org["territory"].id)
    assert (enterprise.address, enterprise.contact_name, enterprise.phone) == (
        form["address"], "王海", "13902211234")
    account = db.session.execute(select(User).where(User.enterprise_id == enterprise.id)).scalar_one()
    assert (account.role, account.username, account.phone) == ("enterprise", VALID_CODE, "13902211234")
    assert account.check_password(PASSWORD) and PASSWORD not in account.password_hash

    done = client.get("/register/done").get_data(as_text=True)
    token = enterprise.qr_token
    assert "企业专属二维码" in done and form["name"] in done
    assert f"/e/{token}/qr.png" in done and f"/e/{token}/qr.png?download=1" in done and f"/e/{token}/poster" in done
    png = client.get(f"/e/{token}/qr.png")
    assert png.mimetype == "image/png"
    assert qr_text(png.data) == f"http://vaccine.example.test/e/{token}"


def test_the_token_is_random_and_long(client, form, db):
    client.post("/register", data=form)
    token = db.session.execute(select(Enterprise.qr_token)).scalar_one()
    assert len(token) >= 32 and VALID_CODE not in token and not token.isdigit()


@pytest.mark.parametrize("login_name", [VALID_CODE, VALID_CODE.lower(), "13902211234"])
def test_the_new_account_logs_in_with_credit_code_or_phone(app, client, form, login_name, db):
    client.post("/register", data=form)
    fresh = app.test_client()
    response = fresh.post("/login/enterprise", data={"username": login_name, "password": PASSWORD})
    assert response.headers["Location"] == "/enterprise/"
    assert "企业看板" in fresh.get("/enterprise/").get_data(as_text=True)


def test_download_and_poster_of_the_new_qr_code(client, form, db):
    client.post("/register", data=form)
    token = db.session.execute(select(Enterprise.qr_token)).scalar_one()
    download = client.get(f"/e/{token}/qr.png?download=1")
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment") and "filename*=UTF-8''" in disposition
    assert qr_text(download.data).endswith(f"/e/{token}")
    poster = client.get(f"/e/{token}/poster").get_data(as_text=True)
    assert form["name"] in poster and f"/e/{token}/qr.png" in poster and "扫描二维码" in poster


@pytest.mark.parametrize("field, value, message", [
    ("name", "", "请填写企业名称"),
    ("credit_code", "", "请填写统一社会信用代码"),
    ("credit_code", "914403001922038217", "统一社会信用代码校验位不正确"),
    ("credit_code", "91330100799655O58B", "不允许的字符：O"),
    ("credit_code", "91110000800088421P", "统一社会信用代码校验位不正确"),
    ("credit_code", "9144030019220382", "统一社会信用代码应为18位"),
    ("department_id", "", "请选择申报部门"),
    ("department_id", "999999", "请选择申报部门"),
    ("address", "", "请填写详细地址"),
    ("contact_name", "", "请填写联系人"),
    ("phone", "", "请填写手机号"),
    ("phone", "12345678901", "请输入正确的11位手机号"),
    ("phone", "1380013800", "请输入正确的11位手机号"),
    ("password", "", "请设置密码"),
    ("password", "abc123", "密码至少8位"),
    ("password", "abcdefghij", "密码须同时包含字母和数字"),
    ("confirm", "", "请再次输入密码"),
    ("confirm", PASSWORD + "9", "两次输入的密码不一致"),
    ("territory_id", "", "请选择所属辖区"),
    ("territory_id", "abc", "请选择所属辖区"),
])
def test_each_invalid_field_gets_its_message_and_nothing_is_created(client, form, field, value, message, db):
    data = {**form, field: value}
    if field == "password" and value:
        data["confirm"] = value
    response = client.post("/register", data=data)
    assert response.status_code == 200
    assert any(message in text for text in messages(response)), messages(response)
    assert enterprise_count(db) == 0
    assert db.session.execute(select(func.count(User.id))).scalar_one() == 0


def test_the_form_keeps_what_was_typed_and_an_accepted_password_but_never_a_refused_one(client, form):
    page = client.post("/register", data={**form, "address": ""}).get_data(as_text=True)
    assert form["name"] in page and form["contact_name"] in page
    assert f'value="{form["territory_id"]}" selected' in page
    assert page.count(f'value="{PASSWORD}"') == 2, "both password fields keep an accepted password"

    refused = client.post("/register", data={**form, "confirm": PASSWORD + "9"}).get_data(as_text=True)
    assert form["name"] in refused and PASSWORD not in refused


def test_the_registration_page_is_never_cached(client, form):
    for response in (client.get("/register"), client.post("/register", data={**form, "name": ""})):
        assert response.headers["Cache-Control"] == "no-store"


def test_valid_codes_with_letters_and_full_width_or_lower_case_are_accepted(client, form, db):
    response = client.post("/register", data={**form, "credit_code": "91440300708461136t"})
    assert response.status_code == 302
    assert db.session.execute(select(Enterprise.credit_code)).scalar_one() == "91440300708461136T"


def test_a_registered_credit_code_is_refused_and_changes_nothing(client, form, make_enterprise, db):
    existing = make_enterprise("原有企业")
    existing.credit_code = VALID_CODE
    db.session.commit()
    response = client.post("/register", data={**form, "name": "冒名企业"})
    assert registration.CREDIT_CODE_TAKEN in messages(response)
    db.session.expire_all()
    assert enterprise_count(db) == 1
    assert db.session.get(Enterprise, existing.id).name == "原有企业"
    assert db.session.execute(select(func.count(User.id))).scalar_one() == 0


def test_a_taken_phone_is_told_only_to_whoever_received_the_code(client, typed, make_enterprise, make_user, db):
    make_user("enterprise", make_enterprise(), phone="13902211234")
    db.session.commit()
    without_code = client.post("/register", data=typed).get_data(as_text=True)
    wrong_code = client.post("/register", data={**typed, "sms_code": "000000"}).get_data(as_text=True)
    for page in (without_code, wrong_code):
        assert registration.PHONE_TAKEN not in page and "已绑定" not in page and "已被" not in page

    _, code = get_code(client, db, typed)
    response = client.post("/register", data={**typed, "sms_code": code})
    assert registration.PHONE_TAKEN in messages(response)
    assert enterprise_count(db) == 1


def test_get_code_texts_the_typed_phone_and_keeps_the_form(client, typed, db):
    page, code = get_code(client, db, typed)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and code is not None
    assert "验证码已发送至139****1234，5分钟内有效" in text
    assert typed["name"] in text and typed["address"] in text and text.count(f'value="{PASSWORD}"') == 2
    assert code not in text
    again = client.post("/register/code", data=typed).get_data(as_text=True)
    assert "获取验证码过于频繁，请1分钟后再试" in again


@pytest.mark.parametrize("phone, message", [("", "请填写手机号"), ("12345678901", "请输入正确的11位手机号")])
def test_get_code_for_a_wrong_phone_sends_nothing(client, typed, db, phone, message):
    response = client.post("/register/code", data={**typed, "phone": phone})
    assert any(message in text for text in messages(response)), messages(response)
    assert db.session.execute(select(func.count(SmsMessage.id))).scalar_one() == 0


def test_a_wrong_code_counts_a_try_and_registers_nothing(client, form, db):
    wrong = "000000" if form["sms_code"] != "000000" else "111111"
    response = client.post("/register", data={**form, "sms_code": wrong})
    assert "验证码错误，还可尝试4次" in messages(response)
    assert enterprise_count(db) == 0
    assert db.session.execute(select(SmsCode.attempts).where(SmsCode.purpose == "register")).scalar_one() == 1
    assert client.post("/register", data=form).status_code == 302


def test_without_a_code_nothing_registers(client, typed, db):
    assert "请输入短信验证码" in " ".join(messages(client.post("/register", data=typed)))
    fresh_browser = {**typed, "sms_code": "123456"}
    assert "请先获取短信验证码" in " ".join(messages(client.post("/register", data=fresh_browser)))
    assert enterprise_count(db) == 0


def test_one_code_registers_one_enterprise(client, form, db):
    assert client.post("/register", data=form).status_code == 302
    other = {**form, "credit_code": "91440300708461136T", "name": "另一家企业"}
    assert "请先获取短信验证码" in " ".join(messages(client.post("/register", data=other)))
    assert enterprise_count(db) == 1


def test_a_code_sent_to_one_phone_does_not_prove_another(client, form, db):
    response = client.post("/register", data={**form, "phone": "13902219999"})
    assert any("验证码" in m for m in messages(response)), messages(response)
    assert enterprise_count(db) == 0


def test_a_simultaneous_registration_of_the_same_code_meets_the_unique_constraint(client, form, make_enterprise,
                                                                                 db, monkeypatch):
    existing = make_enterprise("先注册的企业")
    existing.credit_code = VALID_CODE
    db.session.commit()
    # The other request registered between our check and our insert: only the constraint can tell.
    monkeypatch.setattr(registration, "_credit_code_taken", lambda code: False)
    response = client.post("/register", data=form)
    assert response.status_code == 200
    assert registration.CREDIT_CODE_TAKEN in messages(response)
    assert enterprise_count(db) == 1


def test_done_page_without_a_registration_goes_back_to_the_form(client):
    response = client.get("/register/done")
    assert response.status_code == 302 and response.headers["Location"] == "/register"


def test_portal_qr_code_opens_the_registration_form(client):
    assert qr_text(client.get("/register-qr.png").data) == "http://vaccine.example.test/register"
    assert 'href="http://vaccine.example.test/register"' in client.get("/").get_data(as_text=True)


def test_without_a_public_base_url_the_qr_code_uses_the_request_host(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", None)
    png = client.get("/register-qr.png", base_url="http://10.1.2.3:8080").data
    assert qr_text(png) == "http://10.1.2.3:8080/register"


def test_a_common_or_own_phone_password_is_refused_and_nothing_registered(client, form, db):
    for guessable in ("Password1", "a13902211234"):
        response = client.post("/register", data={**form, "password": guessable, "confirm": guessable})
        assert any("太容易被猜到" in m for m in messages(response)), messages(response)
    assert enterprise_count(db) == 0


def test_through_a_real_gateway_the_phone_gets_the_code_and_the_record_shows_it_masked(client, typed, db, app,
                                                                                     monkeypatch):
    with FakeGateway() as gateway:
        for key, value in (("SMS_BACKEND", "http"), ("SMS_GATEWAY_URL", gateway.url), ("SMS_GATEWAY_TOKEN", "gw"),
                           ("SMS_FALLBACK_GATEWAY_URL", None), ("SMS_GATEWAY_TIMEOUT", 2)):
            monkeypatch.setitem(app.config, key, value)
        client.post("/register/code", data=typed)
        stored = db.session.execute(select(SmsMessage).where(SmsMessage.kind == "register")).scalar_one()
        assert "******" in stored.body and not re.search(r"验证码\d{6}", stored.body)
        deliver_batch()
    received = next(iter(gateway.accepted.values()))[2]
    code = re.search(r"验证码(\d{6})", received).group(1)  # the phone reads digits, not asterisks
    page = client.post("/register", data={**typed, "sms_code": code})
    assert page.status_code == 302 and enterprise_count(db) == 1
