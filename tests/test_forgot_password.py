"""忘记密码 by SMS code: the three steps, expiry, burnt codes, rate limits, unknown phones."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app import create_app
from extensions import db as _db
from models import SmsCode, SmsMessage, User, now
from tests.conftest import TEST_PASSWORD

PHONE = "13812345678"
NEW_PASSWORD = "Reset2026abc"


@pytest.fixture
def reviewer(make_department, make_user, db):
    user = make_user("review", make_department("港航局"), username="harbour", phone=PHONE)
    db.session.commit()
    return user


def ask_code(client, phone=PHONE):
    return client.post("/forgot-password", data={"phone": phone})


def sent_code(db, phone=PHONE):
    """Read the latest code from the SMS outbox, as a user reads their phone."""
    body = db.session.execute(
        select(SmsMessage.body).where(SmsMessage.phone == phone).order_by(SmsMessage.id.desc())
    ).scalars().first()
    return re.search(r"验证码(\d{6})", body).group(1)


def message_count(db, phone=PHONE):
    return db.session.execute(select(func.count(SmsMessage.id)).where(SmsMessage.phone == phone)).scalar_one()


def wrong(code):
    return f"{(int(code) + 1) % 1000000:06d}"


def test_reset_by_code_sets_the_new_password_and_unlocks(client, reviewer, db):
    db.session.execute(update(User).values(locked_until=now() + timedelta(minutes=10), must_change_password=True))
    db.session.commit()
    first = client.get("/forgot-password").get_data(as_text=True)
    assert "输入手机号" in first and "下一步" in first

    response = ask_code(client)
    assert response.headers["Location"] == "/forgot-password/code"
    code_page = client.get("/forgot-password/code").get_data(as_text=True)
    assert "输入验证码" in code_page and "138****5678" in code_page

    response = client.post("/forgot-password/code", data={"code": sent_code(db)})
    assert response.headers["Location"] == "/forgot-password/new"
    assert "设置新密码" in client.get("/forgot-password/new").get_data(as_text=True)
    response = client.post("/forgot-password/new", data={"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.headers["Location"] == "/login/review"

    user = db.session.execute(select(User).where(User.username == "harbour")).scalar_one()
    db.session.refresh(user)
    assert user.check_password(NEW_PASSWORD) and not user.check_password(TEST_PASSWORD)
    assert user.locked_until is None and not user.must_change_password
    fresh = client.application.test_client()
    assert fresh.post("/login/review", data={"username": "harbour", "password": NEW_PASSWORD}).status_code == 302


def test_the_code_is_stored_hashed_and_used_once(client, reviewer, db):
    ask_code(client)
    code = sent_code(db)
    row = db.session.execute(select(SmsCode)).scalar_one()
    assert code not in row.code_hash and len(row.code_hash) == 64
    client.post("/forgot-password/code", data={"code": code})
    client.post("/forgot-password/new", data={"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    # Going through the steps again with the same code does not work.
    other = client.application.test_client()
    with other.session_transaction() as state:
        state["password_reset"] = {"code_id": row.id}
    assert other.post("/forgot-password/code", data={"code": code}).headers["Location"] == "/forgot-password"
    assert other.get("/forgot-password/new").headers["Location"] == "/forgot-password"


def test_expired_code_is_refused(client, reviewer, db):
    ask_code(client)
    code = sent_code(db)
    db.session.execute(update(SmsCode).values(expires_at=now() - timedelta(seconds=1)))
    db.session.commit()
    page = client.post("/forgot-password/code", data={"code": code}).get_data(as_text=True)
    assert "验证码已过期" in page
    assert client.get("/forgot-password/new").headers["Location"] == "/forgot-password"


def test_five_wrong_codes_burn_it(client, reviewer, db):
    ask_code(client)
    code = sent_code(db)
    for left in (4, 3, 2, 1):
        page = client.post("/forgot-password/code", data={"code": wrong(code)}).get_data(as_text=True)
        assert f"验证码错误，还可尝试{left}次" in page
    page = client.post("/forgot-password/code", data={"code": wrong(code)}).get_data(as_text=True)
    assert "验证码错误次数过多" in page
    page = client.post("/forgot-password/code", data={"code": code}).get_data(as_text=True)
    assert "验证码已失效" in page
    assert client.get("/forgot-password/new").headers["Location"] == "/forgot-password"


def test_fifth_try_may_still_be_the_right_one(client, reviewer, db):
    ask_code(client)
    code = sent_code(db)
    for _ in range(4):
        client.post("/forgot-password/code", data={"code": wrong(code)})
    assert client.post("/forgot-password/code", data={"code": code}).headers["Location"] == "/forgot-password/new"


def test_one_code_per_minute_then_a_new_one_replaces_the_old(client, reviewer, db):
    ask_code(client)
    first = sent_code(db)
    again = ask_code(client)
    assert again.status_code == 200 and "请1分钟后再试" in again.get_data(as_text=True)
    assert message_count(db) == 1
    # A value, not SQL arithmetic: SQLite stores datetimes as text and would write a number.
    db.session.execute(update(SmsCode).values(created_at=now() - timedelta(seconds=61)))
    db.session.commit()
    assert client.post("/forgot-password/resend").headers["Location"] == "/forgot-password/code"
    second = sent_code(db)
    assert message_count(db) == 2
    if first != second:
        page = client.post("/forgot-password/code", data={"code": first}).get_data(as_text=True)
        assert "验证码错误" in page
    assert client.post("/forgot-password/code", data={"code": second}).headers["Location"] == "/forgot-password/new"


def test_daily_cap_stops_codes_for_the_day(client, reviewer, db):
    start_of_day = now().replace(hour=0, minute=0, second=0)
    for minute in range(10):
        at = start_of_day + timedelta(minutes=minute)
        db.session.add(SmsCode(phone=PHONE, code_hash="x" * 64, created_at=at, expires_at=at, used_at=at))
    db.session.commit()
    page = ask_code(client).get_data(as_text=True)
    assert "今日获取验证码次数已达上限" in page
    assert message_count(db) == 0


def test_unknown_phone_gets_the_same_answer_and_no_sms(client, reviewer, app, db):
    stranger = app.test_client()
    known, unknown = ask_code(client), ask_code(stranger, "13900000000")
    assert known.status_code == unknown.status_code == 302
    assert known.headers["Location"] == unknown.headers["Location"]
    known_page = client.get("/forgot-password/code").get_data(as_text=True)
    unknown_page = stranger.get("/forgot-password/code").get_data(as_text=True)
    assert known_page.replace("138****5678", "") == unknown_page.replace("139****0000", "")
    assert message_count(db, "13900000000") == 0
    # The same limits hold, so a second try does not tell them apart either.
    assert "请1分钟后再试" in ask_code(stranger, "13900000000").get_data(as_text=True)
    page = stranger.post("/forgot-password/code", data={"code": "123456"}).get_data(as_text=True)
    assert "验证码错误，还可尝试4次" in page


def test_bad_phone_is_refused_before_anything_is_sent(client, reviewer, db):
    page = ask_code(client, "12345").get_data(as_text=True)
    assert "请输入正确的11位手机号" in page
    assert db.session.execute(select(func.count(SmsCode.id))).scalar_one() == 0


def test_steps_cannot_be_skipped(client, reviewer):
    assert client.get("/forgot-password/code").headers["Location"] == "/forgot-password"
    assert client.get("/forgot-password/new").headers["Location"] == "/forgot-password"
    response = client.post("/forgot-password/new", data={"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.headers["Location"] == "/forgot-password"


def test_verified_state_times_out(client, reviewer, db):
    ask_code(client)
    client.post("/forgot-password/code", data={"code": sent_code(db)})
    db.session.execute(update(SmsCode).values(verified_at=now() - timedelta(minutes=11)))
    db.session.commit()
    assert client.get("/forgot-password/new").headers["Location"] == "/forgot-password"


def test_weak_new_password_is_refused(client, reviewer, db):
    ask_code(client)
    client.post("/forgot-password/code", data={"code": sent_code(db)})
    page = client.post("/forgot-password/new", data={"new_password": "abcdefgh", "confirm": "abcdefgh"})
    assert "密码须同时包含字母和数字" in page.get_data(as_text=True)


def test_phone_with_two_accounts_chooses_which_to_reset(client, reviewer, make_user, make_station, db):
    other = make_user("station", make_station(), username="desk1", phone=PHONE)
    db.session.commit()
    ask_code(client)
    client.post("/forgot-password/code", data={"code": sent_code(db)})
    page = client.get("/forgot-password/new").get_data(as_text=True)
    assert "harbour（审核部门端）" in page and "desk1（接种站端）" in page
    response = client.post("/forgot-password/new", data={"account": other.id, "new_password": NEW_PASSWORD,
                                                          "confirm": NEW_PASSWORD})
    assert response.headers["Location"] == "/login/station"
    db.session.expire_all()
    assert db.session.get(User, other.id).check_password(NEW_PASSWORD)
    assert db.session.get(User, reviewer.id).check_password(TEST_PASSWORD)


def test_requests_per_address_are_throttled(database_url, db):
    throttled = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "WTF_CSRF_ENABLED": False,
                            "RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://",
                            "SECRET_KEY": "test-secret-key"})
    client = throttled.test_client()
    try:
        statuses = [client.post("/forgot-password", data={"phone": f"1370000000{i}"}).status_code for i in range(6)]
    finally:
        with throttled.app_context():
            _db.engine.dispose()
    assert statuses[:5] == [302] * 5 and statuses[5] == 429


def test_reset_refuses_a_common_password_and_keeps_the_code_usable(client, reviewer, db):
    ask_code(client)
    client.post("/forgot-password/code", data={"code": sent_code(db)})
    page = client.post("/forgot-password/new", data={"new_password": "Password1", "confirm": "Password1"})
    assert "太容易被猜到" in page.get_data(as_text=True)
    done = client.post("/forgot-password/new", data={"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.headers["Location"] == "/login/review"
    db.session.refresh(reviewer)
    assert reviewer.check_password(NEW_PASSWORD)


def test_the_page_tells_accounts_without_a_phone_whom_to_ask(client):
    assert "账号未绑定手机号的，请联系系统管理员重置密码" in client.get("/forgot-password").get_data(as_text=True)
