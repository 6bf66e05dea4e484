"""我的接种: an employee looks up their own record with an SMS code, cancels, opens their certificate.

Step 1 takes the ID number and the phone on record and answers the same whatever they
match: a code row is always written (models/verification_codes.py), the text goes out
only when the pair matches a record. Step 2 checks the code. The record page then shows
the status in the manual's words, the station and window, each dose and the next dose's
window; the only change allowed is cancelling an appointment, with a reason, through the
one state machine. The browser's session holds only the code row's id and the ID number
sealed (encrypted with a key derived from SECRET_KEY); whether the code was entered, and
whether the person signed out, lives on the row, so a saved cookie opens nothing later.
"""

import base64
import hashlib
from datetime import timedelta

from cryptography.fernet import Fernet, InvalidToken
from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, session, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from admin_views.labels import SELF_ACTOR_NAME, STATUS_LABELS, error_text
from admin_views.notices import SMS_PREFIX, window_text
from extensions import db, limiter
from models.appointments import cancel_appointments
from models.certificates import CertificateError, certifiable_doses, issue_certificate
from models.doses import GIVEN, VALID, Vaccination
from models.identity import id_number_error, normalise_id_number, normalise_phone, phone_error
from models.org import Station
from models.person import Person
from models.sms import SmsCode
from models.status import APPOINTED
from models.vaccines import VaccineProduct
from models.verification_codes import (
    CODE_DIGITS,
    CodePurpose,
    check_code,
    end_verified,
    issue_code,
    verified_code,
)
from models.workflow import PersonActor, WorkflowError
from services.certificate_image import certificate_image, image_bytes, token_qr_png
from services.qr import public_url
from services.signing import SigningKeyError, key_store

bp = Blueprint("self_service", __name__, url_prefix="/me")

PURPOSE = CodePurpose(
    "self_service",
    "【滨海新区疫苗接种】您正在查询本人接种信息，验证码{code}，5分钟内有效。如非本人操作，请忽略本短信。",
)
SESSION_KEY = "self_service"
SIGNED_IN_LIFETIME = timedelta(minutes=30)
CANCEL_REASON_MAX = 200
SENT_NOTICE = "若身份证号与手机号均与申报信息一致，验证码短信已发送，5分钟内有效。"

# What each status means for the person, beside its label.
STATUS_HINTS = {
    "registered": "信息已登记，等待单位管理员提交审核。",
    "submitted": "单位已提交，等待审核部门初审。",
    "dept_approved": "初审已通过，等待防控中心复审。",
    "center_approved": "审核已通过，等待防控中心分配接种点。",
    "allocated": "已分配接种点，等待接种点安排预约时间（将短信通知）。",
    "appointed": "已预约，请携带本人身份证按时前往接种点。",
    "checked_in": "已在接种点登记。",
    "vaccinated": "已完成接种。",
    "not_vaccinated": "本次未接种，接种点将重新安排预约。",
    "due_next": "本剂次已接种，请在下一剂次时间范围内等待预约通知。",
}


class LookupForm(FlaskForm):
    id_number = StringField("身份证号", validators=[DataRequired("请输入身份证号"), Length(max=30)])
    phone = StringField("手机号", validators=[DataRequired("请输入手机号"), Length(max=20)])


class CodeForm(FlaskForm):
    code = StringField("验证码", validators=[DataRequired("请输入验证码"), Length(max=12)])


class CancelForm(FlaskForm):
    reason = TextAreaField("取消原因", validators=[DataRequired("请填写取消原因"), Length(max=CANCEL_REASON_MAX)])


# ---------------------------------------------------------------- session state

def _fernet():
    key = hashlib.sha256(("self-service:" + current_app.config["SECRET_KEY"]).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _seal(text):
    return _fernet().encrypt(text.encode()).decode()


def _unseal(token):
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, AttributeError):
        return None


def pending_code():
    """(the code row this browser asked for, the ID number it was asked for), or (None, None)."""
    state = session.get(SESSION_KEY) or {}
    code_id, id_number = state.get("code_id"), _unseal(state.get("subject") or "")
    if not isinstance(code_id, int) or id_number is None:
        return None, None
    row = db.session.execute(
        select(SmsCode).where(SmsCode.id == code_id, SmsCode.purpose == PURPOSE.name)
    ).scalar_one_or_none()
    return (row, id_number) if row is not None else (None, None)


