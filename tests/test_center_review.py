"""人员审核 at the center: the department tree, its counts, and approvals/returns on exactly a node.

A node of the tree is a dimension, a department (with its child units), or an enterprise;
an enterprise node includes its subsidiaries at any depth (天津港(集团)有限公司 holds
天津港轮驳有限公司 and what is below it).
"""

import re

import pytest
from sqlalchemy import event, select

from admin_views.center_tree import build_tree, enterprise_children
from extensions import db as _db
from models import Person
from models.org import TERRITORY

REVIEWING = "/center/review/"


@pytest.fixture
def world(make_department, make_enterprise, make_persons, make_user):
    port = make_department("天津港集团公司")
    transport = make_department("区交通运输局")
    road = make_department("区道路运输管理中心", parent=transport)
    street = make_department("新河街道", dimension=TERRITORY)
    group = make_enterprise("天津港(集团)有限公司", department=port)
    tug = make_enterprise("天津港轮驳有限公司", department=port, parent=group)
    tug_child = make_enterprise("天津港轮驳船舶服务有限公司", department=port, parent=tug)
    pier = make_enterprise("天津港第一港埠有限公司", department=port, parent=group)
    bus = make_enterprise("滨海公交集团", department=transport)
    freight = make_enterprise("渤海货运有限公司", department=road)
    shop = make_enterprise("新河商贸有限公司", department=street)
    enterprises = dict(group=group, tug=tug, tug_child=tug_child, pier=pier, bus=bus, freight=freight, shop=shop)
    waiting = {"group": 2, "tug": 3, "tug_child": 1, "pier": 4, "bus": 5, "freight": 6, "shop": 7}
    ids = {}
    for key, count in waiting.items():
        ids[key] = make_persons(enterprises[key], count, status="dept_approved", name=f"{key}-审核中")
        ids[key + ":approved"] = make_persons(enterprises[key], 1, status="center_approved")
        ids[key + ":submitted"] = make_persons(enterprises[key], 1, status="submitted")
    return dict(enterprises, ids=ids, waiting=waiting, port=port, transport=transport, road=road, street=street,
                center=make_user("center"))


def _status_of(ids):
    return set(_db.session.execute(select(Person.status).where(Person.id.in_(ids))).scalars())


def _find(nodes, label):
    for node in nodes:
        if node.label == label:
            return node
        found = _find(node.children, label)
        if found:
            return found
    return None


def test_tree_counts_people_under_review_rolled_up_through_the_hierarchy(world):
    tree = build_tree(("dept_approved",))
    industry, territory = tree
    assert (industry.label, industry.count) == ("行业", 2 + 3 + 1 + 4 + 5 + 6)
    assert (territory.label, territory.count) == ("属地", 7)
    assert _find(tree, "天津港集团公司").count == 10
    assert _find(tree, "区交通运输局").count == 11  # its own 5 and its child unit's 6
    assert _find(tree, "区道路运输管理中心").count == 6
    # Enterprises are not rendered until their department is opened (or chosen).
    assert _find(tree, "天津港(集团)有限公司") is None


def test_choosing_a_subsidiary_opens_its_path_and_counts_groups_with_their_subsidiaries(world):
    tree = build_tree(("dept_approved",), selected=f"ent:{world['tug'].id}")
    port = _find(tree, "天津港集团公司")
    assert port.open and [n.label for n in port.children] == ["天津港(集团)有限公司"]
    group = port.children[0]
    assert group.open and group.count == 2 + 3 + 1 + 4
    assert {n.label: n.count for n in group.children} == {"天津港轮驳有限公司": 4, "天津港第一港埠有限公司": 4}
    tug = _find(group.children, "天津港轮驳有限公司")
    assert tug.selected and [(n.label, n.count) for n in tug.children] == [("天津港轮驳船舶服务有限公司", 1)]


def test_a_department_loads_its_enterprises_when_opened(client, login, world):
    nodes = enterprise_children(world["transport"].id, ("dept_approved",))
    assert [(n.label, n.count) for n in nodes] == [("滨海公交集团", 5)]
    login(world["center"])
    html = client.get(f"{REVIEWING}tree?node=dept:{world['port'].id}").get_data(as_text=True)
    assert "天津港(集团)有限公司" in html and "天津港轮驳有限公司" in html and "滨海公交集团" not in html
    assert client.get(f"{REVIEWING}tree?node=ent:{world['group'].id}").status_code == 404


