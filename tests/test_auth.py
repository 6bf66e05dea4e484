"""Logging in per role: wrong passwords, unknown users, lockout, forced change, role pages."""

import re
from datetime import timedelta

import pytest

from models import AuditEvent, User, now
from tests.conftest import TEST_PASSWORD

CONSOLES = ("enterprise", "review", "center", "station", "admin")
WRONG = "账号或密码错误"
LOCKED = "账号已锁定，请15分钟后再试，或联系管理员解锁"


def alert(response):
    """The text of the login page's error message."""
    found = re.search(r'class="alert alert-danger" role="alert">([^<]*)<', response.get_data(as_text=True))
    return found.group(1) if found else None


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
    client.post("/login/station", data={"username": "center01", "password": TEST_PASSWORD})
    assert client.get("/center/").status_code == 302 and client.get("/station/").status_code == 302


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
    """Same words at every try, countdown and lock included: the login page never tells whether an account exists."""
    make_user("center", username="retired01", active=False)
    db.session.commit()
    answers = [alert(client.post("/login/center", data={"username": username, "password": "wrong-pass1"}))
               for _ in range(6)]
    assert answers == [WRONG] * 2 + [f"{WRONG}，还可尝试2次", f"{WRONG}，还可尝试1次"] + [LOCKED] * 2


def test_disabled_account_cannot_log_in(client, make_user, db):
    make_user("center", username="old", active=False)
    db.session.commit()
    response = client.post("/login/center", data={"username": "old", "password": TEST_PASSWORD})
    assert alert(response) == WRONG


def test_failures_of_long_ago_do_not_shorten_the_countdown(client, center_user, db):
    center_user.failed_logins, center_user.failures_since = 4, now() - timedelta(minutes=16)
    db.session.commit()
    assert alert(client.post("/login/center", data={"username": "center01", "password": "wrong-pass1"})) == WRONG
    assert db.session.get(User, center_user.id).failed_logins == 1


# ---------------------------------------------------------------- an account at another console's entry

@pytest.fixture
def accounts_of_each_console(make_user, make_enterprise, make_department, make_station, db):
    enterprise = make_enterprise()
    accounts = {
        "enterprise": make_user("enterprise", enterprise, username=enterprise.credit_code, phone="13700002222"),
        "review": make_user("review", make_department(), username="review-entry"),
        "center": make_user("center", username="center-entry"),
        "station": make_user("station", make_station(), username="station-entry"),
        "admin": make_user("admin", username="admin-entry"),
    }
    db.session.commit()
    return accounts


@pytest.mark.parametrize(("tile", "owner", "label"), [
    ("enterprise", "review", "审核部门端"), ("station", "center", "防控中心端"),
    ("review", "enterprise", "企业端"), ("center", "admin", "系统管理"), ("enterprise", "station", "接种站端"),
])
def test_the_right_password_at_another_entry_names_the_accounts_entry(client, accounts_of_each_console, db,
                                                                      tile, owner, label):
    account = accounts_of_each_console[owner]
    for _ in range(6):  # not a failure: never locks
        page = client.post(f"/login/{tile}", data={"username": account.username, "password": TEST_PASSWORD})
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert f"该账号属于{label}，请从「{label}」入口登录" in text
        assert f'href="/login/{owner}">前往{label}登录</a>' in text
    assert db.session.get(User, account.id).failed_logins == 0
    assert not db.session.execute(db.select(AuditEvent).filter_by(action="login_failed")).first()
    assert client.get(f"/{owner}/").status_code == 302  # pointed to, not logged in
    own_page = client.get(f"/login/{owner}").get_data(as_text=True)
    assert f'value="{account.username}"' in own_page  # the name is filled in at the account's entry
    assert client.post(f"/login/{owner}", data={"username": account.username, "password": TEST_PASSWORD}
                       ).headers["Location"] == f"/{owner}/"


def test_an_enterprise_typing_its_phone_at_the_review_entry_is_pointed_to_its_own(client, accounts_of_each_console):
    page = client.post("/login/review", data={"username": "13700002222", "password": TEST_PASSWORD})
    assert "该账号属于企业端，请从「企业端」入口登录" in page.get_data(as_text=True)


def test_a_wrong_password_at_another_entry_answers_like_a_name_nobody_has(client, accounts_of_each_console, db):
    def answers(username):
        return [alert(client.post("/login/enterprise", data={"username": username, "password": "wrong-pass1"}))
                for _ in range(6)]

    assert answers("review-entry") == answers("nobody-entry")
    assert db.session.get(User, accounts_of_each_console["review"].id).is_locked()


def test_guesses_at_every_entry_count_for_the_account_and_the_name_alike(client, accounts_of_each_console, db):
    """Three wrong at the account's own entry, then at another one: the same words as for a name nobody has."""
    def answers(username):
        tiles = ("review", "review", "review", "enterprise", "center", "station")
        return [alert(client.post(f"/login/{tile}", data={"username": username, "password": "wrong-pass1"}))
                for tile in tiles]

    assert answers("review-entry") == answers("nobody-entry") == [
        WRONG, WRONG, f"{WRONG}，还可尝试2次", f"{WRONG}，还可尝试1次", LOCKED, LOCKED]
    review = db.session.get(User, accounts_of_each_console["review"].id)
    assert review.is_locked()
    db.session.commit()
    page = client.post("/login/review", data={"username": "review-entry", "password": TEST_PASSWORD})
    assert alert(page) == LOCKED


@pytest.mark.parametrize("state", ["locked", "disabled"])
def test_a_locked_or_disabled_account_of_another_entry_is_not_pointed_to(client, accounts_of_each_console, db, state):
    """The right password of a locked account is not confirmed anywhere: no guessing past the lock."""
    review = accounts_of_each_console["review"]
    if state == "locked":
        review.locked_until = now() + timedelta(minutes=10)
    else:
        review.active = False
    db.session.commit()
    page = client.post("/login/enterprise", data={"username": "review-entry", "password": TEST_PASSWORD})
    assert alert(page) == WRONG


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
