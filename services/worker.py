"""The worker process: `flask --app app worker` runs the Huey consumer (services/tasks.py).

`make run` starts it through `python -m services.worker run-beside …`: the worker is
started first, then the launcher becomes the web server (exec, same pid), and the worker
stops when that process ends, however it ends (the kernel's parent-death signal, and a
check of the parent's pid as a second line), so no worker outlives the server.
"""

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time

import click
from flask import current_app

PR_SET_PDEATHSIG = 1


@click.command("worker")
@click.option("--threads", type=int, default=None, help="Worker threads (WORKER_THREADS, default 2).")
@click.option("--beside-parent", is_flag=True, help="Stop when the process that started this one ends.")
def worker_command(threads, beside_parent):
    """Run the task queue's worker: SMS delivery, reminders, scheduled clean-ups."""
    from services import tasks

    app = current_app._get_current_object()
    tasks.bind_app(app)
    if beside_parent:
        _stop_when_parent_ends(os.getppid())
    consumer = tasks.huey.create_consumer(
        workers=threads or app.config.get("WORKER_THREADS", 2), worker_type="thread", periodic=True,
        check_worker_health=True, scheduler_interval=1, initial_delay=0.1, max_delay=1.0)
    consumer.run()


def _stop_when_parent_ends(parent_pid):
    def watch():
        while os.getppid() == parent_pid:
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _die_with_parent():
    """In the child before exec: ask Linux to send SIGTERM when the parent process ends."""
    with contextlib.suppress(OSError):  # not Linux: the parent-pid check in the worker still stops it
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def run_beside(server_command):
    """Start the worker as a child, then replace this process by the web server."""
    flask = [sys.executable, "-m", "flask", "--app", "app", "worker", "--beside-parent"]
    subprocess.Popen(flask, preexec_fn=_die_with_parent)  # noqa: S603 - our own command line
    os.execvp(server_command[0], server_command)


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] != "run-beside":
        sys.exit("usage: python -m services.worker run-beside COMMAND [ARGS…]")
    run_beside(sys.argv[2:])
