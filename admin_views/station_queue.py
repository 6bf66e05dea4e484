"""候诊队列 and 出站确认: who is waiting and for how long, vaccination with e-signature, or why not."""

from dataclasses import dataclass
from datetime import datetime, time

from flask import Response, abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user
from sqlalchemy import func, select

from admin_views.base import int_arg, mask_id_number
from admin_views.labels import dose_label, error_text
from admin_views.notices import (
    GIVEN_OUTSIDE_INTERVAL,
    next_dose_appointment_notice,
    not_given_reason,
    reservation_released_notice,
)
from admin_views.station_common import StationView, answer, current_station, format_duration
from admin_views.station_exit_lot import chosen_lot, lot_context, record_dose
from admin_views.station_observation import publish_observation_changed
from admin_views.station_signature import SignatureError, signature_png
from extensions import db
from models.appointments import reservations_held, text_reservation_outcomes
from models.audit import record_event
from models.base import now
from models.exit_queue import claim_next_person, others_waiting
from models.lots import StockError, normalise_trace_code, resolve_trace_code, trace_code_error
from models.options import NOT_VACCINATED_REASON, option_labels
from models.person import Person
from models.status import CHECKED_IN, DUE_NEXT, NOT_VACCINATED, VACCINATED
from models.vaccines import VaccineProduct, is_primary_dose, products_for_dose, station_products
from models.workflow import WorkflowError, apply_transition, person_scope
from services import events

OTHER_REASON = "其他"


@dataclass
class WaitStats:
    waiting: int
    seen_today: int
    average_seconds: int
    longest_seconds: int

    @property
    def average(self):
        return format_duration(self.average_seconds) if self.seen_today else "—"

    @property
    def longest(self):
        return format_duration(self.longest_seconds) if self.seen_today else "—"


def waiting_query(station_id):
    """People checked in at the station and not yet through the exit desk, longest waiting first."""
    return (select(Person).where(Person.station_id == station_id, Person.status == CHECKED_IN)
            .order_by(Person.checked_in_at, Person.id))


def waiting_people(station_id):
    return db.session.execute(waiting_query(station_id)).scalars().all()


def wait_stats(station_id, at=None):
    """Average and longest wait today: check-in to exit, or to now for those still waiting."""
    at = at or now()
    since = datetime.combine(at.date(), time.min)
    rows = db.session.execute(
        select(Person.checked_in_at, Person.finished_at).where(
            Person.station_id == station_id, Person.checked_in_at >= since,
            Person.status.in_((CHECKED_IN, VACCINATED, NOT_VACCINATED)),
        )
    ).all()
    waits = [((finished or at) - checked_in).total_seconds() for checked_in, finished in rows]
    waiting = db.session.execute(
        select(func.count()).select_from(Person).where(Person.station_id == station_id, Person.status == CHECKED_IN)
    ).scalar_one()
    return WaitStats(
        waiting=waiting, seen_today=len(waits),
        average_seconds=int(sum(waits) / len(waits)) if waits else 0,
        longest_seconds=int(max(waits)) if waits else 0,
    )


def queue_context(station_id):
    """What the queue panel shows, on the desk and on the queue page."""
    at = now()
    people = waiting_people(station_id)
    rows = [{"person": p, "wait_seconds": int((at - p.checked_in_at).total_seconds()) if p.checked_in_at else 0}
            for p in people]
    return {"queue_rows": rows, "wait_stats": wait_stats(station_id, at), "format_duration": format_duration}


def publish_queue_changed(station_id):
    events.publish(events.station_channel(station_id), {"type": "queue"})


