"""预约管理: windows created in bulk, capacity edits, phased booking, changes and cancellations with SMS."""

import threading
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import func, select, update

from admin_views.notices import appointment_notice
from extensions import db as _db
from models import AppointmentSlot, Person, SmsMessage, User, appointments, today
from models.workflow import apply_transition

APPOINTMENTS = "/center/appointments/"
SLOTS = "/center/slots/"
TOMORROW = today() + timedelta(days=1)
DAY_AFTER = today() + timedelta(days=2)


def at(day, hour, minute=0):
    return datetime.combine(day, time(hour, minute))


@pytest.fixture
def world(make_station, make_slot, make_enterprise, make_persons, make_user):
    station = make_station("新河接种点")
    other = make_station("塘沽接种点")
    slots = {
        "past": make_slot(station, starts_at=at(today() - timedelta(days=1), 8, 30), capacity=50),
        "t1": make_slot(station, starts_at=at(TOMORROW, 8, 30), capacity=5),
        "t2": make_slot(station, starts_at=at(TOMORROW, 10, 0), capacity=5),
        "d1": make_slot(station, starts_at=at(DAY_AFTER, 8, 30), capacity=5),
        "other": make_slot(other, starts_at=at(TOMORROW, 8, 30), capacity=50),
    }
    alpha = make_enterprise("甲物流有限公司")
    beta = make_enterprise("乙科技有限公司")
    return dict(
        station=station, other=other, slots=slots, alpha=alpha, beta=beta, center=make_user("center"),
        alpha_ids=make_persons(alpha, 12, status="allocated", station=station),
        beta_ids=make_persons(beta, 3, status="allocated", station=station),
        elsewhere=make_persons(alpha, 2, status="allocated", station=other),
        approved=make_persons(alpha, 2, status="center_approved"),
    )


def _booked_in(slot):
    return _db.session.execute(
        select(func.count()).select_from(Person).where(Person.slot_id == slot.id)
    ).scalar_one()


def _slot_booked(slot):
    return _db.session.execute(select(AppointmentSlot.booked).where(AppointmentSlot.id == slot.id)).scalar_one()


def _book(client, world, amount, first=None, last=None, scope="all", node=None, rowid=()):
    url = f"{APPOINTMENTS}book?station={world['station'].id}&tab=waiting"
    if node:
        url += f"&node={node}"
    data = {"amount": amount, "first_day": (first or today() - timedelta(days=1)).isoformat(),
            "last_day": (last or DAY_AFTER).isoformat(), "scope": scope, "rowid": list(rowid)}
    return client.post(url, data=data, follow_redirects=True).get_data(as_text=True)


def _sms():
    return _db.session.execute(select(SmsMessage).order_by(SmsMessage.id)).scalars().all()


# ---------------------------------------------------------------- windows

def test_bulk_creation_reports_created_and_skipped_windows(client, login, world):
    login(world["center"])
    station = world["other"]
    form = {"station": station.id, "first_day": (today() + timedelta(days=5)).isoformat(),
            "last_day": (today() + timedelta(days=7)).isoformat(), "windows": "08:30-10:00，10:00-11:30",
            "capacity": 40}
    first = client.post(f"{SLOTS}create", data=form, follow_redirects=True).get_data(as_text=True)
    assert "已新建 6 个时段，跳过 0 个" in first
    again = client.post(f"{SLOTS}create", data=form, follow_redirects=True).get_data(as_text=True)
    assert "已新建 0 个时段，跳过 6 个" in again
    overlapping = client.post(f"{SLOTS}create", data=dict(form, windows="09:00-10:30,13:30-15:00"),
                              follow_redirects=True).get_data(as_text=True)
    assert "已新建 3 个时段，跳过 3 个" in overlapping
    windows = _db.session.execute(
        select(AppointmentSlot.starts_at, AppointmentSlot.capacity)
        .where(AppointmentSlot.station_id == station.id,
               AppointmentSlot.starts_at >= at(today() + timedelta(days=5), 0))
    ).all()
    assert len(windows) == 9 and {c for _, c in windows} == {40}
    assert {s.time() for s, _ in windows} == {time(8, 30), time(10, 0), time(13, 30)}


