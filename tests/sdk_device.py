"""A vendor ID-card reader library for tests: tests/sdk_stub/idcard_sdk.c built with gcc, and its reader.

The library exports the sdtapi and termb functions with their signatures; its "reader"
is a directory (IDCARD_STUB_DIR) in which the test places cards, unplugs the cable and
plants return codes.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.sam_device import text_block

SOURCE = Path(__file__).resolve().parent / "sdk_stub" / "idcard_sdk.c"


def build_library(directory, name):
    """Compile the stub into directory/name (libsdtapi.so, libtermb.so); skip without gcc."""
    if not shutil.which("gcc"):
        pytest.skip("gcc is not installed")
    target = Path(directory) / name
    subprocess.run(["gcc", "-shared", "-fPIC", "-O1", "-Wall", "-Werror", "-o", str(target), str(SOURCE)],
                   check=True, capture_output=True, timeout=60)
    return target


class StubReader:
    """The directory the stub library reads its reader's state from."""

    def __init__(self, directory):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)

    def place(self, name, number, *, address="天津市滨海新区新港街道", valid_from="20150301", valid_until="20350301",
              flag=" "):
        (self.dir / "text.bin").write_bytes(text_block(name, number, address=address, valid_from=valid_from,
                                                       valid_until=valid_until, flag=flag))
        lines = [name, "男", "汉", number[6:14], address, number, "天津市公安局滨海分局", valid_from, valid_until,
                 flag.strip()]
        (self.dir / "fields.txt").write_bytes("\n".join(lines).encode("gb18030") + b"\n")

    def take_off(self):
        for name in ("text.bin", "fields.txt"):
            (self.dir / name).unlink(missing_ok=True)

    def unplug(self):
        (self.dir / "unplugged").touch()

    def plug(self):
        (self.dir / "unplugged").unlink(missing_ok=True)

    def plant(self, function, code):
        (self.dir / f"{function}.rc").write_text(str(code))

    def calls(self, function):
        log = self.dir / "calls.log"
        return log.read_text().split().count(function) if log.exists() else 0
