"""Dose-2 places reserved when dose 1 is booked (a product's 预约第1剂时同时预留下一剂).

VacMe's lesson: people booked dose 1 and then found no dose-2 window inside the interval.
For a station whose dose-1 product has `reserve_next_dose`, booking dose 1 into a window
on day D also holds a place in a window of the same station on a day inside
[D + min, D + max] of the product's dose-2 interval (`Person.reserved_slot_id`, counted in
that window's `booked` like an appointment, so capacity holds for both). What happens next
(the workflow calls these functions inside the transition, so no path can leave a
reservation behind):

- 改约 of dose 1: a reservation still inside the interval of the new day stays; one outside
  it is released and a new one is sought from the new day.
- 取消预约 or 未接种 of dose 1: the reservation is released (the place goes back to the window).
- 完成接种 of dose 1: a reservation inside the dose-2 interval counted from the day dose 1 was
  really given (and the product really given) becomes the dose-2 appointment; one outside
  it (dose 1 given late, another product, a one-dose product) is released and the person
  is 待续种 as without a reservation.

The dose-1 product of a station is its default vaccine (默认疫苗产品) when the station gives
it, else the only product the station gives: what the desk offers first.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import Date, and_, cast, func, select, update

from extensions import db
from models.base import now
from models.org import AppointmentSlot, Station
from models.person import Person
from models.vaccines import station_products

# A product without a latest day for dose 2 is reserved within this many days of its earliest.
OPEN_ENDED_DAYS = 62


@dataclass
class Reservations:
    """How many dose-1 bookings wanted a dose-2 place and how many got one."""

    wanted: int = 0
    reserved: int = 0

    @property
    def unreserved(self):
        return max(self.wanted - self.reserved, 0)

    def __add__(self, other):
        return Reservations(self.wanted + other.wanted, self.reserved + other.reserved)


def dose_two_interval(station_id):
    """(min days, max days) of dose 2 of the station's dose-1 product when it reserves, else None."""
    station = db.session.get(Station, station_id)
    offered = station_products(station_id)
    product = next((p for p in offered if p.name == station.default_vaccine_product), None)
    if product is None and len(offered) == 1:
        product = offered[0]
    if product is None or not product.reserve_next_dose or product.primary_doses < 2:
        return None
    rule = product.rule_for(2)
    low = rule.min_interval_days if rule else 0
    high = rule.max_interval_days if rule and rule.max_interval_days is not None else low + OPEN_ENDED_DAYS
    return low, high


def _windows_for(slot, interval):
    """A condition on AppointmentSlot: the station's windows inside the dose-2 interval counted from `slot`."""
    low, high = interval
    day = slot.starts_at.date()
    return and_(AppointmentSlot.station_id == slot.station_id, AppointmentSlot.id != slot.id,
                AppointmentSlot.starts_at >= max(datetime.combine(day + timedelta(days=low), time.min), slot.ends_at),
                AppointmentSlot.starts_at < datetime.combine(day + timedelta(days=high + 1), time.min))


def reserve_for_booked(event_id, slot):
    """Hold a dose-2 place for each dose-1 person event `event_id` booked into `slot`, earliest window first.

    One UPDATE of persons per dose-2 window used, never one per person.
    """
    interval = dose_two_interval(slot.station_id)
    waiting = and_(Person.last_event_id == event_id, Person.doses_given == 0, Person.reserved_slot_id.is_(None))
    if interval is None:
        return Reservations()
    outcome = Reservations(wanted=_count(waiting))
    windows = db.session.execute(
        select(AppointmentSlot.id).where(_windows_for(slot, interval), AppointmentSlot.ends_at > now(),
                                         AppointmentSlot.booked < AppointmentSlot.capacity)
        .order_by(AppointmentSlot.starts_at, AppointmentSlot.id)
    ).scalars().all()
    for window_id in windows:
        if outcome.reserved >= outcome.wanted:
            break
        take = _take_places(window_id, outcome.wanted - outcome.reserved)
        if take == 0:
            continue
        chosen = select(Person.id).where(waiting).order_by(Person.id).limit(take)
        held = db.session.execute(
            update(Person).where(Person.id.in_(chosen)).values(reserved_slot_id=window_id)
            .execution_options(synchronize_session=False)
        ).rowcount
        if held < take:
            _give_back(window_id, take - held)
        outcome.reserved += held
    db.session.expire_all()
    return outcome


