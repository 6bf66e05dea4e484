"""SMS: requests only queue; the worker's delivery claims, sends, retries, fails over, records answers."""

import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bench.fake_sms_gateway import FakeGateway
from models import SmsMessage
from models.base import now
from services import sms
from services.sms import deliver_batch, send_sms


@pytest.fixture
def gateways(app, monkeypatch):
    """Point the SMS backend at local fake gateways: use(primary, fallback=None)."""
    def use(primary, fallback=None, token="gw-token"):
        monkeypatch.setitem(app.config, "SMS_BACKEND", "http")
        monkeypatch.setitem(app.config, "SMS_GATEWAY_URL", primary.url)
        monkeypatch.setitem(app.config, "SMS_GATEWAY_TOKEN", token)
        monkeypatch.setitem(app.config, "SMS_FALLBACK_GATEWAY_URL", fallback.url if fallback else None)
        monkeypatch.setitem(app.config, "SMS_FALLBACK_GATEWAY_TOKEN", token)
        monkeypatch.setitem(app.config, "SMS_GATEWAY_TIMEOUT", 2)
    return use


def stored(db, message_id):
    db.session.expire_all()
    return db.session.get(SmsMessage, message_id)


def make_due(db):
    """Let every waiting retry fall due now (the clock of the retry schedule, moved on)."""
    db.session.execute(update(SmsMessage).where(SmsMessage.status == "queued").values(next_attempt_at=now()))
    db.session.commit()


def test_the_worker_sends_a_backlog_of_several_batches_over_one_kept_alive_connection(app, db, gateways,
                                                                                    monkeypatch):
    from services import tasks

    monkeypatch.setitem(app.config, "SMS_BATCH_SIZE", 2)
    with FakeGateway() as gateway:
        gateways(gateway)
        for number in range(5):
            send_sms(f"1380000111{number}", "您好，测试短信")
        db.session.commit()
        assert tasks.deliver_pending.call_local() == 5
        assert (gateway.stats()["posts"], gateway.connections) == (5, 1)
    assert db.session.execute(select(SmsMessage.status).distinct()).scalars().all() == ["sent"]


def test_queueing_sends_nothing_until_the_worker_delivers(db, gateways):
    with FakeGateway() as gateway:
        gateways(gateway)
        message = send_sms("13800001111", "您好，测试短信", kind="notice")
        db.session.commit()
        assert gateway.stats()["posts"] == 0 and stored(db, message.id).status == "queued"
        assert deliver_batch() == 1
    row = stored(db, message.id)
    assert (row.status, row.attempts, row.backend, row.gateway_message_id) == ("sent", 1, "primary", "gw-1")
    assert row.sent_at is not None and row.gateway_answer == "HTTP 200"
    assert gateway.accepted[f"binhai-sms-{message.id}"][1:] == ("13800001111", "您好，测试短信")


def test_outbox_is_the_default_and_records_the_message_as_sent_by_it(db):
    message = send_sms("13800001111", "您好，测试短信")
    db.session.commit()
    deliver_batch()
    row = stored(db, message.id)
    assert (row.status, row.backend, row.body) == ("sent", "outbox", "您好，测试短信")


def test_gateway_gets_the_token_and_an_idempotency_key_and_a_receipt_counts_as_delivered(db, gateways):
    with FakeGateway(token="gw-token", delivered=True) as gateway:
        gateways(gateway)
        message = send_sms("13800001111", "接种提醒：明天9:00")
        db.session.commit()
        deliver_batch()
    row = stored(db, message.id)
    assert row.status == "delivered" and row.delivered_at is not None


def test_a_wrong_token_fails_the_message_without_retrying(db, gateways):
    with FakeGateway(token="right") as gateway:
        gateways(gateway, token="wrong")
        message = send_sms("13800001111", "测试")
        db.session.commit()
        deliver_batch()
    row = stored(db, message.id)
    assert row.status == "failed" and row.error.startswith("HTTP 401") and row.attempts == 1


