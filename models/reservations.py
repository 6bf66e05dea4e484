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

from bisect import bisect_left
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import Date, and_, cast, func, select, update

from extensions import db
from models.base import now
from models.org import AppointmentSlot, Station
from models.person import Person
from models.vaccines import station_products
from models.window_assignment import Group, add_booked, assigned, lock_windows, per_window, plan

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
    first_start, end = _bounds(slot, interval)
    return and_(AppointmentSlot.station_id == slot.station_id, AppointmentSlot.id != slot.id,
                AppointmentSlot.starts_at >= first_start, AppointmentSlot.starts_at < end)


def reserve_for_booked(event_id, station_id):
    """Hold a dose-2 place for each dose-1 person event `event_id` booked, in one step for all their windows.

    A person's dose-2 windows lie inside the interval counted from the day of their dose-1
    window; models/window_assignment plans the free places (the people of the earliest
    dose-1 windows first, by id within a window) and one UPDATE of persons holds them all.
    """
    return reserve_places(Person.last_event_id == event_id, station_id)


def reserve_places(people, station_id, excluded=()):
    """Hold a dose-2 place for each dose-1 person of `people` holding none, outside the windows `excluded`."""
    interval = dose_two_interval(station_id)
    if interval is None:
        return Reservations()
    waiting = and_(people, Person.doses_given == 0, Person.reserved_slot_id.is_(None), Person.slot_id.is_not(None))
    booked = dict(db.session.execute(
        select(Person.slot_id, func.count()).where(waiting).group_by(Person.slot_id)).all())
    if not booked:
        return Reservations()
    bounds = {slot.id: _bounds(slot, interval) for slot in db.session.execute(
        select(AppointmentSlot).where(AppointmentSlot.id.in_(sorted(booked)))).scalars()}
    places = [p for p in _free_windows(station_id, min(b[0] for b in bounds.values()),
                                       max(b[1] for b in bounds.values())) if p[0] not in excluded]
    starts = [starts_at for _, starts_at, _ in places]
    groups = {(slot_id,): Group(booked[slot_id], bisect_left(starts, low), bisect_left(starts, high) - 1)
              for slot_id, (low, high) in bounds.items()}
    quotas = plan(groups, [(window_id, free) for window_id, _, free in places])
    if quotas:
        chosen = assigned(waiting, [Person.slot_id], quotas)
        db.session.execute(
            update(Person).where(Person.id == chosen.c.person_id).values(reserved_slot_id=chosen.c.window_id)
            .execution_options(synchronize_session=False))
        add_booked(per_window(quotas))
        db.session.expire_all()
    return Reservations(wanted=sum(booked.values()), reserved=sum(q.size for q in quotas))


def _bounds(slot, interval):
    """[first start, end) of the dose-2 windows for a dose 1 in `slot`: inside the interval, after the window."""
    low, high = interval
    day = slot.starts_at.date()
    return (max(datetime.combine(day + timedelta(days=low), time.min), slot.ends_at),
            datetime.combine(day + timedelta(days=high + 1), time.min))


def _free_windows(station_id, first_start, end):
    """The station's open windows with free places starting in [first_start, end), earliest first.

    Locked with SKIP LOCKED: a window another transaction is filling right now is passed
    over, not waited for, because this booking already holds its dose-1 windows and waiting
    could deadlock with a booker going the other way.
    """
    return lock_windows(and_(AppointmentSlot.station_id == station_id, AppointmentSlot.starts_at >= first_start,
                             AppointmentSlot.starts_at < end, AppointmentSlot.ends_at > now(),
                             AppointmentSlot.booked < AppointmentSlot.capacity), skip_locked=True)


def release(condition):
    """Give back the dose-2 places held by the people matching `condition` and forget them; return how many."""
    holding = and_(condition, Person.reserved_slot_id.is_not(None))
    # One row per window (a few), so the condition, which may itself read windows, is never
    # evaluated inside an UPDATE of appointment_slot (it would correlate to the updated row).
    held = db.session.execute(
        select(Person.reserved_slot_id, func.count()).where(holding).group_by(Person.reserved_slot_id)
        .order_by(Person.reserved_slot_id)
    ).all()
    if not held:
        return 0
    db.session.execute(
        update(Person).where(holding).values(reserved_slot_id=None).execution_options(synchronize_session=False)
    )
    add_booked({window_id: -count for window_id, count in held})
    db.session.expire_all()
    return sum(count for _, count in held)


def move_after_reschedule(event_id, slot):
    """改约 of dose 1 into `slot`: keep reservations still inside the interval, re-seek the others."""
    interval = dose_two_interval(slot.station_id)
    moved = Person.last_event_id == event_id
    if interval is None:
        return Reservations(), release(moved)
    still_inside = Person.reserved_slot_id.in_(select(AppointmentSlot.id).where(_windows_for(slot, interval)))
    released = release(and_(moved, ~still_inside))
    return reserve_for_booked(event_id, slot.station_id), released


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


def move_out_of(person_ids, window_ids, station_id):
    """The dose-2 places the people hold in windows being cancelled: moved to another window, else given up.

    Another window of the station inside each holder's interval (counted from their dose-1
    window) when one has room, never one of `window_ids`. Returns (moved, lost).
    """
    if not person_ids:
        return 0, 0
    people = Person.id.in_(sorted(person_ids))
    release(people)
    moved = reserve_places(people, station_id, excluded=set(window_ids)).reserved
    return moved, len(person_ids) - moved