@pytest.mark.parametrize(("windows", "message"), [
    ("8点-10点", "时段格式不正确"),
    ("10:00-08:30", "结束时间须晚于开始时间"),
    ("08:30-10:00,09:30-11:00", "同一天的时段不能重叠"),
    ("", "请填写每日时段"),
])
def test_bulk_creation_explains_bad_windows_and_creates_nothing(client, login, world, windows, message):
    login(world["center"])
    count = _db.session.execute(select(func.count(AppointmentSlot.id))).scalar_one()
    form = {"station": world["other"].id, "first_day": TOMORROW.isoformat(), "last_day": DAY_AFTER.isoformat(),
            "windows": windows, "capacity": 10}
    assert message in client.post(f"{SLOTS}create", data=form, follow_redirects=True).get_data(as_text=True)
    assert _db.session.execute(select(func.count(AppointmentSlot.id))).scalar_one() == count


def test_capacity_can_not_go_below_what_is_booked(client, login, world, make_persons):
    login(world["center"])
    slot = world["slots"]["t1"]
    make_persons(world["alpha"], 4, status="appointed", station=world["station"], slot=slot)
    _db.session.commit()
    refused = client.post(f"{SLOTS}{slot.id}/capacity", data={"capacity": 3}, follow_redirects=True)
    assert "容量不能小于已预约人数（该时段已预约 4 人）" in refused.get_data(as_text=True)
    assert _db.session.execute(select(AppointmentSlot.capacity).where(AppointmentSlot.id == slot.id)).scalar_one() == 5
    done = client.post(f"{SLOTS}{slot.id}/capacity", data={"capacity": 4}, follow_redirects=True)
    assert "时段容量已改为 4 人" in done.get_data(as_text=True)


def test_slots_page_shows_each_day_with_booked_and_capacity(client, login, world, make_persons):
    login(world["center"])
    make_persons(world["alpha"], 3, status="appointed", station=world["station"], slot=world["slots"]["t2"])
    _db.session.commit()
    html = client.get(f"{SLOTS}?station={world['station'].id}").get_data(as_text=True)
    assert f"{TOMORROW.isoformat()}" in html and "已预约 3 / 容量 10" in html
    assert "取消本时段预约" in html and "取消当天预约" in html and "批量新建预约时段" in html


def test_an_empty_window_can_be_deleted_a_booked_one_can_not(client, login, world, make_persons):
    login(world["center"])
    make_persons(world["alpha"], 1, status="appointed", station=world["station"], slot=world["slots"]["t1"])
    _db.session.commit()
    booked_id, empty_id = world["slots"]["t1"].id, world["slots"]["t2"].id
    refused = client.post(f"{SLOTS}{booked_id}/delete", follow_redirects=True)
    assert "该时段已有预约，不能删除" in refused.get_data(as_text=True)
    assert "时段已删除" in client.post(f"{SLOTS}{empty_id}/delete", follow_redirects=True).get_data(as_text=True)
    ids = set(_db.session.execute(select(AppointmentSlot.id)).scalars())
    assert booked_id in ids and empty_id not in ids


# ---------------------------------------------------------------- booking in phases

def test_booking_fills_the_earliest_open_windows_in_order(client, login, world):
    login(world["center"])
    page = _book(client, world, 8, node=f"ent:{world['alpha'].id}")
    slots = world["slots"]
    assert "已预约 8 人" in page
    assert (_booked_in(slots["past"]), _booked_in(slots["t1"]), _booked_in(slots["t2"]), _booked_in(slots["d1"])) \
        == (0, 5, 3, 0)
    # Earliest ids first: the first five of 甲 in the first window.
    first_window = set(_db.session.execute(select(Person.id).where(Person.slot_id == slots["t1"].id)).scalars())
    assert first_window == set(world["alpha_ids"][:5])
    # Only 甲's people, only this station's.
    others = world["beta_ids"] + world["elsewhere"]
    assert set(_db.session.execute(select(Person.status).where(Person.id.in_(others))).scalars()) == {"allocated"}


