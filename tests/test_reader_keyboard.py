"""Keyboard-wedge readers: evdev key events decoded into ID numbers; stdin lines through an input method.

This machine has no /dev/uinput (the kernel offers no virtual input devices here), so
no virtual keyboard can be created: the decoding is tested against an evtest-format
event sequence (tests/data/wedge_reader.evtest), and the device handling against a
device path that is missing and one that is not an input device.
"""

import io
import logging
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from reader_agent.backends.keyboard import LINE_TIMEOUT, EvdevKeyboardBackend, KeyboardBackend, WedgeDecoder
from tests.test_reader_sam_serial import Running, wait_log

pytest.importorskip("evdev")

REPO = Path(__file__).resolve().parent.parent
CAPTURE = Path(__file__).resolve().parent / "data" / "wedge_reader.evtest"
EVENT = re.compile(r"time (\d+\.\d+), type (\d+) \(\w+\), code (\d+) \(\w+\), value ([0-9a-f-]+)")


def recorded_events():
    """(time, type, code, value) of each event line of the capture; SYN_REPORT lines carry nothing."""
    for line in CAPTURE.read_text().splitlines():
        found = EVENT.search(line)
        if found:
            at, kind, code, value = found.groups()
            yield float(at), int(kind), int(code), int(value, 16) if int(kind) == 4 else int(value)


def test_recorded_key_events_become_the_typed_numbers():
    decoder, lines, last = WedgeDecoder(), [], 0.0
    for at, kind, code, value in recorded_events():
        line = decoder.feed(kind, code, value, at=at)
        if line is not None:
            lines.append(line)
        last = at
    assert decoder.expire(now=last + LINE_TIMEOUT / 2) is None  # still being typed
    lines.append(decoder.expire(now=last + LINE_TIMEOUT))
    assert lines == ["11010519491231002X", "440524188001010014", "11010219840406970X", "110105194912300025",
                     "11010519491231002X"]


def test_releases_repeats_and_scan_codes_type_nothing():
    from evdev import ecodes

    decoder = WedgeDecoder()
    for kind, code, value in ((ecodes.EV_MSC, ecodes.MSC_SCAN, 0x7001E), (ecodes.EV_KEY, ecodes.KEY_1, 0),
                              (ecodes.EV_KEY, ecodes.KEY_1, 2), (ecodes.EV_SYN, 0, 0)):
        assert decoder.feed(kind, code, value) is None
    assert decoder.buffer == []


def test_a_line_through_a_chinese_input_method_still_gives_the_number():
    # Full-width digits (全角), a lower-case x committed by pinyin mode, a prefix and punctuation around it.
    stream = io.StringIO("１１０１０５１９４９１２３１００２Ｘ\n身份证：11010219840406970x。\n你好\n")
    cards = []
    KeyboardBackend(label="前台键盘读卡器", stream=stream).run(cards.append, threading.Event())
    assert [c.id_number for c in cards] == ["11010519491231002X", "11010219840406970X"]


def test_a_missing_device_is_waited_for(tmp_path, caplog):
    caplog.set_level(logging.INFO, "reader_agent")
    path = tmp_path / "usb-Reader-event-kbd"
    with Running(EvdevKeyboardBackend(str(path), retry_seconds=0.2)):
        assert wait_log(caplog, f"未找到键盘式读卡器 {path}：请插上读卡器")


def test_a_path_that_is_no_input_device_is_refused_clearly(tmp_path, caplog):
    caplog.set_level(logging.INFO, "reader_agent")
    not_a_keyboard = tmp_path / "event0"
    not_a_keyboard.write_bytes(b"")
    with Running(EvdevKeyboardBackend(str(not_a_keyboard), retry_seconds=0.2)) as running:
        assert wait_log(caplog, f"无法读取 {not_a_keyboard}")
    assert running.thread is not None


def test_the_agent_stops_at_once_while_waiting_for_a_typed_line(tmp_path):
    """A service being stopped: SIGTERM must end the agent although stdin stays open and silent."""
    env = {**os.environ, "READER_TOKEN": "rdr_test", "PYTHONPATH": str(REPO)}
    agent = subprocess.Popen([sys.executable, "-m", "reader_agent", "--backend", "keyboard", "--server",
                              "http://127.0.0.1:9", "--queue", str(tmp_path / "q.sqlite3")], cwd=REPO, env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(1.5)  # started and waiting for a line
        agent.terminate()
        assert agent.wait(5) == 0
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
        agent.stdin.close()
        agent.stderr.close()
