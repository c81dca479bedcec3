"""A consistent read of the usage for billing runs.

A snapshot is taken while no ingestion transaction is in flight (SQLite: holding the write
lock for an instant; PostgreSQL: the identity lock in exclusive mode, which every ingestion
transaction holds shared). Every event up to the highest ingest sequence number seen then is
in the snapshot, and every event after it was committed later. So ``seq <= cutoff`` describes
exactly what a run read, and ``seq > cutoff`` what arrived after it. The cutoff is never below
the latest usage mark (``usage_marks.py``), so it also tells which attaches of unmapped events
and which voids the run saw.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from revsync.adapters.db.engine import IDENTITY_LOCK, WRITE, is_sqlite
from revsync.adapters.db.tables import (
    collections,
    customers,
    identity_state,
    subscription_terms,
    subscriptions,
    usage_corrections,
    usage_events,
    usage_rechecks,
)
from revsync.adapters.db.usage_aggregates import aggregate_query
from revsync.adapters.db.usage_marks import cutoff as usage_cutoff
from revsync.domain.usage import utc_day
from revsync.ports.billing import AggregateSpec, UsageAggregate, UsageRow

#: up to this many customers, a billing read probes them in the index; beyond, it scans
_FEW_CUSTOMERS = 200
#: above this many days a read by customer takes the range of days instead of each day
_MAX_PROBED_DAYS = 400
_MARKS = sa.select(
    sa.select(identity_state.c.version).scalar_subquery(),
    sa.select(sa.func.count()).select_from(usage_corrections).scalar_subquery(),
)


class SqlUsageSnapshot:
    """:class:`~revsync.ports.billing.UsageSnapshot` on an open read transaction."""

    def __init__(self, conn: sa.Connection, cutoff_seq: int, *, complete: bool = True) -> None:
        self._conn = conn
        self.cutoff_seq = cutoff_seq
        #: every event up to ``cutoff_seq`` is in the read (False: an ingestion transaction
        #: in flight may still commit one below it — see :meth:`SqlUsageSnapshots.latest`)
        self.complete = complete
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

    def aggregates(
        self,
        customer_ids: Collection[str],
        event_type: str,
        start_us: int,
        end_us: int,
        spec: AggregateSpec,
    ) -> Iterator[UsageAggregate]:
        if not customer_ids or end_us <= start_us:
            return
        where = self._where(customer_ids, event_type, start_us, end_us)
        query = aggregate_query(self._conn.dialect.name == "sqlite", spec, where)
        keep = set(customer_ids)
        for batch in self._batches(query):
            for cid, exact, group, n, lo, hi, value, time_us, source, event_id in batch:
                if cid not in keep:
                    continue
                if not exact:
                    yield UsageAggregate(cid, None, 0, 0, None, int(n))
                    continue
                digest = (int(hi) * (1 << 32) + int(lo)) % (1 << 64)
                number = None if value is None else int(value)
                order = None if time_us is None else (int(time_us), (source, event_id))
                yield UsageAggregate(cid, group, int(n), digest, number, 0, order)

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
                _each_day(start_us, end_us),
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
        where = [e.seq.between(first, min(last, self.cutoff_seq)), *window]
        if self._conn.dialect.name != "sqlite":
            # PostgreSQL keeps a table per month: the days let it read the window's months
            # only (SQLite would take the day index instead of the stretch of rowids)
            where.append(days)
        return where

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

    def customer_counts(
        self, customer_ids: Collection[str], event_type: str, start_us: int, end_us: int
    ) -> dict[str, int]:
        """Per customer: how many events of the type fall in the window (as :meth:`counts`,
        without the digest), probing the (day, customer) index day by day — for a few hundred
        customers at most (an entitlement read)."""
        if not customer_ids or end_us <= start_us:
            return {}
        e = usage_events.c
        query = (
            sa.select(e.customer_id, sa.func.count())
            .where(*self._probe(customer_ids, event_type, start_us, end_us))
            .group_by(e.customer_id)
        )
        return {cid: int(n) for cid, n in self._conn.execute(query)}

    def customer_rows(
        self,
        customer_ids: Collection[str],
        event_type: str,
        start_us: int,
        end_us: int,
        *,
        with_data: bool,
        with_key: bool,
    ) -> Iterator[UsageRow]:
        """:meth:`rows`, probing the (day, customer) index day by day — for a few hundred
        customers at most (an entitlement read)."""
        if not customer_ids or end_us <= start_us:
            return
        e = usage_events.c
        query = sa.select(
            e.customer_id,
            e.time_us,
            e.dedup_slot,
            e.data if with_data else sa.null(),
            e.source if with_key else sa.null(),
            e.event_id if with_key else sa.null(),
        ).where(*self._probe(customer_ids, event_type, start_us, end_us))
        make = UsageRow._make
        for row in self._conn.execute(query):
            yield make(row)

    def _probe(
        self, customer_ids: Collection[str], event_type: str, start_us: int, end_us: int
    ) -> list[sa.ColumnElement[bool]]:
        e = usage_events.c
        return [
            _each_day(start_us, end_us),
            e.customer_id.in_(sorted(customer_ids)),
            e.type == event_type,
            e.time_us >= start_us,
            e.time_us < end_us,
            e.seq <= self.cutoff_seq,
        ]

    def since(
        self,
        customer_ids: Collection[str],
        event_types: Collection[str],
        after_seq: int,
        *,
        with_data: bool,
    ) -> Iterator[tuple[int, str, str, int, str | None]]:
        """Events of these customers and types ingested after ``after_seq`` (up to the
        cutoff), by ingest order: ``(seq, customer_id, type, time_us, data_json)``, the data
        only when asked for. The range of ``seq`` is read in the primary key."""
        if not customer_ids or not event_types or after_seq >= self.cutoff_seq:
            return
        e = usage_events.c
        query = (
            sa.select(e.seq, e.customer_id, e.type, e.time_us, e.data if with_data else sa.null())
            .where(
                e.seq > after_seq,
                e.seq <= self.cutoff_seq,
                e.customer_id.in_(sorted(customer_ids)),
                e.type.in_(sorted(event_types)),
            )
            .order_by(e.seq)
        )
        yield from self._conn.execute(query)

    def terms_marks(self, customer_ids: Collection[str]) -> dict[str, tuple[Any, ...]]:
        """Per customer (those that exist), what its entitlement terms are made of, in short:
        its time zone, when its collections standing last moved, and each subscription's id,
        anchor, usage interval, whether it includes children, and its latest version of the
        terms (terms are only ever added). Its tenants
        move the identity version (:meth:`marks`); plan versions never change."""
        if not customer_ids:
            return {}
        c, s, t, k = customers.c, subscriptions.c, subscription_terms.c, collections.c
        heads = [c.id, c.timezone, k.updated_at, s.id, s.anchor, s.usage_interval]
        heads.append(s.include_children)
        query = (
            sa.select(*heads, sa.func.max(t.version))
            .select_from(
                customers.outerjoin(collections, k.customer_id == c.id)
                .outerjoin(subscriptions, s.customer_id == c.id)
                .outerjoin(subscription_terms, t.subscription_id == s.id)
            )
            .where(c.id.in_(sorted(customer_ids)))
            .group_by(*heads)
        )
        found: dict[str, list[tuple[Any, ...]]] = {}
        for customer_id, *rest in self._conn.execute(query):
            found.setdefault(customer_id, []).append(tuple(rest))
        return {cid: tuple(sorted(rows, key=lambda r: r[2] or "")) for cid, rows in found.items()}

    def marks(self) -> tuple[int, int]:
        """What moves when stored usage changes otherwise than by new events: the identity
        version (a tenant mapped — its unmapped events are attached to the customer with their
        older ``seq``) and the number of usage corrections (events voided)."""
        version, corrections = self._conn.execute(_MARKS).one()
        return int(version or 0), int(corrections or 0)


def _each_day(start_us: int, end_us: int) -> sa.ColumnElement[bool]:
    """The days of a window as a list, so that SQLite probes the (day, customer) index once a
    day (with a range of days it walks every customer's entries of each day: 55 ms against
    0.2 ms for one customer's month among 500,000 events); a long window as a range."""
    e = usage_events.c
    first, last = utc_day(start_us), utc_day(end_us - 1)
    if last - first < _MAX_PROBED_DAYS:
        return e.day.in_(range(first, last + 1))
    return e.day.between(first, last)


class SqlUsageSnapshots:
    """Opens usage snapshots on an engine; with ``locking`` off, snapshots that take no lock
    (for readers that need no exact cutoff, such as a shadow re-rate: they never hold up
    ingestion, and an event committed meanwhile below their cutoff may be left out)."""

    def __init__(self, engine: Engine, *, locking: bool = True) -> None:
        self._engine = engine
        self._locking = locking

    @contextmanager
    def snapshot(self) -> Iterator[SqlUsageSnapshot]:
        """A read transaction that sees every event up to its cutoff and none after."""
        if not self._locking:
            with self._unlocked() as snapshot:
                yield snapshot
            return
        with self._engine.connect() as lock, self._engine.connect() as reader:
            if is_sqlite(self._engine):
                hold = lock.execution_options(**WRITE).begin()
            else:
                hold = lock.begin()
                lock.execute(sa.select(sa.func.pg_advisory_xact_lock(IDENTITY_LOCK)))
                reader = reader.execution_options(isolation_level="REPEATABLE READ")
            with reader.begin():
                cutoff = usage_cutoff(reader)
                hold.rollback()  # the snapshot is fixed: let ingestion go on
                yield SqlUsageSnapshot(reader, cutoff)

    @contextmanager
    def _unlocked(self) -> Iterator[SqlUsageSnapshot]:
        """A read of what is committed now, without a lock (one repeatable read)."""
        with self._engine.connect() as reader:
            sqlite = is_sqlite(self._engine)
            if not sqlite:
                reader = reader.execution_options(isolation_level="REPEATABLE READ")
            with reader.begin():
                cutoff = usage_cutoff(reader)
                # SQLite writers commit one at a time, in seq order: nothing below can follow
                yield SqlUsageSnapshot(reader, cutoff, complete=sqlite)

    @contextmanager
    def latest(self, *, wait: bool) -> Iterator[SqlUsageSnapshot]:
        """A read transaction of the usage committed so far, its cutoff the highest ``seq``
        (or usage mark) it sees, and ``complete`` when it holds every event up to it. On
        SQLite it always does, without the write lock: writers commit one at a time, each
        ``seq`` above the last and above the latest mark (never one a voided event had). On
        PostgreSQL it does when the identity lock was free to take for an instant, as
        :meth:`snapshot` takes it: ``wait`` waits for the ingestion transactions in flight;
        without it (a read that must not wait, or runs inside an ingestion transaction) the
        lock is only tried."""
        if is_sqlite(self._engine):
            with self._engine.connect() as reader, reader.begin():
                cutoff = usage_cutoff(reader)
                yield SqlUsageSnapshot(reader, cutoff)
            return
        with self._engine.connect() as lock, self._engine.connect() as reader:
            hold = lock.begin()
            take = sa.func.pg_advisory_xact_lock if wait else sa.func.pg_try_advisory_xact_lock
            held = lock.execute(sa.select(take(IDENTITY_LOCK))).scalar() is not False
            reader = reader.execution_options(isolation_level="REPEATABLE READ")
            with reader.begin():
                cutoff = usage_cutoff(reader)
                hold.rollback()  # the read is fixed: let ingestion go on
                yield SqlUsageSnapshot(reader, cutoff, complete=held)