class StationQueueView(StationView):
    """候诊队列 with 出站确认 for each waiting person."""

    @expose("/")
    def index(self):
        station = current_station()
        return self.render("station/queue.html", **queue_context(station.id))

    @expose("/panel")
    def panel(self):
        """The queue as an HTML fragment, for the pages' scripts to refresh."""
        return self.render("station/_queue_panel.html", compact=request.args.get("compact") == "1",
                           **queue_context(current_user.station_id))

    @expose("/next", methods=("POST",))
    def next_person(self):
        """下一位: 出站确认 of whoever has waited longest and no other nurse has taken, other than `after`.

        A POST with the CSRF token (a GET answers 405): it claims the person, so a link or an
        image of another site opened in a nurse's logged-in browser must not press it.
        """
        after = int_arg("after", request.form)
        person_id = claim_next_person(current_user, skip=after)
        db.session.commit()
        if person_id is not None:
            return redirect(url_for(".exit_form", person_id=person_id))
        if others_waiting(current_user, skip=after):
            flash("其余候诊人员正由其他工作人员处理", "info")
        elif after and self._waiting(after):
            flash("候诊队列中没有其他人员", "info")
        else:
            flash("当前没有候诊人员", "info")
        if after and self._waiting(after):
            return redirect(url_for(".exit_form", person_id=after))
        return redirect(url_for(".index"))

    @expose("/<int:person_id>/")
    def exit_form(self, person_id, signature_error=None, reason_error=None, lot_error=None):
        person = self._scoped_person(person_id)
        station = current_station()
        wait = int((now() - person.checked_in_at).total_seconds()) if person.checked_in_at else 0
        return self.render(
            "station/exit.html", person=person, masked_id=mask_id_number(person.id_number), wait_seconds=wait,
            format_duration=format_duration, reasons=option_labels(NOT_VACCINATED_REASON),
            other_reason=OTHER_REASON, product=request.form.get("vaccine_product", station.default_vaccine_product),
            lot=request.form.get("vaccine_lot", station.default_vaccine_lot),
            signature_error=signature_error, reason_error=reason_error, lot_error=lot_error,
            chosen_lot_id=request.form.get("lot_id", ""), **lot_context(station.id, person.product_id),
            **self._dose_context(station, person),
        )

    def _dose_context(self, station, person):
        """The dose due and the products this desk may give for it (none chosen: the station gives no product yet)."""
        booster = not is_primary_dose(person)
        chosen = request.form.get("product_id") or (person.product_id and str(person.product_id)) or ""
        default = next((p for p in station_products(station.id) if p.name == station.default_vaccine_product), None)
        return {"dose_label": dose_label(person.dose_number, booster), "station_gives": station_products(station.id),
                "products": products_for_dose(station.id, person),
                "chosen_product": chosen or (str(default.id) if default else "")}

    @expose("/trace-code")
    def trace_code(self):
        """Which lot a scanned 追溯码 belongs to, and whether this desk may give it now (JSON for the exit form)."""
        code = normalise_trace_code(request.args.get("code", "")[:64])
        if trace_code_error(code):
            return {"ok": False, "message": error_text(trace_code_error(code))}, 422
        try:
            lot = resolve_trace_code(code)
        except StockError as error:
            return {"ok": False, "message": error_text(error)}, 404
        usable = {row[0].id for row in lot_context(current_user.station_id)["lots"]}
        if lot.id not in usable:
            return {"ok": False, "lot_id": lot.id,
                    "message": f"批号 {lot.lot_number} 本站不可用（已冻结、已过期或无库存）"}, 409
        return {"ok": True, "lot_id": lot.id, "lot_number": lot.lot_number, "product": lot.product.name,
                "product_id": lot.product_id,
                "message": f"已识别：{lot.product.name} 批号 {lot.lot_number}，有效期至 {lot.expiry_date:%Y-%m-%d}"}

    @expose("/<int:person_id>/vaccinate", methods=("POST",))
    def vaccinate(self, person_id):
        person = self._scoped_person(person_id)
        station = current_station()
        chosen = self._chosen_product(station, person)
        if isinstance(chosen, str):
            return self._invalid(person_id, signature_error=chosen)
        try:
            # the lot must be of the product given: the one chosen, else the course's
            choice = chosen_lot(request.form, person.station_id, chosen.id if chosen else person.product_id)
        except StockError as error:
            return self._invalid(person_id, lot_error=error_text(error))
        product = (chosen.name if chosen else choice.lot.product.name if choice.lot
                   else request.form.get("vaccine_product", "").strip())
        lot = choice.lot_number
        if not product or not lot or len(product) > 100 or len(lot) > 50:
            return self._invalid(person_id, signature_error="请填写疫苗名称（100字以内）和批号（50字以内）")
        try:
            png = signature_png(request.form.get("signature", ""))
        except SignatureError as error:
            return self._invalid(person_id, signature_error=str(error))
        dose = dose_label(person.dose_number, not is_primary_dose(person))
        station_id = person.station_id
        return self._finish(person, "vaccinate", f"已确认接种：{person.name}（{dose}，批号 {lot}），进入留观",
                            product=chosen or (choice.lot.product if choice.lot else None),
                            extra={"vaccine_product": product, "vaccine_lot": lot, "signature_png": png},
                            after=lambda result: record_dose(current_user, station_id, choice, result.event_id))

    def _chosen_product(self, station, person):
        """The product posted, if this desk may give it to this person; a message when not; None without a list.

        A station the center has given no products yet records the product by name, as before.
        """
        if not station_products(station.id):
            return None
        allowed = {str(p.id): p for p in products_for_dose(station.id, person)}
        if not allowed:
            course = db.session.get(VaccineProduct, person.product_id)
            return f"本站不提供该人员的疫苗品种（{course.name if course else ''}），请引导至提供该品种的接种站"
        chosen = allowed.get(request.form.get("product_id", "").strip())
        return chosen or "请选择本站可接种且与该人员前剂次一致的疫苗品种"

    @expose("/<int:person_id>/not-vaccinated", methods=("POST",))
    def not_vaccinated(self, person_id):
        person = self._scoped_person(person_id)
        reason = request.form.get("reason", "").strip()
        other = request.form.get("other_reason", "").strip()
        if reason not in option_labels(NOT_VACCINATED_REASON):
            return self._invalid(person_id, reason_error="请选择未接种原因")
        if reason == OTHER_REASON:
            if not other or len(other) > 150:
                return self._invalid(person_id, reason_error="选择“其他”时请填写具体原因（150字以内）")
            reason = f"{OTHER_REASON}：{other}"
        return self._finish(person, "mark_not_vaccinated", f"已记录未接种：{person.name}（{reason}）", reason=reason)

    def _invalid(self, person_id, **errors):
        """The exit form again, with what to correct, as 422."""
        return self.exit_form(person_id, **errors), 422

    def _finish(self, person, action, done_message, after=None, **kwargs):
        station_id, person_id = person.station_id, person.id
        held = reservations_held(Person.id == person_id)
        try:
            result = apply_transition(action, current_user, ids=[person.id], **kwargs)
        except WorkflowError as error:
            db.session.rollback()
            flash(error_text(error), "error")
            return redirect(url_for(".index"))
        if result.changed != 1:
            db.session.rollback()
            flash("未处理：该人员不在候诊队列中（可能已被其他工作人员处理）", "error")
            return redirect(url_for(".index"))
        if after is not None:
            try:
                after(result)  # the dose leaves the stock in this same transaction, or nothing happens
            except StockError as error:
                db.session.rollback()
                return self._invalid(person_id, lot_error=error_text(error))
        # A dose-2 place taken up or given back here is texted, as at booking or a window's cancellation.
        why = GIVEN_OUTSIDE_INTERVAL if action == "vaccinate" else not_given_reason(kwargs.get("reason"))
        text_reservation_outcomes(held, taken_notice=next_dose_appointment_notice,
                                  released_notice=lambda window: reservation_released_notice(window, why))
        db.session.commit()
        publish_queue_changed(station_id)
        if action == "vaccinate":
            publish_observation_changed(station_id)
        flash(done_message, "success")
        return redirect(url_for(".index"))

    @expose("/defaults", methods=("POST",))
    def defaults(self):
        """本站默认疫苗: the product and lot the exit form starts with."""
        station = current_station()
        product = request.form.get("default_vaccine_product", "").strip()
        lot = request.form.get("default_vaccine_lot", "").strip()
        if len(product) > 100 or len(lot) > 50:
            return answer("疫苗名称最多100字，批号最多50字", ok=False, redirect_to=url_for(".index"))
        before = f"{station.default_vaccine_product or ''} / {station.default_vaccine_lot or ''}"
        station.default_vaccine_product, station.default_vaccine_lot = product or None, lot or None
        record_event(current_user, "station_vaccine_defaults", target_type="station", target_id=station.id,
                     detail=f"{before} -> {product} / {lot}")
        db.session.commit()
        return answer("已保存本站默认疫苗", redirect_to=url_for(".index"))

    @expose("/<int:person_id>/signature.png")
    def signature(self, person_id):
        """The stored e-signature of a person of this station."""
        person = db.session.execute(
            select(Person).where(Person.id == person_id, person_scope(current_user))
        ).scalar_one_or_none()
        if person is None or not person.signature_png:
            abort(404)
        record_event(current_user, "view_signature", target_id=person.id)
        db.session.commit()
        return Response(person.signature_png, mimetype="image/png", headers={"Cache-Control": "private, no-store"})

    def _scoped_person(self, person_id):
        """A waiting person of this station; for one of its people no longer waiting a page saying
        so (409); else 404 (other stations' people do not exist here)."""
        person = self._waiting(person_id)
        if person is not None:
            return person
        person = db.session.execute(
            select(Person).where(Person.id == person_id, person_scope(current_user))).scalar_one_or_none()
        if person is None:
            abort(404)
        page = self.render("station/exit_handled.html", person=person,
                           finished=person.status in (VACCINATED, NOT_VACCINATED, DUE_NEXT))
        abort(Response(page, status=409))

    def _waiting(self, person_id):
        """The person if waiting in this station's queue, else None."""
        return db.session.execute(
            select(Person).where(Person.id == person_id, person_scope(current_user), Person.status == CHECKED_IN)
        ).scalar_one_or_none()
