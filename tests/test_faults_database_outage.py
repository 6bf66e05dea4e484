"""PostgreSQL goes away for 3 seconds under a stream of employee-form submissions, then comes back.

gunicorn reaches the database through a small TCP proxy on 127.0.0.1 that the test cuts
(every open connection is closed, new ones are closed at once) and restores. While it is
down a submission gets the 系统繁忙 page (a 5xx, not a hang); afterwards the app serves
again by itself (the check at checkout, services/connection_check.py, replaces the dead
connections), and every submission that was answered with success is in the database.
PostgreSQL pass only.
"""

import contextlib
import os
import socket
import threading
import time

import pytest
from sqlalchemy import create_engine, text

from tests.load_server import Client, cli, fresh_database, gunicorn, postgres_or_skip, qr_token_of_an_enterprise
from tests.test_load_employee_form import id_numbers

pytestmark = [pytest.mark.slow, pytest.mark.postgres_only]
BUSY = "系统繁忙，请稍后再试。"


class CuttableProxy:
    """Forward 127.0.0.1:<port> to the database; cut() drops every connection until restore()."""

    def __init__(self, upstream_host, upstream_port):
        self.upstream = (upstream_host, upstream_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.down = threading.Event()
        self.stopped = threading.Event()
        self.lock = threading.Lock()
        self.open_sockets = set()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.down.is_set():
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.open_sockets.update((client, server))
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source, target):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                self._close(sock)

    def _close(self, sock):
        with self.lock:
            self.open_sockets.discard(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def cut(self):
        self.down.set()
        with self.lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            self._close(sock)

    def restore(self):
        self.down.clear()

    def close(self):
        self.stopped.set()
        self.cut()
        self.listener.close()


def test_a_three_second_database_outage_gives_a_clear_error_and_loses_no_answered_submission(tmp_path):
    base = postgres_or_skip()
    with fresh_database() as (engine_url, app_url):
        env = {**os.environ, "DATABASE_URL": app_url, "INSTANCE_PATH": str(tmp_path / "cli"), "TEST_DATABASE_URL": ""}
        cli(env, "init-db")
        cli(env, "seed-demo", "--enterprises", "1", "--persons", "5")
        token = qr_token_of_an_enterprise(engine_url)
        proxy = CuttableProxy(base.host or "127.0.0.1", base.port or 5432)
        proxied_url = engine_url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        assert proxied_url != app_url
        numbers = iter(id_numbers(2000, seed=23))
        answered, failures, hung = [], [], []
        try:
            with gunicorn(proxied_url, tmp_path, EMPLOYEE_FORM_RATE_LIMIT="1000000 per minute") as server:
                client = Client(server, timeout=20)
                csrf = client.csrf_token(f"/e/{token}")

                def submit():
                    number = next(numbers)
                    form = {"csrf_token": csrf, "name": "断库员工", "id_number": number, "phone": "13800138000",
                            "category": "企业职工", "lives_in_binhai": "1", "community": "断库小区", "consent": "1"}
                    started = time.monotonic()
                    try:
                        status, _, page = client.request("POST", f"/e/{token}", form)
                    except OSError as error:  # a timeout: the request hung
                        hung.append((number, repr(error)))
                        client.close()
                        return None
                    if time.monotonic() - started > 10:
                        hung.append((number, time.monotonic() - started))
                    if status == 302:
                        answered.append(number)
                    else:
                        failures.append((status, BUSY in page, page[:200]))
                    return status

                for _ in range(20):  # the database is up: all go through
                    assert submit() == 302
                proxy.cut()
                cut_at = time.monotonic()
                statuses_while_down = []
                while time.monotonic() - cut_at < 3:
                    statuses_while_down.append(submit())
                proxy.restore()
                recovered_after = None
                restored_at = time.monotonic()
                while time.monotonic() - restored_at < 30:
                    if submit() == 302:
                        recovered_after = time.monotonic() - restored_at
                        break
                for _ in range(20):
                    assert submit() == 302
                client.close()
        finally:
            proxy.close()
        engine = create_engine(engine_url)
        with engine.connect() as connection:
            stored = set(connection.execute(text("SELECT id_number FROM person WHERE name = '断库员工'")).scalars())
        engine.dispose()
    print(f"\noutage: {len(statuses_while_down)} submissions while down ({sorted(set(statuses_while_down))}), "
          f"recovered {recovered_after:.2f} s after restore, {len(answered)} answered 302, {len(stored)} stored")
    assert not hung, hung
    assert statuses_while_down and all(status is not None and status >= 500 for status in statuses_while_down)
    assert all(busy for status, busy, _ in failures), failures
    assert recovered_after is not None and recovered_after < 10
    assert set(answered) <= stored
