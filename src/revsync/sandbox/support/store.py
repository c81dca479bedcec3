"""The sandbox's records in SQLite: one row per record (its JSON body plus indexed columns: kind,
id, parent, the change sequence, ``updated_at`` in unix seconds, a deleted flag) and one row per
unique key (organization names and external ids, user emails and external ids).

Every write takes a stamp: the next value of a change sequence strictly increasing across the
sandbox (what the cursor exports page by) and the clock's whole second, never earlier than the
last one (what the time-based exports and ``updated_at`` show). Ids come from per-kind counters
kept in the database, so they keep increasing across restarts and deletions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from revsync.sandbox.sqlite import SqliteStore

Record = dict[str, Any]

_DDL = """
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    id INTEGER NOT NULL,
    parent INTEGER,
    seq INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX IF NOT EXISTS records_by_ts ON records (kind, ts, id);
CREATE INDEX IF NOT EXISTS records_by_seq ON records (kind, seq);
CREATE INDEX IF NOT EXISTS records_by_parent ON records (kind, parent, id);
CREATE TABLE IF NOT EXISTS unique_keys (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    id INTEGER NOT NULL,
    PRIMARY KEY (kind, name, value)
);
"""
#: the first id of each kind (Zendesk's ticket ids count from 1 per account, others are large)
_ID_BASE = {
    "ticket": 1,
    "organization": 360_000_000_001,
    "user": 361_000_000_001,
    "ticket_field": 362_000_000_001,
    "comment": 363_000_000_001,
    "webhook": 1,
}


@dataclass(frozen=True, slots=True)
class Stamp:
    """One write's place in time: the change sequence and the whole second."""

    seq: int
    ts: int


class Store(SqliteStore):
    """The records of one sandbox folder; thread-safe (one connection behind a lock)."""

    def __init__(self, path: Path, clock: Callable[[], datetime]) -> None:
        super().__init__(path, _DDL)
        self._clock = clock

    @contextmanager
    def clock_set_to(self, clock: Callable[[], datetime]) -> Iterator[None]:
        """Stamp the writes made inside with ``clock`` (seeding places records in the past)."""
        with self._lock:
            previous, self._clock = self._clock, clock
            try:
                yield
            finally:
                self._clock = previous

    # -- ids, stamps ---------------------------------------------------------------------------

    def next_id(self, kind: str) -> int:
        """A new id of ``kind`` (call inside a transaction)."""
        return self._counter(f"next_id:{kind}", _ID_BASE[kind])

    def stamp(self) -> Stamp:
        """The next change: sequence + 1, the clock's second (never before the last one)."""
        with self.transaction():
            seq = self._counter("seq", 1)
            last = int(self.meta("ts") or 0)
            ts = max(int(self._clock().timestamp()), last)
            self.set_meta("ts", str(ts))
        return Stamp(seq, ts)

    def now(self) -> int:
        """The clock's unix second, never before the last stamp."""
        return max(int(self._clock().timestamp()), int(self.meta("ts") or 0))

    # -- records -------------------------------------------------------------------------------

    def put(
        self,
        kind: str,
        body: Record,
        stamp: Stamp,
        *,
        parent: int | None = None,
        deleted: bool = False,
    ) -> None:
        """Insert or replace a record (its ``id`` is in ``body``)."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO records (kind, id, parent, seq, ts, deleted, body) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET "
                "parent = excluded.parent, seq = excluded.seq, ts = excluded.ts, "
                "deleted = excluded.deleted, body = excluded.body",
                (kind, body["id"], parent, stamp.seq, stamp.ts, int(deleted), json.dumps(body)),
            )

    def get(self, kind: str, record_id: int, *, include_deleted: bool = False) -> Record | None:
        """A record by id, or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT body, deleted FROM records WHERE kind = ? AND id = ?", (kind, record_id)
            ).fetchone()
        if row is None or (row[1] and not include_deleted):
            return None
        found: Record = json.loads(row[0])
        return found

    def all(self, kind: str, *, parent: int | None = None) -> list[Record]:
        """The live records of a kind (of one parent), in id order."""
        sql = "SELECT body FROM records WHERE kind = ? AND deleted = 0"
        args: tuple[Any, ...] = (kind,)
        if parent is not None:
            sql, args = sql + " AND parent = ?", (kind, parent)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY id", args).fetchall()
        return [json.loads(row[0]) for row in rows]

    def changed_since(self, kind: str, ts: int) -> list[tuple[int, Record]]:
        """(second, record) of the records changed at or after second ``ts`` (deleted ones
        too), by (second, id)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT ts, body FROM records WHERE kind = ? AND ts >= ? ORDER BY ts, id",
                (kind, ts),
            ).fetchall()
        return [(int(row[0]), json.loads(row[1])) for row in rows]

    def changed_after(self, kind: str, seq: int, ts: int) -> list[tuple[int, Record]]:
        """(sequence, record) of the records whose last change is after ``seq`` and at or after
        second ``ts``, in change order."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, body FROM records WHERE kind = ? AND seq > ? AND ts >= ? ORDER BY seq",
                (kind, seq, ts),
            ).fetchall()
        return [(int(row[0]), json.loads(row[1])) for row in rows]

    def last_seq(self) -> int:
        """The change sequence's current value."""
        return int(self.meta("seq") or 0)

    # -- unique keys ---------------------------------------------------------------------------

    def find_key(self, kind: str, name: str, value: str) -> int | None:
        """The id holding a unique value (compared case-insensitively), or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT id FROM unique_keys WHERE kind = ? AND name = ? AND value = ?",
                (kind, name, value.casefold()),
            ).fetchone()
        return None if row is None else int(row[0])

    def set_key(self, kind: str, name: str, old: str | None, new: str | None, owner: int) -> None:
        """Move a record's unique value from ``old`` to ``new`` (either may be None)."""
        with self._lock:
            if old is not None:
                self._conn.execute(
                    "DELETE FROM unique_keys WHERE kind = ? AND name = ? AND value = ?",
                    (kind, name, old.casefold()),
                )
            if new is not None:
                self._conn.execute(
                    "INSERT INTO unique_keys (kind, name, value, id) VALUES (?, ?, ?, ?)",
                    (kind, name, new.casefold(), owner),
                )
