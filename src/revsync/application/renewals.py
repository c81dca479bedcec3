"""Renewal intelligence (docs/quote-to-cash.md): the subscriptions renewing soon, each assessed
— at risk, healthy, expansion, with its reasons — from the customer's adoption against the
plan's commitment (``Health``), its payment history in the ERP and its support load; listed on
demand, and announced once at each horizon (90, 60, 30 days by default) so that the CRM gets a
task or an expansion opportunity and the account's assessment field. And the onboarding
milestones of new subscriptions (``Onboarding``), announced once each, reached or missed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from revsync.application.announcements import Announcer
from revsync.application.health import Health, billed_invoices
from revsync.application.usage import UsageQueries, UsageRequest
from revsync.domain.audit import AuditRecord
from revsync.domain.crm import in_service
from revsync.domain.identity import Customer, System
from revsync.domain.pricing import Plan
from revsync.domain.renewals import (
    Milestone,
    MilestoneState,
    Payments,
    RenewalAssessment,
    assess_renewal,
    milestone_state,
)
from revsync.domain.subscriptions import Subscription
from revsync.ports.clock import Clock
from revsync.ports.repositories import UnitOfWork, UnitOfWorkFactory

ACTOR = "system:renewals"
#: the announcement of an assessment at a horizon
ASSESSED = "renewal.assessed"
#: the announcement of an onboarding milestone reached or missed
MILESTONE = "onboarding.milestone"


@dataclass(slots=True)
class RenewalReport:
    """What one pass announced: the assessments at a horizon not announced before."""

    announced: list[RenewalAssessment] = field(default_factory=list)


class Renewals:
    """Assesses the subscriptions renewing within a window."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        clock: Clock,
        health: Health,
        announcer: Announcer,
        horizons: Sequence[int],
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock
        self._health = health
        self._announcer = announcer
        self._horizons = tuple(sorted(set(horizons)))

    def upcoming(self, within_days: int) -> list[RenewalAssessment]:
        """Every subscription in service renewing within ``within_days`` days (today
        included), soonest first, each assessed at the nearest horizon it is within (or at
        ``within_days`` when that is farther than every horizon)."""
        horizons = sorted({*self._horizons, within_days})
        now = self._clock.now()
        found: list[RenewalAssessment] = []
        plans: dict[tuple[str, int], Plan | None] = {}
        with self._uow(write=False) as uow:
            by_customer: dict[str, list[Subscription]] = {}
            for subscription in uow.subscriptions.billable(now.date()):
                by_customer.setdefault(subscription.customer_id, []).append(subscription)
            for customer_id, subscriptions in sorted(by_customer.items()):
                customer = uow.customers.get(customer_id)
                if customer is None:
                    continue
                today = now.astimezone(ZoneInfo(customer.timezone)).date()
                due = [
                    s
                    for s, _ in in_service(subscriptions, today)
                    if s.renewal_date is not None
                    and 0 <= (s.renewal_date - today).days <= within_days
                ]
                if not due:
                    continue
                signals, _ = self._health.assess(uow, customer, subscriptions, now, plans)
                payments = payment_history(uow, subscriptions)
                load = self._health.support_load(uow, customer_id, now)
                for subscription in due:
                    assert subscription.renewal_date is not None
                    assessed = assess_renewal(
                        customer_id,
                        subscription.id,
                        subscription.renewal_date,
                        today,
                        horizons,
                        signals.adoption,
                        payments,
                        load if self._health.with_support else None,
                    )
                    if assessed is not None:
                        found.append(assessed)
        return sorted(found, key=lambda a: (a.renewal_date, a.subscription_id))

    def run(self, correlation_id: str | None = None) -> RenewalReport:
        """Announce each assessment at a configured horizon that was not announced before
        (once per subscription, renewal date and horizon), with its audit record."""
        report = RenewalReport()
        if not self._horizons:
            return report
        assessed = [a for a in self.upcoming(max(self._horizons)) if a.horizon in self._horizons]
        with self._uow() as uow:
            now = self._clock.now()
            for assessment in assessed:
                if not uow.renewals.record(assessment, now):
                    continue  # announced at this horizon before
                customer = uow.customers.get(assessment.customer_id)
                if customer is None:
                    continue
                uow.outbox.add(self._message(uow, customer, assessment, correlation_id), now)
                uow.audit.append(
                    AuditRecord(
                        now,
                        ACTOR,
                        "renewal.assessed",
                        "subscription",
                        assessment.subscription_id,
                        None,
                        {
                            "renewal_date": assessment.renewal_date.isoformat(),
                            "horizon": assessment.horizon,
                            "verdict": assessment.verdict.value,
                            "reasons": list(assessment.reasons),
                        },
                    )
                )
                report.announced.append(assessment)
            uow.commit()
        return report

    def _message(
        self,
        uow: UnitOfWork,
        customer: Customer,
        assessment: RenewalAssessment,
        correlation_id: str | None,
    ) -> Any:
        subscription = uow.subscriptions.get(assessment.subscription_id)
        terms = subscription.current if subscription is not None else None
        accounts = customer.refs_in(System.CRM)
        key = (
            f"renewal:{assessment.subscription_id}:{assessment.renewal_date.isoformat()}:"
            f"{assessment.horizon}"
        )
        return self._announcer.keyed(
            ASSESSED,
            customer.id,
            key,
            {
                "customer_name": customer.name,
                "account_id": accounts[0] if accounts else None,
                "subscription_id": assessment.subscription_id,
                "plan": f"{terms.plan_code}@{terms.plan_version}" if terms else None,
                "renewal_date": assessment.renewal_date.isoformat(),
                "days": assessment.days,
                "horizon": assessment.horizon,
                "verdict": assessment.verdict.value,
                "reasons": list(assessment.reasons),
            },
            correlation_id,
        )


