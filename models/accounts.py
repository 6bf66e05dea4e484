"""Creating accounts: one operation for 系统管理's new-account screen and `flask users create`."""

from sqlalchemy import select

from extensions import db
from models.audit import record_event
from models.errors import DomainError
from models.passwords import password_error
from models.user import ENTERPRISE, REVIEW, ROLES, STATION, User

UNIT_FIELD = {ENTERPRISE: "enterprise", REVIEW: "department", STATION: "station"}
MISSING_UNIT = {ENTERPRISE: "account_enterprise_required", REVIEW: "account_department_required",
                STATION: "account_station_required"}


class AccountError(DomainError):
    """An account that cannot be created as asked; its code is worded by admin_views/labels.py."""


def create_account(actor, *, role, username, password, unit=None, phone=None, display_name="",
                   must_change_password=True):
    """Create an account of `role` acting for `unit` (enterprise, department or station); audit; return it.

    `actor` is the admin creating it, or None for the command line (audited without a user).
    """
    username = (username or "").strip()
    if role not in ROLES:
        raise AccountError("role_unknown", role=role)
    if not username:
        raise AccountError("username_required")
    problem = password_error(password)
    if problem:
        raise AccountError(problem.code, **problem.params)
    if role in UNIT_FIELD and unit is None:
        raise AccountError(MISSING_UNIT[role])
    if db.session.execute(select(User.id).where(User.username == username)).first():
        raise AccountError("username_taken", username=username)
    user = User(username=username, role=role, phone=phone or None, must_change_password=must_change_password,
                display_name=(display_name or "").strip() or (unit.name if unit is not None else username))
    if role in UNIT_FIELD:
        setattr(user, UNIT_FIELD[role], unit)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    record_event(actor, "account_created", target_type="user", target_id=user.id, detail=f"{user.username} {role}")
    db.session.flush()
    return user
