"""The serial SAM backend against a reader simulated on a pseudo-terminal (tests/sam_device.py)."""

import logging
import threading
import time
from datetime import date

import pytest
from sqlalchemy import select

from models import CardRead
from reader_agent import id_text, sam
from reader_agent.backends.sam_serial import SamSerialBackend
from tests.agent_support import free_port, start_agent, stop, wait_for
from tests.conftest import make_id_number
from tests.sam_device import SimulatedSam, text_block

RARE_NAME = "李䶮"  # 䶮 U+4DAE, CJK Extension A
FULL_ADDRESS = "天津市滨海新区新港街道塘沽海洋高新技术开发区第三大街一百二十八号院七号"  # 35 characters


def test_the_find_card_frame_is_the_published_one():
    assert sam.request_frame(sam.FIND_CARD).hex(" ").upper() == "AA AA AA 96 69 00 03 20 01 22"


def test_the_text_block_decodes_rare_characters_a_full_address_and_long_term_validity():
    assert len(FULL_ADDRESS) == 35
    block = text_block(RARE_NAME, "11010519491231002X", address=FULL_ADDRESS, valid_from="20100101",
                       valid_until="长期", sex="2", nation="03")
    fields = id_text.decode(block)
    assert (fields["name"], fields["id_number"], fields["address"]) == (RARE_NAME, "11010519491231002X", FULL_ADDRESS)
    assert (fields["sex_code"], fields["nation_code"], fields["birth_date"]) == ("2", "03", date(1949, 12, 31))
    assert fields["valid_from"] == date(2010, 1, 1) and fields["valid_until"] is None and fields["long_term"]
    assert fields["authority"] == "天津市公安局滨海分局" and fields["card_type"] == "resident_id"


def test_card_types_are_told_apart():
    assert id_text.decode(text_block("陈大文", "810000199001011230", flag="J"))["card_type"] == "residence_permit"
    with pytest.raises(id_text.UnsupportedCard):
        id_text.decode(text_block("JOHN", "11010519491231002X", flag="I"))
    with pytest.raises(id_text.TextBlockError, match="valid_until"):
        id_text.decode(text_block("王五", "11010519491231002X", valid_until="20351301"))


def test_damaged_frames_are_refused_and_split_ones_joined():
    good = bytes.fromhex("AAAAAA9669 0008 00009F 00000000") + bytes((0x08 ^ 0x9F,))
    pieces = [b"\x00\xff", good[:3], good[3:9], good[9:], good[:-1] + b"\x00"]
    reader = sam.FrameReader(lambda n: pieces.pop(0) if pieces else b"")
    assert reader.next_response().outcome == sam.FOUND
    with pytest.raises(sam.FrameError, match="checksum"):
        reader.next_response()
    with pytest.raises(sam.ReaderTimeout):
        reader.next_response(timeout=0.1)


# ---------------------------------------------------------------- the backend against the device

@pytest.fixture
def reader(tmp_path, caplog):
    caplog.set_level(logging.INFO, "reader_agent")
    device = SimulatedSam(tmp_path / "ttyUSB-IDCARD").plug()
    yield device
    if device._master is not None:
        device.pull()


class Running:
    """The backend polling in a thread; the cards it reports."""

    def __init__(self, backend):
        self.backend, self.cards, self.stop = backend, [], threading.Event()
        self.thread = threading.Thread(target=backend.run, args=(self.cards.append, self.stop), daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)
        assert not self.thread.is_alive()

    def wait_cards(self, count, timeout=5):
        deadline = time.monotonic() + timeout
        while len(self.cards) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(self.cards) == count


def wait_log(caplog, text, timeout=5, count=1):
    deadline = time.monotonic() + timeout
    while caplog.text.count(text) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return caplog.text.count(text) >= count


def backend_for(device):
    return SamSerialBackend(str(device.link), retry_seconds=0.2, answer_timeout=0.5, label="入口1号台")


def test_a_card_is_read_once_while_it_lies_on_the_reader_and_again_when_put_back(reader, caplog):
    with Running(backend_for(reader)) as running:
        assert wait_log(caplog, "读卡器就绪")
        reader.place(text_block(RARE_NAME, "11010519491231002X", address=FULL_ADDRESS, valid_until="长期"))
        started = time.monotonic()
        assert running.wait_cards(1)
        took = time.monotonic() - started
        time.sleep(0.5)
        assert len(running.cards) == 1  # still on the reader: not read again
        reader.take_off()
        time.sleep(0.8)
        reader.place(text_block(RARE_NAME, "11010519491231002X", valid_until="20300101"))
        assert running.wait_cards(2)
    first, second = running.cards
    assert (first.name, first.id_number, first.reader) == (RARE_NAME, "11010519491231002X", "入口1号台")
    assert first.long_term and first.valid_until is None and first.valid_from == date(2015, 3, 1)
    assert second.valid_until == date(2030, 1, 1) and not second.long_term
    assert reader.count("3001") == 2 and reader.count("2002") == 2
    assert "身份证已取走（未找到身份证（读卡区无卡））" in caplog.text  # SW3 80: no card, said once per removal
    assert caplog.text.count("身份证已取走") == 1
    assert took < 1.0, took


