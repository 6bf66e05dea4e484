"""企业端 as a new company would use it, in a real browser: register on a phone, print the QR code,
staff register through it, the enterprise fixes and submits them, exports the list, watches its dashboard."""

import io
import re

import pytest
from openpyxl import load_workbook
from PIL import Image
from playwright.sync_api import expect
from pyzbar.pyzbar import decode

from models.identity import credit_check_char, id_check_char, id_number_error
from tests.conftest import sms_code_sent_to
from tests.e2e.pages import log_in

CREDIT_CODE = "91120116MA05JQ2X1L"
PASSWORD = "Haitong2026"


def qr_text(png):
    [found] = decode(Image.open(io.BytesIO(png)))
    return found.data.decode("ascii")


def fits_the_screen(page):
    """No horizontal scrolling: the page is no wider than the viewport."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def valid_credit_code():
    return CREDIT_CODE[:17] + credit_check_char(CREDIT_CODE[:17])


@pytest.fixture
def narrow_phone(browser, base_url):
    """A 375-pixel-wide touch phone (the narrowest common screen)."""
    context = browser.new_context(viewport={"width": 375, "height": 812}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, locale="zh-CN", accept_downloads=True, base_url=base_url)
    yield context
    context.close()


def test_a_company_registers_on_a_phone_and_its_staff_register_through_its_qr_code(
        narrow_phone, browser, base_url, make_department, make_territory, db, screenshot, tmp_path):
    make_department("区交通运输局")
    make_department("天津港集团公司")
    make_territory("新河街道")
    make_territory("塘沽街道")
    db.session.commit()
    code = valid_credit_code()

    # The portal's QR code opens the registration form.
    phone = narrow_phone.new_page()
    phone.goto("/")
    qr = phone.get_by_role("img", name="企业注册二维码")
    register_url = qr_text(phone.request.get(qr.get_attribute("src")).body())
    assert register_url == f"{base_url}/register"
    phone.goto(register_url)
    assert fits_the_screen(phone)

    # A first try with a mistyped credit code and different passwords, then the right values.
    phone.get_by_label("企业名称").fill("天津滨城海通物流有限公司")
    phone.get_by_label("社会统一信用代码").fill(code[:-1] + ("0" if code[-1] != "0" else "1"))
    phone.get_by_label("申报部门").select_option(label="区交通运输局")
    phone.get_by_label("详细地址").fill("天津市滨海新区新港二号路1号")
    phone.get_by_label("联系人").fill("王海")
    phone.get_by_label("手机号").fill("139 0220 1234")
    phone.locator("#password").fill(PASSWORD)
    phone.get_by_label("二次确认密码").fill(PASSWORD + "x")
    phone.get_by_label("所属辖区").select_option(label="新河街道")
    phone.get_by_role("button", name="立刻提交").click()
    expect(phone.get_by_text("统一社会信用代码校验位不正确，请核对").first).to_be_visible()
    expect(phone.get_by_text("两次输入的密码不一致").first).to_be_visible()
    screenshot(phone, "enterprise-register-errors-phone")
    assert fits_the_screen(phone)
    phone.get_by_label("社会统一信用代码").fill(code.lower())
    phone.locator("#password").fill(PASSWORD)
    phone.get_by_label("二次确认密码").fill(PASSWORD)
    # The phone is proven by a texted code; the form comes back with everything typed kept.
    phone.get_by_role("button", name="获取验证码").click()
    expect(phone.get_by_text("验证码已发送至139****1234，5分钟内有效")).to_be_visible()
    expect(phone.locator("#password")).to_have_value(PASSWORD)
    expect(phone.get_by_label("社会统一信用代码")).to_have_value(code.lower())
    screenshot(phone, "enterprise-register-code-sent-phone")
    assert fits_the_screen(phone)
    # Enter in the code field registers (it does not ask for another code).
    phone.get_by_label("短信验证码").fill(sms_code_sent_to(db, "13902201234", kind="register"))
    phone.get_by_label("短信验证码").press("Enter")
    expect(phone.get_by_role("heading", name="注册成功")).to_be_visible()
    expect(phone.get_by_role("img", name=re.compile("企业专属二维码"))).to_be_visible()
    screenshot(phone, "enterprise-registered-phone")
    assert fits_the_screen(phone)

    # Download the QR code, and print the poster.
    with phone.expect_download() as download_info:
        phone.get_by_role("link", name="下载二维码").click()
    downloaded = tmp_path / "qr.png"
    download_info.value.save_as(downloaded)
    employee_url = qr_text(downloaded.read_bytes())
    assert re.fullmatch(rf"{re.escape(base_url)}/e/[A-Za-z0-9_-]{{32}}", employee_url)
    with phone.expect_popup() as popup_info:
        phone.get_by_role("link", name="打印海报").click()
    poster = popup_info.value
    expect(poster.get_by_role("heading", name="天津滨城海通物流有限公司")).to_be_visible()
    assert poster.evaluate("document.querySelector('.poster-qr').naturalWidth") > 200
    assert fits_the_screen(poster)
    screenshot(poster, "enterprise-poster-phone")
    desk = browser.new_page()
    desk.goto(poster.url)
    pdf = desk.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1  # one sheet of paper
    desk.emulate_media(media="print")
    expect(desk.get_by_role("button", name="打印")).to_be_hidden()
    desk.close()

    # Three employees scan the code; the third mistypes his ID number first.
    employees = [("李娜", "11010519491231002X", "13912340001"), ("张伟", "11010219840406970X", "13912340002"),
                 ("刘洋", "440524198001010013", "13912340003")]
    for index, (name, number, mobile) in enumerate(employees):
        form = narrow_phone.new_page()
        form.goto(employee_url)
        expect(form.get_by_text("天津滨城海通物流有限公司")).to_be_visible()
        form.get_by_label("姓名").fill(name)
        typed = number if index < 2 else number[:14] + str((int(number[14]) + 3) % 10) + number[15:]
        form.get_by_label("身份证号").fill(typed.lower())
        form.get_by_label("手机号").fill(mobile)
        form.get_by_label("人员类别").select_option(label="口岸及港口人员")
        form.get_by_label("是", exact=True).check()
        form.get_by_label("现居住小区").fill("新河街道·华润橡树湾")
        form.get_by_label("已阅读并同意").check()
        if index == 0:
            assert fits_the_screen(form)
            screenshot(form, "employee-form-phone")
        if index == 2:
            assert id_number_error(typed) is not None
            form.get_by_role("button", name="立刻提交").click()
            expect(form.locator("#id_number-error")).to_contain_text("校验位不正确")
            screenshot(form, "employee-form-mistyped-id-phone")
            assert fits_the_screen(form)
            form.get_by_label("身份证号").fill(number)
            form.get_by_label("已阅读并同意").check()
        else:
            # The page fills gender and age from the ID number as it is typed.
            expect(form.get_by_label("女" if number[16] in "02468" else "男")).to_be_checked()
        form.get_by_role("button", name="立刻提交").click()
        expect(form.get_by_role("heading", name="提交成功")).to_be_visible()
        if index == 0:
            screenshot(form, "employee-done-phone")
            assert fits_the_screen(form)
        form.close()

    # The enterprise logs in (desktop), fixes a phone number, submits everyone, exports and watches the figures.
    console = browser.new_page(viewport={"width": 1366, "height": 900}, accept_downloads=True)
    log_in(console, "enterprise", code, PASSWORD, base_url=base_url)
    expect(console.locator('[data-figure="declared"]')).to_have_text("3")
    expect(console.locator('[data-figure="submitted"]')).to_have_text("0")
    screenshot(console, "enterprise-dashboard-before")

    console.get_by_role("link", name="人员清单").first.click()
    row = console.locator("tr", has_text="张伟")
    row.get_by_role("link", name="修改").click()
    console.get_by_label("手机号").fill("13800138000")
    console.get_by_role("button", name="保存").click()
    expect(console.get_by_text("已保存 张伟 的信息")).to_be_visible()
    expect(console.locator("tr", has_text="张伟")).to_contain_text("138****8000")
    screenshot(console, "enterprise-list-unsubmitted")

    console.once("dialog", lambda dialog: dialog.accept())
    console.get_by_role("button", name="全部提交").click()
    expect(console.get_by_text("已处理 3 人，跳过 0 人")).to_be_visible()

    console.get_by_role("tab", name="已提交").click()
    with console.expect_download() as export_info:
        console.get_by_role("link", name="导出本页签").click()
    exported = tmp_path / "export.xlsx"
    export_info.value.save_as(exported)
    assert export_info.value.suggested_filename.startswith("天津滨城海通物流有限公司-人员清单-已提交-")
    rows = list(load_workbook(exported).worksheets[0].iter_rows(values_only=True))
    assert len(rows) == 4 and {r[2] for r in rows[1:]} == {n for _, n, _ in employees}
    assert next(r for r in rows if r[0] == "张伟")[4] == "13800138000"

    console.get_by_role("link", name="企业看板").click()
    expect(console.locator('[data-figure="declared"]')).to_have_text("3")
    expect(console.locator('[data-figure="submitted"]')).to_have_text("3")
    expect(console.locator('[data-figure="unsubmitted"]')).to_have_text("0")
    screenshot(console, "enterprise-dashboard-after")
    console.close()


def test_the_employee_form_fits_a_375_pixel_screen_with_errors_shown(narrow_phone, make_enterprise, db,
                                                                      screenshot):
    enterprise = make_enterprise("中海石油(中国)有限公司天津分公司渤海石油研究院海洋工程技术服务中心")
    db.session.commit()
    page = narrow_phone.new_page()
    page.goto(f"/e/{enterprise.qr_token}")
    first17 = "12011619900101123"
    page.get_by_label("身份证号").fill(first17 + id_check_char(first17))
    page.get_by_role("button", name="立刻提交").click()
    expect(page.get_by_text("请填写姓名").first).to_be_visible()
    assert fits_the_screen(page)
    screenshot(page, "employee-form-errors-phone")
