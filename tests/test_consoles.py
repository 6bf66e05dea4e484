"""The consoles through HTTP: lists scoped to the user, tabs, batch actions on the right rows."""

import pytest
from sqlalchemy import select

from models import Person


@pytest.fixture
def two_enterprises(make_enterprise, make_department, make_user, make_persons):
    dept_a, dept_b = make_department("审核甲"), make_department("审核乙")
    ent_a = make_enterprise("甲公司", department=dept_a)
    ent_b = make_enterprise("乙公司", department=dept_b)
    return {
        "a": ent_a, "b": ent_b,
        "a_ids": make_persons(ent_a, 3, status="registered", name="甲员工"),
        "b_ids": make_persons(ent_b, 2, status="registered", name="乙员工"),
        "user_a": make_user("enterprise", ent_a), "review_a": make_user("review", dept_a),
    }


def _status(db, person_id):
    return db.session.execute(select(Person.status).where(Person.id == person_id)).scalar_one()


def test_enterprise_list_shows_only_its_own_people_masked(client, login, two_enterprises, db):
    login(two_enterprises["user_a"])
    page = client.get("/enterprise/enterprise_persons/").get_data(as_text=True)
    assert page.count("甲员工") == 3 and "乙员工" not in page
    person = db.session.get(Person, two_enterprises["a_ids"][0])
    assert person.id_number not in page
    assert person.id_number[:6] + "********" + person.id_number[-4:] in page
    assert "139****5678" in page


def test_submit_ticked_rows_ignores_other_enterprises_ids(client, login, two_enterprises, db):
    login(two_enterprises["user_a"])
    mine, theirs = two_enterprises["a_ids"][0], two_enterprises["b_ids"][0]
    response = client.post("/enterprise/enterprise_persons/action/",
                           data={"action": "submit", "rowid": [str(mine), str(theirs)]}, follow_redirects=True)
    assert "已处理 1 人，跳过 1 人" in response.get_data(as_text=True)
    assert (_status(db, mine), _status(db, theirs)) == ("submitted", "registered")


def test_submit_all_acts_on_every_row_of_the_tab_not_only_the_page(client, login, make_persons, two_enterprises, db):
    more = make_persons(two_enterprises["a"], 60, status="registered")
    login(two_enterprises["user_a"])
    response = client.post("/enterprise/enterprise_persons/all/submit?tab=unsubmitted", follow_redirects=True)
    assert "已处理 63 人，跳过 0 人" in response.get_data(as_text=True)
    assert {_status(db, i) for i in more + two_enterprises["a_ids"]} == {"submitted"}
    assert {_status(db, i) for i in two_enterprises["b_ids"]} == {"registered"}


def test_submit_all_keeps_the_search_of_the_list(client, login, make_persons, two_enterprises, db):
    special = make_persons(two_enterprises["a"], 1, status="registered", name="王特别")
    login(two_enterprises["user_a"])
    client.post("/enterprise/enterprise_persons/all/submit?tab=unsubmitted&search=王特别")
    assert _status(db, special[0]) == "submitted"
    assert {_status(db, i) for i in two_enterprises["a_ids"]} == {"registered"}


def test_tabs_split_the_list_by_status(client, login, make_persons, two_enterprises):
    make_persons(two_enterprises["a"], 1, status="vaccinated", name="已打完")
    login(two_enterprises["user_a"])
    unsubmitted = client.get("/enterprise/enterprise_persons/?tab=unsubmitted").get_data(as_text=True)
    done = client.get("/enterprise/enterprise_persons/?tab=vaccinated").get_data(as_text=True)
    assert "已打完" not in unsubmitted and "已打完" in done and "甲员工" not in done


def test_review_department_sees_and_approves_only_its_enterprises(client, login, two_enterprises, make_persons, db):
    mine = make_persons(two_enterprises["a"], 2, status="submitted", name="待审甲")
    theirs = make_persons(two_enterprises["b"], 2, status="submitted", name="待审乙")
    login(two_enterprises["review_a"])
    page = client.get("/review/review_persons/").get_data(as_text=True)
    assert "待审甲" in page and "待审乙" not in page
    client.post("/review/review_persons/all/dept_approve?tab=pending")
    assert {_status(db, i) for i in mine} == {"dept_approved"}
    assert {_status(db, i) for i in theirs} == {"submitted"}


def test_unknown_bulk_action_is_404(client, login, two_enterprises):
    login(two_enterprises["user_a"])
    assert client.post("/enterprise/enterprise_persons/all/vaccinate").status_code == 404
