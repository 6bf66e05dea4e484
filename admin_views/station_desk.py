"""入站登记, the station console's home: card reads arrive live, the desk checks people in.

The page keeps a Server-Sent Events stream open. An event says only that something
happened (a read with its id, a queue change); the page then fetches what to show
through the scoped requests below, which also write the audit log of who saw a full
ID number.
"""

import json
import logging

from flask import Response, abort, current_app, redirect, request, stream_with_context, url_for
from flask_admin import expose
from flask_login import current_user
from sqlalchemy import select

from admin_views.base import ConsoleHomeView, int_arg, mask_id_number, mask_phone
from admin_views.labels import STATUS_LABELS, VERDICT_LABELS, error_text, verdict_detail
from admin_views.station_common import StationView, answer, current_station, wants_json
from admin_views.station_queue import publish_queue_changed, queue_context
from extensions import db, limiter
from models.audit import record_event
from models.base import now
from models.identity import id_number_error, normalise_id_number
from models.reader import CardRead
from models.user import STATION, User
from models.workflow import WorkflowError, apply_transition
from services import events
from services.card_match import (
    ALREADY_CHECKED_IN,
    TOO_EARLY,
    WRONG_WINDOW,
    match_card,
    record_read,
    window_text,
)

MANUAL_READER = "手工录入"
RECENT_READS = 8
# A read that reached the server this long after it was made was queued by the agent (offline).
DELAYED_READ_SECONDS = 60

log = logging.getLogger(__name__)


