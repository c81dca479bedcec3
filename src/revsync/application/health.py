"""A customer's health as revsync sees it — adoption of each metered allowance against the
plans in service, billing status from the ERP postings, the renewal and its readiness, the
risks and the score they make — for the CRM's account fields and the support tool's tickets
alike."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from revsync.application.usage import UsageQueries, UsageRequest
from revsync.domain.crm import (
    BillingStatus,
    MeterAdoption,
    MeterScope,
    Signals,
    adoption_scopes,
    assess,
    first_renewal,
    in_service,
    meter_adoption,
)
from revsync.domain.identity import Customer, System
from revsync.domain.invoicing import Invoice, InvoiceStatus
from revsync.domain.metering import Window
from revsync.domain.periods import shift_months
from revsync.domain.pricing import Plan
from revsync.domain.subscriptions import Subscription
from revsync.domain.support import LOAD_DAYS, SupportLoad


class Health:
    """Assesses one customer at a time, inside the caller's unit of work."""

    def __init__(
        self,
        usage: UsageQueries,
        renewal_window_days: int,
        expansion_periods: int,
        *,
        with_support: bool = False,
    ) -> None:
        self._usage = usage
        self._renewal_window_days = renewal_window_days
        self._expansion_periods = expansion_periods
        self._with_support = with_support  # a support tool is connected: its load counts

    def assess(
        self,
        uow: Any,
        customer: Customer,
        subscriptions: list[Subscription],
        now: datetime,
        plans: dict[tuple[str, int], Plan | None],
    ) -> tuple[Signals, dict[str, list[date]]]:
        """The customer's signals, and per meter the run of months above the plans. Adoption and
        renewal read every subscription in service today (with the plan in force), and the
        subsidiaries' usage where one of them bills it; billing reads every invoice of every
        subscription of the customer, ended ones included."""
        today = now.astimezone(ZoneInfo(customer.timezone)).date()
        running = in_service(subscriptions, today)
        covered = []
        for subscription, terms in running:
            if terms.plan not in plans:
                plans[terms.plan] = uow.plans.get(*terms.plan)
            plan = plans[terms.plan]
            if plan is not None:
                covered.append((subscription, plan))
        bills_children = any(s.include_children for s, _ in covered)
        descendants = uow.customers.descendants_of(customer.id) if bills_children else []
        adoption: list[MeterAdoption] = []
        streaks: dict[str, list[date]] = {}
        for scope in adoption_scopes(customer.id, covered, descendants):
            found, streak = meter_adoption(scope, self._monthly(customer, scope, today))
            adoption.append(found)
            if streak:
                streaks[scope.meter] = streak
        billing = billing_status(uow, subscriptions)
        renewal = first_renewal((s for s, _ in running), today)
        load = self.support_load(uow, customer.id, now) if self._with_support else None
        readiness, risks = assess(
            adoption,
            billing,
            renewal,
            today,
            self._renewal_window_days,
            load,
            contract_changed(subscriptions, today),
        )
        accounts = customer.refs_in(System.CRM)
        account = accounts[0] if accounts else ""
        return Signals(
            customer.id, account, tuple(adoption), billing, renewal, readiness, risks
        ), streaks

    @property
    def with_support(self) -> bool:
        """Whether a support tool is connected (its load counts)."""
        return self._with_support

    @staticmethod
    def support_load(uow: Any, customer_id: str, now: datetime) -> SupportLoad:
        """The tickets the customer opened in the last :data:`LOAD_DAYS` days and the days
        before them."""
        span = timedelta(days=LOAD_DAYS)
        recent = uow.support.priorities(customer_id, now - span, now)
        previous = uow.support.priorities(customer_id, now - 2 * span, now - span)
        return SupportLoad.of(recent, previous)

    def _monthly(
        self, customer: Customer, scope: MeterScope, today: date
    ) -> list[tuple[date, Decimal]]:
        """Usage of the scope's accounts in the last complete months (oldest first), enough
        for the expansion rule, in one query."""
        end = today.replace(day=1)
        start = shift_months(end, -max(self._expansion_periods, 2))
        zone = ZoneInfo(customer.timezone)
        buckets = self._usage.usage(
            UsageRequest(
                customer_ids=scope.customer_ids,
                meter=scope.meter,
                start=datetime.combine(start, datetime.min.time(), zone),
                end=datetime.combine(end, datetime.min.time(), zone),
                window=Window.MONTH,
                timezone=customer.timezone,
            )
        )
        found = {b.start.astimezone(zone).date(): b.value for b in buckets}
        history: list[tuple[date, Decimal]] = []
        day = start
        while day < end:
            history.append((day, found.get(day, Decimal(0))))
            day = shift_months(day, 1)
        return history


def contract_changed(subscriptions: Sequence[Subscription], today: date) -> bool:
    """Whether a subscription's terms changed (not began) in the last :data:`LOAD_DAYS` days."""
    since = today - timedelta(days=LOAD_DAYS)
    return any(
        terms.version > 1 and since < terms.effective <= today
        for subscription in subscriptions
        for terms in subscription.terms
    )


def billed_invoices(uow: Any, subscriptions: Sequence[Subscription]) -> list[Invoice]:
    """The numbered invoices of these subscriptions that bill (not credit notes, not voided),
    in one query — and the consolidated invoices that bill some of them."""
    found = [
        i
        for invoices in uow.invoices.of_subscriptions([s.id for s in subscriptions]).values()
        for i in invoices
    ]
    consolidated = sorted({i.consolidated_into for i in found if i.consolidated_into})
    found += [c for c in map(uow.invoices.get, consolidated) if c is not None]
    return [
        i
        for i in found
        if i.number is not None and not i.credits_invoice and i.status is not InvoiceStatus.VOID
    ]


def billing_status(uow: Any, subscriptions: Sequence[Subscription]) -> BillingStatus:
    """The last finalized invoice of any of the customer's subscriptions and whether any of their
    invoices is overdue (from the ERP postings): two queries, whatever the number of them."""
    invoices = billed_invoices(uow, subscriptions)
    if not invoices:
        return BillingStatus(None, None, None, None, False, None)
    last = max(invoices, key=lambda i: (i.issue_date, i.number or ""))
    overdue, level = False, None
    for posting in uow.postings.many([i.id for i in invoices]).values():
        if posting.overdue and not posting.paid:
            overdue = True
            level = posting.dunning_level or level
    return BillingStatus(
        last.number, last.totals.total, last.currency, last.status.value, overdue, level
    )
