"""Accounts of every role, with password hashing and login lockout."""

from datetime import timedelta

from flask_login import UserMixin
from sqlalchemy import case, null, or_, update

from extensions import db
from models.base import now
from models.passwords import hash_password, password_matches

ENTERPRISE = "enterprise"
REVIEW = "review"
CENTER = "center"
STATION = "station"
ADMIN = "admin"
ROLES = (ENTERPRISE, REVIEW, CENTER, STATION, ADMIN)  # worded in admin_views/labels.py


class User(UserMixin, db.Model):
    __tablename__ = "user"
    id = db.Column(db.Integer, primary_key=True)
    username = db.Column(db.String(64), nullable=False, unique=True)
    password_hash = db.Column(db.String(256), nullable=False)
    role = db.Column(db.String(16), nullable=False, index=True)
    display_name = db.Column(db.String(100), nullable=False, default="")
    phone = db.Column(db.String(20), index=True)
    enterprise_id = db.Column(db.Integer, db.ForeignKey("enterprise.id"), index=True)
    department_id = db.Column(db.Integer, db.ForeignKey("review_department.id"), index=True)
    station_id = db.Column(db.Integer, db.ForeignKey("station.id"), index=True)
    active = db.Column(db.Boolean, nullable=False, default=True)
    failed_logins = db.Column(db.Integer, nullable=False, default=0)
    # The first of the failures counted: those older than the lock window no longer count.
    failures_since = db.Column(db.DateTime)
    locked_until = db.Column(db.DateTime)
    must_change_password = db.Column(db.Boolean, nullable=False, default=False)
    # A station's supervisor (接种站主管) may approve a dose earlier than its interval allows.
    is_supervisor = db.Column(db.Boolean, nullable=False, default=False, server_default="0")
    # Part of every session's identity: raising it ends every session opened before.
    session_version = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    last_login_at = db.Column(db.DateTime)
    created_at = db.Column(db.DateTime, nullable=False, default=now)

    enterprise = db.relationship("Enterprise")
    department = db.relationship("ReviewDepartment")
    station = db.relationship("Station")

    __table_args__ = (
        db.CheckConstraint(
            "role IN (" + ", ".join(f"'{r}'" for r in ROLES) + ")", name="role_known"
        ),
    )

    def set_password(self, password):
        self.password_hash = hash_password(password)

    def check_password(self, password):
        return password_matches(self.password_hash, password)

    @property
    def is_active(self):
        return self.active

    def is_locked(self, at=None):
        return self.locked_until is not None and self.locked_until > (at or now())

    def get_id(self):
        """The session's identity: the account and its session version (see end_sessions)."""
        return f"{self.id}:{self.session_version or 0}"

    def end_sessions(self):
        """End every session of this account, on every device (logout, new password, deactivation)."""
        self._update_returning(session_version=User.session_version + 1)

    def failures_counted(self, lock_minutes, at=None):
        """The failures that still count toward the lock: none once the first is `lock_minutes` old."""
        at = at or now()
        if self.failures_since is None or self.failures_since <= at - timedelta(minutes=lock_minutes):
            return 0
        return self.failed_logins

    def record_failed_login(self, max_failures, lock_minutes):
        """Count one failure in one statement, locking at `max_failures`; return the tries left (0: locked).

        A read-modify-write in Python loses counts when wrong passwords arrive in parallel;
        the database adds one to the stored value, so every failure counts. Only the failures
        of the last `lock_minutes` count, as for a name without an account (public_forms/auth.py),
        so a countdown never comes from mistakes of last month.
        """
        at = now()
        window = timedelta(minutes=lock_minutes)
        fresh = or_(User.failures_since.is_(None), User.failures_since <= at - window)
        count = case((fresh, 1), else_=User.failed_logins + 1)
        reaches = count >= max_failures
        row = self._update_returning(
            failed_logins=case((reaches, 0), else_=count),
            failures_since=case((reaches, null()), (fresh, at), else_=User.failures_since),
            locked_until=case((reaches, at + window), else_=User.locked_until),
        )
        if row.locked_until is not None and row.locked_until > at:
            return 0
        return max_failures - row.failed_logins

    def record_login(self):
        """Clear the failures unless a lock landed meanwhile; return whether the login may go on."""
        at = now()
        row = db.session.execute(
            update(User).where(User.id == self.id, or_(User.locked_until.is_(None), User.locked_until <= at))
            .values(failed_logins=0, failures_since=None, locked_until=None, last_login_at=at).returning(User.id)
            .execution_options(synchronize_session=False)
        ).first()
        db.session.expire(self, ["failed_logins", "failures_since", "locked_until", "last_login_at"])
        return row is not None

    def _update_returning(self, **values):
        """Apply `values` (SQL expressions over the stored row) in one UPDATE; return the new row."""
        row = db.session.execute(
            update(User).where(User.id == self.id).values(**values)
            .returning(User.failed_logins, User.locked_until, User.session_version)
            .execution_options(synchronize_session=False)
        ).one()
        db.session.expire(self, list(values))
        return row

    def unlock(self):
        self.failed_logins = 0
        self.failures_since = None
        self.locked_until = None

    @property
    def unit(self):
        """Return the enterprise, department or station this account acts for."""
        return self.enterprise or self.department or self.station

    def __str__(self):
        return self.username
