"""Fixtures: the app on SQLite or PostgreSQL, a client, a login helper, and factories.

The suite runs once per database: without TEST_DATABASE_URL on a SQLite file, with it
on PostgreSQL in a schema of its own that is dropped at the end. With CI=true an
unreachable PostgreSQL fails the run instead of skipping.
"""

import itertools
import os
import random
import re
import uuid
from datetime import date, datetime, timedelta

import pytest
from flask import g, has_request_context, request
from sqlalchemy import create_engine, event, exists, insert, select, text
from sqlalchemy.orm import Session

from app import create_app
from extensions import db as _db
from models import (
    AppointmentSlot,
    Enterprise,
    Person,
    ReviewDepartment,
    Station,
    Territory,
    User,
)
from models.demo import make_credit_code
from models.identity import age_on, id_check_char
from models.options import seed_default_options
from models.org import INDUSTRY

# The security tests' district (`world`, `clients`); a module with a `world` of its own overrides it.
pytest_plugins = ("tests.security_world",)

TEST_PASSWORD = "Passw0rd2026"
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _postgres_schema_url(base_url):
    """Create a fresh schema for this run; return (url using it, drop callback)."""
    from config import normalise_database_url

    url = normalise_database_url(base_url)
    schema = "t_" + uuid.uuid4().hex[:12]
    try:
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as error:  # noqa: BLE001 - reported below
        if IN_CI:
            pytest.exit(f"PostgreSQL at {base_url} unreachable in CI: {error}", returncode=1)
        pytest.skip(f"PostgreSQL unreachable, skipping: {error}", allow_module_level=True)
    separator = "&" if "?" in url else "?"
    schema_url = f"{url}{separator}options=-csearch_path%3D{schema}"

    def drop():
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()

    return schema_url, drop


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    if POSTGRES_URL:
        url, drop = _postgres_schema_url(POSTGRES_URL)
        yield url
        drop()
    else:
        yield "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite3")


@pytest.fixture(scope="session")
def is_postgres(database_url):
    return database_url.startswith("postgresql")


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    os.environ.setdefault("INSTANCE_PATH", str(tmp_path_factory.mktemp("instance")))
    application = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "SECRET_KEY": "test-secret-key",
        "PUBLIC_BASE_URL": "http://vaccine.example.test",
    })
    # Test code and the requests it makes share one app context per test; a real
    # request would start with an empty `g`, so forget the user cached there.
    @application.before_request
    def forget_cached_user():
        g.pop("_login_user", None)

    watch_commits_per_request(application)

    with application.app_context():
        _db.create_all()
    yield application
    with application.app_context():
        _db.drop_all()
        _db.engine.dispose()


COMMITS_PER_REQUEST = []


def watch_commits_per_request(application):
    """Record every request that commits more than once: a request commits once, at its edge,
    so that a failure half-way leaves nothing half-written (operations only flush)."""
    @application.before_request
    def start_counting():
        g.commits_in_request = 0


@event.listens_for(Session, "after_commit")
def _count_commit_in_request(session):
    if has_request_context() and "commits_in_request" in g:
        g.commits_in_request += 1
        if g.commits_in_request == 2:
            COMMITS_PER_REQUEST.append(f"{request.method} {request.path} ({request.endpoint})")


@pytest.fixture(autouse=True)
def one_commit_per_request():
    COMMITS_PER_REQUEST.clear()
    yield
    assert not COMMITS_PER_REQUEST, f"requests that committed more than once: {COMMITS_PER_REQUEST}"


@pytest.fixture(autouse=True)
def db(app):
    """Give each test an empty database (default option lists included) in its own app context."""
    with app.app_context():
        seed_default_options()
        _db.session.commit()
        yield _db
        _db.session.rollback()
        _db.session.remove()
        empty_every_table()


def empty_every_table():
    """Delete the rows of every table that has any, dependents first: one SELECT asks which have rows
    (a test leaves a handful of the sixty tables with rows; a DELETE per table cost more than most tests)."""
    tables = list(reversed(_db.metadata.sorted_tables))
    with _db.engine.begin() as connection:
        has_rows = connection.execute(select(*(exists().select_from(t).label(f"t{i}")
                                               for i, t in enumerate(tables)))).one()
        for table, filled in zip(tables, has_rows):
            if filled:
                connection.execute(table.delete())


@pytest.fixture(autouse=True)
def limiter_follows_the_test_app(app):
    """Tests that build their own app with rate limits on switch the one shared Limiter on: switch it back."""
    yield
    from extensions import limiter

    limiter.enabled = app.config["RATELIMIT_ENABLED"]


@pytest.fixture(autouse=True)
def no_login_failures_of_other_tests(app):
    """Names count their login failures in the app's rate-limit storage, which outlives a test: empty it."""
    yield
    counter = app.extensions.get("login_failure_counter")
    if counter is not None:
        counter.storage.reset()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def password_hash():
    user = User()
    user.set_password(TEST_PASSWORD)
    return user.password_hash


# ---------------------------------------------------------------- factories

_counter = itertools.count(1)


@pytest.fixture
def make_territory(db):
    def make(name=None):
        row = Territory(name=name or f"测试街道{next(_counter)}")
        db.session.add(row)
        db.session.flush()
        return row
    return make