def test_booking_in_two_phases_then_reports_what_remains(client, login, world):
    login(world["center"])
    _book(client, world, 8, node=f"ent:{world['alpha'].id}")
    second = _book(client, world, 20)  # 4 of 甲 and 3 of 乙 wait; 2 + 5 places remain
    assert "已预约 7 人" in second and "未能预约" not in second
    third = _book(client, world, 5, node=f"ent:{world['alpha'].id}")
    assert "没有可预约的人员" in third
    for slot in ("t1", "t2", "d1"):
        assert _booked_in(world["slots"][slot]) == _slot_booked(world["slots"][slot]) == 5


def test_booking_more_than_the_windows_hold_books_up_to_capacity_and_reports_the_rest(client, login, world,
                                                                                    make_persons):
    login(world["center"])
    make_persons(world["beta"], 10, status="allocated", station=world["station"])
    _db.session.commit()
    page = _book(client, world, 25)
    assert "已预约 15 人" in page and "还有 10 人未能预约" in page
    for slot in ("t1", "t2", "d1"):
        assert _booked_in(world["slots"][slot]) == _slot_booked(world["slots"][slot]) == 5
    waiting = _db.session.execute(
        select(func.count()).select_from(Person)
        .where(Person.station_id == world["station"].id, Person.status == "allocated")
    ).scalar_one()
    assert waiting == 12 + 3 + 10 - 15


def test_booking_respects_the_date_range(client, login, world):
    login(world["center"])
    page = _book(client, world, 4, first=DAY_AFTER, last=DAY_AFTER)
    assert "已预约 4 人" in page
    assert (_booked_in(world["slots"]["t1"]), _booked_in(world["slots"]["d1"])) == (0, 4)


def test_booking_ticked_people_books_only_them(client, login, world):
    login(world["center"])
    ticked = world["beta_ids"][:2] + world["approved"][:1]
    page = _book(client, world, 10, scope="ticked", rowid=ticked)
    assert "已预约 2 人" in page
    booked = set(_db.session.execute(select(Person.id).where(Person.status == "appointed")).scalars())
    assert booked == set(world["beta_ids"][:2])


def test_booking_texts_each_booked_person_the_station_and_window(client, login, world):
    login(world["center"])
    _book(client, world, 7, node=f"ent:{world['alpha'].id}")
    messages = _sms()
    assert len(messages) == 7 and {m.kind for m in messages} == {"appointment"}
    assert {m.status for m in messages} == {"queued"}  # the request only queues; the worker sends
    first = f"{TOMORROW.month}月{TOMORROW.day}日 08:30-10:00"
    second = f"{TOMORROW.month}月{TOMORROW.day}日 10:00-11:30"
    bodies = [m.body for m in messages]
    assert sum(first in b for b in bodies) == 5 and sum(second in b for b in bodies) == 2
    assert all("新河接种点" in b and b.startswith("【滨海新区疫苗接种】") for b in bodies)


def test_booking_form_checks_its_input(client, login, world):
    login(world["center"])
    assert "请填写预约人数" in _book(client, world, 0)
    assert "结束日期不能早于开始日期" in _book(client, world, 3, first=DAY_AFTER, last=TOMORROW)
    assert "请先勾选人员" in _book(client, world, 3, scope="ticked")
    assert _db.session.execute(select(func.count()).where(Person.status == "appointed")).scalar_one() == 0


def test_a_database_refusal_while_booking_is_explained_not_a_500(client, login, world, monkeypatch):
    login(world["center"])

    def overfill(actor, station, people, amount, first, last, *, notice, reserved_notice=None):
        _db.session.execute(update(AppointmentSlot).where(AppointmentSlot.id == world["slots"]["t1"].id)
                            .values(booked=AppointmentSlot.capacity + 1))
        return appointments.BookingOutcome(wanted=1, booked=1)

    monkeypatch.setattr(appointments, "book_in_phases", overfill)
    page = _book(client, world, 1)
    assert "预约时段名额已满或已被他人同时预约" in page
    assert _slot_booked(world["slots"]["t1"]) == 0


