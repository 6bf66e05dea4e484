"""Two real worker processes, gateways that refuse half the requests, a worker killed mid-send:
every message reaches exactly one gateway exactly once (counted at the fake gateways)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bench.fake_sms_gateway import FakeGateway
from models import SmsMessage
from services import tasks
from services.sms import send_sms

REPO = Path(__file__).resolve().parent.parent
MESSAGES = 150


def start_worker(database_url, primary, fallback):
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "REDIS_URL", "HUEY_REDIS_URL")}
    env.update(DATABASE_URL=database_url, SECRET_KEY="test-secret-key", SMS_BACKEND="http",
               SMS_GATEWAY_URL=primary.url, SMS_FALLBACK_GATEWAY_URL=fallback.url, SMS_GATEWAY_TIMEOUT="2",
               SMS_RETRY_BASE_SECONDS="1", SMS_RETRY_MAX_SECONDS="2", SMS_MAX_ATTEMPTS="40",
               SMS_CLAIM_TIMEOUT_SECONDS="5", SMS_BATCH_SIZE="10", LOG_LEVEL="WARNING")
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker", "--threads", "2"],
                            cwd=REPO, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def counts(db):
    db.session.rollback()
    return dict(db.session.execute(select(SmsMessage.status, func.count()).group_by(SmsMessage.status)).all())


@pytest.mark.slow
def test_two_workers_a_flaky_gateway_and_a_killed_worker_send_each_message_exactly_once(db, database_url):
    ids = [send_sms(f"139{n:08d}", f"第{n}条测试短信").id for n in range(MESSAGES)]
    db.session.commit()
    keys = {f"binhai-sms-{i}" for i in ids}
    with FakeGateway(refuse=0.5, delay=0.02, seed=1) as primary, \
            FakeGateway(refuse=0.5, delay=0.02, seed=2) as fallback:
        doomed = start_worker(database_url, primary, fallback)
        primary.hold_for = fallback.hold_for = f"pid={doomed.pid}"  # its first accepted send is held open
        survivor = start_worker(database_url, primary, fallback)
        try:
            for _ in range(4):
                tasks.deliver_pending()  # the kicks a booking request would give
            # Kill one worker while the gateway holds a message it has already accepted from it.
            wait_for(lambda: primary.holding.is_set() or fallback.holding.is_set(), 60,
                     "a send in flight from the first worker")
            os.kill(doomed.pid, signal.SIGKILL)
            doomed.wait(timeout=10)
            wait_for(lambda: counts(db).get("sent", 0) + counts(db).get("failed", 0) == MESSAGES,
                     150, "every message to be sent")
        finally:
            for worker in (doomed, survivor):
                if worker.poll() is None:
                    worker.terminate()
                    worker.wait(timeout=20)
        assert counts(db) == {"sent": MESSAGES}
        got_primary, got_fallback = set(primary.accepted), set(fallback.accepted)
        assert got_primary | got_fallback == keys  # none lost
        assert not got_primary & got_fallback  # none through both gateways
        # The message the dead worker had in flight went again with its key; the gateway dropped the repeat.
        assert sum(primary.repeats.values()) + sum(fallback.repeats.values()) >= 1
        assert primary.refused + fallback.refused > MESSAGES / 3  # the refusals were real and were retried
        backends = dict(db.session.execute(select(SmsMessage.backend, func.count()).group_by(SmsMessage.backend)).all())
        assert backends == {"primary": len(got_primary), "fallback": len(got_fallback)}
        assert db.session.execute(select(func.max(SmsMessage.attempts))).scalar() > 1
