"""Booking dose 1 also reserves a dose-2 window at the same station (per product); the place follows dose 1."""

import contextlib
import threading
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import event, func, select

from admin_views.notices import window_text
from extensions import db as _db
from models import AppointmentSlot, AuditEvent, Person, SmsMessage, Station, User, appointments, today
from models.vaccines import seed_vaccine_products, set_station_products
from models.workflow import apply_transition
from services.consistency import run_checks

APPOINTMENTS = "/center/appointments/"
VERO, CHO, AD5 = "新冠病毒灭活疫苗(Vero细胞)", "重组新冠病毒蛋白疫苗(CHO细胞)", "腺病毒载体新冠疫苗(Ad5-nCoV)"


def at(days, hour=9):
    return datetime.combine(today() + timedelta(days=days), time(hour))


@pytest.fixture
def world(db, make_station, make_slot, make_enterprise, make_persons, make_user):
    """A station giving the inactivated vaccine (dose 2 21-56 days after dose 1, reserving) by default."""
    products = seed_vaccine_products()
    station = make_station("塘沽接种点")  # default product: the inactivated vaccine
    center = make_user("center")
    set_station_products(center, station, [products[VERO].id, products[CHO].id])
    # Dose 1 tomorrow (5 places); dose-2 windows on days 10 (too early), 25, 30 (2 places each), 70 (too late).
    slots = {d: make_slot(station, starts_at=at(d), capacity=5 if d == 1 else 2) for d in (1, 3, 8, 10, 25, 30, 70)}
    people = make_persons(make_enterprise(), 6, status="allocated", station=station, name="第一剂人员")
    return dict(station=station, slots=slots, people=people, center=center, products=products,
                desk=make_user("station", station))


def _book(world, amount=6, first=0, last=1):
    return appointments.book_in_phases(world["center"], world["station"], Person.id.in_(world["people"]), amount,
                                       today() + timedelta(days=first), today() + timedelta(days=last),
                                       notice=lambda slot: "请按时接种")


def _people(db, ids):
    db.session.expire_all()
    return db.session.execute(select(Person).where(Person.id.in_(ids)).order_by(Person.id)).scalars().all()


def _booked(db, slot):
    db.session.expire_all()
    return db.session.get(AppointmentSlot, slot.id).booked


PLACE_CHECKS = ("slot_over_capacity", "slot_booked_count", "reservation_without_dose_one_booking")


def _check_data_failures(db):
    """check-data's rules on places (the people of the fixtures skip the funnel's history and stamps)."""
    db.session.commit()
    with db.engine.connect() as connection:
        return [f.check.key for f in run_checks(connection) if f.check.key in PLACE_CHECKS and not f.ok]


def test_booking_dose_one_reserves_dose_two_inside_the_interval_and_tells_who_got_none(client, login, db, world):
    login(world["center"])
    db.session.commit()
    page = client.post(f"{APPOINTMENTS}book?station={world['station'].id}&tab=allocated",
                       data={"amount": 6, "first_day": today().isoformat(),
                             "last_day": (today() + timedelta(days=1)).isoformat(), "scope": "all"},
                       follow_redirects=True).get_data(as_text=True)
    slots = world["slots"]
    people = _people(db, world["people"])
    assert [p.slot_id for p in people] == [slots[1].id] * 5 + [None]
    # Day 10 is before day 1 + 21, day 70 after day 1 + 56: only days 25 and 30, within their capacity.
    assert [p.reserved_slot_id for p in people] == [slots[25].id] * 2 + [slots[30].id] * 2 + [None, None]
    assert [_booked(db, slots[d]) for d in (10, 25, 30, 70)] == [0, 2, 2, 0]
    assert "已预约 5 人" in page and "已为其中 4 人同时预留第2剂时段" in page
    assert "另有 1 人未能预留第2剂：本站第2剂接种间隔之内的时段名额不足" in page
    assert _check_data_failures(db) == []


def test_a_product_without_the_setting_books_dose_one_only(client, login, db, world):
    world["products"][VERO].reserve_next_dose = False
    login(world["center"])
    db.session.commit()
    page = client.post(f"{APPOINTMENTS}book?station={world['station'].id}&tab=allocated",
                       data={"amount": 5, "first_day": today().isoformat(),
                             "last_day": (today() + timedelta(days=1)).isoformat(), "scope": "all"},
                       follow_redirects=True).get_data(as_text=True)
    assert "已预约 5 人" in page and "第2剂" not in page
    assert {p.reserved_slot_id for p in _people(db, world["people"])} == {None}
    assert _booked(db, world["slots"][25]) == 0


