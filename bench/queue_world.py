"""The people the task-queue lines work on: two stations of their own, people to book, people to remind.

The district's stations hold a few thousand people each; a 50,000-person booking and
100,000 reminders need more in one place. So two stations are added with hourly windows
on one day each, three weeks ahead (after every window of the dataset): one with
`booking` allocated people (待预约), one with `reminders` people already booked into its
windows (已预约). Their phones are numbers of their own (199…), so every text the lines
queue is found by phone, and everything is removed afterwards, as it is left by a
crashed run of a kept database.
"""

import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import bindparam, insert, select, text

from bench.dataset import IdNumbers
from extensions import db
from models.base import now, today
from models.org import AppointmentSlot, Enterprise, Station
from models.person import Person
from models.status import ALLOCATED, APPOINTED, CENTER_APPROVED
from models.user import User

BOOKING_STATION, REMINDER_STATION = "短信基准预约接种点", "短信基准提醒接种点"
WINDOWS = [(time(hour), time(hour + 1)) for hour in (8, 9, 10, 11, 13, 14, 15, 16)]
SERIAL_BASE = 5_000_000  # above every serial the dataset uses: IdNumbers gives each its own ID number
CHUNK = 20_000
DAYS_AHEAD = 20  # the dataset's windows end 15 days ahead


@dataclass
class QueueWorld:
    booking_station: int
    reminder_station: int
    booking_day: object
    reminder_day: object
    booking: int
    reminders: int

    def book_form(self):
        day = self.booking_day.isoformat()
        return {"scope": "all", "amount": self.booking, "first_day": day, "last_day": day}


def build(booking, reminders, log=print):
    """Add the two stations, their windows and their people; return the QueueWorld."""
    remove()
    center = db.session.execute(select(User.id).where(User.username == "center")).scalar_one()
    enterprise = db.session.execute(select(Enterprise.id).order_by(Enterprise.id).limit(1)).scalar_one()
    booking_day = today() + timedelta(days=DAYS_AHEAD + 1)
    reminder_day = today() + timedelta(days=DAYS_AHEAD)
    world = QueueWorld(_station(BOOKING_STATION), _station(REMINDER_STATION), booking_day, reminder_day,
                       booking, reminders)
    _windows(world.booking_station, booking_day, booking)
    reminder_windows = _windows(world.reminder_station, reminder_day, reminders)
    ids = IdNumbers(today())
    people = _PersonRows(ids, enterprise, center)
    _insert(people.rows(0, booking, ALLOCATED, world.booking_station, []))
    _insert(people.rows(booking, reminders, APPOINTED, world.reminder_station, reminder_windows))
    db.session.execute(text(
        "UPDATE appointment_slot SET booked = (SELECT count(*) FROM person WHERE person.slot_id = appointment_slot.id) "
        "WHERE station_id = :station"), {"station": world.reminder_station})
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    db.session.commit()
    log(f"queue: {booking:,} people to book, {reminders:,} booked for {reminder_day}")
    return world


def _station(name):
    station = Station(name=name, address=f"滨海新区{name}", active=True)
    db.session.add(station)
    db.session.flush()
    return station.id


def _windows(station_id, day, people):
    """Hourly windows on `day` holding `people` between them; return their ids, earliest first."""
    capacity = max(math.ceil(people / len(WINDOWS)), 1)
    db.session.execute(insert(AppointmentSlot), [
        {"station_id": station_id, "starts_at": datetime.combine(day, begins), "ends_at": datetime.combine(day, ends),
         "capacity": capacity, "booked": 0} for begins, ends in WINDOWS])
    return db.session.execute(select(AppointmentSlot.id).where(AppointmentSlot.station_id == station_id)
                              .order_by(AppointmentSlot.starts_at)).scalars().all()


