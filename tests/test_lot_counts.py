"""Doses given per lot, counted by the database: every way of writing a record keeps the counter right."""

import importlib.util
from pathlib import Path

import pytest
from sqlalchemy import delete, func, insert, select, update

from extensions import db
from models.doses import Vaccination
from models.lot_counts import LotDoseCount, doses_by_lot, trigger_ddl
from models.recall import recipients_condition
from services.consistency import CHECKS, run_checks
from tests.lot_world import received_lot, record_doses

MIGRATION = Path(__file__).resolve().parent.parent / "migrations" / "versions" / "0017_lot_dose_counts.py"


@pytest.fixture
def world(db, make_station, make_user, make_enterprise, make_persons):
    station = make_station("批号计数接种点")
    nurse = make_user("station", station)
    lot = received_lot(nurse, station)
    other = received_lot(nurse, station, lot_number="202611B", first_code="81234560000000090001")
    people = make_persons(make_enterprise(), 6, status="vaccinated", station=station)
    return {"station": station, "lot": lot, "other": other, "people": people}


def _records(lot_id):
    return db.session.execute(select(func.count()).select_from(Vaccination)
                              .where(*recipients_condition(lot_id))).scalar_one()


def _counted(world):
    db.session.flush()
    return {name: doses_by_lot().get(world[name].id, 0) for name in ("lot", "other")}


def test_given_doses_count_and_corrections_and_deletes_uncount(db, world):
    lot, people = world["lot"], world["people"]
    ids = record_doses(people[:4], lot, world["station"])
    db.session.execute(insert(Vaccination), [{
        "person_id": people[4], "dose_number": 1, "lot_id": lot.id, "station_id": world["station"].id,
        "outcome": "not_given", "reason": "发热"}])
    assert _counted(world) == {"lot": 4, "other": 0}
    db.session.execute(update(Vaccination).where(Vaccination.id == ids[0]).values(state="corrected"))
    db.session.execute(update(Vaccination).where(Vaccination.id == ids[1]).values(state="cancelled"))
    assert _counted(world) == {"lot": 2, "other": 0}
    db.session.execute(delete(Vaccination).where(Vaccination.id == ids[2]))
    assert _counted(world) == {"lot": 1, "other": 0} == {"lot": _records(lot.id), "other": 0}


def test_a_record_tied_to_its_lot_at_the_exit_desk_counts_under_that_lot(db, world):
    """The exit desk writes the record first and sets its lot by an UPDATE (models.lots.give_dose_from_lot)."""
    lot, other = world["lot"], world["other"]
    ids = record_doses(world["people"][:3], lot, world["station"])
    db.session.execute(update(Vaccination).where(Vaccination.id.in_(ids[:2])).values(lot_id=None))
    assert _counted(world) == {"lot": 1, "other": 0}
    db.session.execute(update(Vaccination).where(Vaccination.id.in_(ids[:2])).values(lot_id=other.id))
    assert _counted(world) == {"lot": 1, "other": 2} == {"lot": _records(lot.id), "other": _records(other.id)}
    db.session.commit()
    assert db.session.get(LotDoseCount, other.id).n == 2


def test_check_data_finds_a_lot_counter_that_drifted_or_is_missing(db, world):
    record_doses(world["people"][:3], world["lot"], world["station"])
    record_doses(world["people"][3:5], world["other"], world["station"])
    check = [c for c in CHECKS if c.key == "lot_dose_counters"]
    db.session.flush()
    assert [(f.count, f.skipped) for f in run_checks(db.session.connection(), check)] == [(0, False)]
    db.session.execute(update(LotDoseCount).where(LotDoseCount.lot_id == world["lot"].id).values(n=LotDoseCount.n + 1))
    db.session.execute(delete(LotDoseCount).where(LotDoseCount.lot_id == world["other"].id))
    finding = run_checks(db.session.connection(), check)[0]
    assert finding.count == 2
    assert sorted(int(i) for i in finding.example_ids) == sorted([world["lot"].id, world["other"].id])


def test_the_lots_list_shows_the_doses_given_from_the_counter(db, world, login, make_user):
    record_doses(world["people"][:3], world["lot"], world["station"])
    db.session.commit()
    page = login(make_user("center")).get("/center/lots/").get_data(as_text=True)
    row = page[page.find(f'data-lot-id="{world["lot"].id}"'):]
    assert "<td>202611A</td>" in row[:600] and "<td>3</td>" in row[:row.find("</tr>")]


def test_the_migration_freezes_the_triggers_the_models_create():
    spec = importlib.util.spec_from_file_location("lot_dose_counts_migration", MIGRATION)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert trigger_ddl("postgresql") == migration.POSTGRESQL
    assert trigger_ddl("sqlite") == migration.SQLITE

