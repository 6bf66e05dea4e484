"""The card reads' own connections to PostgreSQL: an autocommit pool of their own (app.extensions["desk_engine"]).

A card read is two statements, its desk's whole budget a few milliseconds, and psycopg keeps
the read's statements prepared on a connection only until that connection next rolls a
transaction back: the pool does so whenever any page that read something hands its
connection back, so on a server that also serves pages the read's large SELECT was planned
again on most reads, which costs more than running it. The reader API reads and writes through
a small pool of its own, in autocommit (no BEGIN, no COMMIT, no ROLLBACK): its statements stay
prepared, and its connections never change isolation level per request. SQLite has no such
cache: there the read runs on the request's session, each statement committing on its own.
"""

from contextlib import contextmanager

from flask import current_app
from sqlalchemy import create_engine, event

from extensions import db

# Its own engine, not an SQLALCHEMY_BINDS entry: a bind adds a metadata to the shared `db` that
# every other app (on SQLite, without the bind) would then be asked to create and drop.
DESK_POOL = {"isolation_level": "AUTOCOMMIT", "pool_size": 2, "max_overflow": 8, "pool_use_lifo": True}


def init_desk_engine(app):
    """Give a PostgreSQL app the desk pool, disposed whenever the app's engine is (a fork, a restore, a test)."""
    with app.app_context():
        main = db.engine
    if main.dialect.name != "postgresql":
        return
    desk = create_engine(main.url, **{**app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}), **DESK_POOL})
    app.extensions["desk_engine"] = desk
    event.listen(main, "engine_disposed", lambda _engine: desk.dispose())


def desk_engine():
    """The desk pool's engine, or None where there is none (SQLite)."""
    return current_app.extensions.get("desk_engine")


@contextmanager
def desk_connection():
    """A connection whose every statement commits on its own: the desk pool's, else the session's."""
    engine = desk_engine()
    if engine is None:
        if not db.session().in_transaction():
            db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield db.session.connection()
        return
    with engine.connect() as connection:
        yield connection
