"""The benchmark's district is built with exact counters and leaves the schema as it found it.

On SQLite the bulk tables are loaded without their indexes and triggers and the counters
recounted afterwards; on PostgreSQL the triggers count as the rows are copied in.
"""

from sqlalchemy import inspect, select, text, update

from bench.dataset import BULK_TABLES, Dataset
from models import counters, dose_counts, lot_counts
from models.dose_counts import DoseCount, DoseEnterpriseTotal, DoseStationTotal
from models.lot_counts import LotDoseCount
from services.consistency import run_checks

DOSE_TABLES = (DoseCount, DoseStationTotal, DoseEnterpriseTotal, LotDoseCount)


def build(db, persons=1500):
    summary = Dataset(persons, log=lambda message: None).run()
    db.session.commit()
    return summary


def schema(db):
    """Each bulk table's indexes, and on SQLite every trigger's SQL."""
    inspector = inspect(db.engine)
    indexes = {table: sorted((i["name"], i["column_names"], i["unique"], str(sorted(
        (option, str(value)) for option, value in i.get("dialect_options", {}).items())))  # a WHERE is a clause object
        for i in inspector.get_indexes(table)) for table in BULK_TABLES}
    triggers = set()
    if db.engine.dialect.name == "sqlite":
        triggers = set(db.session.execute(text("SELECT sql FROM sqlite_master WHERE type = 'trigger'")).scalars())
    return indexes, triggers


def failed_checks(db):
    with db.engine.connect() as connection:
        return [(f.check.key, f.count) for f in run_checks(connection) if not f.ok]


def counts(db, table):
    return sorted(tuple(row) for row in db.session.execute(select(*table.__table__.columns)).all() if row.n)


def test_the_district_has_exact_counters_and_the_schema_it_started_with(db):
    before = schema(db)
    summary = build(db)
    assert summary["records"] > summary["persons"]
    assert failed_checks(db) == []
    assert schema(db) == before
    if db.engine.dialect.name == "sqlite":  # the triggers as the models create them
        made = {*counters.trigger_ddl("sqlite"), *dose_counts.trigger_ddl("sqlite"), *lot_counts.trigger_ddl("sqlite")}
        assert made <= before[1]
    # the triggers count again: a record cancelled after the build leaves every counter right
    db.session.execute(text("UPDATE vaccination SET state = 'cancelled' WHERE id = (SELECT min(id) FROM vaccination "
                            "WHERE outcome = 'given')"))
    db.session.commit()
    assert failed_checks(db) == []


def test_rebuilt_dose_and_lot_counters_equal_what_the_triggers_counted(db):
    build(db)
    counted = {table: counts(db, table) for table in DOSE_TABLES}
    db.session.execute(update(DoseCount).values(n=DoseCount.n + 1))
    for table in DOSE_TABLES[1:]:
        db.session.execute(table.__table__.delete())
    dose_counts.rebuild()
    lot_counts.rebuild()
    db.session.commit()
    assert {table: counts(db, table) for table in DOSE_TABLES} == counted
    assert all(counted.values())
