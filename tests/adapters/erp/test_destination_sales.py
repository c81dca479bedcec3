"""The ERP destination's quote-to-cash side, against an ERP that records what it is asked
(``ErpDestination`` speaks only the ERP port; its Tryton side is in test_tryton_sales.py): a
taken deal's payload as a sale order, sales placed in their place in the batch, invoices
linked to the sale lines of their subscription's deals (read once per batch, off the event
loop), and a key found as an invoice or as a sale."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from revsync.adapters.connectors.erp.destination import (
    ERP_KINDS,
    POSTED_KINDS,
    SALE_KIND,
    ErpDestination,
    erp_sale_order,
)
from revsync.domain.deals import SaleLink
from revsync.domain.delivery import Attempt, ErrorClass, OutboundMessage
from revsync.domain.invoicing import LineKind
from revsync.domain.posting import PostingRule
from revsync.ports.erp import (
    ErpDocument,
    ErpParty,
    ErpPosting,
    ErpRefused,
    ErpSale,
    ErpSaleLine,
    ErpSaleOrder,
    ErpUnavailable,
)

RULES = (
    PostingRule("SAAS", "4.1.2"),
    PostingRule("SEATS", "4.1.3", charge="growth:seats"),
    PostingRule("USAGE", "4.1.4", kind=LineKind.USAGE),
)
SUBSCRIPTION = "opp-006000000000001AAA"


def deal_payload(**changes: Any) -> dict[str, Any]:
    """A taken deal, as its wire form (``deal.taken``)."""
    payload = {
        "opportunity_id": "006000000000001AAA",
        "name": "Acme — Growth",
        "account_id": "001000000000001AAA",
        "customer": {
            "id": "cust-1",
            "name": "Acme",
            "country": "DE",
            "tax_exempt": False,
            "erp_ref": None,
        },
        "subscription_id": SUBSCRIPTION,
        "kind": "new",
        "status": "active",
        "currency": "EUR",
        "closed_on": "2026-11-30",
        "start": "2026-12-01",
        "plan": "growth@1",
        "seats": 10,
        "coupon": "crm-10pct",
        "lines": [
            {
                "key": "growth:seats",
                "product_code": "GROWTH-SEAT",
                "description": "Seats",
                "quantity": 10,
                "unit_price": "49.00",
                "discount": "10",
                "net_unit_price": "44.10",
            },
            {
                "key": "growth:platform",
                "product_code": "GROWTH-PLATFORM",
                "description": "Platform fee",
                "quantity": 1,
                "unit_price": "99.00",
                "discount": "10",
                "net_unit_price": "89.10",
            },
        ],
    }
    return payload | changes


def line(
    kind: str, charge: str, amount: str, quantity: str, unit: str, start: str, end: str
) -> dict[str, Any]:
    return {
        "kind": kind,
        "charge": charge,
        "description": f"{charge} ({kind})",
        "amount": amount,
        "quantity": quantity,
        "unit_amount": unit,
        "tax_code": "standard",
        "service": {"start": start, "end": end},
    }


def invoice_payload(
    *lines: dict[str, Any], subscription: str | None = SUBSCRIPTION, day: str = "2026-12-01"
) -> dict[str, Any]:
    """An announced invoice (untaxed: no tax rates are given for its customer)."""
    total = sum((Decimal(x["amount"]) for x in lines), Decimal(0))
    return {
        "number": "INV-000001",
        "issue_date": day,
        "currency": "EUR",
        "subscription_id": subscription,
        "customer": {"id": "cust-1", "name": "Acme", "country": "DE"},
        "taxes": [],
        "lines": list(lines),
        "totals": {"subtotal": str(total), "discount": "0", "tax": "0", "total": str(total)},
    }


DECEMBER = ("2026-12-01", "2027-01-01")
SEATS_DECEMBER = line("recurring", "growth@1:seats", "441.00", "10", "44.10", *DECEMBER)
PLATFORM_DECEMBER = line("recurring", "growth@1:platform", "89.10", "1", "89.10", *DECEMBER)


def message(n: int, kind: str, payload: dict[str, Any]) -> OutboundMessage:
    return OutboundMessage(
        id=n,
        destination="erp",
        aggregate="erp",
        kind=kind,
        object_type="deal" if kind == SALE_KIND else "invoice",
        object_id=f"o-{n}",
        key=f"k{n}",
        payload=payload,
        correlation_id=None,
        created_at=datetime(2026, 12, 1, tzinfo=UTC),
        attempts=1,
        unsure=False,
    )


class RecordingErp:
    """An ERP that records what it is asked, in order, and answers as told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.refuse_sale: Exception | None = None
        self.down_on_post: ErpUnavailable | None = None
        self.postings: dict[str, ErpPosting] = {}
        self.sales: dict[str, ErpSale] = {}

    async def post_many(self, documents: Sequence[ErpDocument]) -> list[ErpPosting | ErpRefused]:
        self.calls.append(("post_many", list(documents)))
        if self.down_on_post is not None:
            raise self.down_on_post
        return [
            ErpPosting(f"inv-{d.key}", f"INV-{d.key}", d.party.code, d.invoice_date)
            for d in documents
        ]

    async def place_sale(self, order: ErpSaleOrder) -> ErpSale:
        self.calls.append(("place_sale", order))
        if self.refuse_sale is not None:
            raise self.refuse_sale
        lines = tuple((sold.key, str(100 + n)) for n, sold in enumerate(order.lines))
        return ErpSale(f"sale-{order.key}", "7", "processing", lines)

    async def find(self, key: str) -> ErpPosting | None:
        self.calls.append(("find", key))
        return self.postings.get(key)

    async def find_sale(self, key: str) -> ErpSale | None:
        self.calls.append(("find_sale", key))
        return self.sales.get(key)

    async def aclose(self) -> None:
        pass


