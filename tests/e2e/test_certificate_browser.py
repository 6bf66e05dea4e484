"""On a 375-px phone: 我的接种 with an SMS code, the certificate after the dose, and a second phone's /verify."""

import re
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from models import Person, SmsMessage, now
from models.vaccines import seed_vaccine_products
from models.workflow import apply_transition

PHONE_NUMBER = "13902206666"
PHONE_375 = {"viewport": {"width": 375, "height": 812}, "device_scale_factor": 2, "is_mobile": True,
             "has_touch": True, "locale": "zh-CN", "accept_downloads": True}


@pytest.fixture
def appointed_employee(db, make_enterprise, make_station, make_slot, make_persons):
    station = make_station("新河街社区卫生服务中心接种点")
    station.address = "滨海新区新河街道新河路88号"
    slot = make_slot(station, starts_at=datetime.combine(now().date() + timedelta(days=1), datetime.min.time())
                     .replace(hour=9), capacity=5)
    [person_id] = make_persons(make_enterprise("滨海港务集团有限公司"), status="appointed", station=station,
                               slot=slot, name="赵建国", phone=PHONE_NUMBER)
    db.session.commit()
    return db.session.get(Person, person_id)


def texted_code(db):
    db.session.rollback()
    body = db.session.execute(
        select(SmsMessage.body).where(SmsMessage.phone == PHONE_NUMBER, SmsMessage.kind == "self_service")
        .order_by(SmsMessage.id.desc()).limit(1)
    ).scalar_one()
    return re.search(r"验证码(\d{6})", body).group(1)


def fits_the_screen(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def record_the_dose_at_the_exit_desk(db, person, vaccinator):
    """What the desks do: check in, then confirm the dose with the person's signature."""
    seed_vaccine_products()
    apply_transition("check_in", vaccinator, ids=[person.id])
    apply_transition("vaccinate", vaccinator, ids=[person.id],
                     extra={"vaccine_product": "新冠病毒灭活疫苗(Vero细胞)", "vaccine_lot": "202611A",
                            "signature_png": b"\x89PNG signature"})
    db.session.commit()


def test_employee_finds_the_appointment_opens_the_certificate_and_a_second_phone_verifies_it(
        browser, base_url, db, appointed_employee, make_user, screenshot, tmp_path):
    employee = browser.new_context(base_url=base_url, **PHONE_375)
    page = employee.new_page()
    page.set_default_timeout(15000)
    page.goto("/")
    page.get_by_role("link", name=re.compile("我的接种")).click()
    page.get_by_label("身份证号").fill(appointed_employee.id_number)
    page.get_by_label("手机号").fill(PHONE_NUMBER)
    page.get_by_role("button", name="获取验证码").click()
    expect(page.get_by_text("若身份证号与手机号 139****6666 均与申报信息一致")).to_be_visible()
    page.get_by_label("验证码").fill(texted_code(db))
    page.get_by_role("button", name="查看我的接种").click()

    expect(page.locator("[data-status]")).to_have_text("已预约")
    expect(page.locator("[data-field=station]")).to_contain_text("滨海新区新河街道新河路88号")
    expect(page.locator("[data-field=window]")).to_contain_text(" 09:00-10:30")
    fits_the_screen(page)
    screenshot(page, "self-service-record-375")

    record_the_dose_at_the_exit_desk(db, appointed_employee, make_user("station", appointed_employee.station))
    page.reload()
    expect(page.locator("[data-dose='1']")).to_contain_text("新冠病毒灭活疫苗(Vero细胞)")
    page.get_by_role("link", name="查看接种凭证").click()
    expect(page.get_by_role("img", name="接种凭证二维码")).to_be_visible()
    expect(page.locator("[data-claim=name]")).to_have_text("赵建国")
    fits_the_screen(page)
    screenshot(page, "certificate-375")
    with page.expect_download() as download:
        page.get_by_role("link", name="下载图片").click()
    picture = tmp_path / "certificate.png"
    download.value.save_as(picture)
    employee.close()

    verifier = browser.new_context(base_url=base_url, **PHONE_375)
    check = verifier.new_page()
    check.set_default_timeout(20000)
    check.goto("/verify")
    check.locator("#scan-file").set_input_files(str(picture))
    # jsQR decodes the whole picture in the page: seconds on a busy machine.
    expect(check.locator("[data-verdict]")).to_have_attribute("data-verdict", "valid", timeout=30000)
    expect(check.locator(".verdict-label")).to_have_text("有效")
    expect(check.locator("[data-claim=name]")).to_have_text("赵建国")
    expect(check.locator(".certificate-doses")).to_contain_text("202611A")
    fits_the_screen(check)
    screenshot(check, "verify-valid-375")
    verifier.close()
