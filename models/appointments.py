"""Appointments: the windows of a station, their capacity, booking, changing and cancelling.

Booking fills a station's earliest windows up to their capacity with one set-based
transition for all of them (never one per person nor per window); the workflow holds the
windows' places while it books, so two operators booking the same window can never overfill it.
Every operation takes the actor, checks what the actor may do, writes the audit trail,
flushes and never commits. The people moved are texted: the caller passes the wording
(a function of the window), because the words of a message belong to the UI layer.
"""

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import String, and_, case, delete, func, insert, literal, or_, select, update

from extensions import db
from models.audit import record_event
from models.base import now
from models.org import AppointmentSlot
from models.person import Person
from models.reservations import Reservations, move_out_of
from models.status import ALLOCATED, APPOINTED, DUE_NEXT, NOT_VACCINATED
from models.user import ADMIN, CENTER, STATION
from models.window_assignment import lock_windows_of
from models.workflow import TRANSITIONS, WorkflowError, apply_transition, appoint_across_windows
from services.sms import notify_persons, notify_persons_of_event

APPOINTABLE = tuple(sorted(TRANSITIONS["appoint"].sources))
SLOT_MANAGERS = (CENTER, ADMIN)
MAX_CAPACITY = 100000
MAX_RANGE_DAYS = 62


class BookingError(WorkflowError):
    """A booking or window change that cannot be made as asked; its code is worded by admin_views/labels.py."""


class SlotNotFound(LookupError):
    """The window asked for does not exist (the view answers 404)."""


@dataclass
class BookingOutcome:
    """What a phased booking did: how many were wanted and booked, and into which windows."""

    wanted: int
    booked: int = 0
    per_slot: list = field(default_factory=list)  # [(slot, count)]
    # Dose-1 people of a product that reserves dose 2, and how many got a dose-2 place.
    reservations: Reservations = field(default_factory=Reservations)

    @property
    def remaining(self):
        return max(self.wanted - self.booked, 0)


@dataclass
class SlotBooking:
    """What booking the chosen people into one window did."""

    requested: int
    changed: int
    free_after: int
    reservations: Reservations = field(default_factory=Reservations)

    @property
    def skipped(self):
        return max(self.requested - self.changed, 0)


# ---------------------------------------------------------------- reading windows

def day_bounds(first_day, last_day):
    """The datetimes [start of first_day, start of the day after last_day)."""
    return datetime.combine(first_day, time.min), datetime.combine(last_day + timedelta(days=1), time.min)


def open_slots(station, first_day, last_day):
    """Windows of a station between two days that have not ended and have free places, earliest first."""
    start, end = day_bounds(first_day, last_day)
    return db.session.execute(
        select(AppointmentSlot)
        .where(AppointmentSlot.station_id == station.id, AppointmentSlot.starts_at >= start,
               AppointmentSlot.starts_at < end, AppointmentSlot.ends_at > now(),
               AppointmentSlot.booked < AppointmentSlot.capacity)
        .order_by(AppointmentSlot.starts_at, AppointmentSlot.id)
    ).scalars().all()


def upcoming_slots(station_id, days):
    """Windows of the station that have not ended and start within `days` days, full or not."""
    current = now()
    return db.session.execute(
        select(AppointmentSlot).where(AppointmentSlot.station_id == station_id, AppointmentSlot.ends_at > current,
                                      AppointmentSlot.starts_at < current + timedelta(days=days))
        .order_by(AppointmentSlot.starts_at)
    ).scalars().all()


def slot_ids_between(station_id, first_day, last_day):
    """A select of the ids of the station's windows starting on the days first_day..last_day."""
    start, end = day_bounds(first_day, last_day)
    return select(AppointmentSlot.id).where(AppointmentSlot.station_id == station_id,
                                            AppointmentSlot.starts_at >= start, AppointmentSlot.starts_at < end)


def slots_between(station_id, first_day, last_day):
    """The station's windows starting on the days first_day..last_day, earliest first."""
    return db.session.execute(
        select(AppointmentSlot).where(AppointmentSlot.id.in_(slot_ids_between(station_id, first_day, last_day)))
        .order_by(AppointmentSlot.starts_at)
    ).scalars().all()


def _count(condition):
    return db.session.execute(select(func.count()).select_from(Person).where(condition)).scalar_one()


# ---------------------------------------------------------------- booking, changing, cancelling

