"""Text messages: requests queue them, the worker (services/tasks.py) delivers them.

Queueing (`send_sms`, `notify_persons_of_event`) only inserts SmsMessage rows in the
request's transaction; after that transaction commits, the task queue is told to look.
No request ever talks to a gateway.

Delivery (`deliver_batch`) claims due messages atomically (one UPDATE … RETURNING; on
PostgreSQL over a `FOR UPDATE SKIP LOCKED` selection), sends each through the first
backend that takes it (primary gateway, then the fallback), records the answer, and
queues refused ones again with a growing delay. Each attempt carries the message's
idempotency key (`client_msg_id`): a worker that dies after a gateway accepted the
message but before recording it leaves a claim that expires, the message is sent again
with the same key, and the gateway drops the repeat. "Exactly once" therefore means
once per gateway that honours the key; a message is pinned to a backend that may hold
it, so a repeat never goes to the other gateway (docs/deploy.md).
"""

import base64
import hashlib
import http.client
import json
import logging
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app
from sqlalchemy import bindparam, event, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from extensions import db
from models.base import CAMPAIGN_TZ, now
from models.person import Person
from models.sms import DELIVERED, FAILED, QUEUED, SENDING, SENT, SmsMessage

log = logging.getLogger(__name__)

KICK = "binhai.sms_queued"


# ---------------------------------------------------------------- backends

@dataclass
class Answer:
    """What one backend said about one message."""

    accepted: bool
    # Refused for sure (nothing reached the phone): the next backend may be tried.
    definite: bool = True
    retry: bool = True
    message_id: str | None = None
    delivered: bool = False
    detail: str = ""


class OutboxBackend:
    """Keeps messages in the outbox table only (短信记录): for trials, demos and tests."""

    name = "outbox"

    def send(self, phone, text, key):
        return Answer(True, detail="已存入发件箱")

    def close(self):
        pass


class HttpGatewayBackend:
    """Posts each message as JSON to an SMS gateway over one kept-alive connection.

    The body is {"phone", "text", "client_msg_id"}; the key also goes in the
    Idempotency-Key header. A 2xx answer may carry {"message_id", "status"}; a status of
    "delivered" counts as the delivery receipt.
    """

    def __init__(self, name, url, token=None, timeout=5):
        self.name, self.url, self.token, self.timeout = name, url, token, timeout
        parts = urlsplit(url)
        self.https = parts.scheme == "https"
        self.host, self.port = parts.hostname, parts.port
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.connection = None

    def _connect(self):
        kind = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        return kind(self.host, self.port, timeout=self.timeout)

    def send(self, phone, text, key):
        payload = json.dumps({"phone": phone, "text": text, "client_msg_id": key}).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": key,
                   "User-Agent": f"binhai-sms/1 pid={os.getpid()}"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            if self.connection is None:
                self.connection = self._connect()
            self.connection.request("POST", self.path, body=payload, headers=headers)
        except OSError as error:  # refused, unreachable, reset before the request went out
            self.close()
            return Answer(False, detail=f"连接失败 {type(error).__name__}")
        try:
            response = self.connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException) as error:
            # The request went out: the gateway may have taken it. Only a repeat with the same key is safe.
            self.close()
            return Answer(False, definite=False, detail=f"结果未知 {type(error).__name__}")
        return self._answer(response.status, raw)

    def _answer(self, status, raw):
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            data = {}
        data = data if isinstance(data, dict) else {}
        if 200 <= status < 300:
            return Answer(True, message_id=str(data.get("message_id") or "")[:64] or None,
                          delivered=data.get("status") == "delivered", detail=f"HTTP {status}")
        # 4xx other than throttling is the gateway saying no to this message: retrying will not help.
        retry = status >= 500 or status in (408, 429)
        return Answer(False, retry=retry, detail=f"HTTP {status} {str(data.get('error') or '')[:80]}".strip())

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def configured_backends():
    """The backends in the order they are tried: SMS_BACKEND's gateway, then SMS_FALLBACK_GATEWAY_URL."""
    config = current_app.config
    if config.get("SMS_BACKEND") != "http":
        return [OutboxBackend()]
    if not config.get("SMS_GATEWAY_URL"):
        raise RuntimeError("SMS_BACKEND=http needs SMS_GATEWAY_URL")
    timeout = config.get("SMS_GATEWAY_TIMEOUT", 5)
    backends = [HttpGatewayBackend("primary", config["SMS_GATEWAY_URL"], config.get("SMS_GATEWAY_TOKEN"), timeout)]
    if config.get("SMS_FALLBACK_GATEWAY_URL"):
        backends.append(HttpGatewayBackend("fallback", config["SMS_FALLBACK_GATEWAY_URL"],
                                           config.get("SMS_FALLBACK_GATEWAY_TOKEN"), timeout))
    return backends


