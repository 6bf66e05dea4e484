"""Doses given, counted by the database: per day, station, enterprise and kind (第1剂, 第2剂, …, 全程接种, 加强).

The dashboards show per-dose figures today and in total, per station and department;
counting 4,000,000 vaccination records on every poll is what these counters avoid.
Triggers on `vaccination` keep `dose_count` right whatever writes a record (the
workflow's INSERT ... SELECT, the migration, a correction that turns a record
`corrected`/`cancelled`): a record counts while it is `given` and `valid`, once under
its dose (dose1, dose2, … or booster) and once more under `complete` when it completes
the primary course (its dose number reaches the product's number of doses; a record of
an unknown product counts as completing, as migration 0008 left such people 已接种).

Four grains, one set of triggers: `dose_count` by day, station, enterprise and kind (the
departments' 今日 read it by day), `dose_station_day` without the enterprise (the district's and
the stations' 今日 and the fortnight's chart: a day of a district holds a hundred thousand
dose_count rows and fifty stations), and two running totals without the day,
`dose_station_total` and `dose_enterprise_total`, so the totals of a district with millions of
records read a few thousand rows, not a row per enterprise, station and day.

PostgreSQL: statement triggers with transition tables (one grouped upsert per table and
statement); SQLite: row triggers.
"""

from datetime import timedelta

from sqlalchemy import func, select, text

from extensions import db
from models import record_triggers
from models.org import Enterprise

KINDS = ("dose1", "dose2", "dose3", "complete", "booster")
KINDS = ("dose1", "dose2", "dose3", "complete", "booster")  # worded in admin_views/labels.py
# The kinds that are doses given (全程接种 is a course completed by one of them, not another dose).
DOSE_KINDS = ("dose1", "dose2", "dose3", "booster")


class DoseCount(db.Model):
    """n valid doses of `kind` were given at a station to people of an enterprise on a day."""

    __tablename__ = "dose_count"
    day = db.Column(db.Date, primary_key=True)
    station_id = db.Column(db.Integer, primary_key=True, autoincrement=False)
    enterprise_id = db.Column(db.Integer, primary_key=True, autoincrement=False)
    kind = db.Column(db.String(8), primary_key=True)
    n = db.Column(db.Integer, nullable=False, default=0)


class DoseStationDay(db.Model):
    """n valid doses of `kind` were given at a station on a day (the dashboards' 今日 and the fortnight's chart)."""

    __tablename__ = "dose_station_day"
    day = db.Column(db.Date, primary_key=True)
    station_id = db.Column(db.Integer, primary_key=True, autoincrement=False)
    kind = db.Column(db.String(8), primary_key=True)
    n = db.Column(db.Integer, nullable=False, default=0)


class DoseStationTotal(db.Model):
    """n valid doses of `kind` were given at a station in all (the dashboards' 累计 per station)."""

    __tablename__ = "dose_station_total"
    station_id = db.Column(db.Integer, primary_key=True, autoincrement=False)
    kind = db.Column(db.String(8), primary_key=True)
    n = db.Column(db.Integer, nullable=False, default=0)


class DoseEnterpriseTotal(db.Model):
    """n valid doses of `kind` were given to an enterprise's people in all (企业看板, departments' 累计)."""

    __tablename__ = "dose_enterprise_total"
    enterprise_id = db.Column(db.Integer, primary_key=True, autoincrement=False)
    kind = db.Column(db.String(8), primary_key=True)
    n = db.Column(db.Integer, nullable=False, default=0)


# Each table the triggers keep, with its key columns (all of them from the moves below).
ROLLUPS = (
    ("dose_count", ("day", "station_id", "enterprise_id")),
    ("dose_station_day", ("day", "station_id")),
    ("dose_station_total", ("station_id",)),
    ("dose_enterprise_total", ("enterprise_id",)),
)

# The columns a record is counted by: changing any of them moves its count (a corrected time too).
COUNTED_COLUMNS = ("state", "outcome", "at", "station_id", "person_id", "dose_number", "is_booster", "product_id")
COUNTED = "R.outcome = 'given' AND R.state = 'valid'"
DOSE_KIND = "CASE WHEN R.is_booster THEN 'booster' ELSE 'dose' || CAST(R.dose_number AS VARCHAR(2)) END"
COMPLETES = ("NOT R.is_booster AND R.dose_number >= COALESCE((SELECT p.primary_doses FROM vaccine_product p "
             "WHERE p.id = R.product_id), R.dose_number)")
