"""A small world for billing scenarios: a fresh database, a clock the scenario moves, the real
services, and invoices rendered in full for comparison with what the scenario expects.

Scenarios state money as strings ("99.00") and compare every line, tax and total.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from revsync.application.billing import RunReport
from revsync.application.customers import PutCustomer
from revsync.application.ingestion import IngestContext, IngestReport
from revsync.application.subscriptions import AmendSubscription, CreateSubscription
from revsync.bootstrap import Container, apply_configuration, build
from revsync.domain.identity import System
from revsync.domain.invoicing import Invoice
from revsync.domain.money import plain
from revsync.domain.scopes import scope_from_data
from revsync.domain.subscriptions import Change
from revsync.ports.billing import InvoiceFilter, TaxEngine
from revsync.schemas.cloudevents_v1 import decode_items
from tests.conftest import TEST_METERS, make_settings
from tests.support.clock import FrozenClock
from tests.support.events import encode, event

ACTOR = "scenario"


def moment(text: str) -> datetime:
    """An ISO instant; a bare date means midnight UTC."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Rendered:
    """An invoice as scenarios state it."""

    kind: str
    period: str
    status: str
    number: str | None
    lines: tuple[tuple[str, str, str, str, str], ...]  # key, description, quantity, unit, amount
    taxes: tuple[tuple[str, str, str, str], ...] = ()  # code, rate, base, amount
    totals: tuple[str, str, str, str, str, str] = ("0", "0", "0", "0", "0", "0")
    # subtotal, discount, tax, total, credits, amount due


#: an invoice line as scenarios state it: key, description, quantity, unit amount, amount
Line = tuple[str, str, str, str, str]

#: the plan most scenarios use: a platform fee in advance, API calls in arrears above 1,000
PRO: dict[str, Any] = {
    "code": "pro",
    "name": "Pro",
    "currency": "EUR",
    "interval": "month",
    "charges": [
        {
            "key": "platform",
            "model": "flat",
            "description": "Platform fee",
            "timing": "in_advance",
            "amount": "99.00",
        },
        {
            "key": "calls",
            "model": "graduated",
            "description": "API calls",
            "meter": "api_calls",
            "tiers": [
                {"up_to": "1000", "unit_amount": "0"},
                {"up_to": None, "unit_amount": "0.012"},
            ],
        },
    ],
}


def invoice(
    kind: str, period: str, number: str | None, lines: tuple[Line, ...], total: str
) -> Rendered:
    """A finalized invoice without tax, discount or credit: every total is ``total``."""
    return Rendered(
        kind=kind,
        period=period,
        status="finalized",
        number=number,
        lines=lines,
        totals=(total, "0.00", "0.00", total, "0.00", total),
    )


def render(invoice: Invoice) -> Rendered:
    """The parts of an invoice a scenario compares."""
    t = invoice.totals
    return Rendered(
        kind=invoice.kind.value,
        period=str(invoice.period),
        status=invoice.status.value,
        number=invoice.number,
        lines=tuple(
            (
                line.key,
                line.description,
                plain(line.quantity),
                plain(line.unit_amount),
                plain(line.amount),
            )
            for line in invoice.lines
        ),
        taxes=tuple(
            (x.tax_code, plain(x.rate), plain(x.base), plain(x.amount)) for x in invoice.taxes
        ),
        totals=tuple(
            plain(v) for v in (t.subtotal, t.discount, t.tax, t.total, t.credits, t.amount_due)
        ),  # type: ignore[arg-type]
    )


