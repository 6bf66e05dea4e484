"""待续种 booking: the tab by window opening day, phased booking only inside each person's interval, concurrency."""

import threading
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import event, func, select

from extensions import db as _db
from models import AppointmentSlot, AuditEvent, Person, SmsMessage, User, appointments, today
from models.workflow import apply_transition
from services.consistency import run_checks

APPOINTMENTS = "/center/appointments/"


def at(days, hour=9):
    return datetime.combine(today() + timedelta(days=days), time(hour))


def _due(make_persons, enterprise, station, count, earliest, latest, name="续种人员"):
    return make_persons(enterprise, count, status="due_next", station=station, name=name, dose_number=2,
                        doses_given=1, next_dose_earliest=today() + timedelta(days=earliest),
                        next_dose_latest=today() + timedelta(days=latest) if latest is not None else None)


@pytest.fixture
def world(make_station, make_slot, make_enterprise, make_persons, make_user):
    station = make_station("新河接种点")
    enterprise = make_enterprise("甲物流有限公司")
    slots = {d: make_slot(station, starts_at=at(d), capacity=5) for d in (1, 3, 10)}
    return dict(
        station=station, slots=slots, center=make_user("center"),
        closing=_due(make_persons, enterprise, station, 6, earliest=-30, latest=2, name="窗口将关"),
        opening=_due(make_persons, enterprise, station, 4, earliest=3, latest=40, name="窗口三日后开"),
        later=_due(make_persons, enterprise, station, 2, earliest=20, latest=55, name="窗口二十日后开"),
        first_dose=make_persons(enterprise, 1, status="allocated", station=station, name="第一剂人员"),
    )


def _slot_of(db, ids):
    rows = db.session.execute(select(Person.slot_id).where(Person.id.in_(ids))).scalars().all()
    return sorted(rows, key=lambda v: (v is None, v))


def test_the_due_next_tab_lists_people_by_the_day_their_window_opens(client, login, db, world):
    login(world["center"])
    db.session.commit()
    base = f"{APPOINTMENTS}?station={world['station'].id}&tab=due_next"
    page = client.get(base).get_data(as_text=True)
    assert "待续种" in page and "窗口将关" in page and "窗口二十日后开" in page and "第一剂人员" not in page
    narrowed = client.get(f"{base}&opens_from={today():%Y-%m-%d}&opens_to={today() + timedelta(days=5):%Y-%m-%d}")
    text = narrowed.get_data(as_text=True)
    assert "窗口三日后开" in text and "窗口二十日后开" not in text and "窗口将关" not in text


def test_phased_booking_stays_inside_each_interval_and_counts_who_found_no_place(client, login, db, world):
    login(world["center"])
    db.session.commit()
    url = f"{APPOINTMENTS}book?station={world['station'].id}&tab=due_next"
    page = client.post(url, data={"amount": 12, "first_day": today().isoformat(),
                                  "last_day": (today() + timedelta(days=12)).isoformat(), "scope": "all"},
                       follow_redirects=True).get_data(as_text=True)
    slots = world["slots"]
    db.session.expire_all()
    # The window that closes on day 2 had five places on day 1: the sixth person is told, not booked later.
    assert _slot_of(db, world["closing"]) == [slots[1].id] * 5 + [None]
    # Opening on day 3: never day 1, all on day 3.
    assert _slot_of(db, world["opening"]) == [slots[3].id] * 4
    # Opening on day 20: the day-10 window is before it.
    assert _slot_of(db, world["later"]) == [None, None]
    assert "已预约 9 人" in page and "还有 3 人未能预约" in page and "接种间隔之内的时段名额不足" in page
    assert db.session.get(AppointmentSlot, slots[10].id).booked == 0