def book_in_phases(actor, station, people, amount, first_day, last_day, *, notice, reserved_notice=None):
    """Book up to `amount` of `people` (a condition on Person) into the station's earliest free windows.

    One appoint transition for all the windows (workflow.appoint_across_windows): each
    person goes into a window inside their next-dose interval, no window past its capacity.
    For a station whose dose-1 product reserves dose 2, the workflow also holds each booked
    person's dose-2 place at the station (models/reservations.py); `outcome.reservations`
    counts who found none. `notice(slot)` is the text each booked person receives, with
    `reserved_notice(slot)` of the dose-2 window held for them added.
    """
    if amount is None or amount < 1:
        raise BookingError("amount_required")
    _check_range(first_day, last_day)
    eligible = and_(people, Person.station_id == station.id, Person.status.in_(APPOINTABLE))
    windows = open_slots(station, first_day, last_day)
    if not windows:
        return BookingOutcome(wanted=min(amount, _count(eligible)))
    # Worded now: the transition expires the loaded windows, and reloading them one by one costs a query each.
    texts = {w.id: notice(w) for w in windows}
    result = appoint_across_windows(actor, where=eligible, windows=windows, limit=amount)
    booked = {w.id: w for w in db.session.execute(
        select(AppointmentSlot).where(AppointmentSlot.id.in_(sorted(result.per_slot)))).scalars()}
    outcome = BookingOutcome(wanted=result.requested, booked=result.changed, reservations=result.reservations,
                             per_slot=[(booked[i], result.per_slot[i]) for i in texts if result.per_slot.get(i)])
    if result.changed:
        text_the_booked(result, texts, "appointment", reserved_notice)
    return outcome


def text_the_booked(result, texts, kind, reserved_notice=None):
    """Queue each person the transition moved the text of their window, with one INSERT ... SELECT.

    `texts` {window id: words}; `reserved_notice(slot)`, when given, is added for whoever
    holds a dose-2 window (so they are told its time when it is held or kept).
    """
    body = case({window_id: texts[window_id] for window_id in result.per_slot}, value=Person.slot_id)
    if reserved_notice is not None:
        held = db.session.execute(select(AppointmentSlot).where(AppointmentSlot.id.in_(
            select(Person.reserved_slot_id).where(Person.last_event_id == result.event_id,
                                                  Person.reserved_slot_id.is_not(None))))).scalars().all()
        if held:
            body = body + func.coalesce(case({s.id: reserved_notice(s) for s in held},
                                             value=Person.reserved_slot_id), literal("", String))
    notify_persons_of_event(result.event_id, body, kind)


def within_latest(slot):
    """The window is not after the last day of a person's next-dose interval (none for dose 1)."""
    day = slot.starts_at.date()
    return or_(Person.next_dose_latest.is_(None), Person.next_dose_latest >= day)


def next_dose_opening(first_day, last_day):
    """People waiting for a next dose whose window opens between two days (the 待续种 tab's range)."""
    return and_(Person.status == DUE_NEXT, Person.next_dose_earliest >= first_day,
                Person.next_dose_earliest <= last_day)


def book_into_slot(actor, people, slot, *, notice, change_notice, reserved_notice=None):
    """预约 the people matching `people` not yet appointed, 改约 the appointed ones, into one window.

    Within the window's free places; those already in it are skipped. `notice(slot)`
    texts the newly booked, `change_notice(slot)` the moved, each with `reserved_notice(slot)`
    of the dose-2 window held for them added.
    """
    if slot.ends_at <= now():
        raise BookingError("slot_over")
    requested = _count(people)
    changed = 0
    reservations = Reservations()
    steps = (("appoint", (ALLOCATED, NOT_VACCINATED, DUE_NEXT), notice, "appointment"),
             ("reschedule", (APPOINTED,), change_notice, "appointment_change"))
    for action, statuses, wording, kind in steps:
        eligible = and_(people, Person.status.in_(statuses))
        if action == "reschedule":
            eligible = and_(eligible, Person.slot_id != slot.id)
        if _count(eligible) == 0:
            continue
        text = {slot.id: wording(slot)}
        result = apply_transition(action, actor, where=eligible, slot=slot)
        if result.changed:
            text_the_booked(result, text, kind, reserved_notice)
        changed += result.changed
        reservations += result.reservations
    free = db.session.execute(
        select(AppointmentSlot.capacity - AppointmentSlot.booked).where(AppointmentSlot.id == slot.id)
    ).scalar_one()
    return SlotBooking(requested=requested, changed=changed, free_after=free, reservations=reservations)


def reschedule(actor, people, slot, *, notice, reserved_notice=None):
    """Move the appointed people matching `people` into another window of their station; text each of them."""
    text = {slot.id: notice(slot)}
    result = apply_transition("reschedule", actor, where=people, slot=slot)
    if result.changed:
        text_the_booked(result, text, "appointment_change", reserved_notice)
    return result