def test_review_page_shows_the_tree_with_counts_and_the_enterprise_details(client, login, world):
    login(world["center"])
    html = client.get(f"{REVIEWING}?node=ent:{world['tug'].id}").get_data(as_text=True)
    assert re.search(r">天津港集团公司</a>\s*<span class=\"tree-count\" title=\"审核中人数\">10<", html)
    for fact in ("天津港轮驳有限公司", world["tug"].credit_code, "滨海新区测试路1号", "张三", "13800138000",
                 "天津港集团公司", world["tug"].territory.name):
        assert fact in html
    # Tabs with their counts for this node (tug and its subsidiary).
    assert re.search(r"审核中\s*<span[^>]*>4<", html) and re.search(r"已审批\s*<span[^>]*>2<", html)
    assert html.count("tug-审核中") == 3 and html.count("tug_child-审核中") == 1
    assert "bus-审核中" not in html


NODES = {
    "industry dimension": (lambda w: "dim:industry", {"group", "tug", "tug_child", "pier", "bus", "freight"}),
    "territory dimension": (lambda w: "dim:territory", {"shop"}),
    "department with its child unit": (lambda w: f"dept:{w['transport'].id}", {"bus", "freight"}),
    "child unit": (lambda w: f"dept:{w['road'].id}", {"freight"}),
    "enterprise": (lambda w: f"ent:{w['bus'].id}", {"bus"}),
    "parent company with subsidiaries": (lambda w: f"ent:{w['group'].id}", {"group", "tug", "tug_child", "pier"}),
    "subsidiary with its own subsidiary": (lambda w: f"ent:{w['tug'].id}", {"tug", "tug_child"}),
}


@pytest.mark.parametrize("case", NODES)
def test_approve_all_acts_on_exactly_the_chosen_node(client, login, world, case):
    node_of, inside = NODES[case]
    login(world["center"])
    response = client.post(f"{REVIEWING}all/center_approve?tab=reviewing&node={node_of(world)}",
                           follow_redirects=True)
    expected = sum(world["waiting"][k] for k in inside)
    assert f"已处理 {expected} 人，跳过 0 人" in response.get_data(as_text=True)
    for key in world["waiting"]:
        assert _status_of(world["ids"][key]) == ({"center_approved"} if key in inside else {"dept_approved"})
        assert _status_of(world["ids"][key + ":submitted"]) == {"submitted"}


def test_approve_all_of_a_searched_node_is_one_update_with_the_lists_conditions(client, login, world):
    login(world["center"])
    updates = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("UPDATE person"):
            updates.append(statement)

    event.listen(_db.engine, "before_cursor_execute", keep)
    try:
        page = client.post(f"{REVIEWING}all/center_approve?tab=reviewing&node=ent:{world['tug'].id}"
                           "&search=tug_child", follow_redirects=True).get_data(as_text=True)
    finally:
        event.remove(_db.engine, "before_cursor_execute", keep)
    assert "已处理 1 人，跳过 0 人" in page
    assert _status_of(world["ids"]["tug_child"]) == {"center_approved"}
    assert _status_of(world["ids"]["tug"]) == {"dept_approved"}
    # The list's own conditions, not `person.id IN (SELECT person.id FROM person ...)`.
    assert len(updates) == 1 and "person.id IN (SELECT" not in updates[0], updates


def test_approve_all_is_refused_on_the_approved_tab(client, login, world):
    login(world["center"])
    assert client.post(f"{REVIEWING}all/center_approve?tab=approved").status_code == 404
    assert _status_of(world["ids"]["bus"]) == {"dept_approved"}


def test_batch_approve_changes_only_ticked_people_under_review(client, login, world):
    login(world["center"])
    ticked = world["ids"]["bus"][:2] + world["ids"]["bus:submitted"]
    response = client.post(f"{REVIEWING}action/", data={"action": "center_approve", "rowid": ticked,
                                                        "url": REVIEWING}, follow_redirects=True)
    assert "已处理 2 人，跳过 1 人" in response.get_data(as_text=True)
    assert _status_of(world["ids"]["bus"][:2]) == {"center_approved"}
    assert _status_of(world["ids"]["bus"][2:]) == {"dept_approved"}
    assert _status_of(world["ids"]["bus:submitted"]) == {"submitted"}


