"""Browser tests: the app served on a free port, driven by Debian's Chromium through Playwright.

The served app is a second app object on the same test database as the `app` fixture,
with CSRF protection on, as in production. Screenshots go to test-artifacts/screens/.
"""

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from app import create_app
from extensions import db
from tests.conftest import TEST_PASSWORD, watch_commits_per_request
from tests.e2e.pages import log_in

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screens"


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"Chromium not found at {CHROMIUM}")
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-sync", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update"],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "zh-CN", "accept_downloads": True,
            "viewport": {"width": 1366, "height": 900}}


@pytest.fixture(scope="session")
def served_app(app, database_url):
    """The app with CSRF on, served by a threaded werkzeug server on a free port."""
    browser_app = create_app({
        "TESTING": False,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": True,
        "RATELIMIT_ENABLED": False,
        "SECRET_KEY": "e2e-secret-key",
    })
    watch_commits_per_request(browser_app)
    server = make_server("127.0.0.1", 0, browser_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    browser_app.config["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{server.server_port}"
    yield browser_app
    server.shutdown()
    thread.join(timeout=5)
    with browser_app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def base_url(served_app):
    return served_app.config["PUBLIC_BASE_URL"]


@pytest.fixture
def screenshot():
    """Save a full-page screenshot under test-artifacts/screens/<name>.png."""
    SCREENS.mkdir(parents=True, exist_ok=True)

    def take(page, name):
        path = SCREENS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path
    return take


@pytest.fixture
def phone_page(browser, base_url):
    """A page on a 375-pixel-wide touch phone."""
    context = browser.new_context(viewport={"width": 375, "height": 812}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, locale="zh-CN", base_url=base_url)
    context.set_default_timeout(10000)
    yield context.new_page()
    context.close()


@pytest.fixture
def phone_context(browser, playwright, base_url):
    context = browser.new_context(**playwright.devices["iPhone 13"], locale="zh-CN", accept_downloads=True,
                                  base_url=base_url)
    yield context
    context.close()


@pytest.fixture
def browser_login(base_url):
    """Log in through the login page of a role, as a user would (tests/e2e/pages.log_in on the served app)."""
    def do_login(page, role, username, password=TEST_PASSWORD, landed=False):
        log_in(page, role, username, password, base_url=base_url, landed=landed)
    return do_login


@pytest.fixture
def reader_desk(db, make_station, make_enterprise, make_slot, make_persons, make_user):
    """A station desk with a reader token, a station account and people booked in its open window.

    `reader_desk(username, {key: name, ...})` returns {"token": …, key: Person, …}."""
    from datetime import timedelta

    from models import Person, ReaderToken, now

    def open_desk(username, names):
        station = make_station("新河街社区卫生服务中心接种点")
        slot = make_slot(station, starts_at=now() - timedelta(minutes=15), minutes=90, capacity=30)
        enterprise = make_enterprise("津港船舶服务有限公司")
        people = {key: make_persons(enterprise, 1, status="appointed", station=station, slot=slot, name=name)[0]
                  for key, name in names.items()}
        _, token = ReaderToken.issue(station, "入口1号台")
        make_user("station", station, username=username)
        db.session.commit()
        return {"token": token, **{key: db.session.get(Person, pid) for key, pid in people.items()}}

    return open_desk
