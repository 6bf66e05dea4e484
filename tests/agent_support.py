"""Helpers for tests that run the reader agent against a served app (the fixtures are in conftest.py)."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def start_agent(token, server_url, tmp_path, *args):
    """The agent as a subprocess, with its log in tmp_path/agent.log; return (process, log path)."""
    log_path = tmp_path / "agent.log"
    command = [sys.executable, "-m", "reader_agent", "--server", server_url, "--queue", str(tmp_path / "queue.sqlite3"),
               "--max-backoff", "0.5", "--timeout", "2", "--device-retry", "0.3", *args]
    env = {**os.environ, "READER_TOKEN": token, "PYTHONPATH": str(REPO)}
    with open(log_path, "w") as log:
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=log), log_path


def stop(process):
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
