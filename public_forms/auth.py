"""Login per role, logout, and the forced password change."""

import secrets
from dataclasses import dataclass

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from limits import parse as parse_limit
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import and_, bindparam, or_, select
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from admin_views.labels import ROLE_LABELS, error_text
from extensions import db, limiter, login_manager
from models.audit import record_event
from models.org import Enterprise
from models.passwords import account_context, new_password_error
from models.user import ENTERPRISE, User
from public_forms.expired_session import EXPIRED_MESSAGE
from services.safe_redirect import safe_next

bp = Blueprint("auth", __name__)

LOGIN_HINTS = {
    ENTERPRISE: "统一社会信用代码或手机号",
}


class LoginForm(FlaskForm):
    username = StringField("账号", validators=[DataRequired("请输入账号"), Length(max=64)])
    password = PasswordField("密码", validators=[DataRequired("请输入密码"), Length(max=128)])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("当前密码", validators=[DataRequired("请输入当前密码")])
    new_password = PasswordField("新密码", validators=[DataRequired("请输入新密码")])
    confirm = PasswordField("确认新密码", validators=[EqualTo("new_password", "两次输入的密码不一致")])


# Every console request reads its account: one statement built once, the version and the active
# flag checked by the database in the same indexed read (session.get builds a statement per call,
# which costs more than the read itself).
SESSION_ACCOUNT = select(User).where(User.id == bindparam("user_id"), User.session_version == bindparam("version"),
                                     User.active)
MAX_SESSION_NUMBER = 2**31 - 1  # the integer columns' range


@login_manager.user_loader
def load_user(session_identity):
    """The account of a session, only while the session's version is the account's current one."""
    user_id, _, version = str(session_identity).partition(":")
    if not (user_id.isascii() and user_id.isdigit() and version.isascii() and version.isdigit()):
        return None  # also a cookie from before session versions: log in again
    if len(user_id) > 12 or len(version) > 12 or max(int(user_id), int(version)) > MAX_SESSION_NUMBER:
        return None
    found = db.session.execute(SESSION_ACCOUNT, {"user_id": int(user_id), "version": int(version)})
    return found.scalar_one_or_none()


def console_url(role):
    return url_for(f"{role}.index")


def _login_name_matches(login_name):
    """Accounts `login_name` logs into: any by username; an enterprise's also by credit code or phone."""
    upper = login_name.upper()
    return or_(User.username == login_name, and_(User.role == ENTERPRISE, or_(
        User.username == upper, Enterprise.credit_code == upper, User.phone == login_name)))


def _accounts_named(login_name):
    return select(User).outerjoin(Enterprise, User.enterprise_id == Enterprise.id).where(
        _login_name_matches(login_name.strip()))


def find_account(role, login_name):
    """Find the account of `role` by username, or an enterprise's by credit code or phone."""
    statement = _accounts_named(login_name).where(User.role == role)
    return db.session.execute(statement.limit(1)).scalar_one_or_none()


def find_account_elsewhere(role, login_name):
    """The active account of another role that `login_name` logs into (usernames are unique: one)."""
    statement = _accounts_named(login_name).where(User.role != role, User.active).order_by(User.id)
    return db.session.execute(statement.limit(1)).scalar_one_or_none()


_dummy_hash = []


def dummy_password_hash():
    """A hash made like every stored one (same algorithm and cost), of a password nobody has."""
    if not _dummy_hash:
        _dummy_hash.append(generate_password_hash(secrets.token_hex(16)))
    return _dummy_hash[0]


@dataclass(frozen=True)
class WrongEntry:
    """The right password for an account of another console: the login page points to its entry."""

    role: str

    @property
    def label(self):
        return ROLE_LABELS[self.role]


@bp.route("/login/<role>", methods=("GET", "POST"))
@limiter.limit("20 per minute", methods=["POST"])
def login(role):
    if role not in ROLE_LABELS:
        abort(404)
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        error = attempt_login(role, form.username.data, form.password.data)
        if error is None:
            if current_user.must_change_password:
                return redirect(url_for("auth.change_password"))
            return redirect(safe_next(request.args.get("next"), console_url(role), prefix=f"/{role}/"))
        if isinstance(error, WrongEntry):
            # The account's own page opens with the name filled in; the password is typed again.
            session["login_name"] = {"role": error.role, "name": form.username.data.strip()}
    elif request.method == "POST":
        error = "请输入账号和密码"
    elif session.get("login_name", {}).get("role") == role:
        form.username.data = session.pop("login_name")["name"]
    wrong_entry = error if isinstance(error, WrongEntry) else None
    return render_template("login.html", form=form, role=role, role_label=ROLE_LABELS[role],
                           hint=LOGIN_HINTS.get(role, "账号"), error=None if wrong_entry else error,
                           wrong_entry=wrong_entry, session_expired=EXPIRED_MESSAGE in get_flashed_messages())


def locked_message():
    return f"账号已锁定，请{current_app.config['LOGIN_LOCK_MINUTES']}分钟后再试，或联系管理员解锁"


# The countdown shows for the last tries only: earlier it is noise, and it must come before the lock.
WARN_TRIES_LEFT = 2


