"""留观 at the station: the wall board (large type, counting down, refreshed live) and the nurse's actions.

The board needs no clicks: its script counts every row down each second and reloads the
rows every few seconds (and at once on the station's live 'observation' event). The same
rows carry the buttons 留观结束 / 提前离开 / 异常反应 for the nurse's screen; `?wall=1` hides them.
"""

from flask import flash, redirect, request, url_for
from flask_admin import expose
from flask_login import current_user

from admin_views.labels import error_text
from admin_views.station_common import StationView, answer, current_station
from extensions import db
from models.base import now
from models.observation import COMPLETED, LEFT_EARLY, ObservationError, end_observation, open_observations
from services import events

REFRESH_SECONDS = 5


def publish_observation_changed(station_id):
    events.publish(events.station_channel(station_id), {"type": "observation"})


def board_rows(station_id):
    at = now()
    return [{"observation": o, "left_seconds": int((o.due_at - at).total_seconds())}
            for o in open_observations(station_id)]


class StationObservationView(StationView):
    @expose("/")
    def index(self):
        station = current_station()
        return self.render("station/observation.html", rows=board_rows(station.id), refresh=REFRESH_SECONDS,
                           wall=request.args.get("wall") == "1", now=now())

    @expose("/panel")
    def panel(self):
        return self.render("station/_observation_rows.html", rows=board_rows(current_user.station_id),
                           wall=request.args.get("wall") == "1", now=now())

    @expose("/<int:observation_id>/end", methods=("POST",))
    def end(self, observation_id):
        return self._end(observation_id, COMPLETED, None, "留观结束")

    @expose("/<int:observation_id>/leave", methods=("POST",))
    def leave(self, observation_id):
        return self._end(observation_id, LEFT_EARLY, request.form.get("reason"), "已记录提前离开")

    def _end(self, observation_id, outcome, reason, message):
        try:
            row = end_observation(current_user, observation_id, outcome, reason)
        except ObservationError as error:
            db.session.rollback()
            return answer(error_text(error), ok=False, redirect_to=url_for(".index"))
        name = row.person.name
        db.session.commit()
        publish_observation_changed(current_user.station_id)
        return answer(f"{message}：{name}", redirect_to=url_for(".index"))

    @expose("/<int:observation_id>/reaction", methods=("POST",))
    def reaction(self, observation_id):
        """异常反应: the observation ends as a reaction and the AEFI form opens, prefilled."""
        try:
            row = end_observation(current_user, observation_id, "reaction")
        except ObservationError as error:
            db.session.rollback()
            flash(error_text(error), "error")
            return redirect(url_for(".index"))
        vaccination_id = row.vaccination_id
        db.session.commit()
        publish_observation_changed(current_user.station_id)
        return redirect(url_for("station_aefi.new", vaccination_id=vaccination_id, onset="now"))
