"""人员分配管理: choosing a station (with a suggestion), allocating a node or ticked people, cancelling."""

import re
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select

from extensions import db as _db
from models import Person, Station, stats, today
from models.org import TERRITORY

LIST = "/center/allocation/"


@pytest.fixture
def world(make_territory, make_department, make_enterprise, make_station, make_slot, make_persons, make_user):
    xinhe, tanggu = make_territory("新河街道"), make_territory("塘沽街道")
    commerce = make_department("区商务局")
    street = make_department("新河街道办", dimension=TERRITORY)
    near = make_station("新河接种点", territory=xinhe)
    far = make_station("塘沽接种点", territory=tanggu)
    big_far = make_station("塘沽大型接种点", territory=tanggu)
    closed = make_station("已停用接种点", territory=xinhe)
    closed.active = False
    tomorrow = datetime.combine(today() + timedelta(days=1), time(9))
    for station, capacity in ((near, 30), (far, 30), (big_far, 200), (closed, 500)):
        make_slot(station, starts_at=tomorrow, capacity=capacity)
    make_slot(big_far, starts_at=tomorrow + timedelta(days=9), capacity=999)  # beyond the coming week
    make_persons(make_enterprise(department=commerce, territory=tanggu), 10, status="appointed", station=big_far)
    shop = make_enterprise("新河商贸有限公司", department=street, territory=xinhe)
    mall = make_enterprise("新河百货有限公司", department=street, territory=xinhe)
    port = make_enterprise("塘沽物流有限公司", department=commerce, territory=tanggu)
    return dict(
        near=near, far=far, big_far=big_far, closed=closed, street=street, commerce=commerce,
        shop=shop, mall=mall, port=port, center=make_user("center"),
        shop_ids=make_persons(shop, 6, status="center_approved", name="商贸员工"),
        mall_ids=make_persons(mall, 3, status="center_approved", name="百货员工"),
        port_ids=make_persons(port, 4, status="center_approved", name="物流员工"),
        reviewing=make_persons(shop, 2, status="dept_approved"),
    )


def _rows(db, ids):
    return set(db.session.execute(select(Person.status, Person.station_id).where(Person.id.in_(ids))).all())


def test_station_load_counts_the_coming_week_and_the_people_waiting(world):
    rows = {r["station"].name: r for r in stats.station_load(days=7)}
    assert "已停用接种点" not in rows
    big = rows["塘沽大型接种点"]
    assert (big["capacity"], big["waiting"], big["free"]) == (200, 10, 190)
    assert big["saturation"] == pytest.approx(0.05)
    assert (rows["新河接种点"]["capacity"], rows["新河接种点"]["waiting"]) == (30, 0)


def test_suggestion_prefers_the_territory_of_most_chosen_people_then_free_places(world):
    load = stats.station_load(days=7)
    xinhe_people = Person.enterprise_id.in_([world["shop"].id, world["port"].id])
    assert stats.majority_territory(xinhe_people) == world["shop"].territory_id  # 6 of 10 in 新河
    assert stats.suggest_station(load, world["shop"].territory_id).name == "新河接种点"
    # 塘沽 has two stations: the one with more free places wins.
    assert stats.suggest_station(load, world["port"].territory_id).name == "塘沽大型接种点"
    # No station in the territory: the most free places anywhere.
    assert stats.suggest_station(load, -1).name == "塘沽大型接种点"


def test_choose_station_page_lists_active_stations_with_the_suggestion_checked(client, login, world):
    login(world["center"])
    html = client.get(f"{LIST}choose-station?scope=all&node=dept:{world['street'].id}").get_data(as_text=True)
    assert "请选择接种站" in html and "将分配 <strong class=\"text-dark\">9</strong> 人" in html
    assert "已停用接种点" not in html
    checked = re.search(r'name="station_id" value="(\d+)"[^>]*checked', html)
    assert checked and int(checked.group(1)) == world["near"].id
    for figure in ("未来7天容量", "已分配待接种", "剩余名额", "饱和度", "新河街道", "滨海新区"):
        assert figure in html


