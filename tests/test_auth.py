"""Logging in per role: wrong passwords, unknown users, lockout, forced change, role pages."""

from datetime import timedelta

import pytest

from models import User, now
from tests.conftest import TEST_PASSWORD

CONSOLES = ("enterprise", "review", "center", "station", "admin")


@pytest.fixture
def center_user(make_user):
    return make_user("center", username="center01")


def test_login_page_is_in_chinese(client):
    page = client.get("/login/center").get_data(as_text=True)
    assert "防控中心端登录" in page and "密码" in page


def test_unknown_role_login_page_is_404(client):
    assert client.get("/login/nobody").status_code == 404


def test_right_password_lands_in_the_console(client, center_user, db):
    db.session.commit()
    response = client.post("/login/center", data={"username": "center01", "password": TEST_PASSWORD})
    assert response.headers["Location"] == "/center/"
    home = client.get("/center/").get_data(as_text=True)
    assert "申报管理" in home and "企业数" in home


def test_wrong_password_and_unknown_user_get_the_same_message(client, center_user, db):
    db.session.commit()
    wrong = client.post("/login/center", data={"username": "center01", "password": "nope12345"})
    unknown = client.post("/login/center", data={"username": "ghost", "password": "nope12345"})
    assert "账号或密码错误" in wrong.get_data(as_text=True)
    assert "账号或密码错误" in unknown.get_data(as_text=True)
    assert wrong.status_code == unknown.status_code == 200


def test_account_of_another_role_cannot_log_in_here(client, center_user, db):
    db.session.commit()
    response = client.post("/login/station", data={"username": "center01", "password": TEST_PASSWORD})
    assert "账号或密码错误" in response.get_data(as_text=True)


def test_five_failures_lock_the_account_for_fifteen_minutes(client, center_user, db):
    db.session.commit()
    for _ in range(5):
        client.post("/login/center", data={"username": "center01", "password": "wrong-pass1"})
    response = client.post("/login/center", data={"username": "center01", "password": TEST_PASSWORD})
    assert "账号已锁定" in response.get_data(as_text=True)
    user = db.session.execute(db.select(User).filter_by(username="center01")).scalar_one()
    assert user.locked_until > now() + timedelta(minutes=14)
    user.unlock()
    db.session.commit()
    assert client.post("/login/center", data={"username": "center01", "password": TEST_PASSWORD}).status_code == 302


def test_the_fifth_failure_itself_says_the_account_is_locked(client, center_user, db):
    db.session.commit()
    answers = [client.post("/login/center", data={"username": "center01", "password": "wrong-pass1"})
               .get_data(as_text=True) for _ in range(5)]
    assert all("账号或密码错误" in page for page in answers[:4])
    assert "账号已锁定，请15分钟后再试" in answers[4] and "账号或密码错误" not in answers[4]


@pytest.mark.parametrize("username", ["center01", "nobody-here", "retired01"])
def test_an_unknown_or_disabled_name_answers_exactly_like_an_account(client, center_user, make_user, db, username):
    """Same message at every try and the same lock: the login page never tells whether an account exists."""
    make_user("center", username="retired01", active=False)
    db.session.commit()
    answers = []
    for _ in range(6):
        page = client.post("/login/center", data={"username": username, "password": "wrong-pass1"})
        answers.append("locked" if "账号已锁定" in page.get_data(as_text=True) else
                       "wrong" if "账号或密码错误" in page.get_data(as_text=True) else "other")
    assert answers == ["wrong"] * 4 + ["locked"] * 2



    make_user("center", username="old", active=False)
    db.session.commit()
    response = client.post("/login/center", data={"username": "old", "password": TEST_PASSWORD})
    assert "账号或密码错误" in response.get_data(as_text=True)


def test_issued_password_must_be_changed_first(client, make_user, db):
    make_user("center", username="fresh", must_change_password=True)
    db.session.commit()
    response = client.post("/login/center", data={"username": "fresh", "password": TEST_PASSWORD})
    assert response.headers["Location"] == "/change-password"
    assert client.get("/center/").headers["Location"] == "/change-password"
    weak = client.post("/change-password", data={"current_password": TEST_PASSWORD, "new_password": "short",
                                                  "confirm": "short"})
    assert "密码至少8位" in weak.get_data(as_text=True)
    done = client.post("/change-password", data={"current_password": TEST_PASSWORD, "new_password": "Harbour2026q",
                                                  "confirm": "Harbour2026q"})
    assert done.headers["Location"] == "/center/"
    assert client.get("/center/").status_code == 200


def test_enterprise_logs_in_with_credit_code_or_phone(client, make_enterprise, make_user, db):
    enterprise = make_enterprise()
    make_user("enterprise", enterprise, username=enterprise.credit_code, phone="13700001111")
    db.session.commit()
    for login_name in (enterprise.credit_code, enterprise.credit_code.lower(), "13700001111"):
        fresh = client.application.test_client()
        response = fresh.post("/login/enterprise", data={"username": login_name, "password": TEST_PASSWORD})
        assert response.status_code == 302, login_name


@pytest.mark.parametrize("console", CONSOLES)
def test_anonymous_users_are_sent_to_the_login_page(client, console):
    response = client.get(f"/{console}/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"/login/{console}")


@pytest.mark.parametrize("console", CONSOLES)
def test_each_console_refuses_other_roles(app, make_user, login, make_enterprise, make_department, make_station,
                                          console):
    units = {"enterprise": make_enterprise(), "review": make_department(), "station": make_station()}
    for role in CONSOLES:
        client = app.test_client()
        login(make_user(role, units.get(role)), test_client=client)
        expected = 200 if role == console else 403
        assert client.get(f"/{console}/").status_code == expected, (role, console)


def test_logout_ends_the_session(client, center_user, login):
    login(center_user)
    client.post("/logout")
    assert client.get("/center/").status_code == 302