# ---------------------------------------------------------------- cancelling and changing

@pytest.fixture
def booked(client, login, world):
    login(world["center"])
    _book(client, world, 15)
    _db.session.execute(SmsMessage.__table__.delete())
    _db.session.commit()
    return world


def _cancel(client, **form):
    return client.post(f"{APPOINTMENTS}cancel", data=form, follow_redirects=True).get_data(as_text=True)


def test_cancel_needs_a_reason(client, booked):
    page = _cancel(client, slot=booked["slots"]["t1"].id, reason="  ")
    assert "请填写取消原因" in page
    assert _booked_in(booked["slots"]["t1"]) == 5 and _sms() == []


def test_cancel_ticked_people_texts_them_the_reason(client, booked):
    ticked = booked["alpha_ids"][:1] + booked["alpha_ids"][6:7]  # one in each window of tomorrow
    page = client.post(f"{APPOINTMENTS}cancel?station={booked['station'].id}&tab=appointed",
                       data={"scope": "ticked", "rowid": ticked, "reason": "接种站临时停电"},
                       follow_redirects=True).get_data(as_text=True)
    assert "已取消预约 2 人，跳过 0 人" in page
    rows = set(_db.session.execute(select(Person.status, Person.slot_id).where(Person.id.in_(ticked))).all())
    assert rows == {("allocated", None)}
    assert (_slot_booked(booked["slots"]["t1"]), _slot_booked(booked["slots"]["t2"])) == (4, 4)
    messages = _sms()
    assert len(messages) == 2 and {m.kind for m in messages} == {"appointment_cancel"}
    assert sorted("08:30-10:00" in m.body for m in messages) == [False, True]
    assert all("原因：接种站临时停电" in m.body and "新河接种点" in m.body for m in messages)


def test_cancel_a_whole_window(client, booked):
    slot = booked["slots"]["t2"]
    page = _cancel(client, slot=slot.id, reason="医护人员不足")
    assert "已取消预约 5 人" in page
    assert _booked_in(slot) == _slot_booked(slot) == 0
    assert _booked_in(booked["slots"]["t1"]) == _booked_in(booked["slots"]["d1"]) == 5
    messages = _sms()
    assert len(messages) == 5
    assert all(f"{TOMORROW.month}月{TOMORROW.day}日 10:00-11:30的接种预约已取消" in m.body for m in messages)


def test_cancel_a_whole_day_of_a_station(client, booked):
    page = _cancel(client, station=booked["station"].id, day=TOMORROW.isoformat(), reason="疫苗未到货")
    assert "已取消预约 10 人" in page
    assert (_slot_booked(booked["slots"]["t1"]), _slot_booked(booked["slots"]["t2"]),
            _slot_booked(booked["slots"]["d1"])) == (0, 0, 5)
    assert len(_sms()) == 10
    other_day = _db.session.execute(select(func.count()).where(Person.slot_id == booked["slots"]["d1"].id))
    assert other_day.scalar_one() == 5


def test_cancel_all_of_the_listed_window(client, booked):
    slot = booked["slots"]["d1"]
    page = client.post(f"{APPOINTMENTS}cancel?station={booked['station'].id}&tab=appointed&slot={slot.id}",
                       data={"scope": "all", "reason": "场地调整"}, follow_redirects=True).get_data(as_text=True)
    assert "已取消预约 5 人" in page and _slot_booked(slot) == 0 and _slot_booked(booked["slots"]["t1"]) == 5


