"""A consistent read of the usage for billing runs.

A snapshot is taken while no ingestion transaction is in flight (SQLite: holding the write
lock for an instant; PostgreSQL: the identity lock in exclusive mode, which every ingestion
transaction holds shared). Every event up to the highest ingest sequence number seen then is
in the snapshot, and every event after it was committed later. So ``seq <= cutoff`` describes
exactly what a run read, and ``seq > cutoff`` what arrived after it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from revsync.adapters.db.engine import IDENTITY_LOCK, WRITE, is_sqlite
from revsync.adapters.db.tables import usage_events, usage_rechecks
from revsync.domain.usage import utc_day
from revsync.ports.billing import UsageRow

_decode_data = msgspec.json.Decoder(dict[str, Any], float_hook=Decimal).decode


class SqlUsageSnapshot:
    """:class:`~revsync.ports.billing.UsageSnapshot` on an open read transaction."""

    def __init__(self, conn: sa.Connection, cutoff_seq: int) -> None:
        self._conn = conn
        self.cutoff_seq = cutoff_seq

    def rows(
        self, customer_ids: Collection[str], types: Collection[str], start_us: int, end_us: int
    ) -> Iterator[UsageRow]:
        if not customer_ids or not types or end_us <= start_us:
            return
        e = usage_events.c
        query = sa.select(e.customer_id, e.type, e.time_us, e.source, e.event_id, e.data).where(
            e.day.between(utc_day(start_us), utc_day(end_us - 1)),
            e.time_us >= start_us,
            e.time_us < end_us,
            e.type.in_(sorted(types)),
            e.customer_id.in_(sorted(customer_ids)),
            e.seq <= self.cutoff_seq,
        )
        result = self._conn.execution_options(yield_per=10_000).execute(query)
        for customer_id, kind, time_us, source, event_id, data in result:
            yield UsageRow(customer_id, kind, time_us, source, event_id, _decode_data(data))

    def late_customers(self, after_seq: int) -> dict[str, int]:
        e = usage_events.c
        query = (
            sa.select(e.customer_id, sa.func.min(e.time_us))
            .where(e.seq > after_seq, e.seq <= self.cutoff_seq, e.customer_id.is_not(None))
            .group_by(e.customer_id)
        )
        found: dict[str, int] = {cid: int(t) for cid, t in self._conn.execute(query)}
        for cid, from_us in self._conn.execute(sa.select(usage_rechecks)):
            found[cid] = min(found.get(cid, from_us), from_us)
        return found


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
