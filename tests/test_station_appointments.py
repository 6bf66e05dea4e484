"""预约管理 of a station: slots with booked/capacity, appoint and move people or enterprises, cancel with SMS."""

from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select

from models import AppointmentSlot, Person, SmsMessage, now, today


@pytest.fixture
def plan(db, make_station, make_enterprise, make_slot, make_persons, make_user):
    station = make_station("新河街社区卫生服务中心接种点")
    station.address = "滨海新区新河街道新港路1号"
    day = today() + timedelta(days=1)
    morning = make_slot(station, starts_at=datetime.combine(day, time(9, 0)), minutes=90, capacity=3)
    afternoon = make_slot(station, starts_at=datetime.combine(day, time(14, 0)), minutes=90, capacity=10)
    next_day = make_slot(station, starts_at=datetime.combine(day + timedelta(days=1), time(9, 0)), capacity=10)
    acme = make_enterprise("滨城物流有限公司")
    other_ent = make_enterprise("津港科技有限公司")
    pending = make_persons(acme, 5, status="allocated", station=station, name="待约甲", phone="13700000001")
    booked = make_persons(other_ent, 2, status="appointed", station=station, slot=afternoon, name="已约乙",
                          phone="13700000002")
    tomorrow_after = make_persons(other_ent, 1, status="appointed", station=station, slot=next_day, name="后天丙")
    user = make_user("station", station, username="xinhe")
    db.session.commit()
    return {"station": station, "day": day, "morning": morning, "afternoon": afternoon, "next_day": next_day,
            "acme": acme, "other_ent": other_ent, "pending": pending, "booked": booked,
            "tomorrow_after": tomorrow_after, "user": user}


def statuses(db, ids):
    return [db.session.execute(select(Person.status, Person.slot_id).where(Person.id == i)).one() for i in ids]


def booked(db, slot):
    return db.session.execute(select(AppointmentSlot.booked).where(AppointmentSlot.id == slot.id)).scalar_one()


def sms_to(db, phone):
    return db.session.execute(select(SmsMessage.body).where(SmsMessage.phone == phone)).scalars().all()


def test_day_view_lists_the_slots_with_booked_and_capacity(client, login, plan):
    login(plan["user"])
    page = client.get(f"/station/appointments/?day={plan['day'].isoformat()}").get_data(as_text=True)
    assert f"{plan['day']:%Y-%m-%d} 09:00-10:30" in page and f"{plan['day']:%Y-%m-%d} 14:00-15:30" in page
    assert ">0/3<" in page and ">2/10<" in page
    assert "滨城物流有限公司" in page  # enterprises of the station, to appoint by enterprise


def test_appoint_one_ticked_person_and_tell_them_by_sms(client, login, db, plan):
    login(plan["user"])
    person_id = plan["pending"][0]
    response = client.post("/station/appointments/act", data={
        "action": "appoint", "scope": "ticked", "person_id": person_id, "slot_id": plan["morning"].id,
        "status": "pending"}, follow_redirects=True)
    assert "已处理 1 人，跳过 0 人" in response.get_data(as_text=True)
    assert statuses(db, [person_id]) == [("appointed", plan["morning"].id)]
    assert booked(db, plan["morning"]) == 1
    [message] = sms_to(db, "13700000001")
    day = plan["day"]
    assert f"{day.month}月{day.day}日 09:00-10:30" in message and "新河街社区卫生服务中心接种点" in message
    assert db.session.execute(select(SmsMessage.status)).scalars().all() == ["queued"]  # the worker sends it