def test_allocate_all_of_a_node_to_the_chosen_station(client, login, world, db):
    login(world["center"])
    node = f"ent:{world['shop'].id}"
    response = client.post(f"{LIST}allocate?node={node}", data={"scope": "all", "station_id": world["near"].id},
                           follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "已处理 6 人，跳过 0 人" in page and "已分配到新河接种点" in page
    assert _rows(db, world["shop_ids"]) == {("allocated", world["near"].id)}
    assert _rows(db, world["mall_ids"] + world["port_ids"]) == {("center_approved", None)}
    assert _rows(db, world["reviewing"]) == {("dept_approved", None)}


def test_batch_allocate_only_the_ticked_people(client, login, world, db):
    login(world["center"])
    ticked = world["port_ids"][:2] + world["reviewing"][:1]
    page = client.get(f"{LIST}choose-station?scope=ticked&" + "&".join(f"rowid={i}" for i in ticked))
    html = page.get_data(as_text=True)
    assert "将分配 <strong class=\"text-dark\">2</strong> 人" in html
    assert all(f'name="rowid" value="{i}"' in html for i in ticked)
    suggested = re.search(r'name="station_id" value="(\d+)"[^>]*checked', html)
    assert int(suggested.group(1)) == world["big_far"].id
    response = client.post(f"{LIST}allocate", data={"scope": "ticked", "rowid": ticked,
                                                    "station_id": world["far"].id}, follow_redirects=True)
    assert "已处理 2 人，跳过 1 人" in response.get_data(as_text=True)
    assert _rows(db, world["port_ids"][:2]) == {("allocated", world["far"].id)}
    assert _rows(db, world["port_ids"][2:]) == {("center_approved", None)}


def test_allocation_needs_an_active_station(client, login, world, db):
    login(world["center"])
    response = client.post(f"{LIST}allocate", data={"scope": "all"}, follow_redirects=True)
    assert "请选择接种站" in response.get_data(as_text=True)
    response = client.post(f"{LIST}allocate", data={"scope": "all", "station_id": world["closed"].id},
                           follow_redirects=True)
    assert "该接种站已停用" in response.get_data(as_text=True)
    assert _rows(db, world["shop_ids"]) == {("center_approved", None)}


def test_choosing_a_station_without_anyone_to_allocate_goes_back_with_a_message(client, login, world):
    login(world["center"])
    response = client.get(f"{LIST}choose-station?scope=ticked&rowid={world['reviewing'][0]}", follow_redirects=True)
    assert "没有可分配的人员" in response.get_data(as_text=True)


def test_cancel_all_and_batch_cancel_return_people_to_be_allocated(client, login, world, db, make_persons):
    login(world["center"])
    shop_allocated = make_persons(world["shop"], 4, status="allocated", station=world["near"])
    port_allocated = make_persons(world["port"], 3, status="allocated", station=world["far"])
    _db.session.commit()
    html = client.get(f"{LIST}?tab=allocated&node=ent:{world['shop'].id}").get_data(as_text=True)
    assert "全部取消" in html and "批量取消" in html and "全部分配" not in html

    response = client.post(f"{LIST}all/cancel_allocation?tab=allocated&node=ent:{world['shop'].id}",
                           follow_redirects=True)
    assert "已处理 4 人，跳过 0 人" in response.get_data(as_text=True)
    assert _rows(db, shop_allocated) == {("center_approved", None)}
    assert _rows(db, port_allocated) == {("allocated", world["far"].id)}

    client.post(f"{LIST}action/", data={"action": "cancel_allocation", "rowid": port_allocated[:1], "url": LIST})
    assert _rows(db, port_allocated[:1]) == {("center_approved", None)}
    assert _rows(db, port_allocated[1:]) == {("allocated", world["far"].id)}


def test_pending_tab_offers_allocation_buttons_and_tree_counts(client, login, world):
    login(world["center"])
    html = client.get(LIST).get_data(as_text=True)
    assert "单位清单" in html and "全部分配" in html and "批量分配" in html
    assert re.search(r">属地</a>\s*<span class=\"tree-count\"[^>]*>9<", html)
    assert re.search(r">行业</a>\s*<span class=\"tree-count\"[^>]*>4<", html)


def test_a_stopped_station_is_never_suggested(world):
    for station in _db.session.execute(select(Station)).scalars():
        if station.name != "已停用接种点":
            station.active = False
    _db.session.flush()
    assert stats.station_load(days=7) == []
    assert stats.suggest_station(stats.station_load(days=7), world["shop"].territory_id) is None


def test_choose_station_says_who_is_being_allocated(client, login, world):
    login(world["center"])
    html = client.get(f"{LIST}choose-station?scope=all&node=dept:{world['street'].id}").get_data(as_text=True)
    assert 'data-company-count="2"' in html and "来自 2 家企业" in html
    # the enterprise with most people first, each with its count; nobody of another node
    shop, mall = r"新河商贸有限公司 <strong[^>]*>6</strong> 人", r"新河百货有限公司 <strong[^>]*>3</strong> 人"
    assert re.search(shop + ".*" + mall, html, re.S)
    assert "塘沽物流有限公司" not in html
    ticked = client.get(f"{LIST}choose-station?scope=ticked&rowid={world['port_ids'][0]}").get_data(as_text=True)
    assert "来自 1 家企业" in ticked and "塘沽物流有限公司 <strong" in ticked