ENTERPRISE = "(SELECT e.enterprise_id FROM person e WHERE e.id = R.person_id)"
TRIGGER_NAMES = {
    "postgresql": ("dose_counts_insert", "dose_counts_update", "dose_counts_delete"),
    "sqlite": ("dose_count_insert", "dose_count_update", "dose_count_delete"),
}


def _moves(rows, k):
    """Rows of (day, station, enterprise, kind, k) for the counted records of a transition table."""
    row = lambda text: text.replace("R.", "v.")  # noqa: E731 - a one-line rewrite
    return (f"SELECT CAST(v.at AS DATE) AS day, COALESCE(v.station_id, 0) AS station_id, "
            f"COALESCE({row(ENTERPRISE)}, 0) AS enterprise_id, x.kind, {k} AS k FROM {rows} v "
            f"CROSS JOIN LATERAL (VALUES ({row(DOSE_KIND)}), "
            f"(CASE WHEN {row(COMPLETES)} THEN 'complete' END)) AS x(kind) "
            f"WHERE x.kind IS NOT NULL AND {row(COUNTED)}")


def _upsert(moves, table, keys):
    # Rows are locked in key order, table after table: two concurrent batches cannot deadlock.
    key = ", ".join((*keys, "kind"))
    return (f"INSERT INTO {table} AS c ({key}, n) "
            f"SELECT {key}, sum(k) FROM ({moves}) AS m "
            f"GROUP BY {key} HAVING sum(k) <> 0 ORDER BY {key} "
            f"ON CONFLICT ({key}) DO UPDATE SET n = c.n + EXCLUDED.n;")


def _upserts(moves):
    return "\n".join(_upsert(moves, table, keys) for table, keys in ROLLUPS)


def postgresql_triggers():
    return record_triggers.postgresql_triggers("dose_counts_apply", TRIGGER_NAMES["postgresql"], _upserts, _moves)

def _sqlite_change(row, k):
    key = {"day": f"date({row}at)", "station_id": f"COALESCE({row}station_id, 0)",
           "enterprise_id": f"COALESCE({ENTERPRISE.replace('R.', row)}, 0)"}
    counted = COUNTED.replace("R.", row)
    statements = []
    for kind, when in ((DOSE_KIND.replace("R.", row), counted),
                       ("'complete'", f"{counted} AND {COMPLETES.replace('R.', row)}")):
        for table, keys in ROLLUPS:
            columns = ", ".join((*keys, "kind"))
            values = ", ".join(key[column] for column in keys)
            statements.append(
                f"INSERT INTO {table} ({columns}, n) SELECT {values}, {kind}, {k} "
                f"WHERE {when} ON CONFLICT ({columns}) DO UPDATE SET n = n + ({k});")
    return " ".join(statements)


def sqlite_triggers():
    return record_triggers.sqlite_triggers(TRIGGER_NAMES["sqlite"], _sqlite_change, COUNTED_COLUMNS)


def trigger_ddl(dialect_name):
    return postgresql_triggers() if dialect_name == "postgresql" else sqlite_triggers()


record_triggers.create_with_vaccination(trigger_ddl)


# ---------------------------------------------------------------- repair

def _counted_kinds():
    """Each counted record's (day, station, enterprise, kind), as the triggers count it (date() on either engine)."""
    row = lambda sql: sql.replace("R.", "v.")  # noqa: E731 - a one-line rewrite
    keys = (f"date(v.at) AS day, COALESCE(v.station_id, 0) AS station_id, "
            f"COALESCE({row(ENTERPRISE)}, 0) AS enterprise_id")
    return (f"SELECT {keys}, {row(DOSE_KIND)} AS kind FROM vaccination v WHERE {row(COUNTED)} "
            f"UNION ALL SELECT {keys}, 'complete' AS kind FROM vaccination v "
            f"WHERE {row(COUNTED)} AND {row(COMPLETES)}")


