""":class:`~revsync.ports.thresholds.ThresholdStore` on one connection."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime

import sqlalchemy as sa

from revsync.adapters.db.delivery_repositories import _insert
from revsync.adapters.db.tables import (
    plans,
    subscriptions,
    threshold_crossings,
    threshold_rechecks,
    usage_watermarks,
)
from revsync.domain.thresholds import ThresholdKind
from revsync.ports.thresholds import CrossingRecord

_c = threshold_crossings.c
_CHUNK = 500


class SqlThresholdStore:
    """Crossings and watermarks."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def any_declared(self) -> bool:
        # a plan's stored definition names "thresholds" only when it has some (a plan whose
        # name holds the word is a false alarm: the sweep then finds nothing to watch)
        declared = sa.type_coerce(plans.c.definition, sa.Text).contains('"thresholds"')
        query = sa.select(
            sa.exists().where(subscriptions.c.thresholds.is_not(None)) | sa.exists().where(declared)
        )
        return bool(self._conn.execute(query).scalar())

    def rechecks(self) -> set[str]:
        return set(self._conn.execute(sa.select(threshold_rechecks.c.customer_id)).scalars())

    def clear_rechecks(self, customer_ids: Collection[str]) -> None:
        ids = sorted(customer_ids)
        for first in range(0, len(ids), _CHUNK):
            chunk = ids[first : first + _CHUNK]
            self._conn.execute(
                threshold_rechecks.delete().where(threshold_rechecks.c.customer_id.in_(chunk))
            )

    def watermark(self, name: str) -> int:
        found = self._conn.execute(
            sa.select(usage_watermarks.c.seq).where(usage_watermarks.c.name == name)
        ).scalar()
        return int(found or 0)

    def set_watermark(self, name: str, seq: int, at: datetime) -> None:
        statement = _insert(self._conn, usage_watermarks).values(name=name, seq=seq, updated_at=at)
        self._conn.execute(
            statement.on_conflict_do_update(
                index_elements=["name"], set_={"seq": seq, "updated_at": at}
            )
        )

    def recorded(
        self, subscription_ids: Collection[str], since: date
    ) -> set[tuple[str, str, date]]:
        ids = sorted(subscription_ids)
        found: set[tuple[str, str, date]] = set()
        for first in range(0, len(ids), _CHUNK):
            query = sa.select(_c.subscription_id, _c.threshold_key, _c.period_start).where(
                _c.subscription_id.in_(ids[first : first + _CHUNK]), _c.period_start >= since
            )
            found.update((row[0], row[1], row[2]) for row in self._conn.execute(query))
        return found

    def record(self, crossings: Sequence[CrossingRecord]) -> list[CrossingRecord]:
        kept = []
        for crossing in crossings:
            statement = (
                _insert(self._conn, threshold_crossings)
                .values(
                    subscription_id=crossing.subscription_id,
                    threshold_key=crossing.threshold_key,
                    period_start=crossing.period_start,
                    period_end=crossing.period_end,
                    customer_id=crossing.customer_id,
                    kind=crossing.kind.value,
                    meter=crossing.meter,
                    limit_value=crossing.limit,
                    observed=crossing.observed,
                    currency=crossing.currency,
                    cutoff_seq=crossing.cutoff_seq,
                    crossed_at=crossing.crossed_at,
                    interim_invoice_id=crossing.interim_invoice_id,
                )
                .on_conflict_do_nothing()
                .returning(_c.threshold_key)  # a row only when this insert recorded it
            )
            if self._conn.execute(statement).first() is not None:
                kept.append(crossing)
        return kept

    def page(
        self,
        *,
        customer_ids: Collection[str] | None,
        after: tuple[datetime, str, str, date] | None,
        limit: int,
    ) -> list[CrossingRecord]:
        order = (_c.crossed_at, _c.subscription_id, _c.threshold_key, _c.period_start)
        query = sa.select(threshold_crossings)
        if customer_ids is not None:
            query = query.where(_c.customer_id.in_(sorted(customer_ids)))
        if after is not None:
            query = query.where(sa.tuple_(*order) < sa.tuple_(*after))
        query = query.order_by(*(column.desc() for column in order)).limit(limit)
        return [
            CrossingRecord(
                subscription_id=row.subscription_id,
                threshold_key=row.threshold_key,
                period_start=row.period_start,
                period_end=row.period_end,
                customer_id=row.customer_id,
                kind=ThresholdKind(row.kind),
                meter=row.meter,
                limit=row.limit_value,
                observed=row.observed,
                currency=row.currency,
                cutoff_seq=row.cutoff_seq,
                crossed_at=row.crossed_at,
                interim_invoice_id=row.interim_invoice_id,
            )
            for row in self._conn.execute(query)
        ]
