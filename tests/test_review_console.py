"""审核部门端 through HTTP: scope, dashboard, 全部审核 / 批量审核 / 退回, the audited detail page."""

import re
from datetime import datetime

import pytest
from sqlalchemy import select, update

from models import AuditEvent, Person

LIST = "/review/review_persons/"


@pytest.fixture
def district(make_department, make_enterprise, make_user, make_persons):
    """Two departments; the first has a child unit; each has enterprises with people at several stages."""
    port = make_department("港口集团")
    port_child = make_department("港口集团轮驳", parent=port)
    other = make_department("别的部门")
    parent_ent = make_enterprise("港口母公司", department=port)
    child_ent = make_enterprise("港口子公司", department=port_child, parent=parent_ent)
    other_ent = make_enterprise("别家公司", department=other)
    return {
        "port": port, "other": other, "parent_ent": parent_ent, "child_ent": child_ent, "other_ent": other_ent,
        "parent_pending": make_persons(parent_ent, 3, status="submitted", name="母待审"),
        "child_pending": make_persons(child_ent, 2, status="submitted", name="子待审"),
        "parent_approved": make_persons(parent_ent, 1, status="center_approved", name="母已审"),
        "parent_draft": make_persons(parent_ent, 4, status="registered", name="母草稿"),
        "other_pending": make_persons(other_ent, 2, status="submitted", name="别家待审"),
        "reviewer": make_user("review", port, username="port_reviewer"),
        "other_reviewer": make_user("review", other, username="other_reviewer"),
        "child_enterprise_user": make_user("enterprise", child_ent, username="child_ent_user"),
    }


def statuses(db, ids):
    rows = db.session.execute(select(Person.id, Person.status).where(Person.id.in_(ids))).all()
    return {status for _, status in rows}


def page(client, url):
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def test_department_sees_its_and_its_child_units_people_only(client, login, district):
    login(district["reviewer"])
    pending = page(client, LIST + "?tab=pending")
    assert pending.count("母待审") == 3 and pending.count("子待审") == 2
    assert "别家待审" not in pending and "别家公司" not in pending
    approved = page(client, LIST + "?tab=approved")
    assert "母已审" in approved and "母待审" not in approved


def test_other_departments_enterprise_filter_is_404(client, login, district):
    login(district["reviewer"])
    assert client.get(LIST + f"?enterprise={district['other_ent'].id}").status_code == 404


def test_guessed_person_id_of_another_department_is_404_on_details(client, login, district, db):
    login(district["reviewer"])
    assert client.get(LIST + f"details/?id={district['other_pending'][0]}").status_code == 404
    assert client.get(LIST + "details/?id=abc").status_code == 404
    assert db.session.execute(select(AuditEvent).where(AuditEvent.action == "view_person")).first() is None


def test_guessed_ids_in_actions_and_return_are_skipped(client, login, district, db):
    login(district["reviewer"])
    mine, theirs = district["parent_pending"][0], district["other_pending"][0]
    approve = client.post(LIST + "action/", data={"action": "dept_approve", "rowid": [str(mine), str(theirs)]},
                          follow_redirects=True)
    assert "已处理 1 人，跳过 1 人" in approve.get_data(as_text=True)
    returned = client.post(LIST + "return/", data={"rowid": [str(district["other_pending"][1])], "reason": "试探"},
                           follow_redirects=True)
    assert "已处理 0 人，跳过 1 人" in returned.get_data(as_text=True)
    assert statuses(db, district["other_pending"]) == {"submitted"}
    assert db.session.get(Person, district["other_pending"][1]).return_reason is None
    assert statuses(db, [mine]) == {"dept_approved"}


def test_other_department_cannot_act_on_all_of_this_departments_enterprise(client, login, district, db):
    login(district["other_reviewer"])
    response = client.post(LIST + f"all/dept_approve?tab=pending&enterprise={district['parent_ent'].id}")
    assert response.status_code == 404
    assert statuses(db, district["parent_pending"]) == {"submitted"}


def test_dashboard_counts_per_enterprise_and_totals(client, login, district, make_persons):
    make_persons(district["parent_ent"], 2, status="registered", return_reason="信息不全")
    login(district["reviewer"])
    home = page(client, "/review/")
    parent = district["parent_ent"].id

    def cell(enterprise_id, figure):
        found = re.search(rf'data-enterprise="{enterprise_id}" data-figure="{figure}">(.*?)</td>', home, re.S)
        return re.sub(r"<[^>]+>", "", found.group(1)).strip()

    # 母公司: 3 pending + 1 center_approved + 4 drafts + 2 returned = 10 declared.
    assert [cell(parent, f) for f in ("declared", "submitted", "pending", "approved", "returned")] == \
        ["10", "4", "3", "1", "2"]
    assert 'data-figure="declared">12<' in home  # totals: 10 + 2 of the subsidiary
    assert 'data-figure="pending">5<' in home
    assert "别家公司" not in home


def test_approve_all_acts_on_the_chosen_enterprise_only(client, login, district, db, make_persons):
    more = make_persons(district["parent_ent"], 60, status="submitted")
    login(district["reviewer"])
    listing = page(client, LIST + f"?tab=pending&enterprise={district['parent_ent'].id}")
    assert "是否确认全部审核？（共 63 人）" in listing
    response = client.post(LIST + f"all/dept_approve?tab=pending&enterprise={district['parent_ent'].id}",
                           follow_redirects=True)
    assert "已处理 63 人，跳过 0 人" in response.get_data(as_text=True)
    assert statuses(db, more + district["parent_pending"]) == {"dept_approved"}
    assert statuses(db, district["child_pending"]) == {"submitted"}
    assert statuses(db, district["other_pending"]) == {"submitted"}


