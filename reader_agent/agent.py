"""Wiring: a backend reads cards, each valid read is queued on disk, a sender posts them in order."""

import logging
import threading
import uuid
from datetime import datetime

from reader_agent import idcard
from reader_agent.outbox import Outbox
from reader_agent.sender import Sender

log = logging.getLogger("reader_agent")
LONG_TERM = "long_term"  # valid_until of a card without an end date (长期)


def make_payload(card, at=None):
    """The JSON body of one read; read_id makes resending it harmless.

    Address, sex, nation and issuing authority stay on the desk PC: the desk needs only
    whom the card names and whether it is still valid.
    """
    payload = {
        "read_id": str(uuid.uuid4()),
        "id_number": card.id_number,
        "name": card.name or None,
        "reader": (card.reader or "")[:64] or None,
        "read_at": (at or datetime.now().astimezone()).isoformat(timespec="seconds"),
    }
    if card.card_type:
        payload["card_type"] = card.card_type
    if card.valid_from:
        payload["valid_from"] = card.valid_from.isoformat()
    if card.long_term:
        payload["valid_until"] = LONG_TERM
    elif card.valid_until:
        payload["valid_until"] = card.valid_until.isoformat()
    return payload


class Agent:
    def __init__(self, backend, outbox_path, server_url, token, timeout=5.0, max_backoff=30.0):
        self.backend = backend
        self.outbox = Outbox(outbox_path)
        self.sender = Sender(self.outbox, server_url, token, timeout=timeout, max_backoff=max_backoff)
        self.stop = threading.Event()
        self.accepted = 0

    def on_card(self, card):
        """Validate a card read and queue it; the sender takes it from there."""
        number = idcard.normalise(card.id_number)
        problem = idcard.problem(number)
        if problem:
            # No personal data in the log: say what is wrong, not the number.
            log.warning("卡片上的身份证号无效（%s），未上传；请重新放卡或手工录入", problem)
            return
        card.id_number = number
        payload = make_payload(card)
        self.outbox.put(payload)
        self.accepted += 1
        log.info("读到身份证 read_id=%s 读卡器=%s", payload["read_id"], payload["reader"] or "-")
        self.sender.wake.set()

    def run(self, exit_when_done=False):
        """Run until stopped; with exit_when_done, until a finite source ended and the queue is empty."""
        sender = threading.Thread(target=self.sender.run, args=(self.stop,), name="sender", daemon=True)
        sender.start()
        if len(self.outbox):
            log.info("本机队列中有 %d 条未上传的读卡，将按顺序补传", len(self.outbox))
        try:
            self.backend.run(self.on_card, self.stop)
            if self.backend.finite and exit_when_done:
                while len(self.outbox) and not self.stop.is_set():
                    self.stop.wait(0.1)
            else:
                while not self.stop.is_set():
                    self.stop.wait(1.0)
        except KeyboardInterrupt:
            log.info("正在退出…")
        finally:
            self.stop.set()
            sender.join(timeout=10)
            left = len(self.outbox)
            if left:
                log.warning("退出时仍有 %d 条读卡未上传，下次启动时补传", left)
            self.outbox.close()
        return 0
