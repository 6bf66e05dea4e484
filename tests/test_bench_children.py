"""A benchmark stopped by TERM (a timeout, CI, kill) leaves no fake gateway behind."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOLD_THE_GATEWAY = """
import os, sys, time
from bench.__main__ import unwind_on_term
from bench.ops_queue import _gateway_process
unwind_on_term()
with _gateway_process():
    children = [int(pid) for pid in open(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read().split()]
    print(children[0], flush=True)
    time.sleep(60)
"""


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


def test_term_stops_the_fake_gateway_the_benchmark_started():
    bench = subprocess.Popen([sys.executable, "-c", HOLD_THE_GATEWAY], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    gateway = int(bench.stdout.readline())
    assert alive(gateway)
    bench.send_signal(signal.SIGTERM)
    assert bench.wait(timeout=20) == 128 + signal.SIGTERM
    deadline = time.monotonic() + 10
    while alive(gateway) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(gateway), "the fake gateway outlived the benchmark"
