"""全部审核 / 全部分配 on a batch of people through apply_transition, beside raw SQL doing the same."""

from datetime import timedelta

from sqlalchemy import and_, bindparam, func, select, text, update

from bench.harness import Row, interleaved, median
from extensions import db
from models.appointments import book_in_phases, next_dose_opening, slot_ids_between
from models.audit import AuditEvent
from models.base import today
from models.counters import PersonStatusCount, mismatches
from models.org import AppointmentSlot, Station
from models.person import Person
from models.sms import SmsMessage
from models.status import ALLOCATED, APPOINTED, CENTER_APPROVED, DEPT_APPROVED, DUE_NEXT, STAGE_STAMP
from models.workflow import apply_transition

TARGET = "≤ 2× baseline"
# The 待续种 booking's windows: from a week ahead to the last day the dataset has windows for.
DUE_FROM_DAYS, DUE_TO_DAYS = 7, 15
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
        rows.append(measure_due_booking(ctx, center))
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


# ---------------------------------------------------------------- 待续种 booking

DUE_LABEL = "待续种 booking (预约管理 待续种 按当前列表预约: book_in_phases into the station's windows)"
KEEP = "bench_due_keep"
RESTORED = ("previous_status", "slot_id", "previous_slot_id", "appointed_at", "appointed_by_id", "last_event_id",
            "version")


def gather_due_people(ctx, batch):
    """Move `batch` people due for dose 2 within the booking range to one station, with room for them (untimed).

    预约管理 books one station at a time, so a 50,000-person 待续种 booking is one station's list;
    the dataset spreads people over 50 stations, so the line first gathers them there.
    """
    first_day, last_day = today() + timedelta(days=DUE_FROM_DAYS), today() + timedelta(days=DUE_TO_DAYS)
    station = db.session.execute(select(Station).order_by(Station.id).limit(1)).scalar_one()
    due = next_dose_opening(today(), last_day)
    already = db.session.execute(select(func.count()).where(due, Person.station_id == station.id)).scalar_one()
    chosen = (select(Person.id).where(due, Person.station_id != station.id).order_by(Person.id)
              .limit(max(batch - already, 0)))
    db.session.execute(update(Person).where(Person.id.in_(chosen.scalar_subquery()))
                       .values(station_id=station.id).execution_options(synchronize_session=False))
    windows = db.session.execute(slot_ids_between(station.id, first_day, last_day)).scalars().all()
    room = batch // max(len(windows), 1) + 50
    db.session.execute(update(AppointmentSlot).where(AppointmentSlot.id.in_(windows))
                       .values(capacity=AppointmentSlot.booked + room).execution_options(synchronize_session=False))
    db.session.execute(text(f"DROP TABLE IF EXISTS {KEEP}"))
    db.session.execute(text(
        f"CREATE TABLE {KEEP} AS SELECT id, {', '.join(RESTORED)} FROM person "
        f"WHERE status = '{DUE_NEXT}' AND station_id = :station AND next_dose_earliest <= :last"
    ), {"station": station.id, "last": last_day})
    # The put-back reads it once per person: keyed, or it scans 50,000 rows 50,000 times.
    db.session.execute(text(f"CREATE UNIQUE INDEX {KEEP}_id ON {KEEP} (id)"))
    db.session.commit()
    ctx.settle()
    return station, first_day, last_day


def dose_two_notice(slot):
    return f"您的第2剂接种时间：{slot.starts_at:%m-%d %H:%M}，请携带身份证按时前往。"


