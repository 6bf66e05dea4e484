"""预约管理: time windows of the stations, appointments in phases and amounts, cancellations.

The screens parse what was posted, call one operation of models/appointments.py, commit
once and say what happened; the operations book, move and cancel set-based and text the
people they moved with the words of admin_views/notices.py.
"""

import re
from datetime import date, datetime, time, timedelta

from flask import abort, flash, redirect, request
from flask_admin import BaseView, expose
from flask_admin.actions import action
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from admin_views.base import RoleAccessMixin, bounded_ids, int_arg, query_args
from admin_views.center_tree import ToolButton, TreePersonListView
from admin_views.labels import error_text, reservation_message, window_cancellation_message
from admin_views.notices import (
    appointment_notice,
    cancellation_notice,
    change_notice,
    reservation_notice,
    reserved_notice,
    window_text,
)
from extensions import db
from models import appointments, stats
from models.appointments import APPOINTABLE, MAX_RANGE_DAYS, BookingError, SlotNotFound
from models.base import now, today
from models.org import AppointmentSlot, Station
from models.person import Person
from models.status import ALLOCATED, APPOINTED, DUE_NEXT, NOT_VACCINATED
from models.user import CENTER
from models.workflow import WorkflowError
from services.safe_redirect import safe_next

FULL_MESSAGE = "预约时段名额已满或已被他人同时预约，请刷新后重试。"
WINDOW_PATTERN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-~－—至]\s*(\d{1,2}):(\d{2})\s*$")


# ---------------------------------------------------------------- reading the forms

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
        if time(h2, m2) <= time(h1, m1):
            raise BookingError(f"结束时间须晚于开始时间：{part}")
        windows.append((time(h1, m1), time(h2, m2)))
    return windows


def parse_day_range(first, last):
    try:
        return date.fromisoformat(first or ""), date.fromisoformat(last or "")
    except ValueError as error:
        raise BookingError("请选择正确的开始和结束日期") from error


