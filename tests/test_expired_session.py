"""A form posted after its session ended: the login of the form's console, then the page it was on."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from app import create_app
from extensions import db as _db
from models import Person, User
from public_forms.expired_session import console_of
from tests.conftest import TEST_PASSWORD

EXPIRED = "登录已过期，请重新登录后继续操作"
TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
LIST = "/enterprise/enterprise_persons/?tab=unsubmitted&page=2"


@pytest.fixture
def csrf_app(database_url):
    application = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "WTF_CSRF_ENABLED": True,
                              "RATELIMIT_ENABLED": False, "SECRET_KEY": "expired-session-secret"})
    yield application
    with application.app_context():
        _db.engine.dispose()


@pytest.fixture
def clerk(db, make_enterprise, make_user, make_persons):
    enterprise = make_enterprise("天津临港海通船务有限公司")
    user = make_user("enterprise", enterprise, username="haitong-clerk")
    [person_id] = make_persons(enterprise, 1, name="周海波")
    db.session.commit()
    return {"user": user, "person_id": person_id, "token": enterprise.qr_token,
            "edit": f"/enterprise/enterprise_persons/person/{person_id}/edit"}


def page_token(client, path):
    return TOKEN.search(client.get(path).get_data(as_text=True)).group(1)


def logged_in(csrf_app, role="enterprise", username="haitong-clerk"):
    client = csrf_app.test_client()
    token = page_token(client, f"/login/{role}")
    response = client.post(f"/login/{role}", data={"csrf_token": token, "username": username,
                                                  "password": TEST_PASSWORD})
    assert response.status_code == 302
    return client


def edit_form(clerk, **extra):
    return {"name": "周海涛", "id_number": "", "phone": "13912345670", "category": "企业职工", **extra}


def next_of(response):
    """The `next` of a redirect to a login page (None when it has none)."""
    parts = urlsplit(response.headers["Location"])
    return parts.path, parse_qs(parts.query).get("next", [None])[0]


def name_of(db, clerk):
    db.session.expire_all()
    return db.session.get(Person, clerk["person_id"]).name


@pytest.mark.parametrize("path, role", [
    ("/enterprise/enterprise_persons/action/", "enterprise"), ("/review/", "review"), ("/center/x", "center"),
    ("/station/desk/", "station"), ("/admin/user/", "admin"), ("/e/abc", None), ("/login/center", None),
    ("/enterprisex/", None), ("/", None), ("/api/v1/card-reads", None), ("", None),
])
def test_the_url_prefix_names_the_console(path, role):
    assert console_of(path) == role


def test_a_post_without_a_session_goes_to_the_consoles_login_and_back_to_the_page(csrf_app, clerk, db):
    token = page_token(logged_in(csrf_app), clerk["edit"])
    cookieless = csrf_app.test_client()  # the same browser after it dropped the session cookie
    response = cookieless.post(clerk["edit"], data=edit_form(clerk, csrf_token=token),
                               headers={"Referer": f"http://localhost{LIST}"})
    assert response.status_code == 302 and next_of(response) == ("/login/enterprise", LIST)
    login_page = cookieless.get(response.headers["Location"]).get_data(as_text=True)
    assert EXPIRED in login_page and "企业端登录" in login_page
    landed = cookieless.post(response.headers["Location"], data={
        "csrf_token": TOKEN.search(login_page).group(1), "username": "haitong-clerk", "password": TEST_PASSWORD})
    assert landed.status_code == 302 and landed.headers["Location"] == LIST
    assert name_of(db, clerk) == "周海波"


def test_a_post_after_logging_out_in_another_tab_goes_to_the_login_and_back(csrf_app, clerk, db):
    client = logged_in(csrf_app)
    token = page_token(client, clerk["edit"])
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    response = client.post(clerk["edit"], data=edit_form(clerk, csrf_token=token),
                           headers={"Referer": f"http://localhost{clerk['edit']}"})
    assert response.status_code == 302 and next_of(response) == ("/login/enterprise", clerk["edit"])
    assert name_of(db, clerk) == "周海波"


def test_sessions_ended_by_the_admin_answer_a_post_the_same_way(csrf_app, clerk, db):
    client = logged_in(csrf_app)
    token = page_token(client, clerk["edit"])
    db.session.get(User, clerk["user"].id).end_sessions()
    db.session.commit()
    response = client.post(clerk["edit"], data=edit_form(clerk, csrf_token=token),
                           headers={"Referer": f"http://localhost{clerk['edit']}"})
    assert next_of(response) == ("/login/enterprise", clerk["edit"])


@pytest.mark.parametrize("referrer", [
    None, "http://evil.example/enterprise/enterprise_persons/", "http://localhost/center/",
    "http://localhost//evil.example/enterprise/", "http://localhost/enterprise/\\evil.example",
    "http://localhost/e/abc", "not a url",
])
def test_without_a_page_of_the_same_console_to_return_to_the_login_leads_home(csrf_app, clerk, referrer):
    headers = {"Referer": referrer} if referrer else {}
    response = csrf_app.test_client().post(clerk["edit"], data=edit_form(clerk), headers=headers)
    assert response.status_code == 302 and next_of(response) == ("/login/enterprise", "/enterprise/")


def test_each_console_sends_to_its_own_login(csrf_app, clerk):
    for role, path in (("review", "/review/review_persons/action/"), ("center", "/center/lots/1/freeze"),
                       ("station", "/station/check-in"), ("admin", "/admin/admin_users/action/")):
        response = csrf_app.test_client().post(path, headers={"Referer": f"http://localhost/{role}/x?y=1"})
        assert response.status_code == 302, path
        assert next_of(response) == (f"/login/{role}", f"/{role}/x?y=1")


def test_the_page_script_gets_the_message_and_the_login_address(csrf_app, clerk):
    response = csrf_app.test_client().post("/station/check-in", headers={
        "X-Requested-With": "fetch", "Referer": "http://localhost/station/desk/"})
    assert response.status_code == 401
    assert response.get_json() == {"ok": False, "message": EXPIRED,
                                   "login_url": "/login/station?next=/station/desk/"}


def test_a_bad_token_of_a_logged_in_user_changes_nothing_and_offers_the_page_again(csrf_app, clerk, db):
    client = logged_in(csrf_app)
    response = client.post(clerk["edit"], data=edit_form(clerk, csrf_token="forged.token"),
                           headers={"Referer": f"http://localhost{LIST}"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "页面已过期" in page
    assert f'href="{LIST.replace("&", "&amp;")}"' in page and "重新打开页面" in page
    assert name_of(db, clerk) == "周海波"
    script = client.post(clerk["edit"], headers={"X-Requested-With": "fetch"})
    assert script.status_code == 400 and script.get_json()["message"] == "页面已过期，请刷新页面后再操作一次"


@pytest.mark.parametrize("referrer, back", [
    ("http://localhost/e/{token}", "/e/{token}"), (None, "/e/{token}"), ("http://evil.example/x", "/e/{token}"),
    ("http://localhost/enterprise/", "/e/{token}"), ("http://localhost//evil.example/", "/e/{token}"),
])
def test_a_public_form_without_its_session_offers_the_form_again(csrf_app, clerk, db, referrer, back):
    back = back.format(token=clerk["token"])
    headers = {"Referer": referrer.format(token=clerk["token"])} if referrer else {}
    response = csrf_app.test_client().post(f"/e/{clerk['token']}", data={"name": "孙丽华"}, headers=headers)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "页面已过期" in page and "刚才的提交没有生效" in page
    assert f'href="{back}"' in page and "返回首页" in page
    assert db.session.query(Person).count() == 1


def test_a_get_of_a_console_page_still_comes_back_to_that_page_after_login(csrf_app, clerk):
    response = csrf_app.test_client().get(LIST)
    assert next_of(response) == ("/login/enterprise", LIST)


def test_a_post_only_public_address_without_a_referer_leads_home(csrf_app, clerk):
    response = csrf_app.test_client().post("/register/code", data={"phone": "13912345670"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and 'href="/"' in page and "返回首页" in page and ">重新打开页面</a>" not in page
