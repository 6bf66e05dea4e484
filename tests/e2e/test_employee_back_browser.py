"""The employee form after a successful submission: Back shows no stale error, a second try says 已提交过."""

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from models import Person
from models.identity import id_check_char

NUMBER = "12011619900315004" + id_check_char("12011619900315004")  # a woman born 1990-03-15
WRONG_NUMBER = NUMBER[:-1] + ("1" if NUMBER[-1] != "1" else "2")
SIZES = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 375, "height": 812}}


@pytest.fixture
def company(db, make_enterprise):
    enterprise = make_enterprise("天津临港海通船务有限公司")
    db.session.commit()
    return enterprise


def fill_the_form(page, id_number):
    page.get_by_label("姓名").fill("孙丽华")
    page.get_by_label("身份证号").fill(id_number)
    page.get_by_label("手机号").fill("13912345670")
    page.get_by_label("人员类别").select_option(label="企业职工")
    page.get_by_label("是", exact=True).check()
    page.get_by_label("现居住小区").fill("新河街道·华润橡树湾")
    page.get_by_label("已阅读并同意").check()


def submit(page):
    page.get_by_role("button", name="立刻提交").click()
    page.wait_for_load_state()


@pytest.mark.parametrize("size", SIZES)
def test_back_after_success_shows_no_stale_error_and_a_second_try_says_already_submitted(
        browser, base_url, company, db, screenshot, size):
    context = browser.new_context(viewport=SIZES[size], locale="zh-CN", base_url=base_url,
                                  is_mobile=size == "phone", has_touch=size == "phone")
    context.set_default_timeout(10000)
    page = context.new_page()
    page.goto(f"/e/{company.qr_token}")
    fill_the_form(page, WRONG_NUMBER)
    submit(page)
    expect(page.get_by_role("alert")).to_contain_text("身份证号校验位不正确")

    page.get_by_label("身份证号").fill(NUMBER)
    submit(page)
    expect(page.get_by_role("heading", name="提交成功")).to_be_visible()

    page.go_back()
    page.wait_for_load_state()
    # What Back shows is the form as it is now: no message from before the success, and
    # a note that this browser's submission went through.
    expect(page.get_by_role("heading", name="员工信息填报")).to_be_visible()
    expect(page.get_by_text("校验位不正确")).to_have_count(0)
    expect(page.get_by_text("提交未成功")).to_have_count(0)
    expect(page.get_by_role("status")).to_contain_text("本机已成功提交过信息")
    screenshot(page, f"employee-back-after-success-{size}")

    fill_the_form(page, NUMBER)
    submit(page)
    expect(page.get_by_role("heading", name="您的信息已提交")).to_be_visible()
    expect(page.get_by_text("该身份证号已在 天津临港海通船务有限公司 登记过，无需重复填报")).to_be_visible()
    screenshot(page, f"employee-already-submitted-{size}")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(Person)).scalar_one() == 1
    context.close()


def test_back_after_a_first_time_success_gives_a_form_that_can_be_sent_again(page, base_url, company, db):
    page.goto(f"{base_url}/e/{company.qr_token}")
    fill_the_form(page, NUMBER)
    submit(page)
    expect(page.get_by_role("heading", name="提交成功")).to_be_visible()
    page.go_back()
    page.wait_for_load_state()
    # Not the page as it was left, its button greyed out as 提交中…: the form as it is now.
    expect(page.get_by_role("status")).to_contain_text("本机已成功提交过信息")
    expect(page.get_by_role("button", name="立刻提交")).to_be_enabled()