def booking_message(outcome):
    """The words for what a phased booking did."""
    if outcome.wanted == 0:
        return "没有可预约的人员（仅“已分配”“未接种”或“待续种”的人员可预约）。"
    text = f"已预约 {outcome.booked} 人"
    if outcome.per_slot:
        text += "（" + "；".join(f"{window_text(slot)} {n} 人" for slot, n in outcome.per_slot) + "）"
    if outcome.remaining:
        text += (f"，还有 {outcome.remaining} 人未能预约：所选日期内、其接种间隔之内的时段名额不足"
                 "（续种人员不会约在最早可接种日之前或最晚日之后）。")
    extra = reservation_message(outcome.reservations)
    return f"{text.rstrip('。')}。{extra}" if extra else text


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
    same moment. Either way nothing is kept. A window that does not exist is a 404.
    """
    try:
        result = operation()
        db.session.commit()
    except (BookingError, WorkflowError) as error:
        db.session.rollback()
        flash(error_text(error), "error")
        return None
    except IntegrityError:
        db.session.rollback()
        flash(message_on_conflict, "error")
        return None
    except SlotNotFound:
        db.session.rollback()
        abort(404)
    return result


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
        # Those due for a next dose; ?opens_from=&opens_to= narrow to the windows opening then.
        "due_next": ("待续种", (DUE_NEXT,)),
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
        opens = self.opening_range()
        if opens is not None:
            conditions.append(appointments.next_dose_opening(*opens))
        day = request.args.get("day")
        if day:
            first = datetime.combine(parse_day(day, None), datetime.min.time())
            conditions.append(Person.slot_id.in_(select(AppointmentSlot.id).where(
                AppointmentSlot.starts_at >= first, AppointmentSlot.starts_at < first + timedelta(days=1))))
        return tuple(conditions)

    def opening_range(self):
        """The 待续种 tab's range of days on which the next-dose windows open (none: every one)."""
        chosen = request.args.get("opens_from") or request.args.get("opens_to")
        if request.args.get("tab") != "due_next" or not chosen:
            return None
        first = parse_day(request.args.get("opens_from"), today() - timedelta(days=3650))
        last = parse_day(request.args.get("opens_to"), today() + timedelta(days=3650))
        return first, last

    def link_args(self):
        station = self.current_station()
        return {"station": station.id} if station else {}

    def list_args(self):
        return {k: v for k, v in query_args().items() if k not in ("scope", "rowid")}

    def chosen_condition(self):
        if request.values.get("scope") == "ticked" and not self.ticked_ids():
            raise BookingError("请先勾选人员")
        return super().chosen_condition()

    def back(self):
        return redirect(self.get_url(".index_view", **self.list_args()))

    @expose("/book", methods=("POST",))
    def book(self):
        """分期分量预约: fill the earliest windows of the date range with up to N chosen people."""
        station = self.current_station()
        if station is None:
            abort(404)

        def operation():
            first_day, last_day = parse_day_range(request.form.get("first_day"), request.form.get("last_day"))
            return appointments.book_in_phases(current_user, station, self.chosen_condition(),
                                               int_arg("amount", request.form), first_day, last_day,
                                               notice=appointment_notice, reserved_notice=reserved_notice)

        outcome = run_and_commit(operation)
        if outcome is not None:
            fully = outcome.booked and not outcome.remaining and not outcome.reservations.unreserved
            flash(booking_message(outcome), "success" if fully else "warning")
        return self.back()

    @action("cancel_appointment", "批量取消预约")
    def action_cancel(self, ids):
        self.cancel_and_report(lambda: Person.id.in_(bounded_ids(ids)))

    @expose("/cancel", methods=("POST",))
    def cancel(self):
        """Cancel appointments: ticked rows, the whole list, one window (slot=) or one day (day=)."""
        if request.form.get("scope") in ("all", "ticked"):
            self.cancel_and_report(self.chosen_condition)
        else:
            outcome = run_and_commit(lambda: appointments.cancel_windows(
                current_user, self.cancelled_windows(), request.form.get("reason"), notice=cancellation_notice,
                reservation_notice=reservation_notice))
            if outcome is not None:
                flash(window_cancellation_message(outcome),
                      "success" if outcome.cancelled or outcome.moved or outcome.lost else "warning")
        return redirect(self.next_url())

    def cancel_and_report(self, chosen):
        counts = run_and_commit(lambda: appointments.cancel_appointments(
            current_user, chosen(), request.form.get("reason"), notice=cancellation_notice))
        if counts is not None:
            requested, cancelled = counts
            flash(f"已取消预约 {cancelled} 人，跳过 {max(requested - cancelled, 0)} 人（状态已变化或无权限）",
                  "success" if cancelled else "warning")

    def next_url(self):
        """Where to go after a cancellation: the page it came from (same site only) or the list."""
        return safe_next(request.form.get("next"), self.get_url(".index_view", **self.list_args()))

    def cancelled_windows(self):
        """The window of form slot=, or the windows of one station's day (station=, day=): what 取消 empties."""
        slot_id = int_arg("slot", request.form)
        if slot_id:
            return [slot_id]
        station = self.current_station()
        day = parse_day(request.form.get("day"), None)
        if station is None or day is None:
            abort(400)
        return db.session.execute(appointments.slot_ids_between(station.id, day, day)).scalars().all()

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
        result = run_and_commit(lambda: appointments.reschedule(current_user, self.chosen_condition(), slot,
                                                                notice=change_notice,
                                                                reserved_notice=reserved_notice))
        if result is not None:
            message = f"已改约 {result.changed} 人到 {label}"
            if result.skipped:
                message += f"，{result.skipped} 人未改约（该时段名额不足或状态已变化）"
            flash(message, "success" if result.changed and not result.skipped else "warning")
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
                target_slots=appointments.open_slots(station, today(), today() + timedelta(days=30)) if station else [],
                first_day=today(), last_day=today() + timedelta(days=6),
                slot_filter=db.session.get(AppointmentSlot, int_arg("slot") or 0),
                day_filter=request.args.get("day"),
                opens_from=request.args.get("opens_from", ""), opens_to=request.args.get("opens_to", ""),
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
            slots = appointments.slots_between(station.id, first_day, last_day)
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
            return appointments.create_slots(current_user, station, first_day, last_day,
                                             parse_windows(request.form.get("windows")),
                                             int_arg("capacity", request.form, low=0))

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
            appointments.set_capacity(current_user, slot_id, capacity)
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
            appointments.delete_slot(current_user, slot_id)
            return True

        if run_and_commit(operation, "该时段已有预约，不能删除。"):
            flash("时段已删除", "success")
        return self.back(station_id)
