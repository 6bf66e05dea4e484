"""Keyboard-wedge readers: the reader types the ID number and Enter; we read stdin lines."""

import logging
import sys

from reader_agent import idcard
from reader_agent.backends import Backend, CardData

log = logging.getLogger("reader_agent.keyboard")


class KeyboardBackend(Backend):
    name = "keyboard"
    finite = True

    def __init__(self, label="keyboard", stream=None):
        self.label = label
        self.stream = stream or sys.stdin

    def run(self, on_card, stop):
        log.info("键盘式读卡器：请将光标留在此窗口，每读一张卡输入一行身份证号")
        for line in self.stream:
            if stop.is_set():
                return
            number = idcard.find_in_text(line)
            if number is None:
                if line.strip():
                    log.warning("输入中没有身份证号，已忽略")
                continue
            on_card(CardData(id_number=number, reader=self.label))
