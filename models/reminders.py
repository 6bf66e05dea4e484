"""Appointment reminders: an SMS the day before and some hours before each booked window.

One INSERT … SELECT per reminder kind queues every due reminder; the unique dedupe key
(kind, person, slot) makes a second run of the scheduler, or two schedulers, queue
nothing more. Only people still 已预约 get one: checked in, cancelled or moved people
no longer match (a moved person gets the reminder of the new window).

The text is put together in the SELECT from the words of the UI table (admin_views/labels.py
REMINDER_WORDS), which installs them here (`use_words`) when it is imported, as every app,
worker and command does.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from flask import current_app
from sqlalchemy import String, cast, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite

from extensions import db
from models.base import now
from models.org import AppointmentSlot, Station
from models.person import Person
from models.sms import QUEUED, SmsMessage
from models.status import APPOINTED
from services.sms import deliver_after_commit


@dataclass(frozen=True)
class ReminderWords:
    """The text of a reminder: before the window, between window and station, after the station;
    and the words after the month and the day of the window's date."""

    before: str
    at_station: str
    after: str
    month: str
    day: str


_words = None


def use_words(words):
    """Word the reminders with `words` (a ReminderWords; called once by the UI table)."""
    global _words
    _words = words


REMINDER_COLUMNS = ["phone", "body", "kind", "status", "created_at", "attempts", "next_attempt_at", "dedupe_key"]


def reminder_settings():
    """(time of day of the day-before reminder, hours before the window of the second one)."""
    config = current_app.config
    day_before_at = datetime.strptime(config.get("REMINDER_DAY_BEFORE_AT", "18:00"), "%H:%M").time()
    return day_before_at, config.get("REMINDER_HOURS_BEFORE", 2)


def _clock(column, with_date):
    """A window time as text in SQL (month, day and time, e.g. 12-02 09:00 as worded), on either database."""
    if db.engine.dialect.name == "postgresql":
        return func.to_char(column, f'MM"{_words.month}"DD"{_words.day}" HH24:MI' if with_date else "HH24:MI")
    return func.strftime(f"%m{_words.month}%d{_words.day} %H:%M" if with_date else "%H:%M", column)


def _reminder_select(kind, slot_condition, at):
    body = (literal(_words.before) + _clock(AppointmentSlot.starts_at, True)
            + literal("-") + _clock(AppointmentSlot.ends_at, False) + literal(_words.at_station) + Station.name
            + literal(_words.after))
    dedupe = (literal(f"reminder:{kind}:") + cast(Person.id, String) + literal(":")
              + cast(AppointmentSlot.id, String))
    return (
        select(Person.phone, body, literal(f"reminder_{kind}"), literal(QUEUED), literal(at), literal(0),
               literal(at), dedupe)
        .select_from(Person)
        .join(AppointmentSlot, AppointmentSlot.id == Person.slot_id)
        .join(Station, Station.id == AppointmentSlot.station_id)
        .where(Person.status == APPOINTED, slot_condition)
    )


def insert_ignoring_repeats(selection):
    """INSERT … SELECT into the outbox, skipping rows whose dedupe key is there already; return how many."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(SmsMessage.__table__).from_select(REMINDER_COLUMNS, selection)
    statement = statement.on_conflict_do_nothing(index_elements=["dedupe_key"])
    if dialect is sqlite:
        return db.session.execute(statement).rowcount
    # psycopg reports no rowcount for this statement; the rows are counted in the database, as
    # fetching 100,000 returned ids into Python took half as long as the insert itself.
    inserted = statement.returning(literal(1)).cte("inserted")
    return db.session.execute(select(func.count()).select_from(inserted)).scalar_one()


def queue_due_reminders(at=None):
    """Queue every reminder due at `at` (default now); return how many were queued."""
    at = at or now()
    day_before_at, hours_before = reminder_settings()
    queued = 0
    if at.time() >= day_before_at:
        tomorrow = datetime.combine(at.date() + timedelta(days=1), time())
        queued += insert_ignoring_repeats(_reminder_select(
            "day_before", AppointmentSlot.starts_at.between(tomorrow, tomorrow + timedelta(days=1, seconds=-1)), at))
    soon = (AppointmentSlot.starts_at > at) & (AppointmentSlot.starts_at <= at + timedelta(hours=hours_before))
    queued += insert_ignoring_repeats(_reminder_select("hours_before", soon, at))
    if queued:
        deliver_after_commit()
    return queued
