"""异常反应上报 at the station: the form (opened prefilled from the 留观 board) and the station's reports."""

from datetime import datetime

from flask import abort, flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user
from sqlalchemy import select

from admin_views.base import int_arg
from admin_views.labels import AEFI_SEVERITY_LABELS, error_text
from admin_views.station_common import StationView
from extensions import db
from models.aefi import OUTCOMES, AefiError, AefiReport, file_report
from models.base import now
from models.doses import GIVEN, VALID, Vaccination
from models.options import AEFI_SYMPTOM, option_labels

RECENT_REPORTS = 50
TIME_FORMAT = "%Y-%m-%dT%H:%M"


def parse_time(raw):
    try:
        return datetime.strptime((raw or "").strip()[:16], TIME_FORMAT)
    except ValueError:
        return None


class StationAefiView(StationView):
    @expose("/")
    def index(self):
        reports = db.session.execute(
            select(AefiReport).where(AefiReport.station_id == current_user.station_id)
            .order_by(AefiReport.id.desc()).limit(RECENT_REPORTS)).scalars().all()
        return self.render("station/aefi_list.html", reports=reports, now=now())

    @expose("/new", methods=("GET", "POST"))
    def new(self):
        vaccination = self._vaccination(int_arg("vaccination_id", request.values))
        if request.method == "POST":
            form = request.form
            try:
                report = file_report(
                    current_user, vaccination.id, symptoms=form.getlist("symptoms"),
                    symptoms_text=form.get("symptoms_text", ""), onset_at=parse_time(form.get("onset_at")),
                    discovered_at=parse_time(form.get("discovered_at")) or now(), severity=form.get("severity"),
                    treatment=form.get("treatment", ""), outcome=form.get("outcome", ""))
            except AefiError as error:
                db.session.rollback()
                return self._form(vaccination, error_text(error)), 422
            urgent = report.urgent
            db.session.commit()
            note = "（严重/群体性：防控中心已收到警示，须 2 小时内上报）" if urgent else ""
            flash(f"已上报异常反应{note}", "success")
            return redirect(url_for(".index"))
        return self._form(vaccination)

    def _form(self, vaccination, error=None):
        started = now().strftime(TIME_FORMAT)
        return self.render("station/aefi_form.html", vaccination=vaccination, error=error,
                           symptoms=option_labels(AEFI_SYMPTOM), severities=AEFI_SEVERITY_LABELS, outcomes=OUTCOMES,
                           form=request.form, default_time=started)

    def _vaccination(self, vaccination_id):
        """A dose given at this station, or 404."""
        if vaccination_id is None:
            abort(404)
        row = db.session.execute(
            select(Vaccination).where(Vaccination.id == vaccination_id,
                                      Vaccination.station_id == current_user.station_id,
                                      Vaccination.outcome == GIVEN, Vaccination.state == VALID)
        ).scalar_one_or_none()
        if row is None:
            abort(404)
        return row
