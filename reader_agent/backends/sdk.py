"""Certified ID-card readers through their vendor's library, loaded with ctypes.

Two families cover most desk readers:
- `sdtapi` (精伦, 神思 and others; sdtapi.dll, libsdtapi.so): SDT_OpenPort, SDT_StartFindIDCard,
  SDT_SelectIDCard, SDT_ReadBaseMsg, SDT_ClosePort. Return codes are the SAM's status
  byte (0x90 success, 0x9F card found, 0x80 no card …), mapped like the serial backend's.
- `termb` (华视 CVR-100 …; termb.dll, libtermb.so): CVR_InitComm, CVR_Authenticate,
  CVR_Read_Content, then GetPeopleName, GetPeopleIDCode, … one field at a time (text in
  the system code page: GB18030 covers GBK and the rare characters), CVR_CloseComm.
Ports: 1001-1016 USB, 1-16 serial (COM1…). The library is loaded again every few seconds
until it can be, so installing a missing driver needs no restart of the agent.
"""

from __future__ import annotations

import ctypes
import logging
import os

from reader_agent import id_text, sam
from reader_agent.backends import Backend, CardData

log = logging.getLogger("reader_agent.sdk")

POLL_SECONDS = 0.1
ABSENT_POLLS = 2
FAMILIES = ("sdtapi", "termb")
DEFAULT_LIBRARY = {"sdtapi": ("sdtapi.dll", "libsdtapi.so"), "termb": ("termb.dll", "libtermb.so")}


class SdkUnavailable(Exception):
    """The vendor library cannot be loaded or is not of the family asked for."""


class PortLost(Exception):
    """The library reports that the reader is not (or no longer) connected."""


def default_library(family):
    return DEFAULT_LIBRARY[family][0 if os.name == "nt" else 1]


def load_library(path, functions):
    """Load a vendor library; raise SdkUnavailable saying what is missing."""
    loader = ctypes.WinDLL if os.name == "nt" else ctypes.CDLL  # the Windows SDKs use stdcall
    try:
        library = loader(path)
    except OSError as error:
        raise SdkUnavailable(f"无法加载读卡器厂商库 {path}（{error}）") from None
    missing = [name for name in functions if not hasattr(library, name)]
    if missing:
        raise SdkUnavailable(f"厂商库 {path} 缺少函数 {', '.join(missing)}：请检查 --sdk 是否选对")
    return library


# ---------------------------------------------------------------- sdtapi

class Sdtapi:
    """The sdtapi family: SAM status bytes as return codes."""

    FUNCTIONS = ("SDT_OpenPort", "SDT_ClosePort", "SDT_StartFindIDCard", "SDT_SelectIDCard", "SDT_ReadBaseMsg")

    def __init__(self, library, port):
        self.lib, self.port = library, port
        c_int, buffer, c_uint_p = ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(ctypes.c_uint)
        for name in ("SDT_OpenPort", "SDT_ClosePort"):
            getattr(self.lib, name).argtypes = [c_int]
        for name in ("SDT_StartFindIDCard", "SDT_SelectIDCard"):
            getattr(self.lib, name).argtypes = [c_int, buffer, c_int]
        self.lib.SDT_ReadBaseMsg.argtypes = [c_int, buffer, c_uint_p, buffer, c_uint_p, c_int]

    def open(self):
        code = self.lib.SDT_OpenPort(self.port)
        return code == 0x90, sam.describe(code)[1]

    def close(self):
        self.lib.SDT_ClosePort(self.port)

    def _checked(self, code, expected):
        outcome, text = sam.describe(code)
        if outcome == sam.PORT:
            raise PortLost(text)
        return code == expected, outcome, text, code

    def find(self):
        manage = ctypes.create_string_buffer(8)
        return self._checked(self.lib.SDT_StartFindIDCard(self.port, manage, 0), 0x9F)

    def select(self):
        manage = ctypes.create_string_buffer(8)
        return self._checked(self.lib.SDT_SelectIDCard(self.port, manage, 0), 0x90)

    def read(self):
        """The decoded text block (id_text.decode), or raise ReadFailed."""
        text, photo = ctypes.create_string_buffer(id_text.TEXT_LENGTH + 16), ctypes.create_string_buffer(1024 + 16)
        text_length, photo_length = ctypes.c_uint(0), ctypes.c_uint(0)
        code = self.lib.SDT_ReadBaseMsg(self.port, text, ctypes.byref(text_length), photo,
                                        ctypes.byref(photo_length), 0)
        ok, _, message, code = self._checked(code, 0x90)
        if not ok:
            raise ReadFailed(f"{message}（返回码 0x{code:02X}）")
        return id_text.decode(text.raw[:min(text_length.value, len(text.raw))])


