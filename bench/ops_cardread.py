"""The station desk lookup by ID number through the reader API, beside one raw indexed SELECT."""

import uuid

from sqlalchemy import select, text

from bench.harness import Row, interleaved, median
from extensions import db
from models.base import now
from models.org import Station
from models.person import Person
from models.reader import ReaderToken
from models.status import APPOINTED

TARGET_S = 0.005
TARGET = f"≤ {TARGET_S * 1000:.0f} ms server time"


def measure(ctx):
    with ctx.app.app_context():
        person = db.session.execute(
            select(Person.id_number, Person.name, Person.station_id).where(Person.status == APPOINTED)
            .order_by(Person.id.desc()).limit(1)
        ).one()
        _, token = ReaderToken.issue(db.session.get(Station, person.station_id), "bench desk")
        db.session.commit()
    client = ctx.app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    answers = []

    def card_read():
        body = {"read_id": str(uuid.uuid4()), "id_number": person.id_number, "name": person.name,
                "reader": "bench", "read_at": now().isoformat()}
        response = client.post("/api/v1/card-reads", json=body, headers=headers)
        answers.append((response.status_code, (response.get_json() or {}).get("verdict")))

    def raw_select():
        with ctx.app.app_context():
            db.session.execute(text("SELECT id, name, status, station_id, slot_id FROM person WHERE id_number = :n"),
                               {"n": person.id_number}).one()
            db.session.rollback()

    times, times_base = interleaved(max(ctx.repeat, 20), card_read, raw_select, warmup=3)
    ok = all(status == 201 for status, _ in answers)
    verdicts = sorted({verdict for _, verdict in answers if verdict})
    row = Row("station desk card read (POST /api/v1/card-reads, match + stored read + commit)", ctx.engine,
              ctx.persons, measured=median(times), baseline=median(times_base), unit="ms", target=TARGET,
              note=("verdict " + ", ".join(verdicts)) if ok else f"answers {sorted(set(answers))[:3]}")
    row.passed = bool(ok and row.measured <= TARGET_S)
    ctx.log(f"card read: {row.measured * 1000:.2f} ms, raw SELECT {row.baseline * 1000:.2f} ms")
    return [row]
