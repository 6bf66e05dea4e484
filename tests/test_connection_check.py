"""Pooled PostgreSQL connections: one the server closed is replaced at checkout, a live one is kept.

A desk must survive a database restart: the server closing the pooled connection's backend
(as a restart does) must cost the next card read nothing but a new connection.
"""

import time
import uuid

import pytest
from sqlalchemy import create_engine, text

from extensions import db as _db
from models import ReaderToken, now
from tests.conftest import make_id_number

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def server(is_postgres, database_url):
    """A connection of its own to the test database, to act as the server's administrator."""
    if not is_postgres:
        pytest.skip("needs PostgreSQL: the check is of a server's connections")
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture
def one_pooled_connection(db):
    """A pool of one connection, so the next request checks out the connection the test looked at."""
    db.session.close()
    db.engine.dispose()


def pooled_backend_pid():
    """The server process of the pooled connection (returned to the pool afterwards)."""
    pid = _db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    _db.session.commit()
    _db.session.close()
    return pid


def terminate(server, pid):
    with server.connect() as connection:
        assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
        for _ in range(100):
            if not connection.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                                      {"pid": pid}).scalar_one():
                return
            time.sleep(0.02)
    raise AssertionError(f"backend {pid} did not end")


def card_read(client, token):
    return client.post("/api/v1/card-reads", headers={"Authorization": f"Bearer {token}"},
                       json={"read_id": str(uuid.uuid4()), "id_number": make_id_number(), "read_at": now().isoformat()})


def test_a_card_read_after_the_server_closed_the_pooled_connection_is_answered(client, db, server, make_station,
                                                                             one_pooled_connection):
    _, token = ReaderToken.issue(make_station("断线重连接种点"), "入口1号台")
    db.session.commit()
    assert card_read(client, token).status_code == 201
    old_pid = pooled_backend_pid()
    terminate(server, old_pid)
    answer = card_read(client, token)
    assert answer.status_code == 201, answer.get_json()
    assert pooled_backend_pid() != old_pid


def test_a_live_connection_with_something_to_read_is_kept(client, db, server, make_station, one_pooled_connection):
    """A server message waiting on an idle connection (here a notification) is not taken for a goodbye."""
    _, token = ReaderToken.issue(make_station("通知接种点"), "入口1号台")
    db.session.commit()
    db.session.execute(text("LISTEN desk_test"))
    pid = pooled_backend_pid()
    with server.connect() as connection:
        connection.execute(text("NOTIFY desk_test"))
    time.sleep(0.1)
    assert card_read(client, token).status_code == 201
    assert pooled_backend_pid() == pid
    db.session.execute(text("UNLISTEN *"))
    db.session.commit()
