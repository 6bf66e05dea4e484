"""`flask --app app check-data` passes on clean data and finds each kind of planted inconsistency."""

from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, text, update

from models import AppointmentSlot, AuditEvent, Person, PersonEvent, Station
from models.demo import seed
from models.status import reached
from services.consistency import CHECKS, Check, register_check, run_checks


@pytest.fixture
def demo(db):
    seed(enterprise_count=12, person_count=180)
    db.session.commit()
    return db


def check_data(app):
    return app.test_cli_runner().invoke(args=["check-data"])


def first_person(db, *conditions):
    return db.session.execute(select(Person).where(*conditions).order_by(Person.id).limit(1)).scalar_one()


def set_person(db, person_id, **values):
    db.session.execute(update(Person).where(Person.id == person_id).values(**values)
                       .execution_options(synchronize_session=False))


def failed(app, db):
    db.session.commit()
    with db.engine.connect() as connection:
        return {f.check.key: f for f in run_checks(connection) if not f.ok}


def test_clean_demo_data_passes(app, demo):
    result = check_data(app)
    assert result.exit_code == 0, result.output
    assert "全部通过" in result.output and "all passed" in result.output
    assert "[问题 FAIL]" not in result.output
    # every check ran: the demo data has appointed, checked-in and vaccinated people to look at
    statuses = set(demo.session.execute(select(Person.status).distinct()).scalars())
    assert {"registered", "appointed", "vaccinated", "not_vaccinated"} <= statuses
    skipped = [c for c in CHECKS if not set(c.tables) <= set(demo.metadata.tables)]
    assert result.output.count("[通过 OK]") == len(CHECKS) - len(skipped)
    assert result.output.count("[跳过 SKIP]") == len(skipped)


# ---------------------------------------------------------------- planted inconsistencies

@contextmanager
def without_capacity_constraint(db, is_postgres):
    """Let a slot be overbooked: the database's own CHECK refuses it, as it should."""
    db.session.commit()
    if is_postgres:
        db.session.execute(text("ALTER TABLE appointment_slot DROP CONSTRAINT ck_appointment_slot_within_capacity"))
    else:
        db.session.execute(text("PRAGMA ignore_check_constraints = ON"))
    try:
        yield
    finally:
        db.session.rollback()
        db.session.execute(update(AppointmentSlot).where(AppointmentSlot.booked > AppointmentSlot.capacity)
                           .values(booked=AppointmentSlot.capacity))
        if is_postgres:
            db.session.execute(text("ALTER TABLE appointment_slot ADD CONSTRAINT ck_appointment_slot_within_capacity "
                                    "CHECK (booked >= 0 AND booked <= capacity)"))
        else:
            db.session.execute(text("PRAGMA ignore_check_constraints = OFF"))
        db.session.commit()


def test_finds_a_slot_over_capacity(app, demo, is_postgres):
    slot = demo.session.execute(select(AppointmentSlot).where(AppointmentSlot.booked > 0)
                                .order_by(AppointmentSlot.id).limit(1)).scalar_one()
    with without_capacity_constraint(demo, is_postgres):
        demo.session.execute(update(AppointmentSlot).where(AppointmentSlot.id == slot.id)
                             .values(capacity=slot.booked - 1))
        found = failed(app, demo)
        assert found["slot_over_capacity"].example_ids == [slot.id]


def test_finds_a_slot_whose_booked_count_is_wrong(app, demo):
    slot = demo.session.execute(select(AppointmentSlot).where(AppointmentSlot.booked < AppointmentSlot.capacity)
                                .order_by(AppointmentSlot.id).limit(1)).scalar_one()
    demo.session.execute(update(AppointmentSlot).where(AppointmentSlot.id == slot.id)
                         .values(booked=AppointmentSlot.booked + 1))
    found = failed(app, demo)
    assert set(found) == {"slot_booked_count"}
    assert found["slot_booked_count"].count == 1 and found["slot_booked_count"].example_ids == [slot.id]