class Links:
    """revsync's sale links (a stub of the port): what it was asked, and from which thread."""

    def __init__(self, links: dict[str, list[SaleLink]]) -> None:
        self.links = links
        self.asked: list[set[str]] = []
        self.threads: list[threading.Thread] = []

    def of(self, subscription_ids: Collection[str]) -> dict[str, list[SaleLink]]:
        self.asked.append(set(subscription_ids))
        self.threads.append(threading.current_thread())
        return {s: self.links[s] for s in subscription_ids if s in self.links}


def send_many(
    erp: RecordingErp, messages: Sequence[OutboundMessage], links: Links | None = None
) -> list[Attempt]:
    return asyncio.run(ErpDestination(erp, RULES, links).send_many(messages))  # type: ignore[arg-type]


def sale_lines(document: ErpDocument) -> list[str | None]:
    return [x.sale_line for x in document.lines]


def test_the_destination_takes_deals_beside_what_it_posts() -> None:
    assert POSTED_KINDS == ("invoice.finalized", "credit_note.issued")
    assert ERP_KINDS == ("invoice.finalized", "credit_note.issued", "deal.taken")


def test_a_taken_deal_is_a_sale_order_of_the_posting_rules_products_at_its_net_prices() -> None:
    assert erp_sale_order(deal_payload(), "rsv1-deal", RULES) == ErpSaleOrder(
        key="rsv1-deal",
        reference="006000000000001AAA",
        party=ErpParty("RS-cust-1", "Acme", "DE"),
        currency="EUR",
        sale_date=date(2026, 11, 30),
        description=f"Acme — Growth ({SUBSCRIPTION})",
        lines=(
            ErpSaleLine("growth:seats", "Seats", "SEATS", Decimal(10), Decimal("44.10")),
            ErpSaleLine("growth:platform", "Platform fee", "SAAS", Decimal(1), Decimal("89.10")),
        ),
    )
    known = deal_payload(customer={**deal_payload()["customer"], "erp_ref": "C-0042"})
    assert erp_sale_order(known, "k", RULES).party == ErpParty("C-0042", "Acme", "DE")


def test_a_deal_that_cannot_be_mapped_is_fatal_and_ends_the_batch() -> None:
    erp = RecordingErp()
    dollars = deal_payload(currency="USD")
    rules_in_euros = (PostingRule("SAAS", "4.1.2", currency="EUR"),)
    attempts = asyncio.run(
        ErpDestination(erp, rules_in_euros).send_many(  # type: ignore[arg-type]
            [message(1, SALE_KIND, dollars), message(2, "invoice.finalized", invoice_payload())]
        )
    )
    assert [(a.delivered, a.error_class) for a in attempts] == [(False, ErrorClass.FATAL)]
    assert attempts[0].reason.startswith("cannot map to the ERP: ")
    assert "no rule for a recurring line of growth:seats in USD" in attempts[0].reason
    assert erp.calls == []