class ReadFailed(Exception):
    """A card was there but could not be read."""


# ---------------------------------------------------------------- termb

TERMB_INIT = {1: "连接成功", 2: "端口打开失败", 0: "动态库加载失败", -1: "未知错误"}
TERMB_AUTH = {1: (sam.FOUND, "找到身份证"), 2: (sam.NO_CARD, "未找到身份证（读卡区无卡）"),
              3: (sam.NOT_SELECTABLE, "选卡失败（身份证未放稳或不能选中）"), 4: (sam.PORT, "读卡器未连接"),
              0: (sam.PORT, "动态库未加载")}
TERMB_READ = {1: (sam.OK, "读卡成功"), 0: (sam.READ_FAILED, "读卡失败（身份证被移开或读卡中断）"),
              4: (sam.PORT, "读卡器未连接"), 99: (sam.MODULE_FAULT, "读卡器异常")}
TERMB_FIELDS = {"name": "GetPeopleName", "id_number": "GetPeopleIDCode", "valid_from": "GetStartDate",
                "valid_until": "GetEndDate"}


class Termb:
    """The 华视 termb family: CVR_* return 1 for success, fields read one by one."""

    FUNCTIONS = ("CVR_InitComm", "CVR_CloseComm", "CVR_Authenticate", "CVR_Read_Content", *TERMB_FIELDS.values())

    def __init__(self, library, port, encoding="gb18030"):
        self.lib, self.port, self.encoding = library, port, encoding
        self.lib.CVR_InitComm.argtypes = [ctypes.c_int]
        self.lib.CVR_Read_Content.argtypes = [ctypes.c_int]
        for function in (*TERMB_FIELDS.values(), "GetCertType"):
            if hasattr(self.lib, function):
                getattr(self.lib, function).argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]

    def open(self):
        code = self.lib.CVR_InitComm(self.port)
        return code == 1, TERMB_INIT.get(code, f"返回码 {code}")

    def close(self):
        self.lib.CVR_CloseComm()

    def find(self):
        code = self.lib.CVR_Authenticate()
        outcome, text = TERMB_AUTH.get(code, (sam.MODULE_FAULT, f"未知返回码 {code}"))
        if outcome == sam.PORT:
            raise PortLost(text)
        return outcome == sam.FOUND, outcome, text, code

    def select(self):
        return True, sam.OK, "", 1  # CVR_Authenticate finds and selects in one call

    def read(self):
        code = self.lib.CVR_Read_Content(4)
        outcome, text = TERMB_READ.get(code, (sam.MODULE_FAULT, f"未知返回码 {code}"))
        if outcome == sam.PORT:
            raise PortLost(text)
        if outcome != sam.OK:
            raise ReadFailed(f"{text}（返回码 {code}）")
        try:
            fields = {name: self._field(function) for name, function in TERMB_FIELDS.items()}
            return self._decoded(fields)
        finally:
            remove_vendor_files()

    def _field(self, function):
        buffer, length = ctypes.create_string_buffer(256), ctypes.c_int(256)
        if getattr(self.lib, function)(buffer, ctypes.byref(length)) != 1:
            raise ReadFailed(f"{function} 读取失败")
        raw = buffer.raw[:max(0, min(length.value, 256))].split(b"\x00", 1)[0]
        try:
            return raw.decode(self.encoding).strip()
        except UnicodeDecodeError:
            raise ReadFailed(f"{function} 的文字不是 {self.encoding} 编码") from None

    def _card_type(self):
        if not hasattr(self.lib, "GetCertType"):
            return id_text.RESIDENT_ID
        flag = self._field("GetCertType")
        if flag not in id_text.CARD_TYPES:
            raise ReadFailed(f"未知证件类型 {flag!r}")
        return id_text.CARD_TYPES[flag]

    def _decoded(self, fields):
        card_type = self._card_type()
        if card_type == id_text.FOREIGN_PERMANENT:
            raise id_text.UnsupportedCard("外国人永久居留身份证")
        until = fields["valid_until"]
        long_term = until == id_text.LONG_TERM
        return {"name": fields["name"], "id_number": fields["id_number"], "card_type": card_type,
                "valid_from": _date(fields["valid_from"], "valid_from"),
                "valid_until": None if long_term else _date(until, "valid_until"), "long_term": long_term}


# CVR_Read_Content also writes the card to files in the working directory: the text, the
# photo (decoded and WLT) and fingerprints. Personal data must not pile up on the desk PC.
VENDOR_FILES = ("wz.txt", "zp.bmp", "zp.jpg", "xp.wlt", "fp.dat")