def backend():
    """The first configured backend (callers ask whether a real gateway is in use)."""
    return configured_backends()[0]


# ---------------------------------------------------------------- queueing (in the request)

def _fernet():
    digest = hashlib.sha256(b"sms-sealed-body:" + current_app.config["SECRET_KEY"].encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def deliver_after_commit():
    """Tell the worker to look once the current transaction commits (nothing if it rolls back)."""
    db.session.info[KICK] = True


def send_sms(phone, body, kind="notice", secret=None):
    """Queue one message and return it; the worker sends it after the request commits.

    With `secret` (a verification code) the stored body shows it masked and the real text
    is kept encrypted until it is sent, when a real gateway is configured.
    """
    message = SmsMessage(phone=phone, body=body, kind=kind, status=QUEUED, attempts=0, next_attempt_at=now())
    if secret and backend().name != "outbox":
        message.body = body.replace(secret, "*" * len(secret))
        message.sealed_body = _fernet().encrypt(body.encode()).decode()
    db.session.add(message)
    db.session.flush()
    deliver_after_commit()
    return message


def notify_persons_of_event(event_id, body, kind):
    """Queue a message to every person an audit event moved, with one INSERT … SELECT.

    `body` is the text, or an SQL expression of the person's row (a text per window).
    """
    return notify_persons(Person.last_event_id == event_id, body, kind)


def notify_persons(people, body, kind):
    """Queue a message to every person matching the condition `people`, with one INSERT … SELECT."""
    at = now()
    text = body if isinstance(body, ColumnElement) else literal(body)
    result = db.session.execute(
        insert(SmsMessage).from_select(
            ["phone", "body", "kind", "status", "created_at", "attempts", "next_attempt_at"],
            select(Person.phone, text, literal(kind), literal(QUEUED), literal(at), literal(0), literal(at))
            .where(people, Person.phone.is_not(None)),
        )
    )
    if result.rowcount:
        deliver_after_commit()
    return result.rowcount


def resend(message_ids):
    """Queue failed messages again (admin 重新发送); return how many were queued."""
    count = db.session.execute(
        update(SmsMessage)
        .where(SmsMessage.id.in_(message_ids), SmsMessage.status == FAILED, SmsMessage.sealed_body.is_(None),
               SmsMessage.kind != "reset_code")
        .values(status=QUEUED, attempts=0, next_attempt_at=now(), error=None, claimed_at=None, claimed_by=None,
                pinned_backend=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    if count:
        deliver_after_commit()
    return count


@event.listens_for(Session, "after_commit")
def _tell_the_worker(session):
    if session.info.pop(KICK, False):
        from services import tasks  # the queue imports the app's tasks lazily (instance path known by now)

        tasks.kick_delivery()


@event.listens_for(Session, "after_rollback")
def _forget_the_kick(session):
    session.info.pop(KICK, None)


# ---------------------------------------------------------------- delivery (in the worker)

def _settings():
    config = current_app.config
    return (config.get("SMS_MAX_ATTEMPTS", 6), config.get("SMS_RETRY_BASE_SECONDS", 30),
            config.get("SMS_CLAIM_TIMEOUT_SECONDS", 300))


def retry_delay(attempts):
    """The wait before attempt `attempts + 1`: base, 2·base, 4·base … at most SMS_RETRY_MAX_SECONDS."""
    config = current_app.config
    base, ceiling = config.get("SMS_RETRY_BASE_SECONDS", 30), config.get("SMS_RETRY_MAX_SECONDS", 3600)
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), ceiling))


