"""实时监测: the center's seven figures and breakdowns equal counts made independently here."""

import re
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import event, select, update

from extensions import db as _db
from models import Enterprise, Person, Vaccination, dose_counts, stats, today
from models.org import TERRITORY
from models.vaccines import seed_vaccine_products
from models.workflow import apply_transition

# Statuses in funnel order, as the DESIGN lists them (independent of models.status).
ORDER = ["registered", "submitted", "dept_approved", "center_approved", "allocated", "appointed",
         "checked_in", "vaccinated"]


def expected_funnel(statuses):
    """The DESIGN funnel computed from a plain list of statuses."""
    def rank(status):
        return ORDER.index("vaccinated") if status == "not_vaccinated" else ORDER.index(status)

    def reached(stage):
        return sum(1 for s in statuses if rank(s) >= ORDER.index(stage))

    return {
        "declared": len(statuses), "submitted": reached("submitted"), "allocated": reached("allocated"),
        "appointed": reached("appointed"), "checked_in": reached("checked_in"),
        "vaccinated": statuses.count("vaccinated"),
    }


@pytest.fixture
def district(make_territory, make_department, make_enterprise, make_station, make_slot, make_persons, make_user):
    street = make_territory("新河街道")
    zone = make_territory("泰达街道")
    industry = make_department("区商务局")
    unit = make_department("区商务局下属所", parent=industry)
    local = make_department("新河街道办", dimension=TERRITORY)
    station = make_station("新河接种点", territory=street)
    other_station = make_station("泰达接种点", territory=zone)
    start = datetime.combine(today(), time(8, 30))
    slot_today = make_slot(station, starts_at=start, capacity=20)
    slot_yesterday = make_slot(station, starts_at=start - timedelta(days=1), capacity=20)
    make_slot(other_station, starts_at=start, capacity=40)
    ent_a = make_enterprise("甲公司", department=industry, territory=street)
    ent_b = make_enterprise("乙公司", department=unit, territory=zone)
    ent_c = make_enterprise("丙公司", department=local, territory=street)
    plan = [  # (enterprise, status, count, station, slot)
        (ent_a, "registered", 4, None, None), (ent_a, "submitted", 3, None, None),
        (ent_b, "dept_approved", 2, None, None), (ent_b, "center_approved", 5, None, None),
        (ent_c, "allocated", 6, station, None), (ent_a, "appointed", 3, station, slot_today),
        (ent_b, "checked_in", 2, station, slot_today), (ent_c, "vaccinated", 4, station, slot_today),
        (ent_a, "vaccinated", 5, station, slot_yesterday), (ent_b, "not_vaccinated", 1, station, slot_yesterday),
        (ent_c, "allocated", 2, other_station, None),
    ]
    statuses, ids = [], {}
    for enterprise, status, count, st, slot in plan:
        new = make_persons(enterprise, count, status=status, station=st, slot=slot)
        ids.setdefault((enterprise.name, status, slot.id if slot else None), []).extend(new)
        statuses += [status] * count
    # Times of the stages, as the desk would have stamped them.
    today_at = datetime.combine(today(), time(9, 0))
    yesterday_at = today_at - timedelta(days=1)
    _stamp(ids[("乙公司", "checked_in", slot_today.id)], checked_in_at=today_at)
    _stamp(ids[("丙公司", "vaccinated", slot_today.id)], checked_in_at=today_at, finished_at=today_at)
    _stamp(ids[("甲公司", "vaccinated", slot_yesterday.id)], checked_in_at=yesterday_at, finished_at=yesterday_at)
    _stamp(ids[("乙公司", "not_vaccinated", slot_yesterday.id)], checked_in_at=yesterday_at, finished_at=yesterday_at)
    return dict(statuses=statuses, station=station, other_station=other_station, slot_today=slot_today,
                industry=industry, unit=unit, local=local, street=street, zone=zone,
                center=make_user("center"))


def _stamp(ids, **values):
    _db.session.execute(update(Person).where(Person.id.in_(ids)).values(**values))
    _db.session.flush()


def _figures_on_page(html):
    return {key: int(value) for key, value in re.findall(r'data-figure="(\w+)"[^>]*>(\d+)<', html)}


def test_dashboard_shows_the_seven_figures_equal_to_independent_counts(client, login, district):
    login(district["center"])
    html = client.get("/center/").get_data(as_text=True)
    expected = expected_funnel(district["statuses"])
    expected["enterprises"] = 3
    assert _figures_on_page(html) == expected
    for label in ("企业数", "申报人数", "提交审核", "分配人数", "预约人数", "接种站登记", "完成接种"):
        assert label in html
    assert expected == {"enterprises": 3, "declared": 37, "submitted": 33, "allocated": 23, "appointed": 15,
                        "checked_in": 12, "vaccinated": 9}


def test_live_endpoint_gives_the_same_figures_and_follows_changes(client, login, district, make_persons,
                                                                 make_enterprise):
    login(district["center"])
    values = client.get("/center/live").get_json()["values"]
    expected = expected_funnel(district["statuses"])
    assert {k: values[f"figure:{k}"] for k in expected} == expected
    assert values["figure:enterprises"] == 3

    make_persons(make_enterprise(), 7, status="submitted")
    _db.session.commit()
    after = client.get("/center/live").get_json()["values"]
    assert after["figure:declared"] == expected["declared"] + 7
    assert after["figure:submitted"] == expected["submitted"] + 7
    assert after["figure:enterprises"] == 4


def test_dashboard_page_polls_the_live_endpoint_with_a_local_script(client, login, district):
    login(district["center"])
    html = client.get("/center/").get_data(as_text=True)
    assert 'data-live-url="/center/live"' in html
    assert "/static/js/center-dashboard.js" in html
    assert "<script>" not in html.replace("<script src", "")  # no inline script
    assert not re.search(r'(src|href)="https?://', html)  # nothing from a CDN


