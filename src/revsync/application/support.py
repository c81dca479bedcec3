"""The support side of revsync, first half of issue-to-resolution: tickets read incrementally
from the support tool, each open ticket of an organization mapped to a customer given that
customer's context — revsync's ticket fields and an internal note — through the outbox.

Organizations are mapped by the identity map (``support`` references: the organization's id);
with ``match_external_id`` an organization whose external id is a customer's id or CRM account
id is mapped to it when neither is mapped yet. A ticket's context is queued again only when
what it tells changed (:meth:`TicketContext.digest`), so revsync's own writes, which bring the
ticket back in the next read, change nothing. Tickets asking for a service credit go to
:class:`ServiceCredits` (application/service_credits.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from revsync.application.announcements import Announcer
from revsync.application.customers import Customers, PutCustomer
from revsync.application.entitlements import Entitlements
from revsync.application.health import Health, billed_invoices
from revsync.application.service_credits import ServiceCredits
from revsync.domain.crm import first_renewal, in_service
from revsync.domain.delivery import CaseStatus
from revsync.domain.errors import Conflict, NotFound
from revsync.domain.identity import Customer, ExternalRef, System
from revsync.domain.pricing import Plan
from revsync.domain.support import (
    LOAD_DAYS,
    Allowance,
    OpenCase,
    OpenInvoice,
    TicketContext,
    projected,
)
from revsync.ports.clock import Clock
from revsync.ports.delivery import Case, CaseFilter, NewMessage
from revsync.ports.repositories import UnitOfWork, UnitOfWorkFactory
from revsync.ports.support import (
    TICKET_CONTEXT,
    Organization,
    Support,
    Ticket,
    TicketMark,
    TicketRecord,
)

ACTOR = "system:support"
_TICKETS, _ORGANIZATIONS, _BILLING = "tickets", "organizations", "billing"
#: the mark of the billing changes whose customers' open tickets got their context again
BILLING_MARK = _BILLING
_CASES_SHOWN = 10


@dataclass
class SupportReport:
    """What one sync read and queued."""

    organizations_mapped: list[str] = field(default_factory=list)  # customer ids
    tickets_read: int = 0
    tickets_unmapped: int = 0
    contexts_queued: list[int] = field(default_factory=list)  # ticket ids
    credits_taken: list[int] = field(default_factory=list)  # tickets whose credit was checked
    credits_told: list[int] = field(default_factory=list)  # tickets told of an issued credit


class SupportSync:
    """Read organizations and tickets from where the last sync stopped, map organizations, and
    queue the context of every open ticket of a mapped customer whose context changed."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        clock: Clock,
        customers: Customers,
        entitlements: Entitlements,
        health: Health,
        announcer: Announcer,
        credits: ServiceCredits,
        *,
        overlap_seconds: float,
        match_external_id: bool,
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock
        self._customers = customers
        self._entitlements = entitlements
        self._health = health
        self._announcer = announcer
        self._credits = credits
        self._overlap = overlap_seconds
        self._match = match_external_id

    async def run(self, support: Support, correlation_id: str | None = None) -> SupportReport:
        """One sync: organizations, then tickets. A failure leaves the marks where they were,
        so the next sync reads the same again."""
        report = SupportReport()
        org_mark, ticket_mark = await asyncio.to_thread(self._marks)
        since = None if org_mark is None else org_mark.updated_at - timedelta(seconds=1)
        organizations = await support.organizations(since)
        await asyncio.to_thread(self._map_organizations, organizations, report)
        if ticket_mark is None:  # the first sync: what the support load counts, not all time
            ticket_mark = TicketMark(self._clock.now() - timedelta(days=2 * LOAD_DAYS), 0)
        read = await support.tickets(ticket_mark, overlap_seconds=self._overlap)
        await asyncio.to_thread(self._take, read.tickets, read.mark, report, correlation_id)
        await asyncio.to_thread(self._refresh, report, correlation_id)
        report.credits_told = await asyncio.to_thread(self._credits.announce, correlation_id)
        return report

    def _marks(self) -> tuple[TicketMark | None, TicketMark | None]:
        with self._uow(write=False) as uow:
            return uow.support.mark(_ORGANIZATIONS), uow.support.mark(_TICKETS)

    async def one(
        self, support: Support, ticket_id: int, correlation_id: str | None = None
    ) -> SupportReport:
        """Take one ticket now (the tool's webhook said it changed), as a sync would, without
        moving the marks."""
        report = SupportReport()
        ticket = await support.ticket(ticket_id)
        await asyncio.to_thread(self._take, [ticket], None, report, correlation_id)
        return report

    # --- organizations -----------------------------------------------------------------

    def _map_organizations(
        self, organizations: Sequence[Organization], report: SupportReport
    ) -> None:
        if self._match:
            for organization in organizations:
                mapped = self._map(organization)
                if mapped is not None:
                    report.organizations_mapped.append(mapped)
        if organizations:
            last = organizations[-1]
            with self._uow() as uow:
                uow.support.set_mark(
                    _ORGANIZATIONS, TicketMark(last.updated_at, last.id), self._clock.now()
                )
                uow.commit()

    def _map(self, organization: Organization) -> str | None:
        """Map the organization to the customer its external id names, when neither is mapped
        (the customer id, or its CRM account id); the customer's id, or None."""
        external = (organization.external_id or "").strip()
        if not external:
            return None
        ref = ExternalRef(System.SUPPORT, str(organization.id))
        with self._uow(write=False) as uow:
            if uow.customers.find_by_ref(ref) is not None:
                return None
            customer = uow.customers.get(external) or uow.customers.find_by_ref(
                ExternalRef(System.CRM, external)
            )
        if customer is None or customer.refs_in(System.SUPPORT):
            return None
        refs: dict[System, list[str]] = {}
        for held in customer.refs:
            refs.setdefault(held.system, []).append(held.value)
        refs[System.SUPPORT] = [ref.value]
        try:
            self._customers.put(
                PutCustomer(
                    customer_id=customer.id,
                    name=customer.name,
                    currency=customer.currency,
                    timezone=customer.timezone,
                    parent_id=customer.parent_id,
                    refs=refs,
                    actor=ACTOR,
                    country=customer.country,
                    tax_exempt=customer.tax_exempt,
                )
            )
        except (Conflict, NotFound):  # mapped or changed meanwhile: the next sync sees it
            return None
        return customer.id

    # --- tickets -----------------------------------------------------------------------

    def _take(
        self,
        tickets: Sequence[Ticket],
        mark: TicketMark | None,
        report: SupportReport,
        correlation_id: str | None,
    ) -> None:
        """Record the tickets (so that the support load counts them), then assess their
        customers reading only, then queue the context of each of those customers' open
        tickets — the ones read and the others — where it changed, with the mark in one short
        write. A failure before the mark moves reads them again."""
        report.tickets_read = len(tickets)
        now = self._clock.now()
        owners: dict[int, Customer | None] = {}
        with self._uow() as uow:
            held = uow.support.tickets([t.id for t in tickets])
            for ticket in tickets:
                organization = ticket.organization_id
                if organization is not None and organization not in owners:
                    owners[organization] = uow.customers.find_by_ref(
                        ExternalRef(System.SUPPORT, str(organization))
                    )
                customer = owners.get(organization) if organization is not None else None
                before = held.get(ticket.id)
                record = TicketRecord(
                    ticket.id,
                    organization,
                    customer.id if customer else None,
                    ticket.status,
                    ticket.priority,
                    ticket.created_at,
                    ticket.updated_at,
                    before.context_digest if before else None,
                )
                uow.support.put_ticket(record, now)
                held[ticket.id] = record
            uow.commit()
        mapped = [(t, c) for t in tickets if (c := self._owner(owners, t)) is not None]
        report.credits_taken = self._credits.take(mapped, correlation_id)
        contexts: dict[str, TicketContext] = {}
        with self._uow(write=False) as uow:
            for ticket in tickets:
                customer = self._owner(owners, ticket)
                if customer is None:
                    report.tickets_unmapped += 1
                elif ticket.open and customer.id not in contexts:
                    contexts[customer.id] = self.context(uow, customer, now)
        with self._uow() as uow:
            self._queue(uow, contexts, report, correlation_id, now)
            if mark is not None:
                uow.support.set_mark(_TICKETS, mark, now)
            uow.commit()

    def _queue(
        self,
        uow: UnitOfWork,
        contexts: dict[str, TicketContext],
        report: SupportReport,
        correlation_id: str | None,
        now: datetime,
    ) -> None:
        """Queue each customer's context for every open ticket of it whose last context
        differs."""
        for customer_id, context in contexts.items():
            digest = context.digest()
            tickets = uow.support.open_tickets(customer_id)
            held = uow.support.tickets(tickets)
            for ticket_id in tickets:
                before = held.get(ticket_id)
                if before is None or before.context_digest == digest:
                    continue
                uow.outbox.add(self._message(ticket_id, context, digest, correlation_id), now)
                uow.support.put_ticket(replace(before, context_digest=digest), now)
                report.contexts_queued.append(ticket_id)

    def _refresh(self, report: SupportReport, correlation_id: str | None) -> None:
        """The open tickets of the customers whose billing changed since the last sync — an
        invoice posted to the ERP, paid, overdue or a new dunning level there (the payment
        sync), a move on the collections ladder — get their context again, whether or not the
        tickets changed: the overdue amount, the dunning level, the escalation and collections
        flags are current on every open ticket. Read again from ``overlap_seconds`` before the
        mark; a context that did not change is not queued twice."""
        with self._uow(write=False) as uow:
            mark = uow.support.mark(_BILLING)
            since = None if mark is None else mark.updated_at - timedelta(seconds=self._overlap)
            changed = uow.support.billing_changed(since)
            if not changed:
                return
            now = self._clock.now()
            contexts: dict[str, TicketContext] = {}
            for customer_id in changed:
                customer = uow.customers.get(customer_id)
                if customer is not None and uow.support.open_tickets(customer_id):
                    contexts[customer_id] = self.context(uow, customer, now)
        with self._uow() as uow:
            self._queue(uow, contexts, report, correlation_id, now)
            uow.support.set_mark(_BILLING, TicketMark(max(changed.values()), 0), now)
            uow.commit()

    @staticmethod
    def _owner(owners: dict[int, Customer | None], ticket: Ticket) -> Customer | None:
        organization = ticket.organization_id
        return owners.get(organization) if organization is not None else None

    def _message(
        self, ticket_id: int, context: TicketContext, digest: str, correlation_id: str | None
    ) -> list[NewMessage]:
        return self._announcer.messages(
            TICKET_CONTEXT,
            aggregate=f"ticket:{ticket_id}",
            object_type="ticket",
            object_id=str(ticket_id),
            key_parts=(str(ticket_id), digest),
            payload={
                "ticket_id": ticket_id,
                "customer_id": context.customer_id,
                "note_key": f"context:{digest[:16]}",
                "fields": {
                    role: value.isoformat() if isinstance(value, date) else value
                    for role, value in context.fields().items()
                },
                "note": context.note(),
                "tags": dict(zip(("add", "remove"), context.tags(), strict=True)),
            },
            correlation_id=correlation_id,
        )

    # --- context -----------------------------------------------------------------------

    def context(self, uow: UnitOfWork, customer: Customer, now: datetime) -> TicketContext:
        """The customer's context as of ``now`` (inside the caller's unit of work)."""
        zone = ZoneInfo(customer.timezone)
        today = now.astimezone(zone).date()
        subscriptions = uow.subscriptions.of_customer(customer.id)
        plans: dict[tuple[str, int], Plan | None] = {}
        signals, _ = self._health.assess(uow, customer, subscriptions, now, plans)
        running = in_service(subscriptions, today)
        subscription, terms = running[0] if running else (None, None)
        plan = plans.get(terms.plan) if terms else None
        if terms is not None and plan is None:
            plan = uow.plans.get(*terms.plan)
        allowances: tuple[Allowance, ...] = ()
        try:
            snapshot = self._entitlements.snapshot(customer.id)
        except NotFound:
            snapshot = None
        if snapshot is not None and snapshot.period is not None:
            period = snapshot.period
            span = Decimal((period.end - period.start).days)
            elapsed = Decimal((today - period.start).days) + 1
            allowances = tuple(
                Allowance(
                    d.feature,
                    d.kind.value if d.kind else "",
                    d.limit,
                    d.used,
                    projected(d.used, elapsed, span) if d.used is not None else None,
                )
                for d in snapshot.every()
            )
        invoices = billed_invoices(uow, subscriptions)
        postings = uow.postings.many([i.id for i in invoices])
        open_invoices = []
        for invoice in sorted(invoices, key=lambda i: (i.issue_date, i.number or "")):
            posting = postings.get(invoice.id)
            if posting is None or posting.paid:
                continue
            open_invoices.append(
                OpenInvoice(
                    invoice.number or invoice.id,
                    posting.number,
                    posting.amount_to_pay
                    if posting.amount_to_pay is not None
                    else invoice.totals.total,
                    invoice.currency,
                    posting.due_date,
                    posting.overdue,
                    posting.dunning_level,
                )
            )
        ladder = uow.collections.get(customer.id)
        tickets = (str(t) for t in uow.support.open_tickets(customer.id))
        objects = frozenset({customer.id, *(i.id for i in invoices), *tickets})
        cases = uow.cases.page(
            CaseFilter(status=CaseStatus.OPEN, object_ids=objects), after=None, limit=_CASES_SHOWN
        )
        return TicketContext(
            customer_id=customer.id,
            customer_name=customer.name,
            subscription_id=subscription.id if subscription else None,
            plan=(f"{plan.name} ({plan.code})" if plan else None),
            seats=terms.seats if terms else 0,
            renewal_date=first_renewal((s for s, _ in running), today),
            allowances=allowances,
            invoices=tuple(open_invoices),
            currency=customer.currency,
            health_score=signals.health_score,
            risks=tuple(r.value for r in signals.risks),
            cases=tuple(OpenCase(c.id, c.kind.value, _case_title(c)) for c in cases),
            as_of=now.astimezone(UTC),
            support=self._health.support_load(uow, customer.id, now),
            collections=ladder.standing if ladder is not None and ladder.standing.level else None,
            collections_since=ladder.since if ladder is not None else None,
        )


def _case_title(case: Case) -> str:
    """A case in a line: what it is about and its last error."""
    about = f"{case.object_type} {case.object_id}"
    error = (case.last_error or case.reason or "").splitlines()[0:1]
    return f"{about}: {error[0][:160]}" if error else about
