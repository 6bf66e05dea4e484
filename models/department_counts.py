"""Persons per review department and status, counted by the database: the center's tree and tabs.

The center's lists show on every page, for the whole district, a count per department
(the tree) and per status (the tabs). Summing the enterprise counters (person_status_count,
a row per enterprise and status: tens of thousands at district scale) joined to their
enterprises cost more than the rest of the page; department_status_count holds the same
sums, a row per department and status. Two sets of triggers keep it right:

- on person_status_count: every change of an enterprise's count is passed on to the
  enterprise's department (the person triggers of models/counters.py write those counts,
  whatever changed the persons);
- on enterprise: an enterprise moved to another department takes its counts along.

PostgreSQL: statement triggers with transition tables; the rows a statement changes are
locked in key order first, so two transactions cannot deadlock on them; a count taken off
a row that is not there is not written (a missing row is a counter already wrong, which
`rebuild` repairs). SQLite: row triggers, the same rules.
"""

from sqlalchemy import DDL, event, func, select

from extensions import db
from models.counters import COUNTS_TABLE, leave_room_on_pages
from models.org import Enterprise
from models.person import Person


class DepartmentStatusCount(db.Model):
    """n persons of the enterprises a department reviews itself are in a status (rows may hold 0)."""

    __tablename__ = "department_status_count"
    department_id = db.Column(db.Integer, primary_key=True, autoincrement=False)
    status = db.Column(db.String(20), primary_key=True)
    n = db.Column(db.Integer, nullable=False, default=0)


TABLE = DepartmentStatusCount.__table__
TRIGGER_NAMES = {
    "postgresql": {
        "person_status_count": ("department_counts_insert", "department_counts_update", "department_counts_delete"),
        "enterprise": ("department_counts_enterprise_moved",),
    },
    "sqlite": {
        "person_status_count": ("department_count_insert", "department_count_update", "department_count_delete"),
        "enterprise": ("department_count_enterprise_moved",),
    },
}
FUNCTIONS = ("department_counts_apply", "department_counts_move")

# ---------------------------------------------------------------- PostgreSQL


def _counts_of(rows, k):
    """The department moves of a transition table of person_status_count rows."""
    return (f"SELECT e.department_id, r.status, {k} * r.n AS k FROM {rows} r "
            "JOIN enterprise e ON e.id = r.enterprise_id")


def _moved_enterprises(side, k):
    """The counts of the enterprises whose department an UPDATE of enterprise changed, out of or into it."""
    return (f"SELECT {side}.department_id, c.status, {k} * c.n AS k FROM old_rows o JOIN new_rows w ON w.id = o.id "
            "JOIN person_status_count c ON c.enterprise_id = o.id WHERE w.department_id <> o.department_id")


def _apply(moves):
    """Statements adding the net moves to the counters: lock the rows in key order, take, then add."""
    net = (f"(SELECT department_id, status, sum(k) AS k FROM ({moves}) AS m "
           "GROUP BY department_id, status HAVING sum(k) <> 0)")
    return (
        f"PERFORM 1 FROM department_status_count c JOIN {net} d "
        "ON c.department_id = d.department_id AND c.status = d.status "
        "ORDER BY c.department_id, c.status FOR UPDATE OF c;\n"
        f"UPDATE department_status_count c SET n = c.n + d.k FROM {net} d "
        "WHERE d.k < 0 AND c.department_id = d.department_id AND c.status = d.status;\n"
        f"INSERT INTO department_status_count AS c (department_id, status, n) SELECT department_id, status, k "
        f"FROM {net} d WHERE k > 0 ORDER BY department_id, status "
        "ON CONFLICT (department_id, status) DO UPDATE SET n = c.n + EXCLUDED.n;"
    )


def _function(name, body):
    return (f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
            f"{body}\nRETURN NULL;\nEND\n$$")


def postgresql_triggers():
    apply, move = FUNCTIONS
    insert, update, delete = TRIGGER_NAMES["postgresql"]["person_status_count"]
    (moved,) = TRIGGER_NAMES["postgresql"]["enterprise"]
    # The person triggers write person_status_count with statements that often change no row (a
    # person's phone edited): those return at once.
    counts = _function(apply, (
        "IF TG_OP = 'INSERT' THEN\nIF NOT EXISTS (SELECT 1 FROM new_rows) THEN RETURN NULL; END IF;\n"
        + _apply(_counts_of("new_rows", 1)) + "\n"
        "ELSIF TG_OP = 'DELETE' THEN\nIF NOT EXISTS (SELECT 1 FROM old_rows) THEN RETURN NULL; END IF;\n"
        + _apply(_counts_of("old_rows", -1)) + "\n"
        "ELSE\nIF NOT EXISTS (SELECT 1 FROM old_rows) THEN RETURN NULL; END IF;\n"
        + _apply(_counts_of("old_rows", -1) + " UNION ALL " + _counts_of("new_rows", 1)) + "\nEND IF;"))
    moves = _function(move, _apply(_moved_enterprises("o", -1) + " UNION ALL " + _moved_enterprises("w", 1)))
    return (
        counts,
        moves,
        f"CREATE TRIGGER {insert} AFTER INSERT ON person_status_count REFERENCING NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {apply}()",
        f"CREATE TRIGGER {update} AFTER UPDATE ON person_status_count REFERENCING OLD TABLE AS old_rows "
        f"NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {apply}()",
        f"CREATE TRIGGER {delete} AFTER DELETE ON person_status_count REFERENCING OLD TABLE AS old_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {apply}()",
        # Transition tables rule out a column list (UPDATE OF department_id): the function
        # compares old and new rows itself.
        f"CREATE TRIGGER {moved} AFTER UPDATE ON enterprise REFERENCING OLD TABLE AS old_rows "
        f"NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {move}()",
    )


