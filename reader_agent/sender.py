"""Posting reads to the server: one HTTP attempt, and the loop that drains the outbox in order."""

from __future__ import annotations

import json
import logging
import random
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass

log = logging.getLogger("reader_agent.sender")

API_PATH = "/api/v1/card-reads"
DELIVERED, REJECTED, RETRY, UNAUTHORISED = "delivered", "rejected", "retry", "unauthorised"


@dataclass
class Attempt:
    outcome: str
    status: int | None = None
    code: str = ""
    verdict: str = ""
    retry_after: float | None = None


def post_read(server_url, token, payload, timeout=5.0):
    """POST one read; classify the answer (never raises for network or HTTP trouble)."""
    request = urllib.request.Request(
        server_url.rstrip("/") + API_PATH, data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        method="POST", headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}",
                                "User-Agent": "binhai-reader-agent/1.0"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = _json(response.read())
            return Attempt(DELIVERED, response.status, verdict=body.get("verdict_label") or body.get("verdict", ""))
    except urllib.error.HTTPError as error:
        body = _json(error.read())
        code = body.get("code", "")
        if error.code in (401, 403):
            return Attempt(UNAUTHORISED, error.code, code)
        if error.code in (409, 413, 422):
            return Attempt(REJECTED, error.code, code)
        retry_after = _seconds(error.headers.get("Retry-After")) if error.code in (429, 503) else None
        return Attempt(RETRY, error.code, code, retry_after=retry_after)
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as error:
        reason = getattr(error, "reason", error)
        return Attempt(RETRY, code=type(reason).__name__ if not isinstance(reason, str) else reason)


def _json(raw):
    try:
        value = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def _seconds(value):
    try:
        return max(float(value), 0.0)
    except (TypeError, ValueError):
        return None


class Sender:
    """Drains the outbox oldest first; a read that cannot go yet holds back the ones after it."""

    def __init__(self, outbox, server_url, token, timeout=5.0, min_backoff=0.5, max_backoff=30.0,
                 unauthorised_backoff=60.0):
        self.outbox = outbox
        self.server_url, self.token, self.timeout = server_url, token, timeout
        self.min_backoff, self.max_backoff = min_backoff, max_backoff
        self.unauthorised_backoff = unauthorised_backoff
        self.wake = threading.Event()
        self.delivered = 0
        self._offline = False

    def run(self, stop):
        backoff = self.min_backoff
        while not stop.is_set():
            item = self.outbox.head()
            if item is None:
                self.wake.wait(1.0)
                self.wake.clear()
                continue
            seq, payload = item
            attempt = post_read(self.server_url, self.token, payload, self.timeout)
            if attempt.outcome in (DELIVERED, REJECTED):
                self.outbox.remove(seq)
                backoff = self.min_backoff
                self._report(payload, attempt)
                continue
            self.outbox.note_attempt(seq)
            wait = self._wait_after(attempt, backoff)
            backoff = min(backoff * 2, self.max_backoff)
            stop.wait(wait)

    def _wait_after(self, attempt, backoff):
        pending = len(self.outbox)
        if attempt.outcome == UNAUTHORISED:
            log.error("服务器拒绝了读卡器令牌（HTTP %s %s）：请检查 READER_TOKEN 是否正确、是否已被吊销。"
                      "%d 条读卡已暂存，%.0f 秒后重试", attempt.status, attempt.code, pending,
                      self.unauthorised_backoff)
            return self.unauthorised_backoff
        if attempt.retry_after is not None:
            log.warning("服务器繁忙（HTTP %s），%.1f 秒后重试；%d 条读卡暂存", attempt.status, attempt.retry_after,
                        pending)
            return min(attempt.retry_after, self.max_backoff)
        if not self._offline:
            log.warning("无法连接服务器 %s（%s），读卡暂存在本机队列，恢复后按顺序补传", self.server_url,
                        attempt.status or attempt.code)
            self._offline = True
        log.info("%d 条读卡待上传，%.1f 秒后重试", pending, backoff)
        return backoff * random.uniform(0.8, 1.2)

    def _report(self, payload, attempt):
        if self._offline:
            log.info("服务器已恢复，继续上传暂存的读卡")
            self._offline = False
        if attempt.outcome == DELIVERED:
            self.delivered += 1
            log.info("读卡已上传 read_id=%s 结果=%s (HTTP %s)", payload["read_id"], attempt.verdict, attempt.status)
        else:
            log.error("服务器拒收读卡 read_id=%s（HTTP %s %s），已丢弃", payload["read_id"], attempt.status,
                      attempt.code)
