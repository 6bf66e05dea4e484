"""Persons per department and status (the center's tree and tabs) follow every change, on both engines."""

from sqlalchemy import delete, func, select, text, update

from models import Enterprise, Person
from models.counters import mismatches, rebuild
from models.department_counts import TABLE, persons_by_department_and_status
from models.workflow import apply_transition
from services.consistency import run_checks

STATUSES = ("registered", "submitted", "dept_approved", "center_approved", "allocated", "vaccinated")


def counted(db):
    return {(d, s): n for d, s, n in db.session.execute(select(TABLE.c.department_id, TABLE.c.status, TABLE.c.n))
            if n}


def actual(db):
    return {(d, s): n for d, s, n in db.session.execute(
        select(Enterprise.department_id, Person.status, func.count())
        .join(Enterprise, Enterprise.id == Person.enterprise_id).group_by(Enterprise.department_id, Person.status))}


def test_each_change_of_the_persons_moves_their_departments_counts(db, make_department, make_enterprise,
                                                                   make_persons, make_user):
    port, customs = make_department("港口管理部门"), make_department("海关")
    harbour, warehouse = make_enterprise(department=port), make_enterprise(department=port)
    broker = make_enterprise(department=customs)
    harbour_ids = make_persons(harbour, 12)
    make_persons(warehouse, 5, status="submitted")
    broker_ids = make_persons(broker, 7, status="submitted")
    assert counted(db) == {(port.id, "registered"): 12, (port.id, "submitted"): 5, (customs.id, "submitted"): 7}

    apply_transition("submit", make_user("enterprise", harbour), ids=harbour_ids[:10])
    apply_transition("dept_approve", make_user("review", customs), ids=broker_ids[:4])
    apply_transition("center_approve", make_user("center"), ids=broker_ids[:3])
    db.session.execute(update(Person).where(Person.id == harbour_ids[11]).values(enterprise_id=broker.id))
    db.session.execute(delete(Person).where(Person.id.in_(harbour_ids[:2])))
    db.session.commit()

    assert counted(db) == {
        (port.id, "registered"): 1, (port.id, "submitted"): 13,
        (customs.id, "registered"): 1, (customs.id, "submitted"): 3, (customs.id, "dept_approved"): 1,
        (customs.id, "center_approved"): 3,
    }
    assert counted(db) == actual(db) and mismatches() == []


def test_an_enterprise_moved_to_another_department_takes_its_people_along(db, make_department, make_enterprise,
                                                                          make_persons):
    port, customs = make_department("港口管理部门"), make_department("海关")
    harbour, stays = make_enterprise(department=port), make_enterprise(department=port)
    make_persons(harbour, 6, status="dept_approved")
    make_persons(harbour, 2)
    make_persons(stays, 3, status="dept_approved")

    harbour.department_id = customs.id  # the ORM's UPDATE, as the admin's edit form makes it
    db.session.flush()
    assert counted(db) == {(port.id, "dept_approved"): 3, (customs.id, "dept_approved"): 6,
                           (customs.id, "registered"): 2}
    db.session.execute(update(Enterprise).where(Enterprise.id == stays.id).values(address="新地址"))  # no move
    db.session.execute(update(Enterprise).values(department_id=port.id))  # everyone, in one statement
    db.session.commit()
    assert counted(db) == {(port.id, "dept_approved"): 9, (port.id, "registered"): 2}
    assert mismatches() == []


def test_the_tree_and_tabs_read_the_department_counts(db, make_department, make_enterprise, make_persons):
    port, customs = make_department("港口管理部门"), make_department("海关")
    make_persons(make_enterprise(department=port), 4, status="dept_approved")
    make_persons(make_enterprise(department=customs), 2, status="dept_approved")
    make_persons(make_enterprise(department=customs), 5, status="center_approved")
    assert persons_by_department_and_status(("dept_approved", "center_approved")) == {
        (port.id, "dept_approved"): 4, (customs.id, "dept_approved"): 2, (customs.id, "center_approved"): 5}
    # A count written behind the triggers' back is what the tree would show: the check finds it, rebuild repairs it.
    db.session.execute(update(TABLE).where(TABLE.c.department_id == port.id).values(n=40))
    assert persons_by_department_and_status(("dept_approved",))[(port.id, "dept_approved")] == 40
    finding = next(f for f in run_checks(db.session.connection()) if f.check.key == "department_counters")
    assert finding.count == 1 and finding.example_ids == [f"{port.id}:dept_approved"]
    rebuild()
    assert persons_by_department_and_status(("dept_approved",))[(port.id, "dept_approved")] == 4
    assert mismatches() == []


def test_a_count_taken_off_a_missing_row_is_not_written_negative(db, make_department, make_enterprise, make_persons):
    port = make_department("港口管理部门")
    ids = make_persons(make_enterprise(department=port), 3, status="submitted")
    db.session.execute(delete(TABLE))  # wrong already: the counters lost their rows
    db.session.execute(delete(Person).where(Person.id.in_(ids)))
    assert counted(db) == {}  # no row of -3


def test_a_district_sized_batch_moves_the_counts_in_one_pass(db, make_department, make_enterprise, make_persons,
                                                             make_user, is_postgres):
    departments = [make_department(f"部门{i}") for i in range(6)]
    ids = []
    for index in range(60):
        ids += make_persons(make_enterprise(department=departments[index % 6]), 50, status="dept_approved")
    apply_transition("center_approve", make_user("center"), where=Person.status == "dept_approved")
    db.session.commit()
    assert counted(db) == {(d.id, "center_approved"): 500 for d in departments}
    if is_postgres:  # the statement triggers' functions are in place
        names = set(db.session.execute(text(
            "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE 'department_counts_%'")).scalars())
        assert names == {"department_counts_insert", "department_counts_update", "department_counts_delete",
                         "department_counts_enterprise_moved"}
