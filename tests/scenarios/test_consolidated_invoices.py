"""Billing scenarios: consolidated invoices (``billing.consolidate: true``) — a customer's
invoices of one issue date, of several subscriptions, billed as one — through real billing
runs, with the full invoices.

Every figure is worked out by hand from docs/billing.md ("Consolidated invoices"). The
customer ``acme`` (EUR, UTC, tenant ``t-acme``, no tax) subscribes on 2026-11-01 to ``pro``
(99.00 a month in advance, API calls in arrears above 1,000 at 0.012) as ``s1`` and to
``support`` (50.00 a month in advance) as ``s2``; runs have no grace.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from revsync.adapters.db.tables import outbox_messages
from revsync.domain.errors import InvalidField
from revsync.domain.invoicing import InvoiceKind, InvoiceStatus, invoice_id
from revsync.domain.periods import Period
from revsync.ports.billing import InvoiceFilter
from revsync.sandbox.faults import FaultServer
from tests.scenarios.harness import PRO, Line, World, invoice
from tests.support.delivery import destination, outbox_settings

NOV = "2026-11-01/2026-12-01"
DEC = "2026-12-01/2027-01-01"
SUPPORT: dict[str, Any] = {
    "code": "support",
    "name": "Support",
    "currency": "EUR",
    "interval": "month",
    "charges": [
        {
            "key": "desk",
            "model": "flat",
            "description": "Support desk",
            "timing": "in_advance",
            "amount": "50.00",
        }
    ],
}
CONSOLIDATE = {"grace_period_hours": 0, "consolidate": True}
ADVANCE, ARREARS = InvoiceKind.ADVANCE, InvoiceKind.ARREARS


@pytest.fixture
def target() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


def finalized_announced(w: World) -> list[str]:
    """The invoices announced as finalized, in order."""
    m = outbox_messages.c
    with w.container.engine.connect() as conn:
        rows = conn.execute(
            sa.select(m.object_id).where(m.kind == "invoice.finalized").order_by(m.id)
        )
        return [row.object_id for row in rows]


def part(subscription: str, kind: InvoiceKind, period: str) -> str:
    """The id of a subscription's invoice (the key prefix of its lines on a consolidated one)."""
    start, end = (date.fromisoformat(d) for d in period.split("/"))
    return invoice_id(subscription, Period(start, end), kind)


def on(part_id: str, subscription: str, *lines: Line) -> tuple[Line, ...]:
    """Lines of a part as the consolidated invoice shows them."""
    return tuple((f"{part_id}:{k}", f"{subscription} — {d}", q, u, a) for k, d, q, u, a in lines)


PLATFORM: Line = ("fee:platform", "Platform fee", "1", "99.00", "99.00")
DESK: Line = ("fee:desk", "Support desk", "1", "50.00", "50.00")


def two_subscriptions(world: Callable[..., World], **options: Any) -> World:
    w = world(plans=[PRO, SUPPORT], start="2026-11-01T08:00:00Z", billing=CONSOLIDATE, **options)
    w.customer("acme")
    w.subscribe("s1", "acme", "pro", "2026-11-01")
    w.subscribe("s2", "acme", "support", "2026-11-01")
    return w


def consolidated(w: World) -> dict[str, Any]:
    """The customer's consolidated invoices by number."""
    found = w.container.billing.invoices(
        InvoiceFilter(kind=InvoiceKind.CONSOLIDATED), after=None, limit=100
    )
    return {i.number: i for i in found}


TIER_1: Line = (
    "usage:calls:2026-11-01:tier-1",
    "API calls — tier 1 (up to 1,000)",
    "1000",
    "0",
    "0.00",
)


def tier_2(calls: int) -> Line:
    amount = Decimal(calls) * Decimal("0.012")
    return (
        "usage:calls:2026-11-01:tier-2",
        "API calls — tier 2 (above 1,000)",
        str(calls),
        "0.012",
        f"{amount:.2f}",
    )


def test_a_customers_invoices_of_one_day_are_one_invoice_announced_alone(
    world: Callable[..., World], target: FaultServer
) -> None:
    w = two_subscriptions(world, extra=outbox_settings(destination(target)))
    w.at("2026-11-01T09:00:00Z").bill("2026-11-01")
    w.at("2026-11-20T12:00:00Z").usage("t-acme", "api.request", "2026-11-20T11:00:00Z", times=1250)
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    s1_nov, s2_nov = part("s1", ADVANCE, NOV), part("s2", ADVANCE, NOV)
    s1_dec, s2_dec = part("s1", ADVANCE, DEC), part("s2", ADVANCE, DEC)
    s1_usage = part("s1", ARREARS, NOV)
    assert [i for i in w.invoices(customer_id="acme") if i.kind == "consolidated"] == [
        # 1 November: each subscription's first advance invoice
        invoice(
            "consolidated",
            NOV,
            "INV-000001",
            (*on(s1_nov, "s1", PLATFORM), *on(s2_nov, "s2", DESK)),
            "149.00",
        ),
        # 1 December: s1's December fee and November's usage (250 × 0.012), s2's fee
        invoice(
            "consolidated",
            "2026-11-01/2027-01-01",
            "INV-000002",
            (
                *on(s1_dec, "s1", PLATFORM),
                *on(s1_usage, "s1", TIER_1, tier_2(250)),
                *on(s2_dec, "s2", DESK),
            ),
            "152.00",
        ),
    ]
    whole = consolidated(w)
    parts = {i.id: i for i in w.raw_invoices("s1") + w.raw_invoices("s2")}
    assert set(parts) == {s1_nov, s2_nov, s1_dec, s2_dec, s1_usage}
    for number, members in (
        ("INV-000001", (s1_nov, s2_nov)),
        ("INV-000002", (s1_dec, s2_dec, s1_usage)),
    ):
        for member in members:
            found = parts[member]
            assert (found.status, found.number, found.consolidated_into) == (
                InvoiceStatus.FINALIZED,
                None,
                whole[number].id,
            )
    # the consolidated invoices alone are announced (so posted to the ERP), once each
    assert finalized_announced(w) == [whole["INV-000001"].id, whole["INV-000002"].id]


