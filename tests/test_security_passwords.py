"""Passwords: a current hash, the policy, throttling per account and per address, no user enumeration."""

import statistics
import time

import pytest
from werkzeug.security import check_password_hash

import public_forms.auth as auth_module
from app import create_app
from extensions import db as _db
from models.passwords import new_password_error, password_error
from tests.conftest import TEST_PASSWORD


def test_passwords_are_hashed_with_scrypt(make_user, db):
    user = make_user("center", username="hash_check")
    user.set_password("Zq9xWv2026")
    assert user.password_hash.startswith("scrypt:")
    assert "Zq9xWv2026" not in user.password_hash
    assert user.check_password("Zq9xWv2026") and not user.check_password("zq9xwv2026")


@pytest.mark.parametrize("weak, message", [
    ("short1", "密码至少8位"), ("abcdefgh", "密码须同时包含字母和数字"), ("12345678", "密码须同时包含字母和数字"),
    ("a1" * 33, "密码最多64位"),
])
def test_the_policy_refuses_weak_passwords(weak, message):
    assert str(password_error(weak)) == message
    assert password_error("Binhai2026x") is None


def test_change_password_enforces_the_policy(client, make_user, login, db):
    user = make_user("center", username="policy_user")
    login(user)
    response = client.post("/change-password", data={"current_password": TEST_PASSWORD, "new_password": "abcdefgh",
                                                      "confirm": "abcdefgh"})
    assert "密码须同时包含字母和数字" in response.get_data(as_text=True)
    db.session.refresh(user)
    assert user.check_password(TEST_PASSWORD)


def test_an_unknown_account_costs_the_same_hash_check_as_a_known_one(client, make_user, db, monkeypatch):
    """Same answer, and a password hash checked in both cases (no early return for unknown users)."""
    make_user("center", username="known_user")
    db.session.commit()
    calls = []
    real = check_password_hash

    def counting(stored, password):
        calls.append(stored.split("$")[0])
        return real(stored, password)

    monkeypatch.setattr(auth_module, "check_password_hash", counting)
    monkeypatch.setattr("models.passwords.check_password_hash", counting)
    answers = {}
    for name in ("known_user", "nobody_here"):
        calls.clear()
        response = client.post("/login/center", data={"username": name, "password": "Wrong2026x"})
        answers[name] = response.get_data(as_text=True)
        assert len(calls) == 1, name
        assert calls[0].startswith("scrypt:"), "the dummy check must cost what a real one costs"
    assert "账号或密码错误" in answers["known_user"] and "账号或密码错误" in answers["nobody_here"]


def test_known_and_unknown_accounts_take_similar_time(client, make_user, db):
    make_user("center", username="timed_user")
    db.session.commit()

    def median(name):
        times = []
        for _ in range(7):
            started = time.perf_counter()
            client.post("/login/center", data={"username": name, "password": "Wrong2026x"})
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    median("warm_up")
    # Four wrong passwords stay below the lock (five).
    known, unknown = median("timed_user"), median("no_such_user")
    assert known / unknown < 3 and unknown / known < 3, (known, unknown)


def test_lockout_per_account_after_five_failures(client, make_user, db):
    user = make_user("center", username="lock_me")
    db.session.commit()
    for _ in range(5):
        client.post("/login/center", data={"username": "lock_me", "password": "Wrong2026x"})
    response = client.post("/login/center", data={"username": "lock_me", "password": TEST_PASSWORD})
    assert response.status_code == 200 and "账号已锁定" in response.get_data(as_text=True)
    db.session.refresh(user)
    assert user.locked_until is not None


def test_login_is_throttled_per_address(database_url, make_user, db):
    """20 login posts a minute from one address, whichever accounts they try; then 429 with a Chinese page."""
    make_user("center", username="throttled")
    db.session.commit()
    limited = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "WTF_CSRF_ENABLED": False,
                          "RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "memory://",
                          "SECRET_KEY": "test-secret-key"})
    try:
        client = limited.test_client()
        statuses = []
        for number in range(22):
            response = client.post("/login/center", data={"username": f"guess{number}", "password": "Wrong2026x"},
                                   environ_base={"REMOTE_ADDR": "203.0.113.9"})
            statuses.append(response.status_code)
        assert statuses[:20] == [200] * 20
        assert statuses[20:] == [429, 429]
        assert "操作过于频繁" in response.get_data(as_text=True)
        other = client.post("/login/center", data={"username": "throttled", "password": TEST_PASSWORD},
                            environ_base={"REMOTE_ADDR": "203.0.113.10"})
        assert other.status_code == 302
    finally:
        with limited.app_context():
            _db.engine.dispose()


@pytest.mark.parametrize("guessable", ["Password1", "Passw0rd2026", "Qwerty123", "abc12345", "Tianjin1"])
def test_common_passwords_are_refused_where_a_person_chooses_one(guessable):
    assert "太容易被猜到" in str(new_password_error(guessable))


def test_passwords_built_from_the_account_are_refused():
    assert new_password_error("harbour2026", ["harbour", "13812345678"])  # the account name and a year
    assert new_password_error("a13812345678", ["harbour", "13812345678"])  # the phone with a letter
    assert new_password_error("Harbour2026q") is None and new_password_error("Xinhe2026reset") is None


def test_change_password_refuses_a_common_password(client, make_user, login, db):
    user = make_user("center", username="common_user")
    login(user)
    response = client.post("/change-password", data={"current_password": TEST_PASSWORD, "new_password": "Password1",
                                                      "confirm": "Password1"})
    assert "太容易被猜到" in response.get_data(as_text=True)
    db.session.refresh(user)
    assert user.check_password(TEST_PASSWORD)