def test_reschedule_moves_ticked_people_and_texts_the_new_window(client, booked, make_slot):
    target = make_slot(booked["station"], starts_at=at(DAY_AFTER, 13, 30), capacity=2)
    _db.session.commit()
    ticked = booked["alpha_ids"][:3]
    page = client.post(f"{APPOINTMENTS}reschedule?station={booked['station'].id}&tab=appointed",
                       data={"scope": "ticked", "rowid": ticked, "target_slot": target.id},
                       follow_redirects=True).get_data(as_text=True)
    assert "已改约 2 人" in page and "1 人未改约" in page
    assert _booked_in(target) == _slot_booked(target) == 2
    assert _booked_in(booked["slots"]["t1"]) == _slot_booked(booked["slots"]["t1"]) == 3
    messages = _sms()
    assert len(messages) == 2 and {m.kind for m in messages} == {"appointment_change"}
    assert all(f"{DAY_AFTER.month}月{DAY_AFTER.day}日 13:30-15:00" in m.body for m in messages)


def test_appointment_list_filters_by_window_and_day(client, booked):
    slot = booked["slots"]["t2"]
    html = client.get(f"{APPOINTMENTS}?station={booked['station'].id}&tab=appointed&slot={slot.id}")
    assert html.get_data(as_text=True).count('class="action-checkbox"') == 5
    day = client.get(f"{APPOINTMENTS}?station={booked['station'].id}&tab=appointed&day={TOMORROW.isoformat()}")
    assert day.get_data(as_text=True).count('class="action-checkbox"') == 10


# ---------------------------------------------------------------- capacity under concurrency

@pytest.mark.postgres_only
def test_concurrent_bookings_never_overfill_a_window(app, db, is_postgres, make_station, make_slot,
                                                    make_enterprise, make_persons, make_user):
    if not is_postgres:
        pytest.skip("needs PostgreSQL: SQLite serialises writers and hides races")
    station = make_station("并发接种点")
    slot = make_slot(station, starts_at=at(TOMORROW, 8, 30), capacity=50)
    enterprise = make_enterprise()
    groups = [make_persons(enterprise, 30, status="allocated", station=station) for _ in range(4)]
    operators = [make_user("center").id for _ in range(4)]
    slot_id = slot.id
    db.session.commit()

    barrier = threading.Barrier(4)
    results, errors = [], []

    def book(operator_id, ids):
        try:
            with app.app_context():
                actor = _db.session.get(User, operator_id)
                window = _db.session.get(AppointmentSlot, slot_id)
                barrier.wait(timeout=10)
                result = apply_transition("appoint", actor, ids=ids, slot=window)
                _db.session.commit()
                results.append(result.changed)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=book, args=(operators[i], groups[i])) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(results) == 50
    db.session.expire_all()
    assert _slot_booked(slot) == 50 == _booked_in(slot)


@pytest.mark.postgres_only
def test_two_operators_filling_windows_at_once_stay_within_capacity(app, db, is_postgres, make_station,
                                                                  make_slot, make_enterprise, make_persons,
                                                                  make_user):
    if not is_postgres:
        pytest.skip("needs PostgreSQL: SQLite serialises writers and hides races")
    station = make_station("并发接种点二")
    windows = [make_slot(station, starts_at=at(TOMORROW, 8 + i, 0), minutes=60, capacity=20) for i in range(3)]
    enterprise = make_enterprise()
    groups = [make_persons(enterprise, 40, status="allocated", station=station) for _ in range(2)]
    operators = [make_user("center").id for _ in range(2)]
    station_id = station.id
    db.session.commit()
    barrier = threading.Barrier(2)
    booked, errors = [], []

    def fill(operator_id, ids):
        try:
            with app.app_context():
                actor = _db.session.get(User, operator_id)
                where = _db.session.get(type(station), station_id)
                barrier.wait(timeout=10)
                outcome = appointments.book_in_phases(
                    actor, where, Person.id.in_(ids), 40, TOMORROW, TOMORROW,
                    notice=appointment_notice)
                _db.session.commit()
                booked.append(outcome.booked)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=fill, args=(operators[i], groups[i])) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(booked) == 60
    db.session.expire_all()
    for window in windows:
        assert _slot_booked(window) == _booked_in(window) == 20
    assert _db.session.execute(select(func.count()).select_from(SmsMessage)).scalar_one() == 60