def release_stale_claims(at=None):
    """Queue again the messages whose worker died or stalled past the claim timeout.

    The dead worker may have handed a message to the first backend (or to the one it was
    pinned to) without recording it: the message stays pinned there, so its repeat goes
    where the idempotency key can drop it, never to the other gateway.
    """
    at = at or clock()
    _, _, lease = _settings()
    first = configured_backends()[0].name
    released = db.session.execute(
        update(SmsMessage)
        .where(SmsMessage.status == SENDING, SmsMessage.claimed_at < at - timedelta(seconds=lease))
        .values(status=QUEUED, claimed_by=None, next_attempt_at=at, error="发送中断，已重新排队",
                pinned_backend=func.coalesce(SmsMessage.pinned_backend, first))
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if released:
        log.warning("sms: %d claims expired and were queued again", released)
    return released


def clock():
    """Campaign-local time to the microsecond: claims are timed closer than `now()`'s seconds."""
    return datetime.now(CAMPAIGN_TZ).replace(tzinfo=None)


def claim_due(batch_size, at=None):
    """Claim up to `batch_size` due messages for this worker alone; return (claim token, rows)."""
    at = at or clock()
    token = uuid.uuid4().hex
    due = (select(SmsMessage.id)
           .where(SmsMessage.status == QUEUED, SmsMessage.next_attempt_at <= at)
           .order_by(SmsMessage.id).limit(batch_size))
    if db.engine.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)  # two workers never wait on, nor take, the same rows
    rows = db.session.execute(
        update(SmsMessage)
        .where(SmsMessage.id.in_(due), SmsMessage.status == QUEUED)
        .values(status=SENDING, claimed_at=at, claimed_by=token, attempts=SmsMessage.attempts + 1)
        .returning(SmsMessage.id, SmsMessage.phone, SmsMessage.body, SmsMessage.sealed_body,
                   SmsMessage.attempts, SmsMessage.pinned_backend)
        .execution_options(synchronize_session=False)
    ).all()
    db.session.commit()
    return token, sorted(rows, key=lambda row: row.id)


