"""The station desk lookup by ID number through the reader API, beside one raw indexed SELECT.

The card is of a person due for dose 2: the answer carries the dose verdict (which dose is
due, the last dose's date, product and station, the first allowed day).

The figure is server time: from the request entering the Flask app to the last byte of
its answer (a WSGI middleware stamps both), on an app with the reader rate limit on, as
in production. The test client's own work of building the request is left out; the
round trip through it is reported in the note.
"""

import time
import uuid

from sqlalchemy import select, text

from bench.database import bench_app
from bench.harness import Row, interleaved, median
from extensions import db
from models.base import now
from models.org import Station
from models.person import Person
from models.reader import ReaderToken
from models.status import DUE_NEXT

TARGET_RATIO = 4.0
TARGET = f"≤ {TARGET_RATIO:.0f}× one raw indexed SELECT round trip"


class ServerTimer:
    """WSGI middleware: the seconds from the call of the app to the close of its answer, per request."""

    def __init__(self, wsgi_app):
        self.wsgi_app, self.times = wsgi_app, []

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        body = b"".join(self.wsgi_app(environ, start_response))
        self.times.append(time.perf_counter() - started)
        return [body]


def _reads_apart(card_read, timer, count, gap):
    """Median server time of reads with a pause between them, as at a desk between two people."""
    timer.times.clear()
    for _ in range(count):
        time.sleep(gap)
        card_read()
    return median(timer.times)


def measure(ctx):
    app = bench_app(ctx.url, RATELIMIT_ENABLED=True, READER_RATE_LIMIT="100000 per minute")
    timer = app.wsgi_app = ServerTimer(app.wsgi_app)
    with app.app_context():
        person = db.session.execute(
            select(Person.id_number, Person.name, Person.station_id).where(Person.status == DUE_NEXT)
            .order_by(Person.id.desc()).limit(1)
        ).one()
        _, token = ReaderToken.issue(db.session.get(Station, person.station_id), "bench desk")
        db.session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    answers = []

    def card_read():
        body = {"read_id": str(uuid.uuid4()), "id_number": person.id_number, "name": person.name,
                "reader": "bench", "read_at": now().isoformat()}
        response = client.post("/api/v1/card-reads", json=body, headers=headers)
        answer = response.get_json() or {}
        answers.append((response.status_code, answer.get("verdict"), (answer.get("dose") or {}).get("label")))

    def raw_select():
        with app.app_context():
            db.session.execute(text("SELECT id, name, status, station_id, slot_id FROM person WHERE id_number = :n"),
                               {"n": person.id_number}).one()
            db.session.rollback()

    warmup = 10  # psycopg prepares a statement on its fifth use: a desk reads all day
    round_trips, times_base = interleaved(max(ctx.repeat, 20), card_read, raw_select, warmup=warmup)
    server_times = timer.times[warmup:]
    idle_desk = _reads_apart(card_read, timer, count=20, gap=0.05)
    with app.app_context():
        db.engine.dispose()
    ok = all(status == 201 and dose for status, _, dose in answers)
    verdicts = sorted({f"{verdict} (dose {dose})" for _, verdict, dose in answers if verdict})
    note = (f"verdict {', '.join(verdicts)}; through the test client {median(round_trips) * 1000:.1f} ms; "
            f"reads 50 ms apart (an idle desk: processes asleep between reads) {idle_desk * 1000:.1f} ms"
            if ok else f"answers {sorted(set(answers))[:3]}")
    row = Row("station desk card read with the dose verdict (POST /api/v1/card-reads: token, match, last dose, "
              "stored read, commit)", ctx.engine,
              ctx.persons, measured=median(server_times), baseline=median(times_base), unit="ms", target=TARGET,
              note=note)
    row.passed = bool(ok and row.ratio <= TARGET_RATIO)
    ctx.log(f"card read: {row.measured * 1000:.2f} ms server time ({median(round_trips) * 1000:.2f} ms round trip), "
            f"raw SELECT {row.baseline * 1000:.2f} ms")
    return [row]
