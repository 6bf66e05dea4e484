"""预约管理 in a real browser: 为勾选人员预约 asks once, with the real count, and only after rows are
ticked; 按当前列表预约 asks with the count before it books."""

from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from models import Person, today
from tests.conftest import TEST_PASSWORD

SHOTS = Path("/work/coord/shots/clerkA")


@pytest.fixture
def booking(make_territory, make_department, make_enterprise, make_station, make_persons, make_slot, make_user, db):
    area = make_territory("新河街道")
    bus = make_enterprise("滨海公交集团", department=make_department("区交通运输局"), territory=area)
    station = make_station("新河接种点", territory=area)
    make_slot(station, starts_at=datetime.combine(today() + timedelta(days=1), time(8, 30)), capacity=10)
    ids = make_persons(bus, 4, status="allocated", name="公交员工", station=station)
    make_user("center", username="center-booking")
    db.session.commit()
    return dict(station=station, ids=ids)


def _appointed(db, ids):
    db.session.expire_all()
    return db.session.scalar(select(func.count()).where(Person.id.in_(ids), Person.status == "appointed"))


def _answer(page, dialogs, accept=(True,)):
    """Record every dialog's text; accept each while accept[0] is true, else dismiss it."""
    page.on("dialog", lambda d: (dialogs.append(d.message), d.accept() if accept[0] else d.dismiss()))


def shoot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1366, 375):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1366, "height": 900})


def test_book_ticked_asks_once_with_the_count_and_nothing_ticked_says_so_first(page, base_url, browser_login,
                                                                                booking, db):
    browser_login(page, "center", "center-booking", TEST_PASSWORD)
    page.goto(f"{base_url}/center/appointments/?station={booking['station'].id}")
    dialogs = []
    _answer(page, dialogs)
    page.get_by_role("button", name="为勾选人员预约").click()
    expect(page.get_by_role("button", name="为勾选人员预约")).to_be_enabled()
    assert dialogs == ["请先勾选人员"]
    assert _appointed(db, booking["ids"]) == 0

    boxes = page.locator("input.action-checkbox")
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.get_by_label("预约人数").fill("4")
    dialogs.clear()
    page.get_by_role("button", name="为勾选人员预约").click()
    expect(page.get_by_text("已预约 2 人")).to_be_visible()
    assert dialogs == ["确认为勾选的 2 人预约？"]
    assert _appointed(db, booking["ids"]) == 2


def test_book_ticked_beyond_the_amount_says_how_many_are_booked(page, base_url, browser_login, booking, db):
    browser_login(page, "center", "center-booking", TEST_PASSWORD)
    page.goto(f"{base_url}/center/appointments/?station={booking['station'].id}")
    page.locator("input.action-checkbox").nth(0).check()
    page.locator("input.action-checkbox").nth(1).check()
    page.locator("input.action-checkbox").nth(2).check()
    page.get_by_label("预约人数").fill("2")
    dialogs = []
    _answer(page, dialogs)
    page.get_by_role("button", name="为勾选人员预约").click()
    expect(page.get_by_text("已预约 2 人")).to_be_visible()
    assert dialogs == ["确认为勾选的 3 人中的 2 人预约？（预约人数为 2）"]


def test_book_the_list_asks_with_the_count_and_cancel_books_nobody(page, base_url, browser_login, booking, db):
    browser_login(page, "center", "center-booking", TEST_PASSWORD)
    page.goto(f"{base_url}/center/appointments/?station={booking['station'].id}")
    page.get_by_label("预约人数").fill("3")
    shoot(page, "center-appointments")
    dialogs, accept = [], [False]
    _answer(page, dialogs, accept)
    page.get_by_role("button", name="按当前列表预约（4 人）").click()
    expect(page.get_by_role("button", name="按当前列表预约（4 人）")).to_be_enabled()
    assert dialogs == ["确认按当前列表为 3 人预约？（列表共 4 人）"]
    assert _appointed(db, booking["ids"]) == 0

    accept[0] = True
    page.get_by_label("预约人数").fill("9")
    page.get_by_role("button", name="按当前列表预约（4 人）").click()
    expect(page.get_by_text("已预约 4 人")).to_be_visible()
    assert dialogs[-1] == "确认按当前列表为 4 人预约？（列表共 4 人）"
    assert _appointed(db, booking["ids"]) == 4
