"""Renewal intelligence, as pure rules: at each horizon before a subscription's renewal (90, 60
and 30 days by default) its customer is assessed — at risk, healthy, or ripe for expansion —
from adoption against what the plan commits (with its trend), the support load where a support
tool is connected, and the payment history, each verdict with the reasons behind it; and the
onboarding milestones of a new subscription, reached or missed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from revsync.domain.crm import LOW_ADOPTION, MeterAdoption, Trend
from revsync.domain.support import SupportLoad

#: usage at or above this share of what the plan commits is room to expand
EXPANSION_SHARE = Decimal("1.00")
#: a support load this heavy puts a renewal at risk (as it is a risk for the health score)
HEAVY_LOAD = 8


class Verdict(StrEnum):
    AT_RISK = "at_risk"
    HEALTHY = "healthy"
    EXPANSION = "expansion"


@dataclass(frozen=True, slots=True)
class Payments:
    """The customer's payment history: its invoices in the ERP, those dunned (reminded at
    least once), and those overdue now."""

    invoices: int
    dunned: int
    overdue: int

    def summary(self) -> str:
        if not self.invoices:
            return "no invoice in the ERP yet"
        late = f"{self.dunned} of {self.invoices} invoices dunned"
        return f"{late}, {self.overdue} overdue now" if self.overdue else late


@dataclass(frozen=True, slots=True)
class RenewalAssessment:
    """A subscription's renewal, assessed ``days`` before it (at ``horizon``)."""

    customer_id: str
    subscription_id: str
    renewal_date: date
    days: int
    horizon: int
    verdict: Verdict
    reasons: tuple[str, ...]


def horizon_of(days: int, horizons: Sequence[int]) -> int | None:
    """The nearest horizon the renewal is within (30 at 25 days out of 90/60/30), None beyond
    the farthest or once the renewal has passed."""
    within = [h for h in horizons if 0 <= days <= h]
    return min(within) if within else None


def assess_renewal(
    customer_id: str,
    subscription_id: str,
    renewal_date: date,
    today: date,
    horizons: Sequence[int],
    adoption: Sequence[MeterAdoption],
    payments: Payments,
    support: SupportLoad | None = None,
) -> RenewalAssessment | None:
    """The assessment at the nearest horizon reached (None before the farthest). At risk: an
    invoice overdue now, more than one invoice in three dunned, adoption of every committed meter
    below 30%, usage falling on every meter, or a heavy support load. Expansion: none of those,
    and a committed meter used at or above what the plan commits. Healthy otherwise."""
    days = (renewal_date - today).days
    horizon = horizon_of(days, horizons)
    if horizon is None:
        return None
    risks: list[str] = []
    if payments.overdue or (payments.invoices and payments.dunned * 3 > payments.invoices):
        risks.append(f"payments: {payments.summary()}")
    committed = [a for a in adoption if a.share is not None]
    if committed and all(a.share is not None and a.share < LOW_ADOPTION for a in committed):
        risks.append("adoption below 30% of the commitment: " + _listed(committed))
    if adoption and all(a.trend is Trend.DOWN for a in adoption):
        risks.append("usage falling: " + _listed(adoption))
    if support is not None and support.weight >= HEAVY_LOAD:
        risks.append(f"support: {support.summary()}")
    if risks:
        return RenewalAssessment(
            customer_id, subscription_id, renewal_date, days, horizon, Verdict.AT_RISK, tuple(risks)
        )
    above = [a for a in committed if a.share is not None and a.share >= EXPANSION_SHARE]
    if above:
        reasons = ("above the commitment: " + _listed(above), f"payments: {payments.summary()}")
        return RenewalAssessment(
            customer_id, subscription_id, renewal_date, days, horizon, Verdict.EXPANSION, reasons
        )
    reasons = (
        "adoption: " + (_listed(adoption) or "no metered usage"),
        f"payments: {payments.summary()}",
    )
    return RenewalAssessment(
        customer_id, subscription_id, renewal_date, days, horizon, Verdict.HEALTHY, reasons
    )


def _listed(adoption: Sequence[MeterAdoption]) -> str:
    return "; ".join(a.summary() for a in adoption)


# --- onboarding milestones ---------------------------------------------------------------


class MilestoneState(StrEnum):
    REACHED = "reached"
    MISSED = "missed"


@dataclass(frozen=True, slots=True)
class Milestone:
    """An onboarding milestone: ``meter`` reaching ``at_least`` within ``within_days`` of the
    subscription's start (a first event: at least 1; N active seats: a unique-count meter at
    N; a feature used: a meter filtered on it at 1)."""

    key: str
    meter: str
    at_least: Decimal
    within_days: int


def milestone_state(
    milestone: Milestone, start: date, today: date, used: Decimal
) -> MilestoneState | None:
    """Reached once the usage since the start is at least the milestone's; missed once its
    days are over without it (the day after the last); None while it may still be reached."""
    if used >= milestone.at_least:
        return MilestoneState.REACHED
    if (today - start).days >= milestone.within_days:
        return MilestoneState.MISSED
    return None
