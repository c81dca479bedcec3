"""Which renewal assessments were announced, and which onboarding milestones decided, as
revsync keeps them."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from revsync.domain.renewals import MilestoneState, RenewalAssessment


class RenewalRepository(Protocol):
    """Announced assessments inside a unit of work (one per subscription, renewal date and
    horizon)."""

    def record(self, assessment: RenewalAssessment, at: datetime) -> bool:
        """Keep the assessment; False when one was kept for its subscription, renewal date
        and horizon (nothing changed)."""
        ...

    def decided(self, subscription_ids: Collection[str]) -> set[tuple[str, str]]:
        """(subscription, milestone) of those of the subscriptions decided already."""
        ...

    def decide(
        self,
        subscription_id: str,
        milestone: str,
        customer_id: str,
        state: MilestoneState,
        used: Decimal,
        at: datetime,
    ) -> bool:
        """Keep a milestone's state; False when it was decided already."""
        ...
