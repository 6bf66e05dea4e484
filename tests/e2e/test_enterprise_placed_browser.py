"""企业端 人员清单 in a real browser: from 已分配 on the enterprise sees where and when its people go
(接种站, 预约时间) and why a dose was not given (未接种原因); in 待续种 also the doses given (剂次)."""

from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from models import today
from tests.conftest import TEST_PASSWORD

SHOTS = Path("/work/coord/shots/clerkA")
PERSONS = "/enterprise/enterprise_persons/"


def shoot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1366, 375):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1366, "height": 900})


@pytest.fixture
def placed(make_territory, make_enterprise, make_station, make_slot, make_persons, make_user, db):
    area = make_territory("新河街道")
    company = make_enterprise("滨海公交集团", territory=area)
    station = make_station("新河接种点", territory=area)
    slot = make_slot(station, starts_at=datetime.combine(today() + timedelta(days=1), time(8, 30)), capacity=10)
    make_persons(company, 1, status="appointed", name="已约员工", station=station, slot=slot)
    make_persons(company, 1, status="allocated", name="待约员工", station=station)
    make_persons(company, 1, status="not_vaccinated", name="未种员工", station=station,
                 not_vaccinated_reason="发热，暂缓接种")
    make_persons(company, 1, status="due_next", name="续种员工", station=station, doses_given=1, dose_number=2,
                 next_dose_earliest=date(2027, 1, 5))
    make_user("enterprise", unit=company, username="ent-placed")
    db.session.commit()
    return dict(station=station, slot=slot)


def _cell(page, row_text, header):
    """The text of the column named `header` in the row holding `row_text`."""
    headers = [h.strip() for h in page.locator("table.model-list thead th").all_inner_texts()]
    row = page.locator("table.model-list tbody tr", has_text=row_text)
    return row.locator("td").nth(headers.index(header)).inner_text().strip()


def test_allocated_and_later_tabs_show_station_window_reason_and_doses(page, base_url, browser_login, placed):
    browser_login(page, "enterprise", "ent-placed", TEST_PASSWORD)
    page.goto(f"{base_url}{PERSONS}?tab=allocated")
    expect(page.locator("table.model-list tbody tr")).to_have_count(3)
    assert _cell(page, "已约员工", "接种站") == "新河接种点"
    assert _cell(page, "已约员工", "预约时间") == str(placed["slot"])
    assert _cell(page, "待约员工", "预约时间") == ""
    assert _cell(page, "未种员工", "未接种原因") == "发热，暂缓接种"
    shoot(page, "enterprise-allocated")

    page.goto(f"{base_url}{PERSONS}?tab=due_next")
    assert _cell(page, "续种员工", "接种站") == "新河接种点"
    assert _cell(page, "续种员工", "剂次") == "已接种 1 剂，第2剂 2027-01-05 起可接种"
    shoot(page, "enterprise-due-next")

    # Sorting by a column header keeps working in a tab with other columns.
    page.get_by_role("link", name="姓名").click()
    expect(page.locator("table.model-list tbody tr")).to_have_count(1)

    page.goto(f"{base_url}{PERSONS}?tab=unsubmitted")
    headers = page.locator("table.model-list thead th").all_inner_texts()
    assert "退回原因" in [h.strip() for h in headers] and "接种站" not in [h.strip() for h in headers]


def test_export_all_after_submitting_everyone_holds_all_staff_with_their_status(
        page, base_url, browser_login, placed, tmp_path):
    browser_login(page, "enterprise", "ent-placed", TEST_PASSWORD)
    page.goto(f"{base_url}{PERSONS}")  # 未提交, empty: everyone here has been submitted
    expect(page.get_by_role("tab", name="未提交")).to_be_visible()
    shoot(page, "enterprise-unsubmitted-exports")
    with page.expect_download() as download:
        page.get_by_role("link", name="导出全部").click()
    saved = tmp_path / "all.xlsx"
    download.value.save_as(saved)
    assert download.value.suggested_filename.startswith("滨海公交集团-全部人员-")
    rows = list(load_workbook(saved).worksheets[0].iter_rows(values_only=True))
    status = rows[0].index("状态")
    assert {row[0]: row[status] for row in rows[1:]} == {
        "已约员工": "已预约", "待约员工": "已分配", "未种员工": "未接种", "续种员工": "待续种"}

    with page.expect_download() as download:
        page.get_by_role("link", name="导出本页签").click()
    download.value.save_as(saved)
    assert download.value.suggested_filename.startswith("滨海公交集团-人员清单-未提交-")
    assert len(list(load_workbook(saved).worksheets[0].iter_rows(values_only=True))) == 1  # the header only
