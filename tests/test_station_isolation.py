"""A station cannot see or change another station's people, reads, slots or signatures, by any URL."""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from models import CardRead, Person, ReaderToken, now
from tests.test_station_exit import png_data_url


@pytest.fixture
def two_stations(db, make_station, make_enterprise, make_slot, make_persons, make_user):
    mine, theirs = make_station("新河街社区卫生服务中心接种点"), make_station("大港医院接种点")
    enterprise = make_enterprise()
    their_slot = make_slot(theirs, starts_at=now() - timedelta(minutes=10), minutes=120)
    my_slot = make_slot(mine, starts_at=now() + timedelta(days=1))
    their_appointed = make_persons(enterprise, 1, status="appointed", station=theirs, slot=their_slot,
                                   name="大港预约")[0]
    their_waiting = make_persons(enterprise, 1, status="checked_in", station=theirs, slot=their_slot,
                                 name="大港候诊", checked_in_at=now())[0]
    their_done = make_persons(enterprise, 1, status="vaccinated", station=theirs, slot=their_slot, name="大港完成",
                              signature_png=b"\x89PNG\r\n\x1a\nfake")[0]
    their_allocated = make_persons(enterprise, 1, status="allocated", station=theirs, name="大港待约")[0]
    _, their_token = ReaderToken.issue(theirs, "大港1号台")
    user = make_user("station", mine, username="xinhe")
    db.session.commit()
    return {"mine": mine, "theirs": theirs, "their_slot": their_slot, "my_slot": my_slot,
            "appointed": their_appointed, "waiting": their_waiting, "done": their_done,
            "allocated": their_allocated, "their_token": their_token, "user": user}


def status(db, person_id):
    return db.session.execute(select(Person.status).where(Person.id == person_id)).scalar_one()


def test_lists_and_panels_show_none_of_their_people(client, login, two_stations):
    login(two_stations["user"])
    for url in ("/station/", "/station/queue/", "/station/queue/panel", "/station/appointments/people",
                "/station/appointments/people?status=appointed", "/station/station_persons/",
                "/station/station_persons/?tab=checked_in", "/station/station_persons/?tab=finished",
                "/station/progress/", "/station/reads/recent"):
        page = client.get(url).get_data(as_text=True)
        assert "大港" not in page, url


def test_their_read_and_their_people_by_guessed_id_are_not_found(client, login, db, two_stations):
    client.post("/api/v1/card-reads", headers={"Authorization": f"Bearer {two_stations['their_token']}"},
                json={"read_id": str(uuid.uuid4()), "id_number": db.session.get(Person, two_stations["appointed"])
                      .id_number})
    their_read = db.session.execute(select(CardRead.id)).scalar_one()
    login(two_stations["user"])
    assert client.get(f"/station/reads/{their_read}").status_code == 404
    assert "大港" not in client.get(f"/station/?read={their_read}").get_data(as_text=True)
    for person in ("waiting", "done", "appointed"):
        assert client.get(f"/station/queue/{two_stations[person]}/").status_code == 404
        assert client.get(f"/station/queue/{two_stations[person]}/signature.png").status_code == 404
    assert client.get(f"/station/appointments/people?slot={two_stations['their_slot'].id}").status_code == 404


def test_their_people_cannot_be_checked_in_finished_or_moved(client, login, db, two_stations):
    login(two_stations["user"])
    fetch = {"X-Requested-With": "fetch"}
    assert client.post("/station/check-in", data={"person_id": two_stations["appointed"]},
                       headers=fetch).status_code == 409
    assert client.post(f"/station/queue/{two_stations['waiting']}/vaccinate", data={
        "vaccine_product": "X", "vaccine_lot": "L", "signature": png_data_url()}).status_code == 404
    assert client.post(f"/station/queue/{two_stations['waiting']}/not-vaccinated",
                       data={"reason": "发热(体温≥37.3℃)"}).status_code == 404
    client.post("/station/appointments/act", data={"action": "cancel", "person_id": two_stations["appointed"],
                                                   "reason": "试探"})
    client.post("/station/appointments/act", data={"action": "appoint", "person_id": two_stations["allocated"],
                                                   "slot_id": two_stations["my_slot"].id})
    client.post("/station/appointments/act", data={"action": "cancel", "scope": "all", "status": "appointed",
                                                   "slot": two_stations["their_slot"].id, "reason": "试探"})
    assert client.post("/station/appointments/act", data={
        "action": "appoint", "person_id": two_stations["allocated"], "slot_id": two_stations["their_slot"].id,
    }).status_code == 404
    assert [status(db, two_stations[p]) for p in ("appointed", "waiting", "done", "allocated")] == [
        "appointed", "checked_in", "vaccinated", "allocated"]


def test_manual_lookup_of_their_person_says_where_without_their_details(client, login, db, two_stations):
    login(two_stations["user"])
    person = db.session.get(Person, two_stations["appointed"])
    answer = client.post("/station/lookup", data={"id_number": person.id_number},
                         headers={"X-Requested-With": "fetch"}).get_json()
    assert "另有预约" in answer["html"] and "大港医院接种点" in answer["html"]
    assert "大港预约" not in answer["html"] and person.phone[-4:] + "<" not in answer["html"]
    assert ">登记<" not in answer["html"]
