"""The one state machine of a person record: transitions, scoping, set-based moves.

Every status change in the system goes through `apply_transition`. It changes all
chosen rows with one UPDATE that re-checks the expected status and the actor's
scope, writes one history row per changed person with one INSERT ... SELECT, and
reports how many rows changed and how many were skipped. It flushes, never commits:
the request (or CLI command) commits once.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import (
    Date,
    Select,
    and_,
    case,
    cast,
    false,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    true,
    type_coerce,
    update,
)

from extensions import db
from models.audit import AuditEvent, PersonEvent
from models.base import now, today
from models.counters import status_totals
from models.doses import GIVEN, NOT_GIVEN, Vaccination
from models.org import AppointmentSlot, Enterprise, department_ids_under
from models.person import Person
from models.reservations import (
    Reservations,
    inside_next_dose_window,
    move_after_reschedule,
    release,
    reserve_for_booked,
)
from models.status import (
    ALLOCATED,
    APPOINTED,
    CENTER_APPROVED,
    CHECKED_IN,
    DEPT_APPROVED,
    DUE_NEXT,
    NOT_VACCINATED,
    RANK,
    REGISTERED,
    STAGE_STAMP,
    SUBMITTED,
    VACCINATED,
)
from models.user import ADMIN, CENTER, ENTERPRISE, REVIEW, STATION
from models.vaccines import VaccineProduct
from models.window_assignment import (
    Group,
    add_booked,
    assigned,
    index_range,
    lock_windows,
    lock_windows_of,
    per_window,
    plan,
)

logger = logging.getLogger("binhai.workflow")


# The person themselves (我的接种, after an SMS code): not an account, allowed one transition.
SELF = "self"


@dataclass(frozen=True)
class PersonActor:
    """The actor of a change a person makes to their own record; the caller names them for the audit log."""

    person_id: int
    id: None = None
    username: str = SELF
    role: str = SELF


class WorkflowError(Exception):
    """A transition that cannot be applied as asked.

    `code` names the refusal and `params` its details; the UI words it
    (admin_views/labels.ERROR_MESSAGES). Subclasses raised with a plain message
    (no code) are shown as they are.
    """

    def __init__(self, code, **params):
        super().__init__(code if not params else f"{code}: {params}")
        self.code, self.params = code, params


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset
    target: str
    roles: frozenset
    needs_reason: bool = False
    needs_station: bool = False
    needs_slot: bool = False


def _t(action, sources, target, roles, **needs):
    return Transition(action, frozenset(sources), target, frozenset(roles), **needs)


TRANSITIONS = {t.action: t for t in (
    _t("submit", {REGISTERED}, SUBMITTED, {ENTERPRISE}),
    _t("dept_approve", {SUBMITTED}, DEPT_APPROVED, {REVIEW}),
    _t("dept_return", {SUBMITTED}, REGISTERED, {REVIEW}, needs_reason=True),
    _t("center_approve", {DEPT_APPROVED}, CENTER_APPROVED, {CENTER}),
    _t("center_return", {DEPT_APPROVED, CENTER_APPROVED}, SUBMITTED, {CENTER},
       needs_reason=True),
    _t("allocate", {CENTER_APPROVED}, ALLOCATED, {CENTER}, needs_station=True),
    _t("cancel_allocation", {ALLOCATED}, CENTER_APPROVED, {CENTER}),
    _t("appoint", {ALLOCATED, NOT_VACCINATED, DUE_NEXT}, APPOINTED, {CENTER, STATION}, needs_slot=True),
    _t("reschedule", {APPOINTED}, APPOINTED, {CENTER, STATION}, needs_slot=True),
    # Back to 已分配, or to 待续种 for someone who already had a dose (see _dose_values). The person
    # themselves (我的接种) may cancel their own.
    _t("cancel_appointment", {APPOINTED}, ALLOCATED, {CENTER, STATION, SELF}, needs_reason=True),
    _t("check_in", {APPOINTED}, CHECKED_IN, {STATION}),
    # 全程接种 after the course's last dose, else 待续种 with the next dose's window (per row).
    _t("vaccinate", {CHECKED_IN}, VACCINATED, {STATION}),
    _t("mark_not_vaccinated", {CHECKED_IN}, NOT_VACCINATED, {STATION}, needs_reason=True),
    _t("open_booster", {VACCINATED}, DUE_NEXT, {CENTER}),
)}

# Columns a caller may set alongside a transition (per-person data of the exit desk).
EXTRA_COLUMNS = {
    "vaccinate": {"vaccine_product", "vaccine_lot", "signature_png"},
}


@dataclass
class TransitionResult:
    action: str
    requested: int
    changed: int
    event_id: int | None = None
    notes: list = field(default_factory=list)
    # Dose-2 places sought and held for the dose-1 people booked (models/reservations.py).
    reservations: Reservations = field(default_factory=Reservations)
    released_reservations: int = 0
    # {window id: people booked into it} of a booking into windows.
    per_slot: dict = field(default_factory=dict)

    @property
    def skipped(self):
        return max(self.requested - self.changed, 0)


# ---------------------------------------------------------------- scoping

def enterprise_scope(user):
    """Return a condition on Enterprise selecting the enterprises `user` may see."""
    role = getattr(user, "role", None)
    if role in (CENTER, ADMIN):
        return true()
    if role == ENTERPRISE and user.enterprise_id:
        return Enterprise.id == user.enterprise_id
    if role == REVIEW and user.department_id:
        return Enterprise.department_id.in_(sorted(department_ids_under(user.department_id)))
    if role == STATION and user.station_id:
        return Enterprise.id.in_(select(Person.enterprise_id).where(Person.station_id == user.station_id))
    return false()


def person_scope(user):
    """Return a condition on Person selecting the persons `user` may see."""
    role = getattr(user, "role", None)
    if role in (CENTER, ADMIN):
        return true()
    if role == ENTERPRISE and user.enterprise_id:
        return Person.enterprise_id == user.enterprise_id
    if role == REVIEW and user.department_id:
        departments = sorted(department_ids_under(user.department_id))
        return Person.enterprise_id.in_(select(Enterprise.id).where(Enterprise.department_id.in_(departments)))
    if role == STATION and user.station_id:
        return Person.station_id == user.station_id
    if role == SELF:
        return Person.id == user.person_id
    return false()


def visible_persons(user):
    """Return a select of the persons `user` may see."""
    return select(Person).where(person_scope(user))


# ---------------------------------------------------------------- transitions

def apply_transition(action, actor, *, ids=None, where=None, reason=None, station=None, slot=None,
                     limit=None, extra=None, product=None, override_by=None):
    """Apply `action` to the persons chosen by `ids` (an id set) or by `where` (a condition on Person).

    `where` becomes the UPDATE's own condition (`UPDATE person ... WHERE <where> AND <scope>
    AND status IN (...)`): the database goes straight to the rows through its indexes, where
    `id IN (SELECT id FROM person WHERE ...)` would join the table with itself (a 50,000-person
    全部审核 of a tree node: ~0.2 s and a hash join more). The condition is evaluated once, by
    that one statement, so it may read other tables (and persons) freely.
    Rows outside the actor's scope or not in an expected status are skipped, not
    changed. With a slot, at most its free capacity is booked, earliest ids first,
    and never before a person's next dose may be given. `product` is the vaccine
    given by `vaccinate` (default: the course's product, or the one named in extra).
    `check_in` refuses a next dose before its first allowed day unless `override_by` (the
    station's supervisor) approves, with a reason; the audit event names the supervisor.
    """
    transition = _checked_transition(action, actor, reason, station, slot, ids, where)
    if action == "vaccinate":
        product = product or _product_named((extra or {}).get("vaccine_product"))
    chosen = _chosen_condition(ids, where)
    requested = _count(chosen) if limit is None else min(_count(chosen), limit)
    _check_override(action, actor, override_by, reason)
    event = _open_event(transition, actor, reason, requested, station, slot)
    if override_by is not None:
        event.detail = f"interval_override_by={override_by.id}"
    if requested == 0:
        return TransitionResult(action, 0, 0, event.id)

    eligible = _eligible(transition, actor, chosen, override_by)
    if slot is not None:
        eligible = and_(eligible, Person.station_id == slot.station_id,
                        (Person.slot_id.is_(None)) | (Person.slot_id != slot.id), inside_dose_window(slot))
    if action in LOCKS_WINDOWS_FIRST or slot is not None:
        # Windows before persons, in ascending id order, like every path over windows and persons:
        # the people's windows (booked and reserved) and the one they move into, in one pass.
        lock_windows_of(eligible, also=[slot.id] if slot is not None else ())
    reserved = None
    if slot is not None:
        wanted = _count(eligible) if limit is None else min(_count(eligible), limit)
        reserved = _reserve_capacity(slot, wanted)
        limit = reserved
    if limit is not None:
        eligible = Person.id.in_(select(Person.id).where(eligible).order_by(Person.id).limit(limit))

    changed = _move_rows(transition, actor, eligible, event.id, reason, station, slot and slot.id, extra, product)
    if action in ("vaccinate", "mark_not_vaccinated"):
        _write_vaccinations(transition, actor, event.id, product, extra)
        if product is not None:
            event.detail = " ".join(filter(None, (event.detail, f"product={product.id}")))
    if reserved is not None and changed < reserved:
        _release_capacity(slot.id, reserved - changed)
    if transition.needs_slot or action == "cancel_appointment":
        _release_previous_slots(event.id)
    _write_history(event.id)
    event.changed = changed
    result = TransitionResult(action, requested, changed, event.id, per_slot={slot.id: changed} if slot else {})
    if changed:
        _follow_reservations(result, actor, event, slot)
    db.session.flush()
    _log(result, actor)
    return result


# The actions that change windows (places given back or dose-2 places released or taken up)
# besides persons, without a window of their own to book into.
LOCKS_WINDOWS_FIRST = frozenset({"cancel_appointment", "vaccinate", "mark_not_vaccinated"})


def _log(result, actor):
    logger.info("workflow action=%s user=%s role=%s requested=%d changed=%d event=%s",
                result.action, actor.id, actor.role, result.requested, result.changed, result.event_id)


def _eligible(transition, actor, chosen, override_by=None):
    """The chosen rows the actor may move by `transition`: in scope, in a source status, the dose rules kept."""
    return and_(chosen, person_scope(actor), Person.status.in_(transition.sources),
                _dose_condition(transition, override_by))


def appoint_across_windows(actor, *, where, windows, limit=None):
    """The appoint transition into several windows of one station at once (分期分量预约, 待续种 booking).

    The rules are apply_transition("appoint", slot=...)'s for each window: the actor's
    scope, the source statuses, the window's station, never before the first nor after the
    last day of a person's next-dose interval, never past a window's capacity. They are
    kept in one UPDATE: the people whose intervals cover the same windows are counted per
    group, models/window_assignment plans the windows' free places (earliest window first,
    the people whose interval closes first first, by id within a group), and the UPDATE
    joins the people ranked against that plan. Then one capacity UPDATE, one history
    INSERT ... SELECT, one audit event and one dose-2 reservation step for the whole
    booking. `windows`: the station's windows, earliest first; at most `limit` people.
    Under concurrent bookers PostgreSQL holds the windows' rows (locked in id order) from
    the plan to the commit; people booked meanwhile by another are skipped by the UPDATE's
    status re-check, and their planned places are not taken.
    """
    transition = _checked_transition("appoint", actor, None, None, windows[0] if windows else None, None, where)
    chosen = _chosen_condition(None, where)
    station_id = windows[0].station_id
    event = _open_event(transition, actor, None, 0, None, None)
    event.detail = f"station={station_id}"
    places = lock_windows(AppointmentSlot.id.in_([w.id for w in windows]) & (AppointmentSlot.ends_at > now()))
    eligible = and_(_eligible(transition, actor, chosen), Person.station_id == station_id)
    keys = _interval_keys(places)
    groups = _groups(eligible, keys, [starts_at.date() for _, starts_at, _ in places])
    total = sum(g.count for g in groups.values())
    requested = total if limit is None else min(total, limit)
    event.requested = requested
    quotas = plan(groups, [(window_id, free) for window_id, _, free in places], requested)
    result = TransitionResult("appoint", requested, 0, event.id)
    if quotas:
        assignment = assigned(eligible, keys, quotas)
        moved = and_(Person.id == assignment.c.person_id, Person.status.in_(transition.sources),
                     Person.station_id == station_id,
                     or_(Person.slot_id.is_(None), Person.slot_id != assignment.c.window_id))
        result.changed = _move_rows(transition, actor, moved, event.id, None, None, assignment.c.window_id, None)
        result.per_slot = _booked_per_window(event.id, per_window(quotas))
        add_booked(result.per_slot)
        _release_previous_slots(event.id)
        _write_history(event.id)
    event.changed = result.changed
    event.detail = " ".join([event.detail, *(f"slot={window_id}" for window_id in sorted(result.per_slot))])
    if result.changed:
        _follow_reservations(result, actor, event, None, station_id)
    db.session.flush()
    _log(result, actor)
    return result


def _interval_keys(places):
    """A person's next-dose interval clipped to the windows' days: what their group is known by."""
    if not places:
        return []
    first, last = places[0][1].date(), places[-1][1].date()
    earliest, latest = Person.next_dose_earliest, Person.next_dose_latest
    # No first day (dose 1) is the windows' first day, no last day their last.
    return [type_coerce(case((earliest > first, earliest), else_=literal(first, Date)), Date),
            type_coerce(case((latest < last, latest), else_=literal(last, Date)), Date)]


def _groups(eligible, keys, days):
    """{(first day, last day): Group} of the eligible people, their admissible windows as indexes of `days`."""
    if not keys:
        return {}
    rows = db.session.execute(select(*keys, func.count()).where(eligible).group_by(*keys)).all()
    groups = {}
    for first_day, last_day, count in rows:
        first, last = index_range(days, first_day, last_day)
        groups[(first_day, last_day)] = Group(count, first, last)
    return groups


def _booked_per_window(event_id, planned):
    """{window id: people this event booked into it}; the plan's figures unless the UPDATE skipped someone."""
    if sum(planned.values()) == _count(Person.last_event_id == event_id):
        return planned
    return dict(db.session.execute(
        select(Person.slot_id, func.count()).where(Person.last_event_id == event_id).group_by(Person.slot_id)
    ).all())


def _checked_transition(action, actor, reason, station, slot, ids, where):
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise WorkflowError("unknown_action", action=action)
    if getattr(actor, "role", None) not in transition.roles:
        raise WorkflowError("not_allowed")
    if transition.needs_reason and not (reason or "").strip():
        raise WorkflowError("reason_required")
    if transition.needs_station and station is None:
        raise WorkflowError("station_required")
    if transition.needs_station and not station.active:
        raise WorkflowError("station_inactive")
    if transition.needs_slot and slot is None:
        raise WorkflowError("slot_required")
    if (ids is None) == (where is None):
        raise WorkflowError("nobody_chosen")
    return transition


def _chosen_condition(ids, where):
    if ids is not None:
        clean = sorted({int(i) for i in ids})
        return Person.id.in_(clean) if clean else false()
    if isinstance(where, Select):
        # A select is not a condition: SQLAlchemy would coerce it into a scalar subquery.
        raise TypeError("where= takes a condition on Person, not a select (use Person.id.in_(select))")
    return where


def _count(condition):
    return db.session.execute(select(func.count()).select_from(Person).where(condition)).scalar_one()


def _open_event(transition, actor, reason, requested, station, slot):
    detail = None
    if station is not None:
        detail = f"station={station.id}"
    if slot is not None:
        detail = f"station={slot.station_id} slot={slot.id}"
    event = AuditEvent(
        user_id=actor.id, username=actor.username, role=actor.role, action=transition.action,
        from_status=",".join(sorted(transition.sources)), to_status=transition.target,
        requested=requested, changed=0, reason=(reason or "").strip() or None, detail=detail,
    )
    db.session.add(event)
    db.session.flush()
    return event


# Booking, moving or cancelling the appointment of someone who already had a dose stamps
# only the appointment: the check-in and exit times (and the rest) are their last visit's,
# kept until the next visit stamps its own (the dose itself is in its vaccination record).
KEEPS_LAST_VISIT = frozenset({"appoint", "reschedule", "cancel_appointment", "take_up_reservation"})


def _stage_values(transition, actor, at):
    """Stamp the stage reached and clear the stamps of stages a backward move undoes."""
    values = {}
    target_rank = RANK[transition.target]
    for status, stamp in STAGE_STAMP.items():
        if RANK[status] > target_rank:
            values[f"{stamp}_at"] = None
            values[f"{stamp}_by_id"] = None
    stamp = STAGE_STAMP.get(transition.target)
    if stamp:
        values[f"{stamp}_at"] = at
        values[f"{stamp}_by_id"] = actor.id
    if transition.action in KEEPS_LAST_VISIT:
        had_a_dose = Person.doses_given > 0
        for column, value in values.items():
            if transition.target != APPOINTED or not column.startswith("appointed_"):
                values[column] = case((had_a_dose, getattr(Person, column)), else_=value)
    return values


def _action_values(transition, reason, station, slot_id, extra):
    action = transition.action
    values = {}
    if action == "submit":
        values["return_reason"] = None
    elif action in ("dept_return", "center_return"):
        values["return_reason"] = reason.strip()
    elif action == "allocate":
        values["station_id"] = station.id
    elif action == "cancel_allocation":
        values["station_id"] = None
    elif transition.needs_slot:
        values.update(slot_id=slot_id, previous_slot_id=Person.slot_id, not_vaccinated_reason=None)
    elif action == "cancel_appointment":
        values.update(slot_id=None, previous_slot_id=Person.slot_id)
    elif action == "mark_not_vaccinated":
        values["not_vaccinated_reason"] = reason.strip()
    if extra:
        allowed = EXTRA_COLUMNS.get(action, set())
        unknown = set(extra) - allowed
        if unknown:
            raise WorkflowError("columns_not_allowed", columns=", ".join(sorted(unknown)))
        values.update(extra)
    return values


def _move_rows(transition, actor, condition, event_id, reason, station, slot_id, extra, product=None):
    """The one UPDATE of a transition; `slot_id` is the window (a value, or a column of an assignment)."""
    values = {
        "previous_status": Person.status,
        "status": transition.target,
        "last_event_id": event_id,
        "version": Person.version + 1,
    }
    values.update(_stage_values(transition, actor, now()))
    values.update(_action_values(transition, reason, station, slot_id, extra))
    values.update(_dose_values(transition, product))
    statement = (
        update(Person)
        .where(condition)
        .values(values)
        .execution_options(synchronize_session=False)
    )
    result = db.session.execute(statement)
    # Loaded Person objects are now stale: let the next access reload them.
    db.session.expire_all()
    return result.rowcount


def _write_history(event_id):
    db.session.execute(
        insert(PersonEvent).from_select(
            ["event_id", "person_id", "from_status", "to_status"],
            select(literal(event_id), Person.id, Person.previous_status, Person.status)
            .where(Person.last_event_id == event_id),
        )
    )


# ---------------------------------------------------------------- slot capacity

def _reserve_capacity(slot, wanted, attempts=5):
    """Add up to `wanted` bookings to the slot without passing capacity; return how many.

    The conditional UPDATE is atomic in the database, so two operators booking the
    same slot at once can never push it over capacity.
    """
    for _ in range(attempts):
        booked, capacity = db.session.execute(
            select(AppointmentSlot.booked, AppointmentSlot.capacity).where(AppointmentSlot.id == slot.id)
        ).one()
        take = max(min(wanted, capacity - booked), 0)
        if take == 0:
            return 0
        result = db.session.execute(
            update(AppointmentSlot)
            .where(AppointmentSlot.id == slot.id, AppointmentSlot.booked + take <= AppointmentSlot.capacity)
            .values(booked=AppointmentSlot.booked + take)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            return take
    return 0


def _release_capacity(slot_id, count):
    db.session.execute(
        update(AppointmentSlot)
        .where(AppointmentSlot.id == slot_id)
        .values(booked=AppointmentSlot.booked - count)
        .execution_options(synchronize_session=False)
    )


def _release_previous_slots(event_id):
    """Give back the places of the people this event moved out of a slot."""
    moved = (
        select(func.count())
        .select_from(Person)
        .where(Person.last_event_id == event_id, Person.previous_slot_id == AppointmentSlot.id)
        .scalar_subquery()
    )
    db.session.execute(
        update(AppointmentSlot)
        .where(AppointmentSlot.id.in_(
            select(Person.previous_slot_id).where(Person.last_event_id == event_id,
                                                  Person.previous_slot_id.is_not(None))
        ))
        .values(booked=AppointmentSlot.booked - moved)
        .execution_options(synchronize_session=False)
    )


# ---------------------------------------------------------------- dose-2 reservations

# Not in TRANSITIONS: nobody asks for it; 完成接种 of dose 1 makes it for the people it moved.
TAKE_UP_RESERVATION = _t("take_up_reservation", {DUE_NEXT}, APPOINTED, {STATION})

# Every action the audit trail can name: the transitions users ask for and those the machine makes.
AUDITED_ACTIONS = frozenset({*TRANSITIONS, TAKE_UP_RESERVATION.action})


def _follow_reservations(result, actor, event, slot, station_id=None):
    """Keep each dose-2 reservation with its dose-1 booking: made, moved, taken up or released, never left."""
    moved = Person.last_event_id == event.id
    if result.action == "appoint":
        result.reservations = reserve_for_booked(event.id, station_id or slot.station_id)
    elif result.action == "reschedule":
        result.reservations, result.released_reservations = move_after_reschedule(event.id, slot)
    elif result.action in ("cancel_appointment", "mark_not_vaccinated"):
        result.released_reservations = release(moved)
    elif result.action == "vaccinate":
        _take_up_reservations(actor, event.id)
        # Whoever is still moved by this event and holds a place: outside the real interval.
        result.released_reservations = release(moved)
    notes = []
    if result.reservations.wanted:
        notes.append(f"next_dose_reserved={result.reservations.reserved}/{result.reservations.wanted}")
    if result.released_reservations:
        notes.append(f"next_dose_released={result.released_reservations}")
    if notes:
        event.detail = " ".join(filter(None, (event.detail, *notes)))


def _take_up_reservations(actor, event_id):
    """Dose 1 given: a reserved window inside the real dose-2 interval becomes the dose-2 appointment."""
    fits = and_(Person.last_event_id == event_id, Person.status == DUE_NEXT, inside_next_dose_window())
    wanted = _count(fits)
    if wanted == 0:
        return 0
    event = _open_event(TAKE_UP_RESERVATION, actor, None, wanted, None, None)
    values = {"previous_status": Person.status, "status": APPOINTED, "last_event_id": event.id,
              "version": Person.version + 1, "slot_id": Person.reserved_slot_id, "reserved_slot_id": None}
    values.update(_stage_values(TAKE_UP_RESERVATION, actor, now()))
    changed = db.session.execute(
        update(Person).where(fits).values(values).execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire_all()
    _write_history(event.id)
    event.changed = changed
    return changed


# ---------------------------------------------------------------- funnel

def funnel_counts(condition=None):
    """Return the DESIGN funnel figures for the persons matching `condition`."""
    by_status = status_totals(condition)

    def reached(status):
        return sum(n for s, n in by_status.items() if RANK[s] >= RANK[status])

    return {
        "declared": sum(by_status.values()),
        "submitted": reached(SUBMITTED),
        "allocated": reached(ALLOCATED),
        "appointed": reached(APPOINTED),
        "checked_in": reached(CHECKED_IN),
        "vaccinated": by_status.get(VACCINATED, 0),
        "by_status": by_status,
    }


# ---------------------------------------------------------------- doses

def _product_named(name):
    if not (name or "").strip():
        return None
    return db.session.execute(select(VaccineProduct).where(VaccineProduct.name == name.strip())).scalar_one_or_none()


def _check_override(action, actor, supervisor, reason):
    if supervisor is None:
        return
    if action != "check_in":
        raise WorkflowError("override_check_in_only")
    if not (supervisor.role == STATION and supervisor.is_supervisor and supervisor.active
            and supervisor.station_id == actor.station_id):
        raise WorkflowError("override_needs_supervisor")
    if not (reason or "").strip():
        raise WorkflowError("override_reason_required")


def interval_reached(day=None):
    """The next dose may be given on `day` (today): its first allowed day has come, or there is none."""
    day = day or today()
    return or_(Person.next_dose_earliest.is_(None), Person.next_dose_earliest <= day)


def _dose_condition(transition, override_by=None):
    """Rows a dose transition may move beyond its source status (a booster needs a product that has one)."""
    if transition.action == "check_in" and override_by is None:
        return interval_reached()
    if transition.action == "open_booster":
        return Person.product_id.in_(select(VaccineProduct.id).where(VaccineProduct.booster_after_days.is_not(None)))
    return true()


def inside_dose_window(slot):
    """A person may be booked into `slot` only on or after the first day of their next dose."""
    day = slot.starts_at.date()
    return or_(Person.next_dose_earliest.is_(None), Person.next_dose_earliest <= day)


def _course_doses():
    """{product id: (primary doses, {dose number: (min days, max days)})} for every product (a few rows)."""
    products = db.session.execute(select(VaccineProduct)).scalars().all()
    return {p.id: (p.primary_doses, {r.dose_number: (r.min_interval_days, r.max_interval_days) for r in p.rules})
            for p in products}


def _dose_values(transition, product):
    """The per-row course columns a dose transition sets (CASE over the few products' schedules)."""
    action = transition.action
    if action == "vaccinate":
        return _after_a_dose(product)
    if action == "cancel_appointment":
        return {"status": case((Person.doses_given > 0, DUE_NEXT), else_=ALLOCATED)}
    if action == "open_booster":
        return {"status": DUE_NEXT, "next_dose_earliest": _days_after(Person.finished_at, _booster_days()),
                "next_dose_latest": None, "slot_id": None, "previous_slot_id": None}
    return {}


def _after_a_dose(product):
    """待续种 with the next window while the course has doses left, else 全程接种; dose counters move on."""
    course = Person.product_id if product is None else func.coalesce(Person.product_id, product.id)
    day = today()
    due_next, earliest, latest = [], [], []
    for product_id, (primary, rules) in _course_doses().items():
        for dose in range(1, primary):
            given_now = and_(course == product_id, Person.dose_number == dose)
            due_next.append(given_now)
            low, high = rules.get(dose + 1, (0, None))
            earliest.append((given_now, literal(day + timedelta(days=low), Date)))
            if high is not None:
                latest.append((given_now, literal(day + timedelta(days=high), Date)))
    more_to_come = or_(*due_next) if due_next else false()
    values = {
        "status": case((more_to_come, DUE_NEXT), else_=VACCINATED),
        "dose_number": Person.dose_number + 1,
        "doses_given": Person.doses_given + 1,
        "product_id": course,
        "next_dose_earliest": case(*earliest, else_=null()) if earliest else None,
        "next_dose_latest": case(*latest, else_=null()) if latest else None,
        # The dose's slot stays booked (it was used) and is kept on the record; someone
        # waiting for the next dose holds no slot until booked again.
        "previous_slot_id": Person.slot_id,
        "slot_id": case((more_to_come, null()), else_=Person.slot_id),
    }
    if product is not None:
        values["vaccine_product"] = product.name
    return values


def _booster_days():
    return (select(VaccineProduct.booster_after_days).where(VaccineProduct.id == Person.product_id)
            .scalar_subquery())


def _days_after(moment, days):
    """The date `days` after the timestamp column `moment` (now when it is empty), in SQL on either engine."""
    start = func.coalesce(moment, literal(now()))
    if db.session.get_bind().dialect.name == "postgresql":
        return cast(start, Date) + days
    return func.date(start, literal("+") + cast(days, db.String) + literal(" days"))


def _primary_doses():
    return (select(VaccineProduct.primary_doses).where(VaccineProduct.id == Person.product_id)
            .scalar_subquery())


def _write_vaccinations(transition, actor, event_id, product, extra):
    """One 接种记录 per person this event moved, with one INSERT ... SELECT."""
    given = transition.action == "vaccinate"
    dose = Person.dose_number - 1 if given else Person.dose_number
    extra = extra or {}
    columns = {
        "person_id": Person.id,
        "dose_number": dose,
        "is_booster": func.coalesce(dose > _primary_doses(), false()),
        "product_id": literal(product.id) if given and product is not None else Person.product_id,
        "product_name": literal(product.name if product is not None else (extra.get("vaccine_product") or None),
                                db.String) if given else null(),
        "lot_number": literal(extra.get("vaccine_lot") or None, db.String),
        "station_id": Person.station_id,
        "slot_id": Person.previous_slot_id if given else Person.slot_id,
        "outcome": literal(GIVEN if given else NOT_GIVEN),
        "reason": null() if given else Person.not_vaccinated_reason,
        "at": literal(now()),
        "vaccinator_id": literal(actor.id),
        "signature_png": Person.signature_png if given else null(),
        "event_id": literal(event_id),
        "state": literal("valid"),
        "created_at": literal(now()),
    }
    db.session.execute(
        insert(Vaccination).from_select(
            list(columns), select(*columns.values()).where(Person.last_event_id == event_id))
    )