def rebuild():
    """Recount the dose tables from the records (the daily grain first, the others from it)."""
    (daily, daily_keys), *totals = ROLLUPS
    for table, _ in ROLLUPS:
        db.session.execute(text(f"DELETE FROM {table}"))
    key = ", ".join((*daily_keys, "kind"))
    db.session.execute(text(f"INSERT INTO {daily} ({key}, n) SELECT {key}, count(*) FROM ({_counted_kinds()}) AS r "
                            f"GROUP BY {key}"))
    for table, keys in totals:
        key = ", ".join((*keys, "kind"))
        db.session.execute(text(f"INSERT INTO {table} ({key}, n) SELECT {key}, sum(n) FROM {daily} GROUP BY {key}"))


# ---------------------------------------------------------------- reading

def _totals(table, *conditions, by=()):
    statement = select(*by, table.c.kind, func.sum(table.c.n)).where(*conditions).group_by(*by, table.c.kind)
    return db.session.execute(statement).all()


# Today's figures read dose_station_day (dose_count for departments) by its leading key column,
# the totals the two running totals.

def district_doses(day):
    """{'today': {kind: n}, 'total': {kind: n}} for the district."""
    daily = DoseStationDay.__table__
    return {"today": {kind: int(n) for kind, n in _totals(daily, daily.c.day == day) if n},
            "total": {kind: int(n) for kind, n in _totals(DoseStationTotal.__table__) if n}}


def station_doses(day):
    """{station id: {'today': {kind: n}, 'total': {kind: n}}}."""
    daily, totals = DoseStationDay.__table__, DoseStationTotal.__table__
    found = {}
    for station_id, kind, n in _totals(totals, by=(totals.c.station_id,)):
        found.setdefault(station_id, {"today": {}, "total": {}})["total"][kind] = int(n)
    for station_id, kind, n in _totals(daily, daily.c.day == day, by=(daily.c.station_id,)):
        found.setdefault(station_id, {"today": {}, "total": {}})["today"][kind] = int(n)
    return found


def one_station_doses(station_id, day):
    """{'today': {kind: n}, 'total': {kind: n}} for one station (接种进度)."""
    daily, totals = DoseStationDay.__table__, DoseStationTotal.__table__
    today_rows = _totals(daily, daily.c.station_id == station_id, daily.c.day == day)
    return {"today": {kind: int(n) for kind, n in today_rows if n},
            "total": {kind: int(n) for kind, n in _totals(totals, totals.c.station_id == station_id) if n}}


def enterprise_doses(enterprise_ids=None):
    """{enterprise id: {kind: n}} in total (the enterprise board)."""
    table = DoseEnterpriseTotal.__table__
    conditions = [table.c.enterprise_id.in_(enterprise_ids)] if enterprise_ids is not None else []
    found = {}
    for enterprise_id, kind, n in _totals(table, *conditions, by=(table.c.enterprise_id,)):
        found.setdefault(enterprise_id, {})[kind] = int(n)
    return found


def department_doses(day):
    """{department id: {'today': {kind: n}, 'total': {kind: n}}} through the enterprises' departments."""
    found = {}
    for when, table, conditions in (("total", DoseEnterpriseTotal.__table__, ()),
                                    ("today", DoseCount.__table__, (DoseCount.__table__.c.day == day,))):
        rows = db.session.execute(
            select(Enterprise.department_id, table.c.kind, func.sum(table.c.n))
            .join(Enterprise, Enterprise.id == table.c.enterprise_id)
            .where(*conditions)
            .group_by(Enterprise.department_id, table.c.kind)
        ).all()
        for department_id, kind, n in rows:
            found.setdefault(department_id, {"today": {}, "total": {}})[when][kind] = int(n)
    return found


def daily_doses(days, last_day):
    """[(day, {kind: n})] of the doses given on each of the `days` days up to `last_day`, by dose number."""
    first_day = last_day - timedelta(days=days - 1)
    daily = DoseStationDay.__table__
    found = {}
    for day, kind, n in _totals(daily, daily.c.day >= first_day, daily.c.day <= last_day,
                                daily.c.kind.in_(DOSE_KINDS), by=(daily.c.day,)):
        if n:
            found.setdefault(day, {})[kind] = int(n)
    return [(day, found.get(day, {})) for day in (first_day + timedelta(days=i) for i in range(days))]
