"""入站登记: the desk page, reads pushed live over SSE, the read panel, manual lookup, 登记."""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from models import AuditEvent, CardRead, Person, ReaderToken, now
from services import events
from tests.conftest import make_id_number


@pytest.fixture
def desk(db, make_station, make_enterprise, make_slot, make_persons, make_user):
    station = make_station("新河街社区卫生服务中心接种点")
    other = make_station("大港医院接种点")
    slot = make_slot(station, starts_at=now() - timedelta(minutes=20), minutes=90, capacity=50)
    later = make_slot(station, starts_at=now() + timedelta(days=2), minutes=90)
    enterprise = make_enterprise("滨城物流有限公司")
    _, token = ReaderToken.issue(station, "入口1号台")
    user = make_user("station", station, username="xinhe")
    other_user = make_user("station", other, username="dagang")
    [appointed] = make_persons(enterprise, 1, status="appointed", station=station, slot=slot, name="王晓东",
                               phone="13812345678")
    [tomorrow] = make_persons(enterprise, 1, status="appointed", station=station, slot=later, name="李明")
    db.session.commit()
    return {"station": station, "other": other, "slot": slot, "token": token, "user": user,
            "other_user": other_user, "appointed": db.session.get(Person, appointed),
            "tomorrow": db.session.get(Person, tomorrow), "enterprise": enterprise}


def read_card(client, desk, person_or_number):
    number = getattr(person_or_number, "id_number", person_or_number)
    response = client.post("/api/v1/card-reads", headers={"Authorization": f"Bearer {desk['token']}"},
                           json={"read_id": str(uuid.uuid4()), "id_number": number, "reader": "Virtual PCD 00 00",
                                 "read_at": now().isoformat()})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def latest_read(db):
    return db.session.execute(select(CardRead).order_by(CardRead.id.desc()).limit(1)).scalar_one()


