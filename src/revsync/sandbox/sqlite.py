"""``SqliteStore``: the SQLite plumbing under the CRM and the support sandbox's records — one
connection (WAL) behind a re-entrant lock, transactions that nest, and a ``meta`` table of
settings and counters."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_META_DDL = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"


class SqliteStore:
    """A database made with ``ddl`` (and the ``meta`` table); thread-safe: every use of
    ``_conn`` holds ``_lock``."""

    def __init__(self, path: Path, ddl: str) -> None:
        self._lock = threading.RLock()
        self._depth = 0
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(ddl)
        self._conn.executescript(_META_DDL)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One SQLite transaction (nested calls join the outer one)."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")
            finally:
                self._depth = 0

    def meta(self, key: str) -> str | None:
        """A stored setting (the seed, counters, stamps)."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Store a setting."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def _counter(self, key: str, first: int = 1) -> int:
        """The counter ``key``'s next value (``first`` the first time), kept."""
        current = self.meta(key)
        value = first if current is None else int(current) + 1
        self.set_meta(key, str(value))
        return value