def test_refusals_are_retried_with_growing_delays_then_fail(db, gateways, app, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_MAX_ATTEMPTS", 3)
    with FakeGateway(refuse=1.0) as gateway:
        gateways(gateway)
        message = send_sms("13800001111", "测试")
        db.session.commit()
        delays = []
        for _ in range(3):
            deliver_batch()
            row = stored(db, message.id)
            if row.status == "queued":
                delays.append(round((row.next_attempt_at - now()).total_seconds()))
                assert deliver_batch() == 0  # not due yet
                make_due(db)
    assert delays[0] in (29, 30) and delays[1] in (59, 60)
    row = stored(db, message.id)
    assert (row.status, row.attempts, gateway.stats()["posts"]) == ("failed", 3, 3)
    assert row.error.startswith("HTTP 503")


def test_a_refusing_primary_fails_over_to_the_fallback(db, gateways):
    with FakeGateway(refuse=1.0) as primary, FakeGateway() as fallback:
        gateways(primary, fallback)
        message = send_sms("13800001111", "测试")
        db.session.commit()
        deliver_batch()
    row = stored(db, message.id)
    assert (row.status, row.backend, row.attempts) == ("sent", "fallback", 1)
    assert primary.stats()["accepted"] == 0 and fallback.stats()["accepted"] == 1


def test_an_unreachable_primary_fails_over(db, gateways):
    with FakeGateway() as gone:
        pass  # closed: connections are refused
    with FakeGateway() as fallback:
        gateways(gone, fallback)
        message = send_sms("13800001111", "测试")
        db.session.commit()
        deliver_batch()
    assert stored(db, message.id).backend == "fallback"


def test_a_lost_answer_is_retried_only_where_it_may_have_arrived_and_the_repeat_is_dropped(db, gateways):
    with FakeGateway(hang_up=1.0) as primary, FakeGateway() as fallback:
        gateways(primary, fallback)
        message = send_sms("13800001111", "测试")
        db.session.commit()
        deliver_batch()
        row = stored(db, message.id)
        assert (row.status, row.pinned_backend) == ("queued", "primary") and row.error.startswith("结果未知")
        primary.hang_up = 0.0
        make_due(db)
        deliver_batch()
    row = stored(db, message.id)
    assert (row.status, row.backend, row.attempts) == ("sent", "primary", 2)
    assert fallback.stats()["posts"] == 0  # never a second copy through the other gateway
    assert primary.stats() == {"posts": 2, "accepted": 1, "refused": 0, "hung_up": 1, "repeats_dropped": 1}


def test_a_claim_left_by_a_dead_worker_is_queued_again_after_the_timeout(db, gateways, app):
    message = send_sms("13800001111", "测试")
    db.session.commit()
    token, rows = sms.claim_due(10)
    assert [row.id for row in rows] == [message.id]
    assert sms.claim_due(10)[1] == []  # claimed: nobody else gets it
    assert sms.release_stale_claims() == 0
    lease = app.config["SMS_CLAIM_TIMEOUT_SECONDS"]
    assert sms.release_stale_claims(now() + timedelta(seconds=lease + 1)) == 1
    make_due(db)
    with FakeGateway() as gateway:
        gateways(gateway)
        deliver_batch()
    row = stored(db, message.id)
    assert (row.status, row.attempts) == ("sent", 2)


def test_reset_code_is_masked_in_the_outbox_but_the_gateway_gets_it(client, db, make_user, make_department,
                                                                     gateways, caplog):
    caplog.set_level(logging.DEBUG)
    make_user("review", make_department(), username="gw_user", phone="13811112222")
    db.session.commit()
    with FakeGateway() as gateway:
        gateways(gateway)
        assert client.post("/forgot-password", data={"phone": "13811112222"}).status_code == 302
        assert gateway.stats()["posts"] == 0  # the request only queued it
        row = db.session.execute(select(SmsMessage)).scalar_one()
        assert "******" in row.body and row.sealed_body and not re.search(r"验证码\d{6}", row.body)
        deliver_batch()
    text = next(iter(gateway.accepted.values()))[2]
    code = re.search(r"验证码(\d{6})", text).group(1)
    row = stored(db, row.id)
    assert row.status == "sent" and code not in row.body and row.sealed_body is None
    assert client.post("/forgot-password/code", data={"code": code}).headers["Location"] == "/forgot-password/new"
    assert not [record for record in caplog.records if code in record.getMessage()]


def test_refusal_warnings_keep_phone_and_text_out_of_the_logs(db, gateways, caplog):
    caplog.set_level(logging.DEBUG)
    with FakeGateway(refuse=1.0) as gateway:
        gateways(gateway)
        send_sms("13800001111", "秘密内容987654")
        db.session.commit()
        deliver_batch()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings and not [text for text in warnings if "987654" in text or "13800001111" in text]


def test_resend_queues_a_failed_message_again(db):
    message = send_sms("13800001111", "测试")
    db.session.commit()
    db.session.execute(update(SmsMessage).values(status="failed", attempts=6, error="HTTP 503"))
    assert sms.resend([message.id]) == 1
    db.session.commit()
    deliver_batch()
    row = stored(db, message.id)
    assert (row.status, row.attempts, row.error) == ("sent", 1, None)


def test_a_receipt_marks_the_message_delivered(db, gateways):
    with FakeGateway() as gateway:
        gateways(gateway)
        message = send_sms("13800001111", "测试")
        db.session.commit()
        deliver_batch()
    assert sms.record_receipt("gw-1", delivered=True) == 1
    db.session.commit()
    assert stored(db, message.id).status == "delivered"


def test_the_gateway_posts_receipts_with_its_token(client, db, gateways, app, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_RECEIPT_TOKEN", "receipt-token")
    with FakeGateway() as gateway:
        gateways(gateway)
        first, second = send_sms("13800001111", "一"), send_sms("13800002222", "二")
        db.session.commit()
        deliver_batch()
    url = "/api/v1/sms-receipts"
    assert client.post(url, json={"message_id": "gw-1", "status": "delivered"}).status_code == 401
    headers = {"Authorization": "Bearer receipt-token"}
    assert client.post(url, json={"message_id": 5}, headers=headers).status_code == 422
    answer = client.post(url, headers=headers, json=[
        {"message_id": "gw-1", "status": "delivered"},
        {"message_id": f"binhai-sms-{second.id}", "status": "failed", "error": "空号"}])
    assert answer.status_code == 200 and answer.get_json() == {"updated": 2}
    assert stored(db, first.id).status == "delivered"
    assert (stored(db, second.id).status, stored(db, second.id).error) == ("failed", "空号")
