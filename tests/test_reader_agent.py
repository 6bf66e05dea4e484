"""The reader agent: ID check, card profile, backends, the on-disk queue, and delivery through outages."""

import io
import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from models import CardRead
from reader_agent import apdu_profile, idcard
from reader_agent.agent import Agent
from reader_agent.backends import CardData
from reader_agent.backends.keyboard import KeyboardBackend
from reader_agent.backends.simulate import SimulatedBackend
from reader_agent.outbox import Outbox
from tests.agent_support import free_port, start_agent, stop, wait_for
from tests.conftest import make_id_number
from tests.pcsc_apdu_stack import PcscStack, VirtualApduCard, apdu_record

REPO = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- pieces

@pytest.mark.parametrize("number", ["11010519491231002X", "440524188001010014", "11010219840406970X"])
def test_valid_id_numbers_pass_the_agents_own_check(number):
    assert idcard.problem(number) is None


@pytest.mark.parametrize(("number", "problem"), [
    ("11010519491230002X", "wrong check character"),
    ("110105194902300025", "birth date does not exist"),
    ("990105194912310023", "unknown region code"),
    ("1101051949123100", "not 17 digits and a check character"),
    ("1١٠١٠٥١٩٤٩١٢٣١٠٠٢X", "not 17 digits and a check character"),
])
def test_invalid_id_numbers_are_caught_before_posting(number, problem):
    assert idcard.problem(number) == problem


