"""Match an ID card read at a station desk to a person and say what the desk should do.

The verdict depends on the person's status, their station and appointment window and
the time of the read. It is computed here once, for the reader API and for the manual
lookup at the desk alike.

About a person of another station the desk learns only where to send them (另有预约 /
非本站, that station's name and window): nothing of that station's health data (why
someone was not vaccinated), and no answer to whether a name goes with the number.
"""

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.orm import aliased

from extensions import db
from models.base import now
from models.doses import GIVEN, VALID, Vaccination
from models.org import AppointmentSlot, Enterprise, Station
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

# code -> colour of the desk's panel (the words: admin_views/labels.VERDICT_LABELS)
VERDICT_COLOURS = {
    APPOINTED_HERE: "success",
    WRONG_WINDOW: "warning",
    OTHER_STATION: "warning",
    NOT_THIS_STATION: "warning",
    NOT_APPOINTED: "secondary",
    UNKNOWN: "danger",
    ALREADY_VACCINATED: "info",
    ALREADY_CHECKED_IN: "primary",
    TOO_EARLY: "danger",
}

# Verdicts after which the desk may check the person in (时段不符 after a confirmation).
CHECK_IN_VERDICTS = (APPOINTED_HERE, WRONG_WINDOW)


@dataclass
class Dose:
    """The dose due and the last one given, as the desk shows them (only for the desk's own people)."""

    number: int
    booster: bool
    complete: bool
    first_day: date | None
    last_day: date | None
    last_at: datetime | None = None
    last_product: str = ""
    last_station: str = ""
    product_mismatch: str = ""  # the course's product, when this station does not give it

    def as_json(self, label):
        """The dose as the reader API answers it; `label` is its words (第2剂, 加强: the view's)."""
        return {"number": self.number, "label": label, "complete": self.complete,
                "first_day": self.first_day.isoformat() if self.first_day else None,
                "last_day": self.last_day.isoformat() if self.last_day else None,
                "last": {"at": self.last_at.isoformat(), "product": self.last_product,
                         "station": self.last_station} if self.last_at else None,
                "product_mismatch": self.product_mismatch or None}


@dataclass
class CardMatch:
    verdict: str
    station_id: int
    person: "DeskPerson | None" = None
    # Why, as a code and its values (worded by the view: admin_views/labels.verdict_detail).
    detail: str = ""
    detail_params: dict = field(default_factory=dict)
    name_mismatch: bool = False
    # A status the desk should be told beside the detail (worded by the view: admin_views/labels.py).
    status_shown: str | None = None
    dose: Dose | None = None

    @property
    def colour(self):
        return VERDICT_COLOURS[self.verdict]

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


@dataclass(frozen=True)
class Named:
    """A station, enterprise or product as the desk names it."""

    name: str


@dataclass(frozen=True)
class DeskProduct:
    name: str
    primary_doses: int


@dataclass(frozen=True)
class DeskSlot:
    starts_at: datetime
    ends_at: datetime
    station: Named


@dataclass
class DeskPerson:
    """What the desk reads of a person: the columns a verdict, the API's answer and the panel show.

    Read by Core in the desk's one statement (an ORM Person with its four joined rows cost
    as much again as the statement itself); attributes as on Person, read-only.
    """

    id: int
    name: str
    gender: str
    id_number: str
    age: int
    phone: str
    category: str
    status: str
    station_id: int | None
    checked_in_at: datetime | None
    finished_at: datetime | None
    not_vaccinated_reason: str | None
    product_id: int | None
    dose_number: int
    doses_given: int
    next_dose_earliest: date | None
    next_dose_latest: date | None
    enterprise: Named
    station: Named | None
    slot: DeskSlot | None
    product: DeskProduct | None


_PERSON_COLUMNS = ("id", "name", "gender", "id_number", "age", "phone", "category", "status", "station_id",
                   "checked_in_at", "finished_at", "not_vaccinated_reason", "product_id", "dose_number",
                   "doses_given", "next_dose_earliest", "next_dose_latest")
_person_station = aliased(Station, name="person_station")
_slot = aliased(AppointmentSlot, name="person_slot")
_slot_station = aliased(Station, name="slot_station")
_product = aliased(VaccineProduct, name="person_product")
# The last dose given: a correlated look-up of its id, joined with its product and station.
_last_dose = aliased(Vaccination, name="last_dose")
_last_product = aliased(VaccineProduct, name="last_product")
_last_station = aliased(Station, name="last_station")