def _take_places(window_id, wanted):
    """Add up to `wanted` to a window's booked within its capacity; 0 when full or being booked by another.

    The window's row is locked (FOR UPDATE SKIP LOCKED on PostgreSQL): a window another
    transaction is filling right now is passed over, not waited for, because this booking
    already holds its dose-1 window and waiting could deadlock with a booker going the other way.
    """
    row = db.session.execute(
        select(AppointmentSlot.booked, AppointmentSlot.capacity).where(AppointmentSlot.id == window_id)
        .with_for_update(skip_locked=True)
    ).one_or_none()
    if row is None:
        return 0
    take = max(min(wanted, row.capacity - row.booked), 0)
    if take:
        db.session.execute(
            update(AppointmentSlot).where(AppointmentSlot.id == window_id,
                                          AppointmentSlot.booked + take <= AppointmentSlot.capacity)
            .values(booked=AppointmentSlot.booked + take).execution_options(synchronize_session=False)
        )
    return take


def _give_back(window_id, count):
    db.session.execute(
        update(AppointmentSlot).where(AppointmentSlot.id == window_id)
        .values(booked=AppointmentSlot.booked - count).execution_options(synchronize_session=False)
    )


def release(condition):
    """Give back the dose-2 places held by the people matching `condition` and forget them; return how many."""
    holding = and_(condition, Person.reserved_slot_id.is_not(None))
    # One row per window (a few), so the condition, which may itself read windows, is never
    # evaluated inside an UPDATE of appointment_slot (it would correlate to the updated row).
    per_window = db.session.execute(
        select(Person.reserved_slot_id, func.count()).where(holding).group_by(Person.reserved_slot_id)
        .order_by(Person.reserved_slot_id)
    ).all()
    if not per_window:
        return 0
    db.session.execute(
        update(Person).where(holding).values(reserved_slot_id=None).execution_options(synchronize_session=False)
    )
    for window_id, count in per_window:
        _give_back(window_id, count)
    db.session.expire_all()
    return sum(count for _, count in per_window)


def move_after_reschedule(event_id, slot):
    """改约 of dose 1 into `slot`: keep reservations still inside the interval, re-seek the others."""
    interval = dose_two_interval(slot.station_id)
    moved = Person.last_event_id == event_id
    if interval is None:
        return Reservations(), release(moved)
    still_inside = Person.reserved_slot_id.in_(select(AppointmentSlot.id).where(_windows_for(slot, interval)))
    released = release(and_(moved, ~still_inside))
    return reserve_for_booked(event_id, slot), released


def day_of(column):
    """The date of a timestamp column, in SQL on either engine."""
    if db.session.get_bind().dialect.name == "postgresql":
        return cast(column, Date)
    return func.date(column)


def inside_next_dose_window():
    """A condition on Person: the reserved window lies inside the person's own next-dose interval and station."""
    day = day_of(AppointmentSlot.starts_at)
    return Person.reserved_slot_id.in_(select(AppointmentSlot.id).where(
        AppointmentSlot.station_id == Person.station_id, AppointmentSlot.ends_at > now(),
        Person.next_dose_earliest.is_not(None), day >= Person.next_dose_earliest,
        (Person.next_dose_latest.is_(None)) | (day <= Person.next_dose_latest)))


def _count(condition):
    return db.session.execute(select(func.count()).select_from(Person).where(condition)).scalar_one()
