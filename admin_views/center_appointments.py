"""预约管理: time windows of the stations, appointments in phases and amounts, cancellations.

Booking fills a station's earliest windows up to their capacity with one set-based
transition per window (never one per person); the workflow reserves the places with a
conditional UPDATE, so two operators booking the same window can never overfill it.
Every booking, change and cancellation texts the people it moved (one INSERT … SELECT
per event through services/sms.py).
"""

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import abort, flash, redirect, request
from flask_admin import BaseView, expose
from flask_admin.actions import action
from flask_login import current_user
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from admin_views.base import RoleAccessMixin, int_arg, query_args
from admin_views.center_tree import ToolButton, TreePersonListView
from extensions import db
from models import stats
from models.base import now, today
from models.org import AppointmentSlot, Station
from models.person import Person
from models.status import ALLOCATED, APPOINTED, NOT_VACCINATED
from models.user import CENTER
from models.workflow import TRANSITIONS, WorkflowError, apply_transition
from services.sms import deliver_queued, notify_persons_of_event

APPOINTABLE = tuple(sorted(TRANSITIONS["appoint"].sources))
SMS_PREFIX = "【滨海新区疫苗接种】"
FULL_MESSAGE = "预约时段名额已满或已被他人同时预约，请刷新后重试。"
MAX_RANGE_DAYS = 62
WINDOW_PATTERN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-~－—至]\s*(\d{1,2}):(\d{2})\s*$")


class BookingError(ValueError):
    """Input of a booking or slot form that cannot be used; the message is for the user."""


# ---------------------------------------------------------------- texts

def window_text(slot):
    return f"{slot.starts_at.month}月{slot.starts_at.day}日 {slot.starts_at:%H:%M}-{slot.ends_at:%H:%M}"


def appointment_notice(slot):
    station = slot.station
    return (f"{SMS_PREFIX}您已预约在{station.name}接种疫苗，时间：{window_text(slot)}，"
            f"地址：{station.address}。请携带身份证按时前往。")


def change_notice(slot):
    station = slot.station
    return (f"{SMS_PREFIX}您的接种预约已改为：{station.name}，时间：{window_text(slot)}，"
            f"地址：{station.address}。请携带身份证按时前往。")


def cancellation_notice(slot, reason):
    return (f"{SMS_PREFIX}您在{slot.station.name}{window_text(slot)}的接种预约已取消，"
            f"原因：{reason}。新的预约时间将另行短信通知。")


# ---------------------------------------------------------------- booking, changing, cancelling

@dataclass
class BookingOutcome:
    wanted: int
    booked: int = 0
    per_slot: list = field(default_factory=list)

    @property
    def remaining(self):
        return max(self.wanted - self.booked, 0)

    def message(self):
        if self.wanted == 0:
            return "没有可预约的人员（仅“已分配”或“未接种”的人员可预约）。"
        text = f"已预约 {self.booked} 人"
        if self.per_slot:
            text += "（" + "；".join(f"{window_text(slot)} {n} 人" for slot, n in self.per_slot) + "）"
        if self.remaining:
            text += f"，还有 {self.remaining} 人未能预约：所选日期内的时段名额不足。"
        return text


def open_slots(station, first_day, last_day):
    """Windows of a station between two days that have not ended and have free places, earliest first."""
    start = datetime.combine(first_day, datetime.min.time())
    end = datetime.combine(last_day + timedelta(days=1), datetime.min.time())
    return db.session.execute(
        select(AppointmentSlot)
        .where(AppointmentSlot.station_id == station.id, AppointmentSlot.starts_at >= start,
               AppointmentSlot.starts_at < end, AppointmentSlot.ends_at > now(),
               AppointmentSlot.booked < AppointmentSlot.capacity)
        .order_by(AppointmentSlot.starts_at, AppointmentSlot.id)
    ).scalars().all()


def book_in_phases(actor, station, person_query, amount, first_day, last_day):
    """Book up to `amount` of the chosen people into the station's earliest free windows.

    One appoint transition per window, each limited to what is still wanted; the
    workflow never lets a window pass its capacity. Texts each booked person.
    """
    eligible = select(Person.id).where(
        Person.id.in_(person_query), Person.station_id == station.id, Person.status.in_(APPOINTABLE)
    )
    available = db.session.execute(select(func.count()).select_from(eligible.subquery())).scalar_one()
    outcome = BookingOutcome(wanted=min(amount, available))
    for slot in open_slots(station, first_day, last_day):
        if outcome.booked >= outcome.wanted:
            break
        result = apply_transition("appoint", actor, query=eligible, slot=slot,
                                  limit=outcome.wanted - outcome.booked)
        if result.changed:
            notify_persons_of_event(result.event_id, appointment_notice(slot), "appointment")
            outcome.per_slot.append((slot, result.changed))
            outcome.booked += result.changed
    return outcome


