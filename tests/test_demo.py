"""The demo district lives today: windows from today on, doses over the last two weeks, a desk queue now,
and every person's history in the order of their stage times (issue 18, items 12 and 13)."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from admin_views.station_queue import queue_context
from extensions import db as _db
from models import AppointmentSlot, AuditEvent, DoseCount, Person, PersonEvent, Station, User, Vaccination, now
from models.base import clock_at
from models.demo import seed
from models.demo_timeline import _apportion, _split
from models.dose_counts import daily_doses, district_doses
from models.stats import day_bounds, station_breakdown
from models.status import APPOINTED, CHECKED_IN, DUE_NEXT, STAGE_STAMP
from services.consistency import run_checks


@pytest.fixture(scope="module")
def demo(app):
    """The demo district, seeded once for these read-only tests: the moment seeding began."""
    with app.app_context():
        started = now()
        seed(enterprise_count=40, person_count=800)
        _db.session.commit()
        yield started
        _db.session.remove()
        with _db.engine.begin() as connection:
            for table in reversed(_db.metadata.sorted_tables):
                connection.execute(table.delete())


@pytest.fixture
def db(demo):
    return _db


def _day(column):
    return func.date(column)


def _on(column, day):
    start, end = day_bounds(day)
    return (column >= start) & (column < end)


def test_every_station_has_windows_today_and_in_each_of_the_coming_days(db, demo):
    today = demo.date()
    stations = db.session.execute(select(Station.id)).scalars().all()
    days = {(station_id, str(day)[:10]) for station_id, day in db.session.execute(
        select(AppointmentSlot.station_id, _day(AppointmentSlot.starts_at)).distinct())}
    for station_id in stations:
        for ahead in range(7):
            assert (station_id, str(today + timedelta(days=ahead))) in days


def test_doses_are_spread_over_the_last_two_weeks_with_second_doses_and_people_due_next(db, demo):
    today = demo.date()
    first_day = today - timedelta(days=13)
    per_day = dict(db.session.execute(
        select(_day(Vaccination.at), func.count()).where(Vaccination.at >= first_day, Vaccination.outcome == "given")
        .group_by(_day(Vaccination.at))).all())
    assert len(per_day) >= 12, per_day  # not one day of history: nearly every day of the chart
    doses = set(db.session.execute(select(Vaccination.dose_number).where(Vaccination.at >= first_day)).scalars())
    assert {1, 2} <= doses
    assert db.session.execute(select(func.count()).where(Person.status == DUE_NEXT)).scalar_one() > 0
    # the 14-day chart and the 今日 figures read these doses from the counters the database keeps
    chart = daily_doses(14, today)
    assert sum(1 for _, n in chart if n.get("dose1") or n.get("dose2")) >= 12, chart
    assert district_doses(today)["today"], "今日 第1剂/第2剂 are empty"


def test_the_dose_counters_agree_with_the_dose_records_day_by_day(db, demo):
    counted = dict(db.session.execute(
        select(DoseCount.day, func.sum(DoseCount.n)).where(DoseCount.kind.in_(("dose1", "dose2", "dose3")))
        .group_by(DoseCount.day)).all())
    recorded = dict(db.session.execute(
        select(_day(Vaccination.at), func.count())
        .where(Vaccination.outcome == "given", Vaccination.state == "valid").group_by(_day(Vaccination.at))).all())
    assert {str(day)[:10]: int(n) for day, n in counted.items() if n} == {str(d)[:10]: n for d, n in recorded.items()}


def test_people_are_booked_for_today_and_some_are_waiting_at_the_demo_desks(db, demo):
    today = demo.date()
    booked_today = db.session.execute(
        select(func.count()).select_from(Person).join(AppointmentSlot, Person.slot_id == AppointmentSlot.id)
        .where(_on(AppointmentSlot.starts_at, today), Person.status.in_((APPOINTED, CHECKED_IN)))
    ).scalar_one()
    assert booked_today > 0
    for username in ("station01", "station02"):  # the station accounts the README lists
        station_id = db.session.execute(select(User.station_id).where(User.username == username)).scalar_one()
        queue = queue_context(station_id)["queue_rows"]
        assert queue, f"{username} has nobody waiting"
        assert all(row["person"].checked_in_at.date() == today and row["wait_seconds"] >= 0 for row in queue)
        to_come = db.session.execute(
            select(func.count()).select_from(Person).join(AppointmentSlot, Person.slot_id == AppointmentSlot.id)
            .where(Person.station_id == station_id, Person.status == APPOINTED,
                   _on(AppointmentSlot.starts_at, today))).scalar_one()
        assert to_come, f"nobody left for {username}'s desk to check in today"
    rows = station_breakdown(today)
    assert sum(r["appointed_today"] for r in rows) > 0 and sum(r["checked_in_today"] for r in rows) > 0


def test_each_persons_history_is_in_order_and_matches_their_stage_times(db, demo):
    events = db.session.execute(
        select(PersonEvent.person_id, PersonEvent.to_status, AuditEvent.at)
        .join(AuditEvent, PersonEvent.event_id == AuditEvent.id).order_by(PersonEvent.person_id, AuditEvent.id)
    ).all()
    history = {}
    for person_id, to_status, at in events:
        history.setdefault(person_id, []).append((to_status, at))
    assert max(at for _, _, at in events) <= now()  # nothing happened in the future
    stamps = sorted(set(STAGE_STAMP.values()), key=list(STAGE_STAMP.values()).index)
    for person in db.session.execute(select(Person)).scalars():
        moves = history.get(person.id, [])
        times = [at for _, at in moves]
        assert times == sorted(times), f"person {person.id}: history out of order {moves}"
        assert person.created_at <= (times[0] if times else now())
        assert (moves[-1][0] if moves else "registered") == person.status
        for stamp in stamps:
            reached = [at for status, at in moves if STAGE_STAMP.get(status) == stamp]
            stamped = getattr(person, f"{stamp}_at")
            if stamped is not None:  # stamped at the last move that reached the stage
                assert reached and stamped == reached[-1], f"person {person.id}: {stamp}_at {stamped} vs {moves}"


def test_past_doses_were_given_inside_their_windows_and_check_data_is_clean(db, demo):
    rows = db.session.execute(
        select(Vaccination.at, AppointmentSlot.starts_at, AppointmentSlot.ends_at)
        .join(AppointmentSlot, Vaccination.slot_id == AppointmentSlot.id)
    ).all()
    assert rows
    for at, starts, ends in rows:
        if starts.date() < demo.date():
            assert starts <= at <= ends
        else:
            assert at <= now()
    with db.engine.connect() as connection:
        failed = [f.check.key for f in run_checks(connection) if not f.ok]
    assert failed == []


def test_bookings_are_apportioned_by_weight_and_split_into_near_equal_runs():
    assert _apportion(10, [1, 3, 1]) == [2, 6, 2]
    assert _apportion(2, [1, 1, 1]) == [1, 1, 0] and sum(_apportion(7, [3, 1, 1, 1])) == 7
    assert _apportion(5, [0, 0]) == [0, 0]
    assert _split([1, 2, 3, 4, 5], 2) == [[1, 2, 3], [4, 5]] and _split([1], 4) == [[1], [], [], []]


def test_the_demo_clock_holds_in_its_own_thread_only():
    moment = now() - timedelta(days=30)
    seen = []
    with clock_at(moment):
        worker = threading.Thread(target=lambda: seen.append(now()))  # e.g. a request served meanwhile
        worker.start()
        worker.join()
        assert now() == moment.replace(microsecond=0)
    assert seen[0] > moment + timedelta(days=29) and now() > moment + timedelta(days=29)
