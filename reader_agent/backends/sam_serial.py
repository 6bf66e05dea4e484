"""Certified ID-card readers on a serial or USB-serial port, spoken to in SAM frames (GA/T 467).

Each poll is find card (20 01), and when a card is there select card (20 02) and read
base message (30 01): the 256-byte text block and the 1024-byte photo (WLT-compressed;
decoding it needs the vendor's licensed library, so it is only noted). A card stays on
the reader while the person is dealt with: it is read once, and while find card still
finds it nothing more is asked; after ABSENT_POLLS answers of "no card" in a row it
counts as taken off, and the next card (or the same one put back) is read.
The port may vanish (USB cable pulled): the backend closes it, says so, and opens it
again as soon as the device is back under the same name (use /dev/serial/by-id/… on
Linux, whose name does not change between plugs).
"""

from __future__ import annotations

import contextlib
import logging
import os

from reader_agent import id_text, sam
from reader_agent.backends import Backend, CardData

log = logging.getLogger("reader_agent.sam_serial")

ABSENT_POLLS = 2
POLL_SECONDS = 0.1
ATTEMPTS = 3  # tries of one command after a damaged or missing answer


class PortGone(Exception):
    """The serial port failed: unplugged, or taken by another program."""


class SamSerialBackend(Backend):
    name = "sam-serial"

    def __init__(self, port, baudrate=115200, retry_seconds=2.0, answer_timeout=1.0, label=None):
        self.port_name = port
        self.baudrate = baudrate
        self.retry_seconds = retry_seconds
        self.answer_timeout = answer_timeout
        self.label = label or f"身份证阅读器 {os.path.basename(port)}"
        self._port = None
        self._frames = None
        self._last_state = None
        self._holding = False  # a card was read and has not been taken off since
        self._absent_polls = 0

    def _say(self, state, level, message, *args):
        """Log a state change once, not at every poll."""
        if state != self._last_state:
            log.log(level, message, *args)
            self._last_state = state

    # ------------------------------------------------------------ the port

    def _open(self):
        import serial

        try:
            self._port = serial.Serial(self.port_name, self.baudrate, timeout=0.05, write_timeout=1.0)
        except (serial.SerialException, OSError, ValueError) as error:
            self._say("no_port", logging.WARNING, "无法打开读卡器串口 %s（%s）：请检查数据线和端口名，每 %.0f 秒重试",
                      self.port_name, _reason(error), self.retry_seconds)
            return False
        self._frames = sam.FrameReader(self._read)
        return True

    def _close(self):
        if self._port is not None:
            with contextlib.suppress(OSError):
                self._port.close()
        self._port = self._frames = None
        self._holding = False  # after a reconnect the card on the reader is read afresh

    def _read(self, count):
        try:
            return self._port.read(count)
        except port_errors() as error:
            raise PortGone(_reason(error)) from None

    def _write(self, data):
        try:
            self._port.reset_input_buffer()  # an answer we gave up on must not pass for this one
            self._port.write(data)
            self._port.flush()
        except port_errors() as error:
            raise PortGone(_reason(error)) from None

    def command(self, command, data=b""):
        """Send one command; return its Response, retrying after damaged or missing answers."""
        for attempt in range(1, ATTEMPTS + 1):
            self._write(sam.request_frame(command, data))
            try:
                response = self._frames.next_response(self.answer_timeout)
            except sam.FrameError as error:
                log.warning("读卡器应答校验和错误（%s），重试 %d/%d", error, attempt, ATTEMPTS)
                continue
            except sam.ReaderTimeout as error:
                log.warning("读卡器无应答（%s），重试 %d/%d", error, attempt, ATTEMPTS)
                continue
            if response.outcome == sam.CHECKSUM:
                log.warning("读卡器报告：%s（SW3=0x%02X），重发 %d/%d", response.text, response.sw3, attempt, ATTEMPTS)
                continue
            return response
        raise PortGone("读卡器多次无有效应答")

    # ------------------------------------------------------------ the loop

    def run(self, on_card, stop):
        while not stop.is_set():
            if self._port is None:
                if not self._open():
                    stop.wait(self.retry_seconds)
                    continue
                if not self._check_module():
                    self._close()
                    stop.wait(self.retry_seconds)
                    continue
            try:
                self._poll(on_card)
            except PortGone as error:
                self._say("gone", logging.ERROR, "读卡器串口 %s 已断开（%s）：请检查数据线，重新连接后自动恢复",
                          self.port_name, error)
                self._close()
                stop.wait(self.retry_seconds)
                continue
            stop.wait(POLL_SECONDS)

    def _check_module(self):
        """Ask the SAM for its status once the port is open: a reader that answers is ready."""
        try:
            response = self.command(sam.SAM_STATUS)
        except PortGone as error:
            self._say("no_answer", logging.ERROR, "串口 %s 已打开，但读卡器无应答（%s）：请检查端口是否选对、波特率 %d",
                      self.port_name, error, self.baudrate)
            return False
        if response.outcome != sam.OK:
            self._say("module_fault", logging.ERROR, "读卡器安全模块异常：%s（SW3=0x%02X）", response.text,
                      response.sw3)
            return False
        self._say("ready", logging.INFO, "读卡器就绪：串口 %s（%d 波特）。请放置身份证", self.port_name, self.baudrate)
        return True

    def _poll(self, on_card):
        found = self.command(sam.FIND_CARD)
        if found.outcome != sam.FOUND:
            self._note_absent(found)
            return
        self._absent_polls = 0
        if self._holding:
            return
        selected = self.command(sam.SELECT_CARD)
        if selected.outcome != sam.OK:
            log.warning("%s（SW3=0x%02X），请将身份证放稳", selected.text, selected.sw3)
            return
        read = self.command(sam.READ_BASE_MESSAGE)
        if read.outcome != sam.OK:
            log.warning("%s（SW3=0x%02X），请重新放卡", read.text, read.sw3)
            return
        card = self._card_from(read.data)
        self._holding = True  # also after an undecodable card: it is not read again until put back
        if card is not None:
            on_card(card)

    def _note_absent(self, response):
        if response.outcome not in (sam.NO_CARD, sam.NOT_SELECTABLE):
            log.warning("寻卡失败：%s（SW3=0x%02X）", response.text, response.sw3)
        self._absent_polls += 1
        if self._absent_polls >= ABSENT_POLLS and self._holding:
            self._holding = False
            log.info("身份证已取走（%s），请放下一张", response.text)

    def _card_from(self, data):
        """The card in a read-base-message answer, or None (logged) when it cannot be decoded."""
        if len(data) < 4:
            log.warning("读卡器返回的数据过短（%d 字节），请重新放卡", len(data))
            return None
        text_length, photo_length = int.from_bytes(data[0:2], "big"), int.from_bytes(data[2:4], "big")
        text = data[4:4 + text_length]
        photo = data[4 + text_length:4 + text_length + photo_length]
        try:
            fields = id_text.decode(text)
        except id_text.UnsupportedCard as error:
            log.warning("%s：本系统按居民身份证号登记，请核对证件后手工录入", error)
            return None
        except id_text.TextBlockError as error:
            log.warning("身份证文字信息无法解析（%s），请重新放卡或手工录入", error)
            return None
        log.debug("照片 %d 字节（WLT 格式，未解码）", len(photo))
        return CardData.from_text_block(fields, self.label)


def port_errors():
    """What a vanished port raises: pyserial's own error, OSError, and on POSIX termios.error (EIO)."""
    import serial

    try:
        import termios
    except ImportError:  # Windows
        return serial.SerialException, OSError
    return serial.SerialException, OSError, termios.error


def _reason(error):
    return str(error) or type(error).__name__