def cancel_appointments(actor, person_query, reason):
    """Cancel the appointments of the chosen people, window by window; text each of them.

    Returns (requested, cancelled).
    """
    reason = (reason or "").strip()
    if not reason:
        raise WorkflowError("请填写取消原因")
    requested = db.session.execute(
        select(func.count()).select_from(Person).where(Person.id.in_(person_query))
    ).scalar_one()
    slot_ids = db.session.execute(
        select(Person.slot_id).where(Person.id.in_(person_query), Person.status == APPOINTED,
                                     Person.slot_id.is_not(None))
        .group_by(Person.slot_id).order_by(Person.slot_id)
    ).scalars().all()
    cancelled = 0
    for slot_id in slot_ids:
        slot = db.session.get(AppointmentSlot, slot_id)
        notice = cancellation_notice(slot, reason)
        in_slot = select(Person.id).where(Person.id.in_(person_query), Person.slot_id == slot_id)
        result = apply_transition("cancel_appointment", actor, query=in_slot, reason=reason)
        if result.changed:
            notify_persons_of_event(result.event_id, notice, "appointment_cancel")
            cancelled += result.changed
    return requested, cancelled


def reschedule(actor, person_query, slot):
    """Move the chosen appointed people into another window of their station; text each of them."""
    result = apply_transition("reschedule", actor, query=person_query, slot=slot)
    if result.changed:
        notify_persons_of_event(result.event_id, change_notice(slot), "appointment_change")
    return result


# ---------------------------------------------------------------- creating windows

def parse_windows(text):
    """Parse '08:30-10:00,10:00-11:30' into [(time, time)]; raise BookingError when malformed."""
    windows = []
    for part in re.split(r"[,，;；\s]+", text or ""):
        if not part:
            continue
        match = WINDOW_PATTERN.match(part)
        if not match:
            raise BookingError(f"时段格式不正确：{part}（示例：08:30-10:00,10:00-11:30）")
        h1, m1, h2, m2 = (int(x) for x in match.groups())
        if not (0 <= h1 < 24 and 0 <= h2 < 24 and m1 < 60 and m2 < 60):
            raise BookingError(f"时间不正确：{part}")
        begins, ends = datetime.min.time().replace(hour=h1, minute=m1), datetime.min.time().replace(hour=h2, minute=m2)
        if ends <= begins:
            raise BookingError(f"结束时间须晚于开始时间：{part}")
        windows.append((begins, ends))
    if not windows:
        raise BookingError("请填写每日时段，例如 08:30-10:00,10:00-11:30")
    windows.sort()
    for (_, first_end), (second_start, _) in zip(windows, windows[1:]):
        if second_start < first_end:
            raise BookingError("同一天的时段不能重叠")
    return windows


def parse_day_range(first, last):
    try:
        first_day, last_day = date.fromisoformat(first or ""), date.fromisoformat(last or "")
    except ValueError as error:
        raise BookingError("请选择正确的开始和结束日期") from error
    if last_day < first_day:
        raise BookingError("结束日期不能早于开始日期")
    if (last_day - first_day).days >= MAX_RANGE_DAYS:
        raise BookingError(f"日期范围不能超过 {MAX_RANGE_DAYS} 天")
    return first_day, last_day


def create_slots(station, first_day, last_day, windows, capacity):
    """Create the windows on every day of the range; skip those overlapping an existing window.

    Returns (created, skipped). One SELECT of the existing windows, one INSERT of the new.
    """
    start = datetime.combine(first_day, datetime.min.time())
    end = datetime.combine(last_day + timedelta(days=1), datetime.min.time())
    existing = db.session.execute(
        select(AppointmentSlot.starts_at, AppointmentSlot.ends_at)
        .where(AppointmentSlot.station_id == station.id, AppointmentSlot.starts_at < end,
               AppointmentSlot.ends_at > start)
    ).all()
    rows, skipped = [], 0
    day = first_day
    while day <= last_day:
        for begins, ends in windows:
            starts_at, ends_at = datetime.combine(day, begins), datetime.combine(day, ends)
            if any(s < ends_at and e > starts_at for s, e in existing):
                skipped += 1
                continue
            rows.append({"station_id": station.id, "starts_at": starts_at, "ends_at": ends_at,
                         "capacity": capacity, "booked": 0})
        day += timedelta(days=1)
    if rows:
        db.session.execute(insert(AppointmentSlot), rows)
    return len(rows), skipped