def signed_in_person():
    """The person whose code this browser entered (within its lifetime, not signed out), or None."""
    state = session.get(SESSION_KEY) or {}
    row = verified_code(PURPOSE, state.get("code_id"), SIGNED_IN_LIFETIME)
    id_number = _unseal(state.get("subject") or "")
    if row is None or id_number is None:
        return None
    return db.session.execute(
        select(Person).where(Person.id_number == id_number, Person.phone == row.phone)
    ).scalar_one_or_none()


def _require_person():
    person = signed_in_person()
    if person is None:
        flash("请先验证身份", "info")
    return person


def _record_matches(id_number, phone):
    """Whether a record has this ID number and this phone (one indexed look-up either way)."""
    stored = db.session.execute(select(Person.phone).where(Person.id_number == id_number)).scalar_one_or_none()
    return stored is not None and stored == phone


def _masked(phone):
    return phone[:3] + "****" + phone[-4:]


# ---------------------------------------------------------------- steps

def lookup_rate_limit():
    # Per client address. A booking round texts a whole company at once, and its staff share the
    # office Wi-Fi; the per-phone limits of the codes keep one phone from being flooded.
    return current_app.config.get("SELF_SERVICE_RATE_LIMIT") or "30 per minute;300 per hour"


@bp.route("/", methods=("GET", "POST"))
@limiter.limit(lookup_rate_limit, methods=["POST"])
def start():
    if signed_in_person() is not None:
        return redirect(url_for("self_service.record"))
    form = LookupForm()
    error = None
    if form.validate_on_submit():
        id_number, phone = normalise_id_number(form.id_number.data), normalise_phone(form.phone.data)
        error = id_number_error(id_number) or phone_error(phone)
        if error is None:
            row, error = issue_code(PURPOSE, phone, id_number, send=_record_matches(id_number, phone))
            db.session.commit()
            if row is not None:
                session[SESSION_KEY] = {"subject": _seal(id_number), "code_id": row.id}
                return redirect(url_for("self_service.enter_code"))
    elif form.errors:
        error = next(iter(form.errors.values()))[0]
    return render_template("public/self_service_start.html", form=form, error=error_text(error))


@bp.route("/code", methods=("GET", "POST"))
@limiter.limit("60 per minute", methods=["POST"])
def enter_code():
    row, id_number = pending_code()
    if row is None:
        return redirect(url_for("self_service.start"))
    if signed_in_person() is not None:
        return redirect(url_for("self_service.record"))
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        code = form.code.data.strip()
        if not (code.isdigit() and len(code) == CODE_DIGITS):
            error = f"请输入{CODE_DIGITS}位数字验证码"
        else:
            error = check_code(PURPOSE, row.id, row.phone, id_number, code)
            db.session.commit()
            if error is None:
                return redirect(url_for("self_service.record"))
    elif form.errors:
        error = next(iter(form.errors.values()))[0]
    return render_template("public/self_service_code.html", form=form, error=error_text(error),
                           masked_phone=_masked(row.phone))


@bp.route("/resend", methods=("POST",))
@limiter.limit("5 per minute;30 per hour")
def resend():
    current, id_number = pending_code()
    if current is None or current.verified_at is not None:
        return redirect(url_for("self_service.start"))
    row, error = issue_code(PURPOSE, current.phone, id_number, send=_record_matches(id_number, current.phone))
    db.session.commit()
    if row is not None:
        session[SESSION_KEY] = {**session[SESSION_KEY], "code_id": row.id}
        flash(SENT_NOTICE, "info")
    else:
        flash(error_text(error), "error")
    return redirect(url_for("self_service.enter_code"))


@bp.route("/logout", methods=("POST",))
def logout():
    state = session.pop(SESSION_KEY, None) or {}
    if isinstance(state.get("code_id"), int):
        end_verified(state["code_id"])
        db.session.commit()
    flash("已退出", "info")
    return redirect(url_for("self_service.start"))


