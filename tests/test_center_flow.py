"""A center operator's day, through the pages only: approve a department from the tree, allocate an
enterprise to the suggested station, book it over two days, cancel one window — and every figure
and text message agrees."""

import re
from datetime import timedelta

from sqlalchemy import func, select

from models import AppointmentSlot, Person, SmsMessage, today
from models.org import TERRITORY


def _figures(client):
    return client.get("/center/live").get_json()["values"]


def test_center_operator_day(client, login, db, make_territory, make_department, make_enterprise, make_station,
                             make_persons, make_user):
    xinhe, tanggu = make_territory("新河街道"), make_territory("塘沽街道")
    transport = make_department("区交通运输局")
    street = make_department("新河街道办", dimension=TERRITORY)
    bus = make_enterprise("滨海公交集团", department=transport, territory=xinhe)
    other = make_enterprise("新河商贸有限公司", department=street, territory=tanggu)
    near = make_station("新河接种点", territory=xinhe)
    make_station("塘沽接种点", territory=tanggu)
    bus_ids = make_persons(bus, 25, status="dept_approved")
    make_persons(other, 5, status="dept_approved")
    center = make_user("center")
    login(center)

    before = _figures(client)
    assert (before["figure:declared"], before["figure:allocated"], before["figure:appointed"]) == (30, 0, 0)

    # 1. Approve the transport bureau's people from the tree.
    page = client.get("/center/review/").get_data(as_text=True)
    assert re.search(r">区交通运输局</a>\s*<span class=\"tree-count\"[^>]*>25<", page)
    done = client.post(f"/center/review/all/center_approve?tab=reviewing&node=dept:{transport.id}",
                       follow_redirects=True).get_data(as_text=True)
    assert "已处理 25 人，跳过 0 人" in done

    # 2. Windows for the coming two days at the station, then allocate 公交 to the suggested station.
    first, second = today() + timedelta(days=1), today() + timedelta(days=2)
    created = client.post("/center/slots/create", data={
        "station": near.id, "first_day": first.isoformat(), "last_day": second.isoformat(),
        "windows": "08:30-10:00,10:00-11:30", "capacity": 8}, follow_redirects=True).get_data(as_text=True)
    assert "已新建 4 个时段，跳过 0 个" in created
    choose = client.get(f"/center/allocation/choose-station?scope=all&tab=pending&node=ent:{bus.id}")
    suggested = re.search(r'name="station_id" value="(\d+)"[^>]*checked', choose.get_data(as_text=True))
    assert int(suggested.group(1)) == near.id
    allocated = client.post(f"/center/allocation/allocate?tab=pending&node=ent:{bus.id}",
                            data={"scope": "all", "station_id": near.id}, follow_redirects=True)
    assert "已处理 25 人，跳过 0 人" in allocated.get_data(as_text=True)
    assert _figures(client)["figure:allocated"] == 25

    # 3. Book them over the two days: 16 places a day, so 16 + 9.
    booked = client.post(f"/center/appointments/book?station={near.id}&tab=waiting&node=ent:{bus.id}", data={
        "scope": "all", "amount": 25, "first_day": first.isoformat(), "last_day": second.isoformat()},
        follow_redirects=True).get_data(as_text=True)
    assert "已预约 25 人" in booked and "未能预约" not in booked
    slots = db.session.execute(
        select(AppointmentSlot).where(AppointmentSlot.station_id == near.id).order_by(AppointmentSlot.starts_at)
    ).scalars().all()
    in_slot = dict(db.session.execute(
        select(Person.slot_id, func.count()).where(Person.slot_id.is_not(None)).group_by(Person.slot_id)).all())
    assert [s.booked for s in slots] == [8, 8, 8, 1] == [in_slot.get(s.id, 0) for s in slots]
    assert all(s.booked <= s.capacity for s in slots)
    assert _figures(client)["figure:appointed"] == 25

    # 4. Cancel the first window of the second day.
    cancelled = client.post("/center/appointments/cancel", data={"slot": slots[2].id, "reason": "医护人员调配"},
                            follow_redirects=True).get_data(as_text=True)
    assert "已取消预约 8 人" in cancelled

    figures = _figures(client)
    assert (figures["figure:declared"], figures["figure:submitted"]) == (30, 30)
    assert (figures["figure:allocated"], figures["figure:appointed"]) == (25, 17)
    assert figures[f"station:{near.id}:waiting"] == 8
    statuses = dict(db.session.execute(select(Person.status, func.count()).where(Person.id.in_(bus_ids))
                                       .group_by(Person.status)).all())
    assert statuses == {"appointed": 17, "allocated": 8}

    messages = db.session.execute(select(SmsMessage.kind, func.count()).group_by(SmsMessage.kind)).all()
    assert dict(messages) == {"appointment": 25, "appointment_cancel": 8}
    window = f"{second.month}月{second.day}日 08:30-10:00"
    cancel_texts = db.session.execute(
        select(SmsMessage.body).where(SmsMessage.kind == "appointment_cancel")).scalars().all()
    assert all(window in body and "医护人员调配" in body for body in cancel_texts)
