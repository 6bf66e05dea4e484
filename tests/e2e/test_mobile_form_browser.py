"""The employee's mobile form on a 375-pixel phone: what it says when something is missing or wrong."""

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from models import Person
from models.identity import id_check_char

PHONE = {"width": 375, "height": 812}
NUMBER = "12011619880512003" + id_check_char("12011619880512003")  # a man born 1988-05-12


@pytest.fixture
def phone(browser, base_url):
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                  locale="zh-CN", base_url=base_url)
    context.set_default_timeout(10000)
    yield context
    context.close()


@pytest.fixture
def company(db, make_enterprise):
    enterprise = make_enterprise("天津临港海通船务有限公司")
    db.session.commit()
    return enterprise


def persons(db):
    db.session.rollback()
    return db.session.execute(select(func.count()).select_from(Person)).scalar_one()


def fits_the_screen(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def message_under(page, label):
    """The message shown under the field a user knows by its label."""
    field = page.get_by_label(label)
    return page.locator("#" + field.get_attribute("aria-describedby"))


def test_an_empty_form_names_every_missing_field(phone, company, db, screenshot):
    page = phone.new_page()
    page.goto(f"/e/{company.qr_token}")
    expect(page.get_by_role("heading", name="员工信息填报")).to_be_visible()
    expect(page.get_by_text(company.name)).to_be_visible()
    page.get_by_role("button", name="立刻提交").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("提交未成功，请按提示修改")
    for message in ("请填写姓名", "请填写身份证号", "请填写手机号", "请选择人员类别", "请选择是否住在滨海新区",
                    "请填写现居住小区", "请阅读并同意隐私条款后再提交"):
        expect(summary).to_contain_text(message)
    expect(message_under(page, "姓名")).to_have_text("请填写姓名")
    expect(page.get_by_label("姓名")).to_have_attribute("aria-invalid", "true")
    assert fits_the_screen(page)
    screenshot(page, "mobile-form-empty-phone")
    assert persons(db) == 0


def test_wrong_values_are_explained_and_what_was_typed_is_kept(phone, company, db, screenshot):
    page = phone.new_page()
    page.goto(f"/e/{company.qr_token}")
    page.get_by_label("姓名").fill("赵海涛")
    page.get_by_label("身份证号").fill(NUMBER[:-1] + ("1" if NUMBER[-1] != "1" else "2"))
    page.get_by_label("手机号").fill("1391234")
    page.get_by_label("人员类别").select_option(label="企业职工")
    page.get_by_label("否", exact=True).check()
    page.get_by_label("现居住小区").fill("塘沽街道·金海湾花园")
    page.get_by_label("已阅读并同意").check()
    page.get_by_role("button", name="立刻提交").click()
    expect(message_under(page, "身份证号")).to_have_text("身份证号校验位不正确，请核对")
    expect(message_under(page, "手机号")).to_have_text("请输入正确的11位手机号")
    # Everything typed is still there; only the wrong fields need retyping.
    expect(page.get_by_label("姓名")).to_have_value("赵海涛")
    expect(page.get_by_label("人员类别")).to_have_value("企业职工")
    expect(page.get_by_label("否", exact=True)).to_be_checked()
    expect(page.get_by_label("现居住小区")).to_have_value("塘沽街道·金海湾花园")
    expect(page.get_by_label("已阅读并同意")).to_be_checked()
    assert fits_the_screen(page)
    screenshot(page, "mobile-form-wrong-values-phone")

    page.get_by_label("身份证号").fill(NUMBER.lower())
    expect(page.get_by_label("男", exact=True)).to_be_checked()  # filled from the ID number as it is typed
    expect(page.get_by_label("年龄")).to_have_value(re.compile(r"^\d{2}$"))
    page.get_by_label("手机号").fill("139 1234 5678")
    page.get_by_role("button", name="立刻提交").click()
    expect(page.get_by_role("heading", name="提交成功")).to_be_visible()
    page.wait_for_load_state()
    assert persons(db) == 1
    db.session.rollback()
    person = db.session.execute(select(Person)).scalar_one()
    assert (person.name, person.phone, person.gender, person.lives_in_binhai) == ("赵海涛", "13912345678", "M", False)


def test_a_registration_with_a_number_another_enterprise_holds_is_refused(phone, company, make_enterprise, db):
    other = make_enterprise("天津滨港物流有限公司")
    db.session.commit()
    for attempt, enterprise in enumerate((company, other)):
        page = phone.new_page()
        page.goto(f"/e/{enterprise.qr_token}")
        page.get_by_label("姓名").fill("钱立新")
        page.get_by_label("身份证号").fill(NUMBER)
        page.get_by_label("手机号").fill("13912345679")
        page.get_by_label("人员类别").select_option(label="企业职工")
        page.get_by_label("是", exact=True).check()
        page.get_by_label("现居住小区").fill("新河街道·华润橡树湾")
        page.get_by_label("已阅读并同意").check()
        page.get_by_role("button", name="立刻提交").click()
        if attempt == 0:
            expect(page.get_by_role("heading", name="提交成功")).to_be_visible()
        else:
            expect(message_under(page, "身份证号")).to_have_text(
                "该身份证号已登记，请勿重复填报；如需修改信息，请联系本单位管理员")
        page.wait_for_load_state()
        page.close()
    assert persons(db) == 1


def test_a_reset_or_mistyped_code_says_the_qr_code_is_no_longer_valid(phone, company, db):
    page = phone.new_page()
    page.goto(f"/e/{company.qr_token[:-2]}xx")
    expect(page.get_by_role("heading", name="二维码无效或已失效")).to_be_visible()
    expect(page.get_by_text("请向本单位管理员索取最新的企业专属二维码")).to_be_visible()
    expect(page.get_by_role("button", name="立刻提交")).to_have_count(0)
    assert fits_the_screen(page)
