"""`make run` from the repository serves the portal on the port it is given, with the worker beside it."""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url):
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status, response.read().decode()


@pytest.mark.slow
def test_make_run_serves_the_portal_with_demo_data(tmp_path, database_url):
    if database_url.startswith("postgresql"):
        pytest.skip("make run uses the embedded SQLite default; covered by the SQLite run")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEST_DATABASE_URL")}
    env.update(INSTANCE_PATH=str(tmp_path / "instance"), PORT=str(port))
    log = open(tmp_path / "make-run.log", "w")  # noqa: SIM115 - closed in the finally below
    process = subprocess.Popen(["make", "run", f"PORT={port}"], cwd=REPO, env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 300  # a fresh clone: migrations and the demo seed first, on a busy CI machine
        while True:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/healthz")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail("make run did not serve: " + (tmp_path / "make-run.log").read_text()[-2000:])
                time.sleep(0.5)
        assert status == 200 and '"database":"ok"' in body.replace(" ", "")
        status, portal = _get(f"http://127.0.0.1:{port}/")
        assert status == 200
        for entry in ("企业端", "审核部门端", "防控中心端", "接种站端"):
            assert entry in portal
        assert (tmp_path / "instance" / "binhai.sqlite3").exists()
        assert (tmp_path / "instance" / "secret_key").exists()
        _demo_sms_are_delivered_by_the_worker(tmp_path / "instance" / "binhai.sqlite3", port)
        _the_worker_stops_with_the_web_server(process.pid)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
        log.close()


def _sms_states(database):
    with sqlite3.connect(database, timeout=10) as connection:
        return dict(connection.execute("SELECT status, COUNT(*) FROM sms_message GROUP BY status").fetchall())


def _demo_sms_are_delivered_by_the_worker(database, port):
    deadline = time.monotonic() + 120
    while (states := _sms_states(database)).get("sent", 0) == 0 or set(states) - {"sent"}:
        assert time.monotonic() < deadline, f"demo SMS not delivered: {states}"
        time.sleep(1)
    queue = json.loads(_get(f"http://127.0.0.1:{port}/healthz")[1])["queue"]
    assert queue["reachable"] and queue["backlog"] == 0 and queue["oldest_waiting"] is None


def _processes_in_group(group):
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == group:
                    found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except (OSError, ProcessLookupError):
                continue
    return found


def _the_worker_stops_with_the_web_server(group):
    """However the web server ends (here SIGKILL, which it cannot catch), its worker does not stay behind."""
    processes = _processes_in_group(group)
    server = [pid for pid, line in processes.items() if " run --host" in line and "worker" not in line]
    worker = [pid for pid, line in processes.items() if " worker --beside-parent" in line]
    assert len(server) == 1 and len(worker) == 1, processes
    os.kill(server[0], signal.SIGKILL)
    deadline = time.monotonic() + 15
    while worker[0] in _processes_in_group(group):
        assert time.monotonic() < deadline, "the worker outlived the web server"
        time.sleep(0.2)
