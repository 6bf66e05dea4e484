"""Counts of persons kept by the database itself: per enterprise, per station, vaccinations per day.

Counting a status tab of 1,000,000 persons with count(*) costs tens of milliseconds on
every page; the figures of a dashboard or a department tree cost more. Three small
tables hold the figures instead, and triggers keep them right on every INSERT, UPDATE
and DELETE of person, whatever the path (the workflow, the public form, imports, raw SQL):

- person_status_count (enterprise_id, status, n): every person;
- station_status_count (station_id, status, n): persons allocated to a station;
- vaccination_day_count (day, station_id, n): vaccinated persons by the day of finished_at.

On PostgreSQL the triggers are statement triggers with transition tables: a
50,000-person batch adjusts all three with one grouped statement. SQLite has row
triggers only; each fires just for the columns it counts.

`count_persons(condition)` and `status_totals(condition)` answer from the counters
whenever the condition only looks at a person's enterprise and status (scopes, tabs,
tree nodes), and count persons otherwise.
"""

from datetime import date

from sqlalchemy import DDL, event, func, select, true
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import ColumnClause
from sqlalchemy.sql.selectable import Select

from extensions import db
from models.person import Person
from models.status import VACCINATED


class PersonStatusCount(db.Model):
    """n persons of an enterprise are in a status (rows may hold 0)."""

    __tablename__ = "person_status_count"
    enterprise_id = db.Column(db.Integer, primary_key=True, autoincrement=False)
    status = db.Column(db.String(20), primary_key=True)
    n = db.Column(db.Integer, nullable=False, default=0)


class StationStatusCount(db.Model):
    """n persons allocated to a station are in a status."""

    __tablename__ = "station_status_count"
    station_id = db.Column(db.Integer, primary_key=True, autoincrement=False)
    status = db.Column(db.String(20), primary_key=True)
    n = db.Column(db.Integer, nullable=False, default=0)


class VaccinationDayCount(db.Model):
    """n persons were vaccinated at a station on a day (by finished_at)."""

    __tablename__ = "vaccination_day_count"
    day = db.Column(db.Date, primary_key=True)
    station_id = db.Column(db.Integer, primary_key=True, autoincrement=False)
    n = db.Column(db.Integer, nullable=False, default=0)


TABLE = COUNTS_TABLE = PersonStatusCount.__table__
PERSON = Person.__table__
COUNTED_COLUMNS = {"enterprise_id": TABLE.c.enterprise_id, "status": TABLE.c.status}

# ---------------------------------------------------------------- the triggers

# (table, its key columns, the same keys computed from a person row R, when R counts, columns it reads)
COUNTERS = (
    ("person_status_count", ("enterprise_id", "status"), ("R.enterprise_id", "R.status"), "1 = 1",
     ("enterprise_id", "status")),
    ("station_status_count", ("station_id", "status"), ("R.station_id", "R.status"), "R.station_id IS NOT NULL",
     ("station_id", "status")),
    ("vaccination_day_count", ("day", "station_id"), ("DAY(R.finished_at)", "R.station_id"),
     f"R.status = '{VACCINATED}' AND R.finished_at IS NOT NULL AND R.station_id IS NOT NULL",
     ("status", "finished_at", "station_id")),
)
TRIGGER_NAMES = {
    "postgresql": ("person_counts_insert", "person_counts_update", "person_counts_delete"),
    "sqlite": tuple(f"{table}_{op}" for table, *_ in COUNTERS for op in ("insert", "update", "delete")),
}


def _postgresql_statement(moves):
    """One statement applying the net moves (rows of enterprise_id, station_id, status, day, k) to all counters."""
    parts = [
        "WITH m AS (SELECT enterprise_id, station_id, status, day, sum(k) AS k FROM (" + moves + ") AS moves "
        "GROUP BY enterprise_id, station_id, status, day HAVING sum(k) <> 0)"
    ]
    final = None
    for index, (table, keys, _, _, _) in enumerate(COUNTERS):
        key_list = ", ".join(keys)
        not_null = " AND ".join(f"{k} IS NOT NULL" for k in keys)
        join = " AND ".join(f"c.{k} = d{index}.{k}" for k in keys)
        parts.append(f"d{index} AS (SELECT {key_list}, sum(k) AS k FROM m WHERE {not_null} "
                     f"GROUP BY {key_list} HAVING sum(k) <> 0)")
        parts.append(f"take{index} AS (UPDATE {table} AS c SET n = c.n + d{index}.k FROM d{index} "
                     f"WHERE d{index}.k < 0 AND {join})")
        add = (f"INSERT INTO {table} AS c ({key_list}, n) SELECT {key_list}, k FROM d{index} WHERE k > 0 "
               f"ON CONFLICT ({key_list}) DO UPDATE SET n = c.n + EXCLUDED.n")
        if index < len(COUNTERS) - 1:
            parts.append(f"add{index} AS ({add})")
        else:
            final = add
    return ",\n".join(parts) + "\n" + final + ";"


