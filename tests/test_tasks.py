"""The task queue: /healthz figures, the Redis storage, booking that only queues."""

import os
import socket
from datetime import timedelta

import pytest
from huey import RedisHuey
from sqlalchemy import update

from models import SmsMessage
from models.base import now
from services import tasks
from services.sms import send_sms

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_healthz_reports_the_backlog_and_the_oldest_waiting_message(client, db):
    send_sms("13800001111", "一")
    send_sms("13800002222", "二")
    db.session.commit()
    earlier = now() - timedelta(minutes=7)
    db.session.execute(update(SmsMessage).where(SmsMessage.body == "一").values(created_at=earlier))
    db.session.commit()
    queue = client.get("/healthz").get_json()["queue"]
    assert queue["reachable"] is True and queue["backlog"] == 2
    assert 419 <= queue["oldest_waiting_seconds"] <= 430 and queue["oldest_waiting"]


def test_healthz_is_503_when_the_queue_cannot_be_reached(client, monkeypatch):
    monkeypatch.setattr(tasks, "huey", RedisHuey("binhai-test", url=f"redis://127.0.0.1:{_closed_port()}/0"))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["queue"]["reachable"] is False


def use_queue(monkeypatch, queue):
    """Run the app's tasks on `queue` instead of the configured one."""
    monkeypatch.setattr(tasks, "huey", queue)
    monkeypatch.setattr(tasks, "deliver_pending", queue.task()(tasks.deliver_pending.func))


def _redis_or_skip():
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping()
    except redis.RedisError as error:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Redis at {REDIS_URL} unreachable in CI: {error}")
        pytest.skip(f"Redis unreachable: {error}")


def test_on_redis_a_kick_is_a_task_a_worker_runs_and_it_delivers(db, monkeypatch):
    _redis_or_skip()
    queue = RedisHuey(f"binhai-test-{os.getpid()}", url=REDIS_URL, results=False)
    queue.flush()
    use_queue(monkeypatch, queue)
    message = send_sms("13800001111", "经 Redis 队列发送")
    db.session.commit()  # the commit kicks: one task waits in Redis
    assert queue.pending_count() == 1 and db.session.get(SmsMessage, message.id).status == "queued"
    queue.execute(queue.dequeue())  # what the consumer does with it
    db.session.expire_all()
    assert db.session.get(SmsMessage, message.id).status == "sent"
    queue.flush()


def test_a_queue_that_is_down_does_not_fail_the_request_and_the_sweep_catches_up(db, monkeypatch, caplog):
    use_queue(monkeypatch, RedisHuey("binhai-test", url=f"redis://127.0.0.1:{_closed_port()}/0"))
    message = send_sms("13800001111", "队列暂不可用")
    db.session.commit()  # the kick fails, logged, nothing raised
    assert "minute sweep" in caplog.text
    tasks.deliver_pending.call_local()
    db.session.expire_all()
    assert db.session.get(SmsMessage, message.id).status == "sent"
