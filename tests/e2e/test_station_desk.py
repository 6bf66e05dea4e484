"""接种站端 in a real browser: a read pops up live, 登记, the queue ticks, signing on the pad, the figures move."""

import io
import os
import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import select

from models import Person, ReaderToken, now
from tests.conftest import TEST_PASSWORD
from tests.e2e.pages import log_in

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def station_day(db, make_station, make_enterprise, make_slot, make_persons, make_user):
    station = make_station("新河街社区卫生服务中心接种点")
    slot = make_slot(station, starts_at=now() - timedelta(minutes=20), minutes=90, capacity=30)
    enterprise = make_enterprise("滨城物流有限公司")
    [wang] = make_persons(enterprise, 1, status="appointed", station=station, slot=slot, name="王晓东",
                          phone="13812345678")
    [li] = make_persons(enterprise, 1, status="appointed", station=station, slot=slot, name="李明")
    [zhao] = make_persons(enterprise, 1, status="checked_in", station=station, slot=slot, name="赵候诊",
                          checked_in_at=now() - timedelta(minutes=12))
    _, token = ReaderToken.issue(station, "入口1号台")
    user = make_user("station", station, username="xinhe-e2e")
    center = make_user("center", username="center-e2e-desk")
    db.session.commit()
    return {"station": station, "token": token, "user": user, "center": center, "slot": slot,
            "wang": db.session.get(Person, wang), "li": db.session.get(Person, li), "zhao": zhao}


def run_simulated_agent(token, base_url, tmp_path, *cards):
    args = [sys.executable, "-m", "reader_agent", "--backend", "simulate", "--server", base_url,
            "--queue", str(tmp_path / "queue.sqlite3"), "--reader", "入口1号台", "--exit-when-done"]
    for card in cards:
        args += ["--card", card]
    env = {**os.environ, "READER_TOKEN": token, "PYTHONPATH": str(REPO)}
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=30)


def draw_signature(page, selector="#signature-pad"):
    box = page.locator(selector).bounding_box()
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x + w * 0.1, y + h * 0.7)
    page.mouse.down()
    for step in range(1, 21):
        page.mouse.move(x + w * (0.1 + 0.04 * step), y + h * (0.3 if step % 2 else 0.7), steps=3)
    page.mouse.up()


def center_figure(page, base_url, label):
    page.goto(base_url + "/center/")
    card = page.locator(".figure-card", has_text=label).first
    return int(card.locator(".figure-value").inner_text().replace(",", ""))


def test_a_read_pops_up_live_then_check_in_sign_and_confirm(page, browser, base_url, browser_login, screenshot,
                                                            station_day, db, tmp_path):
    center_page = browser.new_page()
    browser_login(center_page, "center", station_day["center"].username, TEST_PASSWORD)
    # Let each page finish loading before the next navigation: an aborted static-file
    # request leaves werkzeug's dev server an unclosed file (a ResourceWarning).
    center_page.wait_for_url(re.compile(r"/center/$"))
    center_page.wait_for_load_state()
    vaccinated_before = center_figure(center_page, base_url, "完成接种")

    browser_login(page, "station", "xinhe-e2e", TEST_PASSWORD)
    expect(page).to_have_url(re.compile(r"/station/$"))
    page.wait_for_load_state()
    expect(page.locator("#live-status")).to_have_attribute("data-state", "open")
    expect(page.locator(".queue-name", has_text="赵候诊")).to_be_visible()

    started = time.monotonic()
    result = run_simulated_agent(station_day["token"], base_url, tmp_path, f"{station_day['wang'].id_number},王晓东")
    assert result.returncode == 0, result.stderr
    panel = page.locator("#read-panel .read-card")
    expect(panel).to_contain_text("本站已预约")
    expect(panel.locator(".person-name")).to_have_text("王晓东")
    shown_after = time.monotonic() - started
    expect(panel).to_contain_text(station_day["wang"].id_number)
    expect(panel).to_contain_text("138****5678")
    expect(panel).to_contain_text("滨城物流有限公司")
    screenshot(page, "station-desk-read")

    page.get_by_role("button", name="登记", exact=True).click()
    expect(panel).to_contain_text("已登记，候诊中")
    queue_row = page.locator(".queue-table tr", has_text="王晓东")
    expect(queue_row).to_be_visible()
    expect(page.locator(".queue-count")).to_have_text("2 人")
    wait = queue_row.locator(".wait-time")
    expect(wait).to_have_text("0分钟")
    assert "12分钟" in page.locator(".queue-table tr", has_text="赵候诊").inner_text()
    screenshot(page, "station-desk-checked-in")

    queue_row.get_by_role("link", name="出站确认").click()
    expect(page.locator("h4")).to_contain_text("出站确认 · 王晓东")
    expect(page.locator("#vaccine-lot")).to_have_value("LOT1")
    page.get_by_role("button", name="确认接种").click()  # not signed yet: the page asks for it
    expect(page.locator("#signature-error")).to_have_text("请接种人在签名板上签名")
    draw_signature(page)
    assert page.evaluate("() => document.getElementById('signature-pad').toDataURL().length") > 3000
    screenshot(page, "station-exit-signed")
    page.get_by_role("button", name="确认接种").click()
    expect(page.locator(".alert-success")).to_contain_text("已确认接种：王晓东")

    db.session.rollback()
    person = db.session.get(Person, station_day["wang"].id)
    assert person.status == "vaccinated" and person.finished_by_id == station_day["user"].id
    signature = Image.open(io.BytesIO(person.signature_png)).convert("RGBA")
    assert signature.getchannel("A").getbbox() is not None
    assert signature.getchannel("A").point(lambda alpha: 255 if alpha > 32 else 0).histogram()[255] > 300

    assert center_figure(center_page, base_url, "完成接种") == vaccinated_before + 1
    page.wait_for_load_state()
    page.goto(base_url + "/station/progress/")
    expect(page.locator('[data-total="vaccinated"]')).to_have_text("1")
    screenshot(page, "station-progress")
    center_page.close()
    print(f"agent start to person on the desk: {shown_after:.2f} s")


