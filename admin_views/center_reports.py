"""防控中心端 上报: the daily dose report (xlsx) and the same records as a FHIR R4 Bundle, per day."""

import json
from datetime import timedelta

from flask import Response, request
from flask_admin import BaseView, expose
from flask_login import current_user

from admin_views.base import RoleAccessMixin
from admin_views.enterprise import download_names
from admin_views.station_stock import parse_date
from extensions import db
from models.audit import record_event
from models.base import today
from models.user import CENTER
from services.fhir_export import daily_dose_rows, daily_dose_xlsx, immunization_bundle
from services.spreadsheets import XLSX_MIMETYPE


def _day():
    day = parse_date(request.args.get("day")) or today() - timedelta(days=1)
    return min(day, today())


def _download(body, mimetype, name):
    response = Response(body, mimetype=mimetype)
    response.headers.set("Content-Disposition", "attachment", **download_names(name))
    response.headers["Cache-Control"] = "no-store"
    return response


class CenterReportView(RoleAccessMixin, BaseView):
    role = CENTER

    @expose("/")
    def index(self):
        day = _day()
        return self.render("center/reports.html", day=day, rows=daily_dose_rows(day), today=today())

    @expose("/daily.xlsx")
    def daily_xlsx(self):
        day = _day()
        body = daily_dose_xlsx(day)
        record_event(current_user, "report_daily_xlsx", target_type="report", detail=f"day={day:%Y-%m-%d}")
        db.session.commit()
        return _download(body, XLSX_MIMETYPE, f"接种日报-{day:%Y%m%d}.xlsx")

    @expose("/immunizations.json")
    def fhir_bundle(self):
        """The day's records with full identifiers, for the next level's system; the download is audited."""
        day = _day()
        bundle = immunization_bundle(day)
        count = sum(1 for e in bundle["entry"] if e["resource"]["resourceType"] == "Immunization")
        record_event(current_user, "report_fhir_bundle", target_type="report", changed=count, requested=count,
                     detail=f"day={day:%Y-%m-%d}")
        db.session.commit()
        return _download(json.dumps(bundle, ensure_ascii=False), "application/fhir+json",
                         f"immunization-bundle-{day:%Y%m%d}.json")
