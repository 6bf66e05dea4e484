"""The wrong portal entry and the last tries, as a clerk meets them in a browser.

A department clerk who opens 企业端 with the right password is sent to 审核部门端 (no failure
counted); wrong passwords warn 还可尝试 N 次 before the lock, with the same words for a name
nobody has. Names are unique to this file: the served app keeps failures of names for the session.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import TEST_PASSWORD

WRONG = "账号或密码错误"
LOCKED = "账号已锁定，请15分钟后再试，或联系管理员解锁"
NOTICE = "该账号属于审核部门端，请从「审核部门端」入口登录。"


@pytest.fixture
def department_clerk(db, make_department, make_user):
    make_user("review", make_department("区交通运输局"), username="jtj-entry")
    db.session.commit()


@pytest.fixture(params=[{"width": 1366, "height": 900}, {"width": 375, "height": 812}], ids=["desktop", "phone"])
def login_page(request, browser, base_url):
    context = browser.new_context(viewport=request.param, locale="zh-CN", base_url=base_url)
    context.set_default_timeout(10000)
    page = context.new_page()
    page.viewport_name = request.node.callspec.id
    yield page
    context.close()


def attempt(page, username, password):
    page.get_by_label("账号").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()


def fits_the_screen(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_department_clerk_at_the_enterprise_entry_is_sent_to_the_department_entry(login_page, department_clerk,
                                                                                   base_url, screenshot):
    page = login_page
    page.goto("/")
    page.locator("a.entry-enterprise").click()
    expect(page.get_by_role("heading", name="企业端登录")).to_be_visible()
    for _ in range(5):  # the right password is not a failure: five times and still no lock
        attempt(page, "jtj-entry", TEST_PASSWORD)
        expect(page.get_by_role("alert")).to_have_text(re.compile(re.escape(NOTICE)))
    assert fits_the_screen(page)
    screenshot(page, f"login-wrong-entry-{page.viewport_name}")

    page.get_by_role("link", name="前往审核部门端登录").click()
    expect(page).to_have_url(f"{base_url}/login/review")
    expect(page.get_by_role("heading", name="审核部门端登录")).to_be_visible()
    expect(page.get_by_label("账号")).to_have_value("jtj-entry")  # filled in; the password is typed again
    page.get_by_label("密码").fill(TEST_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"{base_url}/review/")
    expect(page.get_by_role("heading", name="审核看板")).to_be_visible()


def test_wrong_passwords_count_down_alike_for_an_account_and_a_name_nobody_has(login_page, db, make_department,
                                                                              make_user, screenshot):
    page = login_page
    expected = [WRONG, WRONG, f"{WRONG}，还可尝试2次", f"{WRONG}，还可尝试1次", LOCKED]
    suffix = page.viewport_name  # one name per run: the count of a name outlasts the test
    make_user("review", make_department("区市场监管局"), username=f"jtj-entry-{suffix}")
    db.session.commit()
    for username, entry in ((f"jtj-entry-{suffix}", "review"), (f"nobody-entry-{suffix}", "review"),
                            (f"nobody-else-{suffix}", "enterprise")):
        page.goto(f"/login/{entry}")
        seen = []
        for _ in expected:
            attempt(page, username, "Wrong2026pw")
            seen.append(page.get_by_role("alert").inner_text().strip())
            if len(seen) == 4 and username.startswith("jtj"):
                expect(page.get_by_role("alert")).to_have_text(f"{WRONG}，还可尝试1次")
                assert fits_the_screen(page)
                screenshot(page, f"login-last-try-{suffix}")
        assert seen == expected, username