def _last_dose_id():
    return (select(Vaccination.id)
            .where(Vaccination.person_id == Person.id, Vaccination.outcome == GIVEN, Vaccination.state == VALID)
            .order_by(Vaccination.at.desc(), Vaccination.id.desc()).limit(1)
            .correlate(Person).scalar_subquery())


def with_desk_person(statement, id_number, station_id):
    """`statement` outer-joined to the person of `id_number` with all a verdict and the desk show.

    Adds the person's columns (person_…), their enterprise, station, slot and its station and
    product, the last dose's time, product and station, and whether `station_id` (a value or
    a column) gives the person's product: one round trip for the whole match.
    """
    given_here = (select(StationProduct.product_id)
                  .where(StationProduct.station_id == station_id, StationProduct.product_id == Person.product_id)
                  .exists())
    columns = [getattr(Person, name).label(f"person_{name}") for name in _PERSON_COLUMNS] + [
        Enterprise.name.label("enterprise_name"), _person_station.name.label("station_name"),
        _slot.starts_at.label("slot_starts_at"), _slot.ends_at.label("slot_ends_at"),
        _slot_station.name.label("slot_station_name"),
        _product.name.label("product_name"), _product.primary_doses.label("product_primary_doses"),
        _last_dose.at.label("last_at"),
        func.coalesce(_last_product.name, _last_dose.product_name).label("last_product"),
        _last_station.name.label("last_station"), given_here.label("given_here")]
    return (statement.add_columns(*columns)
            .outerjoin(Person, Person.id_number == id_number)
            .outerjoin(Enterprise, Enterprise.id == Person.enterprise_id)
            .outerjoin(_person_station, _person_station.id == Person.station_id)
            .outerjoin(_slot, _slot.id == Person.slot_id)
            .outerjoin(_slot_station, _slot_station.id == _slot.station_id)
            .outerjoin(_product, _product.id == Person.product_id)
            .outerjoin(_last_dose, _last_dose.id == _last_dose_id())
            .outerjoin(_last_product, _last_product.id == _last_dose.product_id)
            .outerjoin(_last_station, _last_station.id == _last_dose.station_id))


def desk_person(row):
    """The DeskPerson of a row of `with_desk_person`, or None when no person has the number."""
    if row is None or row.person_id is None:
        return None
    values = row._mapping
    slot = (DeskSlot(row.slot_starts_at, row.slot_ends_at, Named(row.slot_station_name))
            if row.slot_starts_at is not None else None)
    return DeskPerson(
        **{name: values[f"person_{name}"] for name in _PERSON_COLUMNS},
        enterprise=Named(row.enterprise_name),
        station=Named(row.station_name) if row.station_name is not None else None,
        slot=slot,
        product=DeskProduct(row.product_name, row.product_primary_doses) if row.product_name is not None else None)


# Built once: a statement's cache key is computed per object, and this one has many parts.
DESK_LOOKUP = with_desk_person(select(Station.id).select_from(Station).where(Station.id == bindparam("station_id")),
                               bindparam("id_number"), bindparam("station_id"))


def match_card(station_id, id_number, at, card_name=None):
    """Return the CardMatch of an ID number read at the station `station_id` at time `at`."""
    # Through the session's connection: rows of plain columns, without the ORM's result machinery.
    row = db.session.connection().execute(DESK_LOOKUP, {"station_id": station_id, "id_number": id_number}).one_or_none()
    return match_row(station_id, row, at, card_name)


def match_row(station_id, row, at, card_name=None):
    """The CardMatch of a row of `with_desk_person` (None: no such station)."""
    person = desk_person(row)
    if person is None:
        return _match(station_id, UNKNOWN, None, "no_declaration")
    result = _verdict_of(station_id, person, at)
    # Only for the desk's own people: elsewhere it would confirm a guessed name.
    result.name_mismatch = result.at_this_station and bool(card_name) and card_name.strip() != person.name
    if result.at_this_station:
        result.dose = dose_of(person, row)
    return result


def dose_of(person, row):
    """The person's dose due, their last dose given and whether the desk's station gives the course."""
    primary = is_primary_dose(person)
    dose = Dose(number=person.dose_number, booster=not primary,
                complete=person.status == VACCINATED, first_day=person.next_dose_earliest,
                last_day=person.next_dose_latest)
    if row.last_at is not None:
        dose.last_at, dose.last_product, dose.last_station = row.last_at, row.last_product or "", row.last_station or ""
    if person.product_id is not None and person.doses_given and primary and not dose.complete and not row.given_here:
        dose.product_mismatch = person.product.name
    return dose


