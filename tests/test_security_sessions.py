"""Sessions that can be ended, a lockout that counts parallel failures, a reset used once."""

import base64
import threading
import zlib
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from models import SmsCode, User, now
from tests.conftest import TEST_PASSWORD
from tests.test_forgot_password import NEW_PASSWORD, PHONE, ask_code, sent_code


@pytest.fixture
def center_account(make_user, db):
    user = make_user("center", username="center_sessions", phone=PHONE)
    db.session.commit()
    return user


def session_cookie(client):
    return client.get_cookie("session").value


def opens_console(app, cookie, console="/center/"):
    """Whether a browser holding only this saved cookie gets into the console."""
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other.get(console).status_code == 200


# ---------------------------------------------------------------- lockout under parallel requests

def test_parallel_wrong_passwords_all_count_and_lock_the_account(app, center_account, db):
    """15 wrong passwords at once: the account ends locked and the right password is refused."""
    start = threading.Barrier(15)
    answers = []

    def wrong_password():
        client = app.test_client()
        start.wait()
        response = client.post("/login/center", data={"username": "center_sessions", "password": "Wrong2026x"})
        answers.append(response.status_code)

    threads = [threading.Thread(target=wrong_password) for _ in range(15)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200] * 15
    db.session.expire_all()
    assert db.session.get(User, center_account.id).is_locked()
    page = app.test_client().post("/login/center", data={"username": "center_sessions", "password": TEST_PASSWORD})
    assert page.status_code == 200 and "账号已锁定" in page.get_data(as_text=True)


def test_a_right_password_after_a_lock_landed_is_refused(client, center_account, db):
    """The check that lets a login through is part of the statement that clears the failures."""
    user = db.session.get(User, center_account.id)
    assert user.is_locked() is False
    db.session.execute(update(User).where(User.id == user.id).values(locked_until=now() + timedelta(minutes=5)))
    assert user.record_login() is False
    db.session.rollback()


def test_failures_are_counted_by_the_database(center_account, db):
    """Each failure returns the tries left before the lock; the fifth locks (0 left)."""
    user = db.session.get(User, center_account.id)
    for expected in (1, 2, 3, 4):
        assert user.record_failed_login(5, 15) == 5 - expected
        assert user.failed_logins == expected and not user.is_locked()
    assert user.record_failed_login(5, 15) == 0
    assert user.failed_logins == 0 and user.failures_since is None and user.is_locked()


def test_only_the_failures_of_the_lock_window_count(center_account, db):
    user = db.session.get(User, center_account.id)
    for _ in range(4):
        user.record_failed_login(5, 15)
    db.session.execute(update(User).where(User.id == user.id).values(failures_since=now() - timedelta(minutes=15)))
    assert user.record_failed_login(5, 15) == 4  # a fresh window: the four of before are forgotten
    assert user.failures_since >= now() - timedelta(seconds=5) and not user.is_locked()
    db.session.execute(update(User).where(User.id == user.id).values(failures_since=now() - timedelta(minutes=14)))
    assert user.record_failed_login(5, 15) == 3  # still inside it


# ---------------------------------------------------------------- sessions that end everywhere

def test_logout_ends_a_saved_copy_of_the_cookie(app, client, center_account, login):
    login(center_account)
    saved = session_cookie(client)
    assert opens_console(app, saved)
    client.post("/logout")
    assert not opens_console(app, saved)


def test_password_change_ends_other_sessions_and_keeps_this_one(app, client, center_account, login):
    login(center_account)
    elsewhere = app.test_client()
    login(center_account, test_client=elsewhere)
    saved = session_cookie(client)
    response = client.post("/change-password", data={"current_password": TEST_PASSWORD,
                                                     "new_password": "Harbour2026q", "confirm": "Harbour2026q"})
    assert response.status_code == 302
    assert client.get("/center/").status_code == 200
    assert elsewhere.get("/center/").status_code == 302
    assert not opens_console(app, saved)


def test_sms_reset_ends_every_session(app, center_account, login, db):
    desk = app.test_client()
    login(center_account, test_client=desk)
    saved = session_cookie(desk)
    phone_browser = app.test_client()
    ask_code(phone_browser)
    phone_browser.post("/forgot-password/code", data={"code": sent_code(db)})
    response = phone_browser.post("/forgot-password/new", data={"new_password": NEW_PASSWORD,
                                                                "confirm": NEW_PASSWORD})
    assert response.headers["Location"] == "/login/center"
    assert desk.get("/center/").status_code == 302
    assert not opens_console(app, saved)


def test_deactivation_ends_sessions_even_after_enabling_again(app, client, center_account, make_user, login, db):
    login(center_account)
    saved = session_cookie(client)
    admin = make_user("admin", username="sessions_admin")
    admin_client = login(admin, test_client=app.test_client())
    admin_client.post(f"/admin/admin_users/manage/{center_account.id}/active/", data={"active": "0"})
    assert not opens_console(app, saved)
    admin_client.post(f"/admin/admin_users/manage/{center_account.id}/active/", data={"active": "1"})
    assert not opens_console(app, saved)
    assert client.get("/center/").status_code == 302


def test_admin_password_reset_ends_sessions(app, client, center_account, make_user, login):
    login(center_account)
    saved = session_cookie(client)
    admin_client = login(make_user("admin", username="sessions_admin2"), test_client=app.test_client())
    assert admin_client.post(f"/admin/admin_users/manage/{center_account.id}/reset-password/").status_code == 200
    assert not opens_console(app, saved)


def test_a_cookie_of_the_old_form_is_not_a_session(app, client, center_account, login):
    """A cookie made before session versions (the bare account id) opens nothing."""
    with client.session_transaction() as state:
        state["_user_id"] = str(center_account.id)
        state["_fresh"] = True
    assert client.get("/center/").status_code == 302


# ---------------------------------------------------------------- forgot-password state on the server

def cookie_payload(cookie):
    """What anyone holding the cookie can read (Flask signs, it does not encrypt)."""
    payload = cookie.split(".")[1] if cookie.startswith(".") else cookie.split(".")[0]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    return zlib.decompress(raw).decode() if cookie.startswith(".") else raw.decode()


def test_the_reset_cookie_shows_no_phone_number(client, center_account, db):
    ask_code(client)
    assert PHONE not in cookie_payload(session_cookie(client))
    client.post("/forgot-password/code", data={"code": sent_code(db)})
    assert PHONE not in cookie_payload(session_cookie(client))
    assert "138****5678" in client.get("/forgot-password/code", follow_redirects=True).get_data(as_text=True) \
        or client.get("/forgot-password/new").status_code == 200


def test_a_saved_verified_cookie_sets_the_password_only_once(app, client, center_account, db):
    ask_code(client)
    client.post("/forgot-password/code", data={"code": sent_code(db)})
    saved = session_cookie(client)
    response = client.post("/forgot-password/new", data={"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.headers["Location"] == "/login/center"

    replay = app.test_client()
    replay.set_cookie("session", saved)
    response = replay.post("/forgot-password/new", data={"new_password": "Kaifaqu2027z", "confirm": "Kaifaqu2027z"})
    assert response.headers["Location"] == "/forgot-password"
    db.session.expire_all()
    user = db.session.get(User, center_account.id)
    assert user.check_password(NEW_PASSWORD) and not user.check_password("Kaifaqu2027z")
    row = db.session.execute(select(SmsCode)).scalar_one()
    assert row.verified_at is not None and row.reset_at is not None
