"""Two doses in a real browser: one employee through 第1剂, 待续种, 第2剂 and 全程接种.

At each step the center's dashboard (分剂次接种), the enterprise's 人员清单 and the station's
接种进度 show where she is. The three weeks between the doses pass in the database (her
dose 1 is moved 28 days back, as if given then); everything else is done on the screens.
"""

import uuid
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect

from models import Person, ReaderToken, Vaccination, now
from models.vaccines import seed_vaccine_products, set_station_products
from tests.e2e.pages import log_in

VERO = "新冠病毒灭活疫苗(Vero细胞)"
STATION = "新北街接种点"
COMPANY = "滨海港湾物流有限公司"
EMPLOYEE = "王晓梅"


@pytest.fixture
def two_doses(db, make_station, make_enterprise, make_slot, make_persons, make_user):
    """A station giving the two-dose inactivated vaccine (no dose-2 reservation), one employee allocated to it."""
    products = seed_vaccine_products()
    products[VERO].reserve_next_dose = False  # she is to wait in 待续种 between the doses
    station = make_station(STATION)
    center = make_user("center", username="center-doses")
    set_station_products(center, station, [products[VERO].id])
    make_slot(station, starts_at=now() - timedelta(minutes=15), minutes=120, capacity=20)
    enterprise = make_enterprise(COMPANY)
    [person_id] = make_persons(enterprise, 1, status="allocated", station=station, name=EMPLOYEE,
                               allocated_at=now() - timedelta(days=1))
    _, token = ReaderToken.issue(station, "入口1号台")
    make_user("station", station, username="desk-doses")
    make_user("enterprise", enterprise, username="company-doses")
    db.session.commit()
    return {"station": station, "person_id": person_id, "token": token,
            "id_number": db.session.get(Person, person_id).id_number}


def open_page(browser, base_url, role, username):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN", base_url=base_url)
    context.set_default_timeout(10000)
    page = context.new_page()
    log_in(page, role, username)
    return page


def book_today(center, station_id, tab):
    center.goto(f"/center/appointments/?station={station_id}&tab={tab}")
    expect(center.locator("tbody tr", has_text=EMPLOYEE)).to_be_visible()
    center.get_by_label("预约人数").fill("1")
    center.once("dialog", lambda dialog: dialog.accept())
    center.get_by_role("button", name="按当前列表预约（1 人）").click()
    expect(center.get_by_text("已预约 1 人")).to_be_visible()


def read_and_vaccinate(desk, playwright, base_url, world):
    """The reader posts her card; 登记; 出站确认 with her signature; 确认接种."""
    desk.goto("/station/")
    expect(desk.locator("#live-status")).to_have_attribute("data-state", "open")
    api = playwright.request.new_context(base_url=base_url)
    response = api.post("/api/v1/card-reads", headers={"Authorization": f"Bearer {world['token']}"}, data={
        "read_id": str(uuid.uuid4()), "id_number": world["id_number"], "name": EMPLOYEE,
        "reader": "入口1号台", "read_at": now().isoformat(timespec="seconds")})
    assert response.status == 201, response.text()
    api.dispose()
    panel = desk.get_by_role("region", name="读卡结果")
    expect(panel).to_contain_text(EMPLOYEE)
    panel.get_by_role("button", name="登记", exact=True).click()
    expect(panel).to_contain_text("已登记，候诊中")
    desk.get_by_role("region", name="候诊队列").locator("tr", has_text=EMPLOYEE).get_by_role(
        "link", name="出站确认").click()
    expect(desk.get_by_role("heading", name=f"出站确认 · {EMPLOYEE}")).to_be_visible()
    desk.wait_for_load_state()
    box = desk.get_by_label("签名板：请用手指或鼠标签名").bounding_box()
    desk.mouse.move(box["x"] + 20, box["y"] + box["height"] / 2)
    desk.mouse.down()
    for step in range(1, 15):
        desk.mouse.move(box["x"] + 20 + step * 15, box["y"] + box["height"] * (0.3 if step % 2 else 0.7), steps=3)
    desk.mouse.up()
    desk.get_by_role("button", name="确认接种").click()
    expect(desk.get_by_text(f"已确认接种：{EMPLOYEE}")).to_be_visible()


