"""The maintained person counts agree with the persons table whatever path changes it."""

from flask_migrate import upgrade
from sqlalchemy import and_, delete, func, select, text, true, update

from app import create_app
from extensions import db as _db
from models import Enterprise, Person, ReviewDepartment, Territory, today
from models.counters import (
    TABLE,
    count_persons,
    mismatches,
    on_counters,
    rebuild,
    station_status_totals,
    status_totals,
    vaccinations_by_day,
)
from models.workflow import apply_transition, person_scope


def test_inserts_moves_and_deletes_keep_the_counts_right(db, make_enterprise, make_persons, make_user):
    enterprise, other = make_enterprise(), make_enterprise()
    ids = make_persons(enterprise, 30)  # a bulk Core insert
    make_persons(other, 5, status="submitted")
    db.session.add(Person(enterprise_id=enterprise.id, name="单个", gender="F", id_number="11010519491231002X",
                          age=40, phone="13800138000", status="registered"))  # an ORM insert
    db.session.flush()
    assert status_totals(Person.enterprise_id == enterprise.id) == {"registered": 31}

    apply_transition("submit", make_user("enterprise", enterprise), ids=ids[:20])
    assert status_totals(Person.enterprise_id == enterprise.id) == {"registered": 11, "submitted": 20}
    db.session.execute(update(Person).where(Person.id == ids[0]).values(enterprise_id=other.id))
    db.session.execute(update(Person).where(Person.id == ids[1]).values(phone="13900000000"))  # status kept
    db.session.execute(delete(Person).where(Person.id.in_(ids[25:])))
    db.session.commit()

    assert status_totals(Person.enterprise_id == other.id) == {"submitted": 6}
    assert status_totals(Person.enterprise_id == enterprise.id) == {"registered": 6, "submitted": 19}
    assert mismatches() == []


def test_counted_figures_equal_counting_the_persons(db, make_department, make_enterprise, make_persons, make_user):
    department = make_department()
    mine, theirs = make_enterprise(department=department), make_enterprise()
    make_persons(mine, 7, status="submitted")
    make_persons(mine, 3, status="dept_approved")
    make_persons(theirs, 4, status="submitted")
    reviewer = make_user("review", department)
    conditions = [
        None, true(), person_scope(reviewer), and_(person_scope(reviewer), Person.status.in_(("submitted",))),
        Person.enterprise_id.in_(select(Enterprise.id).where(Enterprise.department_id == department.id)),
    ]
    for condition in conditions:
        assert on_counters(condition) is not None
        actual = select(func.count()).select_from(Person)
        if condition is not None:
            actual = actual.where(condition)
        assert count_persons(condition) == db.session.execute(actual).scalar_one()
    assert status_totals(person_scope(reviewer)) == {"submitted": 7, "dept_approved": 3}


def test_conditions_on_other_columns_count_the_persons_themselves(db, make_enterprise, make_persons, make_station):
    station = make_station()
    enterprise = make_enterprise()
    make_persons(enterprise, 2, status="allocated", station=station)
    make_persons(enterprise, 3, status="allocated")
    assert on_counters(Person.station_id == station.id) is None
    assert on_counters(Person.enterprise_id.in_(select(Person.enterprise_id).where(Person.age > 1))) is None
    assert count_persons(Person.station_id == station.id) == 2
    assert status_totals(and_(Person.status == "allocated", Person.station_id.is_(None))) == {"allocated": 3}


def test_rebuild_repairs_counts_written_behind_the_triggers_back(db, make_enterprise, make_persons):
    enterprise = make_enterprise()
    make_persons(enterprise, 4)
    db.session.execute(TABLE.update().values(n=99))
    # The department's count follows the enterprise's, wrong as it is (a trigger on person_status_count).
    assert mismatches() == [("person_status_count", (enterprise.id, "registered"), 99, 4),
                            ("department_status_count", (enterprise.department_id, "registered"), 99, 4)]
    rebuild()
    assert mismatches() == []


def test_station_and_day_counters_follow_a_person_to_the_vaccination(db, make_enterprise, make_persons, make_station,
                                                                    make_slot, make_user):
    station, other = make_station(), make_station()
    enterprise = make_enterprise()
    ids = make_persons(enterprise, 6, status="center_approved")
    center = make_user("center")
    apply_transition("allocate", center, ids=ids, station=station)
    apply_transition("appoint", center, ids=ids[:4], slot=make_slot(station, capacity=10))
    desk = make_user("station", station)
    apply_transition("check_in", desk, ids=ids[:3])
    apply_transition("vaccinate", desk, ids=ids[:2])
    db.session.execute(update(Person).where(Person.id == ids[5]).values(station_id=other.id))
    db.session.commit()

    assert station_status_totals() == {
        station.id: {"vaccinated": 2, "checked_in": 1, "appointed": 1, "allocated": 1},
        other.id: {"allocated": 1},
    }
    assert vaccinations_by_day(today(), today()) == {(today(), station.id): 2}
    db.session.execute(delete(Person).where(Person.id == ids[0]))
    assert vaccinations_by_day(today(), today()) == {(today(), station.id): 1}
    assert mismatches() == []


def test_a_database_migrated_to_the_newest_revision_keeps_counting(database_url, tmp_path):
    """A later migration that rebuilds the person table (SQLite batch mode) must not lose the triggers."""
    from tests.test_migrations import _fresh_database_url

    url, cleanup = _fresh_database_url(database_url, tmp_path)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True})
    try:
        with app.app_context():
            upgrade()
            territory = Territory(name="测试街道")
            department = ReviewDepartment(name="测试部门")
            enterprise = Enterprise(name="测试企业", credit_code="914403001922038216", department=department,
                                    territory=territory)
            _db.session.add(enterprise)
            _db.session.flush()
            _db.session.add(Person(enterprise_id=enterprise.id, name="甲", gender="M", id_number="11010519491231002X",
                                   age=40, phone="13800138000", status="vaccinated", station_id=None))
            _db.session.commit()
            assert status_totals() == {"vaccinated": 1}
            assert mismatches() == []
            _db.session.remove()
            _db.engine.dispose()
    finally:
        if cleanup:
            engine, schema = cleanup
            with engine.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            engine.dispose()
