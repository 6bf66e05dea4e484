"""留观 board and AEFI reports: the countdown, the three ways out, a reaction filed and the center alerted."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from extensions import db as _db
from models.aefi import AefiError, AefiReport, close_report, file_report, rates_by_lot, start_investigation
from models.base import now
from models.doses import Vaccination
from models.observation import Observation, ObservationError, end_observation, start_observation
from tests.lot_world import received_lot, record_doses


@pytest.fixture
def world(db, make_station, make_user, make_enterprise, make_persons):
    station = make_station("留观测试接种点")
    nurse = make_user("station", station)
    lot = received_lot(nurse, station)
    people = make_persons(make_enterprise(), 3, status="vaccinated", station=station)
    doses = record_doses(people, lot, station, at=now() - timedelta(minutes=10))
    observations = [start_observation(_db.session.get(Vaccination, v)) for v in doses]
    return {"station": station, "nurse": nurse, "lot": lot, "doses": doses, "observations": observations,
            "center": make_user("center")}


def test_the_board_counts_down_sorted_by_time_left(db, world, login):
    first = world["observations"][0]
    first.due_at = now() + timedelta(minutes=2)
    db.session.flush()
    page = login(world["nurse"]).get("/station/observation/panel").get_data(as_text=True)
    assert page.index(f'data-observation-id="{first.id}"') < page.index(
        f'data-observation-id="{world["observations"][1].id}"')
    assert 'data-left-seconds="1' in page  # about 119 s
    wall = login(world["nurse"]).get("/station/observation/?wall=1").get_data(as_text=True)
    assert "observation-wall" in wall and "留观结束</button>" not in wall


def test_the_duration_is_a_setting(app, db, world, make_persons, make_enterprise):
    person = make_persons(make_enterprise(), 1, status="vaccinated", station=world["station"])
    dose = record_doses(person, world["lot"], world["station"])[0]
    app.config["OBSERVATION_MINUTES"] = 45
    try:
        row = start_observation(_db.session.get(Vaccination, dose))
    finally:
        app.config.pop("OBSERVATION_MINUTES", None)
    assert row.due_at - row.started_at == timedelta(minutes=45)
    assert world["observations"][0].due_at - world["observations"][0].started_at == timedelta(minutes=30)


def test_ending_leaving_early_and_a_reaction(db, world, login):
    client = login(world["nurse"])
    done, leaving, reacting = world["observations"]
    page = client.post(f"/station/observation/{done.id}/end", follow_redirects=True).get_data(as_text=True)
    assert "留观结束：测试人员" in page
    refused = client.post(f"/station/observation/{leaving.id}/leave", data={"reason": ""},
                          follow_redirects=True).get_data(as_text=True)
    assert "提前离开须填写原因" in refused
    client.post(f"/station/observation/{leaving.id}/leave", data={"reason": "单位急事"})
    response = client.post(f"/station/observation/{reacting.id}/reaction")
    assert response.status_code == 302 and f"vaccination_id={reacting.vaccination_id}" in response.location
    form = client.get(response.location).get_data(as_text=True)
    assert "异常反应上报 · 测试人员" in form and world["lot"].lot_number in form
    db.session.expire_all()
    outcomes = [db.session.get(Observation, o.id).outcome for o in world["observations"]]
    assert outcomes == ["completed", "left_early", "reaction"]
    assert db.session.get(Observation, leaving.id).reason == "单位急事"
    twice = client.post(f"/station/observation/{done.id}/end", follow_redirects=True).get_data(as_text=True)
    assert "不在本站留观中" in twice


def test_another_station_cannot_end_an_observation(db, world, make_station, make_user):
    with pytest.raises(ObservationError):
        end_observation(make_user("station", make_station()), world["observations"][0].id, "completed")


def test_a_serious_report_filed_from_the_board_alerts_the_center(db, world, login, app):
    nurse_client = login(world["nurse"])
    vaccination_id = world["doses"][0]
    onset = (now() - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    response = nurse_client.post("/station/aefi/new", data={
        "vaccination_id": vaccination_id, "symptoms": ["过敏性皮疹", "呼吸困难"], "symptoms_text": "面部潮红",
        "onset_at": onset, "discovered_at": onset, "severity": "serious", "treatment": "肾上腺素肌注，转诊",
        "outcome": "好转"}, follow_redirects=True)
    assert "已上报异常反应（严重/群体性" in response.get_data(as_text=True)
    center_client = login(world["center"], test_client=app.test_client())
    dashboard = center_client.get("/center/").get_data(as_text=True)
    assert "异常反应警示" in dashboard and "留观测试接种点" in dashboard
    alert = center_client.get("/center/aefi/alerts").get_data(as_text=True)
    assert "1 例严重或群体性疑似异常反应待调查" in alert
    report = db.session.execute(select(AefiReport)).scalar_one()
    assert report.lot_id == world["lot"].id and report.report_deadline == report.discovered_at + timedelta(hours=2)
    center_client.post(f"/center/aefi/{report.id}/investigate")
    assert "异常反应警示" not in center_client.get("/center/aefi/alerts").get_data(as_text=True)


def test_bad_reports_say_why(db, world):
    nurse = world["nurse"]
    vaccination_id = world["doses"][0]
    onset = now() - timedelta(minutes=1)
    cases = [
        ({"symptoms": ["飞走了"]}, "从列表中选择"),
        ({"symptoms": [], "symptoms_text": ""}, "至少一个症状"),
        ({"severity": "mild"}, "严重程度"),
        ({"onset_at": now() + timedelta(hours=1)}, "发生时间"),
        ({"onset_at": now() - timedelta(days=1)}, "早于接种时间"),
    ]
    for change, message in cases:
        values = {"symptoms": ["发热"], "onset_at": onset, "severity": "general", **change}
        with pytest.raises(AefiError, match=message):
            file_report(nurse, vaccination_id, **values)
    with pytest.raises(AefiError, match="接种站"):
        file_report(world["center"], vaccination_id, symptoms=["发热"], onset_at=onset, severity="general")


def test_two_similar_serious_reports_at_one_station_are_a_cluster(db, world):
    onset = now() - timedelta(minutes=1)
    first = file_report(world["nurse"], world["doses"][0], symptoms=["晕厥"], onset_at=onset, severity="serious")
    assert not first.clustered
    other = file_report(world["nurse"], world["doses"][2], symptoms=["发热"], onset_at=onset, severity="serious")
    assert not other.clustered
    second = file_report(world["nurse"], world["doses"][1], symptoms=["晕厥", "头痛"], onset_at=onset,
                         severity="serious")
    db.session.expire_all()
    assert db.session.get(AefiReport, first.id).clustered and db.session.get(AefiReport, second.id).clustered
    assert not db.session.get(AefiReport, other.id).clustered


def test_states_move_forward_with_a_classification(db, world):
    report = file_report(world["nurse"], world["doses"][0], symptoms=["发热"], onset_at=now(), severity="general")
    assert report.report_deadline == report.discovered_at + timedelta(hours=48)
    with pytest.raises(AefiError, match="调查中"):
        close_report(world["center"], report.id, "一般反应", "")
    start_investigation(world["center"], report.id)
    with pytest.raises(AefiError, match="反应分类"):
        close_report(world["center"], report.id, "", "")
    close_report(world["center"], report.id, "一般反应", "低热，次日自愈", outcome="痊愈")
    db.session.expire_all()
    closed = db.session.get(AefiReport, report.id)
    assert (closed.state, closed.classification, closed.outcome) == ("closed", "一般反应", "痊愈")


def test_overdue_investigations_and_rates_per_ten_thousand(db, world, login):
    report = file_report(world["nurse"], world["doses"][0], symptoms=["发热"], onset_at=now(), severity="general")
    report.reported_at = now() - timedelta(hours=50)
    report.discovered_at = report.onset_at = now() - timedelta(hours=51)
    db.session.flush()
    rates = rates_by_lot()
    assert [(r["doses"], r["reports"], r["per_10000"]) for r in rates] == [(3, 1, 3333.33)]
    page = login(world["center"]).get("/center/aefi/").get_data(as_text=True)
    assert "超时未开始调查：1 例" in page and "3333.33" in page
