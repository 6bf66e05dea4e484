"""The reader API: authentication, validation, idempotency, the verdicts, rate limits, live events."""

import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import create_app
from models import CardRead, Person, ReaderToken, now
from services import events
from tests.conftest import make_id_number

URL = "/api/v1/card-reads"


@pytest.fixture
def desk(db, make_station, make_enterprise, make_slot):
    """A station with a reader token, a slot open now and one tomorrow, and a second station."""
    station = make_station("新河街社区卫生服务中心接种点")
    other = make_station("大港医院接种点")
    current = now()
    slot_now = make_slot(station, starts_at=current - timedelta(minutes=30), minutes=90, capacity=20)
    slot_later = make_slot(station, starts_at=current + timedelta(days=1), minutes=90)
    slot_other = make_slot(other, starts_at=current - timedelta(minutes=30), minutes=90)
    token_row, token = ReaderToken.issue(station, "入口1号台")
    _, other_token = ReaderToken.issue(other, "大港1号台")
    enterprise = make_enterprise("滨城物流有限公司")
    db.session.commit()
    return {"station": station, "other": other, "token": token, "token_row": token_row, "other_token": other_token,
            "slot_now": slot_now, "slot_later": slot_later, "slot_other": slot_other, "enterprise": enterprise}


def person(db, make_persons, desk, status, station=None, slot=None, **values):
    person_id = make_persons(desk["enterprise"], 1, status=status, station=station, slot=slot,
                             name=values.pop("name", "王晓东"), **values)[0]
    db.session.commit()
    return db.session.get(Person, person_id)


def body(id_number, **overrides):
    payload = {"read_id": str(uuid.uuid4()), "id_number": id_number, "name": "王晓东",
               "reader": "Virtual PCD 00 00", "read_at": now().isoformat()}
    payload.update(overrides)
    return payload


def post(client, token, payload, **kwargs):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(URL, json=payload, headers=headers, **kwargs)


def stored_reads(db):
    return db.session.execute(select(func.count(CardRead.id))).scalar_one()


# ---------------------------------------------------------------- verdicts

def test_person_appointed_here_now_is_ok_to_register(client, db, desk, make_persons):
    someone = person(db, make_persons, desk, "appointed", desk["station"], desk["slot_now"])
    payload = body(someone.id_number)
    response = post(client, desk["token"], payload)
    assert response.status_code == 201
    answer = response.get_json()
    assert answer["verdict"] == "appointed_here" and answer["verdict_label"] == "本站已预约"
    assert answer["person"]["name"] == "王晓东" and answer["person"]["status_label"] == "已预约"
    assert answer["enterprise"] == {"name": "滨城物流有限公司"}
    assert answer["appointment"]["station"] == "新河街社区卫生服务中心接种点"
    assert answer["replayed"] is False
    read = db.session.execute(select(CardRead)).scalar_one()
    assert (read.read_id, read.person_id, read.verdict, read.reader) == (
        payload["read_id"], someone.id, "appointed_here", "Virtual PCD 00 00")
    assert db.session.get(ReaderToken, desk["token_row"].id).last_used_at is not None


@pytest.mark.parametrize(("minutes_before_start", "verdict"), [(50, "appointed_here"), (70, "wrong_window")])
def test_a_read_near_the_window_counts_and_one_far_before_does_not(client, db, desk, make_persons, make_slot,
                                                                    minutes_before_start, verdict):
    slot = make_slot(desk["station"], starts_at=now() + timedelta(minutes=minutes_before_start), minutes=60)
    someone = person(db, make_persons, desk, "appointed", desk["station"], slot)
    assert post(client, desk["token"], body(someone.id_number)).get_json()["verdict"] == verdict


def test_read_an_hour_after_the_window_ended_is_still_accepted(client, db, desk, make_persons, make_slot):
    slot = make_slot(desk["station"], starts_at=now() - timedelta(minutes=140), minutes=90)
    someone = person(db, make_persons, desk, "appointed", desk["station"], slot)
    assert post(client, desk["token"], body(someone.id_number)).get_json()["verdict"] == "appointed_here"


