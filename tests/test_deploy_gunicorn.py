"""The production set-up for real: `make serve` (gunicorn, 2 gthread workers) on PostgreSQL and Redis.

The server runs as a subprocess on a free 127.0.0.1 port, on a database this module
creates (`dp_<uuid>`, migrated by `make serve` itself, seeded through the CLI) and on
Redis database 15, in production mode with a real SECRET_KEY. Which worker served a
request is read from the request log (`rid=<our X-Request-ID> pid=<worker>`).

These are PostgreSQL + Redis tests: the SQLite pass skips them; in the PostgreSQL pass
with CI=true an unreachable Redis fails the run.
"""

import contextlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from config import normalise_database_url
from models.identity import id_check_char

REPO = Path(__file__).resolve().parent.parent
POSTGRES_URL = normalise_database_url(os.environ.get("TEST_DATABASE_URL") or "")  # any form the app takes
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() == "true"
STATION = "新河街社区卫生服务中心接种点"  # demo account station01
DEMO_PASSWORD = "Binhai2026"

pytestmark = pytest.mark.slow
if not POSTGRES_URL:
    pytest.skip("deployment tests need PostgreSQL and Redis: they run in the PostgreSQL pass",
                allow_module_level=True)


def _redis():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        if IN_CI:
            pytest.fail(f"Redis at {REDIS_URL} unreachable in CI: {error}", pytrace=False)
        pytest.skip(f"Redis unreachable, skipping the deployment tests: {error}")
    return client


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, port, log_path, env, process, reader_token):
        self.port, self.log_path, self.env, self.process, self.reader_token = port, log_path, env, process, reader_token

    def log(self):
        return self.log_path.read_text(errors="replace")

    def worker_of(self, request_id, timeout=3.0):
        """Return the pid of the worker that logged the request with this X-Request-ID."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(rf"rid={re.escape(request_id)} pid=(\d+)", self.log())
            if found:
                return int(found.group(1))
            if time.monotonic() > deadline:
                raise AssertionError(f"no log line for request {request_id}")
            time.sleep(0.05)

    def master_pid(self):
        return int(re.search(r"Listening at: http://127\.0\.0\.1:\d+ \((\d+)\)", self.log()).group(1))

    def request(self, method, path, body=None, headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read().decode(errors="replace")
        finally:
            connection.close()


def _cli(env, *args):
    result = subprocess.run([str(REPO / ".venv/bin/flask"), "--app", "app", *args], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    redis_client = _redis()
    redis_client.flushdb()
    base = make_url(POSTGRES_URL.split("?")[0])
    name = "dp_" + uuid.uuid4().hex[:12]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    tmp = tmp_path_factory.mktemp("deploy")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "PYTEST_CURRENT_TEST")}
    env.update(
        DATABASE_URL=base.set(database=name).render_as_string(hide_password=False),
        REDIS_URL=REDIS_URL, SECRET_KEY=secrets.token_hex(32), INSTANCE_PATH=str(tmp / "instance"),
        WEB_CONCURRENCY="2", GUNICORN_THREADS="16", LOG_LEVEL="INFO", FORWARDED_PROXIES="1",
    )
    log_path = tmp / "serve.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed at the end of the module
    process = None
    try:
        _cli(env, "init-db")
        _cli(env, "seed-demo", "--enterprises", "20", "--persons", "300")
        token = _cli(env, "reader-token", STATION, "--name", "部署测试台").strip().splitlines()[-1]
        # `make serve` migrates (a no-op now) and starts gunicorn in production mode.
        process = subprocess.Popen(["make", "serve", f"PORT={port}"], cwd=REPO, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        running = Server(port, log_path, env, process, token)
        deadline = time.monotonic() + 60
        while True:
            try:
                if running.request("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("make serve did not come up:\n" + running.log()[-3000:])
            time.sleep(0.3)
        yield running
    finally:
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        log.close()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        redis_client.flushdb()
        redis_client.close()


# ---------------------------------------------------------------- a browser, small

class Session:
    """Cookies and CSRF tokens across requests, no redirects followed."""

    def __init__(self, server):
        self.server, self.cookies = server, {}

    def request(self, method, path, form=None, request_id=None):
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if request_id:
            headers["X-Request-ID"] = request_id
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            for header, value in response.getheaders():
                if header.lower() == "set-cookie":
                    cookie_name, _, rest = value.partition("=")
                    self.cookies[cookie_name] = rest.split(";")[0]
            return response.status, dict(response.getheaders()), response.read().decode(errors="replace")
        finally:
            connection.close()

    def csrf_token(self, path):
        status, _, page = self.request("GET", path)
        assert status == 200
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)

    def login(self, role, username, password=DEMO_PASSWORD):
        token = self.csrf_token(f"/login/{role}")
        status, headers, _ = self.request("POST", f"/login/{role}",
                                          {"csrf_token": token, "username": username, "password": password})
        assert status == 302, status
        return headers["Location"]


# ---------------------------------------------------------------- the tests

def test_public_pages_and_a_console_login_work(server):
    status, headers, portal = server.request("GET", "/")
    assert status == 200 and "X-Request-ID" in headers
    for entry in ("企业端", "审核部门端", "防控中心端", "接种站端"):
        assert entry in portal
    status, _, body = server.request("GET", "/healthz")
    health = json.loads(body)
    assert status == 200 and health["database"] == "ok" and health["redis"] == "ok"
    assert health["migration"] == health["migration_head"] is not None
    status, _, _ = server.request("GET", "/register-qr.png")
    assert status == 200
    assert server.request("GET", "/static/css/app.css")[0] == 200

    browser = Session(server)
    assert browser.login("center", "center").endswith("/center/")
    status, _, console = browser.request("GET", "/center/")
    assert status == 200 and "防控中心" in console
    # the session cookie signed by one worker is accepted by the other
    workers = set()
    for index in range(30):
        status, _, _ = browser.request("GET", "/center/", request_id=f"console-{index}")
        assert status == 200
        workers.add(server.worker_of(f"console-{index}"))
        if len(workers) == 2:
            break
    assert len(workers) == 2, "every console request went to one worker"

    wrong = Session(server)
    token = wrong.csrf_token("/login/center")
    status, _, page = wrong.request("POST", "/login/center?search=120116199001011237",
                                    {"csrf_token": token, "username": "center", "password": "wrong-password"})
    assert status == 200 and "账号或密码错误" in page
    assert "120116199001011237" not in server.log() and "wrong-password" not in server.log()


def test_the_login_rate_limit_holds_across_both_workers(server):
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()  # forget the logins of the other tests
    browser = Session(server)
    token = browser.csrf_token("/login/review")
    form = {"csrf_token": token, "username": "nobody-" + uuid.uuid4().hex[:6], "password": "x" * 10}

    def attempt(index):
        status, _, _ = Session.request(browser, "POST", "/login/review", form, request_id=f"ratelimit-{index}")
        return status

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(attempt, range(30)))
    finally:
        redis.Redis.from_url(REDIS_URL).flushdb()  # let the next tests log in
    assert statuses.count(200) == 20, statuses  # the limit is 20 per minute: not 20 per worker
    assert statuses.count(429) == 10, statuses
    workers = {server.worker_of(f"ratelimit-{i}") for i in range(30)}
    assert len(workers) == 2, "both workers should have served some of the attempts"


def _open_stream(server, cookies, request_id):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    sock.sendall((f"GET /station/events HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                  f"Cookie: {cookie}\r\nX-Request-ID: {request_id}\r\n\r\n").encode())
    received = b""
    try:
        while b": connected" not in received:
            chunk = sock.recv(4096)
            assert chunk, received.decode(errors="replace")
            received += chunk
        assert received.startswith(b"HTTP/1.1 200") or received.startswith(b"HTTP/1.0 200"), received[:200]
    except BaseException:
        sock.close()
        raise
    return sock


def _valid_id_number():
    first17 = f"120116{datetime(1990, 5, 17):%Y%m%d}{secrets.randbelow(900) + 100}"
    return first17 + id_check_char(first17)


def test_a_card_read_reaches_the_desk_pages_on_every_worker_within_a_second(server):
    desk = Session(server)
    desk.login("station", "station01")
    streams = {}
    try:
        for index in range(12):
            request_id = f"stream-{index}"
            streams[request_id] = _open_stream(server, desk.cookies, request_id)
            if index >= 3 and len({server.worker_of(rid) for rid in streams}) == 2:
                break
        stream_workers = {rid: server.worker_of(rid) for rid in streams}
        assert len(set(stream_workers.values())) == 2, stream_workers

        reader = "部署测试台-" + uuid.uuid4().hex[:6]
        body = json.dumps({"read_id": str(uuid.uuid4()), "id_number": _valid_id_number(), "name": "测试",
                           "reader": reader, "read_at": datetime.now().astimezone().isoformat()})
        sent = time.monotonic()
        status, _, answer = server.request("POST", "/api/v1/card-reads", body=body, headers={
            "Authorization": f"Bearer {server.reader_token}", "Content-Type": "application/json",
            "X-Request-ID": "card-read-1"})
        assert status == 201, answer
        verdict = json.loads(answer)["verdict"]
        api_worker = server.worker_of("card-read-1")

        arrived = {}
        for rid, sock in streams.items():
            sock.settimeout(0.1)
            received = b""
            while b"event: card_read" not in received and time.monotonic() - sent < 3:
                try:
                    received += sock.recv(4096)
                except TimeoutError:
                    continue
            if b"event: card_read" in received:
                arrived[rid] = time.monotonic() - sent
                data = received.decode().split("event: card_read\ndata: ", 1)[1].split("\n", 1)[0]
                event = json.loads(data)
                assert event["reader"] == reader and event["verdict"] == verdict
    finally:
        for sock in streams.values():
            sock.close()
    assert set(arrived) == set(streams), f"missing on {set(streams) - set(arrived)}"
    other_worker = [rid for rid, pid in stream_workers.items() if pid != api_worker]
    assert other_worker, "some desk page must be on the worker that did not take the card read"
    assert max(arrived.values()) < 1.0, arrived


# ---------------------------------------------------------------- behind nginx (docs/deploy/nginx-binhai.conf)

SITE = REPO / "docs/deploy/nginx-binhai.conf"
HOST = "vaccine.binhai.example.cn"


@pytest.fixture(scope="module")
def proxy(server, tmp_path_factory):
    """nginx with the documented site file, its ports, certificate and paths swapped for test ones."""
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None:
        message = "nginx is not installed (scripts/install-system-packages.sh installs nginx-light)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    tmp = tmp_path_factory.mktemp("nginx")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={HOST}",
                    "-addext", f"subjectAltName=DNS:{HOST}", "-keyout", str(tmp / "key.pem"),
                    "-out", str(tmp / "cert.pem")], check=True, capture_output=True)
    http_port, https_port = _free_port(), _free_port()
    site = SITE.read_text()
    for old, new in [
        ("    listen [::]:80;\n", ""), ("    listen [::]:443 ssl http2;\n", ""),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{server.port};"),
        ("/etc/ssl/binhai/fullchain.pem", str(tmp / "cert.pem")),
        ("/etc/ssl/binhai/privkey.pem", str(tmp / "key.pem")),
        ("/opt/binhai/app/static/", str(REPO / "static") + "/"),
        ("/var/log/nginx/", str(tmp) + "/"),
    ]:
        assert old in site, f"the documented site no longer has {old!r}"
        site = site.replace(old, new)
    (tmp / "site.conf").write_text(site)
    temp_paths = "".join(f"    {kind}_temp_path {tmp}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi",
                                                                               "uwsgi", "scgi"))
    (tmp / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"worker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/main-error.log;\n"
        + "events { worker_connections 256; }\n"
        + f"http {{\n    include /etc/nginx/mime.types;\n{temp_paths}    access_log off;\n"
        + f"    include {tmp}/site.conf;\n}}\n")
    checked = subprocess.run([nginx, "-t", "-c", str(tmp / "nginx.conf"), "-p", str(tmp)],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen([nginx, "-c", str(tmp / "nginx.conf"), "-p", str(tmp), "-g", "daemon off;"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    context = ssl.create_default_context(cafile=str(tmp / "cert.pem"))
    context.check_hostname = False  # we connect to 127.0.0.1; the chain is still verified
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", https_port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.1)
        yield {"http": http_port, "https": https_port, "context": context, "dir": tmp}
    finally:
        process.terminate()
        process.wait(timeout=10)


def _via_proxy(proxy, method, path, body=None, headers=None):
    connection = http.client.HTTPSConnection("127.0.0.1", proxy["https"], context=proxy["context"], timeout=10)
    try:
        connection.request(method, path, body=body, headers={"Host": HOST, **(headers or {})})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_through_nginx_pages_static_files_and_request_ids(server, proxy):
    status, headers, body = _via_proxy(proxy, "GET", "/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"
    request_id = headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)  # nginx's $request_id, kept by the app
    server.worker_of(request_id)  # and on the app's log line

    status, headers, css = _via_proxy(proxy, "GET", "/static/css/app.css")
    assert status == 200 and css == (REPO / "static/css/app.css").read_bytes()
    assert "X-Request-ID" not in headers  # served by nginx from disk, not by the app

    plain = http.client.HTTPConnection("127.0.0.1", proxy["http"], timeout=5)
    plain.request("GET", "/login/center", headers={"Host": HOST})
    redirect = plain.getresponse()
    assert redirect.status == 301 and redirect.getheader("Location") == f"https://{HOST}/login/center"
    plain.close()

    status, headers, page = _via_proxy(proxy, "GET", "/login/center?search=120116199001011237")
    assert status == 200
    # a login over https through the proxy, as a browser sends it (CSRF checks the Referer on https)
    cookie = headers["Set-Cookie"].split(";")[0]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.decode()).group(1)
    status, headers, _ = _via_proxy(proxy, "POST", "/login/center", body=urllib.parse.urlencode(
        {"csrf_token": token, "username": "center", "password": DEMO_PASSWORD}), headers={
        "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded",
        "Referer": f"https://{HOST}/login/center"})
    assert status == 302 and headers["Location"].endswith("/center/")
    status, _, console = _via_proxy(proxy, "GET", "/center/", headers={"Cookie": headers["Set-Cookie"].split(";")[0]})
    assert status == 200 and "防控中心" in console.decode()
    deadline = time.monotonic() + 3
    while '"GET /login/center HTTP/1.1" 200' not in (proxy["dir"] / "binhai.access.log").read_text():
        assert time.monotonic() < deadline, "no access log line for the login page"
        time.sleep(0.05)
    assert "120116199001011237" not in (proxy["dir"] / "binhai.access.log").read_text()


def test_nginx_refuses_an_upload_over_its_limit(proxy):
    connection = http.client.HTTPSConnection("127.0.0.1", proxy["https"], context=proxy["context"], timeout=10)
    try:
        connection.putrequest("POST", "/enterprise/", skip_host=True)
        connection.putheader("Host", HOST)
        connection.putheader("Content-Length", str(25 * 1024 * 1024))
        connection.endheaders()
        assert connection.getresponse().status == 413
    finally:
        connection.close()


def test_a_card_read_reaches_a_desk_through_nginx_within_a_second(server, proxy):
    desk = Session(server)
    desk.login("station", "station01")
    raw = socket.create_connection(("127.0.0.1", proxy["https"]), timeout=10)
    stream = proxy["context"].wrap_socket(raw)
    cookie = "; ".join(f"{k}={v}" for k, v in desk.cookies.items())
    stream.sendall((f"GET /station/events HTTP/1.0\r\nHost: {HOST}\r\nAccept: text/event-stream\r\n"
                    f"Cookie: {cookie}\r\n\r\n").encode())
    received = b""
    try:
        while b": connected" not in received:
            chunk = stream.recv(4096)
            assert chunk, received
            received += chunk
        assert received.startswith(b"HTTP/1.1 200"), received[:300]
        reader = "经代理-" + uuid.uuid4().hex[:6]
        body = json.dumps({"read_id": str(uuid.uuid4()), "id_number": _valid_id_number(), "reader": reader,
                           "read_at": datetime.now().astimezone().isoformat()})
        sent = time.monotonic()
        status, _, answer = _via_proxy(proxy, "POST", "/api/v1/card-reads", body=body, headers={
            "Authorization": f"Bearer {server.reader_token}", "Content-Type": "application/json"})
        assert status == 201, answer
        stream.settimeout(0.2)
        while reader.encode() not in received and time.monotonic() - sent < 3:
            with contextlib.suppress(TimeoutError):
                received += stream.recv(4096)
        waited = time.monotonic() - sent
    finally:
        stream.close()
    assert reader.encode() in received, "the event did not come through nginx"
    assert waited < 1.0, waited  # nginx does not buffer the stream


def test_a_restart_does_not_wait_for_open_streams(server):
    desk = Session(server)
    desk.login("station", "station02")
    stream = _open_stream(server, desk.cookies, "stream-restart")
    old_worker = server.worker_of("stream-restart")
    started = time.monotonic()
    os.kill(server.master_pid(), signal.SIGHUP)  # graceful reload, as `systemctl reload` does
    stream.settimeout(10)
    try:
        while stream.recv(4096):
            pass
    except (ConnectionResetError, TimeoutError):
        pass
    closed_after = time.monotonic() - started
    stream.close()
    assert closed_after < 4.0, closed_after  # graceful_timeout = 2 s
    # the new workers serve
    deadline = time.monotonic() + 10
    while True:
        status, headers, _ = server.request("GET", "/healthz", headers={"X-Request-ID": f"after-{time.monotonic()}"})
        if status == 200 and server.worker_of(headers["X-Request-ID"]) != old_worker:
            break
        assert time.monotonic() < deadline, "no new worker after the reload"
        time.sleep(0.2)
