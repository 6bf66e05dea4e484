"""The card's own facts sent by the reader agent: type and validity, checked by the API, 证件已过期 at the desk."""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from models import CardRead, Person, ReaderToken, now
from reader_agent.agent import make_payload
from reader_agent.backends import CardData

URL = "/api/v1/card-reads"


@pytest.fixture
def desk(db, make_station, make_enterprise, make_slot, make_persons, make_user):
    station = make_station("新河街社区卫生服务中心接种点")
    slot = make_slot(station, starts_at=now() - timedelta(minutes=20), minutes=90, capacity=50)
    enterprise = make_enterprise("滨城物流有限公司")
    _, token = ReaderToken.issue(station, "入口1号台")
    user = make_user("station", station, username="xinhe-validity")
    [person_id] = make_persons(enterprise, 1, status="appointed", station=station, slot=slot, name="李䶮")
    db.session.commit()
    return {"token": token, "user": user, "person": db.session.get(Person, person_id)}


def post(client, desk, **fields):
    payload = {"read_id": str(uuid.uuid4()), "id_number": desk["person"].id_number, "name": "李䶮",
               "read_at": now().isoformat(), **fields}
    return client.post(URL, json=payload, headers={"Authorization": f"Bearer {desk['token']}"})


def latest(db):
    db.session.rollback()
    return db.session.execute(select(CardRead).order_by(CardRead.id.desc()).limit(1)).scalar_one()


def days_ago(days):
    return (now().date() - timedelta(days=days)).isoformat()


def test_the_agents_payload_is_what_the_api_takes(client, db, desk):
    card = CardData(id_number=desk["person"].id_number, name="李䶮", reader="SAM COM3", card_type="resident_id",
                    valid_from=now().date() - timedelta(days=3650), long_term=True)
    payload = make_payload(card)
    assert payload["valid_until"] == "long_term" and payload["card_type"] == "resident_id"
    response = client.post(URL, json=payload, headers={"Authorization": f"Bearer {desk['token']}"})
    assert response.status_code == 201, response.get_json()
    answer = response.get_json()
    assert answer["card_expired"] is False and answer["name_mismatch"] is False
    assert answer["card"] == {"type": "resident_id", "type_label": "居民身份证", "valid_from": payload["valid_from"],
                              "valid_until": "long_term", "expired": False}
    read = latest(db)
    assert read.card_long_term and read.card_valid_until is None and not read.card_expired


def test_an_expired_card_is_flagged_in_the_answer_and_on_the_desk(client, login, db, desk):
    response = post(client, desk, card_type="resident_id", valid_from=days_ago(7300), valid_until=days_ago(1))
    assert response.status_code == 201
    answer = response.get_json()
    assert answer["verdict"] == "appointed_here" and answer["card_expired"] is True
    login(desk["user"])
    page = client.get(f"/station/reads/{latest(db).id}").get_data(as_text=True)
    assert "证件已过期" in page and f"有效期至 {days_ago(1)}" in page
    assert "仍然登记" in page and f"李䶮的证件已于 {days_ago(1)} 过期，请核验其他有效证件。仍要登记吗？" in page
    recent = client.get("/station/reads/recent").get_data(as_text=True)
    assert "本站已预约·证件已过期" in recent


def test_a_card_valid_until_today_is_not_expired(client, login, db, desk):
    assert post(client, desk, valid_from=days_ago(3650), valid_until=days_ago(0)).get_json()["card_expired"] is False
    login(desk["user"])
    page = client.get(f"/station/reads/{latest(db).id}").get_data(as_text=True)
    assert "证件已过期" not in page and ">登记<" in page and "证件有效期" in page


def test_a_residence_permit_is_named_on_the_desk(client, login, db, desk):
    assert post(client, desk, card_type="residence_permit", valid_from=days_ago(100),
                valid_until=(now().date() + timedelta(days=1700)).isoformat()).status_code == 201
    login(desk["user"])
    assert "港澳台居民居住证" in client.get(f"/station/reads/{latest(db).id}").get_data(as_text=True)


def test_a_read_without_card_facts_still_works(client, db, desk):
    answer = post(client, desk).get_json()
    assert answer["card"] is None and answer["card_expired"] is False


@pytest.mark.parametrize(("fields", "code"), [
    ({"card_type": "passport"}, "invalid_card_type"),
    ({"card_type": 7}, "wrong_type"),
    ({"valid_from": "2020-02-30"}, "invalid_valid_from"),
    ({"valid_from": "20200101"}, "invalid_valid_from"),
    ({"valid_from": "2020-W01-1"}, "invalid_valid_from"),
    ({"valid_until": "长期"}, "invalid_valid_until"),
    ({"valid_until": "2035-01-01T00:00"}, "field_too_long"),
    ({"valid_until": ["2035-01-01"]}, "wrong_type"),
    ({"valid_from": "2020-01-01", "valid_until": "2010-01-01"}, "invalid_validity"),
    ({"valid_from": (now().date() + timedelta(days=30)).isoformat()}, "invalid_valid_from"),
])
def test_bad_card_facts_are_refused_with_a_reason_and_nothing_stored(client, db, desk, fields, code):
    response = post(client, desk, **fields)
    assert response.status_code == 422
    assert response.get_json()["code"] == code and response.get_json()["error"]
    db.session.rollback()
    assert db.session.execute(select(CardRead)).first() is None


@pytest.mark.parametrize(("card_name", "warned"), [("李䶮", False), ("李岩", True)])
def test_a_card_name_other_than_the_registered_one_is_pointed_out(client, login, db, desk, card_name, warned):
    first = post(client, desk, name=card_name).get_json()
    assert first["name_mismatch"] is warned
    login(desk["user"])
    read = latest(db)
    assert read.name_mismatch is warned
    page = client.get(f"/station/reads/{read.id}").get_data(as_text=True)
    assert ("证件姓名与申报姓名不一致" in page) is warned
    replay = client.post(URL, json={"read_id": read.read_id, "id_number": read.id_number, "name": card_name},
                         headers={"Authorization": f"Bearer {desk['token']}"})
    assert replay.status_code == 200 and replay.get_json()["name_mismatch"] is warned
