"""The whole desk with a PC/SC reader exposing the data over APDUs (pcscd, vpcd, our APDU card), agent, desk page."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import TEST_PASSWORD
from tests.pcsc_apdu_stack import PcscStack, VirtualApduCard, apdu_record

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture
def pcsc(tmp_path):
    stack = PcscStack(tmp_path / "pcscd.log")
    stack.acquire()
    stack.start()
    yield stack
    stack.release()


@pytest.fixture
def desk_people(reader_desk):
    return reader_desk("xinhe-pcsc", {"first": "欧阳晓东", "second": "李明"})


def test_cards_on_a_pcsc_reader_appear_live_on_the_desk(page, base_url, browser_login, screenshot, pcsc,
                                                         desk_people, tmp_path):
    browser_login(page, "station", "xinhe-pcsc", TEST_PASSWORD)
    expect(page.locator("#live-status")).to_have_attribute("data-state", "open")
    page.wait_for_load_state()
    log_path = tmp_path / "agent.log"
    env = {**os.environ, "READER_TOKEN": desk_people["token"], "PYTHONPATH": str(REPO)}
    with open(log_path, "w") as log:
        agent = subprocess.Popen([sys.executable, "-m", "reader_agent", "--backend", "pcsc", "--server", base_url,
                                  "--reader", "Virtual PCD 00 00", "--queue", str(tmp_path / "queue.sqlite3")],
                                 cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=log)
    panel = page.locator("#read-panel .read-card")
    timings = []
    try:
        deadline = time.monotonic() + 15
        while "读卡器就绪" not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "读卡器就绪" in log_path.read_text(), log_path.read_text()

        for key in ("first", "second"):
            person = desk_people[key]
            card = VirtualApduCard(apdu_record(person.id_number, person.name)).insert()
            inserted = time.monotonic()
            expect(panel.locator(".person-name")).to_have_text(person.name, timeout=5000)
            timings.append(time.monotonic() - inserted)
            expect(panel).to_contain_text("本站已预约")
            expect(panel).to_contain_text(person.id_number)
            expect(panel).to_contain_text("Virtual PCD 00 00")
            screenshot(page, f"station-desk-pcsc-{key}")
            if key == "first":
                page.get_by_role("button", name="登记", exact=True).click()
                expect(page.locator(".queue-table tr", has_text=person.name)).to_be_visible()
            card.remove()  # take the card off; the next person puts theirs on
    finally:
        agent.terminate()
        agent.wait(10)
    expect(page.locator(".recent-reads li")).to_have_count(2)
    print("card on the reader to person on the desk: " + ", ".join(f"{t:.2f} s" for t in timings))
    assert max(timings) < 3