# ---------------------------------------------------------------- SQLite

def _sqlite_add(department, status, n, guard="1 = 1"):
    # SQLite needs a WHERE in an upsert's SELECT to tell ON CONFLICT from a join constraint.
    return (f"INSERT INTO department_status_count (department_id, status, n) SELECT {department}, {status}, {n} "
            f"WHERE {guard} ON CONFLICT (department_id, status) DO UPDATE SET n = n + excluded.n;")


def _sqlite_take(department, status, n):
    return f"UPDATE department_status_count SET n = n - ({n}) WHERE department_id = {department} AND status = {status};"


def _department_of(row):
    return f"(SELECT department_id FROM enterprise WHERE id = {row}enterprise_id)"


def sqlite_triggers():
    insert, update, delete = TRIGGER_NAMES["sqlite"]["person_status_count"]
    (moved,) = TRIGGER_NAMES["sqlite"]["enterprise"]
    new, old = _department_of("NEW."), _department_of("OLD.")
    return (
        f"CREATE TRIGGER {insert} AFTER INSERT ON person_status_count WHEN NEW.n <> 0 "
        f"BEGIN {_sqlite_add(new, 'NEW.status', 'NEW.n', f'{new} IS NOT NULL')} END",
        f"CREATE TRIGGER {update} AFTER UPDATE OF enterprise_id, status, n ON person_status_count "
        "WHEN NEW.n IS NOT OLD.n OR NEW.enterprise_id IS NOT OLD.enterprise_id OR NEW.status IS NOT OLD.status "
        f"BEGIN {_sqlite_take(old, 'OLD.status', 'OLD.n')} "
        f"{_sqlite_add(new, 'NEW.status', 'NEW.n', f'{new} IS NOT NULL AND NEW.n <> 0')} END",
        f"CREATE TRIGGER {delete} AFTER DELETE ON person_status_count WHEN OLD.n <> 0 "
        f"BEGIN {_sqlite_take(old, 'OLD.status', 'OLD.n')} END",
        f"CREATE TRIGGER {moved} AFTER UPDATE OF department_id ON enterprise "
        "WHEN NEW.department_id IS NOT OLD.department_id BEGIN "
        "UPDATE department_status_count SET n = n - (SELECT c.n FROM person_status_count c "
        "WHERE c.enterprise_id = NEW.id AND c.status = department_status_count.status) "
        "WHERE department_id = OLD.department_id AND status IN "
        "(SELECT status FROM person_status_count WHERE enterprise_id = NEW.id); "
        "INSERT INTO department_status_count (department_id, status, n) SELECT NEW.department_id, status, n "
        "FROM person_status_count WHERE enterprise_id = NEW.id AND n <> 0 "
        "ON CONFLICT (department_id, status) DO UPDATE SET n = n + excluded.n; END",
    )


def trigger_ddl(dialect_name):
    """The statements that create the department counters' triggers on `dialect_name`."""
    return postgresql_triggers() if dialect_name == "postgresql" else sqlite_triggers()


def _create_triggers(target, connection, **kw):
    # After both tables the triggers sit on exist (create_all makes them in dependency order).
    tables = {"person_status_count", "enterprise"}
    if not all(connection.dialect.has_table(connection, name) for name in tables - {target.name}):
        return
    for statement in trigger_ddl(connection.dialect.name):
        connection.execute(DDL(statement.replace("%", "%%")))


event.listen(TABLE, "after_create", leave_room_on_pages)
event.listen(COUNTS_TABLE, "after_create", _create_triggers)
event.listen(Enterprise.__table__, "after_create", _create_triggers)


# ---------------------------------------------------------------- reading (rebuilt by models.counters.rebuild)

def persons_by_department_and_status(statuses=None):
    """{(department id, status): persons} for `statuses` (all when None; a few hundred rows at most)."""
    statement = select(TABLE.c.department_id, TABLE.c.status, TABLE.c.n).where(TABLE.c.n != 0)
    if statuses is not None:
        statement = statement.where(TABLE.c.status.in_(statuses))
    return {(department_id, status): n for department_id, status, n in db.session.execute(statement)}


def status_totals():
    """{status: persons} of the whole district."""
    rows = db.session.execute(select(TABLE.c.status, func.sum(TABLE.c.n)).group_by(TABLE.c.status))
    return {status: int(n) for status, n in rows if n}


def actual_counts():
    """A select of (department id, status, persons) counting the persons themselves."""
    return (select(Enterprise.department_id, Person.status, func.count())
            .join(Enterprise, Enterprise.id == Person.enterprise_id)
            .group_by(Enterprise.department_id, Person.status))

