"""The task queue: booking with its texts queued, reminder scheduling, delivery through the worker.

Three lines, each against a baseline timed alternately in the same run:
- 分期分量预约 of `booking` people (POST /center/appointments/book) beside the same request with
  the text step left out: the request only queues the texts (one INSERT … SELECT), so it
  returns about as fast, and the gateway, running and configured, gets no call from it;
- the reminder scheduler (models.reminders.queue_due_reminders) queueing `reminders` day-before
  reminders beside one raw INSERT … SELECT of the same rows;
- the worker's delivery task (services.tasks.deliver_pending: claim a batch, send, record)
  sending `deliveries` messages to the fake gateway (bench/fake_sms_gateway.py, its own
  process) beside a tight loop of the same client posting straight to it: the gateway's ceiling.
"""

import itertools
import json
import subprocess
import sys
import urllib.request
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from unittest import mock

from sqlalchemy import func, select, text

from bench import queue_world
from bench.harness import RESULTS_DIR, Row, interleaved, median
from bench.web import logged_in_client
from extensions import db
from models.counters import mismatches
from models.reminders import queue_due_reminders, reminder_settings
from models.sms import FAILED, QUEUED, SENT, SmsMessage
from models.status import APPOINTED
from services.sms import HttpGatewayBackend

BOOKING_TARGET = 1.5
REMINDER_TARGET = 2.0
DELIVERY_TARGET = 0.5
SAMPLE_TEXT = ("【滨海新区疫苗接种】温馨提醒：您已预约12月22日 08:00-09:00在短信基准提醒接种点接种，"
               "请携带身份证按时前往。")


def measure(ctx):
    with _gateway_process() as gateway, _bench_queue_storage(ctx), _sms_through(ctx.app, gateway.url):
        with ctx.app.app_context():
            world = queue_world.build(ctx.booking, ctx.reminders, ctx.log)
        try:
            rows = [measure_booking(ctx, world, gateway), measure_reminders(ctx, world),
                    measure_delivery(ctx, world, gateway)]
        finally:
            with ctx.app.app_context():
                db.session.rollback()
                queue_world.remove()
                wrong = mismatches()
        if wrong:
            for row in rows:
                row.passed = False
                row.note += f" counters disagree with the persons afterwards: {wrong[:3]}"
    return rows


# ---------------------------------------------------------------- 1. booking

def measure_booking(ctx, world, gateway):
    """The booking request with its texts queued, beside the same request without texts."""
    client = logged_in_client(ctx.app, "center")
    url = f"/center/appointments/book?station={world.booking_station}&tab=waiting"
    done, undone = [], []

    def book(label):
        response = client.post(url, data=world.book_form())
        assert response.status_code == 302, response.status_code
        done.append(label)

    def without_texts():
        with mock.patch("models.appointments.notify_persons_of_event", return_value=0):
            book("without")

    def undo():
        with ctx.app.app_context():
            if done:
                undone.append((done.pop(), *queue_world.unbook(world)))
            _settle(ctx, "person", "person_event", "sms_message", "appointment_slot")

    calls_before = gateway.stats()["posts"]
    times, times_without = interleaved(ctx.repeat, lambda: book("with"), without_texts, warmup=1, before=undo)
    calls = gateway.stats()["posts"] - calls_before
    wrong = [u for u in undone if u[1] != world.booking or u[2] != (world.booking if u[0] == "with" else 0)]
    row = Row(f"分期分量预约 of {world.booking:,} people (POST /center/appointments/book), texts queued",
              ctx.engine, ctx.persons, measured=median(times), baseline=median(times_without), unit="s",
              target=f"≤ {BOOKING_TARGET:g}× the same booking without texts, no gateway call in the request",
              note=f"gateway calls during the requests: {calls}")
    if wrong:
        row.note += f"; booked or texts missing (label, people, texts): {wrong[:3]}"
    row.passed = bool(not wrong and calls == 0 and row.ratio <= BOOKING_TARGET)
    ctx.log(f"booking: with texts {row.measured:.3f} s, without {row.baseline:.3f} s, ratio {row.ratio:.2f}, "
            f"gateway calls {calls}")
    return row


# ---------------------------------------------------------------- 2. reminders