def test_station_users_land_on_the_desk(client, login, desk):
    login(desk["user"])
    response = client.get("/station/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "入站登记" in page and "新河街社区卫生服务中心接种点" in page
    assert "请将身份证放在读卡器上" in page and "候诊队列" in page
    assert "js/station_desk.js" in page and "<script>" not in page


def test_other_roles_cannot_open_the_desk(client, login, make_user, desk):
    login(make_user("center", username="center1"))
    assert client.get("/station/").status_code == 403
    assert client.get("/station/events").status_code == 403


def test_read_panel_shows_the_person_with_full_id_and_audits_the_view(client, login, db, desk):
    login(desk["user"])
    read_card(client, desk, desk["appointed"])
    read = latest_read(db)
    page = client.get(f"/station/reads/{read.id}").get_data(as_text=True)
    person = desk["appointed"]
    assert "本站已预约" in page and "verdict-success" in page
    assert person.id_number in page and "王晓东" in page and "138****5678" in page
    assert "13812345678" not in page
    assert "滨城物流有限公司" in page and f"{desk['slot'].starts_at:%H:%M}" in page
    assert ">登记<" in page
    audit = db.session.execute(select(AuditEvent).where(AuditEvent.action == "view_id_number")).scalars().all()
    assert [(a.username, a.target_type, a.target_id) for a in audit] == [("xinhe", "person", person.id)]


def test_desk_page_shows_the_latest_read_of_today(client, login, db, desk):
    login(desk["user"])
    read_card(client, desk, desk["tomorrow"])
    page = client.get("/station/").get_data(as_text=True)
    assert "时段不符" in page and "李明" in page and "仍然登记" in page


@pytest.mark.parametrize(("who", "label", "colour"), [
    ("unknown", "未登记", "verdict-danger"),
    ("tomorrow", "时段不符", "verdict-warning"),
])
def test_read_panel_colours_the_verdict(client, login, db, desk, who, label, colour):
    login(desk["user"])
    read_card(client, desk, make_id_number() if who == "unknown" else desk[who])
    page = client.get(f"/station/reads/{latest_read(db).id}").get_data(as_text=True)
    assert label in page and colour in page


def test_check_in_puts_the_person_in_the_queue_and_tells_the_other_desks(app, client, login, db, desk):
    login(desk["user"])
    read_card(client, desk, desk["appointed"])
    subscription = events.broker(app).subscribe(events.station_channel(desk["station"].id), timeout=0.05)
    next(subscription)
    response = client.post("/station/check-in", data={"person_id": desk["appointed"].id, "read_id": latest_read(db).id},
                           headers={"X-Requested-With": "fetch"})
    assert response.status_code == 200
    assert response.get_json() == {"ok": True, "message": "已登记，进入候诊队列"}
    person = db.session.get(Person, desk["appointed"].id)
    assert person.status == "checked_in" and person.checked_in_by_id == desk["user"].id
    assert next(item for item in subscription if item is not None) == {"type": "queue"}
    subscription.close()
    queue = client.get("/station/queue/panel?compact=1").get_data(as_text=True)
    assert "王晓东" in queue and "1 人" in queue
    panel = client.get(f"/station/reads/{latest_read(db).id}").get_data(as_text=True)
    assert "已登记，候诊中" in panel and "出站确认" in panel


def test_checking_in_twice_is_refused_the_second_time(client, login, db, desk):
    login(desk["user"])
    data = {"person_id": desk["appointed"].id}
    assert client.post("/station/check-in", data=data, headers={"X-Requested-With": "fetch"}).status_code == 200
    second = client.post("/station/check-in", data=data, headers={"X-Requested-With": "fetch"})
    assert second.status_code == 409 and "未登记" in second.get_json()["message"]


def test_check_in_without_script_redirects_back_to_the_read(client, login, db, desk):
    login(desk["user"])
    read_card(client, desk, desk["appointed"])
    read = latest_read(db)
    response = client.post("/station/check-in", data={"person_id": desk["appointed"].id, "read_id": read.id})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/station/?read={read.id}")
    assert "已登记，进入候诊队列" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_manual_lookup_stores_the_read_and_answers_the_panel(client, login, db, desk):
    login(desk["user"])
    number = desk["appointed"].id_number
    typed = number[:6] + " " + number[6:].lower()
    response = client.post("/station/lookup", data={"id_number": typed}, headers={"X-Requested-With": "fetch"})
    answer = response.get_json()
    assert response.status_code == 200 and answer["ok"] is True
    assert "本站已预约" in answer["html"] and "王晓东" in answer["html"]
    read = latest_read(db)
    assert (read.id, read.reader, read.id_number, read.person_id) == (answer["read"], "手工录入", number,
                                                                     desk["appointed"].id)


def test_manual_lookup_of_an_invalid_number_says_why(client, login, db, desk):
    login(desk["user"])
    response = client.post("/station/lookup", data={"id_number": "11010519491230002X"},
                           headers={"X-Requested-With": "fetch"})
    assert response.status_code == 422 and "校验位" in response.get_json()["message"]
    assert db.session.execute(select(CardRead)).first() is None


def test_event_stream_is_sse_with_heartbeats_and_the_station_events(app, client, login, desk, monkeypatch):
    monkeypatch.setitem(app.config, "SSE_HEARTBEAT_SECONDS", 0.05)
    login(desk["user"])
    response = client.get("/station/events", buffered=False)
    try:
        assert response.status_code == 200
        assert response.mimetype == "text/event-stream"
        assert response.headers["Cache-Control"] == "no-cache" and response.headers["X-Accel-Buffering"] == "no"
        chunks = (chunk.decode() for chunk in response.response)
        assert next(chunks).endswith(": connected\n\n")  # subscribed before the first byte
        events.broker(app).publish(events.station_channel(desk["other"].id), {"type": "card_read", "read": 99})
        events.broker(app).publish(events.station_channel(desk["station"].id), {"type": "card_read", "read": 7})
        assert next(chunks) == 'event: card_read\ndata: {"type": "card_read", "read": 7}\n\n'
        assert next(chunks) == ": ping\n\n"
    finally:
        response.close()
    assert events.broker(app).subscriber_count(events.station_channel(desk["station"].id)) == 0


def test_a_read_delivered_late_from_the_agents_queue_is_marked(client, login, db, desk):
    login(desk["user"])
    client.post("/api/v1/card-reads", headers={"Authorization": f"Bearer {desk['token']}"},
                json={"read_id": str(uuid.uuid4()), "id_number": desk["appointed"].id_number,
                      "read_at": (now() - timedelta(minutes=10)).isoformat()})
    read_card(client, desk, desk["tomorrow"])
    reads = db.session.execute(select(CardRead.id).order_by(CardRead.id)).scalars().all()
    assert "离线补传" in client.get(f"/station/reads/{reads[0]}").get_data(as_text=True)
    assert "离线补传" not in client.get(f"/station/reads/{reads[1]}").get_data(as_text=True)