def test_finds_an_appointed_person_without_a_slot(app, demo):
    person = first_person(demo, Person.status == "appointed")
    set_person(demo, person.id, slot_id=None)
    found = failed(app, demo)
    assert found["appointed_without_slot"].example_ids == [person.id]
    assert "slot_booked_count" in found  # the slot still counts the place


def test_finds_a_checked_in_person_without_a_station(app, demo):
    person = first_person(demo, Person.status.in_(("checked_in", "vaccinated")))
    set_person(demo, person.id, status="checked_in", finished_at=None, finished_by_id=None)
    assert failed(app, demo) == {}
    set_person(demo, person.id, station_id=None)
    found = failed(app, demo)
    assert person.id in found["appointed_without_slot"].example_ids
    assert person.id in found["allocated_without_station"].example_ids


def test_finds_a_person_whose_slot_is_at_another_station(app, demo):
    # one holding no dose-2 place: moving that person would break the reservation check as well
    person = first_person(demo, Person.status == "appointed", Person.reserved_slot_id.is_(None))
    other = demo.session.execute(select(Station.id).where(Station.id != person.station_id).limit(1)).scalar_one()
    set_person(demo, person.id, station_id=other)
    found = failed(app, demo)
    assert set(found) == {"slot_station_mismatch"}
    assert found["slot_station_mismatch"].example_ids == [person.id]


def test_finds_a_slot_held_before_appointment(app, demo):
    person = first_person(demo, Person.status == "allocated")
    slot = demo.session.execute(select(AppointmentSlot).where(AppointmentSlot.station_id == person.station_id)
                                .order_by(AppointmentSlot.id).limit(1)).scalar_one()
    set_person(demo, person.id, slot_id=slot.id)
    found = failed(app, demo)
    assert found["slot_before_appointment"].example_ids == [person.id]


def test_finds_a_missing_stage_stamp(app, demo):
    person = first_person(demo, Person.status == "center_approved")
    set_person(demo, person.id, dept_approved_at=None)
    found = failed(app, demo)
    assert set(found) == {"stage_stamp_missing"}
    assert found["stage_stamp_missing"].example_ids == [person.id]


def test_finds_a_stamp_of_a_stage_not_reached(app, demo):
    person = first_person(demo, Person.status == "submitted")
    set_person(demo, person.id, allocated_at=person.submitted_at + timedelta(hours=1))
    found = failed(app, demo)
    assert set(found) == {"stage_stamp_unreached"}
    assert found["stage_stamp_unreached"].example_ids == [person.id]


def test_finds_stage_stamps_out_of_order(app, demo):
    person = first_person(demo, Person.status == "vaccinated")
    set_person(demo, person.id, submitted_at=person.finished_at + timedelta(minutes=1))
    found = failed(app, demo)
    assert set(found) == {"stage_stamp_order"}
    assert found["stage_stamp_order"].example_ids == [person.id]


def test_finds_a_moved_person_without_history(app, demo):
    person = first_person(demo, Person.status == "dept_approved")
    demo.session.execute(delete(PersonEvent).where(PersonEvent.person_id == person.id))
    found = failed(app, demo)
    assert found["moved_without_history"].example_ids == [person.id]
    # the events that moved them now count one history row too few
    assert found["event_changed_count"].count >= 2


def test_finds_an_event_whose_changed_count_is_wrong(app, demo):
    event = demo.session.execute(select(AuditEvent).where(AuditEvent.action == "center_approve")
                                 .order_by(AuditEvent.id).limit(1)).scalar_one()
    demo.session.execute(update(AuditEvent).where(AuditEvent.id == event.id).values(changed=AuditEvent.changed + 5))
    found = failed(app, demo)
    assert set(found) == {"event_changed_count"}
    assert found["event_changed_count"].example_ids == [event.id]


