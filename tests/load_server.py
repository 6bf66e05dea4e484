"""gunicorn (2 workers) on a fresh PostgreSQL database, for the load and fault tests.

Like tests/test_deploy_gunicorn.py: a database `ld_<uuid>` migrated by `flask init-db`,
a little demo data, gunicorn from gunicorn.conf.py on a free 127.0.0.1 port in production
mode, and a tiny HTTP client that keeps cookies and reads CSRF tokens. The database is
dropped at the end whatever happens.
"""

import contextlib
import http.client
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from config import normalise_database_url

REPO = Path(__file__).resolve().parent.parent
# Any form the app takes (postgresql://, postgres://, postgresql+psycopg://), as config reads DATABASE_URL.
POSTGRES_URL = normalise_database_url(os.environ.get("TEST_DATABASE_URL") or "")
IN_CI = os.environ.get("CI", "").lower() == "true"
CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli(env, *args):
    result = subprocess.run([str(REPO / ".venv/bin/flask"), "--app", "app", *args], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def postgres_or_skip():
    if not POSTGRES_URL:
        pytest.skip("needs PostgreSQL: runs in the PostgreSQL pass")
    return make_url(POSTGRES_URL.split("?")[0])


@contextlib.contextmanager
def fresh_database():
    """Create a database of its own; yield (sqlalchemy URL of it, the same as a string for the app)."""
    base = postgres_or_skip()
    name = "ld_" + uuid.uuid4().hex[:12]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = base.set(database=name)
        yield url, url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Server:
    def __init__(self, port, process, log_path):
        self.port, self.process, self.log_path = port, process, log_path

    def log(self):
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def gunicorn(database_url, tmp_path, **env_overrides):
    """Run gunicorn on `database_url` (plain postgresql://) until the block ends."""
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "PYTEST_CURRENT_TEST")}
    port = free_port()
    env.update(DATABASE_URL=database_url, SECRET_KEY=secrets.token_hex(32), INSTANCE_PATH=str(tmp_path / "instance"),
               WEB_CONCURRENCY="2", GUNICORN_THREADS="16", LOG_LEVEL="WARNING", APP_ENV="production",
               PORT=str(port), RATELIMIT_STORAGE_URI="memory://")
    env.pop("REDIS_URL", None)
    env.update(env_overrides)
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen([str(REPO / ".venv/bin/gunicorn"), "-c", "gunicorn.conf.py"], cwd=REPO, env=env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        server = Server(port, process, log_path)
        try:
            deadline = time.monotonic() + 60
            while True:
                probe = Client(server, timeout=5)
                try:
                    if probe.request("GET", "/healthz")[0] == 200:
                        break
                except OSError:
                    pass
                finally:
                    probe.close()
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("gunicorn did not come up:\n" + server.log()[-3000:])
                time.sleep(0.3)
            yield server
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)


class Client:
    """One browser: cookies across requests, no redirects followed, one connection kept open."""

    def __init__(self, server, timeout=30):
        self.server, self.cookies, self.timeout, self.connection = server, {}, timeout, None

    def request(self, method, path, form=None):
        headers = {"Connection": "keep-alive"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in range(2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=self.timeout)
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                data = response.read().decode(errors="replace")
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A keep-alive connection the server closed meanwhile: once more on a new one.
                self.close()
                if attempt:
                    raise
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";")[0]
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        return response.status, dict(response.getheaders()), data

    def csrf_token(self, path):
        status, _, page = self.request("GET", path)
        assert status == 200, status
        return CSRF.search(page).group(1)

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def qr_token_of_an_enterprise(engine_url):
    engine = create_engine(engine_url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT qr_token FROM enterprise ORDER BY id LIMIT 1")).scalar_one()
    finally:
        engine.dispose()
