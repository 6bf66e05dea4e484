"""Public form submissions under gunicorn (2 workers) beside a bare insert endpoint; p99 during a batch.

gunicorn runs the project's gunicorn.conf.py (gthread workers) with bench.wsgi:app, and
a load generator on 127.0.0.1 (bench/loadgen.py) posts real people to the employee form
/e/<token> (after fetching its CSRF token, as a phone does) or to /bench/bare-insert.
Afterwards the rows are counted: every acknowledged submission must be there, once.
"""

import itertools
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import select, text

from bench.dataset import IdNumbers
from bench.harness import RESULTS_DIR, Row, median, not_measured
from bench.loadgen import percentile, run_closed, run_open
from bench.ops_workflow import chosen_enterprises, chosen_people, undo
from extensions import db
from models.base import today
from models.options import PERSON_CATEGORY, option_labels
from models.org import Enterprise
from models.status import CENTER_APPROVED, DEPT_APPROVED
from models.workflow import apply_transition

ROOT = Path(__file__).resolve().parent.parent
TARGET_SHARE = 0.7
TARGET_P99 = 2.0
OPEN_LOOP_SHARE = 0.3  # the steady load of the p99 runs, as a share of the form's capacity
WORKERS = 2
FORM_OK, BARE_OK = 302, 201


def rate_limit_storage():
    """Redis on this machine if it answers (as a production set-up with REDIS_URL), else memory."""
    url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
        return url
    except Exception:  # noqa: BLE001 - no Redis here: in-memory counters per worker
        return "memory://"


class GunicornServer:
    """gunicorn with the project's config, WORKERS workers, on a free port of 127.0.0.1."""

    def __init__(self, url, out_dir):
        self.url = url
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process = None
        self.log_path = Path(out_dir or RESULTS_DIR) / "gunicorn.log"

    def __enter__(self):
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, BENCH_DATABASE_URL=self.url, SECRET_KEY=secrets.token_hex(32),
                   BENCH_RATELIMIT_STORAGE=rate_limit_storage(),
                   WEB_CONCURRENCY=str(WORKERS), BIND=f"127.0.0.1:{self.port}", LOG_LEVEL="warning",
                   APP_ENV="production", PYTHONPATH=str(ROOT))
        self.log = open(self.log_path, "w")  # noqa: SIM115 - closed in __exit__
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "bench.wsgi:app"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.log_path}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start within 60 s")

    def __exit__(self, *exc):
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


class People:
    """Fresh people for the load: unique valid ID numbers outside the dataset's, tagged per run."""

    def __init__(self, start_serial, enterprise_id, category):
        self.ids = IdNumbers(today())
        self.serial = itertools.count(start_serial)
        self.enterprise_id, self.category = enterprise_id, category

    def run(self, tag):
        while True:
            number, age, gender = self.ids(next(self.serial))
            yield {"id_number": number, "age": age, "gender": gender, "tag": tag}


def form_fields(category):
    def fields(person):
        return {"name": "压测员工", "gender": person["gender"], "id_number": person["id_number"],
                "age": str(person["age"]), "phone": "13900000000", "category": category, "lives_in_binhai": "1",
                "community": "压测小区", "remarks": person["tag"], "consent": "1"}
    return fields


def bare_fields(enterprise_id, category):
    def fields(person):
        return {"enterprise_id": enterprise_id, "name": "压测员工", "gender": person["gender"],
                "id_number": person["id_number"], "age": person["age"], "phone": "13900000000",
                "category": category, "community": person["tag"]}
    return fields


def stored_rows(ctx, tag, column):
    """The ID numbers stored by one run (tagged in remarks or community), and how many rows."""
    with ctx.app.app_context():
        numbers = list(db.session.execute(
            text(f"SELECT id_number FROM person WHERE {column} = :tag"), {"tag": tag}
        ).scalars())
        db.session.rollback()
    return numbers


def check_rows(ctx, outcome, success, tag, column):
    """(lost, duplicated, unacknowledged-but-stored) of one run."""
    acknowledged = {r[3] for r in outcome.ok(success)}
    numbers = stored_rows(ctx, tag, column)
    stored = set(numbers)
    return len(acknowledged - stored), len(numbers) - len(stored), len(stored - acknowledged)


