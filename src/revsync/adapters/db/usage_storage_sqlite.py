"""Stored usage on SQLite: one table, old months archived to Parquet files
(docs/architecture.md#usage-archive-on-sqlite, docs/deploy.md#usage-storage).

SQLite keeps every event in ``usage_events``, whose unique ``dedup_slot`` is the dedup claim;
there are no months' tables to make (``add_month`` does nothing). Archiving a month:

1. reads the month's rows in one read transaction, with their count, highest ``seq`` and
   highest ``attached_seq`` (a void lowers the count; an event stored raises the highest
   ``seq``; an attach raises the highest ``attached_seq``: marks only grow), and writes them
   to a temporary file flushed to disk (:mod:`~revsync.adapters.db.usage_parquet`) — with the
   rows of the month archived before, when there are any: a file is written whole, never
   appended to;
2. in one write transaction, if the month's rows are still as read (else it begins again):
   renames the file over the month's final name, moves the rows' claims to
   ``archived_slots``, deletes the rows, and raises the usage mark to the highest ``seq``
   archived, so that SQLite, which numbers a new row one above the highest left, never gives
   an archived event's number again.

A crash between the file and the commit leaves the rows where they were and a file that no
reader reads (a month is archived once its claims are committed; lineage lists an event found
twice once); the next run writes the file again from the rows. One archiver at a time: the
worker's job is leased. The archive is read by lineage only (``SqlUsageReader.events``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from revsync.adapters.db.engine import WRITE
from revsync.adapters.db.tables import archived_slots, usage_events, usage_marks
from revsync.adapters.db.usage_parquet import COLUMNS, ROW_GROUP, ParquetMonths
from revsync.adapters.db.usage_storage import unsettled_reason
from revsync.adapters.failpoints import NONE, Failpoints
from revsync.domain.usage_months import Month
from revsync.ports.usage import StoredMonths

#: how many times an archive reads a month again that changed while its file was written
_TRIES = 3
_DAY_US = 86_400_000_000
_CUSTOMER = COLUMNS.index("customer_id")


class ArchiveChanged(RuntimeError):
    """A month's rows kept changing while they were archived (the next run tries again)."""


def _in_month(day: sa.ColumnElement[int], month: Month) -> sa.ColumnElement[bool]:
    return sa.and_(day >= month.start_day, day < month.end_day)


def _months_of(
    conn: sa.Connection, day: sa.ColumnElement[int], since: int, until: int
) -> set[Month]:
    """The months with a row of ``day`` in ``[since, until)`` (days): one probe of its index
    per month found, whatever the number of rows."""
    found: set[Month] = set()
    bound = since
    while bound < until:
        first = conn.execute(sa.select(sa.func.min(day)).where(day >= bound, day < until)).scalar()
        if first is None:
            break
        month = Month.of_micros(int(first) * _DAY_US)
        found.add(month)
        bound = month.end_day
    return found


def archived_months(conn: sa.Connection, start_us: int, end_us: int) -> list[Month]:
    """The months archived to Parquet files that meet the window ``[start_us, end_us)``."""
    if end_us <= start_us:
        return []
    since = Month.of_micros(start_us).start_day
    until = Month.of_micros(end_us - 1).end_day
    return sorted(_months_of(conn, archived_slots.c.day, since, until))


_EVERY_DAY = (0, 2**31 - 1)
_STATE = sa.select(
    sa.func.count(), sa.func.max(usage_events.c.seq), sa.func.max(usage_events.c.attached_seq)
)
_ROWS = sa.select(*(usage_events.c[name] for name in COLUMNS))


class SqliteUsageStorage:
    """:class:`~revsync.ports.usage.UsageStorage` on SQLite (see the module docstring)."""

    def __init__(
        self, engine: Engine, files: ParquetMonths, *, failpoints: Failpoints = NONE
    ) -> None:
        self._engine = engine
        self._files = files
        self._failpoints = failpoints

    def months(self) -> StoredMonths:
        with self._engine.connect() as conn:
            live = _months_of(conn, usage_events.c.day, *_EVERY_DAY)
            archived = _months_of(conn, archived_slots.c.day, *_EVERY_DAY)
        return StoredMonths(frozenset(live), frozenset(archived), frozenset())

    def add_month(self, month: Month) -> int:
        return 0  # one table: nothing to make

    def unsettled(self, month: Month) -> str | None:
        with self._engine.connect() as conn:
            return unsettled_reason(conn, month)

    def archive(self, month: Month) -> None:
        for _ in range(_TRIES):
            if self._archive(month):
                return
        raise ArchiveChanged(
            f"the usage of {month.name} changed while it was archived, {_TRIES} times: the "
            "next run tries again"
        )

    def _archive(self, month: Month) -> bool:
        """One try: False when the month's rows changed after they were read."""
        in_month = _in_month(usage_events.c.day, month)
        with self._engine.connect() as conn:  # one read transaction: the rows as of the state
            state = tuple(conn.execute(_STATE.where(in_month)).one())
            if not state[0]:
                return True  # nothing (more) to archive
            earlier = bool(_months_of(conn, archived_slots.c.day, month.start_day, month.end_day))
            expected = state[0] + (self._files.rows(month) if earlier else 0)
            rows = conn.execution_options(yield_per=ROW_GROUP).execute(
                _ROWS.where(in_month).order_by(usage_events.c.customer_id, usage_events.c.seq)
            )
            if earlier:  # archived before: the file is written again with them all
                batches = _merged([*self._files.batches(month), *rows.partitions()])
            else:
                batches = (list(map(tuple, part)) for part in rows.partitions())
            if self._files.stage(month, batches) != expected:
                self._files.discard(month)
                raise ArchiveChanged(f"{month.name}: the rows read are not the rows counted")
        with self._engine.connect().execution_options(**WRITE) as conn, conn.begin():
            if tuple(conn.execute(_STATE.where(in_month)).one()) != state:
                self._files.discard(month)
                return False
            self._failpoints.hit("usage_archive.before_publish")
            self._files.publish(month)
            if self._files.rows(month) != expected:
                raise ArchiveChanged(f"{self._files.path(month)}: not the file just written")
            columns = [c.name for c in archived_slots.c]
            conn.execute(
                archived_slots.insert().from_select(
                    columns, sa.select(*(usage_events.c[name] for name in columns)).where(in_month)
                )
            )
            conn.execute(usage_events.delete().where(in_month))
            _raise_mark(conn, int(state[1]))
            self._failpoints.hit("usage_archive.before_commit")
        return True


def _merged(parts: list[Any]) -> Iterator[list[tuple[Any, ...]]]:
    """Rows of a month archived before and its rows since, by customer then ``seq``, in
    batches of :data:`ROW_GROUP` (a month archived again: rare, read whole)."""
    rows = [tuple(row) for part in parts for row in part]
    rows.sort(key=lambda row: (row[_CUSTOMER] is not None, row[_CUSTOMER] or "", row[0]))
    for start in range(0, len(rows), ROW_GROUP):
        yield rows[start : start + ROW_GROUP]


def _raise_mark(conn: sa.Connection, top: int) -> None:
    """The usage mark at least ``top``: a read's cutoff stays where it was, and the next event
    is numbered above every archived one."""
    mark = conn.execute(sa.select(usage_marks.c.seq).where(usage_marks.c.id == 1)).scalar()
    if mark is None:
        conn.execute(usage_marks.insert().values(id=1, seq=top))
    elif mark < top:
        conn.execute(usage_marks.update().where(usage_marks.c.id == 1).values(seq=top))
