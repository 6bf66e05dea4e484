"""The center console in a real browser (CSRF on): the tree opening lazily, confirmations, ticked rows,
allocation to the suggested station, booking, cancelling a window, and the dashboard refreshing itself."""

from datetime import datetime, time, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select, update

from models import Person, SmsMessage, today
from tests.conftest import TEST_PASSWORD


@pytest.fixture
def port(make_territory, make_department, make_enterprise, make_station, make_persons, make_user, db):
    xinhe = make_territory("新河街道")
    group_dept = make_department("天津港集团公司")
    transport = make_department("区交通运输局")
    group = make_enterprise("天津港(集团)有限公司", department=group_dept, territory=xinhe)
    tug = make_enterprise("天津港轮驳有限公司", department=group_dept, parent=group, territory=xinhe)
    bus = make_enterprise("滨海公交集团", department=transport, territory=xinhe)
    station = make_station("新河接种点", territory=xinhe)
    data = dict(group=group, tug=tug, bus=bus, station=station, group_dept=group_dept,
                group_ids=make_persons(group, 2, status="dept_approved", name="集团员工"),
                tug_ids=make_persons(tug, 3, status="dept_approved", name="轮驳员工"),
                bus_ids=make_persons(bus, 4, status="dept_approved", name="公交员工"))
    make_user("center", username="center-browser")
    db.session.commit()
    return data


def _open(page, label):
    """Click the + box of a tree node (not its link, which would choose the node)."""
    summary = page.locator(".center-tree summary").filter(has=page.get_by_role("link", name=label, exact=True))
    summary.click(position={"x": 6, "y": 8})


def _statuses(db, ids):
    db.session.expire_all()
    return dict(db.session.execute(
        select(Person.status, func.count()).where(Person.id.in_(ids)).group_by(Person.status)).all())


def test_tree_opens_lazily_and_approve_all_asks_the_manuals_question(page, base_url, browser_login, port, db,
                                                                    screenshot):
    browser_login(page, "center", "center-browser", TEST_PASSWORD)
    page.goto(f"{base_url}/center/review/")
    _open(page, "天津港集团公司")  # its enterprises are fetched now
    expect(page.get_by_role("link", name="天津港(集团)有限公司", exact=True)).to_be_visible()
    _open(page, "天津港(集团)有限公司")
    page.get_by_role("link", name="天津港轮驳有限公司", exact=True).click()
    expect(page.locator(".node-panel")).to_contain_text(port["tug"].credit_code)
    expect(page.locator("table.model-list")).to_contain_text("轮驳员工")

    page.get_by_role("link", name="天津港(集团)有限公司", exact=True).click()
    expect(page.locator("table.model-list tbody tr")).to_have_count(5)
    screenshot(page, "center-review-tree")
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="全部审核").click()
    expect(page.get_by_text("已处理 5 人，跳过 0 人")).to_be_visible()
    assert questions == ["是否确认全部提交审核（共 5 人）"]
    assert _statuses(db, port["group_ids"] + port["tug_ids"]) == {"center_approved": 5}
    assert _statuses(db, port["bus_ids"]) == {"dept_approved": 4}


def test_batch_buttons_need_ticked_rows_and_return_needs_a_reason(page, base_url, browser_login, port, db):
    browser_login(page, "center", "center-browser", TEST_PASSWORD)
    page.goto(f"{base_url}/center/review/?node=ent:{port['bus'].id}")
    alerts = []
    page.once("dialog", lambda dialog: (alerts.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="批量审核").click()
    assert alerts == ["请先勾选人员"]

    page.locator("input.action-checkbox").first.check()
    page.get_by_placeholder("退回原因").fill("手机号与本人不符")
    page.once("dialog", lambda dialog: (alerts.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="批量退回").click()
    expect(page.get_by_text("已处理 1 人，跳过 0 人")).to_be_visible()
    assert alerts[-1] == "确认将选中的 1 人退回审核部门？"
    assert _statuses(db, port["bus_ids"]) == {"submitted": 1, "dept_approved": 3}


def test_allocate_to_the_suggested_station_book_and_cancel_a_window(page, base_url, browser_login, port, db,
                                                                   make_slot, screenshot):
    tomorrow = today() + timedelta(days=1)
    first = make_slot(port["station"], starts_at=datetime.combine(tomorrow, time(8, 30)), capacity=2)
    make_slot(port["station"], starts_at=datetime.combine(tomorrow, time(10, 0)), capacity=5)
    db.session.execute(update(Person).where(Person.id.in_(port["bus_ids"])).values(status="center_approved"))
    db.session.commit()
    browser_login(page, "center", "center-browser", TEST_PASSWORD)

    page.goto(f"{base_url}/center/allocation/?node=ent:{port['bus'].id}")
    page.get_by_role("button", name="全部分配").click()
    expect(page.get_by_role("heading", name="请选择接种站")).to_be_visible()
    expect(page.locator(".chosen-enterprises")).to_contain_text(f"来自 1 家企业：{port['bus'].name} 4 人")
    expect(page.locator(f"input[name=station_id][value='{port['station'].id}']")).to_be_checked()
    screenshot(page, "center-choose-station")
    page.set_viewport_size({"width": 375, "height": 800})
    screenshot(page, "center-choose-station-phone")
    page.set_viewport_size({"width": 1366, "height": 900})
    page.get_by_role("button", name="确认").click()
    expect(page.get_by_text("已处理 4 人，跳过 0 人")).to_be_visible()

    page.goto(f"{base_url}/center/appointments/?station={port['station'].id}&node=ent:{port['bus'].id}")
    page.get_by_label("预约人数").fill("4")
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="按当前列表预约（4 人）").click()
    expect(page.get_by_text("已预约 4 人")).to_be_visible()
    assert questions == ["确认按当前列表为 4 人预约？（列表共 4 人）"]
    assert _statuses(db, port["bus_ids"]) == {"appointed": 4}

    page.goto(f"{base_url}/center/slots/?station={port['station'].id}")
    row = page.locator("tr", has_text="08:30-10:00")
    row.get_by_text("取消本时段预约").click()
    row.get_by_placeholder("取消原因").fill("医护人员不足")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="确定取消").click()
    expect(page.get_by_text("已取消预约 2 人")).to_be_visible()
    screenshot(page, "center-slots")
    db.session.expire_all()
    assert db.session.get(type(first), first.id).booked == 0
    kinds = dict(db.session.execute(select(SmsMessage.kind, func.count()).group_by(SmsMessage.kind)).all())
    assert kinds == {"appointment": 4, "appointment_cancel": 2}


def test_dashboard_refreshes_its_figures_without_reloading(page, base_url, browser_login, port, db,
                                                           make_persons):
    browser_login(page, "center", "center-browser", TEST_PASSWORD)
    page.clock.install()
    page.goto(f"{base_url}/center/")
    declared = page.locator("[data-figure=declared]")
    expect(declared).to_have_text("9")
    page.evaluate("window.__same_page = true")
    make_persons(port["bus"], 6, status="registered")
    db.session.commit()
    page.clock.fast_forward(11000)
    expect(declared).to_have_text("15")
    assert page.evaluate("window.__same_page") is True  # no reload happened