def _pin(row, token, backend_name):
    """Record, before a failover send, which gateway may hold the message if this worker dies."""
    db.session.execute(
        update(SmsMessage).where(SmsMessage.id == row.id, SmsMessage.claimed_by == token)
        .values(backend=backend_name, pinned_backend=backend_name)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _text_of(row):
    if not row.sealed_body:
        return row.body
    try:
        return _fernet().decrypt(row.sealed_body.encode()).decode()
    except InvalidToken:
        return None  # sealed under another SECRET_KEY: cannot be sent


def send_through_backends(row, backends, token):
    """Try the backends in order for one claimed message; return (backend name, Answer)."""
    text = _text_of(row)
    if text is None:
        return None, Answer(False, retry=False, detail="内容无法解密")
    # A backend that may hold the message already is the only one allowed to get it again.
    choices = [b for b in backends if b.name == row.pinned_backend] or backends
    answer, used = None, None
    for position, chosen in enumerate(choices):
        if position > 0:
            _pin(row, token, chosen.name)
        used, answer = chosen.name, chosen.send(row.phone, text, f"binhai-sms-{row.id}")
        if answer.accepted or not answer.definite:
            break
    return used, answer


def _outcome(row, used, answer, at):
    """The column values recording one attempt's answer."""
    max_attempts, _, _ = _settings()
    values = {"b_id": row.id, "backend": used, "gateway_answer": answer.detail[:200], "claimed_by": None,
              "sent_at": None, "delivered_at": None, "gateway_message_id": None, "sealed_body": row.sealed_body,
              "next_attempt_at": None, "error": None, "pinned_backend": _pin_after(row, used, answer)}
    if answer.accepted:
        values.update(status=DELIVERED if answer.delivered else SENT, sent_at=at,
                      delivered_at=at if answer.delivered else None,
                      gateway_message_id=answer.message_id, sealed_body=None)
    elif answer.retry and row.attempts < max_attempts:
        values.update(status=QUEUED, next_attempt_at=at + retry_delay(row.attempts), error=answer.detail[:200])
    else:
        values.update(status=FAILED, error=answer.detail[:200], sealed_body=None)
    return values


def _pin_after(row, used, answer):
    """The backend the message stays pinned to after this attempt (None: any may be tried)."""
    if answer.accepted:
        return None
    if not answer.definite:
        return used  # it may have arrived there
    # A refusal now does not undo an earlier copy that may have arrived: an older pin stays.
    return row.pinned_backend


def _record(token, outcomes, commit=True):
    if outcomes:
        table = SmsMessage.__table__
        statement = update(table).where(table.c.id == bindparam("b_id"), table.c.claimed_by == bindparam("b_token"))
        db.session.execute(statement, [{**values, "b_token": token} for values in outcomes])
    if commit:
        db.session.commit()


def _extend_claim(token, ids, at):
    db.session.execute(
        update(SmsMessage).where(SmsMessage.id.in_(ids), SmsMessage.claimed_by == token).values(claimed_at=at)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def deliver_batch(batch_size=100, backends=None, *, leave_record_open=False):
    """Claim one batch of due messages, send them, record each answer; return how many were claimed.

    With `leave_record_open` the answers are written but not committed when all went well:
    the caller's next claim (which always commits) commits them with it, one commit a batch
    instead of two. A worker dying in between leaves the claim to expire: resent with the same key.
    """
    token, rows = claim_due(batch_size)
    if not rows:
        return 0
    own_backends = backends is None
    backends = backends or configured_backends()
    outcomes = []
    try:
        _send_claimed(token, rows, backends, outcomes)
    except BaseException:
        _record(token, outcomes)
        raise
    else:
        _record(token, outcomes, commit=not leave_record_open)
    finally:
        if own_backends:
            for chosen in backends:
                chosen.close()
    return len(rows)


def _send_claimed(token, rows, backends, outcomes):
    """Send each claimed row, adding its outcome to `outcomes` (those not yet recorded are left there)."""
    _, _, lease = _settings()
    claimed_at = clock()
    for index, row in enumerate(rows):
        at = clock()
        if at - claimed_at > timedelta(seconds=lease / 3):
            # A slow gateway: record what is done and keep the rest claimed, so nobody takes it over.
            _record(token, outcomes)
            outcomes.clear()
            claimed_at = at
            _extend_claim(token, [r.id for r in rows[index:]], at)
        used, answer = send_through_backends(row, backends, token)
        if not answer.accepted:
            log.warning("sms %s attempt %s via %s refused: %s", row.id, row.attempts, used, answer.detail)
        outcomes.append(_outcome(row, used, answer, now()))


def next_due_at():
    """When the worker should look again: the earliest retry or claim expiry, or None when idle."""
    _, _, lease = _settings()
    retry = db.session.execute(select(func.min(SmsMessage.next_attempt_at)).where(SmsMessage.status == QUEUED)).scalar()
    claim = db.session.execute(select(func.min(SmsMessage.claimed_at)).where(SmsMessage.status == SENDING)).scalar()
    candidates = [t for t in (retry, claim + timedelta(seconds=lease + 1) if claim else None) if t is not None]
    return min(candidates) if candidates else None


def record_receipt(reference, delivered, detail=""):
    """Apply a gateway's delivery receipt (its message id or our client_msg_id); return rows changed."""
    condition = SmsMessage.gateway_message_id == reference
    if reference.startswith("binhai-sms-") and reference[11:].isdigit():
        condition = or_(condition, SmsMessage.id == int(reference[11:]))
    if delivered:
        values = {"status": DELIVERED, "delivered_at": now()}
    else:
        values = {"status": FAILED, "error": (detail or "运营商回执：发送失败")[:200]}
    return db.session.execute(
        update(SmsMessage).where(condition, SmsMessage.status.in_((SENDING, SENT, DELIVERED)))
        .values(**values).execution_options(synchronize_session=False)
    ).rowcount


def queue_figures():
    """Backlog figures for /healthz: waiting messages, the oldest one's age, failures today."""
    at = now()
    waiting = select(func.count(SmsMessage.id), func.min(SmsMessage.created_at)).where(
        SmsMessage.status.in_((QUEUED, SENDING)))
    count, oldest = db.session.execute(waiting).one()
    return {"backlog": count, "oldest_waiting": oldest.isoformat(sep=" ") if oldest else None,
            "oldest_waiting_seconds": int((at - oldest).total_seconds()) if oldest else 0}

