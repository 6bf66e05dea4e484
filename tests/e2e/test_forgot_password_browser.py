"""忘记密码 in a real browser: 输入手机号 → 输入验证码 (read from the SMS outbox) → 设置新密码 → 登录."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from models import SmsMessage, User, now
from tests.conftest import TEST_PASSWORD

PHONE_NUMBER = "13902207777"
NEW_PASSWORD = "Xinhe2026reset"


@pytest.fixture
def locked_station_account(db, make_station, make_user):
    """A desk account that locked itself out, with a phone on file."""
    station = make_station("新河街社区卫生服务中心接种点")
    make_user("station", station, username="xinhe-reset", phone=PHONE_NUMBER,
              locked_until=now() + timedelta(minutes=15))
    db.session.commit()


def texted_code(db):
    db.session.rollback()
    [body] = db.session.execute(
        select(SmsMessage.body).where(SmsMessage.phone == PHONE_NUMBER, SmsMessage.kind == "reset_code")
    ).scalars().all()
    return re.search(r"验证码(\d{6})", body).group(1)


def test_reset_by_sms_code_then_log_in_with_the_new_password(page, base_url, locked_station_account, db,
                                                              screenshot):
    page.set_default_timeout(10000)
    page.goto(f"{base_url}/login/station")
    page.get_by_role("link", name="忘记密码").click()
    expect(page.get_by_role("heading", name="找回密码")).to_be_visible()
    expect(page.locator("[aria-current=step]")).to_have_text("输入手机号")

    page.get_by_label("手机号").fill("1390220")
    page.get_by_role("button", name="下一步").click()
    expect(page.get_by_role("alert")).to_have_text("请输入正确的11位手机号")
    page.get_by_label("手机号").fill("139 0220 7777")
    page.get_by_role("button", name="下一步").click()
    expect(page.locator("[aria-current=step]")).to_have_text("输入验证码")
    expect(page.get_by_text("若手机号 139****7777 已绑定账号，验证码短信已发送")).to_be_visible()
    page.wait_for_load_state()
    screenshot(page, "forgot-password-code")

    code = texted_code(db)
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    page.get_by_label("验证码").fill(wrong)
    page.get_by_role("button", name="下一步").click()
    expect(page.get_by_role("alert")).to_have_text("验证码错误，还可尝试4次")
    page.get_by_label("验证码").fill(code)
    page.get_by_role("button", name="下一步").click()

    expect(page.locator("[aria-current=step]")).to_have_text("设置新密码")
    expect(page.get_by_text("账号：xinhe-reset（接种站端）")).to_be_visible()
    page.get_by_label("新密码", exact=True).fill("short1")
    page.get_by_label("确认新密码").fill("short1")
    page.get_by_role("button", name="确认修改").click()
    expect(page.get_by_role("alert")).to_have_text("密码至少8位")
    page.get_by_label("新密码", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("确认新密码").fill(NEW_PASSWORD + "x")
    page.get_by_role("button", name="确认修改").click()
    expect(page.get_by_role("alert")).to_have_text("两次输入的密码不一致")
    page.get_by_label("新密码", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("确认新密码").fill(NEW_PASSWORD)
    page.get_by_role("button", name="确认修改").click()

    expect(page).to_have_url(f"{base_url}/login/station")
    expect(page.get_by_text("密码已重置，请使用新密码登录")).to_be_visible()
    page.wait_for_load_state()
    page.get_by_label("账号").fill("xinhe-reset")
    page.get_by_label("密码").fill(TEST_PASSWORD)  # the old password is gone
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_have_text("账号或密码错误")
    page.wait_for_load_state()
    page.get_by_label("密码").fill(NEW_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name=re.compile("入站登记"))).to_be_visible()  # and the lock is lifted
    page.wait_for_load_state()

    db.session.rollback()
    user = db.session.execute(select(User).where(User.username == "xinhe-reset")).scalar_one()
    assert user.check_password(NEW_PASSWORD) and not user.is_locked()


def test_a_used_code_cannot_be_replayed(page, base_url, locked_station_account, db):
    """Back in the browser after the reset, the code step sends the user to the start again."""
    page.set_default_timeout(10000)
    page.goto(f"{base_url}/forgot-password")
    page.get_by_label("手机号").fill(PHONE_NUMBER)
    page.get_by_role("button", name="下一步").click()
    page.get_by_label("验证码").fill(texted_code(db))
    page.get_by_role("button", name="下一步").click()
    page.get_by_label("新密码", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("确认新密码").fill(NEW_PASSWORD)
    page.get_by_role("button", name="确认修改").click()
    expect(page.get_by_text("密码已重置，请使用新密码登录")).to_be_visible()
    page.wait_for_load_state()
    page.goto(f"{base_url}/forgot-password/code")
    expect(page.locator("[aria-current=step]")).to_have_text("输入手机号")
    page.goto(f"{base_url}/forgot-password/new")
    expect(page.locator("[aria-current=step]")).to_have_text("输入手机号")
    page.wait_for_load_state()
