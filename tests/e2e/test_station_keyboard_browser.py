"""接种站端 all day by keyboard and scanner, and the queue and 出站确认 on a tablet beside the nurse.

Enter on a read shown at the desk is 登记; F2 opens 出站确认 of the next person in the queue; after
every action the cursor is back in the ID field, where the scanner types.
"""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from models import Person, now
from tests.conftest import TEST_PASSWORD
from tests.e2e.pages import log_in

TABLET = {"width": 800, "height": 1280}
FINGER = 44  # pixels: the smallest target a finger hits reliably (WCAG 2.5.5, Apple's guidelines)


@pytest.fixture
def desk_day(db, make_station, make_enterprise, make_slot, make_persons, make_user):
    station = make_station("新河街社区卫生服务中心接种点")
    slot = make_slot(station, starts_at=now() - timedelta(minutes=20), minutes=90, capacity=30)
    enterprise = make_enterprise("滨城物流有限公司")
    people = {}
    for key, name, status, waited in (("wang", "王晓东", "appointed", None), ("li", "李明", "appointed", None),
                                      ("zhao", "赵候诊", "checked_in", 25), ("qian", "钱候诊", "checked_in", 10)):
        extra = {"checked_in_at": now() - timedelta(minutes=waited)} if waited else {}
        [people[key]] = make_persons(enterprise, 1, status=status, station=station, slot=slot, name=name, **extra)
    make_user("station", station, username="xinhe-keys")
    db.session.commit()
    return {key: db.session.get(Person, pid) for key, pid in people.items()}


def press_when_ready(page, key):
    """Press `key` once the page's scripts have run (admin_csp.js marks <html>): a key pressed while a page
    is still loading its scripts reaches no handler, as at a real desk; the test is of the handler."""
    expect(page.locator("html")).to_have_class(re.compile("scripts-ready"))
    page.keyboard.press(key)


def open_desk(page, browser_login):
    browser_login(page, "station", "xinhe-keys", TEST_PASSWORD)
    page.wait_for_url(re.compile(r"/station/$"))
    page.wait_for_load_state()
    expect(page.locator("#live-status")).to_have_attribute("data-state", "open")


def status_of(db, person):
    db.session.rollback()
    return db.session.get(Person, person.id).status


def test_a_scan_then_enter_checks_in_and_the_cursor_stays_in_the_id_field(page, browser_login, desk_day, db,
                                                                         screenshot):
    open_desk(page, browser_login)
    field = page.get_by_label("身份证号")
    panel = page.locator("#read-panel .read-card")
    expect(field).to_be_focused()
    field.type(desk_day["wang"].id_number + "\n")  # what a scanner types
    expect(panel.locator(".person-name")).to_have_text("王晓东")
    expect(field).to_be_focused()
    expect(page.locator(".enter-hint")).to_contain_text("回车")
    screenshot(page, "station-desk-keys-read-1366")

    page.keyboard.press("Enter")  # the read shown is checked in
    expect(panel).to_contain_text("已登记，候诊中")
    expect(page.locator(".queue-table tr", has_text="王晓东")).to_be_visible()
    expect(field).to_be_focused()
    assert status_of(db, desk_day["wang"]) == "checked_in"

    page.keyboard.press("Enter")  # again: nothing more to check in; the desk says so and nothing changes
    expect(page.locator("#lookup-error")).not_to_be_empty()
    expect(field).to_be_focused()

    page.get_by_role("button", name="查询").click()  # a mouse click on the desk hands the cursor back, too
    expect(field).to_be_focused()
    field.type(desk_day["li"].id_number + "\n")
    expect(panel.locator(".person-name")).to_have_text("李明")
    page.locator(".recent-reads a", has_text="王晓东").click()  # an earlier read shown again
    expect(panel.locator(".person-name")).to_have_text("王晓东")
    expect(field).to_be_focused()
    page.keyboard.press("Enter")  # 王晓东 is already in the queue: nothing happens to 李明
    expect(field).to_be_focused()
    assert status_of(db, desk_day["li"]) == "appointed"
    page.set_viewport_size({"width": 375, "height": 812})
    screenshot(page, "station-desk-keys-375")
    assert fits_sideways(page)


