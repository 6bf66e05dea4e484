"""Security headers and cookie flags (the per-page checks of every console run in test_security_authz.py)."""

import re

from app import create_app
from extensions import db as _db
from services.security_headers import content_security_policy
from tests.conftest import TEST_PASSWORD

GOOD_KEY = "0123456789abcdef" * 4


def test_public_pages_carry_the_policy_and_its_companions(client):
    for path in ("/", "/register", "/login/center", "/privacy", "/forgot-password", "/no-such-page"):
        headers = client.get(path).headers
        policy = headers["Content-Security-Policy"]
        assert "script-src 'self' 'nonce-" in policy and "'unsafe-inline'" not in policy, path
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
        assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"


def test_each_response_gets_its_own_nonce(client):
    first = client.get("/").headers["Content-Security-Policy"]
    second = client.get("/").headers["Content-Security-Policy"]
    assert re.search(r"'nonce-[\w-]{16,}'", first) and first != second


def test_the_policy_allows_no_inline_style_or_script():
    policy = content_security_policy("n")
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_signed_in_pages_are_not_stored_by_caches(client, make_user, login):
    login(make_user("center"))
    assert client.get("/center/").headers["Cache-Control"] == "no-store"
    static = client.get("/static/css/app.css")
    static.close()
    assert "no-store" not in static.headers.get("Cache-Control", "")


def test_session_cookie_is_httponly_and_samesite(client, make_user, db):
    make_user("center", username="cookie_user")
    db.session.commit()
    response = client.post("/login/center", data={"username": "cookie_user", "password": TEST_PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http on a laptop


def test_session_cookie_is_secure_in_production(database_url, monkeypatch, tmp_path):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", GOOD_KEY)
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    try:
        assert app.config["SESSION_COOKIE_SECURE"] is True
        with app.test_request_context("/"):
            from flask import session

            session["x"] = 1
            response = app.make_response("x")
            app.session_interface.save_session(app, session, response)
            cookie = response.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        monkeypatch.setenv("SESSION_COOKIE_SECURE", "0")
        from config import Config

        assert Config().SESSION_COOKIE_SECURE is False
    finally:
        with app.app_context():
            _db.engine.dispose()