def test_department_breakdown_rolls_child_units_into_their_top_department(district):
    breakdown = stats.department_breakdown()
    industry = dict((d.name, f) for d, f in breakdown["industry"])
    local = dict((d.name, f) for d, f in breakdown["territory"])
    assert "区商务局下属所" not in industry  # rolled up, not listed
    # 区商务局: 甲 (4+3+3+5 = 15) and its unit's 乙 (2+5+2+1 = 10).
    assert industry["区商务局"]["declared"] == 25
    assert industry["区商务局"]["vaccinated"] == 5
    assert industry["区商务局"]["allocated"] == 11  # 甲 appointed 3 + vaccinated 5, 乙 checked in 2 + not 1
    assert local["新河街道办"] == expected_funnel(["allocated"] * 8 + ["vaccinated"] * 4)


def test_territory_breakdown_counts_by_the_enterprises_territory(district):
    rows = {t.name: f for t, f in stats.territory_breakdown()}
    assert rows["新河街道"]["declared"] == 4 + 3 + 6 + 3 + 4 + 5 + 2  # 甲 and 丙
    assert rows["泰达街道"]["declared"] == 2 + 5 + 2 + 1  # 乙


def test_station_breakdown_today_and_in_total(district):
    rows = {r["station"].name: r for r in stats.station_breakdown()}
    main = rows["新河接种点"]
    # Today's window holds 3 appointed + 2 checked in + 4 vaccinated = 9 of 20.
    assert (main["appointed_today"], main["capacity_today"]) == (9, 20)
    assert main["saturation_today"] == pytest.approx(0.45)
    assert (main["checked_in_today"], main["vaccinated_today"]) == (6, 4)
    assert (main["appointed_total"], main["checked_in_total"], main["vaccinated_total"]) == (15, 12, 9)
    assert main["waiting"] == 6
    other = rows["泰达接种点"]
    assert (other["appointed_today"], other["capacity_today"], other["waiting"]) == (0, 40, 2)


@pytest.fixture
def doses(db, district, make_persons, make_user):
    """Doses given through the state machine: today 3 first and 2 second doses, yesterday 1 second."""
    vero = seed_vaccine_products()["新冠病毒灭活疫苗(Vero细胞)"]
    station, slot, nurse = district["station"], district["slot_today"], make_user("station", district["station"])
    enterprise = _db.session.execute(select(Enterprise).where(Enterprise.name == "甲公司")).scalar_one()
    first = make_persons(enterprise, 3, status="checked_in", station=station, slot=slot)
    second = make_persons(enterprise, 3, status="checked_in", station=station, slot=slot,
                          product_id=vero.id, dose_number=2, doses_given=1)
    apply_transition("vaccinate", nurse, ids=first + second, product=vero, extra={"vaccine_lot": "L1"})
    db.session.execute(update(Vaccination).where(Vaccination.person_id == second[0])
                       .values(at=datetime.combine(today() - timedelta(days=1), time(10, 0))))
    db.session.commit()


def test_the_fortnight_counts_doses_per_day_by_dose_number(doses):
    points = dose_counts.daily_doses(14, today())
    assert len(points) == 14 and points[-1][0] == today() and points[0][0] == today() - timedelta(days=13)
    by_day = dict(points)
    assert by_day[today()] == {"dose1": 3, "dose2": 2}  # 全程接种 is no dose of its own
    assert by_day[today() - timedelta(days=1)] == {"dose2": 1}
    assert sum(sum(day.values()) for day in by_day.values()) == 6


def test_the_chart_says_it_counts_doses_and_stacks_them_by_dose_number(client, login, district, doses):
    login(district["center"])
    html = client.get("/center/").get_data(as_text=True)
    card = html[html.index('class="card dash-card trend-card"'):]
    card = card[:card.index("</section>")]
    assert "近14日每日接种剂次" in card and "合计 6 剂次" in card and "完成接种" not in card
    legend = re.findall(r'<span class="swatch dose-(\w+)" aria-hidden="true"></span>([^<]+)</li>', card)
    assert legend == [("dose1", "第1剂"), ("dose2", "第2剂")]
    assert card.count('<rect class="bar"') == 14
    assert f"{today():%Y-%m-%d}：接种 5 剂次（第1剂 3，第2剂 2）" in card
    assert f"{today() - timedelta(days=1):%Y-%m-%d}：接种 1 剂次（第2剂 1）" in card
    assert card.count('<rect class="segment dose-dose1"') == 1 and card.count('<rect class="segment dose-dose2"') == 2


def test_dashboard_counts_people_only_with_grouped_queries(client, login, district, make_persons, make_enterprise):
    login(district["center"])

    def person_statements(url):
        seen = []

        def keep(conn, cursor, statement, parameters, context, executemany):
            if re.search(r"\bFROM person\b", statement):
                seen.append(statement)

        event.listen(_db.engine, "before_cursor_execute", keep)
        try:
            assert client.get(url).status_code == 200
        finally:
            event.remove(_db.engine, "before_cursor_execute", keep)
        return seen

    urls = ("/center/", "/center/live")
    before = {url: person_statements(url) for url in urls}
    make_persons(make_enterprise(), 200, status="allocated", station=district["station"])
    _db.session.commit()
    after = {url: person_statements(url) for url in urls}
    assert {u: len(s) for u, s in after.items()} == {u: len(s) for u, s in before.items()}
    for statement in after["/center/"] + after["/center/live"]:
        assert "count(" in statement, statement  # counted in the database, never loaded row by row