def remove_vendor_files(directory="."):
    for name in VENDOR_FILES:
        try:
            os.remove(os.path.join(directory, name))
        except FileNotFoundError:
            pass
        except OSError as error:
            log.warning("无法删除厂商库写下的读卡文件 %s（%s）：请检查代理工作目录的权限", name,
                        error.strerror or error)


def _date(text, field):
    """A termb date: YYYYMMDD, or with dots or dashes between (versions differ)."""
    digits = "".join(ch for ch in text if ch.isdigit())
    try:
        return id_text.parse_date(digits, field)
    except id_text.TextBlockError:
        raise ReadFailed(f"{field} 不是日期") from None


# ---------------------------------------------------------------- the backend

class SdkBackend(Backend):
    name = "sdk"

    def __init__(self, family, library=None, port=1001, retry_seconds=2.0, label=None, encoding="gb18030"):
        if family not in FAMILIES:
            raise ValueError(f"unknown SDK family {family!r}")
        self.family, self.port, self.retry_seconds, self.encoding = family, port, retry_seconds, encoding
        self.library_path = library or default_library(family)
        self.label = label or f"{family}:{port}"
        self._reader = None
        self._opened = False
        self._last_state = None
        self._holding = False
        self._absent_polls = 0

    def _say(self, state, level, message, *args):
        if state != self._last_state:
            log.log(level, message, *args)
            self._last_state = state

    def _load(self):
        family = Sdtapi if self.family == "sdtapi" else Termb
        try:
            library = load_library(self.library_path, family.FUNCTIONS)
        except SdkUnavailable as error:
            self._say("no_library", logging.ERROR, "%s。请安装读卡器厂商驱动，或用 --library 指定库文件的完整路径"
                      "（%s 系列：%s）；每 %.0f 秒重试", error, self.family, " / ".join(DEFAULT_LIBRARY[self.family]),
                      self.retry_seconds)
            return False
        self._reader = Sdtapi(library, self.port) if self.family == "sdtapi" else \
            Termb(library, self.port, self.encoding)
        return True

    def _open(self):
        ok, text = self._reader.open()
        if not ok:
            self._say("no_port", logging.WARNING, "读卡器未连接（%s 端口 %d：%s）：请检查数据线，每 %.0f 秒重试",
                      self.family, self.port, text, self.retry_seconds)
            return False
        self._opened = True
        self._holding = False
        self._say("ready", logging.INFO, "读卡器就绪：%s 端口 %d（%s）。请放置身份证", self.family, self.port,
                  self.library_path)
        return True

    def run(self, on_card, stop):
        while not stop.is_set():
            if self._reader is None and not self._load():
                stop.wait(self.retry_seconds)
                continue
            if not self._opened and not self._open():
                stop.wait(self.retry_seconds)
                continue
            try:
                self._poll(on_card)
            except PortLost as error:
                self._say("gone", logging.ERROR, "读卡器连接中断（%s 端口 %d：%s）：请检查数据线，重新连接后自动恢复",
                          self.family, self.port, error)
                self._reader.close()
                self._opened = False
                stop.wait(self.retry_seconds)
                continue
            stop.wait(POLL_SECONDS)
        if self._opened:
            self._reader.close()

    def _poll(self, on_card):
        found, outcome, text, code = self._reader.find()
        if not found:
            if outcome not in (sam.NO_CARD, sam.NOT_SELECTABLE):
                log.warning("寻卡失败：%s（返回码 0x%02X）", text, code & 0xFF)
            self._absent_polls += 1
            if self._absent_polls >= ABSENT_POLLS and self._holding:
                self._holding = False
                log.info("身份证已取走（%s），请放下一张", text)
            return
        self._absent_polls = 0
        if self._holding:
            return
        selected, _, text, code = self._reader.select()
        if not selected:
            log.warning("%s（返回码 0x%02X），请将身份证放稳", text, code & 0xFF)
            return
        self._holding = True  # read once per placing, also when the read below fails
        try:
            fields = self._reader.read()
        except ReadFailed as error:
            log.warning("%s，请重新放卡", error)
            self._holding = False
            return
        except id_text.UnsupportedCard as error:
            log.warning("%s：本系统按居民身份证号登记，请核对证件后手工录入", error)
            return
        except id_text.TextBlockError as error:
            log.warning("身份证文字信息无法解析（%s），请重新放卡或手工录入", error)
            return
        on_card(CardData.from_text_block(fields, self.label))