class StationDeskView(StationView, ConsoleHomeView):
    """The desk page (/station/): live card reads, manual lookup, 登记, and the queue beside."""

    def __init__(self, name="入站登记"):
        super().__init__(STATION, name=name, template="station/desk.html")

    @expose("/")
    def index(self):
        station = current_station()
        read = self._scoped_read(int_arg("read")) or self._latest_read_today(station.id)
        panel = self._panel_context(read) if read is not None else {}
        if read is not None:
            db.session.commit()  # the audit row of the full ID number shown
        return self.render(self.home_template, recent=self._recent_reads(station.id), **panel,
                           **queue_context(station.id))

    @expose("/events")
    def stream(self):
        """Server-Sent Events of this station: card reads and queue changes."""
        channel = events.station_channel(current_user.station_id)
        subscription = events.subscribe(channel)  # heartbeat every SSE_HEARTBEAT_SECONDS
        try:
            next(subscription)  # subscribe now: a broker that is down gets an answer, not a broken stream
        except Exception:  # noqa: BLE001 - Redis down or not answering: the desk page falls back to refreshing
            log.warning("event stream of station %s unavailable", current_user.station_id, exc_info=True)
            db.session.rollback()
            return Response("实时推送暂不可用，页面将定时刷新", status=503, mimetype="text/plain",
                            headers={"Retry-After": "30"})
        # The stream may stay open for hours: end the (read-only) transaction so the
        # database connection goes back to the pool meanwhile.
        db.session.rollback()

        def generate():
            try:
                yield "retry: 3000\n: connected\n\n"
                first = False
                for event in subscription:
                    if event is None:
                        yield ("retry: 3000\n: connected\n\n" if first else ": ping\n\n")
                        first = False
                        continue
                    payload = json.dumps(event, ensure_ascii=False)
                    yield f"event: {event.get('type', 'message')}\ndata: {payload}\n\n"
            finally:
                subscription.close()

        response = Response(stream_with_context(generate()), mimetype="text/event-stream")
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Accel-Buffering"] = "no"
        return response

    @expose("/reads/<int:read_id>")
    def read_panel(self, read_id):
        """One read as the desk shows it (an HTML fragment); viewing it is audited."""
        read = self._scoped_read(read_id)
        if read is None:
            abort(404)
        context = self._panel_context(read)
        db.session.commit()
        return self.render("station/_read_panel.html", **context)

    @expose("/reads/recent")
    def recent_panel(self):
        return self.render("station/_recent_reads.html", recent=self._recent_reads(current_user.station_id))

    @expose("/lookup", methods=("POST",))
    @limiter.limit(lambda: current_app.config["STATION_LOOKUP_RATE_LIMIT"],
                   key_func=lambda: f"station-lookup:{current_user.id}")
    def lookup(self):
        """手工查询: an ID number typed (or sent by a keyboard-wedge reader) at the desk."""
        number = normalise_id_number(request.form.get("id_number", ""))[:32]
        error = id_number_error(number)
        if error:
            return answer(error_text(error), ok=False, status=422, redirect_to=url_for(".index"))
        read, match = record_read(current_user.station_id, number, now(), reader=MANUAL_READER)
        db.session.flush()
        if not wants_json():
            db.session.commit()
            return redirect(url_for(".index", read=read.id))
        context = self._panel_context(read, match)
        db.session.commit()
        return {"ok": True, "read": read.id, "html": self.render("station/_read_panel.html", **context)}

    @expose("/check-in", methods=("POST",))
    def check_in(self):
        """登记: the person read at the desk is checked in and joins the queue."""
        person_id = int_arg("person_id", request.form)
        read_id = int_arg("read_id", request.form)
        back = url_for(".index", read=read_id) if read_id else url_for(".index")
        if person_id is None:
            return answer("请先读取身份证", ok=False, status=422, redirect_to=back)
        try:
            result = apply_transition("check_in", current_user, ids=[person_id])
        except WorkflowError as error:
            db.session.rollback()
            return answer(error_text(error), ok=False, redirect_to=back)
        if result.changed != 1:
            db.session.rollback()
            return answer("未登记：该人员不是本站的已预约人员，或已被登记", ok=False, redirect_to=back)
        db.session.commit()
        publish_queue_changed(current_user.station_id)
        return answer("已登记，进入候诊队列", redirect_to=back)

    @expose("/check-in/override", methods=("POST",))
    @limiter.limit("10/minute", key_func=lambda: f"station-override:{current_user.id}")
    def check_in_early(self):
        """登记 before the next dose's first allowed day: the station's supervisor approves with a reason."""
        person_id = int_arg("person_id", request.form)
        read_id = int_arg("read_id", request.form)
        back = url_for(".index", read=read_id) if read_id else url_for(".index")
        reason = request.form.get("override_reason", "").strip()
        if person_id is None:
            return answer("请先读取身份证", ok=False, status=422, redirect_to=back)
        if not reason or len(reason) > 150:
            return answer("请填写提前接种的原因（150字以内）", ok=False, status=422, redirect_to=back)
        supervisor = self._supervisor(request.form.get("supervisor", ""), request.form.get("supervisor_password", ""))
        if supervisor is None:
            record_event(current_user, "interval_override_refused", target_id=person_id,
                         detail=f"supervisor={request.form.get('supervisor', '')[:64]}")
            db.session.commit()
            return answer("主管账号或密码不正确，或该账号不是本站主管", ok=False, status=422, redirect_to=back)
        try:
            result = apply_transition("check_in", current_user, ids=[person_id], override_by=supervisor,
                                      reason=f"提前接种：{reason}")
        except WorkflowError as error:
            db.session.rollback()
            return answer(error_text(error), ok=False, redirect_to=back)
        if result.changed != 1:
            db.session.rollback()
            return answer("未登记：该人员不是本站的已预约人员，或已被登记", ok=False, redirect_to=back)
        db.session.commit()
        publish_queue_changed(current_user.station_id)
        return answer(f"已由主管{supervisor.display_name or supervisor.username}批准提前接种，已登记", redirect_to=back)

    def _supervisor(self, username, password):
        """The active supervisor account of this station whose password was typed, else None."""
        user = db.session.execute(select(User).where(User.username == username.strip()[:64])).scalar_one_or_none()
        if user is None or not password or not user.check_password(password):
            return None
        if not (user.active and user.role == STATION and user.is_supervisor
                and user.station_id == current_user.station_id):
            return None
        return user

    # ------------------------------------------------------------ helpers

    def _scoped_read(self, read_id):
        if read_id is None:
            return None
        return db.session.execute(
            select(CardRead).where(CardRead.id == read_id, CardRead.station_id == current_user.station_id)
        ).scalar_one_or_none()

    def _latest_read_today(self, station_id):
        start = now().replace(hour=0, minute=0, second=0)
        return db.session.execute(
            select(CardRead).where(CardRead.station_id == station_id, CardRead.received_at >= start)
            .order_by(CardRead.id.desc()).limit(1)
        ).scalar_one_or_none()

    def _recent_reads(self, station_id):
        reads = db.session.execute(
            select(CardRead).where(CardRead.station_id == station_id)
            .order_by(CardRead.id.desc()).limit(RECENT_READS)
        ).scalars().all()
        return [{"read": r, "masked_id": mask_id_number(r.id_number),
                 "name": r.person.name if r.person is not None and r.person.station_id == station_id else "",
                 "label": VERDICT_LABELS[r.verdict] + ("·证件已过期" if r.card_expired else "")} for r in reads]

    def _panel_context(self, read, match=None):
        """What the read panel shows now; the full ID number shown is written to the audit log."""
        match = match or match_card(current_user.station_id, read.id_number, read.read_at)
        person = match.person if match.at_this_station else None
        record_event(current_user, "view_id_number", target_type="person" if person else "card_read",
                     target_id=person.id if person else read.id, detail=f"card_read={read.id}")
        return {
            "read": read, "match": match, "person": person, "detail": verdict_detail(match),
            "masked_phone": mask_phone(person.phone) if person else "",
            "window": window_text(match.person.slot) if match.person is not None and match.person.slot else "",
            "status_label": STATUS_LABELS.get(person.status, "") if person else "",
            "delayed": (read.received_at - read.read_at).total_seconds() > DELAYED_READ_SECONDS,
            # An expired card is a verdict of its own to confirm: the desk checks another valid document.
            "card_expired": read.card_expired,
            "confirm_needed": match.verdict == WRONG_WINDOW or read.card_expired,
            "waiting": match.verdict == ALREADY_CHECKED_IN,
            "dose": match.dose if person else None,
            "too_early": match.verdict == TOO_EARLY,
        }

