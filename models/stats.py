"""District figures for the command center, counted with grouped queries only.

Every number on the center's dashboard, trees and station chooser comes from a function
here, and each function runs a handful of GROUP BY statements (by status, enterprise,
department, territory, station or day) — never a load of person rows. Where the
maintained counters of models/counters.py can answer (per enterprise and status, per
station and status, vaccinations per day), they do: their tables hold thousands of rows
where the persons table holds a million.
"""

from datetime import datetime, time, timedelta

from sqlalchemy import and_, func, select, true

from extensions import db
from models import department_counts
from models.base import now, today
from models.counters import COUNTS_TABLE, on_counters, station_status_totals, status_totals, vaccinations_by_day
from models.dose_counts import department_doses
from models.org import AppointmentSlot, Enterprise, ReviewDepartment, Station, Territory
from models.person import Person
from models.status import (
    ALLOCATED,
    APPOINTED,
    CHECKED_IN,
    NOT_VACCINATED,
    SUBMITTED,
    VACCINATED,
    reached,
)

# The DESIGN funnel, in the order the dashboard shows it.
FUNNEL_KEYS = ("declared", "submitted", "allocated", "appointed", "checked_in", "vaccinated")

# People a station still has to serve: allocated to it, or appointed and not yet come.
WAITING_STATUSES = (ALLOCATED, APPOINTED)


def day_bounds(day):
    """Return [start, end) of a campaign-local day as naive datetimes."""
    start = datetime.combine(day, time.min)
    return start, start + timedelta(days=1)


def funnel_from(by_status):
    """Turn {status: count} into the DESIGN funnel figures."""
    def reached_count(status):
        return sum(by_status.get(s, 0) for s in reached(status))

    return {
        "declared": sum(by_status.values()),
        "submitted": reached_count(SUBMITTED),
        "allocated": reached_count(ALLOCATED),
        "appointed": reached_count(APPOINTED),
        "checked_in": reached_count(CHECKED_IN),
        "vaccinated": by_status.get(VACCINATED, 0),
    }


def status_counts(condition=None):
    """Return {status: count} of the persons matching `condition` (from the counters when they can answer).

    The whole district's from the department counters: a few hundred rows, not one per enterprise.
    """
    if condition is None:
        return department_counts.status_totals()
    return status_totals(condition)


def enterprise_count():
    return db.session.execute(select(func.count(Enterprise.id))).scalar_one()


def district_figures():
    """The seven figures of the center's dashboard: 企业数 and the funnel."""
    figures = funnel_from(status_counts())
    figures["enterprises"] = enterprise_count()
    return figures


# ---------------------------------------------------------------- breakdowns

def _counts_by(column):
    """Return [(value of an Enterprise column, status, count)], summed over the counters.

    Grouped in the database: a few hundred rows reach Python, not one per enterprise.
    """
    return db.session.execute(
        select(column, COUNTS_TABLE.c.status, func.sum(COUNTS_TABLE.c.n))
        .select_from(COUNTS_TABLE)
        .join(Enterprise, COUNTS_TABLE.c.enterprise_id == Enterprise.id)
        .where(COUNTS_TABLE.c.n != 0)
        .group_by(column, COUNTS_TABLE.c.status)
    ).all()


def _add(bucket, status, count):
    bucket[status] = bucket.get(status, 0) + count


def _department_roots():
    """Return the departments ordered for display and {department id: id of its top-level department}."""
    departments = db.session.execute(
        select(ReviewDepartment).order_by(ReviewDepartment.sort_order, ReviewDepartment.id)
    ).scalars().all()
    parent_of = {d.id: d.parent_id for d in departments}

    def root(dept_id):
        seen = set()
        while parent_of.get(dept_id) is not None and dept_id not in seen:
            seen.add(dept_id)
            dept_id = parent_of[dept_id]
        return dept_id

    return departments, {d.id: root(d.id) for d in departments}


def organisation_breakdown():
    """Return (department breakdown, territory breakdown) from two grouped queries over the counters.

    Departments: {dimension: [(top-level department, funnel)]}, child units rolled up into
    their top. Territories: [(territory, funnel)] by the 所属辖区 of the persons' enterprises.
    """
    departments, root_of = _department_roots()
    by_root, by_territory = {}, {}
    for (dept_id, status), count in department_counts.persons_by_department_and_status().items():
        _add(by_root.setdefault(root_of.get(dept_id, dept_id), {}), status, count)
    for territory_id, status, count in _counts_by(Enterprise.territory_id):
        _add(by_territory.setdefault(territory_id, {}), status, count)
    by_dimension = {}
    for department in departments:
        if department.parent_id is None:
            by_dimension.setdefault(department.dimension, []).append(
                (department, funnel_from(by_root.get(department.id, {})))
            )
    territories = db.session.execute(select(Territory).order_by(Territory.sort_order, Territory.id)).scalars()
    return by_dimension, [(t, funnel_from(by_territory.get(t.id, {}))) for t in territories]