def measure(ctx):
    with ctx.app.app_context():
        enterprise = db.session.execute(select(Enterprise).order_by(Enterprise.id.desc()).limit(1)).scalar_one()
        token, enterprise_id = enterprise.qr_token, enterprise.id
        category = option_labels(PERSON_CATEGORY)[0]
    people = People(20_000_000 + int(time.time()) % 1000 * 10_000, enterprise_id, category)
    form_path, bare_path = f"/e/{token}", "/bench/bare-insert"
    seconds = ctx.load_seconds
    rows = []
    storage = rate_limit_storage().split(":")[0]
    with GunicornServer(ctx.url, ctx.out_dir) as server:
        def form(tag, **kwargs):
            return run_closed(server.port, form_path, form_fields(category), people.run(tag), needs_token=True,
                              seconds=kwargs.pop("seconds", seconds), **kwargs)

        def bare(tag, **kwargs):
            return run_closed(server.port, bare_path, bare_fields(enterprise_id, category), people.run(tag),
                              needs_token=False, seconds=kwargs.pop("seconds", seconds), **kwargs)

        form("warm-form", seconds=1)
        bare("warm-bare", seconds=1)
        form_rates, bare_rates, problems = [], [], []
        for index in range(max(min(ctx.repeat, 3), 1)):
            for kind in (("form", "bare") if index % 2 == 0 else ("bare", "form")):
                tag = f"load-{kind}-{index}-{people.serial}"[:60]
                if kind == "form":
                    outcome = form(tag)
                    form_rates.append(outcome.throughput(FORM_OK))
                    lost, duplicated, extra = check_rows(ctx, outcome, FORM_OK, tag, "remarks")
                    errors = len(outcome.results) - len(outcome.ok(FORM_OK))
                else:
                    outcome = bare(tag)
                    bare_rates.append(outcome.throughput(BARE_OK))
                    lost, duplicated, extra = check_rows(ctx, outcome, BARE_OK, tag, "community")
                    errors = len(outcome.results) - len(outcome.ok(BARE_OK))
                if lost or duplicated or errors:
                    problems.append(f"{kind}: {lost} lost, {duplicated} duplicated, {errors} errors, "
                                    f"{outcome.broken} broken connections, {extra} stored without answer")
        row = Row(f"public form POST /e/<token>, gunicorn {WORKERS} workers, 16 connections (throughput)",
                  ctx.engine, ctx.persons, measured=median(form_rates), baseline=median(bare_rates), unit="req/s",
                  target=f"≥ {TARGET_SHARE:.0%} of the bare insert, zero lost or duplicated rows",
                  note="; ".join(problems) or f"every acknowledged row stored once; rate limit kept in {storage}")
        row.passed = bool(not problems and row.ratio >= TARGET_SHARE)
        ctx.log(f"form {row.measured:.0f} req/s, bare insert {row.baseline:.0f} req/s")
        rows.append(row)
        rows.append(_p99_during_batch(ctx, server, form_path, category, people, row.measured))
    return rows


def _p99_during_batch(ctx, server, form_path, category, people, capacity):
    label = "public form p99 latency while a 50,000-person 全部审核 runs"
    target = f"≤ {TARGET_P99:.0f}× the load alone (PostgreSQL)"
    if not ctx.is_postgres:
        return not_measured(label, ctx.engine, ctx.persons, target,
                            "PostgreSQL target; SQLite serialises writers, a submission waits for the batch")
    rate = max(round(capacity * OPEN_LOOP_SHARE), 10)
    seconds = ctx.load_seconds

    def load(tag):
        return run_open(server.port, form_path, form_fields(category), people.run(tag), needs_token=True,
                        rate=rate, seconds=seconds)

    alone_p99, during_p99, batch_seconds, problems = [], [], [], []
    # A p99 of a ~2-s window is a few hundred requests: every run counts, the median is reported.
    for index in range(max(ctx.repeat, 1)):
        alone = load(f"p99-alone-{index}-{people.serial}"[:60])
        alone_p99.append(percentile([r[1] for r in alone.results if r[2] == FORM_OK], 0.99))
        batch = {}
        thread = threading.Thread(target=_run_batch, args=(ctx, batch, 0.5))
        thread.start()
        during = load(f"p99-batch-{index}-{people.serial}"[:60])
        thread.join()
        if "error" in batch:
            raise batch["error"]
        inside = [r for r in during.results if batch["start"] <= r[0] <= batch["end"]]
        if not any(r[2] == FORM_OK for r in inside):
            # A tiny dataset's batch can end between two requests: judge the whole loaded run.
            problems_note = "batch shorter than one request: whole run used"
            if problems_note not in problems:
                ctx.log(problems_note)
            inside = during.results
        failed = [r for r in inside if r[2] != FORM_OK]
        if failed:
            problems.append(f"{len(failed)} failed during the batch")
        during_p99.append(percentile([r[1] for r in inside if r[2] == FORM_OK], 0.99))
        ctx.log(f"p99 run {index}: alone {alone_p99[-1] * 1000:.1f} ms of {len(alone.results)}, during "
                f"{during_p99[-1] * 1000:.1f} ms of {len(inside)} (p50 "
                f"{percentile([r[1] for r in inside], 0.5) * 1000:.1f}, max {max(r[1] for r in inside) * 1000:.1f})")
        batch_seconds.append(batch["end"] - batch["start"])
        with ctx.app.app_context():
            undo(ctx, batch["event_id"], DEPT_APPROVED, CENTER_APPROVED, plain=False)
    row = Row(label, ctx.engine, ctx.persons, measured=median(during_p99), baseline=median(alone_p99), unit="ms",
              target=target,
              note=(f"open loop {rate} req/s ({OPEN_LOOP_SHARE:.0%} of capacity); batch of "
                    f"{batch['changed']:,} took {median(batch_seconds):.1f} s") + ("; " + "; ".join(problems)
                                                                                     if problems else ""))
    row.passed = bool(not problems and row.ratio <= TARGET_P99)
    ctx.log(f"p99 during batch {row.measured * 1000:.1f} ms, alone {row.baseline * 1000:.1f} ms")
    return row


def _run_batch(ctx, into, delay):
    """全部审核 of a batch through the workflow, in its own thread and session; times go into `into`."""
    try:
        time.sleep(delay)
        with ctx.app.app_context():
            center = ctx.user("center")
            enterprises = chosen_enterprises(DEPT_APPROVED, ctx.batch)
            into["start"] = time.perf_counter()
            result = apply_transition("center_approve", center, where=chosen_people(DEPT_APPROVED, enterprises))
            db.session.commit()
            into["end"] = time.perf_counter()
            into["event_id"], into["changed"] = result.event_id, result.changed
    except Exception as error:  # noqa: BLE001 - handed to the main thread
        into["error"] = error