def test_person_appointed_here_on_another_day_gets_wrong_window_with_the_window(client, db, desk, make_persons):
    someone = person(db, make_persons, desk, "appointed", desk["station"], desk["slot_later"])
    answer = post(client, desk["token"], body(someone.id_number)).get_json()
    assert answer["verdict"] == "wrong_window" and answer["verdict_label"] == "时段不符"
    assert f"{desk['slot_later'].starts_at:%Y-%m-%d %H:%M}" in answer["detail"]


def test_person_appointed_at_another_station_says_which_without_their_details(client, db, desk, make_persons):
    someone = person(db, make_persons, desk, "appointed", desk["other"], desk["slot_other"])
    answer = post(client, desk["token"], body(someone.id_number)).get_json()
    assert answer["verdict"] == "other_station" and answer["verdict_label"] == "另有预约"
    assert "大港医院接种点" in answer["detail"]
    assert answer["appointment"]["station"] == "大港医院接种点"
    assert answer["person"] is None and answer["enterprise"] is None


@pytest.mark.parametrize(("status", "here", "detail"), [
    ("allocated", True, "已分配至本站，尚未预约"),
    ("center_approved", False, "尚未分配接种站"),
    ("submitted", False, "已提交"),
])
def test_known_person_not_yet_appointed_shows_their_status(client, db, desk, make_persons, status, here, detail):
    someone = person(db, make_persons, desk, status, desk["station"] if here else None)
    answer = post(client, desk["token"], body(someone.id_number)).get_json()
    assert answer["verdict"] == "not_appointed" and answer["verdict_label"] == "未预约/未分配"
    assert detail in answer["detail"]


def test_not_vaccinated_person_needs_a_new_appointment(client, db, desk, make_persons):
    someone = person(db, make_persons, desk, "not_vaccinated", desk["station"],
                     not_vaccinated_reason="发热(体温≥37.3℃)")
    answer = post(client, desk["token"], body(someone.id_number)).get_json()
    assert answer["verdict"] == "not_appointed" and "需重新预约" in answer["detail"]


def test_unknown_id_number_is_stored_without_a_person(client, db, desk):
    number = make_id_number()
    answer = post(client, desk["token"], body(number)).get_json()
    assert answer["verdict"] == "unknown" and answer["verdict_label"] == "未登记"
    assert answer["person"] is None
    read = db.session.execute(select(CardRead)).scalar_one()
    assert (read.id_number, read.person_id, read.verdict) == (number, None, "unknown")


def test_vaccinated_person_is_reported_as_done(client, db, desk, make_persons):
    someone = person(db, make_persons, desk, "vaccinated", desk["station"], desk["slot_now"], finished_at=now())
    answer = post(client, desk["token"], body(someone.id_number)).get_json()
    assert answer["verdict"] == "vaccinated" and answer["verdict_label"] == "已接种"
    assert "本站完成接种" in answer["detail"]


def test_person_already_checked_in_here_is_waiting(client, db, desk, make_persons):
    someone = person(db, make_persons, desk, "checked_in", desk["station"], desk["slot_now"], checked_in_at=now())
    answer = post(client, desk["token"], body(someone.id_number)).get_json()
    assert answer["verdict"] == "checked_in" and answer["verdict_label"] == "已登记，候诊中"


def test_name_on_the_card_that_differs_from_the_record_is_flagged(client, db, desk, make_persons):
    someone = person(db, make_persons, desk, "appointed", desk["station"], desk["slot_now"])
    assert post(client, desk["token"], body(someone.id_number, name="王晓冬")).get_json()["name_mismatch"] is True
    assert post(client, desk["token"], body(someone.id_number)).get_json()["name_mismatch"] is False


