"""Every path over windows and persons locks the windows first, in ascending id order (PostgreSQL).

A window cancellation locks its windows, then updates their people. 完成接种 used to update the
person and then give back their dose-2 place (the window), and 改约 to take the new window,
update the person, then give back the old one: against a cancellation (or another 改约) going
the other way, each held a row the other waited for. Here a second connection holds the first
window the operation needs and checks, while the operation waits for it, that it took nothing
after it yet: the person's row and the higher window are still free (NOWAIT succeeds).
"""

import threading
import time as clock
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import text

from extensions import db as _db
from models import AppointmentSlot, Person, User, appointments, today
from models.vaccines import seed_vaccine_products, set_station_products
from models.workflow import apply_transition

pytestmark = pytest.mark.postgres_only
CHO = "重组新冠病毒蛋白疫苗(CHO细胞)"
VERO = "新冠病毒灭活疫苗(Vero细胞)"


def at(days, hour=9):
    return datetime.combine(today() + timedelta(days=days), time(hour))


def _while_waiting_on(app, db, window_id, operation, free_rows):
    """Hold `window_id`, run `operation` in a thread until it waits for a lock, try `free_rows` NOWAIT.

    Returns the rows ((table, id)) the holder could not lock, and the thread's errors.
    """
    errors, busy = [], []
    with db.engine.connect() as holder:
        holder.execute(text("SELECT id FROM appointment_slot WHERE id = :id FOR UPDATE"), {"id": window_id})
        holder_pid = holder.execute(text("SELECT pg_backend_pid()")).scalar_one()

        def run():
            try:
                with app.app_context():
                    operation()
                    _db.session.commit()
            except Exception as error:  # noqa: BLE001 - reported by the assertion of the caller
                errors.append(error)

        thread = threading.Thread(target=run)
        thread.start()
        deadline = clock.monotonic() + 20
        while clock.monotonic() < deadline and thread.is_alive():
            waiting = holder.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> :pid "
                "AND wait_event_type = 'Lock'"), {"pid": holder_pid}).scalar_one()
            if waiting:
                break
            clock.sleep(0.05)
        assert thread.is_alive(), "the operation never waited for the held window"
        for table, row_id in free_rows:
            holder.execute(text("SAVEPOINT probe"))
            try:
                holder.execute(text(f"SELECT id FROM {table} WHERE id = :id FOR UPDATE NOWAIT"), {"id": row_id})
                holder.execute(text("RELEASE SAVEPOINT probe"))
            except Exception:  # noqa: BLE001 - lock not available: the operation holds it
                holder.execute(text("ROLLBACK TO SAVEPOINT probe"))
                busy.append((table, row_id))
        holder.rollback()  # lets the operation go on (it would deadlock on a row we hold otherwise)
        thread.join(timeout=30)
    assert not thread.is_alive()
    return busy, errors


def test_vaccinating_locks_the_dose_two_window_before_the_person(app, db, is_postgres, make_station, make_slot,
                                                                make_enterprise, make_persons, make_user):
    if not is_postgres:
        pytest.skip("needs PostgreSQL: row locks")
    products = seed_vaccine_products()
    station = make_station("锁顺序接种点")
    set_station_products(make_user("center"), station, [products[VERO].id, products[CHO].id])
    today_window = make_slot(station, starts_at=datetime.combine(today(), time(0)) + timedelta(minutes=1),
                             capacity=5)
    today_window.ends_at = datetime.combine(today(), time(23, 59))
    reserved = make_slot(station, starts_at=at(25), capacity=5)
    reserved.booked = 1  # the dose-2 place (make_persons counts the dose-1 booking only)
    [pid] = make_persons(make_enterprise(), 1, status="appointed", station=station, slot=today_window,
                         reserved_slot_id=reserved.id)
    desk = make_user("station", station)
    apply_transition("check_in", desk, ids=[pid])
    desk_id, cho_id = desk.id, products[CHO].id
    db.session.commit()

    def vaccinate():
        # CHO's dose 2 comes 28 days later: the place on day 25 is outside it and is given back.
        apply_transition("vaccinate", _db.session.get(User, desk_id), ids=[pid],
                         product=_db.session.get(type(products[CHO]), cho_id),
                         extra={"vaccine_lot": "L1", "signature_png": b"\x89PNG"})

    busy, errors = _while_waiting_on(app, db, reserved.id, vaccinate, [("person", pid)])
    assert errors == [] and busy == []
    db.session.expire_all()
    person = db.session.get(Person, pid)
    assert (person.status, person.doses_given, person.reserved_slot_id) == ("due_next", 1, None)
    assert db.session.get(AppointmentSlot, reserved.id).booked == 0


def test_rescheduling_locks_the_old_window_before_the_new_one(app, db, is_postgres, make_station, make_slot,
                                                             make_enterprise, make_persons, make_user):
    if not is_postgres:
        pytest.skip("needs PostgreSQL: row locks")
    station = make_station("改约锁顺序接种点")
    old = make_slot(station, starts_at=at(2), capacity=5)
    new = make_slot(station, starts_at=at(3), capacity=5)
    assert old.id < new.id
    [pid] = make_persons(make_enterprise(), 1, status="appointed", station=station, slot=old)
    center_id = make_user("center").id
    old_id, new_id = old.id, new.id
    db.session.commit()

    def reschedule():
        appointments.reschedule(_db.session.get(User, center_id), Person.id == pid,
                                _db.session.get(AppointmentSlot, new_id), notice=lambda slot: "改约")

    busy, errors = _while_waiting_on(app, db, old_id, reschedule, [("appointment_slot", new_id), ("person", pid)])
    assert errors == [] and busy == []
    db.session.expire_all()
    assert db.session.get(Person, pid).slot_id == new_id
    assert [db.session.get(AppointmentSlot, w).booked for w in (old_id, new_id)] == [0, 1]
