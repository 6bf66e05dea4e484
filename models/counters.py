"""Counts of persons per enterprise and status, kept by the database itself.

Counting a status tab of 1,000,000 persons with count(*) costs tens of milliseconds on
every page; the figures of a dashboard or a department tree cost more. The table
`person_status_count` holds n for every (enterprise, status), and triggers keep it
right on every INSERT, UPDATE and DELETE of person, whatever the path (the workflow,
the public form, imports, raw SQL). On PostgreSQL they are statement triggers with
transition tables: a 50,000-person batch adjusts the counters with one grouped
statement. SQLite has only row triggers; each costs two small indexed writes.

`count_persons(condition)` and `status_totals(condition)` answer from the counters
whenever the condition only looks at a person's enterprise and status (scopes, tabs,
tree nodes), and fall back to counting persons otherwise.
"""

from sqlalchemy import DDL, and_, event, func, select, true
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import ColumnClause
from sqlalchemy.sql.selectable import Select

from extensions import db
from models.person import Person


class PersonStatusCount(db.Model):
    """n persons of an enterprise are in a status (rows may hold 0)."""

    __tablename__ = "person_status_count"
    enterprise_id = db.Column(db.Integer, primary_key=True, autoincrement=False)
    status = db.Column(db.String(20), primary_key=True)
    n = db.Column(db.Integer, nullable=False, default=0)

    __table_args__ = (db.Index("ix_person_status_count_status", "status", "enterprise_id", "n"),)


TABLE = PersonStatusCount.__table__
PERSON = Person.__table__
COUNTED_COLUMNS = {"enterprise_id": TABLE.c.enterprise_id, "status": TABLE.c.status}

# ---------------------------------------------------------------- the triggers

POSTGRESQL_TRIGGERS = (
    """
CREATE OR REPLACE FUNCTION person_status_count_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO person_status_count AS c (enterprise_id, status, n)
        SELECT enterprise_id, status, count(*) FROM new_rows GROUP BY enterprise_id, status
        ON CONFLICT (enterprise_id, status) DO UPDATE SET n = c.n + EXCLUDED.n;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE person_status_count AS c SET n = c.n - d.k
        FROM (SELECT enterprise_id, status, count(*) AS k FROM old_rows GROUP BY enterprise_id, status) AS d
        WHERE c.enterprise_id = d.enterprise_id AND c.status = d.status;
    ELSE
        -- The net change per (enterprise, status): rows that kept both cancel out.
        WITH d AS (
            SELECT enterprise_id, status, sum(k) AS k FROM (
                SELECT enterprise_id, status, -1 AS k FROM old_rows
                UNION ALL
                SELECT enterprise_id, status, 1 AS k FROM new_rows
            ) AS moves
            GROUP BY enterprise_id, status
            HAVING sum(k) <> 0
        ), taken AS (
            UPDATE person_status_count AS c SET n = c.n + d.k
            FROM d WHERE d.k < 0 AND c.enterprise_id = d.enterprise_id AND c.status = d.status
        )
        INSERT INTO person_status_count AS c (enterprise_id, status, n)
        SELECT enterprise_id, status, k FROM d WHERE k > 0
        ON CONFLICT (enterprise_id, status) DO UPDATE SET n = c.n + EXCLUDED.n;
    END IF;
    RETURN NULL;
END
$$
""",
    "CREATE TRIGGER person_status_count_insert AFTER INSERT ON person REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION person_status_count_apply()",
    "CREATE TRIGGER person_status_count_update AFTER UPDATE ON person "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION person_status_count_apply()",
    "CREATE TRIGGER person_status_count_delete AFTER DELETE ON person REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION person_status_count_apply()",
)

_SQLITE_ADD = (
    "INSERT INTO person_status_count (enterprise_id, status, n) VALUES (NEW.enterprise_id, NEW.status, 1) "
    "ON CONFLICT (enterprise_id, status) DO UPDATE SET n = n + 1;"
)
_SQLITE_TAKE = (
    "UPDATE person_status_count SET n = n - 1 WHERE enterprise_id = OLD.enterprise_id AND status = OLD.status;"
)
SQLITE_TRIGGERS = (
    f"CREATE TRIGGER person_status_count_insert AFTER INSERT ON person BEGIN {_SQLITE_ADD} END",
    f"CREATE TRIGGER person_status_count_delete AFTER DELETE ON person BEGIN {_SQLITE_TAKE} END",
    "CREATE TRIGGER person_status_count_update AFTER UPDATE OF enterprise_id, status ON person "
    "WHEN NEW.enterprise_id IS NOT OLD.enterprise_id OR NEW.status IS NOT OLD.status "
    f"BEGIN {_SQLITE_TAKE} {_SQLITE_ADD} END",
)

TRIGGER_NAMES = ("person_status_count_insert", "person_status_count_update", "person_status_count_delete")


def trigger_ddl(dialect_name):
    """The statements that create the counting triggers on `dialect_name`."""
    return POSTGRESQL_TRIGGERS if dialect_name == "postgresql" else SQLITE_TRIGGERS


def drop_trigger_ddl(dialect_name):
    if dialect_name == "postgresql":
        return tuple(f"DROP TRIGGER IF EXISTS {name} ON person" for name in TRIGGER_NAMES) + (
            "DROP FUNCTION IF EXISTS person_status_count_apply()",
        )
    return tuple(f"DROP TRIGGER IF EXISTS {name}" for name in TRIGGER_NAMES)


def _create_triggers(target, connection, **kw):
    for statement in trigger_ddl(connection.dialect.name):
        connection.execute(DDL(statement.replace("%", "%%")))


# create_all() (tests, a new SQLite file) gets the triggers with the person table; the
# migration adds them by hand. Neither engine checks the counters table exists until a trigger runs.
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


def enterprise_status_totals(statuses, condition=None):
    """Return [(enterprise id, persons)] in `statuses` per enterprise, for `condition` when it allows.

    Returns None when the condition needs more than enterprise and status.
    """
    counted = on_counters(and_(Person.status.in_(statuses), condition if condition is not None else true()))
    if counted is None:
        return None
    rows = db.session.execute(
        select(TABLE.c.enterprise_id, func.sum(TABLE.c.n)).where(counted).group_by(TABLE.c.enterprise_id)
    ).all()
    return [(enterprise_id, int(n)) for enterprise_id, n in rows if n]


# ---------------------------------------------------------------- repair

def rebuild():
    """Recount every (enterprise, status) from the persons table (one set-based statement)."""
    db.session.execute(TABLE.delete())
    db.session.execute(TABLE.insert().from_select(
        ["enterprise_id", "status", "n"],
        select(Person.enterprise_id, Person.status, func.count()).group_by(Person.enterprise_id, Person.status),
    ))


def mismatches():
    """Return [(enterprise id, status, counted, actual)] where the counters disagree with the persons."""
    actual = {(e, s): n for e, s, n in db.session.execute(
        select(Person.enterprise_id, Person.status, func.count()).group_by(Person.enterprise_id, Person.status)
    )}
    counted = {(e, s): n for e, s, n in db.session.execute(select(TABLE.c.enterprise_id, TABLE.c.status, TABLE.c.n))}
    keys = set(actual) | {k for k, n in counted.items() if n}
    return sorted((e, s, counted.get((e, s), 0), actual.get((e, s), 0))
                  for e, s in keys if counted.get((e, s), 0) != actual.get((e, s), 0))
