"""A local stand-in for an SMS gateway, for the delivery tests and the benchmark.

It behaves as real gateways do where it matters here: it takes {"phone", "text",
"client_msg_id"} as JSON, answers {"message_id", "status"}, and drops a repeat of a
client message id it has already accepted (answering as for the first), so only one text
reaches the phone. It can refuse a share of requests (503), hold each request a while
after accepting it (so a test can kill a sender mid-send), or accept and then hang up
without answering (the sender cannot know it went through).

    python -m bench.fake_sms_gateway --port 8025 --refuse 0.5
"""

import argparse
import json
import random
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOLD_SECONDS = 1.5  # under the senders' answer timeout: the sender is killed while it waits


class FakeGateway:
    """The gateway's state and an HTTP server for it on 127.0.0.1 (port 0: any free port)."""

    def __init__(self, port=0, refuse=0.0, hang_up=0.0, delay=0.0, seed=21, token=None, delivered=False):
        self.refuse, self.hang_up, self.delay, self.token, self.delivered = refuse, hang_up, delay, token, delivered
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.accepted = {}  # client_msg_id -> (gateway message id, phone, text)
        self.repeats = Counter()  # client_msg_id -> repeats dropped
        self.posts = self.refused = self.hung_up = self.connections = 0
        self.in_flight = Counter()  # User-Agent of requests being held after acceptance
        # A test that kills a sender mid-send names it here: its first accepted request is held
        # (answer not yet sent) and `holding` is set, so the kill lands in flight for certain.
        self.hold_for, self.holding = None, threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # a sender killed mid-request is expected
        self.url = f"http://127.0.0.1:{self.server.server_port}/sms/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def stats(self):
        with self.lock:
            return {"posts": self.posts, "accepted": len(self.accepted), "refused": self.refused,
                    "hung_up": self.hung_up, "repeats_dropped": sum(self.repeats.values())}

    def take(self, body, agent):
        """Decide one request: return (status, answer dict, hang up after accepting, held as in flight)."""
        with self.lock:
            self.posts += 1
            roll = self.random.random()
            if roll < self.refuse:
                self.refused += 1
                return 503, {"error": "busy"}, False, False
            key = body.get("client_msg_id") or f"anonymous-{self.posts}"
            if key in self.accepted:
                self.repeats[key] += 1
                return 200, {"message_id": self.accepted[key][0], "status": "accepted", "duplicate": True}, False, False
            message_id = f"gw-{len(self.accepted) + 1}"
            self.accepted[key] = (message_id, body.get("phone"), body.get("text"))
            hang_up = roll < self.refuse + self.hang_up
            self.hung_up += hang_up
            self.in_flight[agent] += 1
        status = "delivered" if self.delivered else "accepted"
        return 200, {"message_id": message_id, "status": status}, hang_up, True

    def _handler(self):
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as senders reuse one connection
            # TCP_NODELAY: else the answer's second segment waits for the sender's delayed ACK
            # (Nagle), 40 ms a message, and the gateway's ceiling would be ~25 messages a second.
            disable_nagle_algorithm = True

            def setup(self):
                super().setup()
                with gateway.lock:
                    gateway.connections += 1

            def do_POST(self):  # noqa: N802 - the http.server API
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if gateway.token and self.headers.get("Authorization") != f"Bearer {gateway.token}":
                    return self._answer(401, {"error": "token"})
                agent = self.headers.get("User-Agent", "")
                status, answer, hang_up, held = gateway.take(body, agent)
                if held:
                    try:
                        if gateway.delay:
                            time.sleep(gateway.delay)
                        if gateway.hold_for and gateway.hold_for in agent and not gateway.holding.is_set():
                            gateway.holding.set()
                            time.sleep(HOLD_SECONDS)
                    finally:
                        with gateway.lock:
                            gateway.in_flight[agent] -= 1
                if hang_up:
                    self.close_connection = True
                    return None
                return self._answer(status, answer)

            def do_GET(self):  # noqa: N802
                self._answer(200, gateway.stats())

            def _answer(self, status, data):
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):
                pass

        return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--refuse", type=float, default=0.0)
    parser.add_argument("--hang-up", type=float, default=0.0)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    with FakeGateway(args.port, args.refuse, args.hang_up, args.delay) as gateway:
        print(f"fake SMS gateway on {gateway.url}", flush=True)
        gateway.thread.join()


if __name__ == "__main__":
    main()
