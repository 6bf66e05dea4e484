"""Batches through the workflow: a plain 全部… query is applied as the UPDATE's own conditions."""

import pytest
from sqlalchemy import event, select

from models import Enterprise, Person
from models.workflow import _inline_condition, apply_transition


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


def test_a_plain_query_becomes_the_updates_own_conditions(db, make_enterprise, make_persons, make_user, statements):
    mine, other = make_enterprise(), make_enterprise()
    chosen = make_persons(mine, 3, status="dept_approved")
    left = make_persons(other, 2, status="dept_approved")
    query = select(Person.id).where(Person.status == "dept_approved", Person.enterprise_id.in_([mine.id]))
    result = apply_transition("center_approve", make_user("center"), query=query)
    assert (result.requested, result.changed) == (3, 3)
    update = next(s for s in statements if s.startswith("UPDATE person"))
    assert "person.id IN (SELECT" not in update
    assert _status(db, chosen) == ["center_approved"] * 3 and _status(db, left) == ["dept_approved"] * 2


def test_queries_that_are_not_plain_stay_subqueries_and_mean_the_same(db, make_enterprise, make_persons, make_user):
    enterprise = make_enterprise(name="甲公司")
    ids = sorted(make_persons(enterprise, 4, status="dept_approved"))
    limited = select(Person.id).where(Person.status == "dept_approved").order_by(Person.id).limit(2)
    joined = (select(Person.id).join(Enterprise, Person.enterprise_id == Enterprise.id)
              .where(Enterprise.name == "甲公司"))
    reading_persons = select(Person.id).where(Person.enterprise_id.in_(select(Person.enterprise_id).where(
        Person.id == ids[0])))
    for query in (limited, joined, reading_persons):
        assert _inline_condition(query) is None
    center = make_user("center")
    assert apply_transition("center_approve", center, query=limited).changed == 2
    assert _status(db, ids[:2]) == ["center_approved"] * 2 and _status(db, ids[2:]) == ["dept_approved"] * 2
    assert apply_transition("center_approve", center, query=joined).changed == 2
    assert apply_transition("center_return", center, query=reading_persons, reason="信息有误").changed == 4
