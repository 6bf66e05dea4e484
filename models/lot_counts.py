"""Doses given from each vaccine lot, counted by the database (the lots list, the recall list, AEFI rates).

The recall list shows how many doses of a lot were given, the center's lot list and the
AEFI rates per 10,000 doses show it for every lot; counting the lot's share of 4,000,000
vaccination records on every page is what this counter avoids. Triggers on `vaccination`
keep `lot_dose_count` right in the transaction of each dose, whatever writes the record:
the exit desk ties a record to its lot by an UPDATE of lot_id after the INSERT, a
correction turns a record `corrected`/`cancelled`. A record counts while it has a lot and
is `given` and `valid` (the same rows as models.recall.recipients_condition).

PostgreSQL: statement triggers with transition tables (one grouped upsert per statement,
rows locked in lot order so two batches cannot deadlock); SQLite: row triggers.
"""

from sqlalchemy import func, select, text

from extensions import db
from models import record_triggers


class LotDoseCount(db.Model):
    """n valid doses of a lot were given (the row may hold 0 after corrections)."""

    __tablename__ = "lot_dose_count"
    lot_id = db.Column(db.Integer, primary_key=True, autoincrement=False)
    n = db.Column(db.Integer, nullable=False, default=0)


COUNTED = "R.lot_id IS NOT NULL AND R.outcome = 'given' AND R.state = 'valid'"
TRIGGER_NAMES = {
    "postgresql": ("lot_dose_counts_insert", "lot_dose_counts_update", "lot_dose_counts_delete"),
    "sqlite": ("lot_dose_count_insert", "lot_dose_count_update", "lot_dose_count_delete"),
}


def _moves(rows, k):
    return f"SELECT v.lot_id, {k} AS k FROM {rows} v WHERE {COUNTED.replace('R.', 'v.')}"


def _upsert(moves):
    return ("INSERT INTO lot_dose_count AS c (lot_id, n) "
            f"SELECT lot_id, sum(k) FROM ({moves}) AS m GROUP BY lot_id HAVING sum(k) <> 0 ORDER BY lot_id "
            "ON CONFLICT (lot_id) DO UPDATE SET n = c.n + EXCLUDED.n;")


def postgresql_triggers():
    return record_triggers.postgresql_triggers("lot_dose_counts_apply", TRIGGER_NAMES["postgresql"], _upsert, _moves)

def _sqlite_change(row, k):
    # SQLite needs a WHERE in an upsert's SELECT to tell ON CONFLICT from a join constraint.
    return (f"INSERT INTO lot_dose_count (lot_id, n) SELECT {row}lot_id, {k} WHERE {COUNTED.replace('R.', row)} "
            f"ON CONFLICT (lot_id) DO UPDATE SET n = n + ({k});")


def sqlite_triggers():
    return record_triggers.sqlite_triggers(TRIGGER_NAMES["sqlite"], _sqlite_change, ("lot_id", "state", "outcome"))


def trigger_ddl(dialect_name):
    return postgresql_triggers() if dialect_name == "postgresql" else sqlite_triggers()


record_triggers.create_with_vaccination(trigger_ddl)


# ---------------------------------------------------------------- repair

def rebuild():
    """Recount lot_dose_count from the records (one grouped INSERT ... SELECT)."""
    db.session.execute(text("DELETE FROM lot_dose_count"))
    db.session.execute(text("INSERT INTO lot_dose_count (lot_id, n) SELECT v.lot_id, count(*) FROM vaccination v "
                            f"WHERE {COUNTED.replace('R.', 'v.')} GROUP BY v.lot_id"))


# ---------------------------------------------------------------- reading

def doses_by_lot():
    """{lot id: doses given} for every lot that has a counter row."""
    return {lot_id: n for lot_id, n in db.session.execute(select(LotDoseCount.lot_id, LotDoseCount.n)).all()}


def lot_doses_column(lot_id_column):
    """A scalar subquery: the doses given of the lot in `lot_id_column` (0 without a counter row)."""
    return func.coalesce(select(LotDoseCount.n).where(LotDoseCount.lot_id == lot_id_column).scalar_subquery(), 0)