@pytest.mark.postgres_only
def test_concurrent_next_dose_bookings_keep_to_the_interval_and_the_capacity(app, db, is_postgres, make_station,
                                                                           make_slot, make_enterprise,
                                                                           make_persons, make_user):
    if not is_postgres:
        pytest.skip("needs PostgreSQL: SQLite serialises writers and hides races")
    station = make_station("并发续种接种点")
    windows = {d: make_slot(station, starts_at=at(d), capacity=10) for d in (1, 5, 6, 30)}
    enterprise = make_enterprise()
    due = _due(make_persons, enterprise, station, 40, earliest=5, latest=26)
    operators = [make_user("center").id for _ in range(3)]
    station_id = station.id
    db.session.commit()
    barrier = threading.Barrier(3)
    booked, errors = [], []

    def book(operator_id):
        try:
            with app.app_context():
                actor = _db.session.get(User, operator_id)
                target = _db.session.get(type(station), station_id)
                barrier.wait(timeout=10)
                outcome = appointments.book_in_phases(actor, target, Person.id.in_(due), 40, today(),
                                                      today() + timedelta(days=40), notice=lambda slot: "请按时接种")
                _db.session.commit()
                booked.append(outcome.booked)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=book, args=(operator,)) for operator in operators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert errors == []
    db.session.expire_all()
    held = dict(db.session.execute(select(Person.slot_id, func.count()).where(Person.id.in_(due))
                                   .group_by(Person.slot_id)).all())
    # Day 1 is before the interval, day 30 after it: only days 5 and 6, each up to its capacity.
    assert held == {windows[5].id: 10, windows[6].id: 10, None: 20}
    assert sum(booked) == 20
    for day, window in windows.items():
        assert db.session.get(AppointmentSlot, window.id).booked == held.get(window.id, 0), day


def test_a_booking_over_many_windows_is_one_transition_with_one_update(db, make_station, make_slot, make_enterprise,
                                                                      make_persons, make_user):
    station = make_station("集中预约接种点")
    windows = [make_slot(station, starts_at=at(d, h), capacity=3) for d in (2, 3, 4) for h in (8, 10, 14)]
    due = _due(make_persons, make_enterprise(), station, 25, earliest=3, latest=40)
    statements = []

    def seen(conn, cursor, statement, *args):
        statements.append(" ".join(statement.split())[:40])

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        outcome = appointments.book_in_phases(make_user("center"), station, Person.id.in_(due), 25, today(),
                                              today() + timedelta(days=5), notice=lambda slot: f"{slot.id}号时段")
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    # Day 2 is before everyone's first day: the six windows of days 3 and 4, three each.
    assert outcome.booked == 18 and outcome.remaining == 7
    assert [(slot.id, n) for slot, n in outcome.per_slot] == [(w.id, 3) for w in windows[3:]]
    assert sum(s.startswith("UPDATE person SET") for s in statements) == 1
    assert sum(s.startswith("INSERT INTO person_event") for s in statements) == 1
    assert sum(s.startswith("INSERT INTO sms_message") for s in statements) == 1
    [booking] = db.session.execute(select(AuditEvent).where(AuditEvent.action == "appoint")).scalars().all()
    assert (booking.requested, booking.changed) == (25, 18)
    texts = db.session.execute(select(SmsMessage.body, func.count()).group_by(SmsMessage.body)).all()
    assert sorted(texts) == sorted((f"{w.id}号时段", 3) for w in windows[3:])
    for window in windows:
        assert db.session.get(AppointmentSlot, window.id).booked == len(
            [p for p in due if db.session.get(Person, p).slot_id == window.id])


def test_a_window_goes_first_to_those_whose_interval_closes_before_the_next(db, make_station, make_slot,
                                                                            make_enterprise, make_persons, make_user):
    station = make_station("先到期先约接种点")
    day1, day3 = make_slot(station, starts_at=at(1), capacity=5), make_slot(station, starts_at=at(3), capacity=5)
    enterprise = make_enterprise()
    open_long = _due(make_persons, enterprise, station, 6, earliest=-10, latest=40, name="间隔尚长")
    closing = _due(make_persons, enterprise, station, 5, earliest=-30, latest=2, name="明日截止")
    outcome = appointments.book_in_phases(make_user("center"), station, Person.id.in_(open_long + closing), 20,
                                          today(), today() + timedelta(days=5), notice=lambda slot: "请按时接种")
    # By id alone day 1 would go to the first five of the longer intervals, and nobody closing
    # on day 2 would be booked at all: ten places, ten booked.
    assert outcome.booked == 10 and outcome.remaining == 1
    assert _slot_of(db, closing) == [day1.id] * 5
    assert _slot_of(db, open_long) == [day3.id] * 5 + [None]