def test_lower_case_x_and_spaces_in_the_id_number_are_normalised(client, db, desk, make_persons):
    number = "11010519491231002X"
    person(db, make_persons, desk, "appointed", desk["station"], desk["slot_now"], id_number=number)
    answer = post(client, desk["token"], body(" 110105 19491231002x ")).get_json()
    assert answer["verdict"] == "appointed_here"


# ---------------------------------------------------------------- authentication

@pytest.mark.parametrize(("header", "code"), [
    (None, "missing_token"),
    ("Bearer rdr_not-a-real-token", "invalid_token"),
    ("Basic dXNlcjpwYXNz", "missing_token"),
    ("Bearer ", "missing_token"),
])
def test_missing_or_unknown_token_is_refused(client, db, desk, header, code):
    headers = {"Authorization": header} if header else {}
    response = client.post(URL, json=body(make_id_number()), headers=headers)
    assert response.status_code == 401
    assert response.get_json()["code"] == code and "令牌" in response.get_json()["error"]
    assert "Bearer" in response.headers["WWW-Authenticate"]
    assert stored_reads(db) == 0


def test_revoked_token_is_refused(client, db, desk):
    desk["token_row"].revoked_at = now()
    db.session.commit()
    response = post(client, desk["token"], body(make_id_number()))
    assert response.status_code == 401 and response.get_json()["code"] == "invalid_token"
    assert stored_reads(db) == 0


def test_token_of_a_deactivated_station_is_refused(client, db, desk):
    desk["station"].active = False
    db.session.commit()
    response = post(client, desk["token"], body(make_id_number()))
    assert response.status_code == 401 and response.get_json()["code"] == "station_inactive"


# ---------------------------------------------------------------- validation

@pytest.mark.parametrize(("send", "code"), [
    ({"data": "id_number=110105194912310021", "content_type": "application/x-www-form-urlencoded"}, "not_json"),
    ({"data": "{not json", "content_type": "application/json"}, "malformed_json"),
    ({"data": b"\xff\xfe\x00garbage", "content_type": "application/json"}, "malformed_json"),
    ({"json": ["a", "list"]}, "malformed_json"),
    ({"json": "just a string"}, "malformed_json"),
    ({"json": {"read_id": str(uuid.uuid4()), "id_number": 110105194912310021}}, "wrong_type"),
    ({"json": {"read_id": str(uuid.uuid4()), "id_number": "11010519491231002X", "name": ["王"]}}, "wrong_type"),
    ({"json": {"read_id": str(uuid.uuid4()), "id_number": "11010519491231002X", "name": "王" * 60}},
     "field_too_long"),
    ({"json": {"read_id": "x" * 100000, "id_number": "11010519491231002X"}}, "too_large"),
    ({"json": {"id_number": "11010519491231002X"}}, "missing_read_id"),
    ({"json": {"read_id": "not-a-uuid", "id_number": "11010519491231002X"}}, "invalid_read_id"),
    ({"json": {"read_id": str(uuid.uuid4())}}, "missing_id_number"),
    ({"json": {"read_id": str(uuid.uuid4()), "id_number": "11010519491231002X", "read_at": "yesterday"}},
     "invalid_read_at"),
])
def test_malformed_bodies_get_a_chinese_json_error_and_nothing_is_stored(client, db, desk, send, code):
    response = client.post(URL, headers={"Authorization": f"Bearer {desk['token']}"}, **send)
    assert response.status_code in (413, 422)
    assert response.is_json and response.get_json()["code"] == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in response.get_json()["error"])
    assert stored_reads(db) == 0


@pytest.mark.parametrize(("number", "message"), [
    ("11010519491230002X", "校验位"),
    ("110105194902300025", "出生日期"),
    ("990105194912310023", "地区码"),
    ("12345", "18位"),
    ("1١٠١٠٥١٩٤٩١٢٣١٠٠٢X", "只能包含数字和X"),
])
def test_invalid_id_numbers_are_refused_with_the_reason(client, db, desk, number, message):
    response = post(client, desk["token"], body(number))
    assert response.status_code == 422
    assert response.get_json()["code"] == "invalid_id_number" and message in response.get_json()["error"]
    assert stored_reads(db) == 0