def test_approve_all_without_enterprise_covers_every_enterprise_in_scope(client, login, district, db):
    login(district["reviewer"])
    response = client.post(LIST + "all/dept_approve?tab=pending", follow_redirects=True)
    assert "已处理 5 人，跳过 0 人" in response.get_data(as_text=True)
    assert statuses(db, district["child_pending"]) == {"dept_approved"}
    assert statuses(db, district["other_pending"]) == {"submitted"}


def test_approve_selected_rows(client, login, district, db):
    login(district["reviewer"])
    chosen = district["parent_pending"][:2]
    response = client.post(LIST + "action/", data={"action": "dept_approve", "rowid": [str(i) for i in chosen]},
                           follow_redirects=True)
    assert "已处理 2 人，跳过 0 人" in response.get_data(as_text=True)
    assert statuses(db, chosen) == {"dept_approved"}
    assert statuses(db, district["parent_pending"][2:]) == {"submitted"}


def test_already_approved_people_are_skipped_not_moved(client, login, district, db):
    login(district["reviewer"])
    response = client.post(LIST + "action/", data={"action": "dept_approve",
                                                   "rowid": [str(district["parent_approved"][0])]},
                           follow_redirects=True)
    assert "已处理 0 人，跳过 1 人" in response.get_data(as_text=True)
    assert statuses(db, district["parent_approved"]) == {"center_approved"}


def test_return_needs_a_reason(client, login, district, db):
    login(district["reviewer"])
    response = client.post(LIST + "return/", data={"rowid": [str(district["child_pending"][0])], "reason": "  "},
                           follow_redirects=True)
    assert "请填写退回原因" in response.get_data(as_text=True)
    assert statuses(db, district["child_pending"]) == {"submitted"}


def test_returned_people_reach_the_enterprise_with_the_reason(client, login, district, db, app):
    login(district["reviewer"])
    chosen = district["child_pending"][0]
    response = client.post(LIST + "return/", data={"rowid": [str(chosen)], "reason": "身份证号与姓名不符"},
                           follow_redirects=True)
    assert "已处理 1 人，跳过 0 人" in response.get_data(as_text=True)
    person = db.session.get(Person, chosen)
    assert (person.status, person.return_reason) == ("registered", "身份证号与姓名不符")

    returned_tab = page(client, LIST + "?tab=returned")
    assert "身份证号与姓名不符" in returned_tab and returned_tab.count("子待审") == 1

    enterprise_client = app.test_client()
    login(district["child_enterprise_user"], test_client=enterprise_client)
    unsubmitted = page(enterprise_client, "/enterprise/enterprise_persons/?tab=unsubmitted")
    assert "退回原因" in unsubmitted and "身份证号与姓名不符" in unsubmitted


def test_return_goes_back_to_the_list_it_came_from_but_never_elsewhere(client, login, district):
    login(district["reviewer"])
    back = f"{LIST}?tab=pending&enterprise={district['child_ent'].id}"
    same = client.post(LIST + "return/", data={"rowid": [str(district["child_pending"][0])], "reason": "重填",
                                                "url": back})
    assert same.headers["Location"] == back
    away = client.post(LIST + "return/", data={"rowid": [str(district["child_pending"][1])], "reason": "重填",
                                                "url": "https://evil.example/x"})
    assert away.headers["Location"].startswith(LIST)


def test_detail_shows_the_full_id_number_and_is_audited(client, login, district, db):
    login(district["reviewer"])
    person_id = district["parent_approved"][0]
    number = db.session.get(Person, person_id).id_number
    listing = page(client, LIST + "?tab=approved")
    assert number not in listing
    detail = page(client, LIST + f"details/?id={person_id}")
    assert number in detail and "母已审" in detail
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "view_person")).scalar_one()
    assert (event.username, event.target_type, event.target_id) == ("port_reviewer", "person", person_id)


def test_tabs_show_counts_of_the_chosen_enterprise(client, login, district):
    login(district["reviewer"])
    listing = page(client, LIST + f"?tab=pending&enterprise={district['child_ent'].id}")
    assert 'data-tab-count="pending">2<' in listing
    assert "港口子公司" in listing and "母待审" not in listing


def test_the_list_is_searched_by_enterprise_name_within_scope(client, login, district):
    login(district["reviewer"])
    found = page(client, LIST + "?tab=pending&search=子公司")
    assert found.count("子待审") == 2 and "母待审" not in found
    assert "姓名 / 企业名称 / 身份证号 / 手机号" in found
    assert "别家待审" not in page(client, LIST + "?tab=pending&search=别家公司")  # another department's company
    by_name = page(client, LIST + "?tab=pending&search=母待审")  # names are still found
    assert by_name.count("母待审") >= 3 and "子待审" not in by_name


def test_list_times_are_shown_to_the_minute(client, login, district, db):
    db.session.execute(update(Person).where(Person.id.in_(district["parent_pending"]))
                       .values(submitted_at=datetime(2026, 11, 30, 9, 5, 7, 123456)))
    db.session.commit()
    login(district["reviewer"])
    listing = page(client, LIST + "?tab=pending")
    assert "2026-11-30 09:05" in listing and "09:05:07" not in listing
