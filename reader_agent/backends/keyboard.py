"""Keyboard-wedge readers: the reader "types" the ID number and Enter like a keyboard.

Two ways to listen:
- `--device /dev/input/by-id/…-event-kbd` (Linux): the reader's own input device, read
  with python-evdev and grabbed, so its keystrokes reach only the agent. Which window
  has focus does not matter, a Chinese input method never sees them, and no digits
  land in whatever field happens to be open. The device may be unplugged and plugged
  back: the backend waits for it and says so.
- stdin lines (any platform, the agent's window focused): a line may come through an
  input method in full-width digits (０１２…Ｘ), with a lower-case x, or wrapped in
  other text; the first valid-looking ID number in the line is taken.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import sys
import threading
import time

from reader_agent import idcard
from reader_agent.backends import Backend, CardData

log = logging.getLogger("reader_agent.keyboard")

LINE_TIMEOUT = 1.0  # a reader types a number within milliseconds; a line left open this long is done


class KeyboardBackend(Backend):
    name = "keyboard"
    finite = True

    def __init__(self, label="keyboard", stream=None):
        self.label = label
        self.stream = stream or sys.stdin

    def run(self, on_card, stop):
        log.info("键盘式读卡器：请将光标留在此窗口，每读一张卡输入一行身份证号"
                 "（Linux 可用 --device 直接读取读卡器，不受焦点和输入法影响）")
        # Lines are read on a thread of their own: a read from stdin cannot be interrupted, and
        # the agent must still stop at once when told to (a service being stopped).
        ended = threading.Event()
        threading.Thread(target=self._read_lines, args=(on_card, stop, ended), name="stdin", daemon=True).start()
        while not (ended.is_set() or stop.is_set()):
            ended.wait(0.2)

    def _read_lines(self, on_card, stop, ended):
        try:
            for line in self.stream:
                if stop.is_set():
                    return
                _take_line(line, on_card, self.label)
        finally:
            ended.set()


def _take_line(line, on_card, label):
    number = idcard.find_in_text(line)
    if number is None:
        if line.strip():
            log.warning("输入中没有身份证号，已忽略")
        return
    on_card(CardData(id_number=number, reader=label))


class WedgeDecoder:
    """Turns evdev key events into typed lines (US layout, as wedge readers send).

    Only key presses count (value 1); releases, auto-repeat, scan codes (EV_MSC) and
    sync events are skipped. Enter, keypad Enter and Tab end a line.
    """

    def __init__(self):
        from evdev import ecodes

        self.ecodes = ecodes
        self.keys = {getattr(ecodes, f"KEY_{d}"): d for d in "0123456789"}
        self.keys.update({getattr(ecodes, f"KEY_KP{d}"): d for d in "0123456789"})
        self.keys.update({getattr(ecodes, f"KEY_{c}"): c.lower() for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"})
        self.keys.update({ecodes.KEY_SPACE: " ", ecodes.KEY_MINUS: "-", ecodes.KEY_SEMICOLON: ";"})
        self.ends = {ecodes.KEY_ENTER, ecodes.KEY_KPENTER, ecodes.KEY_TAB}
        self.shifts = {ecodes.KEY_LEFTSHIFT, ecodes.KEY_RIGHTSHIFT}
        self.shifted = False
        self.buffer = []
        self.last_key_at = 0.0

    def feed(self, event_type, code, value, at=None):
        """Take one event; return a finished line or None."""
        if event_type != self.ecodes.EV_KEY:
            return None
        if code in self.shifts:
            self.shifted = value != 0
            return None
        if value != 1:
            return None
        self.last_key_at = at if at is not None else time.monotonic()
        if code in self.ends:
            line, self.buffer = "".join(self.buffer), []
            return line
        char = self.keys.get(code)
        if char is not None:
            self.buffer.append(char.upper() if self.shifted else char)
        return None

    def expire(self, now=None):
        """A line the reader left without Enter, once it has been quiet for LINE_TIMEOUT."""
        now = now if now is not None else time.monotonic()
        if self.buffer and now - self.last_key_at >= LINE_TIMEOUT:
            line, self.buffer = "".join(self.buffer), []
            return line
        return None


class EvdevKeyboardBackend(Backend):
    """A wedge reader read straight from its Linux input device, grabbed for the agent alone."""

    name = "keyboard"

    def __init__(self, device, label=None, retry_seconds=2.0):
        self.device_path = device
        self.label = label or "keyboard"
        self.retry_seconds = retry_seconds
        self._last_state = None

    def _say(self, state, level, message, *args):
        if state != self._last_state:
            log.log(level, message, *args)
            self._last_state = state

    def run(self, on_card, stop):
        while not stop.is_set():
            device = self._open()
            if device is None:
                stop.wait(self.retry_seconds)
                continue
            try:
                self._listen(device, on_card, stop)
            except OSError as error:
                if error.errno not in (errno.ENODEV, errno.EIO, errno.EBADF):
                    raise
                self._say("gone", logging.ERROR, "键盘式读卡器 %s 已断开：重新插上后自动恢复", self.device_path)
            finally:
                _close(device)

    def _open(self):
        import evdev

        try:
            device = evdev.InputDevice(self.device_path)
        except FileNotFoundError:
            self._say("missing", logging.WARNING,
                      "未找到键盘式读卡器 %s：请插上读卡器（ls /dev/input/by-id/），每 %.0f 秒重试",
                      self.device_path, self.retry_seconds)
            return None
        except PermissionError:
            self._say("denied", logging.ERROR,
                      "无权读取 %s：请把运行代理的用户加入 input 组（sudo usermod -aG input 用户名）", self.device_path)
            return None
        except OSError as error:  # e.g. ENOTTY: the path is not an input device
            self._say("not_input", logging.ERROR, "无法读取 %s（%s）：请指定读卡器的输入设备，"
                      "如 /dev/input/by-id/usb-…-event-kbd；每 %.0f 秒重试", self.device_path,
                      error.strerror or error, self.retry_seconds)
            return None
        try:
            device.grab()  # only the agent receives its keys: no focus, no input method in between
        except OSError as error:
            _close(device)
            self._say("busy", logging.ERROR, "无法独占键盘式读卡器 %s（%s）：另一个程序正在使用它", self.device_path,
                      error.strerror or error)
            return None
        self._say("ready", logging.INFO, "键盘式读卡器就绪：%s（%s），已独占读取，不受窗口焦点和输入法影响",
                  self.device_path, device.name)
        return device

    def _listen(self, device, on_card, stop):
        import select

        decoder = WedgeDecoder()
        while not stop.is_set():
            ready, _, _ = select.select([device.fd], [], [], 0.2)
            if not ready:
                line = decoder.expire()
                if line is not None:
                    _take_line(line, on_card, self.label)
                continue
            for event in device.read():
                line = decoder.feed(event.type, event.code, event.value)
                if line is not None:
                    _take_line(line, on_card, self.label)


def _close(device):
    with contextlib.suppress(OSError):
        device.ungrab()
    with contextlib.suppress(OSError):
        device.close()
