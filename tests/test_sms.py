"""SMS backends: the outbox, and the HTTP gateway adapter against a small local HTTP server."""

import json
import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from models import SmsMessage
from services.sms import send_sms


class Gateway:
    """A threaded HTTP server on 127.0.0.1 that records every request it gets."""

    def __init__(self, status=200):
        self.status = status
        self.requests = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server API
                length = int(self.headers.get("Content-Length", 0))
                gateway.requests.append({
                    "path": self.path,
                    "headers": dict(self.headers),
                    "json": json.loads(self.rfile.read(length) or b"null"),
                })
                self.send_response(gateway.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http_backend(app, monkeypatch):
    def use(url, token="gw-token"):
        monkeypatch.setitem(app.config, "SMS_BACKEND", "http")
        monkeypatch.setitem(app.config, "SMS_GATEWAY_URL", url)
        monkeypatch.setitem(app.config, "SMS_GATEWAY_TOKEN", token)
    return use


def test_outbox_is_the_default_and_keeps_the_message(db):
    message = send_sms("13800001111", "您好，测试短信", kind="notice")
    db.session.commit()
    stored = db.session.execute(select(SmsMessage)).scalar_one()
    assert (stored.id, stored.status, stored.body) == (message.id, "stored", "您好，测试短信")
    assert stored.sent_at is not None


def test_http_gateway_posts_phone_and_text_with_the_token(db, http_backend):
    with Gateway() as gateway:
        http_backend(gateway.url)
        message = send_sms("13800001111", "接种提醒：明天9:00", kind="notice")
    assert message.status == "sent" and message.sent_at is not None
    assert len(gateway.requests) == 1
    got = gateway.requests[0]
    assert got["path"] == "/send"
    assert got["json"] == {"phone": "13800001111", "text": "接种提醒：明天9:00"}
    assert got["headers"]["Authorization"] == "Bearer gw-token"
    assert got["headers"]["Content-Type"] == "application/json"


def test_http_gateway_refusal_is_recorded_and_the_text_stays_out_of_the_logs(db, http_backend, caplog):
    caplog.set_level(logging.DEBUG)
    with Gateway(status=500) as gateway:
        http_backend(gateway.url)
        message = send_sms("13800001111", "秘密内容987654", kind="notice")
    assert (message.status, message.error, message.sent_at) == ("failed", "HTTPError", None)
    assert len(gateway.requests) == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings and not [text for text in warnings if "987654" in text or "13800001111" in text]


def test_unreachable_gateway_fails_without_raising(db, http_backend):
    with Gateway() as gateway:
        url = gateway.url
    http_backend(url)  # the server is closed now
    message = send_sms("13800001111", "测试", kind="notice")
    assert message.status == "failed" and message.error


def test_reset_code_through_the_gateway_is_not_kept_in_the_outbox(client, db, make_user, make_department,
                                                                  http_backend, caplog):
    caplog.set_level(logging.DEBUG)
    make_user("review", make_department(), username="gw_user", phone="13811112222")
    db.session.commit()
    with Gateway() as gateway:
        http_backend(gateway.url)
        assert client.post("/forgot-password", data={"phone": "13811112222"}).status_code == 302
    text = gateway.requests[0]["json"]["text"]
    code = re.search(r"验证码(\d{6})", text).group(1)
    stored = db.session.execute(select(SmsMessage)).scalar_one()
    assert stored.status == "sent" and code not in stored.body and "******" in stored.body
    assert client.post("/forgot-password/code", data={"code": code}).headers["Location"] == "/forgot-password/new"
    assert not [record for record in caplog.records if code in record.getMessage()]