def test_cancelling_dose_one_gives_the_dose_two_place_back(db, world):
    _book(world, amount=2)
    appointments.cancel_appointments(world["center"], Person.id.in_(world["people"][:1]), "本人要求",
                                     notice=lambda slot, reason: "已取消")
    first, second = _people(db, world["people"][:2])
    assert (first.status, first.reserved_slot_id) == ("allocated", None)
    assert second.reserved_slot_id == world["slots"][25].id
    assert _booked(db, world["slots"][25]) == 1
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "cancel_appointment")).scalar_one()
    assert "next_dose_released=1" in event.detail


def test_not_vaccinated_releases_the_dose_two_place(db, world):
    _book(world, amount=1)
    [pid] = world["people"][:1]
    apply_transition("check_in", world["desk"], ids=[pid])
    apply_transition("mark_not_vaccinated", world["desk"], ids=[pid], reason="发热(体温≥37.3℃)")
    [person] = _people(db, [pid])
    assert (person.status, person.reserved_slot_id) == ("not_vaccinated", None)
    assert _booked(db, world["slots"][25]) == 0
    # Booked again, dose 1 reserves again.
    apply_transition("appoint", world["center"], ids=[pid], slot=world["slots"][3])
    assert _people(db, [pid])[0].reserved_slot_id == world["slots"][25].id


def test_giving_dose_one_turns_the_reserved_window_into_the_dose_two_appointment(db, world):
    _book(world, amount=1)
    [pid] = world["people"][:1]
    apply_transition("check_in", world["desk"], ids=[pid])
    apply_transition("vaccinate", world["desk"], ids=[pid], product=world["products"][VERO],
                     extra={"vaccine_lot": "L1", "signature_png": b"\x89PNG"})
    [person] = _people(db, [pid])
    assert (person.status, person.dose_number, person.doses_given) == ("appointed", 2, 1)
    assert (person.slot_id, person.reserved_slot_id) == (world["slots"][25].id, None)
    assert _booked(db, world["slots"][25]) == 1 and _booked(db, world["slots"][1]) == 1
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "take_up_reservation")).scalar_one()
    assert (event.changed, event.to_status) == (1, "appointed")
    assert _check_data_failures(db) == []


def test_a_reserved_window_outside_the_real_interval_goes_and_the_person_is_due(db, world):
    # Another product given at the desk: CHO's dose 2 comes 28 days after today, the place is on day 25.
    _book(world, amount=1)
    [pid] = world["people"][:1]
    apply_transition("check_in", world["desk"], ids=[pid])
    apply_transition("vaccinate", world["desk"], ids=[pid], product=world["products"][CHO],
                     extra={"vaccine_lot": "L1", "signature_png": b"\x89PNG"})
    [person] = _people(db, [pid])
    assert (person.status, person.slot_id, person.reserved_slot_id) == ("due_next", None, None)
    assert _booked(db, world["slots"][25]) == 0


def test_rescheduling_dose_one_keeps_a_place_still_inside_and_moves_one_outside(db, world):
    _book(world, amount=2)
    slots = world["slots"]
    first, second = world["people"][:2]
    # Day 3: day 25 is still 22 days later, the place stays.
    appointments.reschedule(world["center"], Person.id == first, slots[3], notice=lambda slot: "改约")
    assert _people(db, [first])[0].reserved_slot_id == slots[25].id
    # Day 8: day 25 is 17 days later, too early; day 30 (22 days) has room.
    result = appointments.reschedule(world["center"], Person.id == second, slots[8], notice=lambda slot: "改约")
    assert _people(db, [second])[0].reserved_slot_id == slots[30].id
    assert (result.reservations.reserved, result.released_reservations) == (1, 1)
    assert [_booked(db, slots[d]) for d in (25, 30)] == [1, 1]