def _moves_of(rows, k):
    day = f"CASE WHEN status = '{VACCINATED}' AND station_id IS NOT NULL THEN CAST(finished_at AS DATE) END"
    return f"SELECT enterprise_id, station_id, status, {day} AS day, {k} AS k FROM {rows}"


def postgresql_triggers():
    """A plpgsql function applying each statement's net change, and its three statement triggers."""
    function = (
        "CREATE OR REPLACE FUNCTION person_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
        "IF TG_OP = 'INSERT' THEN\n" + _postgresql_statement(_moves_of("new_rows", 1)) + "\n"
        "ELSIF TG_OP = 'DELETE' THEN\n" + _postgresql_statement(_moves_of("old_rows", -1)) + "\n"
        "ELSE\n" + _postgresql_statement(_moves_of("old_rows", -1) + " UNION ALL " + _moves_of("new_rows", 1))
        + "\nEND IF;\nRETURN NULL;\nEND\n$$"
    )
    insert, update, delete = TRIGGER_NAMES["postgresql"]
    return (
        function,
        f"CREATE TRIGGER {insert} AFTER INSERT ON person REFERENCING NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION person_counts_apply()",
        f"CREATE TRIGGER {update} AFTER UPDATE ON person REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION person_counts_apply()",
        f"CREATE TRIGGER {delete} AFTER DELETE ON person REFERENCING OLD TABLE AS old_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION person_counts_apply()",
    )


def sqlite_triggers():
    """Row triggers, three per counter; an UPDATE one fires only when a column it counts changes."""
    statements = []
    for table, keys, values, counts, reads in COUNTERS:
        key_list = ", ".join(keys)

        def add(row, table=table, values=values, counts=counts, key_list=key_list):
            return (f"INSERT INTO {table} ({key_list}, n) SELECT {', '.join(_sqlite(v, row) for v in values)}, 1 "
                    f"WHERE {counts.replace('R.', row)} ON CONFLICT ({key_list}) DO UPDATE SET n = n + 1;")

        def take(row, table=table, keys=keys, values=values, counts=counts):
            match = " AND ".join(f"{k} = {_sqlite(v, row)}" for k, v in zip(keys, values))
            return f"UPDATE {table} SET n = n - 1 WHERE {match} AND {counts.replace('R.', row)};"

        changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in reads)
        statements += [
            f"CREATE TRIGGER {table}_insert AFTER INSERT ON person BEGIN {add('NEW.')} END",
            f"CREATE TRIGGER {table}_update AFTER UPDATE OF {', '.join(reads)} ON person WHEN {changed} "
            f"BEGIN {take('OLD.')} {add('NEW.')} END",
            f"CREATE TRIGGER {table}_delete AFTER DELETE ON person BEGIN {take('OLD.')} END",
        ]
    return tuple(statements)


def _sqlite(expression, row):
    """A key expression of COUNTERS for the row NEW. or OLD. (date() is SQLite's day of a timestamp)."""
    return expression.replace("DAY(", "date(").replace("R.", row)


def trigger_ddl(dialect_name):
    """The statements that create the counting triggers on `dialect_name`."""
    return postgresql_triggers() if dialect_name == "postgresql" else sqlite_triggers()


def drop_trigger_ddl(dialect_name):
    if dialect_name == "postgresql":
        return tuple(f"DROP TRIGGER IF EXISTS {name} ON person" for name in TRIGGER_NAMES["postgresql"]) + (
            "DROP FUNCTION IF EXISTS person_counts_apply()",
        )
    return tuple(f"DROP TRIGGER IF EXISTS {name}" for name in TRIGGER_NAMES["sqlite"])


def _create_triggers(target, connection, **kw):
    for statement in trigger_ddl(connection.dialect.name):
        connection.execute(DDL(statement.replace("%", "%%")))


def leave_room_on_pages(target, connection, **kw):
    # Room on every page, so that changing n rewrites the row in place (PostgreSQL HOT update);
    # no index holds n for the same reason. Migration 0004 does the same.
    if connection.dialect.name == "postgresql":
        connection.execute(DDL(f"ALTER TABLE {target.name} SET (fillfactor = 70)"))


for _table in (TABLE, StationStatusCount.__table__, VaccinationDayCount.__table__):
    event.listen(_table, "after_create", leave_room_on_pages)

# create_all() (tests, a new SQLite file) gets the triggers with the person table; the
# migration adds them by hand. Neither engine checks the counters tables exist until a trigger runs.
event.listen(PERSON, "after_create", _create_triggers)


