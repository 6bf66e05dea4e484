"""Live events: in-process fan-out, and Redis pub/sub between two real processes."""

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from services import events

REPO = Path(__file__).resolve().parent.parent
REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _next_event(subscription):
    """Return the next real event, skipping heartbeats."""
    for item in subscription:
        if item is not None:
            return item
    raise AssertionError("subscription ended")


def test_local_subscriber_gets_events_of_its_channel_in_order():
    broker = events.LocalBroker()
    subscription = broker.subscribe("binhai:station:1", timeout=1)
    assert next(subscription) is None  # subscribed
    assert broker.publish("binhai:station:2", {"type": "other"}) == 0
    assert broker.publish("binhai:station:1", {"type": "card_read", "read": 1}) == 1
    broker.publish("binhai:station:1", {"type": "card_read", "read": 2})
    assert _next_event(subscription) == {"type": "card_read", "read": 1}
    assert _next_event(subscription) == {"type": "card_read", "read": 2}
    subscription.close()
    assert broker.subscriber_count("binhai:station:1") == 0
    assert broker.publish("binhai:station:1", {"type": "late"}) == 0


def test_local_subscriber_gets_a_heartbeat_when_nothing_happens():
    broker = events.LocalBroker()
    subscription = broker.subscribe("binhai:station:1", timeout=0.05)
    next(subscription)
    started = time.monotonic()
    assert next(subscription) is None
    assert 0.04 <= time.monotonic() - started < 1
    subscription.close()


def test_local_event_reaches_a_subscriber_on_another_thread():
    broker = events.LocalBroker()
    subscription = broker.subscribe("binhai:station:9", timeout=2)
    next(subscription)
    received = []
    listener = threading.Thread(target=lambda: received.append(_next_event(subscription)))
    listener.start()
    broker.publish("binhai:station:9", {"type": "queue"})
    listener.join(3)
    assert received == [{"type": "queue"}]
    subscription.close()


def test_app_uses_in_process_queues_without_redis_url(app):
    assert app.config.get("REDIS_URL") is None
    assert isinstance(events.broker(app), events.LocalBroker)
    assert events.broker(app) is events.broker(app)
    assert events.station_channel(7) == "binhai:station:7"


def _redis_or_skip():
    import redis

    try:
        redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        if IN_CI:
            pytest.fail(f"Redis at {REDIS_TEST_URL} unreachable in CI: {error}")
        pytest.skip(f"Redis at {REDIS_TEST_URL} unreachable: {error}")


SUBSCRIBER = """
import json, sys
from services.events import RedisBroker
subscription = RedisBroker(sys.argv[1]).subscribe(sys.argv[2], timeout=0.2)
next(subscription)
print("READY", flush=True)
for event in subscription:
    if event is not None:
        print(json.dumps(event, ensure_ascii=False), flush=True)
        break
"""

PUBLISHER = """
import json, sys
from app import create_app
from services import events
app = create_app({"REDIS_URL": sys.argv[1]})
with app.app_context():
    assert events.broker().name == "redis"
    print(events.publish(sys.argv[2], json.loads(sys.argv[3])), flush=True)
"""


def test_redis_event_published_in_one_process_reaches_a_subscriber_in_another(tmp_path):
    _redis_or_skip()
    channel = f"binhai:test:{uuid.uuid4().hex}"
    env = {**os.environ, "INSTANCE_PATH": str(tmp_path / "instance"), "PYTHONPATH": str(REPO)}
    subscriber = subprocess.Popen([sys.executable, "-c", SUBSCRIBER, REDIS_TEST_URL, channel], cwd=REPO,
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert subscriber.stdout.readline().strip() == "READY", subscriber.stderr.read()
        event = {"type": "card_read", "read": 42, "reader": "入口1号台"}
        publisher = subprocess.run([sys.executable, "-c", PUBLISHER, REDIS_TEST_URL, channel, json.dumps(event)],
                                   cwd=REPO, env=env, capture_output=True, text=True, timeout=30)
        assert publisher.returncode == 0, publisher.stderr
        assert publisher.stdout.strip() == "1"  # exactly one subscriber: the other process
        line = subscriber.stdout.readline()
        assert json.loads(line) == event
        assert subscriber.wait(timeout=10) == 0
    finally:
        if subscriber.poll() is None:
            subscriber.kill()
            subscriber.wait()
        subscriber.stdout.close()
        subscriber.stderr.close()
