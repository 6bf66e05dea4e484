"""A desk learns where to send another station's person, nothing of their health or name; lookups are limited."""

from datetime import timedelta

import pytest

from app import create_app
from extensions import db as _db
from models import Person, User
from tests import test_card_reads_api as reads
from tests.conftest import TEST_PASSWORD
from tests.test_card_reads_api import body, person, post

desk = reads.desk  # the reader API tests' fixture: a station with a token, slots and a second station

REASON = "发热(体温≥37.3℃)"


def lookup(client, number):
    return client.post("/station/lookup", data={"id_number": number}, headers={"X-Requested-With": "fetch"})


@pytest.fixture
def desk_user(db, desk, make_user):
    user = make_user("station", desk["station"], username="xinhe_desk")
    db.session.commit()
    return user


def test_not_vaccinated_elsewhere_says_which_station_and_no_reason(client, db, desk, make_persons, login,
                                                                  desk_user):
    someone = person(db, make_persons, desk, "not_vaccinated", desk["other"], not_vaccinated_reason=REASON)
    answer = post(client, desk["token"], body(someone.id_number)).get_json()
    assert (answer["verdict"], answer["verdict_label"]) == ("not_this_station", "非本站")
    assert "大港医院接种点" in answer["detail"]
    assert "发热" not in str(answer) and answer["person"] is None
    login(desk_user)
    html = lookup(client, someone.id_number).get_json()["html"]
    assert "非本站" in html and "大港医院接种点" in html and "发热" not in html and "王晓东" not in html


def test_not_vaccinated_here_still_shows_the_reason(client, db, desk, make_persons):
    someone = person(db, make_persons, desk, "not_vaccinated", desk["station"], not_vaccinated_reason=REASON)
    assert REASON in post(client, desk["token"], body(someone.id_number)).get_json()["detail"]


def test_booked_elsewhere_says_another_appointment_with_station_and_window(client, db, desk, make_persons):
    someone = person(db, make_persons, desk, "appointed", desk["other"], desk["slot_other"])
    answer = post(client, desk["token"], body(someone.id_number)).get_json()
    assert (answer["verdict"], answer["verdict_label"]) == ("other_station", "另有预约")
    assert "大港医院接种点" in answer["detail"] and f"{desk['slot_other'].starts_at:%H:%M}" in answer["detail"]


@pytest.mark.parametrize("status", ["appointed", "allocated", "not_vaccinated", "checked_in"])
def test_a_guessed_name_is_never_confirmed_for_another_stations_person(client, db, desk, make_persons, status):
    slot = desk["slot_other"] if status in ("appointed", "checked_in") else None
    someone = person(db, make_persons, desk, status, desk["other"], slot)
    right = post(client, desk["token"], body(someone.id_number, name="王晓东")).get_json()
    wrong = post(client, desk["token"], body(someone.id_number, name="李四")).get_json()
    assert right["name_mismatch"] is False and wrong["name_mismatch"] is False
    assert {k: v for k, v in right.items() if k != "read_id"} == {k: v for k, v in wrong.items() if k != "read_id"}


def test_allocated_elsewhere_is_not_this_station(client, db, desk, make_persons):
    someone = person(db, make_persons, desk, "allocated", desk["other"])
    answer = post(client, desk["token"], body(someone.id_number)).get_json()
    assert answer["verdict_label"] == "非本站" and "大港医院接种点" in answer["detail"]


def test_vaccinated_elsewhere_does_not_say_when(client, db, desk, make_persons):
    from models import now

    finished = now() - timedelta(days=3)
    someone = person(db, make_persons, desk, "vaccinated", desk["other"], desk["slot_other"], finished_at=finished)
    answer = post(client, desk["token"], body(someone.id_number)).get_json()
    assert answer["verdict"] == "vaccinated" and "大港医院接种点" in answer["detail"]
    assert f"{finished:%Y-%m-%d}" not in answer["detail"]


def test_manual_lookup_is_rate_limited_per_desk_account(database_url, db, desk, make_persons, desk_user):
    someone = person(db, make_persons, desk, "appointed", desk["station"], desk["slot_now"])
    limited = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "WTF_CSRF_ENABLED": False,
                          "RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://",
                          "STATION_LOOKUP_RATE_LIMIT": "5 per minute", "SECRET_KEY": "test-secret-key"})
    client = limited.test_client()
    try:
        assert client.post("/login/station", data={"username": desk_user.username,
                                                   "password": TEST_PASSWORD}).status_code == 302
        statuses = [lookup(client, someone.id_number).status_code for _ in range(6)]
        last = lookup(client, someone.id_number)
    finally:
        with limited.app_context():
            _db.engine.dispose()
    assert statuses[:5] == [200] * 5 and statuses[5] == 429
    assert "操作过于频繁" in last.get_data(as_text=True)
    assert _db.session.get(Person, someone.id) is not None and _db.session.get(User, desk_user.id).active
