"""Match an ID card read at a station desk to a person and say what the desk should do.

The verdict depends on the person's status, their station and appointment window and
the time of the read. It is computed here once, for the reader API and for the manual
lookup at the desk alike.
"""

import uuid
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from extensions import db
from models.person import Person
from models.reader import CardRead
from models.status import APPOINTED, CHECKED_IN, NOT_VACCINATED, STATUS_LABELS, VACCINATED

APPOINTED_HERE = "appointed_here"
WRONG_WINDOW = "wrong_window"
OTHER_STATION = "other_station"
NOT_APPOINTED = "not_appointed"
UNKNOWN = "unknown"
ALREADY_VACCINATED = "vaccinated"
ALREADY_CHECKED_IN = "checked_in"

# code -> (label shown at the desk, colour of the panel)
VERDICTS = {
    APPOINTED_HERE: ("本站已预约", "success"),
    WRONG_WINDOW: ("时段不符", "warning"),
    OTHER_STATION: ("他站预约", "warning"),
    NOT_APPOINTED: ("未预约/未分配", "secondary"),
    UNKNOWN: ("未登记", "danger"),
    ALREADY_VACCINATED: ("已接种", "info"),
    ALREADY_CHECKED_IN: ("已登记，候诊中", "primary"),
}

# Verdicts after which the desk may check the person in (时段不符 after a confirmation).
CHECK_IN_VERDICTS = (APPOINTED_HERE, WRONG_WINDOW)


@dataclass
class CardMatch:
    verdict: str
    station_id: int
    person: Person | None = None
    detail: str = ""
    name_mismatch: bool = False

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
    return db.session.execute(select(Person).where(Person.id_number == id_number)).scalar_one_or_none()


def match_card(station, id_number, at, card_name=None):
    """Return the CardMatch of an ID number read at `station` at time `at`."""
    person = find_person(id_number)
    if person is None:
        return _match(station, UNKNOWN, None, "系统中没有此身份证号的申报记录")
    result = _verdict_of(station, person, at)
    result.name_mismatch = bool(card_name) and card_name.strip() != person.name
    return result


def record_read(station, id_number, at, *, read_id=None, reader=None, token_id=None, card_name=None):
    """Match a read and add its CardRead to the session (not flushed); return (read, match)."""
    match = match_card(station, id_number, at, card_name)
    read = CardRead(read_id=read_id or str(uuid.uuid4()), station_id=station.id, reader_token_id=token_id,
                    reader=reader, id_number=id_number, read_at=at, verdict=match.verdict,
                    person_id=match.person.id if match.person else None)
    db.session.add(read)
    return read, match


def _match(station, verdict, person, detail):
    return CardMatch(verdict, station.id, person, detail)


def _verdict_of(station, person, at):
    here = person.station_id == station.id
    status = person.status
    if status == VACCINATED:
        where = "本站" if here else (person.station.name if person.station else "其他接种站")
        when = f"于{person.finished_at:%Y-%m-%d %H:%M}" if person.finished_at else ""
        return _match(station, ALREADY_VACCINATED, person, f"已{when}在{where}完成接种")
    if status == CHECKED_IN:
        if here:
            return _match(station, ALREADY_CHECKED_IN, person, f"已于{person.checked_in_at:%H:%M}登记，正在候诊")
        return _match(station, OTHER_STATION, person, f"已在{person.station.name}登记")
    if status == APPOINTED:
        window = window_text(person.slot)
        if not here:
            return _match(station, OTHER_STATION, person, f"预约于{person.station.name}，{window}")
        slot = person.slot
        if slot.starts_at - grace() <= at <= slot.ends_at + grace():
            return _match(station, APPOINTED_HERE, person, f"预约时间 {window}")
        return _match(station, WRONG_WINDOW, person, f"预约时间为 {window}，不是当前时段")
    if status == NOT_VACCINATED:
        return _match(station, NOT_APPOINTED, person,
                      f"上次未接种（{person.not_vaccinated_reason or '未注明原因'}），需重新预约")
    if person.station_id is not None:
        where = "本站" if here else person.station.name
        return _match(station, NOT_APPOINTED, person, f"已分配至{where}，尚未预约")
    return _match(station, NOT_APPOINTED, person, f"当前状态：{STATUS_LABELS.get(status, status)}，尚未分配接种站")
