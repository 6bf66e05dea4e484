"""全部审核 / 全部分配 on a batch of people through apply_transition, beside raw SQL doing the same."""

from sqlalchemy import and_, bindparam, func, select, text

from bench.harness import Row, interleaved, median
from extensions import db
from models.counters import PersonStatusCount, mismatches
from models.org import Station
from models.person import Person
from models.status import ALLOCATED, CENTER_APPROVED, DEPT_APPROVED, STAGE_STAMP
from models.workflow import apply_transition

TARGET = "≤ 2× baseline"
# (label, action, from, to)
BATCHES = (
    ("全部审核 (center_approve)", "center_approve", DEPT_APPROVED, CENTER_APPROVED),
    ("全部分配 (allocate)", "allocate", CENTER_APPROVED, ALLOCATED),
)
LATER_STAMPS = {
    CENTER_APPROVED: ("allocated", "appointed", "checked_in", "finished"),
    ALLOCATED: ("appointed", "checked_in", "finished"),
}


def chosen_enterprises(status, batch):
    """The first enterprises (by id) that together hold about `batch` people in `status`.

    A 全部… button acts on a tree node or a filtered list: people of some enterprises in
    one status. The batch is such a list, sized to `batch` people.
    """
    chosen, total = [], 0
    rows = db.session.execute(
        select(PersonStatusCount.enterprise_id, PersonStatusCount.n)
        .where(PersonStatusCount.status == status, PersonStatusCount.n > 0)
        .order_by(PersonStatusCount.enterprise_id)
    )
    for enterprise_id, n in rows:
        if total >= batch:
            break
        chosen.append(enterprise_id)
        total += n
    return chosen


def chosen_people(status, enterprises):
    """The condition a 全部… button hands to apply_transition for those enterprises' people in `status`."""
    return and_(Person.status == status, Person.enterprise_id.in_(enterprises))


def raw_move(ctx, action, source, target, actor, station_id, enterprises, batch):
    """One INSERT of the audit event, one UPDATE, one INSERT ... SELECT of the history, commit."""
    event_id = db.session.execute(text(
        "INSERT INTO audit_event (at, user_id, username, role, action, from_status, to_status, requested, changed, "
        "target_type) VALUES (CURRENT_TIMESTAMP, :user, :username, :role, :action, :source, :target, :n, 0, "
        "'person') RETURNING id"
    ), {"user": actor.id, "username": actor.username, "role": actor.role, "action": action, "source": source,
        "target": target, "n": batch}).scalar_one()
    stamp = STAGE_STAMP[target]
    cleared = "".join(f", {s}_at = NULL, {s}_by_id = NULL" for s in LATER_STAMPS[target])
    station = ", station_id = :station" if station_id else ""
    with ctx.plain_schema():
        changed = _raw_statements(event_id, stamp, cleared, station, target, actor, station_id, source,
                                  enterprises)
    db.session.commit()
    return event_id, changed


def _raw_statements(event_id, stamp, cleared, station, target, actor, station_id, source, enterprises):
    changed = db.session.execute(text(
        f"UPDATE person SET previous_status = status, status = :target, last_event_id = :event, "
        f"version = version + 1, {stamp}_at = CURRENT_TIMESTAMP, {stamp}_by_id = :user{cleared}{station} "
        "WHERE status = :source AND enterprise_id IN :enterprises"
    ).bindparams(bindparam("enterprises", expanding=True)),
        {"target": target, "event": event_id, "user": actor.id, "station": station_id, "source": source,
         "enterprises": enterprises}).rowcount
    db.session.execute(text(
        "INSERT INTO person_event (event_id, person_id, from_status, to_status) "
        "SELECT :event, id, previous_status, status FROM person WHERE last_event_id = :event"
    ), {"event": event_id})
    db.session.execute(text("UPDATE audit_event SET changed = :n WHERE id = :event"),
                       {"n": changed, "event": event_id})
    return changed


def undo(ctx, event_id, source, target, plain):
    """Put the people of a timed batch back where they were (not timed), on the schema it ran on."""
    stamp = STAGE_STAMP[target]
    station = ", station_id = NULL" if source == CENTER_APPROVED else ""
    statement = text(
        f"UPDATE person SET status = :source, previous_status = NULL, last_event_id = NULL, "
        f"{stamp}_at = NULL, {stamp}_by_id = NULL{station} WHERE last_event_id = :event"
    )
    # A write first: SQLite then holds one transaction around the trigger DDL of plain_schema().
    db.session.execute(text("DELETE FROM person_event WHERE event_id = :event"), {"event": event_id})
    if plain:
        with ctx.plain_schema():
            db.session.execute(statement, {"source": source, "event": event_id})
    else:
        db.session.execute(statement, {"source": source, "event": event_id})
    db.session.execute(text("DELETE FROM audit_event WHERE id = :event"), {"event": event_id})
    db.session.commit()
    ctx.settle()


def measure(ctx):
    rows = []
    with ctx.app.app_context():
        center = ctx.user("center")
        station = db.session.execute(select(Station).order_by(Station.id).limit(1)).scalar_one()
        for label, action, source, target in BATCHES:
            rows.append(_measure_batch(ctx, label, action, source, target, center, station))
        wrong = mismatches()
        if wrong:
            for row in rows:
                row.passed = False
                row.note += f" counters disagree with the persons afterwards: {wrong[:3]}"
    return rows


def _measure_batch(ctx, label, action, source, target, center, station):
    enterprises = chosen_enterprises(source, ctx.batch)
    batch = db.session.execute(
        select(func.count()).select_from(Person).where(chosen_people(source, enterprises))
    ).scalar_one()
    changed, pending_undo = {}, []

    def through_workflow():
        kwargs = {"station": db.session.get(Station, station.id)} if action == "allocate" else {}
        result = apply_transition(action, center, where=chosen_people(source, enterprises), **kwargs)
        db.session.commit()
        changed["workflow"] = result.changed
        pending_undo.append((result.event_id, target, False))

    def raw():
        event_id, count = raw_move(ctx, action, source, target, center,
                                   station.id if action == "allocate" else None, enterprises, batch)
        changed["raw"] = count
        pending_undo.append((event_id, target, True))

    def undo_previous():
        while pending_undo:
            event_id, moved_to, plain = pending_undo.pop()
            undo(ctx, event_id, source, moved_to, plain)

    times_w, times_b = interleaved(ctx.repeat, through_workflow, raw, warmup=1, before=undo_previous)
    ok = changed.get("workflow") == changed.get("raw") == batch
    row = Row(f"{label}, {batch:,} people of {len(enterprises):,} enterprises, audit rows included",
              ctx.engine, ctx.persons,
              measured=median(times_w), baseline=median(times_b), unit="s", target=TARGET,
              note="" if ok else f"changed {changed} of {batch}")
    row.passed = bool(ok and row.ratio <= 2.0)
    ctx.log(f"{label}: workflow {row.measured:.3f} s, raw {row.baseline:.3f} s, ratio {row.ratio:.2f}")
    return row
