"""Read side of the usage ledger."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from revsync.adapters.db.tables import archived_usage_events, usage_events, voided_events
from revsync.adapters.db.usage_parquet import CountedFilter, ParquetMonths
from revsync.adapters.db.usage_storage_sqlite import archived_months
from revsync.domain.usage import from_micros, utc_day
from revsync.ports.usage import Reading, StoredEvent, UnmappedTenant

_decode_data = msgspec.json.Decoder(dict[str, Any], float_hook=Decimal).decode

#: above this many days a range is scanned instead of probed day by day
_MAX_PROBED_DAYS = 400


class SqlUsageReader:
    """:class:`~revsync.ports.usage.UsageReader` over the ``usage_events`` table (and, for the
    events behind invoice lines, the archive of old months: PostgreSQL's archive schema, or on
    SQLite the Parquet files of ``archive``)."""

    def __init__(self, engine: Engine, archive: ParquetMonths | None = None) -> None:
        self._engine = engine
        self._archive = archive

    def readings(
        self, customer_ids: Sequence[str], event_type: str, start_us: int, end_us: int
    ) -> Iterator[Reading]:
        if not customer_ids or end_us <= start_us:
            return
        query = sa.select(
            usage_events.c.time_us,
            usage_events.c.source,
            usage_events.c.event_id,
            usage_events.c.data,
        ).where(
            _days(usage_events.c.day, start_us, end_us),
            usage_events.c.customer_id.in_(list(customer_ids)),
            usage_events.c.type == event_type,
            usage_events.c.time_us >= start_us,
            usage_events.c.time_us < end_us,
        )
        with self._engine.connect() as conn:
            result = conn.execution_options(yield_per=5000).execute(query)
            for time_us, source, event_id, data in result:
                yield Reading(time_us, source, event_id, _decode_data(data))

    def events(
        self,
        customer_ids: Sequence[str],
        event_type: str,
        start_us: int,
        end_us: int,
        *,
        upto_seq: int,
        after_seq: int,
    ) -> Iterator[StoredEvent]:
        if end_us <= start_us:
            return

        def counted(table: sa.Table) -> sa.Select[Any]:
            e = table.c
            query = sa.select(
                e.seq, e.source, e.event_id, e.type, e.subject, e.time_us, e.customer_id, e.data
            )
            if "day" in e:  # PostgreSQL: the window's months' tables only
                query = query.where(_days(e.day, start_us, end_us))
            return query.where(
                e.seq > after_seq,
                e.seq <= upto_seq,
                # attached to its customer by the cutoff (or from ingestion on)
                sa.or_(e.attached_seq.is_(None), e.attached_seq <= upto_seq),
                e.customer_id.in_(list(customer_ids)),
                e.type == event_type,
                e.time_us >= start_us,
                e.time_us < end_us,
            )

        # voided after the cutoff: counted then (a void before 0025 has no mark: not listed)
        voided = counted(voided_events).where(voided_events.c.voided_seq > upto_seq)
        parts = [counted(usage_events), voided]
        if self._engine.dialect.name == "postgresql":  # and the months archived since
            parts.append(counted(archived_usage_events))
        query = sa.union_all(*parts).order_by(sa.column("seq"))
        with self._engine.connect() as conn:
            archived: Iterable[Sequence[Any]] = ()
            if self._archive is not None:  # SQLite: the archived months, as of this read
                where = CountedFilter(
                    customer_ids, event_type, start_us, end_us, upto_seq, after_seq
                )
                archived = [
                    row
                    for month in archived_months(conn, start_us, end_us)
                    for row in self._archive.counted(month, where)
                ]
            rows = conn.execution_options(yield_per=1000).execute(query)
            for row in _by_seq(rows, archived):
                seq, source, event_id, kind, subject, time_us, customer_id, data = row
                yield StoredEvent(
                    seq, source, event_id, kind, subject, time_us, customer_id, _decode_data(data)
                )

    def unmapped(self, *, after: str | None, limit: int) -> list[UnmappedTenant]:
        query = (
            sa.select(
                usage_events.c.subject,
                sa.func.count(),
                sa.func.min(usage_events.c.time_us),
                sa.func.max(usage_events.c.time_us),
            )
            .where(usage_events.c.customer_id.is_(None))
            .group_by(usage_events.c.subject)
            .order_by(usage_events.c.subject)
            .limit(limit)
        )
        if after is not None:
            query = query.where(usage_events.c.subject > after)
        with self._engine.connect() as conn:
            return [
                UnmappedTenant(subject, count, from_micros(first), from_micros(last))
                for subject, count, first, last in conn.execute(query)
            ]

    def unmapped_total(self) -> int:
        query = sa.select(sa.func.count()).where(usage_events.c.customer_id.is_(None))
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def count_events(self) -> int:
        with self._engine.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(usage_events)).scalar_one()
            )


def _by_seq(
    stored: Iterable[Sequence[Any]], archived: Iterable[Sequence[Any]]
) -> Iterator[Sequence[Any]]:
    """Two reads by ``seq`` as one, an event found in both once (a month's file written again,
    its transaction not committed yet)."""
    last = None
    for row in heapq.merge(stored, archived, key=lambda row: row[0]):
        if row[0] != last:
            last = row[0]
            yield row


def _days(day: sa.ColumnElement[int], start_us: int, end_us: int) -> sa.ColumnElement[bool]:
    """The days of a window as a list, so that the (day, customer) index is probed a day at a
    time (a range of days walks every customer's entries of each); a long window as a range."""
    first, last = utc_day(start_us), utc_day(end_us - 1)
    if last - first < _MAX_PROBED_DAYS:
        return day.in_(range(first, last + 1))
    return day.between(first, last)