def test_a_read_outside_its_window_asks_before_enter_checks_in(page, browser_login, desk_day, db, make_slot):
    later = make_slot(desk_day["li"].station, starts_at=now() + timedelta(hours=3), minutes=60)
    db.session.get(Person, desk_day["li"].id).slot_id = later.id
    db.session.commit()
    open_desk(page, browser_login)
    field = page.get_by_label("身份证号")
    field.type(desk_day["li"].id_number + "\n")
    expect(page.get_by_role("button", name="仍然登记")).to_be_visible()
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.keyboard.press("Enter")
    expect(field).to_be_focused()
    assert questions and "不是当前时段" in questions[0]
    assert status_of(db, desk_day["li"]) == "appointed"


def test_f2_opens_the_next_person_in_the_queue_from_every_station_page(page, browser_login, desk_day, screenshot):
    open_desk(page, browser_login)
    expect(page.get_by_role("button", name=re.compile("下一位"))).to_be_visible()
    screenshot(page, "station-desk-keys-1366")
    press_when_ready(page, "F2")  # from the desk, the cursor in the ID field
    expect(page.locator("h4")).to_contain_text("出站确认 · 赵候诊")  # waiting longest
    screenshot(page, "station-exit-keys-1366")
    press_when_ready(page, "F2")  # from 出站确认: the one after
    expect(page.locator("h4")).to_contain_text("出站确认 · 钱候诊")

    page.locator("#not-vaccinated-reason").select_option("其他")
    page.locator("#other-reason").fill("发热，改日接种")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="记录未接种").click()
    expect(page.locator(".alert-success")).to_contain_text("已记录未接种：钱候诊")
    page.wait_for_load_state()
    screenshot(page, "station-queue-keys-1366")
    press_when_ready(page, "F2")  # from 候诊队列 after the action
    expect(page.locator("h4")).to_contain_text("出站确认 · 赵候诊")
    page.wait_for_load_state()


def test_the_queue_is_empty_f2_says_so(page, browser_login, desk_day, db):
    for key in ("zhao", "qian"):
        db.session.get(Person, desk_day[key].id).status = "vaccinated"
    db.session.commit()
    open_desk(page, browser_login)
    press_when_ready(page, "F2")
    expect(page.get_by_role("alert")).to_contain_text("当前没有候诊人员")
    page.wait_for_load_state()


def fits_sideways(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def finger_sized(locator):
    box = locator.bounding_box()
    return box is not None and box["height"] >= FINGER


def test_the_queue_and_the_exit_page_on_a_tablet(browser, base_url, desk_day, screenshot):
    context = browser.new_context(viewport=TABLET, device_scale_factor=2, is_mobile=True, has_touch=True,
                                  locale="zh-CN", base_url=base_url)
    context.set_default_timeout(10000)
    page = context.new_page()
    log_in(page, "station", "xinhe-keys")

    page.goto("/station/queue/")
    rows = page.locator(".queue-table tbody tr")
    expect(rows).to_have_count(2)
    screenshot(page, "station-queue-tablet-800")
    assert fits_sideways(page)
    assert finger_sized(rows.first.get_by_role("link", name="出站确认"))
    assert finger_sized(page.get_by_role("button", name=re.compile("下一位")))

    page.get_by_role("button", name=re.compile("下一位")).click()
    expect(page.locator("h4")).to_contain_text("出站确认 · 赵候诊")
    screenshot(page, "station-exit-tablet-800")
    assert fits_sideways(page)
    pad = page.locator("#signature-pad").bounding_box()
    assert pad["width"] >= 0.8 * TABLET["width"]  # the whole width of the form, to sign with a finger
    for name in ("确认接种", "记录未接种", "清除重签"):
        assert finger_sized(page.get_by_role("button", name=name)), name
    assert finger_sized(page.locator("#not-vaccinated-reason"))
    page.set_viewport_size({"width": 375, "height": 812})
    screenshot(page, "station-exit-375")
    assert fits_sideways(page)
    page.goto("/station/queue/")
    screenshot(page, "station-queue-375")
    assert fits_sideways(page)  # on a phone each waiting person is a card
    expect(rows.first).to_contain_text("赵候诊")
    page.wait_for_load_state()
    context.close()
