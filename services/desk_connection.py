"""The card reads' own connections to PostgreSQL: an autocommit pool of their own (bind `desk`).

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

from sqlalchemy import event

from extensions import db

DESK_BIND = "desk"
DESK_POOL = {"isolation_level": "AUTOCOMMIT", "pool_size": 2, "max_overflow": 8, "pool_use_lifo": True}


def configure_desk_bind(config):
    """Add the desk bind to SQLALCHEMY_BINDS when the database is PostgreSQL (before db.init_app)."""
    url = str(config.get("SQLALCHEMY_DATABASE_URI") or "")
    if not url.startswith("postgresql"):
        return
    config["SQLALCHEMY_BINDS"] = {**(config.get("SQLALCHEMY_BINDS") or {}), DESK_BIND: {"url": url, **DESK_POOL}}


def dispose_with_the_apps_engine(app):
    """Close the desk pool whenever the app's engine is disposed (before a fork, a restore, a test's end)."""
    with app.app_context():
        engines = db.engines
        main, desk = engines[None], engines.get(DESK_BIND)
    if desk is not None:
        event.listen(main, "engine_disposed", lambda _engine: desk.dispose())


def desk_engine():
    """The desk pool's engine, or None where there is none (SQLite)."""
    return db.engines.get(DESK_BIND)


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
