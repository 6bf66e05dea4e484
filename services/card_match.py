"""Match an ID card read at a station desk to a person and say what the desk should do.

The verdict depends on the person's status, their station and appointment window and
the time of the read. It is computed here once, for the reader API and for the manual
lookup at the desk alike.

About a person of another station the desk learns only where to send them (另有预约 /
非本站, that station's name and window): nothing of that station's health data (why
someone was not vaccinated), and no answer to whether a name goes with the number.
"""

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import insert, select
from sqlalchemy.orm import joinedload

from extensions import db
from models.base import now
from models.doses import GIVEN, VALID, Vaccination, dose_label
from models.org import AppointmentSlot, Station
from models.person import Person
from models.reader import CardRead
from models.status import APPOINTED, CHECKED_IN, DUE_NEXT, NOT_VACCINATED, VACCINATED
from models.vaccines import StationProduct, VaccineProduct, is_primary_dose

APPOINTED_HERE = "appointed_here"
WRONG_WINDOW = "wrong_window"
OTHER_STATION = "other_station"
NOT_THIS_STATION = "not_this_station"
NOT_APPOINTED = "not_appointed"
UNKNOWN = "unknown"
ALREADY_VACCINATED = "vaccinated"
ALREADY_CHECKED_IN = "checked_in"
TOO_EARLY = "too_early"

# code -> (label shown at the desk, colour of the panel)
VERDICTS = {
    APPOINTED_HERE: ("本站已预约", "success"),
    WRONG_WINDOW: ("时段不符", "warning"),
    OTHER_STATION: ("另有预约", "warning"),
    NOT_THIS_STATION: ("非本站", "warning"),
    NOT_APPOINTED: ("未预约/未分配", "secondary"),
    UNKNOWN: ("未登记", "danger"),
    ALREADY_VACCINATED: ("已接种", "info"),
    ALREADY_CHECKED_IN: ("已登记，候诊中", "primary"),
    TOO_EARLY: ("间隔不足", "danger"),
}

# Verdicts after which the desk may check the person in (时段不符 after a confirmation).
CHECK_IN_VERDICTS = (APPOINTED_HERE, WRONG_WINDOW)


@dataclass
class Dose:
    """The dose due and the last one given, as the desk shows them (only for the desk's own people)."""

    number: int
    label: str
    complete: bool
    first_day: date | None
    last_day: date | None
    last_at: datetime | None = None
    last_product: str = ""
    last_station: str = ""
    product_mismatch: str = ""  # the course's product, when this station does not give it

    def as_json(self):
        return {"number": self.number, "label": self.label, "complete": self.complete,
                "first_day": self.first_day.isoformat() if self.first_day else None,
                "last_day": self.last_day.isoformat() if self.last_day else None,
                "last": {"at": self.last_at.isoformat(), "product": self.last_product,
                         "station": self.last_station} if self.last_at else None,
                "product_mismatch": self.product_mismatch or None}


@dataclass
class CardMatch:
    verdict: str
    station_id: int
    person: Person | None = None
    detail: str = ""
    name_mismatch: bool = False
    # A status the desk should be told beside the detail (worded by the view: admin_views/labels.py).
    status_shown: str | None = None
    dose: Dose | None = None

    @property
    def label(self):
        return VERDICTS[self.verdict][0]

    @property
    def colour(self):
        return VERDICTS[self.verdict][1]

    @property
    def can_check_in(self):
        return self.verdict in CHECK_IN_VERDICTS

    @property
    def at_this_station(self):
        """Whether the person belongs to the desk's station (their details may be shown)."""
        return self.person is not None and self.person.station_id == self.station_id


def grace():
    """How early before and how late after its window an appointment still counts."""
    return timedelta(minutes=current_app.config["CHECKIN_GRACE_MINUTES"])


def window_text(slot):
    return f"{slot.starts_at:%Y-%m-%d %H:%M}-{slot.ends_at:%H:%M}" if slot is not None else ""


def find_person(id_number):
    """The person of an ID number with everything a verdict and the desk show, in one query."""
    statement = select(Person).where(Person.id_number == id_number).options(
        joinedload(Person.slot).joinedload(AppointmentSlot.station),
        joinedload(Person.station),
        joinedload(Person.enterprise),
    )
    return db.session.execute(statement).scalar_one_or_none()


def match_card(station_id, id_number, at, card_name=None):
    """Return the CardMatch of an ID number read at the station `station_id` at time `at`."""
    person = find_person(id_number)
    if person is None:
        return _match(station_id, UNKNOWN, None, "系统中没有此身份证号的申报记录")
    result = _verdict_of(station_id, person, at)
    # Only for the desk's own people: elsewhere it would confirm a guessed name.
    result.name_mismatch = result.at_this_station and bool(card_name) and card_name.strip() != person.name
    if result.at_this_station:
        result.dose = dose_of(person, station_id)
    return result


