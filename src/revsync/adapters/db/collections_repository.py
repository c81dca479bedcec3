"""The collections ladder's state and the renewal assessments announced, in SQL."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from revsync.adapters.db.tables import collections, onboarding_milestones, renewal_assessments
from revsync.domain.collections import Restriction, Standing
from revsync.domain.renewals import MilestoneState, RenewalAssessment
from revsync.ports.collections import CollectionsRecord

_c = collections.c


class SqlCollectionsRepository:
    """:class:`~revsync.ports.collections.CollectionsRepository` on a connection."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def get(self, customer_id: str) -> CollectionsRecord | None:
        row = self._conn.execute(sa.select(collections).where(_c.customer_id == customer_id))
        found = row.first()
        return None if found is None else _record(found)

    def on_ladder(self) -> list[CollectionsRecord]:
        rows = self._conn.execute(
            sa.select(collections).where(_c.level > 0).order_by(_c.customer_id)
        )
        return [_record(row) for row in rows]

    def put(self, record: CollectionsRecord) -> None:
        standing = record.standing
        values = {
            "level": standing.level,
            "tasks": list(standing.tasks),
            "flagged": standing.flagged,
            "restriction": None if standing.restriction is None else standing.restriction.as_dict(),
            "since": record.since,
            "updated_at": record.updated_at,
        }
        if not self._conn.execute(
            collections.update().where(_c.customer_id == record.customer_id).values(**values)
        ).rowcount:
            self._conn.execute(
                collections.insert().values(customer_id=record.customer_id, **values)
            )

    def page(self, after: str | None, limit: int) -> list[CollectionsRecord]:
        query = sa.select(collections).where(_c.level > 0)
        if after is not None:
            query = query.where(_c.customer_id > after)
        rows = self._conn.execute(query.order_by(_c.customer_id).limit(limit))
        return [_record(row) for row in rows]

    def moved_since(self, at: datetime | None) -> list[CollectionsRecord]:
        query = sa.select(collections)
        if at is not None:
            query = query.where(_c.updated_at > at)
        rows = self._conn.execute(query.order_by(_c.updated_at, _c.customer_id))
        return [_record(row) for row in rows]

    def restrictions(self, customer_ids: Collection[str]) -> dict[str, Standing]:
        ids = sorted(set(customer_ids))
        found: dict[str, Standing] = {}
        for start in range(0, len(ids), 500):
            rows = self._conn.execute(
                sa.select(collections).where(
                    _c.customer_id.in_(ids[start : start + 500]), _c.restriction.is_not(None)
                )
            )
            found.update({row.customer_id: _record(row).standing for row in rows})
        return found


def _record(row: Any) -> CollectionsRecord:
    return CollectionsRecord(
        row.customer_id,
        Standing(
            int(row.level),
            tuple(int(t) for t in row.tasks),
            bool(row.flagged),
            Restriction.of(row.restriction),
        ),
        row.since,
        row.updated_at,
    )


class SqlRenewalRepository:
    """:class:`~revsync.ports.renewals.RenewalRepository` on a connection."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def record(self, assessment: RenewalAssessment, at: datetime) -> bool:
        r = renewal_assessments.c
        held = self._conn.execute(
            sa.select(sa.func.count()).where(
                r.subscription_id == assessment.subscription_id,
                r.renewal_date == assessment.renewal_date,
                r.horizon == assessment.horizon,
            )
        ).scalar_one()
        if held:
            return False
        self._conn.execute(
            renewal_assessments.insert().values(
                subscription_id=assessment.subscription_id,
                renewal_date=assessment.renewal_date,
                horizon=assessment.horizon,
                customer_id=assessment.customer_id,
                verdict=assessment.verdict.value,
                reasons=list(assessment.reasons),
                assessed_at=at,
            )
        )
        return True

    def decided(self, subscription_ids: Collection[str]) -> set[tuple[str, str]]:
        o = onboarding_milestones.c
        ids = sorted(set(subscription_ids))
        found: set[tuple[str, str]] = set()
        for start in range(0, len(ids), 500):
            rows = self._conn.execute(
                sa.select(o.subscription_id, o.milestone).where(
                    o.subscription_id.in_(ids[start : start + 500])
                )
            )
            found |= {(row.subscription_id, row.milestone) for row in rows}
        return found

    def decide(
        self,
        subscription_id: str,
        milestone: str,
        customer_id: str,
        state: MilestoneState,
        used: Decimal,
        at: datetime,
    ) -> bool:
        if self.decided([subscription_id]) & {(subscription_id, milestone)}:
            return False
        self._conn.execute(
            onboarding_milestones.insert().values(
                subscription_id=subscription_id,
                milestone=milestone,
                customer_id=customer_id,
                state=state.value,
                used=used,
                decided_at=at,
            )
        )
        return True
