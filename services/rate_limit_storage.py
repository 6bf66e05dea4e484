"""The rate limits' in-process storage for a single server process (no Redis): `swept-memory://`.

limits' own MemoryStorage expires counters from a threading.Timer that it starts again
10 ms after the last one ended, from inside the request being counted: a desk reading a
card every few seconds pays for starting a thread on almost every read, which is a large
share of the read's whole time. This storage keeps MemoryStorage's counters and windows
unchanged and sweeps the expired ones inline instead, at most once a second (a counter
past its expiry already reads as 0 on its next use, so sweeping only frees memory).
Several server processes need the shared Redis storage (REDIS_URL) either way.
"""

import threading
import time

from limits.storage import MemoryStorage

SCHEME = "swept-memory"
SWEEP_EVERY_SECONDS = 1.0


class SweptMemoryStorage(MemoryStorage):
    """MemoryStorage without its timer thread: expired entries are swept by the requests themselves."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri=None, wrap_exceptions=False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.timer.cancel()  # MemoryStorage starts one in __init__: nothing needs it here
        self._sweep_lock = threading.Lock()
        self._next_sweep = time.monotonic() + SWEEP_EVERY_SECONDS

    def __getstate__(self):
        state = super().__getstate__()
        del state["_sweep_lock"]
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        self.timer.cancel()
        self._sweep_lock = threading.Lock()

    def _MemoryStorage__schedule_expiry(self):
        # Called by MemoryStorage before every count and moving-window entry (name-mangled there).
        current = time.monotonic()
        if current < self._next_sweep or not self._sweep_lock.acquire(blocking=False):
            return
        try:
            self._next_sweep = current + SWEEP_EVERY_SECONDS
            self._MemoryStorage__expire_events()
        finally:
            self._sweep_lock.release()
