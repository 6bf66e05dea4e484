"""忘记密码: 输入手机号 → 输入验证码 → 设置新密码, with a code sent by SMS.

The code follows the rules of every SMS code here (models/verification_codes.py: six digits,
a keyed hash, five minutes, five tries, one a minute and a few a day). The pages answer the
same whether or not a phone belongs to an account: an unknown phone gets a code row (so the
limits apply alike) but no message. The progress between the steps lives on the code's row
(verified_at, reset_at): the browser's session holds only the row's id, so the cookie shows
nothing personal and a saved copy of it cannot set a password a second time.
"""

from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, session, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select, update
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length

from admin_views.labels import ROLE_LABELS, error_text
from extensions import db, limiter
from models import verification_codes
from models.audit import record_event
from models.base import now
from models.identity import normalise_phone, phone_error
from models.passwords import account_context, new_password_error
from models.sms import SmsCode
from models.user import User
from models.verification_codes import CODE_DIGITS, CodePurpose

bp = Blueprint("forgot_password", __name__)

PURPOSE = "reset_password"
# Time allowed between entering the right code and choosing the new password.
VERIFIED_LIFETIME = timedelta(minutes=10)
SESSION_KEY = "password_reset"
SENT_NOTICE = "若该手机号已绑定账号，验证码短信已发送，5分钟内有效。"
STEPS = (("phone", "输入手机号"), ("code", "输入验证码"), ("password", "设置新密码"))


class PhoneForm(FlaskForm):
    phone = StringField("手机号", validators=[DataRequired("请输入手机号"), Length(max=20)])


class CodeForm(FlaskForm):
    code = StringField("验证码", validators=[DataRequired("请输入验证码"), Length(max=12)])


class NewPasswordForm(FlaskForm):
    account = SelectField("账号", coerce=int, validate_choice=True)
    new_password = PasswordField("新密码", validators=[DataRequired("请输入新密码")])
    confirm = PasswordField("确认新密码", validators=[EqualTo("new_password", "两次输入的密码不一致")])


# ---------------------------------------------------------------- codes

# The rules of every SMS code (models/verification_codes.py); the code is bound to the phone alone.
RESET = CodePurpose(
    PURPOSE,
    "【滨海新区疫苗接种】您正在找回密码，验证码{code}，5分钟内有效。如非本人操作，请忽略本短信。",
    sms_kind="reset_code",
)


def accounts_with_phone(phone):
    return db.session.execute(
        select(User).where(User.phone == phone, User.active.is_(True)).order_by(User.role, User.username)
    ).scalars().all()


def issue_code(phone):
    """A code for `phone`, texted only when the phone has an account; return (code row, error)."""
    return verification_codes.issue_code(RESET, phone, "", send=bool(accounts_with_phone(phone)))


def check_code(code_id, phone, code):
    """Spend one try on a code; return None when it is right, else the FieldError saying why not."""
    return verification_codes.check_code(RESET, code_id, phone, "", code)


# ---------------------------------------------------------------- the steps

def reset_code():
    """The code row this browser's reset goes through (its id is all the session holds), or None."""
    code_id = (session.get(SESSION_KEY) or {}).get("code_id")
    if not isinstance(code_id, int):
        return None
    return db.session.execute(
        select(SmsCode).where(SmsCode.id == code_id, SmsCode.purpose == PURPOSE, SmsCode.reset_at.is_(None))
    ).scalar_one_or_none()


def verified_and_fresh(row):
    return row.verified_at is not None and row.verified_at + VERIFIED_LIFETIME >= now()


def spend_reset(row):
    """Mark the verified code as used for a reset, once: False when another request already did."""
    return db.session.execute(
        update(SmsCode).where(SmsCode.id == row.id, SmsCode.reset_at.is_(None), SmsCode.verified_at.is_not(None))
        .values(reset_at=now())
    ).rowcount == 1


def render_step(step, form, error=None, **kwargs):
    return render_template("forgot_password.html", step=step, steps=STEPS, form=form, error=error_text(error),
                           **kwargs)


