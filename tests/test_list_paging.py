"""Console person lists: every page right, deep pages included, with a fixed number of queries."""

import re

from sqlalchemy import event

from admin_views.base import page_ids
from models import Person

ROW_ID = re.compile(r'name="rowid"[^>]*value="(\d+)"')


def test_page_ids_read_deep_pages_from_the_end_with_the_same_result(db, make_enterprise, make_persons):
    ids = sorted(make_persons(make_enterprise(), 23))
    query = db.session.query(Person).with_entities(Person.id)
    for descending in (False, True):
        ordered = ids[::-1] if descending else ids
        pages = [page_ids(query, Person.id, page, 5, len(ids), descending) for page in range(6)]
        assert pages == [ordered[i * 5:i * 5 + 5] for i in range(6)]


def test_console_pages_show_every_person_once_in_id_order(client, login, make_enterprise, make_persons, make_user):
    enterprise = make_enterprise()
    ids = sorted(make_persons(enterprise, 120))
    login(make_user("enterprise", enterprise))
    seen = []
    for page in range(3):
        html = client.get(f"/enterprise/enterprise_persons/?tab=unsubmitted&page={page}").get_data(as_text=True)
        seen += [int(i) for i in dict.fromkeys(ROW_ID.findall(html))]
    assert seen == ids


def test_a_list_page_costs_the_same_queries_for_5_or_50_rows(client, login, db, make_department, make_enterprise,
                                                             make_persons, make_user):
    """No query per row: the enterprises of the rows are loaded with the page."""
    small, big = make_department(), make_department()
    make_persons(make_enterprise(department=small), 5, status="dept_approved")
    for _ in range(10):
        make_persons(make_enterprise(department=big), 5, status="dept_approved")
    login(make_user("center"))
    client.get("/center/review/?tab=reviewing")  # the same caches warm for both
    statements = []

    def count(*args):
        statements.append(args[2])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        counts = []
        for department in (small.id, big.id):
            db.session.expunge_all()  # nothing already loaded: a lazy load per row would show
            statements.clear()
            response = client.get(f"/center/review/?tab=reviewing&node=dept:{department}")
            assert len(set(ROW_ID.findall(response.get_data(as_text=True)))) in (5, 50)
            counts.append(len(statements))
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert counts[0] == counts[1]
