"""The benchmark's own database: a PostgreSQL database bench_<n> or a SQLite file, and an app on it."""

import os
import re
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.harness import RESULTS_DIR

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SAFE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class BenchDatabase:
    """Where the dataset lives; `create()` makes it empty, `drop()` removes it."""

    def __init__(self, engine, persons, name=None, server_url=None, directory=None):
        self.engine_name = engine
        self.name = name or f"bench_{persons}"
        if not SAFE_NAME.match(self.name):
            raise SystemExit(f"database name must match {SAFE_NAME.pattern}: {self.name}")
        self.server_url = server_url or os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
        self.directory = Path(directory or RESULTS_DIR)

    @property
    def is_postgres(self):
        return self.engine_name == "postgresql"

    @property
    def path(self):
        return self.directory / f"{self.name}.sqlite3"

    @property
    def url(self):
        if self.is_postgres:
            return make_url(self.server_url).set(database=self.name).render_as_string(hide_password=False)
        return f"sqlite:///{self.path}"

    def exists(self):
        if not self.is_postgres:
            return self.path.exists()
        with self._server() as connection:
            return connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": self.name}).first()

    def create(self):
        """Make an empty database, dropping an old one of the same name."""
        self.drop()
        if self.is_postgres:
            with self._server() as connection:
                connection.execute(text(f'CREATE DATABASE "{self.name}"'))
        else:
            self.directory.mkdir(parents=True, exist_ok=True)

    def drop(self):
        if self.is_postgres:
            with self._server() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        else:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def version(self):
        engine = create_engine(self.url)
        try:
            with engine.connect() as connection:
                if self.is_postgres:
                    return connection.execute(text("SHOW server_version")).scalar().split()[0].join(
                        ("PostgreSQL ", ""))
                return "SQLite " + connection.execute(text("SELECT sqlite_version()")).scalar()
        finally:
            engine.dispose()

    def _server(self):
        engine = create_engine(self.server_url, isolation_level="AUTOCOMMIT")
        return _DisposingConnection(engine)


class _DisposingConnection:
    def __init__(self, engine):
        self.engine = engine

    def __enter__(self):
        self.connection = self.engine.connect()
        return self.connection

    def __exit__(self, *exc):
        self.connection.close()
        self.engine.dispose()


def bench_app(url, **overrides):
    """The real application on the benchmark database (CSRF and rate limits as asked)."""
    from app import create_app

    config = {
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": "bench-secret-key",
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "PUBLIC_BASE_URL": "http://127.0.0.1",
        "LOG_LEVEL": "WARNING",
    }
    config.update(overrides)
    return create_app(config)