def department_dose_breakdown(day=None):
    """Return {dimension: [(top-level department, {'today': {kind: n}, 'total': {kind: n}})]} from the dose counters."""
    departments, root_of = _department_roots()
    by_root = {}
    for dept_id, figures in department_doses(day or today()).items():
        rolled = by_root.setdefault(root_of.get(dept_id, dept_id), {"today": {}, "total": {}})
        for when, kinds in figures.items():
            for kind, n in kinds.items():
                rolled[when][kind] = rolled[when].get(kind, 0) + n
    by_dimension = {}
    for department in departments:
        if department.parent_id is None:
            by_dimension.setdefault(department.dimension, []).append(
                (department, by_root.get(department.id, {"today": {}, "total": {}})))
    return by_dimension


def department_breakdown():
    """Return {dimension: [(top-level department, funnel)]}, child units rolled up into their top."""
    return organisation_breakdown()[0]


def territory_breakdown():
    """Return [(territory, funnel)] by the 所属辖区 of the persons' enterprises."""
    return organisation_breakdown()[1]


def station_breakdown(day=None):
    """Return one row per station: today's and total appointed / checked in / vaccinated, saturation."""
    day = day or today()
    start, end = day_bounds(day)
    by_status = station_status_totals()
    checked_today = dict(db.session.execute(
        select(Person.station_id, func.count())
        .where(Person.checked_in_at >= start, Person.checked_in_at < end, Person.station_id.is_not(None))
        .group_by(Person.station_id)
    ).all())
    vaccinated_today = {station_id: n for (_, station_id), n in vaccinations_by_day(day, day).items()}
    slot_rows = db.session.execute(
        select(AppointmentSlot.station_id, func.sum(AppointmentSlot.booked), func.sum(AppointmentSlot.capacity))
        .where(AppointmentSlot.starts_at >= start, AppointmentSlot.starts_at < end)
        .group_by(AppointmentSlot.station_id)
    ).all()
    today_counts = {sid: (checked_today.get(sid, 0), vaccinated_today.get(sid, 0))
                    for sid in set(checked_today) | set(vaccinated_today)}
    slots = {station_id: (int(booked or 0), int(capacity or 0)) for station_id, booked, capacity in slot_rows}
    rows = []
    for station in db.session.execute(select(Station).order_by(Station.id)).scalars():
        funnel = funnel_from(by_status.get(station.id, {}))
        booked, capacity = slots.get(station.id, (0, 0))
        checked, vaccinated = today_counts.get(station.id, (0, 0))
        rows.append({
            "station": station,
            "allocated": funnel["allocated"],
            "waiting": by_status.get(station.id, {}).get(ALLOCATED, 0),
            "appointed_today": booked,
            "capacity_today": capacity,
            "saturation_today": booked / capacity if capacity else None,
            "checked_in_today": checked,
            "vaccinated_today": vaccinated,
            "appointed_total": funnel["appointed"],
            "checked_in_total": funnel["checked_in"],
            "vaccinated_total": funnel["vaccinated"],
        })
    return rows


# ---------------------------------------------------------------- trees and choosers

def _persons_grouped(columns, statuses, condition=None, enterprise_ids=None, by_status=False):
    """Counts of persons in `statuses` grouped by enterprise or department columns (and status), in the database.

    Summed over the counters, or over persons for a condition the counters cannot answer.
    """
    narrowed = [Enterprise.id.in_(enterprise_ids)] if enterprise_ids is not None else []
    counted = on_counters(and_(Person.status.in_(statuses), condition if condition is not None else true()))
    if counted is not None:
        columns = [*columns, COUNTS_TABLE.c.status] if by_status else columns
        return db.session.execute(
            select(*columns, func.sum(COUNTS_TABLE.c.n))
            .select_from(COUNTS_TABLE)
            .join(Enterprise, COUNTS_TABLE.c.enterprise_id == Enterprise.id)
            .where(counted, COUNTS_TABLE.c.n != 0, *narrowed)
            .group_by(*columns)
        ).all()
    columns = [*columns, Person.status] if by_status else columns
    statement = (
        select(*columns, func.count())
        .select_from(Person)
        .join(Enterprise, Person.enterprise_id == Enterprise.id)
        .where(Person.status.in_(statuses), *narrowed)
        .group_by(*columns)
    )
    if condition is not None:
        statement = statement.where(condition)
    return db.session.execute(statement).all()


