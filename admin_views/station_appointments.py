"""预约管理 of one station: its slots with booked/capacity, setting, moving and cancelling appointments.

The people to act on are chosen like everywhere else: the ticked rows, or 全部 — every
row matching the current filter (enterprise, slot, day, status, name or ID number).
Every change is one operation of models/appointments.py (through the workflow, which
keeps slot capacity); the people moved are told by SMS in the words of admin_views/notices.py.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user
from sqlalchemy import and_, func, select

from admin_views import notices
from admin_views.base import bounded_ids, int_arg, mask_id_number, mask_phone
from admin_views.labels import STATUS_LABELS, error_text, reservation_message, window_cancellation_message
from admin_views.station_common import StationView, current_station
from extensions import db
from models import appointments
from models.base import now, today
from models.identity import normalise_id_number
from models.org import AppointmentSlot, Enterprise
from models.person import Person
from models.status import ALLOCATED, APPOINTED, CHECKED_IN, NOT_VACCINATED, VACCINATED
from models.workflow import WorkflowError
from services.card_match import window_text

PAGE_SIZE = 50
STATUS_FILTERS = {
    "pending": ("待预约", (ALLOCATED, NOT_VACCINATED)),
    "appointed": ("已预约", (APPOINTED,)),
}
BOOKABLE_DAYS = 30


@dataclass
class PeopleFilter:
    """The filter of the people list, read from query arguments or posted hidden fields."""

    status: str = "pending"
    enterprise: int | None = None
    slot: int | None = None
    day: date | None = None
    q: str = ""

    @classmethod
    def from_values(cls, values):
        status = values.get("status")
        day = _parse_day(values.get("day"))
        slot = int_arg("slot", values)
        if status not in STATUS_FILTERS:
            status = "appointed" if (slot or day) else "pending"
        return cls(status=status, enterprise=int_arg("enterprise", values), slot=slot, day=day,
                   q=(values.get("q") or "").strip()[:32])

    def args(self):
        found = {"status": self.status, "enterprise": self.enterprise, "slot": self.slot,
                 "day": self.day.isoformat() if self.day else None, "q": self.q or None}
        return {key: value for key, value in found.items() if value is not None}

    def condition(self, station_id):
        """The people of the station this filter selects."""
        conditions = [Person.station_id == station_id, Person.status.in_(STATUS_FILTERS[self.status][1])]
        if self.enterprise:
            conditions.append(Person.enterprise_id == self.enterprise)
        if self.slot:
            conditions.append(Person.slot_id == self.slot)
        if self.day:
            conditions.append(Person.slot_id.in_(appointments.slot_ids_between(station_id, self.day, self.day)))
        if self.q:
            number = normalise_id_number(self.q)
            if number[:1].isdigit():
                conditions.append(Person.id_number.startswith(number))
            else:
                conditions.append(Person.name.startswith(self.q))
        return conditions


def _parse_day(value):
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def slots_of_day(station_id, day):
    """The station's slots of one day, with how many of their people came and were vaccinated."""
    slots = appointments.slots_between(station_id, day, day)
    counts = db.session.execute(
        select(Person.slot_id, Person.status, func.count()).where(
            Person.station_id == station_id, Person.slot_id.in_([s.id for s in slots])
        ).group_by(Person.slot_id, Person.status)
    ).all()
    by_slot = {}
    for slot_id, status, count in counts:
        by_slot.setdefault(slot_id, {})[status] = count
    return [{"slot": s, "window": window_text(s), "ended": s.ends_at < now(),
             "appointed": by_slot.get(s.id, {}).get(APPOINTED, 0),
             "arrived": sum(by_slot.get(s.id, {}).get(x, 0) for x in (CHECKED_IN, VACCINATED, NOT_VACCINATED)),
             "vaccinated": by_slot.get(s.id, {}).get(VACCINATED, 0)} for s in slots]


def station_enterprises(station_id):
    """Enterprises with people allocated to the station."""
    return db.session.execute(
        select(Enterprise.id, Enterprise.name).where(
            Enterprise.id.in_(select(Person.enterprise_id).where(Person.station_id == station_id).distinct())
        ).order_by(Enterprise.name)
    ).all()