@pytest.fixture
def make_department(db):
    def make(name=None, parent=None, dimension=INDUSTRY):
        row = ReviewDepartment(name=name or f"测试部门{next(_counter)}", parent=parent, dimension=dimension)
        db.session.add(row)
        db.session.flush()
        return row
    return make


@pytest.fixture
def make_enterprise(db, make_department, make_territory):
    rng = random.Random(7)

    def make(name=None, department=None, territory=None, parent=None):
        row = Enterprise(
            name=name or f"测试企业{next(_counter)}有限公司", credit_code=make_credit_code(rng),
            department=department or make_department(), territory=territory or make_territory(),
            parent=parent, address="滨海新区测试路1号", contact_name="张三", phone="13800138000",
        )
        db.session.add(row)
        db.session.flush()
        return row
    return make


@pytest.fixture
def make_station(db, make_territory):
    def make(name=None, territory=None):
        row = Station(name=name or f"测试接种点{next(_counter)}", address="滨海新区",
                      territory=territory or make_territory(),
                      default_vaccine_product="新冠病毒灭活疫苗(Vero细胞)", default_vaccine_lot="LOT1")
        db.session.add(row)
        db.session.flush()
        return row
    return make


@pytest.fixture
def make_slot(db):
    def make(station, starts_at=None, capacity=10, minutes=90):
        starts_at = starts_at or datetime.combine(date.today() + timedelta(days=1), datetime.min.time()).replace(hour=9)
        row = AppointmentSlot(station=station, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=minutes),
                              capacity=capacity, booked=0)
        db.session.add(row)
        db.session.flush()
        return row
    return make


_id_serial = itertools.count(1)


def make_id_number(female=False):
    """A valid, unique resident ID number (birth date varies with a serial)."""
    serial = next(_id_serial)
    born = date(1960, 1, 1) + timedelta(days=serial % 20000)
    sequence = f"{(serial // 20000) % 100:02d}"
    gender_digit = "2" if female else "1"
    first17 = f"120116{born:%Y%m%d}{sequence}{gender_digit}"
    return first17 + id_check_char(first17)


@pytest.fixture
def make_persons(db):
    """Insert `count` persons of an enterprise in `status` with one statement; return their ids."""
    def make(enterprise, count=1, status="registered", station=None, slot=None, **values):
        rows = []
        for _ in range(count):
            number = make_id_number()
            born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
            rows.append({
                "enterprise_id": enterprise.id, "name": "测试人员", "gender": "M", "id_number": number,
                "age": age_on(born, date.today()), "phone": "13912345678", "category": "企业职工",
                "status": status, "station_id": station.id if station else None,
                "slot_id": slot.id if slot else None, "version": 1, **values,
            })
        db.session.execute(insert(Person), rows)
        if slot is not None:
            slot.booked += count
        db.session.flush()
        numbers = [r["id_number"] for r in rows]
        # In id order, the order they were inserted: tests take "the first" as booking would.
        return list(db.session.execute(select(Person.id).where(Person.id_number.in_(numbers))
                                       .order_by(Person.id)).scalars())
    return make


@pytest.fixture
def make_user(db, password_hash):
    def make(role, unit=None, username=None, **values):
        unit_field = {"enterprise": "enterprise", "review": "department", "station": "station"}.get(role)
        row = User(username=username or f"{role}{next(_counter)}", role=role, password_hash=password_hash,
                   display_name=getattr(unit, "name", role), **values)
        if unit_field and unit is not None:
            setattr(row, unit_field, unit)
        db.session.add(row)
        db.session.flush()
        return row
    return make


@pytest.fixture
def login(client, db):
    """Log a user in through the real login page."""
    def do_login(user, password=TEST_PASSWORD, test_client=None):
        db.session.commit()
        active_client = test_client or client
        login_name = user.username
        response = active_client.post(f"/login/{user.role}", data={"username": login_name, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return active_client
    return do_login


# ---------------------------------------------------------------- the reader agent against a served app

@pytest.fixture
def serve(app):
    """Start serving the app on a given port; stopped at the end of the test."""
    import threading

    from werkzeug.serving import make_server

    servers = []

    def start(port):
        server = make_server("127.0.0.1", port, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.shutdown()
        thread.join(5)
        server.server_close()


@pytest.fixture
def reader_token(db, make_station):
    """A reader token of a station desk (the plain value)."""
    from models import ReaderToken

    station = make_station("新河街社区卫生服务中心接种点")
    _, token = ReaderToken.issue(station, "入口1号台")
    db.session.commit()
    return token


def sms_code_sent_to(db, phone, kind=None):
    """The six-digit code of the newest text to `phone` (of `kind`, if given), as its owner reads it; or None."""
    from models.sms import SmsMessage

    db.session.rollback()
    query = select(SmsMessage.body).where(SmsMessage.phone == phone).order_by(SmsMessage.id.desc()).limit(1)
    if kind:
        query = query.where(SmsMessage.kind == kind)
    body = db.session.execute(query).scalar_one_or_none()
    found = re.search(r"验证码(\d{6})", body or "")
    return found.group(1) if found else None
