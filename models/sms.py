"""Text messages: the outbox every SMS goes through, password-reset codes, and scheduled-job runs.

A message's life: queued → sending (claimed by one worker) → sent (a gateway accepted it)
→ delivered (the gateway's delivery receipt); or failed after the last attempt. A worker
that dies while sending leaves its claim behind; the claim expires and the message is
queued again with the same idempotency key, which the gateway uses to drop the repeat.
"""

from extensions import db
from models.base import now

QUEUED, SENDING, SENT, DELIVERED, FAILED = "queued", "sending", "sent", "delivered", "failed"
SMS_STATES = (QUEUED, SENDING, SENT, DELIVERED, FAILED)


class SmsMessage(db.Model):
    __tablename__ = "sms_message"
    id = db.Column(db.Integer, primary_key=True)
    phone = db.Column(db.String(20), nullable=False, index=True)
    body = db.Column(db.String(500), nullable=False)
    kind = db.Column(db.String(32), nullable=False, default="notice")
    status = db.Column(db.String(16), nullable=False, default=QUEUED)
    created_at = db.Column(db.DateTime, nullable=False, default=now, index=True)
    sent_at = db.Column(db.DateTime)
    error = db.Column(db.String(200))
    # Delivery bookkeeping, written by the worker (services/sms.py).
    attempts = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    next_attempt_at = db.Column(db.DateTime)
    claimed_at = db.Column(db.DateTime)
    claimed_by = db.Column(db.String(64))
    backend = db.Column(db.String(32))
    # Set while a gateway may hold the message (its answer was lost): only it may get it again.
    pinned_backend = db.Column(db.String(32))
    gateway_message_id = db.Column(db.String(64), index=True)
    gateway_answer = db.Column(db.String(200))
    delivered_at = db.Column(db.DateTime)
    # Makes a scheduled message (a reminder) unique: running the scheduler twice queues it once.
    dedupe_key = db.Column(db.String(80), unique=True)
    # A text that must not stay readable in the 短信记录 (a verification code): `body` holds it
    # masked, this holds it encrypted with the app's key until the message is sent or fails.
    sealed_body = db.Column(db.Text)

    __table_args__ = (
        # The worker's claim query: the oldest due messages of one state.
        db.Index("ix_sms_message_status_next_attempt", "status", "next_attempt_at"),
    )

    @property
    def idempotency_key(self):
        """The client message id sent with every attempt, so a gateway drops a repeat."""
        return f"binhai-sms-{self.id}"


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


class JobRun(db.Model):
    """One run of a scheduled job (services/tasks.py), shown to the admin (后台任务)."""

    __tablename__ = "job_run"
    id = db.Column(db.Integer, primary_key=True)
    job = db.Column(db.String(40), nullable=False)
    started_at = db.Column(db.DateTime, nullable=False, default=now)
    finished_at = db.Column(db.DateTime)
    ok = db.Column(db.Boolean)
    summary = db.Column(db.Text)

    __table_args__ = (db.Index("ix_job_run_job_started", "job", "started_at"),)
