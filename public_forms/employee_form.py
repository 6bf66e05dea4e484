"""The employee mobile form (员工信息填报) an enterprise's own QR code opens, and its privacy terms.

`/e/<token>` finds the enterprise by its QR token; a rotated or unknown token gets a
clear page. The QR image and the printable poster of a token are public too: whoever
holds the token can already open the form.
"""

import re

from flask import Blueprint, current_app, make_response, redirect, render_template, request, session, url_for
from sqlalchemy import select

from admin_views.labels import error_text, field_messages
from extensions import db, limiter
from models.base import now
from models.options import PERSON_CATEGORY, option_labels
from models.org import Enterprise
from models.persons import (
    DUPLICATE_ID,
    TAKEN_HERE,
    add_from_qr_form,
    category_error,
    clean_person,
    enterprise_accepts_staff,
)
from services.qr import employee_form_url, enterprise_qr_response

bp = Blueprint("employee", __name__)

TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
SUBMITTED_KEY = "employee_form_submitted"  # the token of the form this browser last submitted through
FORM_FIELDS = ("name", "gender", "id_number", "age", "phone", "category", "lives_in_binhai", "community", "remarks")


def employee_form_rate_limit():
    return current_app.config.get("EMPLOYEE_FORM_RATE_LIMIT") or "60 per minute;1000 per hour"


def enterprise_by_token(token):
    # Tokens are URL-safe base64; anything else (a NUL byte, quotes) never reaches the database.
    if not TOKEN_PATTERN.fullmatch(token or ""):
        return None
    return db.session.execute(select(Enterprise).where(Enterprise.qr_token == token)).scalar_one_or_none()


def invalid_code_page():
    return render_template("public/invalid_code.html"), 404


def closed_enterprise_page(enterprise):
    return render_template("public/invalid_code.html", closed=enterprise), 403


def accepts_staff(enterprise):
    return db.session.execute(select(enterprise_accepts_staff(enterprise.id))).scalar()


def submit(token):
    """Check and store a posted form; return (the redirect of a stored or known person, values, errors)."""
    values = {key: (request.form.get(key) or "").strip() for key in FORM_FIELDS}
    cleaned = clean_person(values, categories=None)  # the insert checks the category is listed
    errors = field_messages(cleaned.errors)
    if not request.form.get("consent"):
        errors["consent"] = "请阅读并同意隐私条款后再提交"
    if not errors and TOKEN_PATTERN.fullmatch(token):
        person_id, taken = add_from_qr_form(
            token, cleaned.values, consent_at=now(), policy_version=current_app.config["PRIVACY_POLICY_VERSION"])
        db.session.commit()
        if person_id is not None:
            session[SUBMITTED_KEY] = token
            return redirect(url_for("employee.done", token=token)), values, errors
        if taken == TAKEN_HERE:
            # The same person again (this enterprise holds the number): nothing to correct.
            return redirect(url_for("employee.done", token=token, already=1)), values, errors
        if taken:
            errors["id_number"] = error_text(DUPLICATE_ID)  # another enterprise's number: say nothing of it
    values["id_number"] = cleaned.values.get("id_number") or values["id_number"]
    return None, values, errors


@bp.route("/e/<token>", methods=("GET", "POST"))
@limiter.limit(employee_form_rate_limit, methods=["POST"])
def form(token):
    values, errors = {}, {}
    if request.method == "POST":
        answered, values, errors = submit(token)
        if answered is not None:
            return answered
    # A GET, or a submission refused: the page needs the enterprise and the list (and says
    # which of them refused an insert that stored nothing).
    enterprise = enterprise_by_token(token)
    if enterprise is None:
        return invalid_code_page()
    if not accepts_staff(enterprise):
        return closed_enterprise_page(enterprise)
    categories = option_labels(PERSON_CATEGORY)
    if request.method == "POST":
        problem = category_error(values["category"], categories)
        if problem or not errors:
            # Nothing else explains an insert that stored nothing: the list changed just now.
            errors["category"] = error_text(problem) or "人员类别刚刚有变动，请重新选择后再提交"
    page = render_template("public/employee_form.html", enterprise=enterprise, values=values, errors=errors,
                           categories=categories, consent_checked=bool(request.form.get("consent")),
                           submitted_here=not errors and session.get(SUBMITTED_KEY) == token)
    return not_stored(page)


def not_stored(page):
    """Send a page no cache may keep: Back asks the server again, not replaying old messages."""
    response = make_response(page)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/e/<token>/done")
def done(token):
    enterprise = enterprise_by_token(token)
    if enterprise is None:
        return invalid_code_page()
    return render_template("public/employee_done.html", enterprise=enterprise,
                           already=request.args.get("already") == "1")


@bp.route("/e/<token>/qr.png")
def qr_image(token):
    enterprise = enterprise_by_token(token)
    if enterprise is None:
        return invalid_code_page()
    return enterprise_qr_response(enterprise, download=request.args.get("download") == "1")


@bp.route("/e/<token>/poster")
def poster(token):
    enterprise = enterprise_by_token(token)
    if enterprise is None:
        return invalid_code_page()
    return render_template("public/poster.html", enterprise=enterprise,
                           qr_src=url_for("employee.qr_image", token=token), form_url=employee_form_url(enterprise))


@bp.route("/privacy")
def privacy():
    return render_template("public/privacy.html", version=current_app.config["PRIVACY_POLICY_VERSION"])
