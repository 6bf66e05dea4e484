"""A small HTTP/1.1 load generator on asyncio: keep-alive connections to 127.0.0.1, form posts.

Closed loop (`run_closed`): C connections each send the next request as soon as the last
answered, for a while: the server's throughput. Open loop (`run_open`): requests leave at a
fixed rate whatever the answers, and a request's latency counts from the moment it was
due, so a stalled server shows as latency instead of as fewer requests sent.
"""

import asyncio
import contextlib
import re
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


@dataclass
class Outcome:
    """What the requests of one run got: per request (due time, latency, status, id number)."""

    started: float = 0.0
    ended: float = 0.0
    results: list = field(default_factory=list)
    broken: int = 0  # connections that failed mid-request (outcome unknown)

    def ok(self, success):
        return [r for r in self.results if r[2] == success]

    def throughput(self, success):
        return len(self.ok(success)) / (self.ended - self.started)


class Connection:
    def __init__(self, port):
        self.port = port
        self.reader = self.writer = None
        self.cookie = ""

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def close(self):
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.writer = None

    async def request(self, method, path, body=b""):
        if self.writer is None:
            await self.open()
        headers = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if self.cookie:
            headers += f"Cookie: {self.cookie}\r\n"
        if body:
            headers += "Content-Type: application/x-www-form-urlencoded\r\n"
        headers += f"Content-Length: {len(body)}\r\n\r\n"
        self.writer.write(headers.encode() + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed by the server")
        status = int(status_line.split()[1])
        length, keep = 0, True
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip()
            if name == "content-length":
                length = int(value)
            elif name == "set-cookie" and value.startswith("session="):
                self.cookie = value.split(";", 1)[0]
            elif name == "connection" and value.lower() == "close":
                keep = False
        payload = await self.reader.readexactly(length) if length else b""
        if not keep:
            await self.close()
        return status, payload


class FormPoster:
    """Posts people to a path on its own connection; for the public form it first fetches the CSRF token."""

    def __init__(self, port, path, fields, needs_token):
        self.connection = Connection(port)
        self.path, self.fields, self.needs_token = path, fields, needs_token
        self.token = None

    async def prepare(self):
        if self.needs_token:
            status, page = await self.connection.request("GET", self.path)
            match = CSRF_FIELD.search(page.decode("utf-8", "replace"))
            if status != 200 or not match:
                raise RuntimeError(f"no form at {self.path}: {status}")
            self.token = match.group(1) or match.group(2)

    async def post(self, person):
        data = dict(self.fields(person))
        if self.token:
            data["csrf_token"] = self.token
        status, _ = await self.connection.request("POST", self.path, urlencode(data).encode())
        return status


async def _post_once(poster, person, outcome, due):
    try:
        status = await poster.post(person)
    except (ConnectionError, asyncio.IncompleteReadError, OSError):
        outcome.broken += 1
        await poster.connection.close()
        status = None
    outcome.results.append((due, time.perf_counter() - due, status, person["id_number"]))


async def _closed(port, path, fields, needs_token, people, connections, seconds):
    posters = [FormPoster(port, path, fields, needs_token) for _ in range(connections)]
    await asyncio.gather(*(p.prepare() for p in posters))
    outcome = Outcome(started=time.perf_counter())
    deadline = outcome.started + seconds

    async def worker(poster):
        while time.perf_counter() < deadline:
            await _post_once(poster, next(people), outcome, time.perf_counter())

    await asyncio.gather(*(worker(p) for p in posters))
    outcome.ended = time.perf_counter()
    await asyncio.gather(*(p.connection.close() for p in posters))
    return outcome


async def _open(port, path, fields, needs_token, people, connections, seconds, rate):
    posters = [FormPoster(port, path, fields, needs_token) for _ in range(connections)]
    await asyncio.gather(*(p.prepare() for p in posters))
    idle = asyncio.Queue()
    for poster in posters:
        idle.put_nowait(poster)
    outcome = Outcome(started=time.perf_counter())
    tasks = []

    async def send(due):
        poster = await idle.get()  # waiting for a free connection counts as latency
        try:
            await _post_once(poster, next(people), outcome, due)
        finally:
            idle.put_nowait(poster)

    count = int(seconds * rate)
    for index in range(count):
        due = outcome.started + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(due)))
    await asyncio.gather(*tasks)
    outcome.ended = time.perf_counter()
    await asyncio.gather(*(p.connection.close() for p in posters))
    return outcome


def run_closed(port, path, fields, people, *, needs_token, connections=16, seconds=5.0):
    return asyncio.run(_closed(port, path, fields, needs_token, people, connections, seconds))


def run_open(port, path, fields, people, *, needs_token, rate, connections=64, seconds=5.0):
    return asyncio.run(_open(port, path, fields, needs_token, people, connections, seconds, rate))


def percentile(values, share):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(int(share * len(ordered)), len(ordered) - 1)]
