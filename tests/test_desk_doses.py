"""The desk knows the dose: 间隔不足 and its first allowed day, the last dose, product mismatch, the override."""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from models import AuditEvent, Person, ReaderToken, Vaccination, now
from models.base import today
from models.vaccines import seed_vaccine_products, set_station_products

VERO, CHO = "新冠病毒灭活疫苗(Vero细胞)", "重组新冠病毒蛋白疫苗(CHO细胞)"
FETCH = {"X-Requested-With": "fetch"}


@pytest.fixture
def desk(db, make_station, make_enterprise, make_slot, make_persons, make_user):
    products = seed_vaccine_products()
    station = make_station("新河街社区卫生服务中心接种点")
    slot = make_slot(station, starts_at=now() - timedelta(minutes=30), minutes=120, capacity=20)
    center = make_user("center")
    set_station_products(center, station, [products[VERO].id])
    enterprise = make_enterprise()

    def second_dose(product, days_since_first, **values):
        first = today() - timedelta(days=days_since_first)
        [pid] = make_persons(enterprise, 1, status="appointed", station=station, slot=slot, name="王续种",
                             product_id=products[product].id, dose_number=2, doses_given=1,
                             next_dose_earliest=first + timedelta(days=21 if product == VERO else 28),
                             next_dose_latest=first + timedelta(days=56), **values)
        db.session.execute(insert(Vaccination).values(
            person_id=pid, dose_number=1, is_booster=False, product_id=products[product].id, station_id=station.id,
            outcome="given", at=now() - timedelta(days=days_since_first), state="valid", created_at=now()))
        db.session.commit()
        return db.session.get(Person, pid)

    _, token = ReaderToken.issue(station, "入口1号台")
    db.session.commit()
    return dict(station=station, products=products, second_dose=second_dose, token=token,
                user=make_user("station", station, username="xinhe_desk"),
                supervisor=make_user("station", station, username="xinhe_boss", is_supervisor=True),
                colleague=make_user("station", station, username="xinhe_nurse"))


def _lookup(client, person):
    return client.post("/station/lookup", data={"id_number": person.id_number}, headers=FETCH).get_json()


def test_too_early_shows_the_first_allowed_day_and_the_last_dose_and_check_in_refuses(client, login, db, desk):
    person = desk["second_dose"](VERO, days_since_first=10)
    login(desk["user"])
    html = _lookup(client, person)["html"]
    first_day = today() + timedelta(days=11)
    assert "间隔不足" in html and f"第2剂最早可于 {first_day:%Y-%m-%d} 接种" in html
    assert f"{today() - timedelta(days=10):%Y-%m-%d} · {VERO} · 新河街社区卫生服务中心接种点" in html
    assert "主管批准登记" in html
    refused = client.post("/station/check-in", data={"person_id": person.id}, headers=FETCH)
    assert refused.get_json()["ok"] is False
    assert db.session.get(Person, person.id).status == "appointed"


def test_the_supervisor_overrides_with_a_reason_and_the_audit_log_names_them(client, login, db, desk):
    person = desk["second_dose"](VERO, days_since_first=18)
    login(desk["user"])
    form = {"person_id": person.id, "supervisor": "xinhe_boss", "supervisor_password": "wrong",
            "override_reason": "本人下周出境，持出境证明"}
    assert client.post("/station/check-in/override", data=form, headers=FETCH).get_json()["ok"] is False
    form["supervisor"] = "xinhe_nurse"
    form["supervisor_password"] = "Passw0rd2026"
    assert "不是本站主管" in client.post("/station/check-in/override", data=form, headers=FETCH).get_json()["message"]
    no_reason = client.post("/station/check-in/override", data={**form, "supervisor": "xinhe_boss",
                                                                 "override_reason": " "}, headers=FETCH)
    assert no_reason.status_code == 422
    assert db.session.get(Person, person.id).status == "appointed"
    done = client.post("/station/check-in/override", data={**form, "supervisor": "xinhe_boss"}, headers=FETCH)
    assert done.get_json()["ok"] is True
    db.session.expire_all()
    assert db.session.get(Person, person.id).status == "checked_in"
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "check_in")).scalar_one()
    assert event.reason == "提前接种：本人下周出境，持出境证明"
    assert event.detail == f"interval_override_by={desk['supervisor'].id}"
    refusals = db.session.execute(select(AuditEvent).where(AuditEvent.action == "interval_override_refused"))
    assert len(refusals.scalars().all()) == 2