def cancel_appointments(actor, people, reason, *, notice):
    """Cancel the appointments of the people matching `people` in one transition; text each of them.

    `notice(slot, reason)` is the text naming the window they had (one per window, by CASE).
    Returns (requested, cancelled).
    """
    reason = (reason or "").strip()
    if not reason:
        raise BookingError("cancel_reason_required")
    requested = _count(people)
    windows = db.session.execute(select(AppointmentSlot).where(AppointmentSlot.id.in_(
        select(Person.slot_id).where(people, Person.status == APPOINTED, Person.slot_id.is_not(None))))).scalars().all()
    texts = {w.id: notice(w, reason) for w in windows}
    if not texts:
        return requested, 0
    result = apply_transition("cancel_appointment", actor, where=people, reason=reason)
    if result.changed:
        notify_persons_of_event(result.event_id, case(texts, value=Person.previous_slot_id), "appointment_cancel")
    return requested, result.changed


@dataclass
class WindowCancellation:
    """What cancelling windows did: appointments cancelled, dose-2 places held in them moved or lost."""

    requested: int
    cancelled: int
    moved: int = 0
    lost: int = 0


def cancel_windows(actor, window_ids, reason, *, notice, reservation_notice):
    """取消本时段/当天预约: cancel everything booked into the windows, appointments and dose-2 places.

    The appointments go as cancel_appointments cancels them. Whoever holds a dose-2 place
    in one of the windows (dose 1 booked elsewhere) is given a place in another window
    inside their interval when one has room, else loses it; either way they are texted
    `reservation_notice(new window or None, reason)`, and one audit event counts them.
    Every window this touches is locked first, in one order (no deadlock with another
    cancellation over the same windows).
    """
    reason = (reason or "").strip()
    if not reason:
        raise BookingError("cancel_reason_required")
    windows = db.session.execute(select(AppointmentSlot).where(AppointmentSlot.id.in_(window_ids))).scalars().all()
    if len(windows) != len(set(window_ids)):
        raise SlotNotFound(window_ids)
    if actor.role == STATION and any(w.station_id != actor.station_id for w in windows):
        raise BookingError("not_allowed")
    appointed = and_(Person.slot_id.in_(window_ids), Person.status == APPOINTED)
    holding = Person.reserved_slot_id.in_(window_ids)
    lock_windows_of(or_(appointed, holding))
    requested, cancelled = cancel_appointments(actor, appointed, reason, notice=notice)
    outcome = WindowCancellation(requested, cancelled)
    holders = db.session.execute(select(Person.id).where(holding)).scalars().all()
    if holders:
        outcome.moved, outcome.lost = move_out_of(holders, window_ids, windows[0].station_id)
        _text_reservation_holders(holders, reason, reservation_notice)
        record_event(actor, "reservations_moved", target_type="slot", reason=reason,
                     detail=" ".join([*(f"slot={w}" for w in sorted(window_ids)), f"moved={outcome.moved}",
                                      f"lost={outcome.lost}"]),
                     requested=len(holders), changed=outcome.moved)
    db.session.flush()
    return outcome


def _text_reservation_holders(person_ids, reason, reservation_notice):
    """Tell each holder where their dose-2 place went (its new window), or that it is gone."""
    people = Person.id.in_(sorted(person_ids))
    new = db.session.execute(select(AppointmentSlot).where(AppointmentSlot.id.in_(
        select(Person.reserved_slot_id).where(people, Person.reserved_slot_id.is_not(None))))).scalars().all()
    lost = reservation_notice(None, reason)
    body = case({w.id: reservation_notice(w, reason) for w in new}, value=Person.reserved_slot_id,
                else_=literal(lost, String)) if new else literal(lost, String)
    notify_persons(people, body, "reservation_change")


def appointed_in_window(slot_id):
    """The appointed people of one window (a condition); SlotNotFound when it does not exist."""
    if db.session.get(AppointmentSlot, slot_id) is None:
        raise SlotNotFound(slot_id)
    return and_(Person.slot_id == slot_id, Person.status == APPOINTED)


def appointed_on_day(station_id, day):
    """The appointed people of the station's windows of one day (a condition)."""
    return and_(Person.slot_id.in_(slot_ids_between(station_id, day, day)), Person.status == APPOINTED)


# ---------------------------------------------------------------- windows and capacity

def _check_manager(actor):
    if getattr(actor, "role", None) not in SLOT_MANAGERS:
        raise BookingError("not_allowed")


def _check_range(first_day, last_day):
    if last_day < first_day:
        raise BookingError("range_reversed")
    if (last_day - first_day).days >= MAX_RANGE_DAYS:
        raise BookingError("range_too_long", days=MAX_RANGE_DAYS)


def _check_windows(windows):
    if not windows:
        raise BookingError("windows_required")
    ordered = sorted(windows)
    if any(ends <= begins for begins, ends in ordered):
        raise BookingError("window_reversed")
    for (_, first_end), (second_start, _) in zip(ordered, ordered[1:]):
        if second_start < first_end:
            raise BookingError("windows_overlap")
    return ordered