def raw_reminders(dialect):
    """The scheduler's day-before reminders as one INSERT … SELECT, written by hand for `dialect`."""
    if dialect == "postgresql":
        starts, ends = "to_char(s.starts_at, 'MM\"月\"DD\"日\" HH24:MI')", "to_char(s.ends_at, 'HH24:MI')"
    else:
        starts, ends = "strftime('%m月%d日 %H:%M', s.starts_at)", "strftime('%H:%M', s.ends_at)"
    return text(
        "INSERT INTO sms_message (phone, body, kind, status, created_at, attempts, next_attempt_at, dedupe_key) "
        f"SELECT p.phone, '【滨海新区疫苗接种】温馨提醒：您已预约' || {starts} || '-' || {ends} || '在' || st.name "
        "|| '接种，请携带身份证按时前往。', 'reminder_day_before', :queued, :at, 0, :at, "
        "'reminder:day_before:' || CAST(p.id AS VARCHAR) || ':' || CAST(s.id AS VARCHAR) "
        "FROM person p JOIN appointment_slot s ON s.id = p.slot_id JOIN station st ON st.id = s.station_id "
        "WHERE p.status = :appointed AND s.starts_at BETWEEN :first AND :last"
    )


def measure_reminders(ctx, world):
    """queue_due_reminders at the day-before time, beside the raw INSERT … SELECT of the same rows."""
    first = datetime.combine(world.reminder_day, datetime.min.time())
    done, counted = [], []
    with ctx.app.app_context():
        at = datetime.combine(world.reminder_day - timedelta(days=1), reminder_settings()[0])
        watermark = db.session.execute(select(func.coalesce(func.max(SmsMessage.id), 0))).scalar_one()
        statement = raw_reminders(db.engine.dialect.name)
    params = {"queued": QUEUED, "at": at, "appointed": APPOINTED, "first": first,
              "last": first + timedelta(days=1, seconds=-1)}

    def scheduler():
        with ctx.app.app_context():
            done.append(("scheduler", queue_due_reminders(at)))
            db.session.commit()

    def raw():
        with ctx.app.app_context():
            db.session.execute(statement, params)
            db.session.commit()
            done.append(("raw", None))

    def undo():
        with ctx.app.app_context():
            removed = db.session.execute(text("DELETE FROM sms_message WHERE id > :mark"),
                                         {"mark": watermark}).rowcount
            db.session.commit()
            if done:
                counted.append((*done.pop(), removed))
            _settle(ctx, "sms_message")

    times, times_raw = interleaved(ctx.repeat, scheduler, raw, warmup=1, before=undo)
    wrong = [c for c in counted if c[2] != world.reminders or c[1] not in (None, world.reminders)]
    row = Row(f"reminders: {world.reminders:,} day-before texts queued by the scheduler (queue_due_reminders)",
              ctx.engine, ctx.persons, measured=median(times), baseline=median(times_raw), unit="s",
              target=f"≤ {REMINDER_TARGET:g}× one raw INSERT … SELECT of the same rows")
    if wrong:
        row.note = f"rows differ (who, said, stored): {wrong[:3]}"
    row.passed = bool(not wrong and row.ratio <= REMINDER_TARGET)
    ctx.log(f"reminders: scheduler {row.measured:.3f} s, raw {row.baseline:.3f} s, ratio {row.ratio:.2f}")
    return row


# ---------------------------------------------------------------- 3. delivery

