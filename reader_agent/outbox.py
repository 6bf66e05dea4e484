"""The on-disk queue of reads not yet accepted by the server (SQLite, oldest first).

A read is queued before the first attempt to send it and removed only once the server
has answered for it, so nothing is lost when the server, the network or the agent
itself goes down. The file holds ID numbers: it is created readable by its owner only,
and rows are deleted as soon as they are delivered.
"""

import json
import os
import sqlite3
import threading
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS pending_read (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    read_id TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    queued_at TEXT NOT NULL DEFAULT (datetime('now'))
)
"""


class Outbox:
    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            self.path.touch(mode=0o600)
        os.chmod(self.path, 0o600)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=10)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(SCHEMA)

    def put(self, payload):
        """Queue one read (a dict with a unique read_id)."""
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO pending_read (read_id, payload) VALUES (?, ?)",
                             (payload["read_id"], json.dumps(payload, ensure_ascii=False)))

    def head(self):
        """The oldest queued read as (seq, payload), or None."""
        with self._lock:
            row = self._db.execute("SELECT seq, payload FROM pending_read ORDER BY seq LIMIT 1").fetchone()
        return (row[0], json.loads(row[1])) if row else None

    def remove(self, seq):
        with self._lock:
            self._db.execute("DELETE FROM pending_read WHERE seq = ?", (seq,))

    def note_attempt(self, seq):
        with self._lock:
            self._db.execute("UPDATE pending_read SET attempts = attempts + 1 WHERE seq = ?", (seq,))

    def __len__(self):
        with self._lock:
            return self._db.execute("SELECT count(*) FROM pending_read").fetchone()[0]

    def close(self):
        with self._lock:
            self._db.close()
