"""The public portal: the four entries, the registration QR code (opening /register), and /healthz."""

from flask import Blueprint, Response, current_app, jsonify, render_template
from sqlalchemy import text

from admin_views.labels import ROLE_LABELS
from extensions import db
from services.qr import public_url, qr_png

bp = Blueprint("portal", __name__)

ENTRIES = [(role, ROLE_LABELS[role]) for role in ("enterprise", "review", "center", "station")]


@bp.route("/")
def index():
    return render_template("portal.html", entries=ENTRIES, register_url=public_url("registration.register"))


@bp.route("/register-qr.png")
def register_qr():
    png = qr_png(public_url("registration.register"))
    return Response(png, mimetype="image/png", headers={"Cache-Control": "public, max-age=3600"})


@bp.route("/healthz")
def healthz():
    checks = {"database": "ok"}
    status = 200
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - any failure means unhealthy
        checks["database"] = f"error: {type(error).__name__}"
        status = 503
    redis_url = current_app.config.get("REDIS_URL")
    if redis_url:
        try:
            import redis

            redis.Redis.from_url(redis_url, socket_timeout=1).ping()
            checks["redis"] = "ok"
        except Exception as error:  # noqa: BLE001
            checks["redis"] = f"error: {type(error).__name__}"
            status = 503
    if checks["database"] == "ok":
        from services.startup_checks import migration_revisions

        revisions = migration_revisions()
        checks["migration"] = revisions["database"]
        checks["migration_head"] = revisions["head"]
    if checks["database"] == "ok":
        from services.tasks import queue_health

        checks["queue"] = queue_health()
        if not checks["queue"]["reachable"]:
            status = 503
    checks["status"] = "ok" if status == 200 else "error"
    return jsonify(checks), status