def measure_delivery(ctx, world, gateway):
    """The worker's delivery task sending `deliveries` messages, beside the gateway's ceiling."""
    from services import tasks

    count = ctx.deliveries
    runs = itertools.count()
    sent = []

    def ceiling():
        client = HttpGatewayBackend("ceiling", gateway.url)
        run = next(runs)
        try:
            accepted = sum(client.send(f"199{i:08d}", SAMPLE_TEXT, f"ceiling-{run}-{i}").accepted
                           for i in range(count))
        finally:
            client.close()
        assert accepted == count, f"the gateway took {accepted} of {count}"

    def worker():
        with ctx.app.app_context():
            sent.append(tasks.deliver_pending.call_local())

    def top_up():
        with ctx.app.app_context():
            _queue_messages(world, count)

    stats_before = gateway.stats()
    times, times_ceiling = interleaved(ctx.repeat, worker, ceiling, warmup=1, before=top_up)
    stats = gateway.stats()
    with ctx.app.app_context():
        states = dict(db.session.execute(select(SmsMessage.status, func.count()).where(
            SmsMessage.phone.in_(queue_world.their_phones())).group_by(SmsMessage.status)).all())
    expected = len(sent) * count
    accepted = stats["accepted"] - stats_before["accepted"] - (ctx.repeat + 1) * count
    row = Row(f"delivery of {count:,} messages by the worker (deliver_pending: claim, send, record) "
              "to the local fake gateway", ctx.engine, ctx.persons,
              measured=count / median(times), baseline=count / median(times_ceiling), unit="msg/s",
              target=f"≥ {DELIVERY_TARGET:.0%} of the gateway's ceiling (one client posting in a tight loop)",
              note=f"{expected:,} sent by the worker, {accepted:,} taken by the gateway, "
                   f"{stats['repeats_dropped'] - stats_before['repeats_dropped']} repeats")
    ok = sum(sent) == expected == accepted == states.get(SENT, 0) and not states.get(FAILED)
    if not ok:
        row.note += f"; messages lost or failed: claimed {sent}, states {states}"
    row.passed = bool(ok and row.ratio >= DELIVERY_TARGET)
    ctx.log(f"delivery: worker {row.measured:.0f} msg/s, ceiling {row.baseline:.0f} msg/s, ratio {row.ratio:.2f}")
    return row


def _queue_messages(world, count):
    """Make `count` messages wait in the outbox (only those missing: the ceiling run leaves them)."""
    waiting = db.session.execute(select(func.count()).select_from(SmsMessage)
                                 .where(SmsMessage.status == QUEUED)).scalar_one()
    at = datetime.now() - timedelta(minutes=1)
    db.session.execute(text(
        "INSERT INTO sms_message (phone, body, kind, status, created_at, attempts, next_attempt_at) "
        "SELECT phone, :body, 'notice', :queued, :at, 0, :at FROM person WHERE station_id = :station "
        "ORDER BY id LIMIT :n"
    ), {"body": SAMPLE_TEXT, "queued": QUEUED, "at": at, "station": world.reminder_station,
        "n": max(count - waiting, 0)})
    db.session.commit()


# ---------------------------------------------------------------- the gateway, the queue, settling

class _Gateway:
    def __init__(self, url):
        self.url = url

    def stats(self):
        with urllib.request.urlopen(self.url, timeout=5) as response:  # noqa: S310 - our own 127.0.0.1 gateway
            return json.loads(response.read())


@contextmanager
def _gateway_process():
    """The fake gateway in a process of its own, so its ceiling is not shared with the sender's GIL."""
    process = subprocess.Popen([sys.executable, "-m", "bench.fake_sms_gateway", "--port", "0"],  # noqa: S603
                               stdout=subprocess.PIPE, text=True)
    try:
        yield _Gateway(process.stdout.readline().split()[-1])
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


@contextmanager
def _bench_queue_storage(ctx):
    """The requests' kicks go to a Huey file of the benchmark's own, not the checkout's instance/ queue."""
    from huey.storage import SqliteStorage

    from services import tasks

    path = Path(ctx.out_dir or RESULTS_DIR) / "bench-huey.sqlite3"
    kept = tasks.huey.storage
    tasks.huey.storage = SqliteStorage("binhai", filename=str(path), timeout=10)
    try:
        yield
    finally:
        tasks.huey.storage.close()
        tasks.huey.storage = kept
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


@contextmanager
def _sms_through(app, url):
    """Send through the fake gateway (SMS_BACKEND=http) while the lines run."""
    keys = ("SMS_BACKEND", "SMS_GATEWAY_URL", "SMS_FALLBACK_GATEWAY_URL")
    kept = {key: app.config.get(key) for key in keys}
    app.config.update(SMS_BACKEND="http", SMS_GATEWAY_URL=url, SMS_FALLBACK_GATEWAY_URL=None)
    try:
        yield
    finally:
        app.config.update(kept)


def _settle(ctx, *tables):
    """VACUUM what a timed run changed (PostgreSQL), so every run starts from the same state."""
    db.session.commit()
    if ctx.is_postgres:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f"VACUUM {', '.join(tables)}"))
