"""The vendor-SDK backend (ctypes) against a library with the sdtapi and termb signatures, built with gcc."""

import logging
import time
from datetime import date

import pytest
from sqlalchemy import select

from models import CardRead
from reader_agent.backends.sdk import SdkBackend
from tests.agent_support import free_port, start_agent, stop, wait_for
from tests.conftest import make_id_number
from tests.sdk_device import StubReader, build_library
from tests.test_reader_sam_serial import FULL_ADDRESS, RARE_NAME, Running, wait_log

LIBRARY = {"sdtapi": "libsdtapi.so", "termb": "libtermb.so"}


@pytest.fixture(params=["sdtapi", "termb"])
def family(request):
    return request.param


@pytest.fixture
def stub(tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.INFO, "reader_agent")
    reader = StubReader(tmp_path / "reader")
    monkeypatch.setenv("IDCARD_STUB_DIR", str(reader.dir))
    return reader


def backend(family, library, port=1001):
    return SdkBackend(family, str(library), port=port, retry_seconds=0.2, label="入口1号台")


def test_a_card_is_read_through_the_library_once_per_placing(family, stub, tmp_path, monkeypatch, caplog):
    library = build_library(tmp_path, LIBRARY[family])
    monkeypatch.chdir(tmp_path)  # the agent's working directory, where termb writes its files
    with Running(backend(family, library)) as running:
        stub.place(RARE_NAME, "11010519491231002X", address=FULL_ADDRESS, valid_until="长期")
        placed = time.monotonic()
        assert running.wait_cards(1)
        took = time.monotonic() - placed
        time.sleep(0.4)
        assert len(running.cards) == 1  # lying on the reader: not read again
        stub.take_off()
        time.sleep(0.4)
        stub.place("王晓东", "440524188001010014", valid_from="20100101", valid_until="20200101")
        assert running.wait_cards(2)
    first, second = running.cards
    assert (first.name, first.id_number, first.reader) == (RARE_NAME, "11010519491231002X", "入口1号台")
    assert first.long_term and first.valid_until is None and first.card_type == "resident_id"
    assert (second.valid_from, second.valid_until) == (date(2010, 1, 1), date(2020, 1, 1))
    read = "SDT_ReadBaseMsg" if family == "sdtapi" else "CVR_Read_Content"
    assert stub.calls(read) == 2
    assert "身份证已取走（未找到身份证（读卡区无卡））" in caplog.text
    assert not (tmp_path / "wz.txt").exists() and not (tmp_path / "zp.bmp").exists()  # termb's files removed
    assert took < 1.0


@pytest.mark.parametrize(("family_name", "function", "code", "message"), [
    ("sdtapi", "SDT_SelectIDCard", 0x81, "选卡失败（身份证未放稳或不能选中）（返回码 0x81）"),
    ("sdtapi", "SDT_ReadBaseMsg", 0x41, "读卡失败（身份证被移开或读卡中断）（返回码 0x41）"),
    ("sdtapi", "SDT_StartFindIDCard", 0x60, "寻卡失败：安全模块自检失败（返回码 0x60）"),
    ("termb", "CVR_Read_Content", 0, "读卡失败（身份证被移开或读卡中断）（返回码 0）"),
    ("termb", "CVR_Authenticate", 99, "寻卡失败：未知返回码 99"),
])
def test_return_codes_are_mapped_to_clear_messages(stub, tmp_path, caplog, family_name, function, code, message):
    library = build_library(tmp_path, LIBRARY[family_name])
    stub.plant(function, code)
    with Running(backend(family_name, library)) as running:
        stub.place("王晓东", "440524188001010014")
        assert running.wait_cards(1)  # the next poll reads it
    assert message in caplog.text


def test_an_unplugged_reader_is_reported_and_comes_back(family, stub, tmp_path, caplog):
    library = build_library(tmp_path, LIBRARY[family])
    with Running(backend(family, library)) as running:
        assert wait_log(caplog, "读卡器就绪")
        stub.unplug()
        assert wait_log(caplog, "读卡器连接中断")
        assert wait_log(caplog, "读卡器未连接")
        stub.plug()
        assert wait_log(caplog, "读卡器就绪", count=2)
        stub.place("赵候诊", "11010219840406970X")
        assert running.wait_cards(1)


def test_a_missing_library_says_what_to_do_and_is_loaded_once_installed(family, stub, tmp_path, caplog):
    path = tmp_path / "vendor" / LIBRARY[family]
    with Running(backend(family, path)) as running:
        assert wait_log(caplog, f"无法加载读卡器厂商库 {path}")
        assert "请安装读卡器厂商驱动，或用 --library 指定库文件的完整路径" in caplog.text
        path.parent.mkdir()
        build_library(path.parent, path.name)  # the driver gets installed
        assert wait_log(caplog, "读卡器就绪")
        stub.place("王晓东", "440524188001010014")
        assert running.wait_cards(1)


def test_a_library_of_another_family_is_named_as_such(stub, caplog):
    with Running(SdkBackend("sdtapi", "libm.so.6", retry_seconds=0.2)):
        assert wait_log(caplog, "厂商库 libm.so.6 缺少函数 SDT_OpenPort")


def test_the_agent_posts_cards_read_through_the_sdk(db, serve, reader_token, family, stub, tmp_path):
    library = build_library(tmp_path, LIBRARY[family])
    url = serve(free_port())
    agent, log_path = start_agent(reader_token, url, tmp_path, "--backend", "sdk", "--sdk", family,
                                  "--library", str(library), "--sdk-port", "1001")
    number = make_id_number()
    try:
        assert wait_for(lambda: "读卡器就绪" in log_path.read_text(), 15), log_path.read_text()
        stub.place(RARE_NAME, number)
        placed = time.monotonic()
        assert wait_for(lambda: stored(db) == [number], 10), log_path.read_text()
        took = time.monotonic() - placed
    finally:
        stop(agent)
    assert number not in log_path.read_text()
    print(f"card on the {family} reader to stored read: {took:.2f} s")
    assert took < 1.0


def stored(db):
    db.session.rollback()
    return db.session.execute(select(CardRead.id_number).order_by(CardRead.id)).scalars().all()