@pytest.mark.postgres_only
def test_concurrent_phased_and_single_window_bookers_share_the_windows_within_capacity(
        app, db, is_postgres, make_station, make_slot, make_enterprise, make_persons, make_user):
    if not is_postgres:
        pytest.skip("needs PostgreSQL: SQLite serialises writers and hides races")
    station = make_station("并发混合预约接种点")
    windows = [make_slot(station, starts_at=at(d, h), capacity=8) for d in (2, 3) for h in (8, 10, 14)]
    enterprise = make_enterprise()
    phased = [_due(make_persons, enterprise, station, 30, earliest=2, latest=30) for _ in range(2)]
    single = [make_persons(enterprise, 10, status="allocated", station=station) for _ in range(2)]
    operators = [make_user("center").id for _ in range(4)]
    station_id, window_ids = station.id, [w.id for w in windows]
    db.session.commit()
    barrier = threading.Barrier(4)
    booked, errors = [], []

    def book_phased(operator_id, ids):
        actor = _db.session.get(User, operator_id)
        target = _db.session.get(type(station), station_id)
        barrier.wait(timeout=10)
        return appointments.book_in_phases(actor, target, Person.id.in_(ids), 30, today(),
                                           today() + timedelta(days=5), notice=lambda slot: "请按时接种").booked

    def book_one_window(operator_id, ids):
        actor = _db.session.get(User, operator_id)
        window = _db.session.get(AppointmentSlot, window_ids[0])
        barrier.wait(timeout=10)
        return apply_transition("appoint", actor, ids=ids, slot=window).changed

    def run(work, operator_id, ids):
        try:
            with app.app_context():
                booked.append(work(operator_id, ids))
                _db.session.commit()
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    jobs = [(book_phased, operators[0], phased[0]), (book_phased, operators[1], phased[1]),
            (book_one_window, operators[2], single[0]), (book_one_window, operators[3], single[1])]
    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert errors == []
    db.session.expire_all()
    # 48 places, 80 people wanting them: every place taken once, none twice.
    assert sum(booked) == 48
    for window in windows:
        row = db.session.get(AppointmentSlot, window.id)
        holders = db.session.execute(select(func.count()).select_from(Person).where(
            Person.slot_id == window.id)).scalar_one()
        assert row.booked == holders == row.capacity


STAMP_CHECKS = ("stage_stamp_missing", "stage_stamp_unreached", "stage_stamp_order")


def test_booking_and_cancelling_a_next_dose_keep_the_last_visits_times(db, make_station, make_slot, make_enterprise,
                                                                       make_persons, make_user):
    station = make_station("留存时间接种点")
    window = make_slot(station, starts_at=at(4), capacity=5)
    visit = {f"{stage}_at": datetime.combine(today() - timedelta(days=30), time(8)) + timedelta(minutes=10 * i)
             for i, stage in enumerate(("submitted", "dept_approved", "center_approved", "allocated", "appointed",
                                        "checked_in", "finished"))}
    due = make_persons(make_enterprise(), 2, status="due_next", station=station, dose_number=2, doses_given=1,
                       next_dose_earliest=today() + timedelta(days=1), **visit)
    center = make_user("center")
    appointments.book_in_phases(center, station, Person.id.in_(due), 2, today(), today() + timedelta(days=7),
                                notice=lambda slot: "请按时接种")
    db.session.expire_all()
    first, second = (db.session.get(Person, pid) for pid in due)
    assert first.status == "appointed" and first.slot_id == window.id
    assert (first.checked_in_at, first.finished_at) == (visit["checked_in_at"], visit["finished_at"])
    assert first.appointed_at > visit["finished_at"] and first.allocated_at == visit["allocated_at"]
    appointments.cancel_appointments(center, Person.id == second.id, "本人要求", notice=lambda slot, reason: "已取消")
    db.session.expire_all()
    second = db.session.get(Person, due[1])
    assert second.status == "due_next"
    assert (second.allocated_at, second.checked_in_at, second.finished_at) == (
        visit["allocated_at"], visit["checked_in_at"], visit["finished_at"])
    db.session.commit()
    with db.engine.connect() as connection:
        failing = [f.check.key for f in run_checks(connection) if f.check.key in STAMP_CHECKS and not f.ok]
    assert failing == []