def expect_center_doses(center, figures):
    center.goto("/center/")
    for key, value in figures.items():
        expect(center.locator(f'[data-live-key="dose:{key}"]'), key).to_have_text(str(value))


def expect_station_doses(desk, figures):
    desk.goto("/station/progress/")
    for key, value in figures.items():
        expect(desk.locator(f'[data-dose="{key}"]'), key).to_have_text(str(value))


def expect_staff_row(company, tab, text):
    company.goto("/enterprise/")
    company.get_by_role("link", name="人员清单").first.click()
    company.get_by_role("tab", name=tab).click()
    row = company.locator("tbody tr", has_text=EMPLOYEE)
    expect(row).to_have_count(1)
    expect(row).to_contain_text(text)


def pass_four_weeks(db, person_id):
    """Dose 1 was given 28 days ago: her dose-2 window [21, 56] days after it is open today."""
    shift = timedelta(days=28)
    db.session.expire_all()
    for record in db.session.query(Vaccination).filter(Vaccination.person_id == person_id):
        record.at -= shift
    person = db.session.get(Person, person_id)
    for column in ("allocated_at", "appointed_at", "checked_in_at", "finished_at", "next_dose_earliest",
                   "next_dose_latest"):
        if getattr(person, column) is not None:
            setattr(person, column, getattr(person, column) - shift)
    db.session.commit()


def test_one_employee_through_two_doses_with_every_dashboard(browser, playwright, base_url, db, two_doses):
    if now() + timedelta(minutes=30) >= datetime.combine(now().date(), datetime.max.time()):
        pytest.skip("the window of today around now needs some of today left")
    station_id = two_doses["station"].id
    center = open_page(browser, base_url, "center", "center-doses")
    desk = open_page(browser, base_url, "station", "desk-doses")
    company = open_page(browser, base_url, "enterprise", "company-doses")

    # ---- 第1剂: booked, given; she is 待续种 with her dose-2 window.
    book_today(center, station_id, "waiting")
    read_and_vaccinate(desk, playwright, base_url, two_doses)
    expect_center_doses(center, {"dose1:today": 1, "dose2:today": 0, "complete:today": 0, "dose1:total": 1})
    expect_station_doses(desk, {"dose1-today": 1, "dose2-today": 0, "complete-today": 0})
    first_day = (now().date() + timedelta(days=21)).strftime("%Y-%m-%d")
    expect_staff_row(company, "待续种", f"已接种 1 剂，第2剂 {first_day} 起可接种")

    # ---- 待续种 → 第2剂: four weeks later the center books her from the 待续种 tab; the desk gives dose 2.
    pass_four_weeks(db, two_doses["person_id"])
    book_today(center, station_id, "due_next")
    expect_staff_row(company, "已分配", "已预约")
    read_and_vaccinate(desk, playwright, base_url, two_doses)

    # ---- 全程接种: every level says so.
    # (Dose 1 stays in today's counter: the counters follow records written, not the move back in time.)
    expect_center_doses(center, {"dose2:today": 1, "complete:today": 1, "dose1:total": 1,
                                 "dose2:total": 1, "complete:total": 1})
    expect_station_doses(desk, {"dose2-today": 1, "complete-today": 1, "dose1-total": 1, "complete-total": 1})
    expect_staff_row(company, "已接种", "已接种 2 剂")
    company.goto("/enterprise/")
    expect(company.locator('[data-dose="complete"]')).to_have_text("1")
    db.session.expire_all()
    person = db.session.get(Person, two_doses["person_id"])
    assert (person.status, person.doses_given) == ("vaccinated", 2)
