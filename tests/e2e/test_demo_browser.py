"""A newcomer opens the demo: the center's 今日 figures and 14-day chart hold data, and station01's desk has a
queue and someone still to check in (issue 18, item 13), at 1366 and 375 pixels."""

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from models import AppointmentSlot, Person, User, now
from models.demo import DEMO_PASSWORD, seed
from models.stats import day_bounds

PHONE = {"width": 375, "height": 812}


@pytest.fixture
def demo(db):
    seed(enterprise_count=40, person_count=800)
    db.session.commit()


@pytest.fixture
def open_as(browser, base_url):
    """A page of a fresh browser context, logged in with a demo account."""
    contexts = []

    def log_in(role, username, viewport):
        context = browser.new_context(viewport=viewport, locale="zh-CN", base_url=base_url,
                                      **({"is_mobile": True, "has_touch": True, "device_scale_factor": 2}
                                         if viewport == PHONE else {}))
        context.set_default_timeout(15000)
        contexts.append(context)
        page = context.new_page()
        page.goto(f"/login/{role}")
        page.get_by_label("账号").fill(username)
        page.get_by_label("密码").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(re.compile(rf"/{role}/$"))
        page.wait_for_load_state()
        return page

    yield log_in
    for context in contexts:
        context.close()


def numbers(locator):
    return [int(text) for text in locator.all_text_contents()]


def test_the_center_dashboard_of_the_demo_shows_today_and_the_last_two_weeks(demo, open_as, screenshot):
    page = open_as("center", "center", {"width": 1366, "height": 900})
    district = page.locator(".dose-figures tr.district")
    assert sum(numbers(district.locator("[data-live-key$=':today']"))) > 0  # 今日 第1剂 / 第2剂 / 全程接种
    assert sum(numbers(page.locator("[data-live-key$=':appointed_today']"))) > 0
    assert sum(numbers(page.locator("[data-live-key$=':checked_in_today']"))) > 0
    bars = page.locator(".trend-chart .bar-value")  # a number above each day with doses
    assert bars.count() >= 12 and min(numbers(bars)) > 0
    screenshot(page, "demo-center-1366")

    phone = open_as("center", "center", PHONE)
    expect(phone.locator(".trend-chart")).to_be_visible()
    assert phone.locator(".trend-chart .bar-value").count() >= 12
    screenshot(phone, "demo-center-375")


def test_the_demo_desk_has_a_queue_and_someone_to_check_in(demo, db, open_as, screenshot):
    station_id = db.session.execute(select(User.station_id).where(User.username == "station01")).scalar_one()
    start, end = day_bounds(now().date())
    to_come = db.session.execute(
        select(Person).join(AppointmentSlot, Person.slot_id == AppointmentSlot.id)
        .where(Person.station_id == station_id, Person.status == "appointed",
               AppointmentSlot.starts_at >= start, AppointmentSlot.starts_at < end)
        .order_by(AppointmentSlot.starts_at, Person.id).limit(1)
    ).scalar_one()
    page = open_as("station", "station01", {"width": 1366, "height": 900})
    queue = page.locator("#queue-panel .queue-table tbody tr")
    expect(queue.first).to_be_visible()
    waiting = queue.count()
    expect(page.locator("#queue-panel .wait-average")).not_to_have_text("—")
    screenshot(page, "demo-desk-1366")

    field = page.get_by_label("身份证号")
    field.type(to_come.id_number + "\n")  # what the reader (or a scanner) gives the desk
    expect(page.locator("#read-panel .person-name")).to_have_text(to_come.name)
    # Early or late for the window (the demo may be loaded at any hour): the desk asks, the nurse confirms.
    page.on("dialog", lambda dialog: dialog.accept())
    page.keyboard.press("Enter")  # 登记
    expect(page.locator("#read-panel .read-card")).to_contain_text("已登记，候诊中")
    expect(queue).to_have_count(waiting + 1)
    expect(page.locator("#queue-panel .queue-table tbody tr", has_text=to_come.name)).to_be_visible()

    phone = open_as("station", "station01", PHONE)
    expect(phone.locator("#queue-panel .queue-table tbody tr").first).to_be_visible()
    screenshot(phone, "demo-desk-375")