def test_on_the_first_allowed_day_the_desk_checks_in_as_usual(client, login, db, desk):
    person = desk["second_dose"](VERO, days_since_first=21)
    login(desk["user"])
    assert "本站已预约" in _lookup(client, person)["html"]
    assert client.post("/station/check-in", data={"person_id": person.id}, headers=FETCH).get_json()["ok"] is True


def test_a_course_product_the_station_does_not_give_is_flagged(client, login, db, desk):
    person = desk["second_dose"](CHO, days_since_first=30)
    login(desk["user"])
    html = _lookup(client, person)["html"]
    assert f"疫苗品种不符：该人员前剂次为{CHO}，本站不提供该品种" in html


def test_the_reader_api_answer_carries_the_dose(client, db, desk):
    person = desk["second_dose"](VERO, days_since_first=10)
    answer = client.post("/api/v1/card-reads", headers={"Authorization": f"Bearer {desk['token']}"}, json={
        "read_id": "a1b2c3d4-0000-4000-8000-000000000001", "id_number": person.id_number, "name": "王续种",
        "reader": "Virtual PCD", "read_at": now().isoformat()}).get_json()
    assert (answer["verdict"], answer["verdict_label"]) == ("too_early", "间隔不足")
    dose = answer["dose"]
    assert (dose["number"], dose["label"], dose["complete"]) == (2, "第2剂", False)
    assert dose["first_day"] == (today() + timedelta(days=11)).isoformat()
    assert (dose["last"]["product"], dose["last"]["station"]) == (VERO, "新河街社区卫生服务中心接种点")
    assert dose["product_mismatch"] is None


def test_a_dose_read_costs_one_select_and_the_insert_and_shows_the_last_valid_dose_given(app, client, db, desk):
    from sqlalchemy import event

    person = desk["second_dose"](CHO, days_since_first=30)
    for outcome, state in (("given", "cancelled"), ("not_given", "valid")):  # later, but not a dose given
        db.session.execute(insert(Vaccination).values(
            person_id=person.id, dose_number=2, is_booster=False, product_name="其他疫苗", station_id=None,
            outcome=outcome, at=now() - timedelta(days=1), state=state, created_at=now()))
    number = person.id_number
    db.session.commit()
    headers = {"Authorization": f"Bearer {desk['token']}"}

    def read():
        return client.post("/api/v1/card-reads", headers=headers, json={
            "id_number": number, "read_id": str(uuid.uuid4()), "name": "王续种", "reader": "Virtual PCD"})

    assert read().status_code == 201  # 最近使用 written once
    statements = []
    remember = lambda conn, cursor, statement, *rest: statements.append(statement.split()[0])  # noqa: E731
    engines = [e for e in (db.engine, app.extensions.get("desk_engine")) if e is not None]  # + the desk pool
    for engine in engines:
        event.listen(engine, "before_cursor_execute", remember)
    try:
        answer = read().get_json()
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", remember)
    assert statements == ["SELECT", "INSERT"]
    dose = answer["dose"]
    assert dose["label"] == "第2剂" and dose["product_mismatch"] == CHO
    last = dose["last"]
    assert (last["at"][:10], last["product"], last["station"]) == (
        (today() - timedelta(days=30)).isoformat(), CHO, "新河街社区卫生服务中心接种点")