def test_a_deals_sale_is_placed_in_its_place_and_links_the_invoices_after_it() -> None:
    erp = RecordingErp()
    batch = [
        message(1, "invoice.finalized", invoice_payload(SEATS_DECEMBER, subscription="other")),
        message(2, "invoice.paid", {}),
        message(3, SALE_KIND, deal_payload()),
        message(4, "invoice.finalized", invoice_payload(SEATS_DECEMBER, PLATFORM_DECEMBER)),
        message(5, "credit_note.issued", invoice_payload(SEATS_DECEMBER)),
    ]
    attempts = send_many(erp, batch, Links({}))
    assert [(a.delivered, a.error_class, a.remote_id) for a in attempts] == [
        (True, None, "inv-k1"),
        (False, ErrorClass.SKIPPABLE, None),
        (True, None, "sale-k3"),
        (True, None, "inv-k4"),
        (True, None, "inv-k5"),
    ]
    assert [
        (name, [d.key for d in arg] if name == "post_many" else arg.key) for name, arg in erp.calls
    ] == [
        ("post_many", ["k1"]),
        ("place_sale", "k3"),
        ("post_many", ["k4", "k5"]),
    ]
    assert attempts[2].receipt == {
        "erp_sale_id": "sale-k3",
        "erp_sale_number": "7",
        "erp_sale_lines": json.dumps({"growth:seats": "100", "growth:platform": "101"}),
    }
    first, linked, note = erp.calls[0][1][0], *erp.calls[2][1]
    assert sale_lines(first) == [None]  # another subscription's
    assert sale_lines(linked) == ["100", "101"]  # the sale placed before it in the batch
    assert sale_lines(note) == [None]  # a credit note invoices no sale


def test_invoices_are_linked_by_the_sale_links_read_once_per_batch_off_the_event_loop() -> None:
    links = Links(
        {
            SUBSCRIPTION: [
                SaleLink("growth:seats", date(2026, 12, 1), "41"),
                SaleLink("growth:platform", date(2026, 12, 1), "42"),
                SaleLink("growth:seats", date(2027, 1, 15), "77"),  # an add-on in January
            ]
        }
    )
    january = ("2027-01-01", "2027-02-01")
    # not a whole number of cents per seat: sent as one unit at the amount, still linked
    prorated = line("proration", "growth@1:seats", "100.00", "3", "33.333333", *january)
    batch = [
        message(
            1,
            "invoice.finalized",
            invoice_payload(
                SEATS_DECEMBER,
                PLATFORM_DECEMBER,
                line("usage", "growth@1:calls", "12.00", "1000", "0.012", *DECEMBER),
            ),
        ),
        message(2, "invoice.finalized", invoice_payload(prorated, day="2027-01-15")),
        message(3, "invoice.finalized", invoice_payload(SEATS_DECEMBER, subscription="s-other")),
        message(4, "credit_note.issued", invoice_payload(SEATS_DECEMBER, subscription="s-note")),
        message(5, "invoice.finalized", invoice_payload(SEATS_DECEMBER, subscription=None)),
    ]
    erp = RecordingErp()
    attempts = send_many(erp, batch, links)
    assert all(a.delivered for a in attempts)
    assert links.asked == [{SUBSCRIPTION, "s-other"}]  # once; credit notes are not linked
    assert links.threads[0] is not threading.main_thread()
    [(_, documents)] = erp.calls
    assert [sale_lines(d) for d in documents] == [
        ["41", "42", None],  # usage invoices no sale line
        ["77"],  # the add-on's prorated seats
        [None],
        [None],
        [None],
    ]
    assert (documents[1].lines[0].quantity, documents[1].lines[0].unit_price) == (
        Decimal(1),
        Decimal("100.00"),
    )


def test_a_consolidated_invoices_lines_are_linked_by_their_parts_subscription() -> None:
    links = Links({SUBSCRIPTION: [SaleLink("growth:seats", date(2026, 12, 1), "41")]})
    mine, other = "inv_mine", "inv_other"
    payload = invoice_payload(
        {**SEATS_DECEMBER, "key": f"{mine}:fee:seats"},
        {**SEATS_DECEMBER, "key": f"{other}:fee:seats"},
        subscription=None,
    )
    payload["parts"] = [
        {"id": mine, "subscription_id": SUBSCRIPTION, "kind": "advance"},
        {"id": other, "subscription_id": "s-other", "kind": "advance"},
    ]
    erp = RecordingErp()
    attempts = send_many(erp, [message(1, "invoice.finalized", payload)], links)
    assert attempts[0].delivered
    assert links.asked == [{SUBSCRIPTION, "s-other"}]
    # the same charge on both parts: only the deal's subscription's seats invoice its sale
    assert sale_lines(erp.calls[0][1][0]) == ["41", None]