def set_capacity(slot_id, capacity):
    """Change a window's capacity, never below what is booked; raise BookingError otherwise."""
    if capacity < 0:
        raise BookingError("容量不能小于 0")
    result = db.session.execute(
        update(AppointmentSlot)
        .where(AppointmentSlot.id == slot_id, AppointmentSlot.booked <= capacity)
        .values(capacity=capacity)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        booked = db.session.execute(
            select(AppointmentSlot.booked).where(AppointmentSlot.id == slot_id)
        ).scalar_one_or_none()
        if booked is None:
            abort(404)
        raise BookingError(f"容量不能小于已预约人数（该时段已预约 {booked} 人）。如需减少，请先取消部分预约。")


# ---------------------------------------------------------------- helpers of the views

def parse_day(value, default):
    try:
        return date.fromisoformat(value) if value else default
    except ValueError:
        abort(400)


def run_and_commit(operation, message_on_conflict=FULL_MESSAGE):
    """Run `operation()` and commit; return its result, or None after telling the user why not.

    A BookingError or WorkflowError is the user's to fix; an IntegrityError is the database
    refusing (CHECK booked <= capacity, a window created twice) what someone else did at the
    same moment. Either way nothing is kept.
    """
    try:
        result = operation()
        db.session.commit()
    except (BookingError, WorkflowError) as error:
        db.session.rollback()
        flash(str(error), "error")
        return None
    except IntegrityError:
        db.session.rollback()
        flash(message_on_conflict, "error")
        return None
    return result


def send_queued_messages():
    """Hand the queued texts to the SMS backend once the bookings they announce are committed."""
    deliver_queued()
    db.session.commit()


def active_stations():
    return db.session.execute(select(Station).where(Station.active.is_(True)).order_by(Station.id)).scalars().all()


def chosen_station(stations):
    """The station of ?station= (or the form), else the first active one; 404 for an unknown id."""
    if not request.values.get("station"):
        return stations[0] if stations else None
    station = db.session.get(Station, int_arg("station", request.values) or 0)
    if station is None:
        abort(404)
    return station


# ---------------------------------------------------------------- 预约管理: the people

class CenterAppointmentView(TreePersonListView):
    """The people allocated to one station: book them in phases, change or cancel appointments."""

    list_template = "center/appointments.html"
    tree_statuses = APPOINTABLE
    tree_title = "单位清单"
    tree_count_label = "本站待预约人数"
    tabs = {
        "waiting": ("待预约", (ALLOCATED, NOT_VACCINATED)),
        "appointed": ("已预约", (APPOINTED,)),
    }
    default_tab = "waiting"
    column_list = ("enterprise.name", "name", "gender", "id_number", "age", "phone", "slot", "status")
    tool_buttons = {
        "appointed": (
            ToolButton("post_ticked", "cancel_appointment", "批量取消预约", confirm="确认取消选中的 {n} 人的预约？",
                       reason="取消原因", style="outline-danger", endpoint=".cancel"),
            ToolButton("post_all", "cancel_appointment", "全部取消预约", confirm="确认取消当前列表全部人员的预约",
                       reason="取消原因", style="outline-danger", endpoint=".cancel"),
        ),
    }

    def current_station(self):
        return chosen_station(active_stations())

    def tree_condition(self):
        station = self.current_station()
        return Person.station_id == (station.id if station else None)

    def narrowing_conditions(self):
        conditions = list(super().narrowing_conditions())
        slot_id = int_arg("slot")
        if slot_id:
            conditions.append(Person.slot_id == slot_id)
        day = request.args.get("day")
        if day:
            first = datetime.combine(parse_day(day, None), datetime.min.time())
            conditions.append(Person.slot_id.in_(select(AppointmentSlot.id).where(
                AppointmentSlot.starts_at >= first, AppointmentSlot.starts_at < first + timedelta(days=1))))
        return tuple(conditions)

    def link_args(self):
        station = self.current_station()
        return {"station": station.id} if station else {}

    def list_args(self):
        return {k: v for k, v in query_args().items() if k not in ("scope", "rowid")}

    def chosen_query(self):
        scope = request.values.get("scope")
        if scope == "all":
            return self.matching_ids()
        if scope == "ticked":
            ids = self.ticked_ids()
            if not ids:
                raise BookingError("请先勾选人员")
            return select(Person.id).where(Person.id.in_(ids))
        abort(400)

    def back(self):
        return redirect(self.get_url(".index_view", **self.list_args()))

    @expose("/book", methods=("POST",))
    def book(self):
        """分期分量预约: fill the earliest windows of the date range with up to N chosen people."""
        station = self.current_station()
        if station is None:
            abort(404)

        def operation():
            amount = int_arg("amount", request.form)
            if not amount or amount < 1:
                raise BookingError("请填写预约人数（至少 1 人）")
            first_day, last_day = parse_day_range(request.form.get("first_day"), request.form.get("last_day"))
            return book_in_phases(current_user, station, self.chosen_query(), amount, first_day, last_day)

        outcome = run_and_commit(operation)
        if outcome is not None:
            flash(outcome.message(), "success" if outcome.booked and not outcome.remaining else "warning")
            send_queued_messages()
        return self.back()

    @action("cancel_appointment", "批量取消预约")
    def action_cancel(self, ids):
        self.cancel_and_report(lambda: select(Person.id).where(Person.id.in_([int(i) for i in ids])))

    @expose("/cancel", methods=("POST",))
    def cancel(self):
        """Cancel appointments: ticked rows, the whole list, one window (slot=) or one day (day=)."""
        if request.form.get("scope") in ("all", "ticked"):
            self.cancel_and_report(self.chosen_query)
        else:
            self.cancel_and_report(self.window_query)
        return redirect(self.next_url())

    def cancel_and_report(self, chosen):
        counts = run_and_commit(lambda: cancel_appointments(current_user, chosen(), request.form.get("reason")))
        if counts is not None:
            requested, cancelled = counts
            flash(f"已取消预约 {cancelled} 人，跳过 {max(requested - cancelled, 0)} 人（状态已变化或无权限）",
                  "success" if cancelled else "warning")
            send_queued_messages()

    def next_url(self):
        """Where to go after a cancellation: the page it came from (same site only) or the list."""
        target = request.form.get("next") or ""
        if target.startswith("/") and not target.startswith("//") and "\\" not in target:
            return target
        return self.get_url(".index_view", **self.list_args())

    def window_query(self):
        """The appointed people of one window (form slot=) or of one station's day (station=, day=)."""
        slot_id = int_arg("slot", request.form)
        if slot_id:
            if db.session.get(AppointmentSlot, slot_id) is None:
                abort(404)
            return select(Person.id).where(Person.slot_id == slot_id, Person.status == APPOINTED)
        station = self.current_station()
        day = parse_day(request.form.get("day"), None)
        if station is None or day is None:
            abort(400)
        first = datetime.combine(day, datetime.min.time())
        windows = select(AppointmentSlot.id).where(
            AppointmentSlot.station_id == station.id, AppointmentSlot.starts_at >= first,
            AppointmentSlot.starts_at < first + timedelta(days=1))
        return select(Person.id).where(Person.slot_id.in_(windows), Person.status == APPOINTED)

    @expose("/reschedule", methods=("POST",))
    def change(self):
        """改约: move the ticked people (or the whole list) into another window of the station."""
        slot_id = int_arg("target_slot", request.form)
        slot = db.session.get(AppointmentSlot, slot_id) if slot_id else None
        station = self.current_station()
        if slot is None or station is None or slot.station_id != station.id:
            flash("请选择新的预约时段", "error")
            return self.back()
        label = window_text(slot)
        result = run_and_commit(lambda: reschedule(current_user, self.chosen_query(), slot))
        if result is not None:
            message = f"已改约 {result.changed} 人到 {label}"
            if result.skipped:
                message += f"，{result.skipped} 人未改约（该时段名额不足或状态已变化）"
            flash(message, "success" if result.changed and not result.skipped else "warning")
            send_queued_messages()
        return self.back()

    def render(self, template, **kwargs):
        if template == self.list_template:
            station = self.current_station()
            stations = active_stations()
            counts = stats.waiting_by_station(APPOINTABLE + (APPOINTED,))
            kwargs.update(
                station=station, stations=stations, station_counts=counts,
                enterprises=stats.enterprises_waiting_at(station.id) if station else [],
                free_places=stats.upcoming_free_places(station.id) if station else 0,
                target_slots=open_slots(station, today(), today() + timedelta(days=30)) if station else [],
                first_day=today(), last_day=today() + timedelta(days=6),
                slot_filter=db.session.get(AppointmentSlot, int_arg("slot") or 0),
                day_filter=request.args.get("day"),
            )
        return super().render(template, **kwargs)


# ---------------------------------------------------------------- 预约时段: the windows

class CenterSlotView(RoleAccessMixin, BaseView):
    """The windows of each station: bulk creation, capacity, the bookings of each day."""

    role = CENTER

    @expose("/")
    def index(self):
        stations = active_stations()
        station = chosen_station(stations)
        first_day = parse_day(request.args.get("from"), today())
        last_day = parse_day(request.args.get("to"), first_day + timedelta(days=13))
        if last_day < first_day or (last_day - first_day).days >= MAX_RANGE_DAYS:
            last_day = first_day + timedelta(days=13)
        days = []
        if station is not None:
            slots = db.session.execute(
                select(AppointmentSlot)
                .where(AppointmentSlot.station_id == station.id,
                       AppointmentSlot.starts_at >= datetime.combine(first_day, datetime.min.time()),
                       AppointmentSlot.starts_at < datetime.combine(last_day + timedelta(days=1), datetime.min.time()))
                .order_by(AppointmentSlot.starts_at)
            ).scalars().all()
            by_day = {}
            for slot in slots:
                by_day.setdefault(slot.starts_at.date(), []).append(slot)
            days = [(day, windows, sum(s.booked for s in windows), sum(s.capacity for s in windows))
                    for day, windows in sorted(by_day.items())]
        return self.render(
            "center/slots.html", stations=stations, station=station, days=days,
            first_day=first_day, last_day=last_day, current=now(),
            create_first=today() + timedelta(days=1), create_last=today() + timedelta(days=7),
        )

    def back(self, station_id=None):
        args = query_args()
        if station_id:
            args["station"] = station_id
        return redirect(self.get_url(".index", **args))

    @expose("/create", methods=("POST",))
    def create(self):
        """Create windows in bulk: a date range × daily windows × capacity."""
        station = db.session.get(Station, int_arg("station", request.form) or 0)
        if station is None:
            abort(404)

        def operation():
            first_day, last_day = parse_day_range(request.form.get("first_day"), request.form.get("last_day"))
            windows = parse_windows(request.form.get("windows"))
            capacity = int_arg("capacity", request.form, low=0)
            if not capacity or capacity < 1 or capacity > 100000:
                raise BookingError("请填写每个时段的容量（1 至 100000 人）")
            return create_slots(station, first_day, last_day, windows, capacity)

        counts = run_and_commit(operation, "部分时段已被他人同时创建，请刷新后重试。")
        if counts is not None:
            created, skipped = counts
            flash(f"已新建 {created} 个时段，跳过 {skipped} 个已存在（或重叠）的时段",
                  "success" if created else "warning")
        return self.back(station.id)

    @expose("/<int:slot_id>/capacity", methods=("POST",))
    def capacity(self, slot_id):
        slot = db.session.get(AppointmentSlot, slot_id)
        if slot is None:
            abort(404)
        station_id = slot.station_id
        capacity = int_arg("capacity", request.form, low=0)

        def operation():
            if capacity is None:
                raise BookingError("请填写容量")
            set_capacity(slot_id, capacity)
            return capacity

        if run_and_commit(operation, "容量不能小于已预约人数（刚有人预约了该时段），请刷新后重试。") is not None:
            flash(f"时段容量已改为 {capacity} 人", "success")
        return self.back(station_id)

    @expose("/<int:slot_id>/delete", methods=("POST",))
    def delete(self, slot_id):
        slot = db.session.get(AppointmentSlot, slot_id)
        if slot is None:
            abort(404)
        station_id = slot.station_id

        def operation():
            result = db.session.execute(
                delete(AppointmentSlot).where(AppointmentSlot.id == slot_id, AppointmentSlot.booked == 0)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                raise BookingError("该时段已有预约，不能删除。请先取消本时段预约。")
            return True

        if run_and_commit(operation, "该时段已有预约，不能删除。"):
            flash("时段已删除", "success")
        return self.back(station_id)