def failure_message(tries_left):
    """What a wrong password says, given the tries left before the lock (None: not known)."""
    if tries_left == 0:
        return locked_message()
    if tries_left is not None and tries_left <= WARN_TRIES_LEFT:
        return f"账号或密码错误，还可尝试{tries_left}次"
    return "账号或密码错误"


def attempt_login(role, login_name, password):
    """Log the user in, or return what to show: a message, or the WrongEntry of the account.

    Counts failures and locks. Every failure also counts for the name itself, whether an
    account has it or not (see count_name_failure): a name without an account at this entry
    gets its countdown and its lock from that count, so the answers, countdown included,
    never tell whether an account exists.
    """
    config = current_app.config
    user = find_account(role, login_name)
    if user is None or not user.active:
        return attempt_at_wrong_entry(role, login_name, password)
    if user.is_locked():
        return locked_message()
    if not user.check_password(password):
        tries_left = user.record_failed_login(config["LOGIN_MAX_FAILURES"], config["LOGIN_LOCK_MINUTES"])
        count_name_failure(login_name)  # keeps the name's count what it would be without an account
        record_event(user, "login_failed", target_type="user", target_id=user.id)
        db.session.commit()
        return failure_message(tries_left)
    if not user.record_login():  # parallel wrong passwords locked it after our check
        db.session.rollback()
        return locked_message()
    record_event(user, "login", target_type="user", target_id=user.id)
    db.session.commit()
    login_user(user)
    return None


def attempt_at_wrong_entry(role, login_name, password):
    """A name with no active account at this entry: point to the account's entry, or refuse.

    Only the right password of an unlocked account learns where it belongs. Any other try
    answers as for a name nobody has, from the name's count; a wrong password still counts
    against the account, as at its own entry, so trying at every entry gives no more guesses.
    """
    config = current_app.config
    if name_failures_exhausted(login_name):
        return locked_message()
    other = find_account_elsewhere(role, login_name)
    if other is None:
        # Cost an unknown account the same hash check as a known one: no telling them apart by time.
        check_password_hash(dummy_password_hash(), password)
    elif other.check_password(password) and not other.is_locked():
        return WrongEntry(other.role)
    elif not other.is_locked():
        other.record_failed_login(config["LOGIN_MAX_FAILURES"], config["LOGIN_LOCK_MINUTES"])
        record_event(other, "login_failed", target_type="user", target_id=other.id)
        db.session.commit()
    return failure_message(count_name_failure(login_name))


def _failure_counter():
    """Counters in the rate-limit storage (Redis in production: one count for every worker)."""
    counter = current_app.extensions.get("login_failure_counter")
    if counter is None:
        storage = storage_from_string(current_app.config["RATELIMIT_STORAGE_URI"])
        counter = current_app.extensions["login_failure_counter"] = FixedWindowRateLimiter(storage)
    return counter


def _name_limit():
    config = current_app.config
    return parse_limit(f"{config['LOGIN_MAX_FAILURES']} per {config['LOGIN_LOCK_MINUTES']} minutes")


def _name_key(login_name):
    # One count per name at every entry, as an account counts its failures at every entry.
    return ("login-failures", login_name.strip().lower()[:64])


def name_failures_exhausted(login_name):
    """Whether a name has used up its failures (kept in the rate-limit storage)."""
    try:
        return not _failure_counter().test(_name_limit(), *_name_key(login_name))
    except Exception:  # noqa: BLE001 - the storage is down: no lock rather than no login page
        return False


def count_name_failure(login_name):
    """Count one failure of a name; return the tries it has left (None when the storage is down)."""
    try:
        counter = _failure_counter()
        counter.hit(_name_limit(), *_name_key(login_name))
        return counter.get_window_stats(_name_limit(), *_name_key(login_name)).remaining
    except Exception:  # noqa: BLE001 - as above: no countdown, no lock
        return None


@bp.route("/logout", methods=("POST",))
def logout():
    role = getattr(current_user, "role", None)
    if current_user.is_authenticated:
        # A copy of this session's cookie (another tab, another device) stops working too.
        current_user.end_sessions()
        record_event(current_user, "logout", target_type="user", target_id=current_user.id)
        db.session.commit()
    logout_user()
    flash("已退出登录", "info")
    return redirect(url_for("auth.login", role=role) if role else url_for("portal.index"))


@bp.route("/change-password", methods=("GET", "POST"))
@login_required
def change_password():
    form = ChangePasswordForm()
    error = None
    if form.validate_on_submit():
        if not current_user.check_password(form.current_password.data):
            error = "当前密码不正确"
        elif form.new_password.data == form.current_password.data:
            error = "新密码不能与当前密码相同"
        else:
            error = new_password_error(form.new_password.data, account_context(current_user))
        if error is None:
            user = current_user._get_current_object()
            user.set_password(form.new_password.data)
            user.must_change_password = False
            user.end_sessions()
            record_event(user, "password_changed", target_type="user", target_id=user.id)
            db.session.commit()
            login_user(user)  # this session goes on under the new version; every other one ended
            flash("密码已修改", "success")
            return redirect(console_url(current_user.role))
    return render_template("change_password.html", form=form, error=error_text(error),
                           forced=current_user.must_change_password)