@dataclass
class World:
    """One scenario's revsync."""

    container: Container
    clock: FrozenClock
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def at(self, when: str) -> World:
        """Move the clock to an instant."""
        self.clock.set(moment(when))
        return self

    def customer(
        self,
        customer_id: str,
        *,
        currency: str = "EUR",
        timezone: str = "UTC",
        country: str | None = None,
        tenants: Sequence[str] | None = None,
        parent: str | None = None,
        exempt: bool = False,
    ) -> None:
        refs = {System.PRODUCT: list(tenants if tenants is not None else [f"t-{customer_id}"])}
        self.container.customers.put(
            PutCustomer(
                customer_id,
                customer_id.title(),
                currency,
                timezone,
                parent,
                refs,
                ACTOR,
                country,
                exempt,
            )
        )

    def subscribe(
        self, subscription_id: str, customer_id: str, plan: str, start: str, **options: Any
    ) -> None:
        for name in ("anchor", "trial_end", "ends", "renewal_date"):
            if name in options and isinstance(options[name], str):
                options[name] = date.fromisoformat(options[name])
        coupons = [
            (code, date.fromisoformat(day) if day else None)
            for code, day in options.pop("coupons", [])
        ]
        self.container.subscriptions.create(
            CreateSubscription(
                subscription_id,
                customer_id,
                plan,
                date.fromisoformat(start),
                ACTOR,
                coupons=coupons,
                **options,
            )
        )

    def amend(self, subscription_id: str, change: str, effective: str, **options: Any) -> None:
        for name in ("trial_end", "ends"):
            if name in options and isinstance(options[name], str):
                options[name] = date.fromisoformat(options[name])
        plan = options.pop("plan", None)
        self.container.subscriptions.amend(
            AmendSubscription(
                subscription_id,
                Change(change),
                date.fromisoformat(effective),
                ACTOR,
                plan_code=plan,
                **options,
            )
        )

    def coupon(self, subscription_id: str, code: str, start: str) -> None:
        self.container.subscriptions.add_coupon(
            subscription_id, code, date.fromisoformat(start), ACTOR
        )

    def credit(
        self,
        customer_id: str,
        amount: str,
        currency: str = "EUR",
        *,
        expires_on: str | None = None,
        granted_on: str | None = None,
        applies_to: dict[str, list[str]] | None = None,
    ) -> str:
        """Grant prepaid credit (``applies_to``: the plans and meters it is limited to);
        returns the grant's id."""
        return self.container.credits.grant(
            customer_id,
            Decimal(amount),
            currency,
            granted_on=date.fromisoformat(granted_on) if granted_on else None,
            expires_on=date.fromisoformat(expires_on) if expires_on else None,
            reason="scenario",
            actor=ACTOR,
            applies_to=scope_from_data(applies_to),
        ).id

    def usage(
        self,
        tenant: str,
        kind: str,
        when: str,
        data: dict[str, Any] | None = None,
        *,
        times: int = 1,
        source: str = "app://scenario",
    ) -> IngestReport:
        """Ingest ``times`` events (fresh ids) at the current clock."""
        events = [
            event(
                f"ev-{next(self._ids)}",
                subject=tenant,
                type=kind,
                time=moment(when),
                source=source,
                data=data or {},
            )
            for _ in range(times)
        ]
        report = self.container.ingestion.ingest(
            decode_items([encode(e) for e in events]), IngestContext("api", ACTOR)
        )
        assert report.rejected == [], report.rejected
        return report

    def bill(self, as_of: str) -> RunReport:
        """Run billing as of a date (the clock is not moved)."""
        return self.container.billing.run(date.fromisoformat(as_of), ACTOR)

    def invoices(
        self, subscription_id: str | None = None, customer_id: str | None = None
    ) -> list[Rendered]:
        """Invoices (not credit notes) by period start then kind."""
        found = self.container.billing.invoices(
            InvoiceFilter(customer_id=customer_id, subscription_id=subscription_id),
            after=None,
            limit=1000,
        )
        ordered = sorted(found, key=lambda i: (i.period.start, i.kind.value, i.issue_date))
        return [render(i) for i in ordered]

    def raw_invoices(self, subscription_id: str) -> list[Invoice]:
        found = self.container.billing.invoices(
            InvoiceFilter(subscription_id=subscription_id), after=None, limit=1000
        )
        return sorted(found, key=lambda i: (i.period.start, i.kind.value))


@contextmanager
def make_world(
    url: str,
    *,
    plans: Sequence[dict[str, Any]],
    start: str,
    coupons: Sequence[dict[str, Any]] = (),
    tax: dict[str, dict[str, str]] | None = None,
    billing: dict[str, Any] | None = None,
    meters: Sequence[dict[str, Any]] = TEST_METERS,
    tax_engine: TaxEngine | None = None,
    extra: dict[str, Any] | None = None,
) -> Iterator[World]:
    """A revsync on the fresh database ``url`` with these plans, the clock at ``start``."""
    settings = make_settings(
        url,
        meters=list(meters),
        plans=list(plans),
        coupons=list(coupons),
        tax={"rates": tax or {}},
        billing=billing or {},
        **(extra or {}),
    )
    clock = FrozenClock(moment(start))
    container = build(settings, clock=clock, tax=tax_engine)
    try:
        apply_configuration(container, ACTOR)
        yield World(container, clock)
    finally:
        container.close()
