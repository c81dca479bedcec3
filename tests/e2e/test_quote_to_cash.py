"""Quote-to-cash on the real systems: a won opportunity in the CRM sandbox (products, price book,
lines, read with simple-salesforce) becomes a subscription in revsync, a sale order in a real
Tryton (read over JSON-RPC), and a first invoice billed by revsync and posted to Tryton linked to
that sale; the opportunity gets its subscription id and status back. An add-on opportunity is a
prorated seat change with a sale order of its own; an opportunity revsync cannot bill is refused
whole — an exception case, the reason on the opportunity, nothing made — and taken once its
product is mapped. Each deal is taken once, whatever the CRM sends again."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from revsync.adapters.db.tables import outbox_messages
from revsync.bootstrap import Container, apply_configuration, build
from revsync.config import Settings
from revsync.domain.delivery import CaseKind, CaseStatus
from revsync.domain.invoicing import Invoice, Totals
from revsync.ports.billing import InvoiceFilter
from revsync.ports.delivery import CaseFilter
from revsync.sandbox.crm import CrmSandbox
from revsync.sandbox.crm.deals import Item, add_product, sell
from revsync.schemas.event_payloads_v1 import validate_payload
from tests.conftest import make_settings
from tests.support.clock import FrozenClock
from tests.support.crm import CRM_SECRET_ENV, crm_section, salesforce
from tests.support.delivery import deliver_until, settled
from tests.support.erp import ERP_PASSWORD_ENV, YEAR, erp_section, with_rpc
from tests.support.tryton import ADMIN_PASSWORD, TrytonServer

GROWTH = {
    "code": "growth",
    "name": "Growth",
    "currency": "EUR",
    "interval": "month",
    "charges": [
        {
            "key": "platform",
            "model": "flat",
            "description": "Platform",
            "timing": "in_advance",
            "amount": "500.00",
        },
        {
            "key": "seats",
            "model": "per_seat",
            "description": "Seats",
            "timing": "in_advance",
            "amount": "49.00",
        },
    ],
}
PRODUCTS = {
    "GROWTH-PLATFORM": {"plan": "growth", "charge": "platform"},
    "GROWTH-SEAT": {"plan": "growth", "charge": "seats"},
}
START = datetime(YEAR, 10, 1, 8, tzinfo=UTC)
OCTOBER = date(YEAR, 10, 1)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def crm(tmp_path: Path) -> Iterator[CrmSandbox]:
    with CrmSandbox(tmp_path / "crm") as running:
        yield running


def settings_for(
    db_url: str, erp_server: TrytonServer, crm: CrmSandbox, products: dict[str, Any]
) -> Settings:
    return make_settings(
        db_url,
        plans=[GROWTH],
        tax={"rates": {"FR": {"standard": "20"}}},
        billing={"grace_period_hours": 0},
        erp=erp_section(erp_server),
        crm=crm_section(crm, overlap_seconds=0),
        quote_to_cash={"products": products},
        outbox={"allow_private_hosts": ["127.0.0.1"]},
        worker={"lease_seconds": 60, "poll_seconds": 0.02},
    )


@pytest.fixture
def container(
    any_db_url: str,
    erp_server: TrytonServer,
    crm: CrmSandbox,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Container]:
    monkeypatch.setenv(ERP_PASSWORD_ENV, ADMIN_PASSWORD)
    monkeypatch.setenv(CRM_SECRET_ENV, crm.credentials.client_secret)
    wired = build(settings_for(any_db_url, erp_server, crm, PRODUCTS), clock=clock)
    apply_configuration(wired, "test")
    yield wired
    wired.close()


def deliver(container: Container) -> None:
    deliver_until(container, lambda: settled(container))


def catalog(crm: CrmSandbox) -> dict[str, str]:
    """The CRM's products, each with its standard price (the plan's)."""
    return {
        "GROWTH-PLATFORM": add_product(crm, "GROWTH-PLATFORM", "Growth platform", Decimal(500)),
        "GROWTH-SEAT": add_product(crm, "GROWTH-SEAT", "Growth seat", Decimal(49)),
        "WIDGET": add_product(crm, "WIDGET", "Widget", Decimal(500)),
    }


def acme(container: Container, crm: CrmSandbox) -> str:
    """Acme SA in the CRM (France), pulled into revsync; the account id."""
    account = crm.create_record(
        "Account", {"Name": "Acme SA", "Revsync_Customer_Id__c": "acme", "BillingCountry": "FR"}
    )
    assert asyncio.run(container.pull_crm()).customers_created == ["acme"]
    return account


def opportunity_fields(crm: CrmSandbox, opportunity: str) -> tuple[Any, Any]:
    found = salesforce(crm).Opportunity.get(opportunity)
    return found["Revsync_Subscription_Id__c"], found["Revsync_Subscription_Status__c"]


def sales(server: TrytonServer, reference: str) -> list[dict[str, Any]]:
    """Tryton's sale orders for an opportunity, with their lines and invoices."""

    async def read(client: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await client.model(
            "sale.sale",
            "search_read",
            [("reference", "=", reference)],
            0,
            None,
            None,
            ["number", "state", "invoice_method", "party.code", "lines", "invoices"],
        )
        for sale in found:
            sale["party.code"] = sale.pop("party.")["code"]
            sale["lines"] = await client.model(
                "sale.line",
                "read",
                sale["lines"],
                ["product.code", "quantity", "unit_price", "description"],
            )
            for line in sale["lines"]:
                line["product.code"] = line.pop("product.")["code"]
        return found

    return with_rpc(server, read)


def invoice_lines(server: TrytonServer, remote_id: str) -> list[tuple[Any, ...]]:
    """A posted invoice's lines in Tryton: description, quantity, unit price, origin."""

    async def read(client: Any) -> list[tuple[Any, ...]]:
        [invoice] = await client.model(
            "account.invoice", "read", [int(remote_id)], ["lines", "state", "total_amount"]
        )
        lines = await client.model(
            "account.invoice.line",
            "read",
            invoice["lines"],
            ["description", "quantity", "unit_price", "origin"],
        )
        return [
            (invoice["state"], invoice["total_amount"]),
            *[(ln["description"], ln["quantity"], ln["unit_price"], ln["origin"]) for ln in lines],
        ]

    return with_rpc(server, read)


def invoices(container: Container) -> list[Invoice]:
    return container.billing.invoices(InvoiceFilter(customer_id="acme"), after=None, limit=20)


def lines_of(invoice: Invoice) -> list[tuple[str, str, str, str, str, str]]:
    return [
        (
            line.kind.value,
            line.description,
            str(line.quantity),
            str(line.unit_amount),
            str(line.amount),
            f"{line.service.start}..{line.service.end}",
        )
        for line in invoice.lines
    ]


def announced(container: Container, kind: str) -> list[dict[str, Any]]:
    m = outbox_messages.c
    query = sa.select(m.payload).where(m.kind == kind, m.destination == "crm").order_by(m.id)
    with container.engine.connect() as conn:
        return [dict(row.payload) for row in conn.execute(query)]


def test_a_won_opportunity_goes_to_a_posted_invoice_linked_to_its_sale_order(
    container: Container, crm: CrmSandbox, erp_server: TrytonServer
) -> None:
    account = acme(container, crm)
    entries = catalog(crm)
    ten = Decimal(10)
    won = sell(
        crm,
        account,
        "Acme — Growth",
        OCTOBER,
        [Item("GROWTH-PLATFORM", 1, discount=ten), Item("GROWTH-SEAT", 10, discount=ten)],
        entries,
    )
    pulled = asyncio.run(container.pull_crm())
    assert pulled.deals is not None
    assert (pulled.deals.taken, pulled.deals.refused) == ([f"{won} → opp-{won} (new)"], [])
    subscription = container.subscriptions.get(f"opp-{won}")
    assert (subscription.customer_id, subscription.start, subscription.renewal_date) == (
        "acme",
        OCTOBER,
        date(YEAR + 1, 10, 1),
    )
    assert (subscription.current.plan, subscription.current.seats) == (("growth", 1), 10)
    assert [(c.code, c.start) for c in subscription.coupons] == [("crm-10pct", OCTOBER)]

    deliver(container)  # the sale order to Tryton, the subscription to the opportunity
    [sale] = sales(erp_server, won)
    assert (sale["state"], sale["invoice_method"], sale["party.code"]) == (
        "processing",
        "manual",
        "RS-acme",
    )
    assert [(ln["product.code"], ln["quantity"], ln["unit_price"]) for ln in sale["lines"]] == [
        ("REVSYNC", 1.0, Decimal("450.0000")),
        ("REVSYNC", 10.0, Decimal("44.1000")),
    ]
    assert sale["invoices"] == []
    assert opportunity_fields(crm, won) == (
        f"opp-{won}",
        f"active — growth@1, 10 seats from {OCTOBER}",
    )
    with container.unit_of_work(write=False) as uow:
        deal = uow.deals.get(won)
    assert deal is not None and (deal.erp_sale_number, deal.subscription_id) == (
        sale["number"],
        f"opp-{won}",
    )

    container.billing.run(OCTOBER, "test")
    [invoice] = invoices(container)
    assert lines_of(invoice) == [
        ("recurring", "Platform", "1", "500.00", "500.00", f"{OCTOBER}..{YEAR}-11-01"),
        ("recurring", "Seats × 10", "10", "49.00", "490.00", f"{OCTOBER}..{YEAR}-11-01"),
        (
            "discount",
            "10% off (a CRM deal's discount)",
            "1",
            "-99.00",
            "-99.00",
            f"{OCTOBER}..{YEAR}-11-01",
        ),
    ]
    assert invoice.totals == Totals(
        subtotal=Decimal("990.00"),
        discount=Decimal("-99.00"),
        tax=Decimal("178.20"),  # 20% of 891.00
        total=Decimal("1069.20"),
    )
    deliver(container)
    with container.unit_of_work(write=False) as uow:
        posting = uow.postings.get(invoice.id)
    assert posting is not None
    sale_lines = [f"sale.line,{ln['id']}" for ln in sale["lines"]]
    assert invoice_lines(erp_server, posting.remote_id) == [
        ("posted", Decimal("1069.20")),
        ("Platform", 1.0, Decimal("500.0000"), sale_lines[0]),
        ("Seats × 10", 10.0, Decimal("49.0000"), sale_lines[1]),
        ("10% off (a CRM deal's discount)", 1.0, Decimal("-99.0000"), None),
    ]
    [sale] = sales(erp_server, won)
    assert sale["invoices"] == [int(posting.remote_id)]

    # taken once: the opportunity changed again, pulled again, by a process started anew
    crm.update_record("Opportunity", won, {"Description": "signed by the CFO"})
    again = build(container.settings, clock=container.clock)
    try:
        pulled = asyncio.run(again.pull_crm())
        assert pulled.deals is not None and (pulled.deals.read, pulled.deals.taken) == (0, [])
    finally:
        again.close()
    deliver(container)
    assert len(sales(erp_server, won)) == 1
    assert len(container.subscriptions.get(f"opp-{won}").terms) == 1
    [taken] = announced(container, "deal.taken")
    validate_payload("deal.taken", taken)
    with container.unit_of_work(write=False) as uow:
        actions = [e.record.action for e in uow.audit.entries() if e.record.object_id == won]
    assert actions == ["deal.taken", "deal.ordered"]


def test_an_add_on_is_a_prorated_seat_change_with_a_sale_order_of_its_own(
    container: Container, crm: CrmSandbox, erp_server: TrytonServer, clock: FrozenClock
) -> None:
    account = acme(container, crm)
    entries = catalog(crm)
    first = sell(crm, account, "Acme — Growth", OCTOBER, [Item("GROWTH-SEAT", 10)], entries)
    asyncio.run(container.pull_crm())
    container.billing.run(OCTOBER, "test")
    deliver(container)

    clock.set(datetime(YEAR, 10, 15, 9, tzinfo=UTC))
    more = sell(
        crm,
        account,
        "Acme — 5 more seats",
        date(YEAR, 10, 15),
        [Item("GROWTH-SEAT", 5, service_date=date(YEAR, 10, 16))],
        entries,
        Type="Expansion",
    )
    pulled = asyncio.run(container.pull_crm())
    assert pulled.deals is not None
    assert pulled.deals.taken == [f"{more} → opp-{first} (add_on)"]
    subscription = container.subscriptions.get(f"opp-{first}")
    assert [(t.change.value, t.effective, t.seats) for t in subscription.terms] == [
        ("created", OCTOBER, 10),
        ("seat_change", date(YEAR, 10, 16), 15),
    ]
    deliver(container)
    [sale] = sales(erp_server, more)
    assert [(ln["quantity"], ln["unit_price"]) for ln in sale["lines"]] == [
        (5.0, Decimal("49.0000"))
    ]
    assert opportunity_fields(crm, more) == (
        f"opp-{first}",
        f"amended — growth@1, 15 seats from {YEAR}-10-16",
    )

    clock.set(datetime(YEAR, 11, 1, 9, tzinfo=UTC))
    container.billing.run(date(YEAR, 11, 1), "test")
    deliver(container)
    by_kind = {(i.kind.value, i.period.start): i for i in invoices(container)}
    assert sorted(by_kind) == [
        ("advance", OCTOBER),
        ("advance", date(YEAR, 11, 1)),
        ("arrears", OCTOBER),  # the seats added within October, prorated by day
    ]
    prorated = by_kind[("arrears", OCTOBER)]
    added = f"{YEAR}-10-16..{YEAR}-11-01"
    assert lines_of(prorated) == [
        (
            "proration",
            "Unused time on Seats × 10 (prorated 16/31 days)",
            "10",
            "49.00",
            "-252.90",
            added,
        ),
        (
            "proration",
            "Remaining time on Seats × 15 (prorated 16/31 days)",
            "15",
            "49.00",
            "379.35",
            added,
        ),
    ]
    assert prorated.totals == Totals(
        subtotal=Decimal("126.45"),  # 5 seats × 49.00 × 16/31
        discount=Decimal("0.00"),
        tax=Decimal("25.29"),
        total=Decimal("151.74"),
    )
    with container.unit_of_work(write=False) as uow:
        postings = uow.postings.many([i.id for i in by_kind.values()])
    remote = {k: postings[i.id].remote_id for k, i in by_kind.items()}
    [first_sale] = sales(erp_server, first)
    [more_sale] = sales(erp_server, more)
    added_line = f"sale.line,{more_sale['lines'][0]['id']}"
    assert invoice_lines(erp_server, remote[("arrears", OCTOBER)])[1:] == [
        ("Unused time on Seats × 10 (prorated 16/31 days)", 1.0, Decimal("-252.9000"), None),
        (
            "Remaining time on Seats × 15 (prorated 16/31 days)",
            1.0,
            Decimal("379.3500"),
            added_line,
        ),
    ]
    # each sale lists the invoice that bills it; November's fees are the subscription's own
    assert first_sale["invoices"] == [int(remote[("advance", OCTOBER)])]
    assert more_sale["invoices"] == [int(remote[("arrears", OCTOBER)])]


def test_a_deal_revsync_cannot_bill_is_refused_whole_and_taken_once_its_product_is_mapped(
    container: Container,
    crm: CrmSandbox,
    erp_server: TrytonServer,
    any_db_url: str,
    clock: FrozenClock,
) -> None:
    account = acme(container, crm)
    entries = catalog(crm)
    won = sell(crm, account, "Acme — Widget", OCTOBER, [Item("WIDGET", 1)], entries)
    reason = (
        "Product2.ProductCode: unknown product WIDGET (Widget): map it in quote_to_cash.products"
    )
    for _ in range(2):  # the same refusal again opens nothing new
        pulled = asyncio.run(container.pull_crm())
        assert pulled.deals is not None
        assert (pulled.deals.taken, pulled.deals.refused) == ([], [f"{won}: {reason}"])
    [case] = container.cases.find(CaseFilter(kind=CaseKind.DEAL), after=None, limit=10)
    assert (case.status, case.object_id, case.last_error) == (CaseStatus.OPEN, won, reason)
    with container.unit_of_work(write=False) as uow:
        assert uow.subscriptions.of_customer("acme") == []
    deliver(container)
    assert opportunity_fields(crm, won) == (None, f"refused — {reason}")
    [refused] = announced(container, "deal.refused")
    validate_payload("deal.refused", refused)
    assert sales(erp_server, won) == []

    # the product mapped: the refused deal is taken on the next pull, its case resolved
    products = {**PRODUCTS, "WIDGET": {"plan": "growth", "charge": "platform"}}
    mapped = build(settings_for(any_db_url, erp_server, crm, products), clock=clock)
    try:
        pulled = asyncio.run(mapped.pull_crm())
        assert pulled.deals is not None
        assert pulled.deals.taken == [f"{won} → opp-{won} (new)"]
        deliver(mapped)
        [closed] = mapped.cases.find(CaseFilter(kind=CaseKind.DEAL), after=None, limit=10)
        assert (closed.id, closed.status, closed.reason) == (
            case.id,
            CaseStatus.RESOLVED,
            f"taken as opp-{won}",
        )
        assert opportunity_fields(crm, won) == (
            f"opp-{won}",
            f"active — growth@1, 1 seat from {OCTOBER}",
        )
        assert len(sales(erp_server, won)) == 1
    finally:
        mapped.close()
