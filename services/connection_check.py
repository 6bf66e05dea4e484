"""Check a pooled PostgreSQL connection before use without a round trip to the server.

pool_pre_ping sends SELECT 1 at every checkout: one more round trip for every request. But a
connection the server has closed while it sat in the pool (a restart, a terminated backend, a
proxy or firewall that cut it) has its socket readable, at the server's goodbye or at EOF,
while a live idle connection has nothing to read: this app does not LISTEN. So a checkout
polls the socket without waiting, and pings only when something is there. A ping that fails
replaces every pooled connection (the server restarted), as pre-ping does; a server that
vanished without closing (a host crash) is seen by the first statement, after which
SQLAlchemy replaces the pool.
"""

import select

from sqlalchemy import event, exc

from extensions import db


def init_connection_check(app):
    with app.app_context():
        engines = [db.engine, app.extensions.get("desk_engine")]  # the card reads' own: services/desk_connection.py
    for engine in filter(None, engines):
        if engine.dialect.name == "postgresql":
            event.listen(engine, "checkout", _checker(engine.dialect))


def _checker(dialect):
    def check_on_checkout(dbapi_connection, connection_record, connection_proxy):
        if dbapi_connection.closed or dbapi_connection.broken:
            raise exc.DisconnectionError("connection closed while pooled")
        if has_pending_input(dbapi_connection.fileno()):
            try:
                dialect.do_ping(dbapi_connection)
            except dialect.loaded_dbapi.Error as error:
                raise exc.InvalidatePoolError(f"connection lost while pooled: {error}") from error

    return check_on_checkout


def has_pending_input(fd):
    """Whether the socket `fd` has data, EOF or an error waiting (poll with no timeout)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))
