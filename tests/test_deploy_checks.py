"""Production start-up checks, /healthz, and the request log (one line per request, no personal data)."""

import logging
import re
import socket
import threading

import pytest
from sqlalchemy import select

from app import create_app as _create_app
from extensions import db as _db
from models import Person
from models.workflow import apply_transition
from services.request_log import scrub
from services.startup_checks import StartupError, code_migration_head, deployment_warnings, secret_key_problem

GOOD_KEY = "0123456789abcdef" * 4
_made = []


def create_app(config=None):
    app = _create_app(config)
    _made.append(app)
    return app


@pytest.fixture(autouse=True)
def dispose_made_apps():
    """Close the pooled connections of the apps a test made."""
    yield
    while _made:
        with _made.pop().app_context():
            _db.engine.dispose()


def production_app(database_url, **settings):
    return create_app({"APP_ENV": "production", "SQLALCHEMY_DATABASE_URI": database_url, **settings})


# ---------------------------------------------------------------- start-up checks

@pytest.mark.parametrize("key", [None, "", "test-secret-key", "changeme", "short-but-random-9f2c"])
def test_production_refuses_a_missing_default_or_short_secret_key(database_url, monkeypatch, key):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(StartupError, match="SECRET_KEY"):
        production_app(database_url, SECRET_KEY=key)


