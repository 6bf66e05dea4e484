"""接种进度 of one station: today's appointed, checked in, vaccinated, not vaccinated, by hour."""

from datetime import datetime, time, timedelta

from flask_admin import expose
from flask_login import current_user
from sqlalchemy import extract, func, select

from admin_views.labels import DOSE_KIND_LABELS, figure_labels
from admin_views.station_common import StationView
from admin_views.station_queue import wait_stats
from extensions import db
from models.base import now, today
from models.dose_counts import one_station_doses
from models.doses import GIVEN, VALID, Vaccination
from models.org import AppointmentSlot
from models.person import Person
from models.status import APPOINTED, CHECKED_IN, NOT_VACCINATED, reached
from models.workflow import funnel_counts

SERIES = (
    ("appointed", "预约"),
    ("checked_in", "登记"),
    ("vaccinated", "完成接种"),
    ("not_vaccinated", "未接种"),
)
STATION_FIGURES = figure_labels(("allocated", "appointed", "checked_in", "vaccinated"))
REFRESH_SECONDS = 10
DOSE_KINDS = [(kind, DOSE_KIND_LABELS[kind]) for kind in ("dose1", "dose2", "dose3", "complete", "booster")]


def _by_hour(column, *conditions):
    hour = extract("hour", column)
    rows = db.session.execute(select(hour, func.count()).where(*conditions).group_by(hour)).all()
    return {int(h): n for h, n in rows}


def hourly_progress(station_id, day):
    """Counts per hour of `day` for each series, and their totals."""
    start = datetime.combine(day, time.min)
    end = start + timedelta(days=1)
    mine = Person.station_id == station_id
    series = {
        "appointed": _by_hour(AppointmentSlot.starts_at, mine, Person.slot_id == AppointmentSlot.id,
                              AppointmentSlot.starts_at >= start, AppointmentSlot.starts_at < end,
                              Person.status.in_(reached(APPOINTED))),
        "checked_in": _by_hour(Person.checked_in_at, mine, Person.checked_in_at >= start,
                               Person.checked_in_at < end, Person.status.in_(reached(CHECKED_IN))),
        # Every dose given here, from its record: the person may since be 待续种 or booked for the next.
        "vaccinated": _by_hour(Vaccination.at, Vaccination.station_id == station_id, Vaccination.outcome == GIVEN,
                               Vaccination.state == VALID, Vaccination.at >= start, Vaccination.at < end),
        "not_vaccinated": _by_hour(Person.finished_at, mine, Person.status == NOT_VACCINATED,
                                   Person.finished_at >= start, Person.finished_at < end),
    }
    hours = sorted(set().union(*series.values()) | set(range(8, 18)))
    rows = [{"hour": h, **{key: series[key].get(h, 0) for key, _ in SERIES}} for h in hours]
    totals = {key: sum(values.values()) for key, values in series.items()}
    peak = max([1] + [row[key] for row in rows for key, _ in SERIES])
    return rows, totals, peak


class StationProgressView(StationView):
    """接种进度: refreshes itself every few seconds."""

    @expose("/")
    def index(self):
        return self.render("station/progress.html", **self._context())

    @expose("/panel")
    def panel(self):
        return self.render("station/_progress_panel.html", **self._context())

    def _context(self):
        station_id = current_user.station_id
        day = today()
        rows, totals, peak = hourly_progress(station_id, day)
        return {"day": day, "rows": rows, "totals": totals, "peak": peak, "series": SERIES,
                "funnel": funnel_counts(Person.station_id == station_id),
                "funnel_figures": STATION_FIGURES, "waits": wait_stats(station_id),
                "doses": one_station_doses(station_id, day), "dose_kinds": DOSE_KINDS,
                "refresh": REFRESH_SECONDS, "updated_at": now()}