def test_get_is_not_allowed_and_answers_json(client, desk):
    response = client.get(URL, headers={"Authorization": f"Bearer {desk['token']}"})
    assert response.status_code == 405 and response.get_json()["code"] == "method_not_allowed"


def test_read_time_with_a_zone_is_stored_as_campaign_local_time(client, db, desk):
    post(client, desk["token"], body(make_id_number(), read_at="2026-03-01T01:30:00+00:00"))
    read = db.session.execute(select(CardRead)).scalar_one()
    assert read.read_at.isoformat() == "2026-03-01T09:30:00"


# ---------------------------------------------------------------- idempotency

def test_replayed_read_id_returns_the_stored_result_and_stores_nothing_new(app, client, db, desk, make_persons):
    someone = person(db, make_persons, desk, "appointed", desk["station"], desk["slot_now"])
    payload = body(someone.id_number)
    subscription = events.broker(app).subscribe(events.station_channel(desk["station"].id), timeout=0.05)
    next(subscription)
    first = post(client, desk["token"], payload)
    # Meanwhile the person was checked in: the replay still answers what was stored.
    db.session.execute(Person.__table__.update().where(Person.id == someone.id).values(status="checked_in"))
    db.session.commit()
    second = post(client, desk["token"], payload)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.get_json()["verdict"] == first.get_json()["verdict"] == "appointed_here"
    assert second.get_json()["replayed"] is True
    assert stored_reads(db) == 1
    published = [item for item in (next(subscription) for _ in range(3)) if item is not None]
    assert len(published) == 1  # the replay does not pop up on the desk a second time
    subscription.close()


def test_read_id_used_by_another_station_is_a_conflict(client, db, desk):
    payload = body(make_id_number())
    post(client, desk["token"], payload)
    response = post(client, desk["other_token"], payload)
    assert response.status_code == 409 and response.get_json()["code"] == "read_id_conflict"
    assert stored_reads(db) == 1


def test_a_read_costs_two_statements_and_a_replay_is_caught_by_the_unique_read_id(app, client, db, desk):
    """Token, station and person with all the desk shows in one SELECT, then the insert."""
    from sqlalchemy import event

    payload = body(make_id_number())
    statements = []
    assert post(client, desk["token"], body(make_id_number())).status_code == 201  # 最近使用 written once

    def remember(conn, cursor, statement, *rest):
        statements.append(statement.split()[0])

    token = desk["token"]
    engines = [e for e in (db.engine, app.extensions.get("desk_engine")) if e is not None]  # + the desk pool
    for engine in engines:
        event.listen(engine, "before_cursor_execute", remember)
    try:
        first = post(client, token, payload)
        counted = list(statements)
        again = post(client, token, payload)
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", remember)
    assert first.status_code == 201 and counted == ["SELECT", "INSERT"]
    assert again.status_code == 200 and again.get_json()["replayed"] is True
    assert stored_reads(db) == 2  # the warm-up read and this one, once


def test_concurrent_deliveries_of_one_read_store_it_once(app, db, desk):
    payload = body(make_id_number())
    barrier = threading.Barrier(6)
    statuses = []

    def deliver():
        with app.test_client() as own_client:
            barrier.wait()
            statuses.append(post(own_client, desk["token"], payload).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(statuses) == [200] * 5 + [201]
    assert stored_reads(db) == 1


# ---------------------------------------------------------------- rate limit and live event

def test_each_token_is_rate_limited_on_its_own(database_url, db, desk):
    limited = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "x",
                          "RATELIMIT_ENABLED": True, "READER_RATE_LIMIT": "3 per minute"})
    limited_client = limited.test_client()
    try:
        codes = [post(limited_client, desk["token"], body(make_id_number())).status_code for _ in range(4)]
        refused = post(limited_client, desk["token"], body(make_id_number()))
        other_desk = post(limited_client, desk["other_token"], body(make_id_number())).status_code
    finally:
        with limited.app_context():
            db.engine.dispose()
    assert codes == [201, 201, 201, 429]
    assert refused.get_json()["code"] == "rate_limited" and "Retry-After" in refused.headers
    assert other_desk == 201
    assert stored_reads(db) == 4