def test_appointing_a_whole_enterprise_stops_at_the_slot_capacity(client, login, db, plan):
    login(plan["user"])
    response = client.post("/station/appointments/act", data={
        "action": "appoint", "scope": "all", "status": "pending", "enterprise": plan["acme"].id,
        "slot_id": plan["morning"].id}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "已处理 3 人，跳过 2 人" in page and "剩余 0 个名额" in page
    assert sorted(s for s, _ in statuses(db, plan["pending"])) == ["allocated"] * 2 + ["appointed"] * 3
    assert booked(db, plan["morning"]) == 3
    assert len(sms_to(db, "13700000001")) == 3


def test_moving_an_enterprise_to_another_window_frees_the_old_places(client, login, db, plan):
    login(plan["user"])
    client.post("/station/appointments/act", data={
        "action": "appoint", "scope": "all", "status": "appointed", "enterprise": plan["other_ent"].id,
        "slot_id": plan["morning"].id})
    moved = plan["booked"] + plan["tomorrow_after"]
    assert statuses(db, moved) == [("appointed", plan["morning"].id)] * 3
    assert (booked(db, plan["afternoon"]), booked(db, plan["morning"]), booked(db, plan["next_day"])) == (0, 3, 0)
    assert all("09:00-10:30" in body for body in sms_to(db, "13700000002"))


def test_cancel_ticked_appointments_with_a_reason(client, login, db, plan):
    login(plan["user"])
    response = client.post("/station/appointments/act", data={
        "action": "cancel", "scope": "ticked", "person_id": plan["booked"][0], "status": "appointed",
        "reason": "疫苗到货延迟"}, follow_redirects=True)
    assert "已处理 1 人，跳过 0 人" in response.get_data(as_text=True)
    assert statuses(db, plan["booked"]) == [("allocated", None), ("appointed", plan["afternoon"].id)]
    assert booked(db, plan["afternoon"]) == 1
    [message] = sms_to(db, "13700000002")
    assert "已取消" in message and "疫苗到货延迟" in message


def test_cancel_needs_a_reason(client, login, db, plan):
    login(plan["user"])
    response = client.post("/station/appointments/act", data={
        "action": "cancel", "scope": "ticked", "person_id": plan["booked"][0], "status": "appointed", "reason": ""},
        follow_redirects=True)
    assert "请填写取消原因" in response.get_data(as_text=True)
    assert statuses(db, plan["booked"][:1]) == [("appointed", plan["afternoon"].id)]
    assert sms_to(db, "13700000002") == []


def test_cancel_a_whole_slot_leaves_other_slots_alone(client, login, db, plan):
    login(plan["user"])
    client.post("/station/appointments/act", data={
        "action": "cancel", "scope": "all", "status": "appointed", "slot": plan["afternoon"].id,
        "reason": "停电"})
    assert [s for s, _ in statuses(db, plan["booked"])] == ["allocated", "allocated"]
    assert statuses(db, plan["tomorrow_after"]) == [("appointed", plan["next_day"].id)]
    assert len(sms_to(db, "13700000002")) == 2


def test_cancel_a_whole_day(client, login, db, plan):
    login(plan["user"])
    client.post("/station/appointments/act", data={
        "action": "appoint", "scope": "ticked", "person_id": plan["pending"][:2], "slot_id": plan["morning"].id})
    client.post("/station/appointments/act", data={
        "action": "cancel", "scope": "all", "status": "appointed", "day": plan["day"].isoformat(), "reason": "停诊"})
    assert [s for s, _ in statuses(db, plan["pending"][:2] + plan["booked"])] == ["allocated"] * 4
    assert statuses(db, plan["tomorrow_after"]) == [("appointed", plan["next_day"].id)]
    assert (booked(db, plan["morning"]), booked(db, plan["afternoon"])) == (0, 0)


def test_a_slot_that_has_ended_cannot_be_booked(client, login, db, plan, make_slot):
    past = make_slot(plan["station"], starts_at=now() - timedelta(hours=3), minutes=60)
    db.session.commit()
    login(plan["user"])
    response = client.post("/station/appointments/act", data={
        "action": "appoint", "person_id": plan["pending"][0], "slot_id": past.id}, follow_redirects=True)
    assert "请选择本站尚未结束的预约时段" in response.get_data(as_text=True)
    assert statuses(db, plan["pending"][:1]) == [("allocated", None)]


def test_people_list_filters_by_slot_and_finds_one_person_by_id_number(client, login, db, plan):
    login(plan["user"])
    by_slot = client.get(f"/station/appointments/people?slot={plan['afternoon'].id}").get_data(as_text=True)
    assert by_slot.count('<td class="col-name">已约乙</td>') == 2
    assert "待约甲" not in by_slot and "后天丙" not in by_slot
    number = db.session.get(Person, plan["pending"][1]).id_number
    found = client.get(f"/station/appointments/people?q={number}&status=pending").get_data(as_text=True)
    assert found.count('<td class="col-name">待约甲</td>') == 1 and 'class="people-total">1<' in found
    assert f"<td>{number[:6]}********{number[-4:]}</td>" in found  # masked in the list
    assert f"<td>{number}</td>" not in found
