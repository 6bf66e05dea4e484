"""Per-dose counters kept by the database: every dose transition and correction keeps them equal to the records."""

import io
from datetime import datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from models import Person, Vaccination
from models.base import today
from models.dose_counts import DoseCount, department_doses, district_doses, enterprise_doses, station_doses
from models.vaccines import seed_vaccine_products
from models.workflow import apply_transition

VERO, AD5 = "新冠病毒灭活疫苗(Vero细胞)", "腺病毒载体新冠疫苗(Ad5-nCoV)"


def _counted(db):
    return {(r.station_id, r.enterprise_id, r.kind): r.n for r in db.session.execute(select(DoseCount)).scalars()
            if r.n}


@pytest.fixture
def world(db, make_enterprise, make_station, make_slot, make_user, make_persons):
    products = seed_vaccine_products()
    station = make_station()
    slot = make_slot(station, capacity=100, starts_at=datetime.combine(today(), datetime.min.time()).replace(hour=9))
    enterprise = make_enterprise()
    actor = make_user("station", station)

    def arrive(count, **values):
        return make_persons(enterprise, count, status="checked_in", station=station, slot=slot, **values)

    return dict(products=products, station=station, enterprise=enterprise, actor=actor, arrive=arrive,
                center=make_user("center"), make_slot=make_slot)


def test_doses_count_under_their_number_and_the_completed_course(db, world):
    s, e = world["station"].id, world["enterprise"].id
    vero, ad5 = world["products"][VERO], world["products"][AD5]
    first = world["arrive"](3)
    second = world["arrive"](2, product_id=vero.id, dose_number=2, doses_given=1)
    single = world["arrive"](1)
    refused = world["arrive"](1)
    apply_transition("vaccinate", world["actor"], ids=first + second, product=vero, extra={"vaccine_lot": "L"})
    apply_transition("vaccinate", world["actor"], ids=single, product=ad5, extra={"vaccine_lot": "L"})
    apply_transition("mark_not_vaccinated", world["actor"], ids=refused, reason="发热")
    db.session.commit()
    assert _counted(db) == {(s, e, "dose1"): 4, (s, e, "dose2"): 2, (s, e, "complete"): 3}
    assert district_doses(today()) == {"today": {"dose1": 4, "dose2": 2, "complete": 3},
                                       "total": {"dose1": 4, "dose2": 2, "complete": 3}}
    assert station_doses(today())[s]["total"] == {"dose1": 4, "dose2": 2, "complete": 3}
    assert enterprise_doses([e]) == {e: {"dose1": 4, "dose2": 2, "complete": 3}}
    assert department_doses(today()) == {world["enterprise"].department_id: {
        "today": {"dose1": 4, "dose2": 2, "complete": 3}, "total": {"dose1": 4, "dose2": 2, "complete": 3}}}

    # A correction turns a record `corrected`: it no longer counts.
    db.session.execute(update(Vaccination).where(Vaccination.person_id == second[0]).values(state="corrected"))
    db.session.commit()
    assert _counted(db) == {(s, e, "dose1"): 4, (s, e, "dose2"): 1, (s, e, "complete"): 2}


def test_boosters_count_as_boosters(db, world):
    s, e = world["station"].id, world["enterprise"].id
    done = world["arrive"](2, product_id=world["products"][VERO].id, dose_number=2, doses_given=1)
    apply_transition("vaccinate", world["actor"], ids=done)
    apply_transition("open_booster", world["center"], ids=done)
    db.session.execute(update(Person).where(Person.id.in_(done)).values(next_dose_earliest=today()))
    slot = world["make_slot"](world["station"], capacity=5, starts_at=datetime.combine(
        today() + timedelta(days=1), datetime.min.time()).replace(hour=9))
    apply_transition("appoint", world["center"], ids=done, slot=slot)
    apply_transition("check_in", world["actor"], ids=done)
    apply_transition("vaccinate", world["actor"], ids=done)
    db.session.commit()
    assert _counted(db) == {(s, e, "dose2"): 2, (s, e, "complete"): 2, (s, e, "booster"): 2}
    real = db.session.execute(select(func.count()).select_from(Vaccination).where(Vaccination.is_booster)).scalar()
    assert real == 2


