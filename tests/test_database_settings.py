"""The embedded SQLite holds the same references as PostgreSQL, and runs in WAL mode with full sync."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from extensions import db as _db
from models.person import Person


def test_a_person_of_an_enterprise_that_does_not_exist_is_refused_on_either_database(db):
    _db.session.add(Person(name="无主人员", id_number="120116199001011237", phone="13800000000", gender="M", age=36,
                          enterprise_id=987654321))
    with pytest.raises(IntegrityError, match="(?i)foreign key"):
        _db.session.flush()
    _db.session.rollback()


def test_sqlite_runs_in_wal_mode_with_full_sync(db):
    if _db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's connection settings")
    with _db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.execute(text("PRAGMA foreign_key_check")).fetchall() == []
