"""Doses given, counted by the database: per day, station, enterprise and kind (第1剂, 第2剂, …, 全程接种, 加强).

The dashboards show per-dose figures today and in total, per station and department;
counting 4,000,000 vaccination records on every poll is what these counters avoid.
Triggers on `vaccination` keep `dose_count` right whatever writes a record (the
workflow's INSERT ... SELECT, the migration, a correction that turns a record
`corrected`/`cancelled`): a record counts while it is `given` and `valid`, once under
its dose (dose1, dose2, … or booster) and once more under `complete` when it completes
the primary course (its dose number reaches the product's number of doses; a record of
an unknown product counts as completing, as migration 0008 left such people 已接种).

PostgreSQL: statement triggers with transition tables (one grouped upsert per
statement); SQLite: row triggers.
"""

from sqlalchemy import DDL, event, func, select

from extensions import db
from models.doses import Vaccination
from models.org import Enterprise

KINDS = ("dose1", "dose2", "dose3", "complete", "booster")
KIND_LABELS = {"dose1": "第1剂", "dose2": "第2剂", "dose3": "第3剂", "complete": "全程接种", "booster": "加强"}


class DoseCount(db.Model):
    """n valid doses of `kind` were given at a station to people of an enterprise on a day."""

    __tablename__ = "dose_count"
    day = db.Column(db.Date, primary_key=True)
    station_id = db.Column(db.Integer, primary_key=True, autoincrement=False)
    enterprise_id = db.Column(db.Integer, primary_key=True, autoincrement=False)
    kind = db.Column(db.String(8), primary_key=True)
    n = db.Column(db.Integer, nullable=False, default=0)


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


def _upsert(moves):
    return ("INSERT INTO dose_count AS c (day, station_id, enterprise_id, kind, n) "
            f"SELECT day, station_id, enterprise_id, kind, sum(k) FROM ({moves}) AS m "
            "GROUP BY day, station_id, enterprise_id, kind HAVING sum(k) <> 0 "
            "ON CONFLICT (day, station_id, enterprise_id, kind) DO UPDATE SET n = c.n + EXCLUDED.n;")


def postgresql_triggers():
    function = (
        "CREATE OR REPLACE FUNCTION dose_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
        "IF TG_OP = 'INSERT' THEN\n" + _upsert(_moves("new_rows", 1)) + "\n"
        "ELSIF TG_OP = 'DELETE' THEN\n" + _upsert(_moves("old_rows", -1)) + "\n"
        "ELSE\n" + _upsert(_moves("old_rows", -1) + " UNION ALL " + _moves("new_rows", 1))
        + "\nEND IF;\nRETURN NULL;\nEND\n$$"
    )
    insert, update, delete = TRIGGER_NAMES["postgresql"]
    return (
        function,
        f"CREATE TRIGGER {insert} AFTER INSERT ON vaccination REFERENCING NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION dose_counts_apply()",
        f"CREATE TRIGGER {update} AFTER UPDATE ON vaccination REFERENCING OLD TABLE AS old_rows "
        "NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION dose_counts_apply()",
        f"CREATE TRIGGER {delete} AFTER DELETE ON vaccination REFERENCING OLD TABLE AS old_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION dose_counts_apply()",
    )


def _sqlite_change(row, k):
    key = (f"date({row}at), COALESCE({row}station_id, 0), COALESCE({ENTERPRISE.replace('R.', row)}, 0)")
    counted = COUNTED.replace("R.", row)
    statements = []
    for kind, when in ((DOSE_KIND.replace("R.", row), counted),
                       ("'complete'", f"{counted} AND {COMPLETES.replace('R.', row)}")):
        statements.append(
            f"INSERT INTO dose_count (day, station_id, enterprise_id, kind, n) SELECT {key}, {kind}, {k} "
            f"WHERE {when} ON CONFLICT (day, station_id, enterprise_id, kind) DO UPDATE SET n = n + ({k});")
    return " ".join(statements)


def sqlite_triggers():
    insert, update, delete = TRIGGER_NAMES["sqlite"]
    return (
        f"CREATE TRIGGER {insert} AFTER INSERT ON vaccination BEGIN {_sqlite_change('NEW.', 1)} END",
        f"CREATE TRIGGER {update} AFTER UPDATE OF state, outcome ON vaccination "
        f"WHEN NEW.state IS NOT OLD.state OR NEW.outcome IS NOT OLD.outcome "
        f"BEGIN {_sqlite_change('OLD.', -1)} {_sqlite_change('NEW.', 1)} END",
        f"CREATE TRIGGER {delete} AFTER DELETE ON vaccination BEGIN {_sqlite_change('OLD.', -1)} END",
    )


def trigger_ddl(dialect_name):
    return postgresql_triggers() if dialect_name == "postgresql" else sqlite_triggers()


def _create_triggers(target, connection, **kw):
    for statement in trigger_ddl(connection.dialect.name):
        connection.execute(DDL(statement.replace("%", "%%")))


event.listen(Vaccination.__table__, "after_create", _create_triggers)


# ---------------------------------------------------------------- reading

def _totals(*conditions, by=()):
    table = DoseCount.__table__
    statement = select(*by, table.c.kind, func.sum(table.c.n)).where(*conditions).group_by(*by, table.c.kind)
    return db.session.execute(statement).all()


def district_doses(day):
    """{'today': {kind: n}, 'total': {kind: n}} for the district."""
    table = DoseCount.__table__
    return {"today": {kind: int(n) for kind, n in _totals(table.c.day == day) if n},
            "total": {kind: int(n) for kind, n in _totals() if n}}


def station_doses(day):
    """{station id: {'today': {kind: n}, 'total': {kind: n}}}."""
    table = DoseCount.__table__
    found = {}
    for station_id, kind, n in _totals(by=(table.c.station_id,)):
        found.setdefault(station_id, {"today": {}, "total": {}})["total"][kind] = int(n)
    for station_id, kind, n in _totals(table.c.day == day, by=(table.c.station_id,)):
        found.setdefault(station_id, {"today": {}, "total": {}})["today"][kind] = int(n)
    return found


def one_station_doses(station_id, day):
    """{'today': {kind: n}, 'total': {kind: n}} for one station (接种进度)."""
    table = DoseCount.__table__
    mine = table.c.station_id == station_id
    return {"today": {kind: int(n) for kind, n in _totals(mine, table.c.day == day) if n},
            "total": {kind: int(n) for kind, n in _totals(mine) if n}}


def enterprise_doses(enterprise_ids=None):
    """{enterprise id: {kind: n}} in total (the enterprise board; the department rows add these up)."""
    table = DoseCount.__table__
    conditions = [table.c.enterprise_id.in_(enterprise_ids)] if enterprise_ids is not None else []
    found = {}
    for enterprise_id, kind, n in _totals(*conditions, by=(table.c.enterprise_id,)):
        found.setdefault(enterprise_id, {})[kind] = int(n)
    return found


def department_doses(day):
    """{department id: {'today': {kind: n}, 'total': {kind: n}}} through the enterprises' departments."""
    table = DoseCount.__table__
    found = {}
    for when, conditions in (("total", ()), ("today", (table.c.day == day,))):
        rows = db.session.execute(
            select(Enterprise.department_id, table.c.kind, func.sum(table.c.n))
            .join(Enterprise, Enterprise.id == table.c.enterprise_id)
            .where(*conditions)
            .group_by(Enterprise.department_id, table.c.kind)
        ).all()
        for department_id, kind, n in rows:
            found.setdefault(department_id, {"today": {}, "total": {}})[when][kind] = int(n)
    return found