def test_each_read_is_pushed_to_the_desks_of_its_station_without_personal_data(app, client, db, desk, make_persons):
    someone = person(db, make_persons, desk, "appointed", desk["station"], desk["slot_now"])
    mine = events.broker(app).subscribe(events.station_channel(desk["station"].id), timeout=0.05)
    theirs = events.broker(app).subscribe(events.station_channel(desk["other"].id), timeout=0.05)
    next(mine), next(theirs)
    post(client, desk["token"], body(someone.id_number))
    event = next(item for item in mine if item is not None)
    read = db.session.execute(select(CardRead)).scalar_one()
    assert event == {"type": "card_read", "read": read.id, "verdict": "appointed_here", "reader": "Virtual PCD 00 00"}
    assert next(theirs) is None
    mine.close(), theirs.close()


# ---------------------------------------------------------------- issuing and revoking tokens

def test_admin_issues_a_token_shown_once_and_revokes_it(client, login, db, make_user, desk):
    import re

    login(make_user("admin", username="sysadmin"))
    page = client.post("/admin/admin_reader_tokens/new/", data={"station": desk["station"].id, "name": "出口2号台"},
                       follow_redirects=True).get_data(as_text=True)
    token = re.search(r'<code class="issued-token">(rdr_[\w-]+)</code>', page).group(1)
    row = db.session.execute(select(ReaderToken).where(ReaderToken.name == "出口2号台")).scalar_one()
    assert row.token_hash != token and token not in client.get("/admin/admin_reader_tokens/").get_data(as_text=True)
    assert post(client, token, body(make_id_number())).status_code == 201
    client.post("/admin/admin_reader_tokens/action/", data={"action": "revoke", "rowid": [str(row.id)]})
    assert db.session.get(ReaderToken, row.id).revoked_at is not None
    assert post(client, token, body(make_id_number())).status_code == 401
    assert "已吊销" in client.get("/admin/admin_reader_tokens/").get_data(as_text=True)


def test_station_users_cannot_manage_tokens(client, login, make_user, desk):
    login(make_user("station", desk["station"]))
    assert client.get("/admin/admin_reader_tokens/").status_code == 403


def test_cli_issues_a_working_token(app, client, db, desk):
    result = app.test_cli_runner().invoke(args=["reader-token", desk["station"].name, "--name", "入口3号台"])
    token = result.output.strip()
    assert result.exit_code == 0 and token.startswith("rdr_")
    assert post(client, token, body(make_id_number())).status_code == 201


@pytest.mark.postgres_only
def test_the_reads_statements_stay_prepared_while_the_pages_roll_back(client, db, desk, is_postgres):
    """The reader API has its own autocommit pool: a page's rollback does not drop its prepared statements
    (psycopg forgets them on every ROLLBACK, and the read's SELECT costs more to plan than to run)."""
    from sqlalchemy import text

    from services.desk_connection import desk_engine

    if not is_postgres:
        pytest.skip("SQLite prepares nothing across statements")
    for _ in range(8):
        assert post(client, desk["token"], body(make_id_number())).status_code == 201
    # A page's work on the app's pool: read in a transaction, hand the connection back (ROLLBACK).
    db.session.execute(select(func.count()).select_from(CardRead))
    db.session.rollback()
    assert post(client, desk["token"], body(make_id_number())).status_code == 201
    with desk_engine().connect() as connection:
        prepared = connection.execute(text("SELECT statement FROM pg_prepared_statements")).scalars().all()
    assert any("FROM reader_token" in statement for statement in prepared), prepared
    assert any(statement.startswith("INSERT INTO card_read") for statement in prepared), prepared
    assert stored_reads(db) == 9