def test_without_sale_links_invoices_are_posted_as_before() -> None:
    erp = RecordingErp()
    attempts = send_many(erp, [message(1, "invoice.finalized", invoice_payload(SEATS_DECEMBER))])
    assert attempts[0].delivered
    assert sale_lines(erp.calls[0][1][0]) == [None]


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (ErpRefused("the ERP has no product 'SEATS'"), (ErrorClass.FATAL, False)),
        (ErpUnavailable("ConnectError", sent=False), (ErrorClass.UNAVAILABLE, False)),
        (ErpUnavailable("ReadTimeout", sent=True), (ErrorClass.UNAVAILABLE, True)),
        (ErpUnavailable("HTTP 500", sent=True, outage=False), (ErrorClass.RETRIABLE, True)),
    ],
)
def test_a_sale_that_fails_ends_the_batch_after_what_was_delivered_before_it(
    failure: Exception, expected: tuple[ErrorClass, bool]
) -> None:
    erp = RecordingErp()
    erp.refuse_sale = failure
    batch = [
        message(1, "invoice.finalized", invoice_payload(SEATS_DECEMBER)),
        message(2, SALE_KIND, deal_payload()),
        message(3, "invoice.finalized", invoice_payload(SEATS_DECEMBER)),
    ]
    attempts = send_many(erp, batch, Links({}))
    assert [(a.delivered, a.error_class, a.ambiguous) for a in attempts] == [
        (True, None, False),
        (False, *expected),
    ]
    assert attempts[1].reason == str(failure)
    assert [name for name, _ in erp.calls] == ["post_many", "place_sale"]


def test_an_erp_down_after_a_sale_ends_the_batch_with_the_call_it_did_not_answer() -> None:
    erp = RecordingErp()
    batch = [
        message(1, SALE_KIND, deal_payload()),
        message(2, "invoice.finalized", invoice_payload(SEATS_DECEMBER)),
        message(3, "invoice.paid", {}),
        message(4, SALE_KIND, deal_payload(opportunity_id="006000000000002AAA")),
    ]
    erp.down_on_post = ErpUnavailable("ReadTimeout", sent=True)
    attempts = send_many(erp, batch, Links({}))
    assert [(a.delivered, a.error_class, a.ambiguous) for a in attempts] == [
        (True, None, False),
        (False, ErrorClass.UNAVAILABLE, True),
        (False, ErrorClass.SKIPPABLE, False),
    ]
    assert [name for name, _ in erp.calls] == ["place_sale", "post_many"]  # not the next deal


def test_a_key_is_found_as_an_invoice_else_as_a_sale() -> None:
    erp = RecordingErp()
    erp.postings["k-inv"] = ErpPosting("9", "INV-2026-00009", "RS-cust-1", date(2026, 12, 1))
    erp.sales["k-deal"] = ErpSale("12", "12", "processing", (("growth:seats", "30"),), found=True)
    destination = ErpDestination(erp, RULES)  # type: ignore[arg-type]
    invoice = asyncio.run(destination.find_by_key("k-inv"))
    sale = asyncio.run(destination.find_by_key("k-deal"))
    nothing = asyncio.run(destination.find_by_key("k-none"))
    assert invoice is not None and sale is not None
    assert (invoice.remote_id, invoice.found_by_key) == ("9", True)
    assert (sale.remote_id, sale.found_by_key, sale.receipt) == (
        "12",
        True,
        {"erp_sale_id": "12", "erp_sale_number": "12", "erp_sale_lines": '{"growth:seats": "30"}'},
    )
    assert nothing is None
    assert erp.calls == [
        ("find", "k-inv"),
        ("find", "k-deal"),
        ("find_sale", "k-deal"),
        ("find", "k-none"),
        ("find_sale", "k-none"),
    ]


def test_a_sale_found_by_its_key_in_a_batch_is_delivered_found() -> None:
    erp = RecordingErp()

    async def found(order: ErpSaleOrder) -> ErpSale:
        return replace(await RecordingErp.place_sale(erp, order), found=True)

    erp.place_sale = found  # type: ignore[method-assign]
    [attempt] = send_many(erp, [message(1, SALE_KIND, deal_payload())])
    assert (attempt.delivered, attempt.found_by_key) == (True, True)
