"""Text messages: the outbox every SMS backend writes to, and password-reset codes."""

from extensions import db
from models.base import now


class SmsMessage(db.Model):
    __tablename__ = "sms_message"
    id = db.Column(db.Integer, primary_key=True)
    phone = db.Column(db.String(20), nullable=False, index=True)
    body = db.Column(db.String(500), nullable=False)
    kind = db.Column(db.String(32), nullable=False, default="notice")
    status = db.Column(db.String(16), nullable=False, default="queued")
    created_at = db.Column(db.DateTime, nullable=False, default=now, index=True)
    sent_at = db.Column(db.DateTime)
    error = db.Column(db.String(200))


class SmsCode(db.Model):
    """A verification code; only its hash is stored."""

    __tablename__ = "sms_code"
    id = db.Column(db.Integer, primary_key=True)
    phone = db.Column(db.String(20), nullable=False, index=True)
    purpose = db.Column(db.String(32), nullable=False, default="reset_password")
    code_hash = db.Column(db.String(256), nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=now)
    expires_at = db.Column(db.DateTime, nullable=False)
    attempts = db.Column(db.Integer, nullable=False, default=0)
    used_at = db.Column(db.DateTime)
    # A reset code entered right is "verified"; the password may then be set once ("reset").
    # Both live here, server-side: a copy of the browser's cookie cannot replay them.
    verified_at = db.Column(db.DateTime)
    reset_at = db.Column(db.DateTime)
