"""Appointment reminders at the configured times, on a clock the test moves; the clean-up jobs."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from bench.fake_sms_gateway import FakeGateway
from models import ImportRejectFile, JobRun, SmsCode, SmsMessage
from models.base import now
from models.housekeeping import purge_expired
from models.reminders import queue_due_reminders
from services import tasks
from services.sms import deliver_batch

WINDOW = datetime(2026, 12, 10, 9, 0)  # the booked window starts 9:00 on the 10th


@pytest.fixture
def admin_client(app, make_user, login):
    client = app.test_client()
    login(make_user("admin", username="root"), test_client=client)
    return client


def reminders(db):
    db.session.expire_all()
    return db.session.execute(select(SmsMessage.kind, SmsMessage.phone).order_by(SmsMessage.id)).all()


def booked_world(make_station, make_slot, make_enterprise, make_persons, db):
    station = make_station("提醒测试接种点")
    slot = make_slot(station, starts_at=WINDOW, minutes=90, capacity=10)
    enterprise = make_enterprise()
    appointed = make_persons(enterprise, 2, status="appointed", station=station, slot=slot)
    make_persons(enterprise, 1, status="checked_in", station=station, slot=slot)
    make_persons(enterprise, 1, status="allocated", station=station)  # cancelled: back to 已分配, no slot
    db.session.commit()
    return appointed


def test_reminders_come_the_day_before_and_two_hours_before_to_appointed_people_only(
        db, app, monkeypatch, make_station, make_slot, make_enterprise, make_persons):
    monkeypatch.setitem(app.config, "REMINDER_DAY_BEFORE_AT", "18:00")
    monkeypatch.setitem(app.config, "REMINDER_HOURS_BEFORE", 2)
    booked_world(make_station, make_slot, make_enterprise, make_persons, db)
    clock = datetime(2026, 12, 9, 17, 59)
    assert queue_due_reminders(clock) == 0
    clock = datetime(2026, 12, 9, 18, 0)
    assert queue_due_reminders(clock) == 2  # the two still 已预约; not the checked-in, not the cancelled
    db.session.commit()
    assert queue_due_reminders(clock + timedelta(minutes=1)) == 0  # the scheduler again: nothing twice
    assert queue_due_reminders(datetime(2026, 12, 10, 6, 59)) == 0
    assert queue_due_reminders(datetime(2026, 12, 10, 7, 0)) == 2
    db.session.commit()
    assert queue_due_reminders(datetime(2026, 12, 10, 8, 30)) == 0
    assert queue_due_reminders(datetime(2026, 12, 10, 9, 0)) == 0  # the window has begun
    kinds = [kind for kind, _ in reminders(db)]
    assert kinds == ["reminder_day_before"] * 2 + ["reminder_hours_before"] * 2
    body = db.session.execute(select(SmsMessage.body)).scalars().first()
    assert "12月10日 09:00-10:30" in body and "提醒测试接种点" in body
    # Worded from admin_views/labels.REMINDER_WORDS, word for word as before the words left the model.
    assert body == ("【滨海新区疫苗接种】温馨提醒：您已预约12月10日 09:00-10:30在提醒测试接种点接种，"
                    "请携带身份证按时前往。")


def test_the_times_are_settings(db, app, monkeypatch, make_station, make_slot, make_enterprise, make_persons):
    monkeypatch.setitem(app.config, "REMINDER_DAY_BEFORE_AT", "09:30")
    monkeypatch.setitem(app.config, "REMINDER_HOURS_BEFORE", 3)
    booked_world(make_station, make_slot, make_enterprise, make_persons, db)
    assert queue_due_reminders(datetime(2026, 12, 9, 9, 29)) == 0
    assert queue_due_reminders(datetime(2026, 12, 9, 9, 30)) == 2
    assert queue_due_reminders(datetime(2026, 12, 10, 5, 59)) == 0
    assert queue_due_reminders(datetime(2026, 12, 10, 6, 0)) == 2


def test_a_reminder_due_now_reaches_the_gateway_once(db, app, monkeypatch, make_station, make_slot,
                                                    make_enterprise, make_persons):
    station = make_station("提醒测试接种点")
    slot = make_slot(station, starts_at=now().replace(second=0) + timedelta(minutes=90), minutes=60)
    make_persons(make_enterprise(), 2, status="appointed", station=station, slot=slot)
    db.session.commit()
    monkeypatch.setitem(app.config, "REMINDER_DAY_BEFORE_AT", "23:59")  # only the hours-before one is due
    with FakeGateway() as gateway:
        monkeypatch.setitem(app.config, "SMS_BACKEND", "http")
        monkeypatch.setitem(app.config, "SMS_GATEWAY_URL", gateway.url)
        tasks.queue_reminders()  # what the minute sweep runs, on the real clock
        deliver_batch()
        assert gateway.stats()["accepted"] == 2
        tasks.queue_reminders()  # the next minute's sweep
        deliver_batch()
        assert gateway.stats() == {"posts": 2, "accepted": 2, "refused": 0, "hung_up": 0, "repeats_dropped": 0}
    assert {kind for kind, _ in reminders(db)} == {"reminder_hours_before"}


def test_purge_removes_expired_codes_of_earlier_days_and_old_reject_files(db, make_enterprise):
    at = now()
    enterprise = make_enterprise()
    db.session.add_all([
        SmsCode(phone="13800001111", code_hash="x", created_at=at - timedelta(days=2),
                expires_at=at - timedelta(days=2) + timedelta(minutes=5)),
        # expired but from today: it still counts towards the phone's daily limit
        SmsCode(phone="13800001111", code_hash="y", created_at=at.replace(hour=0, minute=0, second=1),
                expires_at=at.replace(hour=0, minute=5)),
        ImportRejectFile(token="old", enterprise_id=enterprise.id, created_at=at - timedelta(days=2), content=b"x"),
        ImportRejectFile(token="new", enterprise_id=enterprise.id, created_at=at, content=b"x"),
    ])
    db.session.commit()
    ok, summary = purge_expired(at)
    db.session.commit()
    assert ok and "验证码 1 条" in summary and "导入失败文件 1 个" in summary
    assert db.session.execute(select(func.count(SmsCode.id))).scalar_one() == 1
    assert db.session.execute(select(ImportRejectFile.token)).scalars().all() == ["new"]


def test_the_nightly_check_keeps_its_result_for_the_admin(db, app, monkeypatch, admin_client):
    monkeypatch.setitem(app.config, "CHECK_DATA_HOUR", now().hour)
    tasks.nightly_check_data.call_local()
    tasks.nightly_check_data.call_local()  # a second run the same night does nothing
    runs = db.session.execute(select(JobRun)).scalars().all()
    assert len(runs) == 1 and runs[0].job == "check_data" and runs[0].ok is True and "全部通过" in runs[0].summary
    page = admin_client.get("/admin/admin_jobs/").get_data(as_text=True)
    assert "数据一致性检查" in page and "全部通过" in page


def test_the_admin_sees_each_message_state_and_resends_a_failed_one(db, admin_client):
    from services.sms import send_sms

    failed, sent = send_sms("13800001111", "失败的短信"), send_sms("13800002222", "成功的短信")
    db.session.commit()
    db.session.execute(SmsMessage.__table__.update().where(SmsMessage.id == failed.id)
                       .values(status="failed", attempts=6, backend="primary", error="HTTP 503"))
    db.session.execute(SmsMessage.__table__.update().where(SmsMessage.id == sent.id)
                       .values(status="delivered", attempts=2, backend="fallback"))
    db.session.commit()
    page = admin_client.get("/admin/admin_sms/").get_data(as_text=True)
    for text in ("发送失败", "已送达", "主通道", "备用通道", "发送次数", "HTTP 503"):
        assert text in page
    answer = admin_client.post("/admin/admin_sms/action/", data={"action": "resend", "rowid": [failed.id, sent.id]},
                               follow_redirects=True).get_data(as_text=True)
    assert "已重新排队发送 1 条，跳过 1 条" in answer
    deliver_batch()
    db.session.expire_all()
    row = db.session.get(SmsMessage, failed.id)
    assert (row.status, row.attempts, row.backend) == ("sent", 1, "outbox")
    assert db.session.get(SmsMessage, sent.id).status == "delivered"
