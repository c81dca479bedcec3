"""The renewal assessments announced and the onboarding milestones decided, in SQL."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa

from revsync.adapters.db.tables import onboarding_milestones, renewal_assessments
from revsync.domain.renewals import MilestoneState, RenewalAssessment


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
