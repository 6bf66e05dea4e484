"""Every `next` / return address stays on this site, whatever whitespace or backslashes it carries."""

from urllib.parse import urlsplit

import pytest

from models import Territory
from services.safe_redirect import local_path
from tests.conftest import TEST_PASSWORD

TRICKS = [
    "//evil.example/", "https://evil.example/", " /\\evil.example", "/\\evil.example", "/\t/evil.example",
    "/\n/evil.example", "/\r\n/evil.example", "\t//evil.example", "/%09/evil.example\\", "/\x00/evil.example",
    "/\u3000/evil.example", "javascript:alert(1)", "/center/\t/evil.example", "/center\\..\\\\evil.example",
]


def stays_here(response):
    """The browser goes to a path of this site: no host, even after it drops whitespace and flips backslashes."""
    if response.status_code == 400 and "Location" not in response.headers:
        return True  # the input gate refused a control character: no redirect at all
    location = response.headers.get("Location", "")
    cleaned = "".join(char for char in location if char > " " and char != "\x7f").replace("\\", "/")
    parts = urlsplit(cleaned)
    return response.status_code in (301, 302, 303) and not parts.scheme and not parts.netloc \
        and cleaned.startswith("/") and not cleaned.startswith("//")


@pytest.mark.parametrize("target", TRICKS)
def test_the_helper_takes_no_trick(target):
    assert local_path(target) is None


def test_the_helper_keeps_paths_of_this_site():
    assert local_path("/center/appointments/?tab=waiting&page=2") == "/center/appointments/?tab=waiting&page=2"
    assert local_path("/center/x", prefix="/center/") == "/center/x"
    assert local_path("/review/x", prefix="/center/") is None


@pytest.mark.parametrize("target", TRICKS)
def test_login_next_stays_on_the_site(client, make_user, db, target):
    make_user("center", username="redirect_center")
    db.session.commit()
    response = client.post("/login/center", query_string={"next": target},
                           data={"username": "redirect_center", "password": TEST_PASSWORD})
    assert stays_here(response), response.headers.get("Location")


@pytest.mark.parametrize("target", TRICKS)
def test_center_cancellation_next_stays_on_the_site(client, make_user, login, target):
    login(make_user("center", username="redirect_center2"))
    response = client.post("/center/appointments/cancel", data={"next": target, "reason": "调整", "scope": "ticked"})
    assert stays_here(response), response.headers.get("Location")


@pytest.mark.parametrize("target", TRICKS)
def test_console_return_url_stays_on_the_site(client, make_user, login, db, target):
    territory = Territory(name="跳转测试街道")
    db.session.add(territory)
    login(make_user("admin", username="redirect_admin"))
    response = client.post(f"/admin/admin_territories/edit/?id={territory.id}&url={target}",
                           data={"name": "跳转测试街道", "sort_order": "0"})
    assert stays_here(response), response.headers.get("Location")


def test_a_local_next_is_still_followed(client, make_user, login):
    login(make_user("center", username="redirect_center3"))
    response = client.post("/center/appointments/cancel",
                           data={"next": "/center/appointments/?tab=appointed", "reason": "调整", "scope": "ticked"})
    assert response.headers["Location"] == "/center/appointments/?tab=appointed"
