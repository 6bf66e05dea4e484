"""The ID-card security module (SAM, GA/T 467): its frames and its status codes.

Serial and USB-serial readers speak these frames directly; the vendor SDKs (sdtapi)
speak them underneath and hand back the same status byte (SW3) as their return code,
so both backends map a status to one of a few outcomes the desk log explains.

Request:  AA AA AA 96 69 | Len1 Len2 | CMD PARA | DATA | CHK
Response: AA AA AA 96 69 | Len1 Len2 | SW1 SW2 SW3 | DATA | CHK
Len (big-endian) counts every byte after it, the checksum included; CHK is the XOR of
the length bytes and everything after them up to the checksum.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import reduce

PREAMBLE = bytes.fromhex("AAAAAA9669")

FIND_CARD = (0x20, 0x01)  # 寻卡
SELECT_CARD = (0x20, 0x02)  # 选卡
READ_BASE_MESSAGE = (0x30, 0x01)  # 读基本信息: text + photo
SAM_STATUS = (0x11, 0xFF)  # SAM 状态检测

# Outcomes, shared by every SAM-based backend.
OK, FOUND, NO_CARD, NOT_SELECTABLE, READ_FAILED, CHECKSUM, MODULE_FAULT, PORT = (
    "ok", "found", "no_card", "not_selectable", "read_failed", "checksum", "module_fault", "port")

# SW3 -> (outcome, what the desk log says). From GA/T 467 and the sdtapi manuals.
STATUS = {
    0x90: (OK, "操作成功"),
    0x9F: (FOUND, "找到身份证"),
    0x80: (NO_CARD, "未找到身份证（读卡区无卡）"),
    0x81: (NOT_SELECTABLE, "选卡失败（身份证未放稳或不能选中）"),
    0x41: (READ_FAILED, "读卡失败（身份证被移开或读卡中断）"),
    0x40: (NOT_SELECTABLE, "无法识别的卡类型（不是身份证）"),
    0x31: (READ_FAILED, "身份证认证安全模块失败"),
    0x32: (READ_FAILED, "安全模块认证身份证失败"),
    0x33: (READ_FAILED, "信息验证错误"),
    0x91: (READ_FAILED, "身份证中此项无内容"),
    0x10: (CHECKSUM, "安全模块收到的数据校验和错误"),
    0x11: (CHECKSUM, "安全模块收到的数据长度错误"),
    0x21: (MODULE_FAULT, "安全模块不支持此命令"),
    0x23: (MODULE_FAULT, "越权操作"),
    0x24: (MODULE_FAULT, "安全模块无法识别的错误"),
    0x60: (MODULE_FAULT, "安全模块自检失败"),
    0x66: (MODULE_FAULT, "安全模块未经授权"),
    0x01: (PORT, "端口打开失败或端口号不正确"),
    0x02: (PORT, "接收读卡器数据超时"),
    0x03: (PORT, "数据传输错误"),
    0x05: (PORT, "读卡器端口不可用"),
}


def describe(sw3):
    """(outcome, Chinese text) of a status byte; an unknown one is a module fault."""
    return STATUS.get(sw3, (MODULE_FAULT, f"未知状态码 0x{sw3:02X}"))


class FrameError(Exception):
    """A response frame that cannot be trusted (bad checksum, bad length)."""


class ReaderTimeout(Exception):
    """The reader did not answer (completely) in time."""


def checksum(data):
    return reduce(lambda acc, byte: acc ^ byte, data, 0)


def request_frame(command, data=b""):
    """The bytes of one request: command is (CMD, PARA)."""
    body = bytes(command) + bytes(data)
    counted = (len(body) + 1).to_bytes(2, "big") + body
    return PREAMBLE + counted + bytes((checksum(counted),))


@dataclass
class Response:
    sw1: int
    sw2: int
    sw3: int
    data: bytes

    @property
    def outcome(self):
        return describe(self.sw3)[0]

    @property
    def text(self):
        return describe(self.sw3)[1]


class FrameReader:
    """Cuts response frames out of a byte stream that arrives in pieces of any size."""

    MAX_LENGTH = 0x2000  # the longest response (base message + fingerprint) is 0x0F08

    def __init__(self, read):
        self._read = read  # read(n) -> up to n bytes, b"" after its own short timeout
        self._buffer = bytearray()

    def discard(self):
        self._buffer.clear()

    def _fill(self, count, deadline):
        while len(self._buffer) < count:
            if time.monotonic() > deadline:
                raise ReaderTimeout("incomplete frame" if self._buffer else "no answer")
            self._buffer += self._read(max(count - len(self._buffer), 1))

    def next_response(self, timeout=1.0):
        """The next response frame; raise FrameError for a damaged one, ReaderTimeout for silence."""
        deadline = time.monotonic() + timeout
        while True:
            self._fill(len(PREAMBLE), deadline)
            start = self._buffer.find(PREAMBLE)
            if start == 0:
                break
            # Noise before a frame (a reader waking up): drop it, keep a possible partial preamble.
            keep = start if start > 0 else len(self._buffer) - len(PREAMBLE) + 1
            del self._buffer[:keep]
        self._fill(len(PREAMBLE) + 2, deadline)
        length = int.from_bytes(self._buffer[5:7], "big")
        if not 4 <= length <= self.MAX_LENGTH:
            self.discard()
            raise FrameError(f"implausible frame length {length}")
        end = len(PREAMBLE) + 2 + length
        self._fill(end, deadline)
        frame, self._buffer = bytes(self._buffer[:end]), self._buffer[end:]
        counted = frame[len(PREAMBLE):]
        if checksum(counted[:-1]) != counted[-1]:
            self.discard()
            raise FrameError("checksum mismatch")
        return Response(counted[2], counted[3], counted[4], bytes(counted[5:-1]))
