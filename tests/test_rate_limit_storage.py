"""The single-process rate-limit storage (swept-memory://): the same limits, no thread per request."""

import threading
import time

import pytest
from limits import parse
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from app import create_app
from services import rate_limit_storage
from services.rate_limit_storage import SweptMemoryStorage


@pytest.fixture
def timer_starts(monkeypatch):
    """The number of threading.Timer threads started while the test runs."""
    started = []
    original = threading.Timer.start

    def counting_start(timer):
        started.append(timer)
        original(timer)

    monkeypatch.setattr(threading.Timer, "start", counting_start)
    return started


def hits_apart(storage, count, gap):
    limiter = FixedWindowRateLimiter(storage)
    limit = parse("1000 per minute")
    for _ in range(count):
        assert limiter.hit(limit, "reader", "desk-1")
        time.sleep(gap)


def test_a_single_process_counts_its_limits_in_swept_memory_unless_told_otherwise(database_url):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "x",
                      "RATELIMIT_ENABLED": True})
    assert app.config["RATELIMIT_STORAGE_URI"] == "swept-memory://"
    assert isinstance(storage_from_string(app.config["RATELIMIT_STORAGE_URI"]), SweptMemoryStorage)
    with app.app_context():
        from extensions import db

        db.engine.dispose()


def test_counting_reads_starts_no_thread_where_limits_own_memory_storage_starts_one_per_pause(timer_starts):
    own = MemoryStorage()
    timer_starts.clear()
    hits_apart(own, 8, gap=0.02)
    library_threads = len(timer_starts)

    swept = SweptMemoryStorage()
    timer_starts.clear()
    hits_apart(swept, 8, gap=0.02)
    assert library_threads >= 4  # the contrast: a thread every 10 ms of pause
    assert timer_starts == []


@pytest.mark.parametrize("strategy", [FixedWindowRateLimiter, MovingWindowRateLimiter])
def test_the_limit_refuses_the_hit_over_it_and_allows_again_once_the_window_has_passed(strategy):
    limiter = strategy(SweptMemoryStorage())
    limit = parse("3 per 1 second")
    assert [limiter.hit(limit, "desk-1") for _ in range(4)] == [True, True, True, False]
    assert limiter.hit(limit, "desk-2")  # another key counts on its own
    time.sleep(1.1)
    assert limiter.hit(limit, "desk-1")


def test_expired_counters_are_swept_by_later_requests(monkeypatch):
    monkeypatch.setattr(rate_limit_storage, "SWEEP_EVERY_SECONDS", 0.05)
    storage = SweptMemoryStorage()
    for key in ("a", "b", "c"):
        storage.incr(key, expiry=0.05)
    storage.acquire_entry("moving", limit=5, expiry=0.05)
    time.sleep(0.12)
    storage.incr("later", expiry=60)
    assert set(storage.storage) == {"later"}
    assert not any(storage.events.values())  # the moving window's entries are gone
    assert storage.get("later") == 1
