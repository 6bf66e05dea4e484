"""The appointment operations of models/appointments.py, called as views, the API and the CLI call them."""

from contextlib import contextmanager
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from admin_views.labels import error_text
from models import AppointmentSlot, AuditEvent, Person, SmsMessage, today
from models.appointments import (
    BookingError,
    SlotNotFound,
    book_in_phases,
    book_into_slot,
    cancel_appointments,
    create_slots,
    delete_slot,
    set_capacity,
)

TOMORROW = today() + timedelta(days=1)


def at(day, hour, minute=0):
    return datetime.combine(day, time(hour, minute))


def texts(db):
    return db.session.execute(select(SmsMessage.body).order_by(SmsMessage.id)).scalars().all()


@contextmanager
def refused(words):
    """The operation raises a BookingError that the consoles show as `words`."""
    with pytest.raises(BookingError) as caught:
        yield
    assert words in error_text(caught.value)


def audit(db, action):
    return db.session.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars().all()


@pytest.fixture
def station(make_station):
    return make_station("新河接种点")


def test_booking_fills_the_earliest_windows_and_texts_in_the_callers_words(
        db, station, make_slot, make_enterprise, make_persons, make_user):
    first = make_slot(station, starts_at=at(TOMORROW, 8), capacity=2)
    second = make_slot(station, starts_at=at(TOMORROW, 10), capacity=2)
    ids = make_persons(make_enterprise(), 5, status="allocated", station=station)
    outcome = book_in_phases(make_user("center"), station, Person.id.in_(ids), 3,
                             TOMORROW, TOMORROW, notice=lambda slot: f"window {slot.id}")
    assert (outcome.wanted, outcome.booked, outcome.remaining) == (3, 3, 0)
    assert [(slot.id, n) for slot, n in outcome.per_slot] == [(first.id, 2), (second.id, 1)]
    assert texts(db) == [f"window {first.id}"] * 2 + [f"window {second.id}"]


def test_booking_refuses_a_missing_amount_and_a_backward_range(db, station, make_user):
    center = make_user("center")
    with refused("请填写预约人数"):
        book_in_phases(center, station, Person.id.in_([]), None, TOMORROW, TOMORROW, notice=str)
    with refused("结束日期不能早于开始日期"):
        book_in_phases(center, station, Person.id.in_([]), 3, TOMORROW, today(), notice=str)


def test_booking_into_one_window_appoints_the_waiting_and_moves_the_appointed(
        db, station, make_slot, make_enterprise, make_persons, make_user):
    old = make_slot(station, starts_at=at(TOMORROW, 8), capacity=5)
    new = make_slot(station, starts_at=at(TOMORROW, 14), capacity=3)
    enterprise = make_enterprise()
    waiting = make_persons(enterprise, 2, status="allocated", station=station)
    appointed = make_persons(enterprise, 2, status="appointed", station=station, slot=old)
    booking = book_into_slot(make_user("station", station), Person.id.in_(waiting + appointed),
                             new, notice=lambda slot: "booked", change_notice=lambda slot: "moved")
    assert (booking.requested, booking.changed, booking.skipped, booking.free_after) == (4, 3, 1, 0)
    db.session.expire_all()
    assert (db.session.get(AppointmentSlot, old.id).booked, db.session.get(AppointmentSlot, new.id).booked) == (1, 3)
    assert sorted(texts(db)) == ["booked", "booked", "moved"]


def test_cancelling_texts_each_window_its_own_words_and_gives_the_places_back(
        db, station, make_slot, make_enterprise, make_persons, make_user):
    morning = make_slot(station, starts_at=at(TOMORROW, 8), capacity=5)
    evening = make_slot(station, starts_at=at(TOMORROW, 18), capacity=5)
    enterprise = make_enterprise()
    ids = make_persons(enterprise, 2, status="appointed", station=station, slot=morning)
    ids += make_persons(enterprise, 1, status="appointed", station=station, slot=evening)
    chosen = Person.id.in_(ids)
    with refused("请填写取消原因"):
        cancel_appointments(make_user("center"), chosen, "  ", notice=lambda slot, reason: "")
    requested, cancelled = cancel_appointments(make_user("center"), chosen, "停电",
                                               notice=lambda slot, reason: f"{slot.starts_at:%H} {reason}")
    assert (requested, cancelled) == (3, 3)
    assert sorted(texts(db)) == ["08 停电", "08 停电", "18 停电"]
    db.session.expire_all()
    assert db.session.get(AppointmentSlot, morning.id).booked == 0


def test_windows_are_created_set_based_skipping_overlaps_and_audited(db, station, make_slot, make_user):
    make_slot(station, starts_at=at(TOMORROW, 8, 30), capacity=5)
    created, skipped = create_slots(make_user("center"), station, TOMORROW, TOMORROW + timedelta(days=1),
                                    [(time(8, 30), time(10)), (time(10), time(11, 30))], 20)
    assert (created, skipped) == (3, 1)
    [event] = audit(db, "slots_created")
    assert (event.target_id, event.changed, event.requested) == (station.id, 3, 4)


@pytest.mark.parametrize("windows, capacity, message", [
    ([], 10, "请填写每日时段"),
    ([(time(8), time(10)), (time(9), time(11))], 10, "同一天的时段不能重叠"),
    ([(time(8), time(10))], 0, "请填写每个时段的容量"),
    ([(time(8), time(10))], None, "请填写每个时段的容量"),
])
def test_unusable_windows_are_refused_and_nothing_is_created(db, station, make_user, windows, capacity, message):
    with refused(message):
        create_slots(make_user("center"), station, TOMORROW, TOMORROW, windows, capacity)
    assert db.session.execute(select(func.count()).select_from(AppointmentSlot)).scalar_one() == 0


def test_only_the_center_manages_windows(db, station, make_slot, make_user):
    slot = make_slot(station)
    operator = make_user("station", station)
    with refused("无权"):
        create_slots(operator, station, TOMORROW, TOMORROW, [(time(8), time(10))], 10)
    with refused("无权"):
        set_capacity(operator, slot.id, 3)
    with refused("无权"):
        delete_slot(operator, slot.id)


def test_capacity_never_drops_below_the_booked_and_a_missing_window_is_not_found(
        db, station, make_slot, make_enterprise, make_persons, make_user):
    slot = make_slot(station, capacity=10)
    make_persons(make_enterprise(), 4, status="appointed", station=station, slot=slot)
    center = make_user("center")
    with refused("已预约 4 人"):
        set_capacity(center, slot.id, 3)
    set_capacity(center, slot.id, 4)
    db.session.expire_all()
    assert db.session.get(AppointmentSlot, slot.id).capacity == 4
    assert [e.target_id for e in audit(db, "slot_capacity_changed")] == [slot.id]
    with pytest.raises(SlotNotFound):
        set_capacity(center, slot.id + 1000, 4)
    with refused("已有预约"):
        delete_slot(center, slot.id)
