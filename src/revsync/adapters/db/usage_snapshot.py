"""A consistent read of the usage for billing runs.

A snapshot is taken while no ingestion transaction is in flight (SQLite: holding the write
lock for an instant; PostgreSQL: the identity lock in exclusive mode, which every ingestion
transaction holds shared). Every event up to the highest ingest sequence number seen then is
in the snapshot, and every event after it was committed later. So ``seq <= cutoff`` describes
exactly what a run read, and ``seq > cutoff`` what arrived after it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from revsync.adapters.db.engine import IDENTITY_LOCK, WRITE, is_sqlite
from revsync.adapters.db.tables import usage_events, usage_rechecks
from revsync.domain.usage import utc_day
from revsync.ports.billing import UsageRow

#: up to this many customers, a billing read probes them in the index; beyond, it scans
_FEW_CUSTOMERS = 200


class SqlUsageSnapshot:
    """:class:`~revsync.ports.billing.UsageSnapshot` on an open read transaction."""

    def __init__(self, conn: sa.Connection, cutoff_seq: int) -> None:
        self._conn = conn
        self.cutoff_seq = cutoff_seq
        self._stretches: dict[tuple[int, int], tuple[Any, ...]] = {}

    def rows(
        self,
        customer_ids: Collection[str],
        event_type: str,
        start_us: int,
        end_us: int,
        *,
        with_data: bool,
        with_key: bool,
    ) -> Iterator[UsageRow]:
        if not customer_ids or end_us <= start_us:
            return
        e = usage_events.c
        columns = (
            e.customer_id,
            e.time_us,
            e.dedup_slot,
            e.data if with_data else sa.null(),
            e.source if with_key else sa.null(),
            e.event_id if with_key else sa.null(),
        )
        query = sa.select(*columns).where(*self._where(customer_ids, event_type, start_us, end_us))
        keep = set(customer_ids)
        make = UsageRow._make
        for batch in self._batches(query):
            for row in batch:
                if row[0] in keep:
                    yield make(row)

    def _batches(self, query: sa.Select[Any]) -> Iterator[Sequence[Any]]:
        if self._conn.dialect.name != "sqlite":
            yield from self._conn.execution_options(yield_per=10_000).execute(query).partitions()
            return
        # the hot read of a billing run on SQLite: the DBAPI cursor, no per-row processing
        compiled = query.compile(dialect=self._conn.dialect, compile_kwargs={"literal_binds": True})
        cursor = self._conn.connection.cursor()
        cursor.execute(str(compiled))
        while batch := cursor.fetchmany(10_000):
            yield batch

    def counts(
        self, customer_ids: Collection[str], event_type: str, start_us: int, end_us: int
    ) -> dict[str, tuple[int, int]]:
        if not customer_ids or end_us <= start_us:
            return {}
        e = usage_events.c
        # the slot sum is taken in two 32-bit halves so that it cannot overflow 64 bits
        low = sa.func.sum(e.dedup_slot.op("&")(0xFFFFFFFF))
        high = sa.func.sum(e.dedup_slot.op(">>")(sa.literal(32, sa.Integer)))
        where = self._where(customer_ids, event_type, start_us, end_us)
        query = (
            sa.select(e.customer_id, sa.func.count(), low, high)
            .where(*where)
            .group_by(e.customer_id)
        )
        keep = set(customer_ids)
        return {
            cid: (int(n), (int(hi) * (1 << 32) + int(lo)) % (1 << 64))
            for batch in self._batches(query)
            for cid, n, lo, hi in batch
            if cid in keep
        }

    def _where(
        self, customer_ids: Collection[str], event_type: str, start_us: int, end_us: int
    ) -> list[sa.ColumnElement[bool]]:
        """The conditions of a billing read: an index probe for a few customers, else the
        stretch of rows (in ingest order) that holds the window."""
        e = usage_events.c
        window = [e.time_us >= start_us, e.time_us < end_us, e.type == event_type]
        days = e.day.between(utc_day(start_us), utc_day(end_us - 1))
        if len(customer_ids) <= _FEW_CUSTOMERS:
            return [
                days,
                e.customer_id.in_(sorted(customer_ids)),
                *window,
                e.seq <= self.cutoff_seq,
            ]
        stretch = self._stretches.get((start_us, end_us))
        if stretch is None:
            stretch = self._stretches[(start_us, end_us)] = tuple(
                self._conn.execute(
                    sa.select(sa.func.min(e.seq), sa.func.max(e.seq)).where(days)
                ).one()
            )
        first, last = stretch
        if first is None:
            return [sa.false()]
        return [e.seq.between(first, min(last, self.cutoff_seq)), *window]

    def late_customers(self, after_seq: int) -> dict[str, int]:
        e = usage_events.c
        query = (
            sa.select(e.customer_id, sa.func.min(e.time_us))
            .where(e.seq > after_seq, e.seq <= self.cutoff_seq, e.customer_id.is_not(None))
            .group_by(e.customer_id)
        )
        return {cid: int(t) for cid, t in self._conn.execute(query)}

    def rechecks(self) -> dict[str, int]:
        return {cid: int(from_us) for cid, from_us in self._conn.execute(sa.select(usage_rechecks))}


class SqlUsageSnapshots:
    """Opens usage snapshots on an engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @contextmanager
    def snapshot(self) -> Iterator[SqlUsageSnapshot]:
        """A read transaction that sees every event up to its cutoff and none after."""
        with self._engine.connect() as lock, self._engine.connect() as reader:
            if is_sqlite(self._engine):
                hold = lock.execution_options(**WRITE).begin()
            else:
                hold = lock.begin()
                lock.execute(sa.select(sa.func.pg_advisory_xact_lock(IDENTITY_LOCK)))
                reader = reader.execution_options(isolation_level="REPEATABLE READ")
            with reader.begin():
                cutoff = reader.execute(sa.select(sa.func.max(usage_events.c.seq))).scalar()
                hold.rollback()  # the snapshot is fixed: let ingestion go on
                yield SqlUsageSnapshot(reader, int(cutoff or 0))
