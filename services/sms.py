"""Text messages behind one interface: the `outbox` backend (default) and an HTTP gateway.

Every message is first written to the SmsMessage table, so admins see what was sent
(短信记录) whatever the backend. Verification codes are never logged.
"""

import json
import logging
import urllib.error
import urllib.request

from flask import current_app
from sqlalchemy import insert, literal, select

from extensions import db
from models.base import now
from models.person import Person
from models.sms import SmsMessage

log = logging.getLogger(__name__)


class OutboxBackend:
    """Keeps messages in the outbox table only: for trials, demos and tests."""

    name = "outbox"

    def deliver(self, message):
        message.status = "stored"
        message.sent_at = now()


class HttpGatewayBackend:
    """Posts each message as JSON to an SMS gateway (SMS_GATEWAY_URL, SMS_GATEWAY_TOKEN)."""

    name = "http"

    def __init__(self, url, token=None, timeout=5):
        self.url, self.token, self.timeout = url, token, timeout

    def deliver(self, message):
        payload = json.dumps({"phone": message.phone, "text": message.body}).encode()
        request = urllib.request.Request(self.url, data=payload, method="POST",
                                         headers={"Content-Type": "application/json"})
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                ok = 200 <= response.status < 300
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            ok, message.error = False, type(error).__name__
        message.status = "sent" if ok else "failed"
        if ok:
            message.sent_at = now()
        else:
            log.warning("sms gateway delivery failed for message %s", message.id)


def backend():
    """Return the configured backend (SMS_BACKEND = outbox | http)."""
    config = current_app.config
    if config.get("SMS_BACKEND") == "http":
        if not config.get("SMS_GATEWAY_URL"):
            raise RuntimeError("SMS_BACKEND=http needs SMS_GATEWAY_URL")
        return HttpGatewayBackend(config["SMS_GATEWAY_URL"], config.get("SMS_GATEWAY_TOKEN"))
    return OutboxBackend()


def send_sms(phone, body, kind="notice"):
    """Write one message to the outbox and deliver it through the backend; return it."""
    message = SmsMessage(phone=phone, body=body, kind=kind, status="queued")
    db.session.add(message)
    db.session.flush()
    backend().deliver(message)
    return message


def notify_persons_of_event(event_id, body, kind):
    """Queue the same message to every person an audit event moved, with one INSERT … SELECT.

    Returns how many messages were queued; `deliver_queued` sends them afterwards.
    """
    result = db.session.execute(
        insert(SmsMessage).from_select(
            ["phone", "body", "kind", "status", "created_at"],
            select(Person.phone, literal(body), literal(kind), literal("queued"), literal(now()))
            .where(Person.last_event_id == event_id),
        )
    )
    return result.rowcount


def deliver_queued(limit=1000):
    """Deliver up to `limit` queued messages; return how many were handled."""
    messages = db.session.execute(
        select(SmsMessage).where(SmsMessage.status == "queued").order_by(SmsMessage.id).limit(limit)
    ).scalars().all()
    chosen = backend()
    for message in messages:
        chosen.deliver(message)
    return len(messages)
