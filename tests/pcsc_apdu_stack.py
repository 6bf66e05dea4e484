"""A real PC/SC stack for readers that expose the holder's data over APDUs: pcscd, vpcd, a card we play.

This is not a resident ID card: a 2nd-generation ID card's data is encrypted and only a
certified reader's SAM decodes it (see tests/sam_device.py and tests/sdk_device.py for
those). It stands for readers and cards that hand out the data over plain APDUs
(reader_agent/apdu_profile.py), and tests the agent's PC/SC handling: insert, remove,
pcscd going away and coming back.

pcscd has one socket per host, so a file lock keeps test runs (and the SQLite and
PostgreSQL runs of `make test`, or two developers' runs) from using it at once. The
pcscd we start is recorded in a pid file and stopped by that pid; one left behind by a
crashed run is recognised by the same file and stopped before a new one starts.
"""

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
# Our pcscd reads its own reader.conf.d, moving vpcd's virtual reader from 35963 (inside the
# ephemeral range: any client socket, e.g. to PostgreSQL, may hold that port) to one below it.
VPCD_PORT = 31547
VPCD_READER = "Virtual PCD 00 00"
VPCD_CONFIG = Path("/etc/reader.conf.d/vpcd")
LOCK_FILE = Path(tempfile.gettempdir()) / "binhai-test-pcscd.lock"
OUR_PID_FILE = Path(tempfile.gettempdir()) / "binhai-test-pcscd.pid"

# The test card: our application id and a TLV record, written here independently of the agent.
AID = bytes.fromhex("F0") + b"BINHAIID"
ATR = bytes.fromhex("3B8880014249484149494401")


def unavailable(reason):
    """Skip where pcscd cannot run; in CI the stack must run, so fail instead."""
    if IN_CI:
        pytest.fail(f"PC/SC stack unavailable in CI: {reason}")
    pytest.skip(f"PC/SC stack unavailable: {reason}")


def apdu_record(id_number, name, sex="1", birth_date=""):
    out = b""
    for tag, value in ((1, id_number.encode()), (2, name.encode("utf-8")), (3, sex.encode()),
                       (4, (birth_date or id_number[6:14]).encode())):
        out += bytes((tag, len(value))) + value
    return out


def _alive(pid):
    """Whether `pid` is a running (not zombie) pcscd."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    name, state = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:][:1]
    return name == "pcscd" and state != "Z"


def _read_pid(path):
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _running_pcscd():
    """Pids of running pcscd processes (any owner)."""
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit() and _alive(entry.name)]


def _port_taken(port):
    """Whether vpcd could not listen on `port` now (bound without SO_REUSEADDR, as vpcd does)."""
    with socket.socket() as probe:
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return True
    return False


class PcscStack:
    """Our pcscd, started and stopped by pid, with the vpcd virtual reader."""

    def __init__(self, log_path):
        self.log_path = log_path
        self.process = None
        self._lock = None

    def acquire(self, timeout=600):
        if not shutil.which("pcscd"):
            unavailable("pcscd is not installed (apt-get install pcscd vsmartcard-vpcd)")
        if not VPCD_CONFIG.exists():
            unavailable("the vsmartcard-vpcd reader driver is not installed (apt-get install vsmartcard-vpcd)")
        self._lock = open(LOCK_FILE, "a")  # noqa: SIM115 - held until release()
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    unavailable("another test run kept the PC/SC stack for too long")
                time.sleep(0.5)
        self._stop_stale()
        deadline = min(deadline, time.monotonic() + 90)
        # Also wait out a pcscd we do not own and a vpcd port still held (TIME_WAIT lasts up to a minute).
        while _running_pcscd() or _port_taken(VPCD_PORT):
            if time.monotonic() > deadline:
                others = _running_pcscd()
                self.release()
                unavailable(f"a pcscd not started by these tests is running (pid {others}); stop it to run this test"
                            if others else f"TCP port {VPCD_PORT} of the virtual reader is in use")
            time.sleep(0.5)

    def _stop_stale(self):
        stale = _read_pid(OUR_PID_FILE)
        if stale and _alive(stale):
            os.kill(stale, signal.SIGTERM)
            for _ in range(50):
                if not _alive(stale):
                    break
                time.sleep(0.1)
        OUR_PID_FILE.unlink(missing_ok=True)

    def _reader_config(self):
        """A reader.conf.d with the vpcd reader on VPCD_PORT (the driver from the installed config)."""
        library = next(line.split(None, 1)[1].strip() for line in VPCD_CONFIG.read_text().splitlines()
                       if line.startswith("LIBPATH"))
        directory = self.log_path.parent / "reader.conf.d"
        directory.mkdir(exist_ok=True)
        (directory / "vpcd").write_text(f'FRIENDLYNAME "Virtual PCD"\nDEVICENAME /dev/null:0x{VPCD_PORT:X}\n'
                                        f"LIBPATH {library}\nCHANNELID 0x{VPCD_PORT:X}\n")
        return directory

    def start(self):
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(["pcscd", "--foreground", "--config", str(self._reader_config())],
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        OUR_PID_FILE.write_text(str(self.process.pid))
        if not self.wait_for_reader(10):
            self.stop()
            unavailable("pcscd could not be started: " + self.log_path.read_text()[-500:])

    def wait_for_reader(self, timeout):
        from smartcard.pcsc.PCSCExceptions import BaseSCardException
        from smartcard.System import readers

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if VPCD_READER in [str(r) for r in readers()]:
                    return True
            except BaseSCardException:
                pass
            time.sleep(0.05)
        return False

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        OUR_PID_FILE.unlink(missing_ok=True)

    def release(self):
        self.stop()
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None


class VirtualApduCard:
    """A card in the virtual reader, answering APDUs over the vpcd socket (2-byte length frames)."""

    def __init__(self, record, aid=AID, port=VPCD_PORT):
        self.record = record
        self.aid = aid
        self.port = port
        self.sock = None
        self.thread = None
        self.apdus = 0

    def insert(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(None)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        return self

    def remove(self):
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
            self.sock.close()
            self.sock = None
        if self.thread is not None:
            self.thread.join(5)

    def _receive(self, count):
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def _send(self, payload):
        self.sock.sendall(struct.pack(">H", len(payload)) + payload)
        if hasattr(socket, "TCP_QUICKACK"):
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)

    def _serve(self):
        selected = False
        try:
            while True:
                (length,) = struct.unpack(">H", self._receive(2))
                message = self._receive(length)
                if len(message) == 1:  # control: 00 off, 01 on, 02 reset, 04 ATR
                    if message[0] == 0x04:
                        self._send(ATR)
                    continue
                self.apdus += 1
                answer, selected = self._answer(message, selected)
                self._send(answer)
        except (EOFError, OSError):
            return

    def _answer(self, apdu, selected):
        ins = apdu[1]
        if ins == 0xA4:
            chosen = apdu[5:5 + apdu[4]] == self.aid
            return (b"\x90\x00", True) if chosen else (b"\x6a\x82", False)
        if ins == 0xB0:
            return (self.record + b"\x90\x00", selected) if selected else (b"\x69\x86", selected)
        return b"\x6d\x00", selected