def test_the_dashboards_show_the_doses(client, login, db, world, make_user):
    vero = world["products"][VERO]
    first = world["arrive"](3)
    second = world["arrive"](2, product_id=vero.id, dose_number=2, doses_given=1)
    apply_transition("vaccinate", world["actor"], ids=first + second, product=vero, extra={"vaccine_lot": "L"})
    db.session.commit()
    login(world["center"])
    page = client.get("/center/").get_data(as_text=True)
    assert "分剂次接种" in page and 'data-live-key="dose:dose1:today">3<' in page
    assert 'data-live-key="dose:complete:total">2<' in page
    live = client.get("/center/live").get_json()["values"]
    s = world["station"].id
    assert (live["dose:dose1:total"], live["dose:dose2:today"], live[f"station:{s}:complete_total"]) == (3, 2, 2)
    client.get("/logout")
    login(make_user("enterprise", world["enterprise"]))
    board = client.get("/enterprise/").get_data(as_text=True)
    assert '已完成第1剂 <strong data-dose="dose1">3</strong>' in board
    assert '全程接种 <strong data-dose="complete">2</strong>' in board
    listing = client.get("/enterprise/enterprise_persons/?tab=due_next").get_data(as_text=True)
    assert listing.count("测试人员") >= 3


def test_the_center_dashboard_shows_each_top_department_s_doses_with_its_units_rolled_in(
        client, login, db, world, make_department, make_enterprise, make_persons, monkeypatch):
    vero = world["products"][VERO]
    top = make_department("区工信局")
    unit = make_department("工信局下属科室", parent=top)
    other = make_department("区商务局")
    at_unit = make_enterprise(department=unit)
    yesterday = datetime.combine(today() - timedelta(days=1), datetime.min.time()).replace(hour=10)
    earlier = world["make_slot"](world["station"], capacity=10, starts_at=yesterday)
    old = make_persons(at_unit, 2, status="checked_in", station=world["station"], slot=earlier)
    with monkeypatch.context() as clock:  # given yesterday, as the exit desk would have written it
        clock.setattr("models.workflow.now", lambda: yesterday)
        apply_transition("vaccinate", world["actor"], ids=old, product=vero, extra={"vaccine_lot": "L"})
    now_due = make_persons(at_unit, 1, status="checked_in", station=world["station"], slot=earlier,
                           product_id=vero.id, dose_number=2, doses_given=1)
    apply_transition("vaccinate", world["actor"], ids=now_due, product=vero, extra={"vaccine_lot": "L"})
    db.session.commit()
    login(world["center"])
    page = client.get("/center/").get_data(as_text=True)
    assert "分剂次接种 · 按审核部门" in page
    # 2 first doses yesterday, 1 second dose (completing the course) today, all at a unit of 区工信局.
    assert f'data-live-key="dept:{top.id}:dose1_total">2<' in page
    assert f'data-live-key="dept:{top.id}:dose1_today">0<' in page
    assert f'data-live-key="dept:{top.id}:dose2_today">1<' in page
    assert f'data-live-key="dept:{top.id}:complete_total">1<' in page
    assert f'data-live-key="dept:{other.id}:dose1_total">0<' in page
    assert f"dept:{unit.id}:" not in page
    live = client.get("/center/live").get_json()["values"]
    assert (live[f"dept:{top.id}:dose1_total"], live[f"dept:{top.id}:complete_today"]) == (2, 1)


def test_station_progress_shows_each_dose_and_counts_a_first_dose_as_given_today(client, login, db, world):
    vero = world["products"][VERO]
    first = world["arrive"](3)
    second = world["arrive"](2, product_id=vero.id, dose_number=2, doses_given=1)
    apply_transition("vaccinate", world["actor"], ids=first + second, product=vero, extra={"vaccine_lot": "L"})
    db.session.commit()
    login(world["actor"])
    page = client.get("/station/progress/panel").get_data(as_text=True)
    assert "分剂次接种" in page
    for kind, n in (("dose1", 3), ("dose2", 2), ("complete", 2), ("booster", 0)):
        assert f'data-dose="{kind}-today">{n}<' in page and f'data-dose="{kind}-total">{n}<' in page
    # the three dose-1 people are 待续种 now: they were vaccinated here today all the same
    assert 'data-total="vaccinated">5<' in page