def test_batch_return_needs_a_reason_and_sends_people_back_to_the_department(client, login, world):
    login(world["center"])
    ticked = world["ids"]["shop"][:3]
    refused = client.post(f"{REVIEWING}action/", data={"action": "center_return", "rowid": ticked, "reason": " ",
                                                      "url": REVIEWING}, follow_redirects=True)
    assert "请填写原因" in refused.get_data(as_text=True)
    assert _status_of(ticked) == {"dept_approved"}

    done = client.post(f"{REVIEWING}action/", data={"action": "center_return", "rowid": ticked,
                                                   "reason": "身份证号有误", "url": REVIEWING}, follow_redirects=True)
    assert "已处理 3 人，跳过 0 人" in done.get_data(as_text=True)
    rows = _db.session.execute(select(Person.status, Person.return_reason).where(Person.id.in_(ticked))).all()
    assert set(rows) == {("submitted", "身份证号有误")}
    assert _status_of(world["ids"]["shop"][3:]) == {"dept_approved"}


def test_cancel_on_the_approved_tab_returns_approved_people_with_the_reason(client, login, world):
    login(world["center"])
    approved = world["ids"]["bus:approved"] + world["ids"]["freight:approved"]
    page = client.get(f"{REVIEWING}?tab=approved&node=dept:{world['transport'].id}").get_data(as_text=True)
    assert "取消" in page and "取消原因" in page and "全部审核" not in page
    client.post(f"{REVIEWING}action/", data={"action": "center_return", "rowid": approved[:1], "reason": "重复申报",
                                            "url": f"{REVIEWING}?tab=approved"})
    rows = _db.session.execute(select(Person.status, Person.return_reason).where(Person.id.in_(approved))).all()
    assert sorted(rows) == [("center_approved", None), ("submitted", "重复申报")]


def test_confirmation_of_approve_all_uses_the_manuals_words(client, login, world):
    login(world["center"])
    html = client.get(f"{REVIEWING}?node=dept:{world['road'].id}").get_data(as_text=True)
    assert 'data-confirm="是否确认全部提交审核（共 6 人）"' in html
    assert "批量审核" in html and "批量退回" in html


@pytest.mark.parametrize("node", ["dept:abc", "ent:", "x:1", "dim:planet", "dept:999999", "ent:999999"])
def test_a_node_naming_nothing_is_404(client, login, world, node):
    login(world["center"])
    assert client.get(f"{REVIEWING}?node={node}").status_code == 404


def test_the_tree_is_counted_with_two_grouped_queries_however_many_enterprises(client, login, world,
                                                                            make_enterprise, make_persons):
    login(world["center"])

    def person_queries():
        seen = []

        def keep(conn, cursor, statement, parameters, context, executemany):
            if re.search(r"\bFROM (person|person_status_count|department_status_count)\b", statement):
                seen.append(statement)

        event.listen(_db.engine, "before_cursor_execute", keep)
        try:
            assert client.get(f"{REVIEWING}?node=dept:{world['transport'].id}").status_code == 200
        finally:
            event.remove(_db.engine, "before_cursor_execute", keep)
        return seen

    before = person_queries()
    for _ in range(15):
        make_persons(make_enterprise(department=world["transport"]), 2, status="dept_approved")
    _db.session.commit()
    after = person_queries()
    assert len(after) == len(before)
    # The whole tree from the department counters (models/department_counts.py), then one grouped
    # query over the enterprise counters for the opened department's enterprises only.
    assert len([s for s in after if "FROM department_status_count" in s]) == 1, after
    grouped = [s for s in after if re.search(r"GROUP BY enterprise\.(department_id|id)\b", s)]
    assert len(grouped) == 1 and "enterprise.id IN" in grouped[0], grouped


def test_the_district_tree_drawn_once_follows_every_change_of_counts_and_departments(client, login, world,
                                                                                    make_persons, make_enterprise):
    """The district's tree is drawn once for the same departments, counts and links (center_tree.district_tree_html)."""
    login(world["center"])

    def port_count():
        html = client.get(REVIEWING).get_data(as_text=True)
        found = re.search(r">(天津港集团[^<]*)</a>\s*<span class=\"tree-count[^\"]*\" title=\"审核中人数\">(\d+)<",
                          html)
        return found.group(1), int(found.group(2)), 'data-lazy="' in html

    assert port_count() == ("天津港集团公司", 10, True)
    assert port_count() == ("天津港集团公司", 10, True)  # drawn from the kept tree
    make_persons(world["pier"], 2, status="dept_approved")
    _db.session.commit()
    assert port_count() == ("天津港集团公司", 12, True)
    world["port"].name = "天津港集团有限公司（更名）"
    _db.session.commit()
    assert port_count() == ("天津港集团有限公司（更名）", 12, True)
    client.post(f"{REVIEWING}all/center_approve", data={})  # every one of the tab: the counts go to 0
    assert port_count() == ("天津港集团有限公司（更名）", 0, True)
