"""Accounts of every role, with password hashing and login lockout."""

from datetime import timedelta

from flask_login import UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from extensions import db
from models.base import now

ENTERPRISE = "enterprise"
REVIEW = "review"
CENTER = "center"
STATION = "station"
ADMIN = "admin"
ROLES = (ENTERPRISE, REVIEW, CENTER, STATION, ADMIN)
ROLE_LABELS = {
    ENTERPRISE: "企业端",
    REVIEW: "审核部门端",
    CENTER: "防控中心端",
    STATION: "接种站端",
    ADMIN: "系统管理",
}


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
    locked_until = db.Column(db.DateTime)
    must_change_password = db.Column(db.Boolean, nullable=False, default=False)
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
        self.password_hash = generate_password_hash(password)

    def check_password(self, password):
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self):
        return self.active

    def is_locked(self, at=None):
        return self.locked_until is not None and self.locked_until > (at or now())

    def record_failed_login(self, max_failures, lock_minutes):
        self.failed_logins += 1
        if self.failed_logins >= max_failures:
            self.locked_until = now() + timedelta(minutes=lock_minutes)
            self.failed_logins = 0

    def record_login(self):
        self.failed_logins = 0
        self.locked_until = None
        self.last_login_at = now()

    def unlock(self):
        self.failed_logins = 0
        self.locked_until = None

    @property
    def role_label(self):
        return ROLE_LABELS.get(self.role, self.role)

    @property
    def unit(self):
        """Return the enterprise, department or station this account acts for."""
        return self.enterprise or self.department or self.station

    def __str__(self):
        return self.username