def create_slots(actor, station, first_day, last_day, windows, capacity):
    """Create the daily `windows` [(time, time)] on every day of the range; skip those overlapping one.

    Returns (created, skipped). One SELECT of the existing windows, one INSERT of the new.
    """
    _check_manager(actor)
    _check_range(first_day, last_day)
    windows = _check_windows(windows)
    if capacity is None or not 1 <= capacity <= MAX_CAPACITY:
        raise BookingError("slot_capacity_required", most=MAX_CAPACITY)
    start, end = day_bounds(first_day, last_day)
    existing = db.session.execute(
        select(AppointmentSlot.starts_at, AppointmentSlot.ends_at)
        .where(AppointmentSlot.station_id == station.id, AppointmentSlot.starts_at < end,
               AppointmentSlot.ends_at > start)
    ).all()
    rows, skipped = [], 0
    day = first_day
    while day <= last_day:
        for begins, ends in windows:
            starts_at, ends_at = datetime.combine(day, begins), datetime.combine(day, ends)
            if any(s < ends_at and e > starts_at for s, e in existing):
                skipped += 1
                continue
            rows.append({"station_id": station.id, "starts_at": starts_at, "ends_at": ends_at,
                         "capacity": capacity, "booked": 0})
        day += timedelta(days=1)
    if rows:
        db.session.execute(insert(AppointmentSlot), rows)
    record_event(actor, "slots_created", target_type="station", target_id=station.id,
                 detail=f"station={station.id} created={len(rows)}", requested=len(rows) + skipped, changed=len(rows))
    db.session.flush()
    return len(rows), skipped


def set_capacity(actor, slot_id, capacity):
    """Change a window's capacity, never below what is booked (one conditional UPDATE)."""
    _check_manager(actor)
    if capacity is None:
        raise BookingError("capacity_required")
    if not 0 <= capacity <= MAX_CAPACITY:
        raise BookingError("capacity_out_of_range", most=MAX_CAPACITY)
    result = db.session.execute(
        update(AppointmentSlot)
        .where(AppointmentSlot.id == slot_id, AppointmentSlot.booked <= capacity)
        .values(capacity=capacity)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        booked = db.session.execute(
            select(AppointmentSlot.booked).where(AppointmentSlot.id == slot_id)
        ).scalar_one_or_none()
        if booked is None:
            raise SlotNotFound(slot_id)
        raise BookingError("capacity_below_booked", booked=booked)
    record_event(actor, "slot_capacity_changed", target_type="slot", target_id=slot_id,
                 detail=f"slot={slot_id} capacity={capacity}")
    db.session.flush()


def delete_slot(actor, slot_id):
    """Delete a window nobody is booked into (the condition is in the DELETE itself)."""
    _check_manager(actor)
    station_id = db.session.execute(
        select(AppointmentSlot.station_id).where(AppointmentSlot.id == slot_id)
    ).scalar_one_or_none()
    if station_id is None:
        raise SlotNotFound(slot_id)
    result = db.session.execute(
        delete(AppointmentSlot).where(AppointmentSlot.id == slot_id, AppointmentSlot.booked == 0)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise BookingError("slot_has_bookings")
    record_event(actor, "slot_deleted", target_type="slot", target_id=slot_id, detail=f"station={station_id}")
    db.session.flush()


# ---------------------------------------------------------------- dose-2 places at the exit desk

def reservations_held(people):
    """{person id: the dose-2 window they hold} of the people matching `people`, read before 出站确认."""
    return dict(db.session.execute(
        select(Person.id, Person.reserved_slot_id).where(people, Person.reserved_slot_id.is_not(None))).all())


def text_reservation_outcomes(held, *, taken_notice, released_notice):
    """After 出站确认 of dose 1: text each person of `held` ({person id: window}) what became of their place.

    The window became their dose-2 appointment (完成接种 inside the interval): `taken_notice(window)`;
    it was given back (未接种, or dose 1 given with another product or too late for it):
    `released_notice(window)`. One INSERT … SELECT each, the text chosen per window by CASE.
    Returns (taken, released) texts queued.
    """
    if not held:
        return 0, 0
    windows = db.session.execute(select(AppointmentSlot).where(AppointmentSlot.id.in_(sorted(set(held.values()))))
                                 ).scalars().all()
    people = Person.id.in_(sorted(held))
    window_held = case(held, value=Person.id)
    taken = and_(people, Person.status == APPOINTED, Person.slot_id == window_held)
    released = and_(people, Person.reserved_slot_id.is_(None), ~taken)
    return (notify_persons(taken, case({w.id: taken_notice(w) for w in windows}, value=Person.slot_id),
                           "appointment"),
            notify_persons(released, case({w.id: released_notice(w) for w in windows}, value=window_held),
                           "reservation_change"))
