"""The station console's lists and the center dashboard on a 375-pixel phone: cards, nothing sideways.

Each screen is opened at 375 px (no horizontal scroll, the essential values on the cards, the
columns left off them hidden) and saved at 375 and 1366 px under test-artifacts/screens/.
"""

from datetime import datetime, time, timedelta

import pytest
from playwright.sync_api import expect

from extensions import db as _db
from models.aefi import file_report
from models.base import now, today
from models.doses import Vaccination
from models.observation import start_observation
from tests.e2e.pages import log_in
from tests.lot_world import received_lot, record_doses

PHONE = {"width": 375, "height": 812}
WIDE = {"width": 1366, "height": 900}


@pytest.fixture
def station_day(db, make_station, make_enterprise, make_slot, make_persons, make_user):
    """A station's day: a lot in stock, two windows booked, three doses under observation, a reaction filed."""
    station = make_station("新河街社区卫生服务中心接种点")
    nurse = make_user("station", station, username="phone-station")
    make_user("center", username="phone-center")
    enterprise = make_enterprise("天津港轮驳有限公司")
    lot = received_lot(nurse, station, lot_number="PH2026A")
    morning = make_slot(station, starts_at=datetime.combine(today(), time(8, 30)), capacity=30)
    make_slot(station, starts_at=datetime.combine(today(), time(14, 0)), capacity=30)
    make_persons(enterprise, 2, status="appointed", station=station, slot=morning, name="手机预约员工", gender="F")
    given = make_persons(enterprise, 3, status="vaccinated", station=station, name="手机留观员工",
                         finished_at=now() - timedelta(minutes=10))
    doses = record_doses(given, lot, station, at=now() - timedelta(minutes=10), vaccinator=nurse)
    for dose in doses:
        start_observation(_db.session.get(Vaccination, dose))
    file_report(nurse, doses[0], symptoms=["发热"], onset_at=now() - timedelta(minutes=5), severity="general")
    db.session.commit()
    return {"slot": morning}


def fits_the_phone(page):
    return page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")


def cell(page, table, label):
    return page.locator(f"{table} td[data-label='{label}']").first


def look_at(page, screenshot, name):
    """Save the screen at 375 px, check nothing scrolls sideways, then save it at 1366 px and back."""
    screenshot(page, f"{name}-375")
    assert fits_the_phone(page), page.evaluate("document.scrollingElement.scrollWidth")
    page.set_viewport_size(WIDE)
    screenshot(page, f"{name}-1366")
    page.set_viewport_size(PHONE)


def test_the_station_lists_are_cards_on_a_phone(phone_page, station_day, screenshot):
    page = phone_page
    log_in(page, "station", "phone-station")

    page.goto("/station/appointments/")
    expect(cell(page, "#slot-table", "已预约/容量")).to_have_text("2/30")
    expect(page.locator("#slot-table td.col-name").first).to_contain_text("08:30")
    look_at(page, screenshot, "station-appointments")

    page.goto(f"/station/appointments/people?slot={station_day['slot'].id}&status=appointed")
    expect(page.locator("#people-table td.col-name").first).to_have_text("手机预约员工")
    expect(cell(page, "#people-table", "身份证号")).to_be_visible()
    expect(cell(page, "#people-table", "企业")).to_have_text("天津港轮驳有限公司")
    expect(cell(page, "#people-table", "性别")).to_be_hidden()  # left off the card
    expect(page.locator("#people-table input[name=person_id]").first).to_be_visible()
    look_at(page, screenshot, "station-appointment-people")

    page.goto("/station/progress/")
    dose_today = page.locator(".dose-table tr", has_text="今日").locator("td[data-label='第1剂']")
    expect(dose_today).to_have_text("3")
    expect(dose_today).to_be_visible()
    look_at(page, screenshot, "station-progress")

    page.goto("/station/stock/")
    expect(cell(page, "#stock-table", "批号")).to_have_text("PH2026A")
    expect(cell(page, "#stock-table", "库存（剂）")).to_have_text("20")
    expect(cell(page, "#stock-table", "生产企业")).to_be_hidden()
    expect(cell(page, "#movement-table", "类型")).to_be_visible()
    look_at(page, screenshot, "station-stock")

    page.goto("/station/stock/day-close")
    expect(cell(page, "#day-close-table", "账面结存")).to_have_text("20")
    expect(page.get_by_label("批号 PH2026A 实盘")).to_be_visible()
    look_at(page, screenshot, "station-day-close")

    page.goto("/station/observation/")
    row = page.locator(".observation-row").first
    expect(row.locator("td.col-name")).to_have_text("手机留观员工")
    expect(row.locator("td[data-label='剩余时间']")).to_be_visible()
    expect(row.get_by_role("button", name="留观结束")).to_be_visible()
    page.wait_for_timeout(5500)  # the board reloads its rows: the new rows are cards as well
    expect(page.locator(".observation-row").first.locator("td[data-label='剩余时间']")).to_be_visible()
    look_at(page, screenshot, "station-observation")

    page.goto("/station/aefi/")
    expect(page.locator("#aefi-table td.col-name").first).to_have_text("手机留观员工")
    expect(cell(page, "#aefi-table", "严重程度")).to_have_text("一般")
    look_at(page, screenshot, "station-aefi")


def test_the_center_dashboard_tables_are_cards_on_a_phone(phone_page, station_day, screenshot):
    page = phone_page
    log_in(page, "center", "phone-center")
    station = page.locator(".dose-figures tr", has_text="新河街社区卫生服务中心接种点").first
    expect(station.locator("td.col-name")).to_be_visible()
    expect(station.locator("td[data-label='今日 第1剂']")).to_have_text("3")
    expect(station.locator("td[data-label='累计 全程接种']")).to_be_visible()
    expect(station.locator("td[data-label='累计 第1剂']")).to_be_hidden()  # left off the card
    progress = page.locator(".dash-table tr", has_text="新河街社区卫生服务中心接种点").nth(1)
    expect(progress.locator("td[data-label='今日 预约']")).to_have_text("2")
    expect(progress.locator("td[data-label='待预约']")).to_be_visible()
    look_at(page, screenshot, "center-dashboard")


CENTER_LISTS = ("/center/lots/", "/center/stock/", "/center/reports/", "/center/aefi/", "/center/slots/",
                "/center/self-cancellations/")


def test_the_center_console_lists_are_cards_on_a_phone(phone_page, station_day, screenshot):
    page = phone_page
    log_in(page, "center", "phone-center")
    for url in CENTER_LISTS:
        page.goto(url)
        assert page.locator("table.model-list").count(), url
        look_at(page, screenshot, "center" + url.rstrip("/").replace("/center", "").replace("/", "-"))
    page.goto("/center/lots/")
    expect(cell(page, "#lot-table", "批号")).to_have_text("PH2026A")
    page.goto("/center/aefi/")
    expect(page.locator("#aefi-table td[data-label]").first).to_be_visible()