def test_events_without_status_changes_are_not_counted(app, demo):
    from models import User, record_event

    admin = demo.session.execute(select(User).where(User.username == "admin")).scalar_one()
    record_event(admin, "view_id_number", target_id=1)  # a person event with changed=1 and no history row
    assert failed(app, demo) == {}


def test_report_names_the_check_counts_rows_and_shows_ids_only(app, demo):
    people = demo.session.execute(select(Person).where(Person.status.in_(reached("center_approved")))
                                  .order_by(Person.id).limit(7)).scalars().all()
    for person in people:
        set_person(demo, person.id, center_approved_at=None)
    demo.session.commit()
    result = check_data(app)
    assert result.exit_code == 1
    line = next(line for line in result.output.splitlines() if "stage_stamp_missing" in line)
    assert "[问题 FAIL]" in line and "7 行不符 rows break it" in line
    assert "person.id " + ", ".join(str(p.id) for p in people[:5]) + " …" in line
    for person in people:
        assert person.id_number not in result.output and person.name not in result.output
    assert "1 项发现问题" in result.output


def test_a_check_of_a_missing_table_is_skipped_and_can_be_added(app, demo, monkeypatch):
    monkeypatch.setattr("services.consistency.CHECKS", list(CHECKS))
    register_check(Check("counter_matches", "计数器与实际人数不一致", "counter differs from the count",
                         "SELECT id FROM person_counter WHERE 1 = 0", "person_counter", tables=("person_counter",)))
    register_check(Check("no_people_named_x", "测试", "test", "SELECT id FROM person WHERE status = 'vaccinated'",
                         "person"))
    result = check_data(app)
    assert result.exit_code == 1
    assert "[跳过 SKIP] counter_matches" in result.output
    vaccinated = demo.session.execute(select(func.count()).where(Person.status == "vaccinated")).scalar_one()
    assert f"no_people_named_x: 测试 / test: {vaccinated} 行不符" in result.output
    with pytest.raises(ValueError):
        register_check(Check("no_people_named_x", "", "", "SELECT 1 AS id", "person"))


# A change of an enterprise's counter moves its department's (models/department_counts.py): both checks see it.
FOLLOWED_BY = {"status_counters": {"department_counters"}}


@pytest.mark.parametrize("table, keys, check", [
    ("person_status_count", ("enterprise_id", "status"), "status_counters"),
    ("department_status_count", ("department_id", "status"), "department_counters"),
    ("station_status_count", ("station_id", "status"), "station_counters"),
    ("vaccination_day_count", ("day", "station_id"), "day_counters"),
    ("dose_count", ("day", "station_id", "enterprise_id", "kind"), "dose_counters"),
    ("dose_station_day", ("day", "station_id", "kind"), "dose_station_days"),
    ("dose_station_total", ("station_id", "kind"), "dose_station_totals"),
    ("dose_enterprise_total", ("enterprise_id", "kind"), "dose_enterprise_totals"),
])
def test_finds_a_counter_that_differs_from_the_count(app, demo, table, keys, check):
    if table not in demo.metadata.tables:
        pytest.skip(f"no {table} table in this version")
    key = demo.session.execute(text(f"SELECT {', '.join(keys)} FROM {table} WHERE n > 0 "
                                    f"ORDER BY {', '.join(keys)} LIMIT 1")).one()
    where = " AND ".join(f"{k} = :{k}" for k in keys)
    values = dict(zip(keys, key))
    expected = ":".join(str(v) for v in key)
    demo.session.execute(text(f"UPDATE {table} SET n = n + 2 WHERE {where}"), values)
    found = failed(app, demo)
    assert set(found) == {check} | FOLLOWED_BY.get(check, set())
    assert found[check].example_ids == [expected]
    demo.session.execute(text(f"DELETE FROM {table} WHERE {where}"), values)
    assert failed(app, demo)[check].example_ids == [expected]
