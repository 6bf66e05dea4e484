"""A certified ID-card reader simulated on a pseudo-terminal: the test is the device.

It answers SAM frames (GA/T 467) byte for byte, written here from the protocol and
not from the agent's code: AA AA AA 96 69, a big-endian length counting everything
after it, SW1 SW2 SW3, data, XOR checksum. The port is reached through a symlink, as
/dev/serial/by-id/… names a USB reader on Linux: `pull()` closes the pseudo-terminal
(the agent's reads fail as with a pulled cable) and removes the name, `plug()` brings
a new one back under the same name.
"""

from __future__ import annotations

import contextlib
import os
import pty
import select
import threading
import time
import tty
from collections import deque
from functools import reduce
from pathlib import Path

HEADER = b"\xaa\xaa\xaa\x96\x69"
TEXT_FIELDS = (("name", 30), ("sex", 2), ("nation", 4), ("born", 16), ("address", 70), ("number", 36),
               ("authority", 30), ("valid_from", 16), ("valid_until", 16), ("reserved", 36))


def xor(data):
    return reduce(lambda a, b: a ^ b, data, 0)


def text_block(name, number, *, address="天津市滨海新区新港街道", valid_from="20150301", valid_until="20350301",
               sex="1", nation="01", authority="天津市公安局滨海分局", flag=" "):
    """A card's 256-byte text block: UCS-2 LE, each field padded with spaces."""
    values = {"name": name, "sex": sex, "nation": nation, "born": number[6:14], "address": address,
              "number": number, "authority": authority, "valid_from": valid_from, "valid_until": valid_until,
              "reserved": ""}
    block = b""
    for field, size in TEXT_FIELDS:
        raw = values[field].encode("utf-16-le")
        assert len(raw) <= size, field
        block += raw + b" \x00" * ((size - len(raw)) // 2)
    return block[:248] + flag.encode("utf-16-le") + block[250:]


PHOTO = bytes(range(256)) * 4  # 1024 bytes standing in for the WLT image


class SimulatedSam:
    """The reader: a pseudo-terminal answering SAM frames, with a card on it or not."""

    def __init__(self, link: Path):
        self.link = link
        self.card = None
        self.faults = deque()  # (command, fault): applied to the next answer to that command
        self.split = False  # answers trickle out in small pieces
        self.commands = []
        self._master = self._slave = None
        self._thread = None
        self._stop = threading.Event()

    # the cable
    def plug(self):
        self._master, self._slave = pty.openpty()
        tty.setraw(self._slave)
        with contextlib.suppress(FileNotFoundError):
            self.link.unlink()
        self.link.symlink_to(os.ttyname(self._slave))
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def pull(self):
        self.link.unlink(missing_ok=True)
        self._stop.set()
        self._thread.join(5)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._master = self._slave = None

    # the card
    def place(self, block, photo=PHOTO):
        self.card = (block, photo)

    def take_off(self):
        self.card = None

    def count(self, command):
        return sum(1 for c in self.commands if c == command)

    # the device
    def _serve(self):
        buffer = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                buffer += os.read(self._master, 4096)
            except OSError:  # no one has the other end open at the moment
                time.sleep(0.05)
                continue
            while True:
                start = buffer.find(HEADER)
                if start < 0 or len(buffer) < start + 7:
                    break
                length = int.from_bytes(buffer[start + 5:start + 7], "big")
                end = start + 7 + length
                if len(buffer) < end:
                    break
                frame, buffer = buffer[start:end], buffer[end:]
                self._answer(frame)

    def _answer(self, frame):
        counted = frame[5:]
        command = counted[2:4]
        self.commands.append(command.hex())
        if xor(counted[:-1]) != counted[-1]:
            return self._send(0x10)  # the SAM's "checksum error" of a request
        fault = self.faults[0][1] if self.faults and self.faults[0][0] == command.hex() else None
        if fault:
            self.faults.popleft()
        if fault == "silence":
            return None
        if fault and fault.startswith("sw3="):
            return self._send(int(fault[4:], 16))
        sw3, data = self._result(command)
        return self._send(sw3, data, bad_checksum=fault == "bad_checksum", noise=fault == "noise")

    def _result(self, command):
        if command == b"\x11\xff":
            return 0x90, b""
        if command == b"\x20\x01":
            return (0x9F, b"\x00" * 4) if self.card else (0x80, b"")
        if command == b"\x20\x02":
            return (0x90, b"\x00" * 8) if self.card else (0x81, b"")
        if command == b"\x30\x01":
            if not self.card:
                return 0x41, b""
            text, photo = self.card
            return 0x90, len(text).to_bytes(2, "big") + len(photo).to_bytes(2, "big") + text + photo
        return 0x21, b""

    def _send(self, sw3, data=b"", bad_checksum=False, noise=False):
        counted = (3 + len(data) + 1).to_bytes(2, "big") + bytes((0, 0, sw3)) + data
        check = xor(counted) ^ (0xFF if bad_checksum else 0)
        out = (b"\x00\x17" if noise else b"") + HEADER + counted + bytes((check,))
        try:
            if not self.split:
                os.write(self._master, out)
                return
            for index in range(0, len(out), 61):  # pieces of a USB-serial packet, a little apart
                os.write(self._master, out[index:index + 61])
                time.sleep(0.001)
        except OSError:
            pass