def test_agent_does_not_import_the_server():
    code = ("import sys, reader_agent.__main__, reader_agent.backends.pcsc, reader_agent.backends.keyboard, "
            "reader_agent.backends.simulate, reader_agent.backends.sam_serial, reader_agent.backends.sdk, serial, "
            "evdev; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'app','models','admin_views','public_forms','services','api','extensions','flask','sqlalchemy'}))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_keyboard_wedge_lines_become_reads_and_junk_is_ignored():
    lines = io.StringIO("11010519491231002x\r\n\nhello\n  ID:440524188001010014;\n")
    cards = []
    KeyboardBackend(label="前台键盘读卡器", stream=lines).run(cards.append, threading.Event())
    assert [(c.id_number, c.reader) for c in cards] == [("11010519491231002X", "前台键盘读卡器"),
                                                        ("440524188001010014", "前台键盘读卡器")]


def test_card_record_round_trips_with_a_chinese_name():
    raw = apdu_profile.encode_record("11010519491231002X", "欧阳晓东", "1", "19491231")
    assert apdu_profile.decode_record(raw + b"\x00" * 8) == apdu_profile.CardRecord(
        "11010519491231002X", "欧阳晓东", "1", "19491231")


class FakeCard:
    """A card answering our profile, optionally with the 6Cxx / 61xx length dance of real cards."""

    def __init__(self, record, dance=False, aid=apdu_profile.AID):
        self.record, self.dance, self.aid, self.selected, self.apdus = record, dance, aid, False, []

    def transmit(self, apdu):
        self.apdus.append(apdu)
        ins = apdu[1]
        if ins == 0xA4:
            self.selected = bytes(apdu[5:5 + apdu[4]]) == self.aid
            return ([], 0x90, 0x00) if self.selected else ([], 0x6A, 0x82)
        if ins == 0xB0:
            if not self.selected:
                return [], 0x69, 0x86
            if self.dance and apdu[4] != len(self.record):
                return [], 0x6C, len(self.record)
            if self.dance:
                return list(self.record[:10]), 0x61, len(self.record) - 10
            return list(self.record), 0x90, 0x00
        if ins == 0xC0:
            return list(self.record[10:]), 0x90, 0x00
        return [], 0x6D, 0x00


@pytest.mark.parametrize("dance", [False, True])
def test_apdu_profile_reads_the_record_over_apdus(dance):
    card = FakeCard(apdu_profile.encode_record("440524188001010014", "李明"), dance=dance)
    record = apdu_profile.read_record(card.transmit)
    assert (record.id_number, record.name) == ("440524188001010014", "李明")
    assert card.apdus[0][:4] == [0x00, 0xA4, 0x04, 0x00]


def test_a_card_of_another_application_is_refused():
    card = FakeCard(apdu_profile.encode_record("440524188001010014"), aid=b"\xa0\x00\x00\x00\x03")
    with pytest.raises(apdu_profile.CardProfileError, match="6A82"):
        apdu_profile.read_record(card.transmit)


@pytest.mark.parametrize("raw", [b"\x01\x12110105", b"\x02\x04\xe6\x9d\x8e\xe6", b"\x02\x03\xe6\x9d\x8e"])
def test_a_broken_record_is_refused(raw):
    with pytest.raises(apdu_profile.CardProfileError):
        apdu_profile.decode_record(raw)


def test_outbox_keeps_order_across_restarts_and_is_private(tmp_path):
    path = tmp_path / "queue.sqlite3"
    outbox = Outbox(path)
    for n in range(3):
        outbox.put({"read_id": f"r{n}", "id_number": "x"})
    outbox.put({"read_id": "r1", "id_number": "x"})  # the same read twice is kept once
    outbox.close()
    again = Outbox(path)
    seq, first = again.head()
    assert first["read_id"] == "r0" and len(again) == 3
    again.remove(seq)
    assert again.head()[1]["read_id"] == "r1"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again.close()


def test_invalid_cards_are_dropped_without_logging_the_number(tmp_path, caplog):
    agent = Agent(SimulatedBackend([]), tmp_path / "q.sqlite3", "http://127.0.0.1:9", "token")
    agent.on_card(CardData(id_number="11010519491230002X", name="王五", reader="sim"))
    agent.on_card(CardData(id_number="11010519491231002x", name="王五", reader="sim"))
    assert len(agent.outbox) == 1 and agent.outbox.head()[1]["id_number"] == "11010519491231002X"
    assert "wrong check character" in caplog.text
    assert "1101051949123" not in caplog.text and "王五" not in caplog.text
    agent.outbox.close()


# ---------------------------------------------------------------- delivery through a real server

def queued(path):
    if not path.exists():
        return 0
    with sqlite3.connect(path) as connection:
        try:
            return connection.execute("SELECT count(*) FROM pending_read").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def simulated_agent(token, server_url, tmp_path, *cards):
    args = ["--backend", "simulate", "--interval", "0.1", "--reader", "模拟读卡器", "--exit-when-done"]
    for card in cards:
        args += ["--card", card]
    return start_agent(token, server_url, tmp_path, *args)


def test_reads_made_while_the_server_is_down_arrive_once_and_in_order(db, serve, reader_token, tmp_path):
    numbers = [make_id_number() for _ in range(3)]
    port = free_port()
    queue_path = tmp_path / "queue.sqlite3"
    agent, log_path = simulated_agent(reader_token, f"http://127.0.0.1:{port}", tmp_path,
                                      *(f"{n},测试{i}" for i, n in enumerate(numbers)))
    try:
        assert wait_for(lambda: queued(queue_path) == 3, 15), log_path.read_text()
        time.sleep(1.0)  # a few more failed attempts while the server stays down
        assert db.session.execute(select(CardRead)).first() is None
        serve(port)
        assert agent.wait(timeout=30) == 0
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
    reads = db.session.execute(select(CardRead).order_by(CardRead.id)).scalars().all()
    assert [r.id_number for r in reads] == numbers
    assert len({r.read_id for r in reads}) == 3 and queued(queue_path) == 0
    assert {r.reader for r in reads} == {"模拟读卡器"}
    log = log_path.read_text()
    assert "无法连接服务器" in log and "服务器已恢复" in log
    assert not any(n in log for n in numbers) and "测试" not in log  # no personal data in the log


def test_a_delivery_whose_answer_was_lost_is_not_stored_twice(db, serve, reader_token, tmp_path):
    """The agent resends a read the server already has: the server answers 200, one row stays."""
    url = serve(free_port())
    number = make_id_number()
    outbox = Outbox(tmp_path / "queue.sqlite3")
    payload = {"read_id": "6f1c1b2e-8a55-4c1e-9a3f-2f6d7f0c1a11", "id_number": number}
    outbox.put(payload)
    outbox.close()
    from reader_agent.sender import post_read

    assert post_read(url, reader_token, payload).status == 201  # stored; pretend the answer got lost
    second = make_id_number()
    agent, log_path = simulated_agent(reader_token, url, tmp_path, second)
    assert agent.wait(timeout=30) == 0
    stored = db.session.execute(select(CardRead.id_number).order_by(CardRead.id)).scalars().all()
    assert stored == [number, second]
    assert "读卡已上传 read_id=6f1c1b2e-8a55-4c1e-9a3f-2f6d7f0c1a11 结果=未登记 (HTTP 200)" in log_path.read_text()


def test_a_revoked_token_keeps_the_reads_queued_and_says_so(db, serve, reader_token, tmp_path):
    url = serve(free_port())
    queue_path = tmp_path / "queue.sqlite3"
    agent, log_path = simulated_agent("rdr_revoked-or-wrong", url, tmp_path, make_id_number())
    try:
        assert wait_for(lambda: "令牌" in log_path.read_text(), 15)
        assert queued(queue_path) == 1
    finally:
        agent.terminate()
        agent.wait(10)
    assert "请检查 READER_TOKEN" in log_path.read_text()
    assert queued(queue_path) == 1  # still there for when the token is fixed


# ---------------------------------------------------------------- a real PC/SC stack with an APDU card

@pytest.fixture
def pcsc(tmp_path):
    """The PC/SC stack, locked for this test, pcscd not yet started."""
    stack = PcscStack(tmp_path / "pcscd.log")
    stack.acquire()
    yield stack
    stack.release()


def reads(db):
    db.session.rollback()
    return db.session.execute(select(CardRead.id_number, CardRead.reader).order_by(CardRead.id)).all()


@pytest.mark.slow
def test_agent_waits_for_pcscd_then_reads_apdu_cards_and_survives_a_pcscd_restart(db, pcsc, serve, reader_token,
                                                                              tmp_path):
    url = serve(free_port())
    agent, log_path = start_agent(reader_token, url, tmp_path, "--backend", "pcsc")
    first, second = make_id_number(), make_id_number()
    try:
        assert wait_for(lambda: "pcscd 未运行" in log_path.read_text(), 15), log_path.read_text()
        pcsc.start()
        assert wait_for(lambda: "读卡器就绪" in log_path.read_text(), 15), log_path.read_text()
        card = VirtualApduCard(apdu_record(first, "王晓东")).insert()
        inserted = time.monotonic()
        assert wait_for(lambda: len(reads(db)) == 1, 10), log_path.read_text()
        seen_after = time.monotonic() - inserted
        card.remove()
        assert reads(db) == [(first, "Virtual PCD 00 00")]

        pcsc.stop()  # pcscd goes away under the agent, and comes back
        assert wait_for(lambda: log_path.read_text().count("读卡器就绪") == 1 and (
            "PC/SC 服务或读卡器出错" in log_path.read_text() or log_path.read_text().count("pcscd 未运行") > 1), 15)
        pcsc.start()
        assert wait_for(lambda: log_path.read_text().count("读卡器就绪") == 2, 15), log_path.read_text()
        card = VirtualApduCard(apdu_record(second, "李明")).insert()
        assert wait_for(lambda: len(reads(db)) == 2, 10), log_path.read_text()
        card.remove()
    finally:
        stop(agent)
    assert [number for number, _ in reads(db)] == [first, second]
    log = log_path.read_text()
    assert first not in log and second not in log and "王晓东" not in log
    print(f"card insertion to stored read: {seen_after:.2f} s")
    assert seen_after < 3


@pytest.mark.slow
def test_agent_reports_a_missing_reader_and_refuses_foreign_cards(db, pcsc, serve, reader_token, tmp_path):
    url = serve(free_port())
    pcsc.start()
    agent, log_path = start_agent(reader_token, url, tmp_path, "--backend", "pcsc", "--reader", "ACS ACR1281")
    try:
        assert wait_for(lambda: "未检测到名称含“ACS ACR1281”的读卡器" in log_path.read_text(), 15)
    finally:
        stop(agent)
    agent, log_path = start_agent(reader_token, url, tmp_path, "--backend", "pcsc", "--reader", "Virtual PCD 00 00")
    try:
        assert wait_for(lambda: "读卡器就绪" in log_path.read_text(), 15), log_path.read_text()
        # A bank card: another application, so SELECT of ours answers 6A82.
        foreign = VirtualApduCard(apdu_record(make_id_number(), "某人"), aid=bytes.fromhex("A0000000031010")).insert()
        assert wait_for(lambda: "不支持的卡片" in log_path.read_text(), 10), log_path.read_text()
        foreign.remove()
    finally:
        stop(agent)
    assert reads(db) == []