def test_late_usage_adjusts_its_subscriptions_invoice_on_the_next_consolidated_one(
    world: Callable[..., World],
) -> None:
    w = two_subscriptions(world)
    w.at("2026-11-20T12:00:00Z").usage("t-acme", "api.request", "2026-11-20T11:00:00Z", times=1250)
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    # 100 calls of November arrive late: s1's November invoice, billed on INV-000002, is
    # adjusted on s1's next arrears invoice, itself billed on January's consolidated invoice
    w.at("2026-12-02T08:00:00Z").usage("t-acme", "api.request", "2026-11-25T11:00:00Z", times=100)
    w.at("2027-01-01T09:00:00Z").bill("2027-01-01")
    s1_usage, s1_dec_usage = part("s1", ARREARS, NOV), part("s1", ARREARS, DEC)
    january = consolidated(w)["INV-000003"]
    assert [(x.key, x.description, x.quantity, x.amount) for x in january.lines] == [
        (
            f"{part('s1', ADVANCE, '2027-01-01/2027-02-01')}:fee:platform",
            "s1 — Platform fee",
            1,
            Decimal("99.00"),
        ),
        (
            f"{s1_dec_usage}:usage:calls:2026-12-01:tier-1",
            "s1 — API calls — tier 1 (up to 1,000)",
            0,
            Decimal("0.00"),
        ),
        (
            f"{s1_dec_usage}:adjustment:{s1_usage}:usage:calls:2026-11-01:tier-2",
            "s1 — Adjustment: API calls — tier 2 (above 1,000)",
            100,
            Decimal("1.20"),
        ),
        (
            f"{part('s2', ADVANCE, '2027-01-01/2027-02-01')}:fee:desk",
            "s2 — Support desk",
            1,
            Decimal("50.00"),
        ),
    ]
    assert january.totals.total == Decimal("150.20")


def test_the_consolidated_invoice_is_credited_and_voided_and_its_parts_with_it(
    world: Callable[..., World],
) -> None:
    w = two_subscriptions(world)
    w.at("2026-11-20T12:00:00Z").usage("t-acme", "api.request", "2026-11-20T11:00:00Z", times=1250)
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    whole = consolidated(w)["INV-000002"]
    s1_usage = part("s1", ARREARS, NOV)
    billing = w.container.billing
    # a part is not the customer's document: refused, naming the one that is
    for act in (
        lambda: billing.void(s1_usage, "wrong", "ops"),
        lambda: billing.credit(s1_usage, {"usage:calls:2026-11-01:tier-2": Decimal(1)}, "x", "ops"),
    ):
        with pytest.raises(InvalidField) as refused:
            act()
        assert refused.value.field == "invoice"
        assert "billed on consolidated invoice INV-000002" in refused.value.reason
    # a line of the consolidated invoice, at most its value
    key = f"{s1_usage}:usage:calls:2026-11-01:tier-2"
    with pytest.raises(InvalidField) as refused:
        billing.credit(whole.id, {key: Decimal("3.01")}, "too much", "ops")
    assert refused.value.field == f"lines.{key}"
    note = billing.credit(whole.id, {key: Decimal("1.00")}, "goodwill", "ops")
    assert (note.number, note.totals.total, note.credits_invoice) == (
        "CN-000001",
        Decimal("-1.00"),
        whole.id,
    )
    # voided: a note for the rest, and the parts are void with it (never adjusted or billed
    # again)
    void = billing.void(whole.id, "wrong customer", "ops")
    assert (void.number, void.totals.total) == ("CN-000002", Decimal("-151.00"))
    statuses = {i.id: i.status for i in w.raw_invoices("s1") + w.raw_invoices("s2")}
    members = {part("s1", ADVANCE, DEC), part("s2", ADVANCE, DEC), s1_usage}
    assert {statuses[m] for m in members} == {InvoiceStatus.VOID}
    assert statuses[part("s1", ADVANCE, NOV)] is InvoiceStatus.FINALIZED


def test_one_invoice_of_a_day_stands_alone(world: Callable[..., World]) -> None:
    w = world(plans=[PRO], start="2026-11-01T08:00:00Z", billing=CONSOLIDATE)
    w.customer("acme")
    w.subscribe("s1", "acme", "pro", "2026-11-01")
    w.at("2026-11-01T09:00:00Z").bill("2026-11-01")
    assert w.invoices(customer_id="acme") == [
        invoice("advance", NOV, "INV-000001", (PLATFORM,), "99.00")
    ]