def test_production_refuses_the_key_generated_into_instance(database_url, monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    with pytest.raises(StartupError, match="instance/"):
        create_app({"APP_ENV": "production", "SQLALCHEMY_DATABASE_URI": database_url})
    assert (tmp_path / "secret_key").exists()  # the same set-up starts outside production
    create_app({"SQLALCHEMY_DATABASE_URI": database_url})


def test_production_starts_with_a_key_from_the_environment(database_url, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", GOOD_KEY)
    monkeypatch.setenv("APP_ENV", "production")
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    assert app.config["SECRET_KEY"] == GOOD_KEY
    assert secret_key_problem(GOOD_KEY, "/nonexistent") is None


def test_sqlite_with_several_workers_warns_loudly(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    caplog.set_level(logging.WARNING, logger="binhai.startup")
    production_app("sqlite:///" + str(tmp_path / "x.sqlite3"), SECRET_KEY=GOOD_KEY, REDIS_URL=None)
    warnings = [r.getMessage() for r in caplog.records if r.name == "binhai.startup"]
    assert any("SQLite with 4 server processes" in w for w in warnings)
    assert any("no REDIS_URL" in w for w in warnings)
    assert any("init-db" in w for w in warnings)  # the empty file has no migrations applied


def test_deployment_warnings_are_quiet_for_postgres_and_redis_behind_https():
    config = {"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://db/binhai", "REDIS_URL": "redis://r/0",
              "RATELIMIT_STORAGE_URI": "redis://r/0", "SESSION_COOKIE_SECURE": True}
    assert deployment_warnings(config, workers=8) == []
    assert deployment_warnings({**config, "SQLALCHEMY_DATABASE_URI": "sqlite:///x"}, workers=1) == []
    assert len(deployment_warnings({**config, "RATELIMIT_STORAGE_URI": "memory://"}, workers=2)) == 1


# ---------------------------------------------------------------- /healthz

def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_healthz_reports_database_and_migration(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["database"] == "ok" and body["status"] == "ok"
    assert body["migration_head"] == code_migration_head() and body["migration_head"].startswith("0")
    assert "migration" in body  # None here: the test schema is made by create_all, not migrations


def test_healthz_is_503_when_redis_is_down(app, database_url):
    down = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": f"redis://127.0.0.1:{_closed_port()}/0",
                       "RATELIMIT_STORAGE_URI": "memory://"})
    response = down.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["redis"].startswith("error") and body["database"] == "ok" and body["status"] == "error"


def test_healthz_is_503_when_the_database_is_down():
    down = create_app({"SQLALCHEMY_DATABASE_URI": f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/x"})
    response = down.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"].startswith("error")


# ---------------------------------------------------------------- request log

def request_lines(caplog):
    """This test's request lines: a browser test's served app may still be answering polls in its own thread."""
    return [r.getMessage() for r in caplog.records
            if r.name == "binhai.request" and r.thread == threading.get_ident()]


def test_one_line_per_request_without_the_query_string(client, caplog):
    caplog.set_level(logging.INFO, logger="binhai")
    response = client.get("/login/center?next=/center/&search=120116199001011237&phone=13912345678")
    assert response.status_code == 200
    (line,) = request_lines(caplog)
    assert re.search(r"method=GET path=/login/center status=200 duration_ms=\d+\.\d user=- role=- rid=\w+", line)
    assert "120116199001011237" not in caplog.text and "13912345678" not in caplog.text and "search" not in line
    assert response.headers["X-Request-ID"] in line


def test_a_logged_in_request_names_the_user_and_role(client, login, make_station, make_user, caplog):
    user = make_user("station", make_station())
    login(user)
    caplog.set_level(logging.INFO, logger="binhai")
    client.get("/station/")
    assert any(f"user={user.id} role=station" in line for line in request_lines(caplog))


def test_the_proxy_request_id_is_kept_and_a_strange_one_replaced(client, caplog):
    caplog.set_level(logging.INFO, logger="binhai")
    kept = client.get("/healthz", headers={"X-Request-ID": "nginx-4f1c2a9b77"})
    assert kept.headers["X-Request-ID"] == "nginx-4f1c2a9b77"
    replaced = client.get("/healthz", headers={"X-Request-ID": "x 120116199001011237 forged"})
    assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["X-Request-ID"])
    assert "rid=nginx-4f1c2a9b77" in request_lines(caplog)[0]


def test_id_numbers_in_a_path_are_scrubbed(client, caplog):
    caplog.set_level(logging.INFO, logger="binhai")
    client.get("/no-such-page/120116199001011237/13912345678")
    (line,) = request_lines(caplog)
    assert "path=/no-such-page/[id-number]/[phone] status=404" in line


def test_scrub_blots_out_id_numbers_phones_and_sql_parameters():
    text = ("duplicate key (id_number)=(12011619900101123X) DETAIL: Key (phone)=(13912345678)\n"
            "[parameters: ('张三', '120116199001011237')]\nperson 12345 at port 5432 ts 1700000000123")
    cleaned = scrub(text)
    assert "12011619900101123X" not in cleaned and "13912345678" not in cleaned and "张三" not in cleaned
    assert "person 12345 at port 5432 ts 1700000000123" in cleaned


def test_a_workflow_action_logs_who_and_how_many_but_no_person(db, make_enterprise, make_persons, make_user,
                                                             caplog):
    enterprise = make_enterprise()
    ids = make_persons(enterprise, 3)
    actor = make_user("enterprise", enterprise)
    caplog.set_level(logging.INFO, logger="binhai")
    apply_transition("submit", actor, ids=ids + [999999])
    (line,) = [r.getMessage() for r in caplog.records if r.name == "binhai.workflow"]
    assert f"action=submit user={actor.id} role=enterprise requested=3 changed=3" in line
    numbers = db.session.execute(select(Person.id_number).where(Person.id.in_(ids))).scalars()
    for number in numbers:
        assert number not in caplog.text


def test_the_500_page_shows_the_request_id_that_the_log_has(database_url, caplog):
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "PROPAGATE_EXCEPTIONS": False})

    @app.route("/boom")
    def boom():
        raise RuntimeError("lookup of 120116199001011237 failed")

    caplog.set_level(logging.INFO)
    response = app.test_client().get("/boom?id_number=120116199001011237")  # `id` would be a row id
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    request_id = response.headers["X-Request-ID"]
    assert "系统繁忙" in page and f"请求编号：<code>{request_id}</code>" in page
    error = next(r for r in caplog.records if r.levelno == logging.ERROR)
    assert f"rid={request_id}" in error.getMessage() and "RuntimeError" in error.getMessage()
    assert "120116199001011237" not in caplog.text
    assert "status=500" in request_lines(caplog)[0] and f"rid={request_id}" in request_lines(caplog)[0]


def test_other_message_pages_show_no_request_id(client):
    page = client.get("/no-such-page").get_data(as_text=True)
    assert "页面不存在" in page and "请求编号" not in page


def test_a_request_refused_by_csrf_still_gets_a_request_id(database_url, caplog):
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "WTF_CSRF_ENABLED": True})
    caplog.set_level(logging.INFO, logger="binhai")
    response = app.test_client().post("/login/center", data={"username": "x", "password": "y"})
    assert response.status_code == 400 and "页面已过期" in response.get_data(as_text=True)
    (line,) = request_lines(caplog)
    assert "status=400" in line and f"rid={response.headers['X-Request-ID']} " in line


def test_a_login_still_works_while_the_rate_limit_store_is_down(database_url, make_user, db):
    user = make_user("center")
    db.session.commit()
    down = f"redis://127.0.0.1:{_closed_port()}/0"
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": down, "RATELIMIT_STORAGE_URI": down,
                      "RATELIMIT_ENABLED": True, "WTF_CSRF_ENABLED": False})
    response = app.test_client().post("/login/center", data={"username": user.username, "password": "Passw0rd2026"})
    assert response.status_code == 302  # limits counted in memory meanwhile, not a 500