# ---------------------------------------------------------------- reading

def on_counters(condition):
    """Return `condition` rewritten onto person_status_count, or None when it needs other columns.

    Only a person's enterprise_id and status exist there. Subqueries (e.g. the
    enterprises of a department) are kept as they are, unless they read persons.
    """
    usable = True

    def replace(element):
        nonlocal usable
        if isinstance(element, Select):
            if any(_is_person_column(e) for e in visitors.iterate(element)):
                usable = False
            return element  # keep subqueries whole
        if _is_person_column(element):
            column = COUNTED_COLUMNS.get(element.key)
            if column is None:
                usable = False
            return column
        return None

    rewritten = visitors.replacement_traverse(condition if condition is not None else true(), {}, replace)
    return rewritten if usable else None


def _is_person_column(element):
    return isinstance(element, ColumnClause) and getattr(element, "table", None) is PERSON


def count_persons(condition=None):
    """How many persons match `condition` (from the counters when it allows)."""
    counted = on_counters(condition)
    if counted is None:
        statement = select(func.count()).select_from(Person)
        if condition is not None:
            statement = statement.where(condition)
        return db.session.execute(statement).scalar_one()
    return int(db.session.execute(
        select(func.coalesce(func.sum(TABLE.c.n), 0)).where(counted)
    ).scalar_one())


def status_totals(condition=None):
    """Return {status: persons} for the persons matching `condition` (counters when it allows)."""
    counted = on_counters(condition)
    if counted is None:
        statement = select(Person.status, func.count()).group_by(Person.status)
        if condition is not None:
            statement = statement.where(condition)
        return dict(db.session.execute(statement).all())
    rows = db.session.execute(
        select(TABLE.c.status, func.sum(TABLE.c.n)).where(counted).group_by(TABLE.c.status)
    ).all()
    return {status: int(n) for status, n in rows if n}


def station_status_totals(statuses=None):
    """Return {station id: {status: persons}} of the persons allocated to stations."""
    table = StationStatusCount.__table__
    statement = select(table.c.station_id, table.c.status, table.c.n).where(table.c.n != 0)
    if statuses is not None:
        statement = statement.where(table.c.status.in_(statuses))
    totals = {}
    for station_id, status, n in db.session.execute(statement):
        totals.setdefault(station_id, {})[status] = n
    return totals


def vaccinations_by_day(first_day, last_day):
    """Return {(day, station id): vaccinated persons} for first_day <= day <= last_day."""
    table = VaccinationDayCount.__table__
    rows = db.session.execute(
        select(table.c.day, table.c.station_id, table.c.n)
        .where(table.c.day >= first_day, table.c.day <= last_day, table.c.n != 0)
    )
    return {(day, station_id): n for day, station_id, n in rows}


# ---------------------------------------------------------------- repair

def _actual_counts():
    """{table: select of (key..., n)} counting the persons themselves, one per counter table.

    The department counters come last: rebuilding the enterprise counters moves them too.
    """
    from models import department_counts  # it reads this module's table

    return {
        TABLE: select(Person.enterprise_id, Person.status, func.count())
        .group_by(Person.enterprise_id, Person.status),
        StationStatusCount.__table__: select(Person.station_id, Person.status, func.count())
        .where(Person.station_id.is_not(None)).group_by(Person.station_id, Person.status),
        VaccinationDayCount.__table__: select(func.date(Person.finished_at), Person.station_id, func.count())
        .where(Person.status == VACCINATED, Person.finished_at.is_not(None), Person.station_id.is_not(None))
        .group_by(func.date(Person.finished_at), Person.station_id),
        department_counts.TABLE: department_counts.actual_counts(),
    }


def rebuild():
    """Recount every counter table from the persons (one set-based statement each)."""
    for table, actual in _actual_counts().items():
        db.session.execute(table.delete())
        db.session.execute(table.insert().from_select([c.name for c in table.columns], actual))


def mismatches():
    """Return [(table, key, counted, actual)] wherever a counter disagrees with the persons."""
    found = []
    for table, actual in _actual_counts().items():
        real = {_key(row[:-1]): row[-1] for row in db.session.execute(actual)}
        counted = {_key(row[:-1]): row[-1] for row in db.session.execute(select(*table.columns))}
        for key in sorted(set(real) | {k for k, n in counted.items() if n}, key=str):
            if counted.get(key, 0) != real.get(key, 0):
                found.append((table.name, key, counted.get(key, 0), real.get(key, 0)))
    return found


def _key(values):
    # SQLite answers date() with text, PostgreSQL with a date: compare days as text.
    return tuple(v.isoformat() if isinstance(v, date) else v for v in values)
