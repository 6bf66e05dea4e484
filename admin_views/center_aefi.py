"""防控中心端 异常反应: every report with its deadlines and what is overdue, the rate per lot, and the
dashboard's alert of 严重 and 群体性 reports (a fragment the dashboard polls every few seconds).
"""

from flask import flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user
from sqlalchemy import select

from admin_views.base import RoleAccessMixin
from admin_views.labels import AEFI_STATE_LABELS, error_text
from extensions import db
from models.aefi import (
    CLASSIFICATIONS,
    OUTCOMES,
    AefiError,
    AefiReport,
    close_report,
    open_alerts,
    rates_by_lot,
    start_investigation,
)
from models.base import now
from models.user import CENTER

LIST_LIMIT = 200


class CenterAefiView(RoleAccessMixin, BaseView):
    role = CENTER

    @expose("/")
    def index(self):
        state = request.args.get("state") if request.args.get("state") in AEFI_STATE_LABELS else None
        query = select(AefiReport).order_by(AefiReport.id.desc()).limit(LIST_LIMIT)
        if state:
            query = query.where(AefiReport.state == state)
        reports = db.session.execute(query).scalars().all()
        at = now()
        return self.render("center/aefi.html", reports=reports, rates=rates_by_lot(), state=state,
                           states=AEFI_STATE_LABELS, classifications=CLASSIFICATIONS, outcomes=OUTCOMES, now=at,
                           overdue=[r for r in reports if r.state == "reported" and r.investigation_overdue(at)])

    @expose("/alerts")
    def alerts(self):
        """The dashboard's AEFI alert (HTML fragment; empty when there is nothing to raise)."""
        return self.render("center/_aefi_alerts.html", alerts=open_alerts())

    @expose("/<int:report_id>/investigate", methods=("POST",))
    def investigate(self, report_id):
        return self._run(lambda: start_investigation(current_user, report_id), "已开始调查")

    @expose("/<int:report_id>/close", methods=("POST",))
    def close(self, report_id):
        form = request.form
        return self._run(lambda: close_report(current_user, report_id, form.get("classification"),
                                              form.get("conclusion"), form.get("outcome") or None), "已结案")

    def _run(self, operation, message):
        try:
            operation()
        except AefiError as error:
            db.session.rollback()
            flash(error_text(error), "error")
            return redirect(url_for(".index"))
        db.session.commit()
        flash(message, "success")
        return redirect(url_for(".index"))