@pytest.mark.postgres_only
def test_concurrent_dose_one_bookings_never_overfill_a_dose_two_window(app, db, is_postgres, make_station, make_slot,
                                                                       make_enterprise, make_persons, make_user):
    if not is_postgres:
        pytest.skip("needs PostgreSQL: SQLite serialises writers and hides races")
    products = seed_vaccine_products()
    station = make_station("并发预留接种点")
    center = make_user("center")
    set_station_products(center, station, [products[VERO].id])
    first = {d: make_slot(station, starts_at=at(d), capacity=10) for d in (1, 2)}
    second = {d: make_slot(station, starts_at=at(d), capacity=6) for d in (23, 24, 40)}
    people = make_persons(make_enterprise(), 30, status="allocated", station=station)
    operators = [make_user("center").id for _ in range(3)]
    station_id = station.id
    db.session.commit()
    barrier = threading.Barrier(3)
    outcomes, errors = [], []

    def book(operator_id, share):
        try:
            with app.app_context():
                actor = _db.session.get(User, operator_id)
                barrier.wait(timeout=10)
                outcome = appointments.book_in_phases(actor, _db.session.get(Station, station_id),
                                                      Person.id.in_(share), 10, today(), today() + timedelta(days=3),
                                                      notice=lambda slot: "请按时接种")
                _db.session.commit()
                outcomes.append(outcome)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=book, args=(op, people[i::3])) for i, op in enumerate(operators)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert errors == []
    db.session.expire_all()
    booked = sum(o.booked for o in outcomes)
    reserved = sum(o.reservations.reserved for o in outcomes)
    assert booked == 20 and sum(o.reservations.wanted for o in outcomes) == 20
    held = dict(db.session.execute(select(Person.reserved_slot_id, func.count()).where(Person.id.in_(people))
                                   .group_by(Person.reserved_slot_id)).all())
    assert sum(n for slot_id, n in held.items() if slot_id) == reserved
    for window in list(first.values()) + list(second.values()):
        row = db.session.get(AppointmentSlot, window.id)
        holders = db.session.execute(select(func.count()).select_from(Person).where(
            (Person.slot_id == window.id) | (Person.reserved_slot_id == window.id))).scalar_one()
        assert row.booked == holders <= row.capacity
    # Day 40 is 38-39 days after dose 1: inside the interval, so reservations spill into it once 23 and 24 fill.
    assert reserved == 18 and held.get(second[40].id, 0) == 6
    for person in db.session.execute(select(Person).where(Person.reserved_slot_id.is_not(None))).scalars():
        gap = (db.session.get(AppointmentSlot, person.reserved_slot_id).starts_at - person.slot.starts_at).days
        assert 21 <= gap <= 56


def _texts(db, kind):
    return db.session.execute(select(SmsMessage.body).where(SmsMessage.kind == kind).order_by(SmsMessage.id)
                              ).scalars().all()


def test_the_booking_text_tells_the_reserved_dose_two_window(client, login, db, world):
    login(world["center"])
    db.session.commit()
    client.post(f"{APPOINTMENTS}book?station={world['station'].id}&tab=allocated",
                data={"amount": 6, "first_day": today().isoformat(),
                      "last_day": (today() + timedelta(days=1)).isoformat(), "scope": "all"})
    texts = _texts(db, "appointment")
    assert len(texts) == 5
    held = [t for t in texts if "第2剂已为您预留" in t]
    assert len(held) == 4
    assert sum(window_text(world["slots"][25]) in t for t in held) == 2
    assert sum(window_text(world["slots"][30]) in t for t in held) == 2


def test_cancelling_a_window_moves_or_gives_up_the_dose_two_places_held_in_it(client, login, db, world, make_slot):
    _book(world, amount=4)
    slots = world["slots"]
    later = make_slot(world["station"], starts_at=at(40), capacity=1)
    login(world["center"])
    db.session.commit()
    holders = [p.id for p in _people(db, world["people"]) if p.reserved_slot_id == slots[25].id]
    page = client.post(f"{APPOINTMENTS}cancel", data={"slot": slots[25].id, "reason": "疫苗到货延迟",
                                                      "next": "/center/slots/"},
                       follow_redirects=True).get_data(as_text=True)
    assert "另有 2 人在所取消时段预留了第2剂：1 人已改到接种间隔内的其他时段，1 人无其他空余时段" in page
    # Day 30 is full; day 40 (39 days after dose 1) has one place; the other holder has none left.
    assert sorted((p.reserved_slot_id for p in _people(db, holders)), key=lambda v: (v is None, v)) == [later.id, None]
    assert [_booked(db, slot) for slot in (slots[25], slots[30], later)] == [0, 2, 1]
    texts = _texts(db, "reservation_change")
    assert len(texts) == 2 and all("疫苗到货延迟" in t for t in texts)
    assert sum(window_text(later) in t for t in texts) == 1 and sum("暂无其他空余时段" in t for t in texts) == 1
    event_row = db.session.execute(select(AuditEvent).where(AuditEvent.action == "reservations_moved")).scalar_one()
    assert (event_row.requested, event_row.changed) == (2, 1)
    assert _check_data_failures(db) == []


