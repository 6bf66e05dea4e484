"""Person lists draw their rows in Python (PersonListView.list_row_cells): the cells Flask-Admin would draw."""

import re

from markupsafe import escape

from models import Person

ROW = re.compile(r"<tr>(.*?)</tr>", re.S)
CELL = re.compile(r'<td( class="col-([^"]+)")?>(.*?)</td>', re.S)
ROW_ID = re.compile(r'name="rowid" class="action-checkbox" value="(\d+)" title="选择记录"')


def rows_of(page):
    """{person id: [(column, cell html)]} of the list table's body."""
    table = page[page.index('<table class="table table-striped'):page.index("</table>")]
    body = table[table.index("</thead>"):]
    rows = {}
    for row in ROW.findall(body):
        [person_id] = ROW_ID.findall(row)
        rows[int(person_id)] = [(column, html.strip()) for _, column, html in CELL.findall(row) if column]
    return rows


def test_each_cell_is_what_flask_admin_makes_of_the_column(app, client, login, make_user, make_enterprise,
                                                            make_persons, db):
    company = make_enterprise("渤海<船舶>&服务有限公司")
    ids = make_persons(company, 2, status="dept_approved", name="王<晓>东", category=None)
    ids += make_persons(company, 1, status="dept_approved", gender="F", age=0)
    login(make_user("center"))
    rows = rows_of(client.get("/center/review/?tab=reviewing").get_data(as_text=True))
    assert sorted(rows) == sorted(ids)
    view = next(v for v in app.extensions["consoles"]["center"]._views if v.endpoint == "center_persons")
    with app.test_request_context():
        for person_id, cells in rows.items():
            person = db.session.get(Person, person_id)
            expected = [(column, str(escape(view.get_list_value(None, person, column))))
                        for column, _ in view.get_list_columns()]
            assert cells == expected
    assert ("enterprise.name", "渤海&lt;船舶&gt;&amp;服务有限公司") in rows[ids[0]]
    assert ("category", "") in rows[ids[0]]
    assert ("status", '<span class="badge status-dept_approved">初审通过(审核中)</span>') in rows[ids[0]]
