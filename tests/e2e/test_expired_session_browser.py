"""A form posted after the session ended: the console's login page, then back on the page the form was on."""

import re

import pytest
from playwright.sync_api import expect

from models import Person
from tests.conftest import TEST_PASSWORD
from tests.e2e.pages import log_in

SIZES = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 375, "height": 812}}
EXPIRED = "登录已过期，请重新登录后继续操作"


@pytest.fixture
def clerk(db, make_enterprise, make_user, make_persons):
    enterprise = make_enterprise("天津临港海通船务有限公司")
    make_user("enterprise", enterprise, username="haitong-clerk")
    [person_id] = make_persons(enterprise, 1, name="周海波")
    db.session.commit()
    return {"edit": f"/enterprise/enterprise_persons/person/{person_id}/edit", "person_id": person_id,
            "token": enterprise.qr_token}


@pytest.fixture
def context_of(browser, base_url):
    opened = []

    def open_context(size):
        context = browser.new_context(viewport=SIZES[size], locale="zh-CN", base_url=base_url,
                                      is_mobile=size == "phone", has_touch=size == "phone")
        context.set_default_timeout(10000)
        opened.append(context)
        return context
    yield open_context
    for context in opened:
        context.close()


def open_the_edit_page(page, clerk):
    log_in(page, "enterprise", "haitong-clerk")
    page.goto(clerk["edit"])
    expect(page.get_by_role("heading", name="修改人员信息")).to_be_visible()
    page.get_by_label("姓名").fill("周海涛")
    page.get_by_label("手机号").fill("13920001111")


def log_in_again_and_land_on_the_edit_page(page, clerk, password=TEST_PASSWORD):
    expect(page).to_have_url(re.compile(r"/login/enterprise\?next="))
    expect(page.get_by_role("heading", name="企业端登录")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text(EXPIRED)
    page.get_by_label("账号").fill("haitong-clerk")
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(re.escape(clerk["edit"]) + "$"))
    expect(page.get_by_role("heading", name="修改人员信息")).to_be_visible()


def typed_values_are_back_and_nothing_was_saved(page, clerk, db):
    expect(page.get_by_role("status")).to_have_text("已恢复登录过期前填写的内容，请核对后再次提交")
    expect(page.get_by_label("姓名")).to_have_value("周海涛")
    expect(page.get_by_label("手机号")).to_have_value("13920001111")
    db.session.rollback()
    assert db.session.get(Person, clerk["person_id"]).name == "周海波"  # nothing sent while logged out


@pytest.mark.parametrize("size", SIZES)
def test_a_save_after_the_cookie_is_gone_leads_to_the_login_and_back(context_of, clerk, db, screenshot, size):
    context = context_of(size)
    page = context.new_page()
    open_the_edit_page(page, clerk)
    context.clear_cookies()  # the browser dropped the session, as after a restart or a cleanup
    page.get_by_role("button", name="保存").click()
    page.wait_for_load_state()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, f"expired-session-login-{size}")
    log_in_again_and_land_on_the_edit_page(page, clerk)
    typed_values_are_back_and_nothing_was_saved(page, clerk, db)


def test_a_save_after_logging_out_in_another_tab_leads_to_the_login_and_back(context_of, clerk, db):
    context = context_of("desktop")
    page = context.new_page()
    open_the_edit_page(page, clerk)
    other_tab = context.new_page()
    other_tab.goto("/enterprise/")
    other_tab.get_by_role("button", name="退出").click()
    expect(other_tab.get_by_text("已退出登录")).to_be_visible()
    page.get_by_role("button", name="保存").click()
    page.wait_for_load_state()
    log_in_again_and_land_on_the_edit_page(page, clerk)
    typed_values_are_back_and_nothing_was_saved(page, clerk, db)


def test_the_typed_values_wait_through_a_mistyped_login_then_are_forgotten(context_of, clerk, db):
    context = context_of("desktop")
    page = context.new_page()
    open_the_edit_page(page, clerk)
    # a field that must never be kept: a password typed into the form
    page.evaluate("""() => { const f = document.querySelector("form[method=post]");
        f.insertAdjacentHTML("beforeend", '<input type="password" name="supervisor_password" value="Secret-9">'); }""")
    context.clear_cookies()
    page.get_by_role("button", name="保存").click()
    page.wait_for_load_state()
    kept = page.evaluate("sessionStorage.getItem('kept-form')")
    assert "周海涛" in kept and "13920001111" in kept
    assert "Secret-9" not in kept and "csrf_token" not in kept
    page.get_by_label("账号").fill("haitong-clerk")
    page.get_by_label("密码").fill("Wrong-pass1")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_text("账号或密码错误")).to_be_visible()
    page.get_by_label("密码").fill(TEST_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(re.escape(clerk["edit"]) + "$"))
    typed_values_are_back_and_nothing_was_saved(page, clerk, db)
    assert page.evaluate("sessionStorage.getItem('kept-form')") is None  # filled in once, then forgotten
    page.get_by_label("现居住小区").fill("海通家园")  # the fixture's person lacks it
    page.get_by_role("button", name="保存").click()  # pressed again: now it is sent
    page.wait_for_load_state()
    db.session.rollback()
    assert db.session.get(Person, clerk["person_id"]).name == "周海涛"
    page.goto(clerk["edit"])
    expect(page.get_by_label("姓名")).to_have_value("周海涛")
    expect(page.get_by_role("status")).to_have_count(0)  # nothing left to fill in


@pytest.mark.parametrize("size", SIZES)
def test_a_public_form_posted_without_its_session_offers_the_form_again(context_of, clerk, screenshot, size):
    context = context_of(size)
    page = context.new_page()
    page.goto(f"/e/{clerk['token']}")
    page.get_by_label("姓名").fill("孙丽华")
    context.clear_cookies()
    page.get_by_role("button", name="立刻提交").click()
    expect(page.get_by_role("heading", name="页面已过期")).to_be_visible()
    screenshot(page, f"expired-public-form-{size}")
    page.get_by_role("link", name="重新打开页面").click()
    expect(page.get_by_role("heading", name="员工信息填报")).to_be_visible()
    expect(page).to_have_url(re.compile(re.escape(f"/e/{clerk['token']}") + "$"))