def persons_by_department(statuses, condition=None):
    """Return {department id: persons in `statuses` of the enterprises it reviews itself}.

    A few dozen rows whatever the district's size: the tree's departments roll these up.
    """
    if condition is None:
        counts = {}
        for (dept_id, _), n in department_counts.persons_by_department_and_status(statuses).items():
            counts[dept_id] = counts.get(dept_id, 0) + n
        return counts
    return {dept_id: int(n) for dept_id, n in _persons_grouped([Enterprise.department_id], statuses, condition)}


def persons_by_department_and_status(statuses, condition=None):
    """Return {(department id, status): persons}: a tree's counts and its list's tabs from one query.

    By statuses alone, the department counters answer (models/department_counts.py).
    """
    if condition is None:
        return department_counts.persons_by_department_and_status(statuses)
    return {(dept_id, status): int(n) for dept_id, status, n
            in _persons_grouped([Enterprise.department_id], statuses, condition, by_status=True)}


def persons_by_enterprise(statuses, condition=None, enterprise_ids=None):
    """Return {enterprise id: persons in `statuses`}, for `enterprise_ids` only when given."""
    return {ent_id: int(n) for ent_id, n in _persons_grouped([Enterprise.id], statuses, condition, enterprise_ids)}


def enterprises_by_department():
    """Return {department id: number of enterprises} (GROUP BY department)."""
    return dict(db.session.execute(
        select(Enterprise.department_id, func.count()).group_by(Enterprise.department_id)
    ).all())


def station_load(days=7, first_day=None):
    """Return per active station: capacity and bookings of the coming `days` days, waiting people.

    waiting = allocated + appointed (not yet finished); free = capacity - waiting;
    saturation = waiting / capacity. This is what an operator weighs when allocating.
    """
    first_day = first_day or today()
    start, _ = day_bounds(first_day)
    end = start + timedelta(days=days)
    slot_rows = db.session.execute(
        select(AppointmentSlot.station_id, func.sum(AppointmentSlot.capacity), func.sum(AppointmentSlot.booked))
        .where(AppointmentSlot.starts_at >= start, AppointmentSlot.starts_at < end)
        .group_by(AppointmentSlot.station_id)
    ).all()
    capacity = {sid: (int(cap or 0), int(booked or 0)) for sid, cap, booked in slot_rows}
    waiting = {sid: sum(by_status.values()) for sid, by_status in station_status_totals(WAITING_STATUSES).items()}
    rows = []
    stations = db.session.execute(select(Station).where(Station.active.is_(True)).order_by(Station.id)).scalars()
    for station in stations:
        cap, booked = capacity.get(station.id, (0, 0))
        load = waiting.get(station.id, 0)
        rows.append({
            "station": station, "capacity": cap, "booked": booked, "waiting": load,
            "free": cap - load, "saturation": load / cap if cap else None,
        })
    return rows


def majority_territory(condition):
    """Return the territory id most of the persons matching `condition` belong to (by enterprise), or None."""
    row = db.session.execute(
        select(Enterprise.territory_id, func.count().label("n"))
        .select_from(Person)
        .join(Enterprise, Person.enterprise_id == Enterprise.id)
        .where(condition)
        .group_by(Enterprise.territory_id)
        .order_by(func.count().desc(), Enterprise.territory_id)
        .limit(1)
    ).first()
    return row[0] if row else None


def suggest_station(load_rows, territory_id):
    """Pick the station in the same territory as most chosen people, then with most free places."""
    if not load_rows:
        return None
    best = max(load_rows, key=lambda r: (r["station"].territory_id == territory_id, r["free"], -r["station"].id))
    return best["station"]


def waiting_by_station(statuses):
    """Return {station id: {status: count}} for persons in `statuses` (from the station counters)."""
    return station_status_totals(statuses)


def enterprises_waiting_at(station_id, statuses=(ALLOCATED, NOT_VACCINATED)):
    """Return [(enterprise id, name, count)] of persons of a station waiting for an appointment."""
    return db.session.execute(
        select(Enterprise.id, Enterprise.name, func.count())
        .select_from(Person)
        .join(Enterprise, Person.enterprise_id == Enterprise.id)
        .where(Person.station_id == station_id, Person.status.in_(statuses))
        .group_by(Enterprise.id, Enterprise.name)
        .order_by(func.count().desc(), Enterprise.id)
    ).all()


def upcoming_free_places(station_id, first_moment=None, last_day=None):
    """Return the free places of a station's windows that have not ended yet (up to `last_day`)."""
    first_moment = first_moment or now()
    statement = select(func.coalesce(func.sum(AppointmentSlot.capacity - AppointmentSlot.booked), 0)).where(
        AppointmentSlot.station_id == station_id, AppointmentSlot.ends_at > first_moment
    )
    if last_day is not None:
        statement = statement.where(AppointmentSlot.starts_at < day_bounds(last_day)[1])
    return int(db.session.execute(statement).scalar_one())