def test_the_enterprise_export_has_a_column_group_per_dose(client, login, db, world, make_user, monkeypatch):
    vero = world["products"][VERO]
    first_day = datetime.combine(today() - timedelta(days=28), datetime.min.time()).replace(hour=9, minute=30)
    both = world["arrive"](1, name="两剂员工")
    with monkeypatch.context() as clock:
        clock.setattr("models.workflow.now", lambda: first_day)
        apply_transition("vaccinate", world["actor"], ids=both, product=vero, extra={"vaccine_lot": "202011001"})
    db.session.execute(update(Person).where(Person.id.in_(both)).values(status="checked_in"))
    apply_transition("vaccinate", world["actor"], ids=both, product=vero, extra={"vaccine_lot": "202012002"})
    world["arrive"](1, name="未种员工")
    db.session.commit()
    login(make_user("enterprise", world["enterprise"]))
    response = client.get("/enterprise/enterprise_persons/export?all=1", buffered=True)
    rows = list(load_workbook(io.BytesIO(response.data)).worksheets[0].iter_rows(values_only=True))
    header = rows[0]
    # 第1剂 … 第3剂 (the longest seeded course, 重组 CHO 三剂) and 加强, each 接种时间 / 疫苗 / 批号 / 接种站.
    groups = [h for h in header if h.endswith("接种时间")]
    assert groups == ["第1剂接种时间", "第2剂接种时间", "第3剂接种时间", "加强接种时间"]
    people = {row[0]: dict(zip(header, row)) for row in rows[1:]}
    two = people["两剂员工"]
    assert two["第1剂接种时间"] == f"{first_day:%Y-%m-%d %H:%M}" and two["第1剂批号"] == "202011001"
    assert two["第2剂批号"] == "202012002" and two["第2剂疫苗"] == VERO
    assert two["第1剂接种站"] == two["第2剂接种站"] == world["station"].name
    assert two["第3剂接种时间"] is None and two["加强批号"] is None
    assert all(people["未种员工"][f"第{n}剂接种时间"] is None for n in (1, 2, 3))


def test_the_totals_follow_every_record_and_a_corrected_time_moves_its_day(db, world):
    from models.dose_counts import DoseEnterpriseTotal, DoseStationDay, DoseStationTotal
    from services.consistency import CHECKS, run_checks

    vero = world["products"][VERO]
    given = world["arrive"](3)
    apply_transition("vaccinate", world["actor"], ids=given, product=vero, extra={"vaccine_lot": "L"})
    yesterday = datetime.combine(today() - timedelta(days=1), datetime.min.time()).replace(hour=11)
    db.session.execute(update(Vaccination).where(Vaccination.person_id == given[0]).values(at=yesterday))
    db.session.commit()
    s, e = world["station"].id, world["enterprise"].id
    assert {(r.day, r.kind): r.n for r in db.session.execute(select(DoseCount)).scalars() if r.n} == {
        (today(), "dose1"): 2, (yesterday.date(), "dose1"): 1}
    assert {(r.day, r.station_id, r.kind): r.n for r in db.session.execute(select(DoseStationDay)).scalars()
            if r.n} == {(today(), s, "dose1"): 2, (yesterday.date(), s, "dose1"): 1}
    assert {(r.station_id, r.kind): r.n for r in db.session.execute(select(DoseStationTotal)).scalars()} == {
        (s, "dose1"): 3}
    assert {(r.enterprise_id, r.kind): r.n for r in db.session.execute(select(DoseEnterpriseTotal)).scalars()} == {
        (e, "dose1"): 3}
    doses = [c for c in CHECKS if c.key.startswith("dose_")]
    assert [f.count for f in run_checks(db.session.connection(), doses)] == [0, 0, 0, 0]