@bp.route("/forgot-password", methods=("GET", "POST"))
@limiter.limit("5 per minute;30 per hour", methods=["POST"])
def start():
    form = PhoneForm()
    error = None
    if form.validate_on_submit():
        phone = normalise_phone(form.phone.data)
        error = phone_error(phone)
        if error is None:
            row, error = issue_code(phone)
            db.session.commit()
            if row is not None:
                session[SESSION_KEY] = {"code_id": row.id}
                return redirect(url_for("forgot_password.enter_code"))
    elif form.errors:
        error = next(iter(form.errors.values()))[0]
    return render_step("phone", form, error)


@bp.route("/forgot-password/code", methods=("GET", "POST"))
@limiter.limit("20 per minute", methods=["POST"])
def enter_code():
    row = reset_code()
    if row is None:
        return redirect(url_for("forgot_password.start"))
    if row.verified_at is not None:
        return redirect(url_for("forgot_password.new_password"))
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        code = form.code.data.strip()
        if not (code.isdigit() and len(code) == CODE_DIGITS):
            error = f"请输入{CODE_DIGITS}位数字验证码"
        else:
            error = check_code(row.id, row.phone, code)
            db.session.commit()
            if error is None:
                return redirect(url_for("forgot_password.new_password"))
    elif form.errors:
        error = next(iter(form.errors.values()))[0]
    return render_step("code", form, error, masked_phone=_masked(row.phone))


@bp.route("/forgot-password/resend", methods=("POST",))
@limiter.limit("5 per minute;30 per hour")
def resend():
    current = reset_code()
    if current is None or current.verified_at is not None:
        return redirect(url_for("forgot_password.start"))
    row, error = issue_code(current.phone)
    db.session.commit()
    if row is not None:
        session[SESSION_KEY] = {"code_id": row.id}
        flash(SENT_NOTICE, "info")
    else:
        flash(error_text(error), "error")
    return redirect(url_for("forgot_password.enter_code"))


@bp.route("/forgot-password/new", methods=("GET", "POST"))
def new_password():
    row = reset_code()
    if row is None or not verified_and_fresh(row):
        session.pop(SESSION_KEY, None)
        if row is not None and row.verified_at is not None:
            flash("操作超时，请重新获取验证码", "error")
        return redirect(url_for("forgot_password.start"))
    accounts = accounts_with_phone(row.phone)
    if not accounts:
        session.pop(SESSION_KEY, None)
        flash("该手机号没有可用的账号，请联系系统管理员", "error")
        return redirect(url_for("forgot_password.start"))
    form = NewPasswordForm()
    form.account.choices = [SelectChoice(user.id, f"{user.username}（{ROLE_LABELS.get(user.role, user.role)}）")
                            for user in accounts]
    if len(accounts) == 1:
        form.account.data = accounts[0].id
    error = None
    if form.validate_on_submit():
        chosen = [user for user in accounts if user.id == form.account.data] or accounts
        error = new_password_error(form.new_password.data,
                                   [hint for user in chosen for hint in account_context(user)])
        if error is None and not spend_reset(row):
            session.pop(SESSION_KEY, None)
            flash("验证码已失效，请重新获取", "error")
            return redirect(url_for("forgot_password.start"))
        if error is None:
            user = next(user for user in accounts if user.id == form.account.data)
            user.set_password(form.new_password.data)
            user.must_change_password = False
            user.unlock()
            user.end_sessions()
            record_event(user, "password_reset_by_sms", target_type="user", target_id=user.id)
            db.session.commit()
            session.pop(SESSION_KEY, None)
            flash("密码已重置，请使用新密码登录", "success")
            return redirect(url_for("auth.login", role=user.role))
    elif form.errors:
        error = next(iter(form.errors.values()))[0]
    return render_step("password", form, error, accounts=accounts)


def _masked(phone):
    return phone[:3] + "****" + phone[-4:]
