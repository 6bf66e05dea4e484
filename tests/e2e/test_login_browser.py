"""Login failures as a user meets them: the messages, the lockout after five wrong passwords, the unlock."""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import TEST_PASSWORD
from tests.e2e.pages import log_in

WRONG = "账号或密码错误"
LOCKED = "账号已锁定，请15分钟后再试，或联系管理员解锁"


@pytest.fixture
def accounts(db, make_department, make_user):
    department = make_department("区应急管理局")
    make_user("review", department, username="yjj-review")
    make_user("review", department, username="retired-review", active=False)
    make_user("admin", username="sysadmin-login")
    db.session.commit()


def attempt(page, role, username, password):
    log_in(page, role, username, password, landed=False)


@pytest.fixture
def login_page(browser, base_url):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN", base_url=base_url)
    context.set_default_timeout(10000)
    yield context.new_page()
    context.close()


def test_wrong_unknown_disabled_and_empty_logins_say_so_without_telling_which(login_page, accounts, screenshot):
    page = login_page
    for username, password in (("yjj-review", "Wrong2026pw"), ("no-such-user", TEST_PASSWORD),
                               ("retired-review", TEST_PASSWORD)):
        attempt(page, "review", username, password)
        expect(page.get_by_role("alert")).to_have_text(WRONG)
        expect(page.get_by_role("heading", name="审核部门端登录")).to_be_visible()
        expect(page.get_by_label("账号")).to_have_value(username)  # kept for the next try
        expect(page.get_by_label("密码")).to_have_value("")
    page.get_by_label("账号").fill("")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_have_text("请输入账号和密码")
    page.wait_for_load_state()
    page.set_viewport_size({"width": 375, "height": 812})
    attempt(page, "review", "yjj-review", "Wrong2026pw")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "login-error-phone")


def test_five_wrong_passwords_lock_the_account_until_an_admin_unlocks_it(login_page, browser, base_url, accounts,
                                                                        screenshot):
    page = login_page
    for _ in range(5):
        attempt(page, "review", "yjj-review", "Wrong2026pw")
        expect(page.get_by_role("alert")).to_have_text(re.compile(f"{WRONG}|{LOCKED}"))
    attempt(page, "review", "yjj-review", TEST_PASSWORD)  # the right password no longer helps
    expect(page.get_by_role("alert")).to_have_text(LOCKED)
    expect(page).to_have_url(re.compile(r"/login/review"))
    screenshot(page, "login-locked-desktop")
    page.goto("/review/")
    expect(page).to_have_url(re.compile(r"/login/review"))
    page.wait_for_load_state()

    admin = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN", base_url=base_url)
    admin.set_default_timeout(10000)
    console = admin.new_page()
    attempt(console, "admin", "sysadmin-login", TEST_PASSWORD)
    console.get_by_role("link", name="账号管理").click()
    row = console.locator("tr", has_text="yjj-review")
    expect(row).to_contain_text("已锁定至")
    console.wait_for_load_state()
    row.get_by_role("link", name="yjj-review").click()
    expect(console.get_by_text("已锁定至")).to_be_visible()
    console.get_by_role("button", name="解锁").click()
    expect(console.get_by_text("账号 yjj-review 已解锁")).to_be_visible()
    console.wait_for_load_state()
    admin.close()

    attempt(page, "review", "yjj-review", TEST_PASSWORD)
    expect(page).to_have_url(f"{base_url}/review/")
    expect(page.get_by_role("link", name="人员审核")).to_be_visible()