# ---------------------------------------------------------------- the record

def given_doses(person_id):
    """Each dose given to the person (valid records), oldest first, with product and station."""
    return db.session.execute(
        select(Vaccination, VaccineProduct, Station)
        .outerjoin(VaccineProduct, VaccineProduct.id == Vaccination.product_id)
        .outerjoin(Station, Station.id == Vaccination.station_id)
        .where(Vaccination.person_id == person_id, Vaccination.outcome == GIVEN, Vaccination.state == VALID)
        .order_by(Vaccination.at, Vaccination.id)
    ).all()


@bp.route("/record")
def record():
    person = _require_person()
    if person is None:
        return redirect(url_for("self_service.start"))
    return render_template(
        "public/self_service_record.html", person=person, status_label=STATUS_LABELS.get(person.status, ""),
        status_hint=STATUS_HINTS.get(person.status, ""), doses=given_doses(person.id),
        can_cancel=person.status == APPOINTED, has_certificate=bool(certifiable_doses(person.id)),
        cancel_form=CancelForm(), cancel_reason_max=CANCEL_REASON_MAX,
    )


def self_cancellation_notice(slot, reason):
    return (f"{SMS_PREFIX}您已取消在{slot.station.name}{window_text(slot)}的接种预约。"
            f"接种点将重新为您安排预约时间并短信通知。")


@bp.route("/cancel", methods=("POST",))
def cancel():
    person = _require_person()
    if person is None:
        return redirect(url_for("self_service.start"))
    form = CancelForm()
    if not form.validate_on_submit():
        flash(next(iter(form.errors.values()))[0] if form.errors else "请填写取消原因", "error")
        return redirect(url_for("self_service.record"))
    try:
        _, cancelled = cancel_appointments(PersonActor(person.id, username=SELF_ACTOR_NAME), Person.id == person.id,
                                           "本人取消：" + form.reason.data.strip(), notice=self_cancellation_notice)
    except WorkflowError as error:
        db.session.rollback()
        flash(error_text(error), "error")
        return redirect(url_for("self_service.record"))
    db.session.commit()
    if cancelled:
        flash("预约已取消，接种点将重新为您安排时间并短信通知", "success")
    else:
        flash("预约状态已变化，无法取消，请刷新后查看", "error")
    return redirect(url_for("self_service.record"))


# ---------------------------------------------------------------- the certificate

def _standing_certificate(person):
    """Issue (or find) the person's certificate and commit; None with a flash when there is none."""
    try:
        result = issue_certificate(PersonActor(person.id, username=SELF_ACTOR_NAME), person, key_store())
    except (CertificateError, SigningKeyError) as error:
        db.session.rollback()
        flash(error_text(error), "error")
        return None
    db.session.commit()
    return result.certificate


def _claims(certificate):
    return key_store().verify(certificate.token)


@bp.route("/certificate")
def certificate():
    person = _require_person()
    if person is None:
        return redirect(url_for("self_service.start"))
    standing = _standing_certificate(person)
    if standing is None:
        return redirect(url_for("self_service.record"))
    qr = base64.b64encode(token_qr_png(standing.token)).decode()
    response = Response(render_template("public/certificate.html", certificate=standing, claims=_claims(standing),
                                        qr_data_uri=f"data:image/png;base64,{qr}"))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/certificate.png")
def certificate_png():
    return certificate_file("png")


@bp.route("/certificate.pdf")
def certificate_pdf():
    return certificate_file("pdf")


def certificate_file(fmt):
    """The certificate as a picture or a one-page PDF, downloaded."""
    person = _require_person()
    if person is None:
        return redirect(url_for("self_service.start"))
    standing = _standing_certificate(person)
    if standing is None:
        abort(404)
    image = certificate_image(_claims(standing), standing.token, public_url("verify.verify"), standing.issued_at)
    mimetype = {"png": "image/png", "pdf": "application/pdf"}[fmt]
    response = Response(image_bytes(image, fmt.upper()), mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename=certificate-{standing.public_id}.{fmt}"
    response.headers["Cache-Control"] = "no-store"
    return response