class StationAppointmentView(StationView):
    """预约管理: the day's slots, and the people list to appoint, move or cancel."""

    @expose("/")
    def index(self):
        station = current_station()
        day = _parse_day(request.args.get("day")) or today()
        return self.render("station/appointments.html", day=day, previous_day=day - timedelta(days=1),
                           next_day=day + timedelta(days=1), slots=slots_of_day(station.id, day),
                           enterprises=station_enterprises(station.id), today=today())

    @expose("/people")
    def people(self):
        station = current_station()
        chosen = PeopleFilter.from_values(request.args)
        conditions = chosen.condition(station.id)
        total = db.session.execute(select(func.count()).select_from(Person).where(*conditions)).scalar_one()
        page = int_arg("page") or 1
        rows = db.session.execute(
            select(Person).where(*conditions).order_by(Person.id).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
        ).scalars().all()
        slot = self._station_slot(chosen.slot) if chosen.slot else None
        return self.render(
            "station/appointment_people.html", filter=chosen, filter_args=chosen.args(), rows=rows, total=total,
            page=page, pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1), status_filters=STATUS_FILTERS,
            slot=slot, slot_window=window_text(slot) if slot else "",
            targets=appointments.upcoming_slots(station.id, BOOKABLE_DAYS),
            enterprises=station_enterprises(station.id), mask_id=mask_id_number, mask_phone=mask_phone,
            status_labels=STATUS_LABELS, window_text=window_text,
        )

    @expose("/act", methods=("POST",))
    def act(self):
        """Appoint/move or cancel the ticked people, or every person matching the filter."""
        station = current_station()
        chosen = PeopleFilter.from_values(request.form)
        back = redirect(url_for(".people", **chosen.args()))
        if request.form.get("scope") == "all":
            people = and_(*chosen.condition(station.id))
        else:
            ids = bounded_ids(request.form.getlist("person_id"))
            if not ids:
                flash("请先勾选人员", "error")
                return back
            people = Person.id.in_(ids)
        action = request.form.get("action")
        try:
            if action == "appoint":
                slot = self._station_slot(int_arg("slot_id", request.form))
                if slot is None:
                    flash("请选择本站尚未结束的预约时段", "error")
                    return back
                message = appointed_message(slot, appointments.book_into_slot(
                    current_user, people, slot, notice=notices.appointment_notice,
                    change_notice=notices.change_notice, reserved_notice=notices.reserved_notice))
            elif action == "cancel" and request.form.get("windows") == "day" and chosen.day:
                # 取消当日全部预约: the day's windows are emptied, dose-2 places held in them included.
                message = window_cancellation_message(appointments.cancel_windows(
                    current_user, db.session.execute(appointments.slot_ids_between(
                        station.id, chosen.day, chosen.day)).scalars().all(),
                    request.form.get("reason", "")[:200], notice=notices.cancellation_notice,
                    reservation_notice=notices.reservation_notice))
            elif action == "cancel":
                requested, cancelled = appointments.cancel_appointments(
                    current_user, people, request.form.get("reason", "")[:200], notice=notices.cancellation_notice)
                message = (f"已处理 {cancelled} 人，跳过 {max(requested - cancelled, 0)} 人（状态已变化或无权限）"
                           "；已短信通知取消预约的人员")
            else:
                abort(400)
        except WorkflowError as error:
            db.session.rollback()
            flash(error_text(error), "error")
            return back
        db.session.commit()  # the worker sends the queued texts once this commit is done
        flash(message, "success")
        return back

    def _station_slot(self, slot_id):
        if slot_id is None:
            return None
        slot = db.session.get(AppointmentSlot, slot_id)
        if slot is None or slot.station_id != current_user.station_id:
            abort(404)
        return slot


def appointed_message(slot, booking):
    """The words for what booking into one window did, with the places it has left."""
    note = f"；时段 {window_text(slot)} 剩余 {booking.free_after} 个名额"
    if booking.free_after == 0:
        note += "（名额不足的人员未预约）"
    text = f"已处理 {booking.changed} 人，跳过 {booking.skipped} 人（状态已变化、已在该时段或名额不足）{note}"
    extra = reservation_message(booking.reservations)
    return f"{text}。{extra}" if extra else text