def test_not_vaccinated_with_other_reason_in_the_browser(page, base_url, browser_login, station_day, db):
    browser_login(page, "station", "xinhe-e2e", TEST_PASSWORD)
    page.wait_for_url(re.compile(r"/station/$"))
    page.wait_for_load_state()
    page.goto(f"{base_url}/station/queue/{station_day['zhao']}/")
    other = page.locator("#other-reason-group")
    expect(other).to_be_hidden()
    page.locator("#not-vaccinated-reason").select_option("其他")
    expect(other).to_be_visible()
    page.locator("#other-reason").fill("血压过高，建议改日")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="记录未接种").click()
    expect(page.locator(".alert-success")).to_contain_text("已记录未接种：赵候诊（其他：血压过高，建议改日）")
    page.wait_for_load_state()
    db.session.rollback()
    assert db.session.get(Person, station_day["zhao"]).not_vaccinated_reason == "其他：血压过高，建议改日"


def test_signature_pad_works_with_a_finger_on_a_phone_sized_screen(phone_context, base_url, station_day, db):
    page = phone_context.new_page()
    log_in(page, "station", "xinhe-e2e", base_url=base_url)
    page.goto(f"{base_url}/station/queue/{station_day['zhao']}/")
    pad = page.locator("#signature-pad")
    pad.scroll_into_view_if_needed()
    assert pad.evaluate("el => getComputedStyle(el).touchAction") == "none"
    box = pad.bounding_box()
    cdp = phone_context.new_cdp_session(page)
    y0 = box["y"] + box["height"] / 2

    def touch(kind, x, y):
        points = [] if kind == "touchEnd" else [{"x": x, "y": y}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    scroll_before = page.evaluate("() => window.scrollY")
    touch("touchStart", box["x"] + 20, y0)
    for step in range(1, 16):
        touch("touchMove", box["x"] + 20 + step * (box["width"] - 40) / 15, y0 + (12 if step % 2 else -12))
    touch("touchEnd", 0, 0)
    assert page.evaluate("() => window.scrollY") == scroll_before  # the finger drew; the page did not scroll
    page.get_by_role("button", name="确认接种").click()
    expect(page.locator(".alert-success")).to_contain_text("已确认接种：赵候诊")
    page.wait_for_load_state()
    db.session.rollback()
    person = db.session.get(Person, station_day["zhao"])
    assert person.status == "vaccinated" and len(person.signature_png) > 500
    assert db.session.execute(select(Person.status).where(Person.id == station_day["li"].id)).scalar_one() == \
        "appointed"


def test_an_id_number_typed_or_sent_by_a_keyboard_wedge_reader_shows_the_person(page, base_url, browser_login,
                                                                                 station_day):
    browser_login(page, "station", "xinhe-e2e", TEST_PASSWORD)
    page.wait_for_url(re.compile(r"/station/$"))
    page.wait_for_load_state()
    field = page.locator("#manual-id-number")
    expect(field).to_be_focused()
    field.type("11010519491230002X\n")  # wrong check character
    expect(page.locator("#lookup-error")).to_contain_text("校验位")
    field.fill("")
    field.type(station_day["li"].id_number.lower() + "\n")  # a wedge reader types and presses Enter
    panel = page.locator("#read-panel .read-card")
    expect(panel.locator(".person-name")).to_have_text("李明")
    expect(panel).to_contain_text("本站已预约")
    expect(field).to_have_value("")
    expect(page.locator(".recent-reads li")).to_have_count(1)