def dose_of(person, station_id):
    """The person's dose due, their last dose given (one indexed look-up) and whether this station gives the course."""
    last = db.session.execute(
        select(Vaccination.at, VaccineProduct.name, Vaccination.product_name, Station.name)
        .outerjoin(VaccineProduct, VaccineProduct.id == Vaccination.product_id)
        .outerjoin(Station, Station.id == Vaccination.station_id)
        .where(Vaccination.person_id == person.id, Vaccination.outcome == GIVEN, Vaccination.state == VALID)
        .order_by(Vaccination.at.desc(), Vaccination.id.desc()).limit(1)
    ).first()
    primary = is_primary_dose(person)
    dose = Dose(number=person.dose_number, label=dose_label(person.dose_number, not primary),
                complete=person.status == VACCINATED, first_day=person.next_dose_earliest,
                last_day=person.next_dose_latest)
    if last is not None:
        dose.last_at, dose.last_product, dose.last_station = last[0], last[1] or last[2] or "", last[3] or ""
    if person.product_id is not None and person.doses_given and primary and not dose.complete:
        given_here = db.session.execute(select(StationProduct.product_id).where(
            StationProduct.station_id == station_id, StationProduct.product_id == person.product_id)).first()
        if given_here is None:
            dose.product_mismatch = person.product.name
    return dose


# Built once: the read is stored by a Core INSERT, without the unit of work of a flush.
STORE_READ = insert(CardRead.__table__).returning(CardRead.__table__.c.id)


def record_read(station_id, id_number, at, *, read_id=None, reader=None, token_id=None, card_name=None, card=None):
    """Match a read and store its CardRead (uncommitted); return (read, match).

    `card` holds what the card says of itself (card_type, card_valid_from, card_valid_until,
    card_long_term), as the reader agent sent it. The returned CardRead carries the stored
    values and its id but is not in the session. A read_id already stored raises IntegrityError.
    """
    match = match_card(station_id, id_number, at, card_name)
    values = {"read_id": read_id or str(uuid.uuid4()), "station_id": station_id, "reader_token_id": token_id,
              "reader": reader, "id_number": id_number, "read_at": at, "received_at": now(),
              "verdict": match.verdict, "person_id": match.person.id if match.person else None,
              "name_mismatch": match.name_mismatch, **(card or {})}
    read_pk = db.session.execute(STORE_READ, values).scalar_one()
    return CardRead(id=read_pk, person=match.person, **values), match


def _match(station_id, verdict, person, detail):
    return CardMatch(verdict, station_id, person, detail)


def _elsewhere(station_id, person):
    """Where a person of another station belongs, and nothing more."""
    station = person.station.name
    if person.status in (APPOINTED, CHECKED_IN) and person.slot is not None:
        return _match(station_id, OTHER_STATION, person, f"另有预约：{station}，{window_text(person.slot)}")
    return _match(station_id, NOT_THIS_STATION, person, f"非本站人员，请到{station}")


def _verdict_of(station_id, person, at):
    here = person.station_id == station_id
    status = person.status
    if status == VACCINATED:
        where = "本站" if here else (person.station.name if person.station else "其他接种站")
        when = f"于{person.finished_at:%Y-%m-%d %H:%M}" if person.finished_at and here else ""
        return _match(station_id, ALREADY_VACCINATED, person, f"已{when}在{where}完成接种")
    if person.station_id is not None and not here:
        return _elsewhere(station_id, person)
    if status == CHECKED_IN:
        when = f"于{person.checked_in_at:%H:%M}" if person.checked_in_at else ""
        return _match(station_id, ALREADY_CHECKED_IN, person, f"已{when}登记，正在候诊")
    if status == APPOINTED and person.next_dose_earliest and at.date() < person.next_dose_earliest:
        label = dose_label(person.dose_number, not is_primary_dose(person))
        return _match(station_id, TOO_EARLY, person,
                      f"{label}最早可于 {person.next_dose_earliest:%Y-%m-%d} 接种，今日间隔不足")
    if status == DUE_NEXT:
        label = dose_label(person.dose_number, not is_primary_dose(person))
        first = f"{person.next_dose_earliest:%Y-%m-%d} 起可接种" if person.next_dose_earliest else "可接种"
        return _match(station_id, NOT_APPOINTED, person, f"待续种：{label}{first}，尚未预约")
    if status == APPOINTED and person.slot is not None:
        window = window_text(person.slot)
        slot = person.slot
        if slot.starts_at - grace() <= at <= slot.ends_at + grace():
            return _match(station_id, APPOINTED_HERE, person, f"预约时间 {window}")
        return _match(station_id, WRONG_WINDOW, person, f"预约时间为 {window}，不是当前时段")
    if status == NOT_VACCINATED:
        reason = f"（{person.not_vaccinated_reason or '未注明原因'}）" if here else ""
        return _match(station_id, NOT_APPOINTED, person, f"上次未接种{reason}，需重新预约")
    if person.station_id is not None:
        return _match(station_id, NOT_APPOINTED, person, "已分配至本站，尚未预约")
    return CardMatch(NOT_APPOINTED, station_id, person, "尚未分配接种站", status_shown=status)