def undo_due_booking(ctx, marker, station_id, plain):
    """Put the booked people back to 待续种 with their columns as they were; drop the events and texts (untimed)."""
    last_event, last_message = marker
    events = f"SELECT id FROM audit_event WHERE id > {int(last_event)}"
    restore = ", ".join(f"{c} = (SELECT k.{c} FROM {KEEP} k WHERE k.id = person.id)" for c in RESTORED)
    db.session.execute(text(f"DELETE FROM person_event WHERE event_id IN ({events})"))
    if not plain:  # the raw baseline leaves the windows' booked alone
        db.session.execute(text(
            "UPDATE appointment_slot SET booked = booked - (SELECT count(*) FROM person p WHERE p.slot_id = "
            f"appointment_slot.id AND p.status = '{APPOINTED}' AND p.id IN (SELECT id FROM {KEEP})) "
            "WHERE station_id = :station"), {"station": station_id})
    statement = text(f"UPDATE person SET status = '{DUE_NEXT}', {restore} "
                     f"WHERE status = '{APPOINTED}' AND id IN (SELECT id FROM {KEEP})")
    if plain:
        with ctx.plain_schema():
            db.session.execute(statement)
    else:
        db.session.execute(statement)
    db.session.execute(text(f"DELETE FROM sms_message WHERE id > {int(last_message)}"))
    db.session.execute(text(f"DELETE FROM audit_event WHERE id IN ({events})"))
    db.session.commit()
    ctx.settle()


def raw_due_booking(ctx, center, station_id, slot_id, last_day, batch):
    """The baseline: the audit event, one UPDATE of the due people into a window, one INSERT ... SELECT of history."""
    event_id = db.session.execute(text(
        "INSERT INTO audit_event (at, user_id, username, role, action, from_status, to_status, requested, changed, "
        "target_type) VALUES (CURRENT_TIMESTAMP, :user, :username, :role, 'appoint', :source, :target, :n, 0, "
        "'person') RETURNING id"
    ), {"user": center.id, "username": center.username, "role": center.role, "source": DUE_NEXT,
        "target": APPOINTED, "n": batch}).scalar_one()
    with ctx.plain_schema():
        changed = db.session.execute(text(
            "UPDATE person SET previous_status = status, status = :target, slot_id = :slot, last_event_id = :event, "
            "version = version + 1, appointed_at = CURRENT_TIMESTAMP, appointed_by_id = :user "
            "WHERE status = :source AND station_id = :station AND next_dose_earliest <= :last"
        ), {"target": APPOINTED, "slot": slot_id, "event": event_id, "user": center.id, "source": DUE_NEXT,
            "station": station_id, "last": last_day}).rowcount
        db.session.execute(text(
            "INSERT INTO person_event (event_id, person_id, from_status, to_status) "
            "SELECT :event, id, previous_status, status FROM person WHERE last_event_id = :event"
        ), {"event": event_id})
    db.session.commit()
    return changed


def measure_due_booking(ctx, center):
    station, first_day, last_day = gather_due_people(ctx, ctx.batch)
    batch = db.session.execute(text(f"SELECT count(*) FROM {KEEP}")).scalar_one()
    slot_id = db.session.execute(slot_ids_between(station.id, last_day, last_day)).scalars().all()[-1]
    marker = (db.session.execute(select(func.max(AuditEvent.id))).scalar_one(),
              db.session.execute(select(func.coalesce(func.max(SmsMessage.id), 0))).scalar_one())
    changed, pending_undo = {}, []

    def through_product():
        outcome = book_in_phases(center, db.session.get(Station, station.id), next_dose_opening(today(), last_day),
                                 batch, first_day, last_day, notice=dose_two_notice)
        db.session.commit()
        changed["product"] = outcome.booked
        pending_undo.append(False)

    def raw():
        changed["raw"] = raw_due_booking(ctx, center, station.id, slot_id, last_day, batch)
        pending_undo.append(True)

    def undo_previous():
        while pending_undo:
            undo_due_booking(ctx, marker, station.id, pending_undo.pop())

    times_p, times_r = interleaved(ctx.repeat, through_product, raw, warmup=1, before=undo_previous)
    undo_previous()
    ok = changed.get("product") == changed.get("raw") == batch
    row = Row(f"{DUE_LABEL}, {batch:,} people due for dose 2 at one station, texts queued, audit rows included",
              ctx.engine, ctx.persons, measured=median(times_p), baseline=median(times_r), unit="s", target=TARGET,
              note="" if ok else f"booked {changed} of {batch}")
    row.passed = bool(ok and row.ratio <= 2.0)
    ctx.log(f"待续种 booking: product {row.measured:.3f} s, raw {row.baseline:.3f} s, ratio {row.ratio:.2f}")
    return row