# Built once: the read is stored by a Core INSERT, without the unit of work of a flush.
STORE_READ = insert(CardRead.__table__).returning(CardRead.__table__.c.id)


def record_read(station_id, id_number, at, *, card_name=None, **stored):
    """Match a read and store its CardRead (uncommitted); return (read, match). See `store_read`."""
    match = match_card(station_id, id_number, at, card_name)
    return store_read(match, id_number, at, **stored), match


def store_read(match, id_number, at, *, read_id=None, reader=None, token_id=None, card=None, connection=None):
    """Store the CardRead of a matched read (uncommitted) and return it.

    `card` holds what the card says of itself (card_type, card_valid_from, card_valid_until,
    card_long_term), as the reader agent sent it. The returned CardRead carries the stored
    values and its id but is not in the session. A read_id already stored raises IntegrityError.
    `connection`: where to write it (the session's by default; the reader API's own pool,
    services/desk_connection.py).
    """
    values = {"read_id": read_id or str(uuid.uuid4()), "station_id": match.station_id, "reader_token_id": token_id,
              "reader": reader, "id_number": id_number, "read_at": at, "received_at": now(),
              "verdict": match.verdict, "person_id": match.person.id if match.person else None,
              "name_mismatch": match.name_mismatch, **(card or {})}
    read_pk = (connection or db.session.connection()).execute(STORE_READ, values).scalar_one()
    return CardRead(id=read_pk, **values)


def _match(station_id, verdict, person, detail, **params):
    return CardMatch(verdict, station_id, person, detail, detail_params=params)


def _dose_due(person):
    return {"dose_number": person.dose_number, "booster": not is_primary_dose(person)}


def _elsewhere(station_id, person):
    """Where a person of another station belongs, and nothing more."""
    station = person.station.name
    if person.status in (APPOINTED, CHECKED_IN) and person.slot is not None:
        return _match(station_id, OTHER_STATION, person, "other_station", station=station,
                      window=window_text(person.slot))
    return _match(station_id, NOT_THIS_STATION, person, "not_this_station", station=station)


def _verdict_of(station_id, person, at):
    here = person.station_id == station_id
    status = person.status
    if status == VACCINATED:
        if here:
            if person.finished_at:
                return _match(station_id, ALREADY_VACCINATED, person, "vaccinated_here_at", at=person.finished_at)
            return _match(station_id, ALREADY_VACCINATED, person, "vaccinated_here")
        if person.station:
            return _match(station_id, ALREADY_VACCINATED, person, "vaccinated_at_station", station=person.station.name)
        return _match(station_id, ALREADY_VACCINATED, person, "vaccinated_elsewhere")
    if person.station_id is not None and not here:
        return _elsewhere(station_id, person)
    if status == CHECKED_IN:
        if person.checked_in_at:
            return _match(station_id, ALREADY_CHECKED_IN, person, "checked_in_at", at=person.checked_in_at)
        return _match(station_id, ALREADY_CHECKED_IN, person, "checked_in")
    if status == APPOINTED and person.next_dose_earliest and at.date() < person.next_dose_earliest:
        return _match(station_id, TOO_EARLY, person, "too_early", earliest=person.next_dose_earliest,
                      **_dose_due(person))
    if status == DUE_NEXT:
        if person.next_dose_earliest:
            return _match(station_id, NOT_APPOINTED, person, "due_next_from", earliest=person.next_dose_earliest,
                          **_dose_due(person))
        return _match(station_id, NOT_APPOINTED, person, "due_next", **_dose_due(person))
    if status == APPOINTED and person.slot is not None:
        window = window_text(person.slot)
        slot = person.slot
        if slot.starts_at - grace() <= at <= slot.ends_at + grace():
            return _match(station_id, APPOINTED_HERE, person, "appointed_now", window=window)
        return _match(station_id, WRONG_WINDOW, person, "appointed_other_window", window=window)
    if status == NOT_VACCINATED:
        if here and person.not_vaccinated_reason:
            return _match(station_id, NOT_APPOINTED, person, "not_vaccinated_because",
                          reason=person.not_vaccinated_reason)
        if here:
            return _match(station_id, NOT_APPOINTED, person, "not_vaccinated_no_reason")
        return _match(station_id, NOT_APPOINTED, person, "not_vaccinated")
    if person.station_id is not None:
        return _match(station_id, NOT_APPOINTED, person, "allocated_here")
    return CardMatch(NOT_APPOINTED, station_id, person, "not_allocated", status_shown=status)
