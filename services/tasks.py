"""Background work on Huey: SMS delivery, appointment reminders and the scheduled clean-ups.

The queue's storage is SQLite in instance/huey.sqlite3 by default (one machine, nothing to
install) and Redis when HUEY_REDIS_URL (or REDIS_URL) is set, so several app servers and
workers share it. The worker is `flask --app app worker`; `make run` starts it beside the
web server, production runs it as its own service (docs/deploy.md).

Tasks only carry ids and names: the database is the record of what is to be done, so a
lost task (a worker killed while holding it) loses nothing: the minute sweep finds the work.
Other modules add a periodic job here as a one-line wrapper calling an operation in models/.
"""

import logging
import os
from contextlib import contextmanager
from datetime import datetime

from flask import current_app, has_app_context
from huey import RedisHuey, SqliteHuey, crontab

log = logging.getLogger(__name__)

HEARTBEAT_KEY = "binhai.worker_heartbeat"


def _queue_url():
    return os.environ.get("HUEY_REDIS_URL") or os.environ.get("REDIS_URL") or None


def make_huey():
    """The queue: Redis when configured, else a SQLite file in the instance folder."""
    url = _queue_url()
    if url:
        return RedisHuey("binhai", url=url, utc=True, results=False)
    from config import instance_dir

    return SqliteHuey("binhai", filename=str(instance_dir() / "huey.sqlite3"), utc=True, results=False, timeout=10)


huey = make_huey()
_bound_app = None


def bind_app(app):
    """Use `app` for the tasks this process runs (the worker command binds the app it built)."""
    global _bound_app
    _bound_app = app


@contextmanager
def app_context():
    """The Flask app context a task runs in: the caller's, else the worker's own app.

    Popping our own context ends its database session (Flask-SQLAlchemy's teardown).
    """
    global _bound_app
    if has_app_context():
        yield current_app
        return
    if _bound_app is None:
        from app import create_app

        _bound_app = create_app()
    with _bound_app.app_context():
        yield _bound_app


# ---------------------------------------------------------------- SMS delivery

def kick_delivery():
    """Ask a worker to deliver what is queued now; a queue that is down only delays it to the sweep."""
    try:
        deliver_pending()
    except Exception as error:  # noqa: BLE001 - the sweep catches up; a request must not fail for this
        log.warning("sms: could not reach the task queue (%s); the minute sweep will deliver", type(error).__name__)


@huey.task()
def deliver_pending(wake_key=None):
    """Deliver due messages batch by batch until none is due, then book the next look."""
    from services import sms

    if wake_key:
        huey.get(wake_key)  # this booked look is being taken: a later one may be booked again
    with app_context() as app:
        batch = app.config.get("SMS_BATCH_SIZE", 500)
        sms.release_stale_claims()
        total = 0
        # One set of gateway connections for the whole backlog, kept alive from batch to batch;
        # each batch's answers are committed with the next claim (the last claim finds none).
        backends = sms.configured_backends()
        try:
            while claimed := sms.deliver_batch(batch, backends, leave_record_open=True):
                total += claimed
        finally:
            for backend in backends:
                backend.close()
        wake = sms.next_due_at()
    if wake is not None:
        _book_look(wake)
    return total


def _book_look(wake):
    """Schedule one delivery look at `wake` (a retry or an expiring claim), once however many ask."""
    from models.base import now

    key = f"binhai.sms_wake.{wake:%Y%m%d%H%M%S}"
    if huey.put_if_empty(key, "1"):
        deliver_pending.schedule(kwargs={"wake_key": key}, delay=max((wake - now()).total_seconds(), 1))


@huey.periodic_task(crontab(minute="*"))
def minute_sweep():
    """Every minute: note the worker is alive, queue due reminders, deliver (dead claims requeued)."""
    from models.base import now

    huey.put(HEARTBEAT_KEY, now().isoformat(sep=" "))
    queue_reminders()
    deliver_pending()


def worker_last_seen():
    """The campaign-local time of the worker's last minute sweep, or None."""
    value = huey.get(HEARTBEAT_KEY, peek=True)
    return datetime.fromisoformat(value) if isinstance(value, str) else None


# ---------------------------------------------------------------- reminders

def queue_reminders(at=None):
    """Queue the reminders due at `at` (now): the day before, and hours before, each window."""
    from extensions import db
    from models.reminders import queue_due_reminders

    with app_context():
        queued = queue_due_reminders(at)
        db.session.commit()
    return queued


# ---------------------------------------------------------------- clean-ups and checks

@huey.periodic_task(crontab(minute="17"))
def hourly_purge():
    """Remove expired SMS codes, rejected-import files past their day, and old job records."""
    from models.housekeeping import purge_expired

    with app_context():
        return _run_job("purge", purge_expired)


@huey.periodic_task(crontab(minute="40"))
def nightly_check_data():
    """Once a night (CHECK_DATA_HOUR, campaign time): the consistency checks, kept for the admin."""
    from models.base import now
    from models.housekeeping import ran_today

    with app_context() as app:
        if now().hour != app.config.get("CHECK_DATA_HOUR", 2) or ran_today("check_data"):
            return None
        return _run_job("check_data", check_data_job)


def check_data_job():
    """Run `check-data`; return (ok, report)."""
    from extensions import db
    from services.consistency import format_report, run_checks

    with db.engine.connect() as connection:
        findings = run_checks(connection)
    return all(finding.ok for finding in findings), format_report(findings)


def _run_job(name, job):
    """Run `job` and keep its result as a JobRun row (后台任务); return the summary."""
    from extensions import db
    from models.base import now
    from models.sms import JobRun

    run = JobRun(job=name, started_at=now())
    try:
        ok, summary = job()
    except Exception as error:  # noqa: BLE001 - recorded for the admin, then re-raised for the log
        db.session.rollback()
        db.session.add(JobRun(job=name, started_at=run.started_at, finished_at=now(), ok=False,
                              summary=f"运行出错：{type(error).__name__}"))
        db.session.commit()
        raise
    run.ok, run.summary, run.finished_at = ok, summary, now()
    db.session.add(run)
    db.session.commit()
    return summary


def queue_health():
    """/healthz figures: the queue reachable, tasks waiting, the SMS backlog, the worker's last sweep."""
    from models.base import now
    from services.sms import queue_figures

    figures = {"backend": "redis" if _queue_url() else "sqlite"}
    try:
        figures["tasks_waiting"] = huey.pending_count()
        seen = worker_last_seen()
        figures["worker_seen_seconds_ago"] = int((now() - seen).total_seconds()) if seen else None
        figures["reachable"] = True
    except Exception as error:  # noqa: BLE001 - reported, not raised
        figures.update(reachable=False, error=type(error).__name__)
    figures.update(queue_figures())
    return figures

