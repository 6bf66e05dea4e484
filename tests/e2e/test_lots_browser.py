"""Issue 20's path in a real browser: a lot received, a dose given by scanning its 追溯码, stock down by one,
the person counting down on 留观, an adverse reaction filed from the board and raised on the center
dashboard, 日结 balanced, the lot frozen (not offered any more) with its recipients listed and exported,
and the day's FHIR bundle downloaded and validated.
"""

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from fhir.resources.bundle import Bundle
from playwright.sync_api import expect

from models import now
from models.base import today
from tests.conftest import TEST_PASSWORD
from tests.e2e.test_station_desk import draw_signature
from tests.lot_world import PRODUCT, product

FIRST_CODE = "81234560000000090001"


@pytest.fixture
def lot_day(db, make_station, make_enterprise, make_slot, make_persons, make_user):
    station = make_station("追溯大屏测试接种点")
    slot = make_slot(station, starts_at=now() - timedelta(minutes=30), minutes=180, capacity=30)
    enterprise = make_enterprise("滨城港务有限公司")
    course = product().id
    [sun] = make_persons(enterprise, 1, status="checked_in", station=station, slot=slot, name="孙留观",
                         checked_in_at=now() - timedelta(minutes=8), product_id=course)
    [zhou] = make_persons(enterprise, 1, status="checked_in", station=station, slot=slot, name="周后到",
                          checked_in_at=now() - timedelta(minutes=3), product_id=course)
    make_user("station", station, username="lots-e2e-station")
    make_user("center", username="lots-e2e-center")
    db.session.commit()
    return {"sun": sun, "zhou": zhou}


def test_receive_scan_observe_report_close_freeze_and_report_upward(page, browser, base_url, browser_login, lot_day,
                                                                   screenshot):
    center = browser.new_page()
    browser_login(center, "center", "lots-e2e-center", TEST_PASSWORD)
    center.wait_for_url(re.compile(r"/center/$"))
    center.wait_for_load_state()
    expect(center.locator("#aefi-alert")).to_have_count(0)

    # 疫苗入库: 20 single-dose packages labelled in sequence, 4.8 ℃ on arrival
    browser_login(page, "station", "lots-e2e-station", TEST_PASSWORD)
    page.wait_for_url(re.compile(r"/station/$"))
    page.goto(base_url + "/station/stock/")
    page.get_by_label("疫苗品种").select_option(label=PRODUCT)
    page.get_by_label("生产企业").fill("北京生物制品研究所有限责任公司")
    page.locator("#receive-form").get_by_label("批号", exact=True).fill("E2E2026A")
    page.get_by_label("有效期至").fill((today() + timedelta(days=180)).isoformat())
    page.get_by_label("到货温度（℃）").fill("4.8")
    page.get_by_label("或：首个追溯码（连号包装）").fill(FIRST_CODE)
    page.get_by_label("包装数量").fill("20")
    page.get_by_role("button", name="确认入库").click()
    expect(page.locator(".alert-success")).to_contain_text("已入库：批号 E2E2026A，20 个包装共 20 剂")
    expect(page.locator("#stock-table .on-hand").first).to_have_text("20")

    # 出站确认: the scanner types the code and Enter into the focused field; the lot is recognised
    page.goto(f"{base_url}/station/queue/{lot_day['sun']}/")
    field = page.locator("#trace-code")
    expect(field).to_be_focused()
    page.keyboard.type("81234560000000090007")
    page.keyboard.press("Enter")
    expect(page.locator("#trace-code-status")).to_contain_text("已识别")
    expect(page).to_have_url(re.compile(rf"/station/queue/{lot_day['sun']}/$"))  # Enter did not submit
    assert page.locator("#lot-id option:checked").inner_text().startswith(PRODUCT)
    draw_signature(page)
    page.get_by_role("button", name="确认接种").click()
    expect(page.locator(".alert-success")).to_contain_text("已确认接种：孙留观（第1剂，批号 E2E2026A），进入留观")
    page.goto(base_url + "/station/stock/")
    expect(page.locator("#stock-table .on-hand").first).to_have_text("19")

    # 留观: the wall display counts down by itself
    wall = page.context.new_page()
    wall.goto(base_url + "/station/observation/?wall=1")  # same browser context: logged in
    row = wall.locator(".observation-row", has_text="孙留观")
    expect(row).to_be_visible()
    first = row.locator(".observation-left").inner_text()
    assert re.fullmatch(r"(29|30):\d\d", first), first
    expect(row.locator(".observation-left")).not_to_have_text(first, timeout=3000)
    screenshot(wall, "observation-wall")

    # 异常反应 from the board: the AEFI form opens prefilled with the dose and its lot
    page.goto(base_url + "/station/observation/")
    page.locator(".observation-row", has_text="孙留观").get_by_role("button", name="异常反应").click()
    expect(page.locator("h4")).to_contain_text("异常反应上报 · 孙留观")
    expect(page.locator("#aefi-lot")).to_have_text("E2E2026A")
    page.get_by_label("过敏性皮疹").check()
    page.get_by_label("呼吸困难").check()
    page.get_by_label("严重程度").select_option(label="严重")
    page.get_by_label("处置情况").fill("肾上腺素0.3mg肌注，吸氧，转诊")
    page.get_by_role("button", name="上报").click()
    expect(page.locator(".alert-success")).to_contain_text("已上报异常反应（严重")
    expect(wall.locator(".observation-row", has_text="孙留观")).to_have_count(0, timeout=8000)

    # the center's dashboard raises it without a reload
    expect(center.locator("#aefi-alert")).to_contain_text("1 例严重或群体性疑似异常反应待调查", timeout=10000)
    expect(center.locator("#aefi-alert")).to_contain_text("追溯大屏测试接种点")

    # 日结 balances: 20 received, 1 given, 19 counted
    page.goto(base_url + "/station/stock/day-close")
    expect(page.locator("#day-close-table .book-closing").first).to_have_text("19")
    page.get_by_role("button", name="签认日结").click()
    expect(page.locator(".alert-dismissable.alert-success")).to_contain_text("账实相符")
    expect(page.locator("#close-state")).to_contain_text("已日结")

    # recall: the center freezes the lot; the desk no longer offers it; recipients listed and exported
    center.goto(base_url + "/center/lots/")
    lot_row = center.locator("#lot-table tr", has_text="E2E2026A")
    lot_row.get_by_placeholder("冻结原因").fill("严重异常反应，暂停使用")
    lot_row.get_by_role("button", name="冻结").click()
    expect(center.locator(".alert-success")).to_contain_text("已冻结")
    expect(center.locator("#recipient-table")).to_contain_text("孙留观")
    with center.expect_download() as download:
        center.locator("#recipients-export").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    page.goto(f"{base_url}/station/queue/{lot_day['zhou']}/")
    expect(page.locator("#lot-id")).not_to_contain_text("E2E2026A")
    page.keyboard.type(FIRST_CODE)
    page.keyboard.press("Enter")
    expect(page.locator("#trace-code-status")).to_contain_text("不可用")

    # report upward: today's bundle validates as FHIR R4
    center.goto(f"{base_url}/center/reports/?day={today().isoformat()}")
    with center.expect_download() as download:
        center.locator("#fhir-bundle").click()
    bundle = Bundle.parse_obj(json.loads(Path(download.value.path()).read_text(encoding="utf-8")))
    lots = [e.resource.lotNumber for e in bundle.entry if e.resource.resource_type == "Immunization"]
    assert lots == ["E2E2026A"]
    wall.close()
    center.close()