class _PersonRows:
    def __init__(self, ids, enterprise, center):
        self.ids, self.enterprise, self.center = ids, enterprise, center
        self.at = now() - timedelta(days=1)

    def rows(self, first, count, status, station, windows):
        """`count` people from serial `first` on, in `status` at `station` (spread over `windows`)."""
        for serial in range(first, first + count):
            number, age, gender = self.ids(SERIAL_BASE + serial)
            row = {"enterprise_id": self.enterprise, "name": "短信基准", "gender": gender, "id_number": number,
                   "age": age, "phone": f"199{serial:08d}", "category": "企业职工", "lives_in_binhai": True,
                   "community": "", "remarks": "", "source": "qr", "status": status, "previous_status": CENTER_APPROVED,
                   "station_id": station, "created_at": self.at, "version": 1, "dose_number": 1, "doses_given": 0,
                   "allocated_at": self.at, "allocated_by_id": self.center, "slot_id": None,
                   "appointed_at": None, "appointed_by_id": None}
            if windows:
                row.update(slot_id=windows[serial % len(windows)], previous_status=ALLOCATED,
                           appointed_at=self.at, appointed_by_id=self.center)
            yield row


def _insert(rows):
    """Load the people in chunks: COPY on PostgreSQL (one statement: its counting triggers fire once)."""
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            _load(chunk)
            chunk = []
    if chunk:
        _load(chunk)


def _load(chunk):
    if db.engine.dialect.name != "postgresql":
        db.session.execute(insert(Person), chunk)
        return
    columns = list(chunk[0])
    raw = db.session.connection().connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(f"COPY person ({', '.join(columns)}) FROM STDIN") as copy:
        for row in chunk:
            copy.write_row([row[column] for column in columns])


def their_phones():
    """A select of the phones of the people at the two stations."""
    return select(Person.phone).where(Person.station_id.in_(select(Station.id).where(
        Station.name.in_((BOOKING_STATION, REMINDER_STATION)))))


def remove():
    """Remove the two stations with their windows, people, history and texts (if they are there)."""
    stations = db.session.execute(select(Station.id).where(
        Station.name.in_((BOOKING_STATION, REMINDER_STATION)))).scalars().all()
    if not stations:
        return
    where = {"stations": stations}
    people = "SELECT id FROM person WHERE station_id IN :stations"
    events = _ids(f"SELECT DISTINCT event_id FROM person_event WHERE person_id IN ({people})", where)
    for statement in (
        "DELETE FROM sms_message WHERE phone IN (SELECT phone FROM person WHERE station_id IN :stations)",
        f"DELETE FROM person_event WHERE person_id IN ({people})",
        "DELETE FROM person WHERE station_id IN :stations",
        "DELETE FROM appointment_slot WHERE station_id IN :stations",
        "DELETE FROM station WHERE id IN :stations",
    ):
        db.session.execute(text(statement).bindparams(bindparam("stations", expanding=True)), where)
    _delete_events(events)
    db.session.commit()


def _ids(statement, params):
    statement = text(statement)
    if "stations" in params:
        statement = statement.bindparams(bindparam("stations", expanding=True))
    return db.session.execute(statement, params).scalars().all()


def _delete_events(events):
    if events:
        db.session.execute(text("DELETE FROM audit_event WHERE id IN :events")
                           .bindparams(bindparam("events", expanding=True)), {"events": events})


def unbook(world):
    """Put the booking station's people back to 待预约 and empty its windows; return (people, texts) undone."""
    where = {"station": world.booking_station}
    booked = f"station_id = :station AND status = '{APPOINTED}'"
    events = _ids(f"SELECT DISTINCT last_event_id FROM person WHERE {booked}", where)
    texts = db.session.execute(text(
        "DELETE FROM sms_message WHERE kind = 'appointment' AND phone IN "
        "(SELECT phone FROM person WHERE station_id = :station)"), where).rowcount
    db.session.execute(text(f"DELETE FROM person_event WHERE person_id IN (SELECT id FROM person WHERE {booked})"),
                       where)
    people = db.session.execute(text(
        f"UPDATE person SET status = '{ALLOCATED}', previous_status = '{CENTER_APPROVED}', slot_id = NULL, "
        f"previous_slot_id = NULL, appointed_at = NULL, appointed_by_id = NULL, last_event_id = NULL WHERE {booked}"),
        where).rowcount
    db.session.execute(text("UPDATE appointment_slot SET booked = 0 WHERE station_id = :station"), where)
    _delete_events(events)
    db.session.commit()
    return people, texts