@pytest.mark.postgres_only
def test_two_days_cancelled_at_once_never_deadlock(app, db, is_postgres, make_station, make_slot, make_enterprise,
                                                   make_persons, make_user):
    if not is_postgres:
        pytest.skip("needs PostgreSQL: row locks")
    station = make_station("并发取消接种点")
    first = [make_slot(station, starts_at=at(1, h), capacity=5) for h in (8, 10)]
    second = [make_slot(station, starts_at=at(25, h), capacity=5) for h in (8, 10)]
    enterprise = make_enterprise()
    # Day 1's people hold dose-2 places on day 25, crosswise; day 25 has dose-2 appointments of its own.
    for window, reserved in ((first[0], second[1]), (first[1], second[0])):
        make_persons(enterprise, 2, status="appointed", station=station, slot=window, reserved_slot_id=reserved.id)
        reserved.booked += 2
    for window in second:
        make_persons(enterprise, 2, status="appointed", station=station, slot=window, doses_given=1, dose_number=2)
    operators = [make_user("center").id for _ in range(2)]
    days = {"first": [w.id for w in first], "second": [w.id for w in second]}
    db.session.commit()
    barrier, waited, errors = threading.Barrier(2), threading.local(), []

    def hold_then_meet(conn, cursor, statement, *args):
        # Each canceller, once it holds its first window, waits for the other to hold one too.
        locking = statement.startswith("UPDATE appointment_slot") or "FOR UPDATE" in statement
        if locking and not getattr(waited, "done", False):
            waited.done = True
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=5)

    def cancel(operator_id, window_ids):
        try:
            with app.app_context():
                actor = _db.session.get(User, operator_id)
                appointments.cancel_windows(actor, window_ids, "停电", notice=lambda slot, reason: "已取消",
                                            reservation_notice=lambda slot, reason: "预留已变更")
                _db.session.commit()
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    event.listen(db.engine, "after_cursor_execute", hold_then_meet)
    try:
        threads = [threading.Thread(target=cancel, args=(operators[i], days[key]))
                   for i, key in enumerate(("first", "second"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        event.remove(db.engine, "after_cursor_execute", hold_then_meet)
    assert errors == []
    db.session.expire_all()
    for window in first + second:
        assert db.session.get(AppointmentSlot, window.id).booked == 0
    assert db.session.execute(select(func.count()).select_from(Person).where(
        Person.station_id == station.id, Person.status == "appointed")).scalar_one() == 0


# ---------------------------------------------------------------- texts from the exit desk

def _through_the_exit_desk(client, login, db, world, form_action, data):
    from tests.test_station_exit import png_data_url

    _book(world, amount=1)
    [pid] = world["people"][:1]
    apply_transition("check_in", world["desk"], ids=[pid])
    db.session.commit()
    login(world["desk"])
    data = {"signature": png_data_url(), **data}
    assert client.post(f"/station/queue/{pid}/{form_action}", data=data).status_code == 302
    return _people(db, [pid])[0]


def test_the_exit_desk_texts_the_dose_two_appointment_its_reserved_window_became(client, login, db, world):
    person = _through_the_exit_desk(client, login, db, world, "vaccinate",
                                    {"product_id": world["products"][VERO].id, "vaccine_lot": "L1"})
    assert (person.status, person.slot_id) == ("appointed", world["slots"][25].id)
    [text] = [t for t in _texts(db, "appointment") if "已完成第1剂" in t]
    assert window_text(world["slots"][25]) in text and "塘沽接种点" in text and "第2剂" in text


def test_the_exit_desk_texts_a_dose_two_place_it_gives_back(client, login, db, world):
    # CHO given: its dose 2 is 28 days later, the place held on day 25 goes back.
    person = _through_the_exit_desk(client, login, db, world, "vaccinate",
                                    {"product_id": world["products"][CHO].id, "vaccine_lot": "L1"})
    assert (person.status, person.reserved_slot_id) == ("due_next", None)
    [text] = _texts(db, "reservation_change")
    assert window_text(world["slots"][25]) in text and "塘沽接种点" in text and "已取消" in text


def test_the_exit_desk_texts_the_place_given_back_when_dose_one_is_not_given(client, login, db, world):
    person = _through_the_exit_desk(client, login, db, world, "not-vaccinated", {"reason": "发热(体温≥37.3℃)"})
    assert (person.status, person.reserved_slot_id) == ("not_vaccinated", None)
    [text] = _texts(db, "reservation_change")
    assert window_text(world["slots"][25]) in text and "塘沽接种点" in text and "发热(体温≥37.3℃)" in text
    assert _texts(db, "appointment_change") == []
