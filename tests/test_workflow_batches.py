"""Batches through the workflow: the caller's condition is the UPDATE's own WHERE, never a self-join."""

import pytest
from sqlalchemy import event, select

from models import Enterprise, Person
from models.workflow import apply_transition


@pytest.fixture
def statements(db):
    seen = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", keep)
    yield seen
    event.remove(db.engine, "before_cursor_execute", keep)


def _status(db, ids):
    return sorted(db.session.execute(select(Person.status).where(Person.id.in_(ids))).scalars())


def _update_of_person(statements):
    return next(s for s in statements if s.startswith("UPDATE person"))


def test_a_condition_becomes_the_updates_own_where(db, make_enterprise, make_persons, make_user, statements):
    mine, other = make_enterprise(), make_enterprise()
    chosen = make_persons(mine, 3, status="dept_approved")
    left = make_persons(other, 2, status="dept_approved")
    condition = (Person.status == "dept_approved") & Person.enterprise_id.in_([mine.id])
    result = apply_transition("center_approve", make_user("center"), where=condition)
    assert (result.requested, result.changed) == (3, 3)
    update = _update_of_person(statements)
    assert "person.id IN (SELECT" not in update and "FROM person" not in update.split("WHERE", 1)[1]
    assert _status(db, chosen) == ["center_approved"] * 3 and _status(db, left) == ["dept_approved"] * 2


def test_a_tree_node_condition_reads_enterprises_but_not_person_twice(db, make_department, make_enterprise,
                                                                       make_persons, make_user, statements):
    from admin_views.center_tree import node_condition

    department = make_department()
    group = make_enterprise(department=department)
    subsidiary = make_enterprise(department=make_department(), parent=group)
    stranger = make_enterprise()
    chosen = make_persons(group, 2, status="dept_approved") + make_persons(subsidiary, 2, status="dept_approved")
    left = make_persons(stranger, 2, status="dept_approved")
    condition = node_condition(f"ent:{group.id}") & (Person.status == "dept_approved")
    assert apply_transition("center_approve", make_user("center"), where=condition).changed == 4
    assert "person.id IN (SELECT" not in _update_of_person(statements)
    assert _status(db, chosen) == ["center_approved"] * 4 and _status(db, left) == ["dept_approved"] * 2


def test_conditions_over_other_tables_and_over_persons_mean_what_they_say(db, make_enterprise, make_persons,
                                                                         make_user):
    enterprise = make_enterprise(name="甲公司")
    ids = sorted(make_persons(enterprise, 4, status="dept_approved"))
    make_persons(make_enterprise(name="乙公司"), 3, status="dept_approved")
    by_name = Person.enterprise_id.in_(select(Enterprise.id).where(Enterprise.name == "甲公司"))
    # Colleagues of the first person: a condition that reads the very rows the UPDATE changes.
    colleagues = Person.enterprise_id.in_(select(Person.enterprise_id).where(Person.id == ids[0]))
    center = make_user("center")
    assert apply_transition("center_approve", center, where=by_name, limit=2).changed == 2
    assert _status(db, ids[:2]) == ["center_approved"] * 2 and _status(db, ids[2:]) == ["dept_approved"] * 2
    assert apply_transition("center_approve", center, where=by_name).changed == 2
    assert apply_transition("center_return", center, where=colleagues, reason="信息有误").changed == 4
    assert _status(db, ids) == ["submitted"] * 4


def test_a_select_is_refused_as_a_condition(db, make_user):
    with pytest.raises(TypeError):
        apply_transition("center_approve", make_user("center"), where=select(Person.id))