def payment_history(uow: UnitOfWork, subscriptions: Sequence[Subscription]) -> Payments:
    """The customer's invoices in the ERP: how many, how many were dunned, how many are overdue
    now (two queries)."""
    invoices = billed_invoices(uow, subscriptions)
    postings = uow.postings.many([i.id for i in invoices]).values()
    return Payments(
        invoices=len(postings),
        dunned=sum(1 for p in postings if p.dunning_level),
        overdue=sum(1 for p in postings if p.overdue and not p.paid),
    )


def parse_within(text: str) -> int:
    """``90d`` or ``90`` → 90 (days, 0–730; raises ValueError naming the form)."""
    raw = text.strip().lower().removesuffix("d")
    if not raw.isdigit() or not 0 <= int(raw) <= 730:
        raise ValueError("a number of days from 0 to 730, e.g. 90d")
    return int(raw)


class Onboarding:
    """Decides the onboarding milestones of subscriptions that started within the longest
    milestone's days (and a week more, for a worker that was down): each reached or missed once,
    announced for the CRM."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        clock: Clock,
        usage: UsageQueries,
        announcer: Announcer,
        milestones: Sequence[Milestone],
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock
        self._usage = usage
        self._announcer = announcer
        self._milestones = tuple(milestones)

    def run(self, correlation_id: str | None = None) -> list[tuple[str, str, MilestoneState]]:
        """The milestones decided now: (subscription, milestone, state)."""
        if not self._milestones:
            return []
        now = self._clock.now()
        reach = max(m.within_days for m in self._milestones) + _LATE_DAYS
        decisions: list[tuple[Subscription, Customer, Milestone, MilestoneState, Decimal]] = []
        with self._uow(write=False) as uow:
            recent = [
                s
                for s in uow.subscriptions.billable(now.date())
                if (now.date() - s.start).days <= reach
            ]
            decided = uow.renewals.decided([s.id for s in recent])
            for subscription in recent:
                customer = uow.customers.get(subscription.customer_id)
                if customer is None:
                    continue
                zone = ZoneInfo(customer.timezone)
                today = now.astimezone(zone).date()
                for milestone in self._milestones:
                    if (subscription.id, milestone.key) in decided:
                        continue
                    start = datetime.combine(subscription.start, time(), zone)
                    deadline = start + timedelta(days=milestone.within_days)
                    used = self._used(customer, milestone.meter, start, min(now, deadline))
                    state = milestone_state(milestone, subscription.start, today, used)
                    if state is not None:
                        decisions.append((subscription, customer, milestone, state, used))
        done = []
        with self._uow() as uow:
            for subscription, customer, milestone, state, used in decisions:
                if not uow.renewals.decide(
                    subscription.id, milestone.key, customer.id, state, used, now
                ):
                    continue
                uow.outbox.add(
                    self._message(customer, subscription, milestone, state, used, correlation_id),
                    now,
                )
                uow.audit.append(
                    AuditRecord(
                        now,
                        ACTOR,
                        f"onboarding.{state.value}",
                        "subscription",
                        subscription.id,
                        None,
                        {"milestone": milestone.key, "used": str(used)},
                    )
                )
                done.append((subscription.id, milestone.key, state))
            uow.commit()
        return done

    def _used(self, customer: Customer, meter: str, start: datetime, end: datetime) -> Decimal:
        if end <= start:
            return Decimal(0)
        buckets = self._usage.usage(
            UsageRequest((customer.id,), meter, start, end, None, customer.timezone)
        )
        return sum((b.value for b in buckets), Decimal(0))

    def _message(
        self,
        customer: Customer,
        subscription: Subscription,
        milestone: Milestone,
        state: MilestoneState,
        used: Decimal,
        correlation_id: str | None,
    ) -> Any:
        accounts = customer.refs_in(System.CRM)
        deadline = subscription.start + timedelta(days=milestone.within_days)
        return self._announcer.keyed(
            MILESTONE,
            customer.id,
            f"onboarding:{subscription.id}:{milestone.key}",
            {
                "customer_name": customer.name,
                "account_id": accounts[0] if accounts else None,
                "subscription_id": subscription.id,
                "milestone": milestone.key,
                "state": state.value,
                "meter": milestone.meter,
                "at_least": milestone.at_least,
                "used": used,
                "start": subscription.start.isoformat(),
                "deadline": deadline.isoformat(),
            },
            correlation_id,
        )


#: a milestone is still decided this many days after its last (a worker that was down)
_LATE_DAYS = 7
