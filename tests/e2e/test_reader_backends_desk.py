"""Each reader backend end to end: a card on the simulated reader, the agent, the server, the desk page live.

The readers are the tests' simulators of the real interfaces: a SAM answering frames on a
pseudo-terminal, a library with the sdtapi / termb signatures built with gcc, a
keyboard-wedge line on the agent's stdin. Timed from placing the card to the person
shown on the desk page.
"""

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from models import Person, now
from tests.conftest import TEST_PASSWORD, make_id_number
from tests.sam_device import SimulatedSam, text_block
from tests.sdk_device import StubReader, build_library

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
FULL_ADDRESS = "天津市滨海新区新港街道塘沽海洋高新技术开发区第三大街一百二十八号院七号"  # fills its 70 bytes


@pytest.fixture
def desk(reader_desk):
    return reader_desk("xinhe-backends", {"rare": "李䶮", "expired": "欧阳晓东"})


class SerialReader:
    """The SAM on a pseudo-terminal, for --backend sam-serial."""

    def __init__(self, tmp_path):
        self.device = SimulatedSam(tmp_path / "ttyUSB-IDCARD").plug()
        self.args, self.env = ["--backend", "sam-serial", "--port", str(self.device.link)], {}

    def place(self, person, valid_until, name=None):
        self.device.place(text_block(name or person.name, person.id_number, address=FULL_ADDRESS,
                                     valid_until=valid_until))

    def take_off(self):
        self.device.take_off()

    def close(self):
        self.device.pull()


class SdkReader:
    """The vendor library stand-in, for --backend sdk --sdk FAMILY."""

    def __init__(self, tmp_path, family):
        library = build_library(tmp_path, f"lib{family}.so")
        self.stub = StubReader(tmp_path / "reader")
        self.args = ["--backend", "sdk", "--sdk", family, "--library", str(library), "--sdk-port", "1001"]
        self.env = {"IDCARD_STUB_DIR": str(self.stub.dir)}

    def place(self, person, valid_until, name=None):
        self.stub.place(name or person.name, person.id_number, address=FULL_ADDRESS, valid_until=valid_until)

    def take_off(self):
        self.stub.take_off()

    def close(self):
        pass


class WedgeReader:
    """A keyboard-wedge reader typing into the agent's stdin (number only: no validity period)."""

    def __init__(self, tmp_path):
        self.args, self.env, self.agent = ["--backend", "keyboard", "--reader", "键盘式读卡器"], {}, None

    def place(self, person, valid_until, name=None):
        self.agent.stdin.write(f"{person.id_number.lower()}\n".encode())
        self.agent.stdin.flush()

    def take_off(self):
        pass

    def close(self):
        pass


READERS = {"sam-serial": SerialReader, "sdtapi": lambda p: SdkReader(p, "sdtapi"),
           "termb": lambda p: SdkReader(p, "termb"), "keyboard": WedgeReader}


@pytest.mark.parametrize("kind", list(READERS))
def test_a_card_on_each_kind_of_reader_appears_on_the_desk_within_a_second(page, base_url, browser_login, screenshot,
                                                                            desk, tmp_path, kind):
    reader = READERS[kind](tmp_path)
    browser_login(page, "station", "xinhe-backends", TEST_PASSWORD)
    expect(page.locator("#live-status")).to_have_attribute("data-state", "open")
    page.wait_for_load_state()
    log_path = tmp_path / "agent.log"
    env = {**os.environ, "READER_TOKEN": desk["token"], "PYTHONPATH": str(REPO), **reader.env}
    with open(log_path, "w") as log:
        agent = subprocess.Popen([sys.executable, "-m", "reader_agent", "--server", base_url, "--queue",
                                  str(tmp_path / "queue.sqlite3"), *reader.args], cwd=REPO, env=env,
                                 stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log)
    reader.agent = agent
    panel = page.locator("#read-panel .read-card")
    timings, placed_at = [], []
    try:
        if kind != "keyboard":
            deadline = time.monotonic() + 15
            while "读卡器就绪" not in log_path.read_text() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert "读卡器就绪" in log_path.read_text(), log_path.read_text()
        # A first card warms up what a desk that has been running keeps warm (the agent's connection,
        # the server's statements, the page's first fetch); it is shown, not timed.
        stranger = Person(name="陈未登", id_number=make_id_number())
        reader.place(stranger, "20300101")
        started = time.monotonic()
        expect(panel.locator(".id-number")).to_have_text(stranger.id_number, timeout=5000)
        first_read = time.monotonic() - started
        expect(panel).to_contain_text("未登记")
        reader.take_off()
        time.sleep(0.3)
        expired_on = (now().date() - timedelta(days=1)).strftime("%Y%m%d")
        for key, valid_until in (("rare", "长期"), ("expired", expired_on)):
            person = desk[key]
            reader.place(person, valid_until)
            placed = time.monotonic()
            placed_at.append(datetime.now().strftime("%H:%M:%S.%f")[:-3])
            expect(panel.locator(".id-number")).to_have_text(person.id_number, timeout=5000)
            timings.append(time.monotonic() - placed)
            expect(panel.locator(".person-name")).to_have_text(person.name)
            expect(panel.locator(".name-mismatch")).to_have_count(0)  # the card's name arrived exactly (䶮)
            expect(panel).to_contain_text("本站已预约")
            if kind == "keyboard":
                expect(panel.locator(".card-expired")).to_have_count(0)  # a wedge reader gives no validity
            elif key == "expired":
                expect(panel.locator(".card-expired-label")).to_have_text("证件已过期")
                expect(panel.get_by_role("button", name="仍然登记")).to_be_visible()
            else:
                expect(panel.locator(".card-validity")).to_contain_text("长期")
                expect(panel.locator(".card-expired")).to_have_count(0)
            screenshot(page, f"station-desk-{kind}-{key}")
            reader.take_off()
            time.sleep(0.3)  # the reader sees the card gone before the next one
        if kind != "keyboard":  # the same number with another name on the card: the desk says so
            reader.place(desk["rare"], "长期", name="李岩")
            expect(panel.locator(".name-mismatch")).to_contain_text("证件姓名与申报姓名不一致")
    finally:
        agent.terminate()
        agent.wait(10)
        reader.close()
    log = log_path.read_text()
    assert desk["rare"].id_number not in log and "李䶮" not in log
    print(f"{kind}: card on the reader to person on the desk: " + ", ".join(f"{t:.2f} s" for t in timings)
          + f" (first card after the agent started: {first_read:.2f} s)")
    assert max(timings) < 1.0, (timings, "placed at " + ", ".join(placed_at), log)
