"""The maintained person counts agree with the persons table whatever path changes it."""

from sqlalchemy import and_, delete, func, select, true, update

from models import Enterprise, Person
from models.counters import (
    TABLE,
    count_persons,
    enterprise_status_totals,
    mismatches,
    on_counters,
    rebuild,
    status_totals,
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
    assert enterprise_status_totals(("submitted",)) is not None
    assert sorted(enterprise_status_totals(("submitted",))) == sorted([(mine.id, 7), (theirs.id, 4)])


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
    assert mismatches() == [(enterprise.id, "registered", 99, 4)]
    rebuild()
    assert mismatches() == []
