"""The input gate (services/input_hygiene.py): what no user types is refused with a message, never a 500."""

import pytest
from sqlalchemy import func, select

from models import Person


def count_people(db):
    value = db.session.execute(select(func.count()).select_from(Person)).scalar_one()
    db.session.rollback()
    return value


@pytest.mark.parametrize("name", ["张\x00三", "张\x1b三", "\u202e三张", "张三\u2066"])
def test_the_employee_form_refuses_control_and_bidi_characters_with_a_page(client, make_enterprise, db, name):
    enterprise = make_enterprise()
    db.session.commit()
    response = client.post(f"/e/{enterprise.qr_token}", data={"name": name, "consent": "1"})
    assert response.status_code == 400
    assert "输入有误" in response.get_data(as_text=True)
    assert count_people(db) == 0


def test_a_textarea_keeps_its_newlines(client, make_enterprise, db):
    enterprise = make_enterprise()
    db.session.commit()
    response = client.post(f"/e/{enterprise.qr_token}", data={"remarks": "第一行\r\n第二行\t末尾"})
    assert response.status_code == 200  # the form itself answers (fields missing), the gate let it pass


@pytest.mark.parametrize("query, message", [
    ("page=-1", "不能为负数"), ("page=%EF%BC%92", "半角数字"), ("page=%D9%A2", "半角数字"),
    ("page=99999999999999999999", "超出范围"), ("search=%00", "控制字符"), ("flt0_0=a%07b", "控制字符"),
])
def test_list_parameters_get_a_clear_message(client, make_user, login, query, message):
    login(make_user("admin", username="gate_admin"))
    response = client.get(f"/admin/admin_users/?{query}")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/center/stock/?day=9999-12-31", "/center/slots/?from=0001-01-01",
                                  "/center/appointments/?day=99999-01-01",
                                  "/center/slots/?from=10000-01-01T08:00", "/center/stock/?day=9999-12-31Z"])
def test_extreme_dates_are_refused(client, make_user, login, path):
    login(make_user("center", username="gate_center"))
    response = client.get(path)
    assert response.status_code == 400 and "日期超出范围" in response.get_data(as_text=True)


def test_a_plausible_date_and_an_ordinary_search_pass(client, make_user, login):
    login(make_user("center", username="gate_center2"))
    assert client.get("/center/stock/?day=2026-12-01").status_code == 200
    login(make_user("admin", username="gate_admin2"))
    assert client.get("/admin/admin_users/?search=张三&page=0").status_code == 200


def test_free_text_that_starts_with_an_impossible_date_is_text(client, make_enterprise, db):
    enterprise = make_enterprise()
    db.session.commit()
    response = client.post(f"/e/{enterprise.qr_token}", data={"remarks": "0001-01-01 补录：原表日期有误"})
    assert response.status_code == 200  # the gate let it pass; the form answers for its missing fields


def test_the_reader_api_answers_json_422(client, make_station, db):
    from models.reader import ReaderToken

    _, token = ReaderToken.issue(make_station(), name="gate")
    db.session.commit()
    response = client.post("/api/v1/card-reads", json={"read_id": "x", "id_number": "1\x00", "name": "\u202e"},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 422
    assert response.get_json()["code"] == "control_character"


def test_the_desk_event_stream_answers_503_when_redis_is_down(app, client, make_station, make_user, login):
    from services.events import RedisBroker

    login(make_user("station", make_station(), username="gate_nurse"))
    saved = app.extensions.get("binhai_events")
    app.extensions["binhai_events"] = RedisBroker("redis://127.0.0.1:1/0")  # nothing listens on port 1
    try:
        response = client.get("/station/events")
    finally:
        app.extensions.pop("binhai_events")
        if saved is not None:
            app.extensions["binhai_events"] = saved
    assert response.status_code == 503
    assert "实时推送暂不可用" in response.get_data(as_text=True)
