"""`python -m reader_agent`: command-line flags, with environment variables as defaults."""

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

from reader_agent import __version__
from reader_agent.agent import Agent
from reader_agent.backends import BACKENDS, make_backend


def default_queue_path():
    state = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state"))
    return str(state / "binhai-reader" / "queue.sqlite3")


def parse_args(argv=None):
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="python -m reader_agent",
                                     description="滨海新区疫苗接种管理系统 · 接种站读卡代理")
    parser.add_argument("--server", default=env("READER_SERVER_URL", "http://127.0.0.1:5000"),
                        help="server base URL (READER_SERVER_URL)")
    parser.add_argument("--token", default=env("READER_TOKEN"),
                        help="reader token of this desk (READER_TOKEN; prefer the variable: flags show in ps)")
    parser.add_argument("--backend", choices=BACKENDS, default=env("READER_BACKEND", "pcsc"),
                        help="card source (READER_BACKEND)")
    parser.add_argument("--reader", default=env("READER_NAME"),
                        help="PC/SC reader to use (part of its name), or the reader label sent with each read "
                             "(READER_NAME)")
    parser.add_argument("--port", default=env("READER_PORT"),
                        help="sam-serial: the reader's serial port, e.g. /dev/ttyUSB0 or COM3 (READER_PORT)")
    parser.add_argument("--baud", type=int, default=int(env("READER_BAUD", "115200")),
                        help="sam-serial: baud rate (READER_BAUD; 115200 for most readers)")
    parser.add_argument("--device", default=env("READER_KEYBOARD_DEVICE"),
                        help="keyboard (Linux): the wedge reader's input device, read directly and grabbed, e.g. "
                             "/dev/input/by-id/usb-…-event-kbd (READER_KEYBOARD_DEVICE); without it: stdin lines")
    parser.add_argument("--sdk", choices=("sdtapi", "termb"), default=env("READER_SDK"),
                        help="sdk: the vendor library's family (READER_SDK)")
    parser.add_argument("--library", default=env("READER_SDK_LIBRARY"),
                        help="sdk: path of sdtapi.dll / libsdtapi.so / termb.dll / libtermb.so (READER_SDK_LIBRARY); "
                             "default: the family's usual name on the library search path")
    parser.add_argument("--sdk-port", type=int, default=int(env("READER_SDK_PORT", "1001")),
                        help="sdk: reader port, 1001-1016 USB, 1-16 serial COM1-COM16 (READER_SDK_PORT)")
    parser.add_argument("--sdk-encoding", default=env("READER_SDK_ENCODING", "gb18030"),
                        help="sdk termb: text encoding of the Get* functions (READER_SDK_ENCODING)")
    parser.add_argument("--queue", default=env("READER_QUEUE_PATH", default_queue_path()),
                        help="on-disk queue of reads not yet delivered (READER_QUEUE_PATH)")
    parser.add_argument("--timeout", type=float, default=float(env("READER_HTTP_TIMEOUT", "5")),
                        help="HTTP timeout in seconds")
    parser.add_argument("--max-backoff", type=float, default=float(env("READER_MAX_BACKOFF", "30")),
                        help="longest wait between retries while the server is unreachable")
    parser.add_argument("--device-retry", type=float, default=2.0,
                        help="seconds between attempts to reach pcscd or a reader")
    parser.add_argument("--card", action="append", metavar="ID[,NAME]", help="simulate: a card (repeatable)")
    parser.add_argument("--file", help="simulate: a file of cards, one ID[,NAME] per line")
    parser.add_argument("--interval", type=float, default=1.0, help="simulate: seconds between cards")
    parser.add_argument("--exit-when-done", action="store_true",
                        help="simulate/keyboard: exit once the input ended and every read is delivered")
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    options = parser.parse_args(argv)
    if not options.token:
        parser.error("需要读卡器令牌：设置 READER_TOKEN 或 --token（管理员在“读卡器令牌”中发放）")
    if options.backend == "simulate" and not (options.card or options.file):
        parser.error("模拟读卡器需要 --card 或 --file")
    if options.backend == "sdk" and not options.sdk:
        parser.error("厂商库后端需要 --sdk sdtapi 或 --sdk termb，或设置 READER_SDK")
    if options.backend == "sam-serial" and not options.port:
        parser.error("串口读卡器需要 --port（如 /dev/ttyUSB0 或 COM3），或设置 READER_PORT")
    return options


def main(argv=None):
    options = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if options.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    agent = Agent(make_backend(options.backend, options), options.queue, options.server, options.token,
                  timeout=options.timeout, max_backoff=options.max_backoff)
    signal.signal(signal.SIGTERM, lambda *_: agent.stop.set())
    logging.getLogger("reader_agent").info("读卡代理 %s 启动：后端 %s，服务器 %s", __version__, options.backend,
                                           options.server)
    return agent.run(exit_when_done=options.exit_when_done)


if __name__ == "__main__":
    sys.exit(main())