def test_bad_checksums_split_answers_and_noise_are_survived(reader, caplog):
    reader.split = True
    reader.faults.extend([("2001", "bad_checksum"), ("2001", "noise"), ("3001", "sw3=10"), ("3001", "bad_checksum")])
    with Running(backend_for(reader)) as running:
        assert wait_log(caplog, "读卡器就绪")
        reader.place(text_block("王晓东", "440524188001010014"))
        assert running.wait_cards(1)
    assert running.cards[0].name == "王晓东" and running.cards[0].id_number == "440524188001010014"
    assert "读卡器应答校验和错误" in caplog.text
    assert "读卡器报告：安全模块收到的数据校验和错误（SW3=0x10）" in caplog.text


@pytest.mark.parametrize(("fault", "message"), [
    ("2002", "选卡失败（身份证未放稳或不能选中）（SW3=0x81）"),
    ("3001", "读卡失败（身份证被移开或读卡中断）（SW3=0x41）"),
])
def test_sam_status_codes_are_told_apart_in_the_log(reader, caplog, fault, message):
    reader.faults.append((fault, "sw3=" + message.rsplit("0x", 1)[1][:2]))
    with Running(backend_for(reader)) as running:
        reader.place(text_block("王晓东", "440524188001010014"))
        assert running.wait_cards(1)  # the next poll reads it
    assert message in caplog.text


def test_a_silent_reader_is_retried_then_reported(reader, caplog):
    reader.faults.extend([("11ff", "silence")] * 3)
    with Running(backend_for(reader)):
        assert wait_log(caplog, "读卡器无应答")
        assert wait_log(caplog, "读卡器就绪", timeout=8)
    assert f"串口 {reader.link} 已打开，但读卡器无应答" in caplog.text


def test_a_pulled_cable_is_reported_and_the_reader_comes_back(reader, caplog):
    with Running(backend_for(reader)) as running:
        assert wait_log(caplog, "读卡器就绪")
        reader.pull()
        assert wait_log(caplog, "已断开")
        assert wait_log(caplog, "无法打开读卡器串口")
        reader.plug()
        assert wait_log(caplog, "读卡器就绪", count=2)
        reader.place(text_block("赵候诊", "11010219840406970X"))
        assert running.wait_cards(1)
    assert running.cards[0].id_number == "11010219840406970X"


def test_a_missing_port_says_so(tmp_path, caplog):
    caplog.set_level(logging.INFO, "reader_agent")
    backend = SamSerialBackend(str(tmp_path / "ttyUSB9"), retry_seconds=0.2)
    with Running(backend):
        assert wait_log(caplog, f"无法打开读卡器串口 {tmp_path / 'ttyUSB9'}")


# ---------------------------------------------------------------- the agent, the reader and the server

def test_the_agent_posts_a_card_from_the_serial_reader_and_survives_a_pulled_cable(db, serve, reader_token, reader,
                                                                                    tmp_path):
    url = serve(free_port())
    agent, log_path = start_agent(reader_token, url, tmp_path, "--backend", "sam-serial", "--port", str(reader.link))
    first, second = make_id_number(), make_id_number()
    try:
        assert wait_for(lambda: "读卡器就绪" in log_path.read_text(), 15), log_path.read_text()
        reader.place(text_block(RARE_NAME, first, address=FULL_ADDRESS))
        placed = time.monotonic()
        assert wait_for(lambda: stored_numbers(db) == [first], 10), log_path.read_text()
        took = time.monotonic() - placed
        reader.pull()
        assert wait_for(lambda: "已断开" in log_path.read_text(), 10), log_path.read_text()
        reader.take_off()
        reader.plug()
        assert wait_for(lambda: log_path.read_text().count("读卡器就绪") == 2, 15), log_path.read_text()
        reader.place(text_block("王晓东", second))
        assert wait_for(lambda: stored_numbers(db) == [first, second], 10), log_path.read_text()
    finally:
        stop(agent)
    log = log_path.read_text()
    assert first not in log and RARE_NAME not in log and FULL_ADDRESS not in log
    print(f"card on the serial reader to stored read: {took:.2f} s")
    assert took < 1.0


def stored_numbers(db):
    db.session.rollback()
    return db.session.execute(select(CardRead.id_number).order_by(CardRead.id)).scalars().all()
