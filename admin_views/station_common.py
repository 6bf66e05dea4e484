"""What every page of the station console shares: its station, access, JSON-or-redirect answers."""

from flask import flash, jsonify, redirect, request, url_for
from flask_admin import BaseView
from flask_login import current_user

from admin_views.base import RoleAccessMixin
from extensions import db
from models.org import Station
from models.user import STATION


def current_station():
    """The station of the logged-in station user."""
    return db.session.get(Station, current_user.station_id)


def wants_json():
    """Whether the request came from the page's script (fetch) rather than a plain form post."""
    return request.headers.get("X-Requested-With") == "fetch"


def answer(message, ok=True, status=None, redirect_to=None, **data):
    """Answer a form post: JSON for the page's script, else flash and redirect."""
    if wants_json():
        response = jsonify(ok=ok, message=message, **data)
        response.status_code = status or (200 if ok else 409)
        return response
    flash(message, "success" if ok else "error")
    return redirect(redirect_to or request.referrer or url_for("station.index"))


def format_duration(seconds):
    """12分钟 / 1小时5分钟: how long someone has waited."""
    minutes = max(int(seconds), 0) // 60
    if minutes < 60:
        return f"{minutes}分钟"
    return f"{minutes // 60}小时{minutes % 60}分钟"


class StationView(RoleAccessMixin, BaseView):
    """A page of the station console; only station users of a station reach it."""

    role = STATION
    extra_css = None

    def is_accessible(self):
        return super().is_accessible() and current_user.station_id is not None

    def render(self, template, **kwargs):
        kwargs.setdefault("station", current_station())
        return super().render(template, **kwargs)
