"""Sale orders in a real trytond (``TrytonErp.place_sale``, module ``sale``): what the sale
holds when read back, a sale an interrupted attempt left in draft or quotation finished rather
than placed twice, refusals (a cancelled sale, a product the ERP may not sell, an ERP that is
down), and the sale's life once revsync's invoices are linked to it: listed, awaiting payment,
then done when they are paid. And the ERP destination placing a deal's sale before the invoice
queued after it, which it links."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from revsync.adapters.connectors.erp.destination import ErpDestination
from revsync.adapters.connectors.erp.provision import provision
from revsync.adapters.connectors.erp.tryton import TrytonErp
from revsync.domain.delivery import Attempt, OutboundMessage
from revsync.domain.posting import PostingRule
from revsync.ports.erp import ErpRefused, ErpSaleLine, ErpUnavailable
from tests.contract.test_erp_contract import (
    DAY,
    FEE,
    PLATFORM,
    SEATS,
    invoice,
    order,
    sales_with_key,
)
from tests.support.erp import BLUEPRINT, YEAR, erp_for, pay, with_erp, with_rpc
from tests.support.tryton import TrytonServer

SALE_FIELDS = [
    "number",
    "state",
    "invoice_state",
    "shipment_state",
    "invoice_method",
    "shipment_method",
    "party.code",
    "reference",
    "description",
    "comment",
    "sale_date",
    "currency.code",
    "untaxed_amount",
]
LINE_FIELDS = ["sequence", "note", "product.code", "quantity", "unit_price", "description"]


def read_sale(server: TrytonServer, sale_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The sale and its lines (by sequence), as Tryton holds them."""

    async def read(c: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        [sale] = await c.model("sale.sale", "read", [int(sale_id)], SALE_FIELDS)
        lines = await c.model(
            "sale.line",
            "search_read",
            [("sale", "=", int(sale_id))],
            0,
            None,
            [("sequence", "ASC")],
            LINE_FIELDS,
        )
        return sale, lines

    return with_rpc(server, read)


def test_a_placed_sale_holds_the_order_confirmed_and_invoiced_by_revsync_only(
    erp_server: TrytonServer,
) -> None:
    discounted = replace(SEATS, unit_price=Decimal("49.99") * Decimal("0.875"))  # 43.74125
    placed = with_erp(
        erp_server, lambda erp: erp.place_sale(order("rsv1-t1", discounted, PLATFORM))
    )
    sale, lines = read_sale(erp_server, placed.remote_id)
    assert placed.number == sale["number"] and placed.number
    assert {k: sale[k] for k in SALE_FIELDS if "." not in k} == {
        "number": placed.number,
        "state": "processing",  # confirmed and processed: nothing left for Tryton but invoicing
        "invoice_state": "none",
        "shipment_state": "none",
        "invoice_method": "manual",  # Tryton makes no invoice: revsync's are linked to it
        "shipment_method": "manual",
        "reference": "006000000000001AAA",
        "description": "Acme — Growth (opp-006000000000001AAA)",
        "comment": "rsv1-t1",  # the idempotency key
        "sale_date": DAY,
        "untaxed_amount": Decimal("536.41"),  # 10 × 43.7413 + 99
    }
    assert (sale["party."]["code"], sale["currency."]["code"]) == ("RS-acme", "EUR")
    assert [
        (
            line["sequence"],
            line["note"],
            line["product."]["code"],
            line["quantity"],
            line["unit_price"],
            line["description"],
        )
        for line in lines
    ] == [
        (1, "growth:seats", "REVSYNC", 10.0, Decimal("43.7413"), "Seats"),  # 4 decimals, half up
        (2, "growth:platform", "REVSYNC", 1.0, Decimal("99.0000"), "Platform fee"),
    ]
    assert placed.lines == (
        ("growth:seats", str(lines[0]["id"])),
        ("growth:platform", str(lines[1]["id"])),
    )


@pytest.mark.parametrize("left_in", ["draft", "quotation"])
def test_a_sale_an_interrupted_attempt_left_is_finished_not_placed_twice(
    erp_server: TrytonServer, left_in: str
) -> None:
    async def interrupted(erp: TrytonErp) -> None:
        sale = await erp._create_sale(order("rsv1-t2"))
        if left_in == "quotation":
            await erp.rpc.model("sale.sale", "quote", [sale])

    with_erp(erp_server, interrupted)
    assert [s["state"] for s in sales_with_key(erp_server, "rsv1-t2")] == [left_in]
    assert with_erp(erp_server, lambda erp: erp.find_sale("rsv1-t2")) is None  # not placed yet
    placed = with_erp(erp_server, lambda erp: erp.place_sale(order("rsv1-t2")))
    assert (placed.state, placed.found) == ("processing", False)
    assert [s["state"] for s in sales_with_key(erp_server, "rsv1-t2")] == ["processing"]
    assert with_erp(erp_server, lambda erp: erp.find_sale("rsv1-t2")) == placed


def test_a_cancelled_sale_is_refused(erp_server: TrytonServer) -> None:
    async def cancelled(erp: TrytonErp) -> None:
        sale = await erp._create_sale(order("rsv1-t3"))
        await erp.rpc.model("sale.sale", "cancel", [sale])

    with_erp(erp_server, cancelled)
    with pytest.raises(ErpRefused, match="was cancelled"):
        with_erp(erp_server, lambda erp: erp.place_sale(order("rsv1-t3")))
    assert with_erp(erp_server, lambda erp: erp.find_sale("rsv1-t3")) is None


def test_a_product_the_erp_may_not_sell_is_refused_and_provisioning_makes_it_salable(
    erp_server: TrytonServer,
) -> None:
    async def unsalable(c: Any) -> None:
        [product] = await c.model(
            "product.product", "search_read", [("code", "=", "USAGE")], 0, 1, None, ["template"]
        )
        await c.model("product.template", "write", [product["template"]], {"salable": False})

    with_rpc(erp_server, unsalable)
    calls = ErpSaleLine("growth:calls", "API calls", "USAGE", Decimal(1), Decimal(5))
    with pytest.raises(ErpRefused, match=r"may not sell product 'USAGE'"):
        with_erp(erp_server, lambda erp: erp.place_sale(order("rsv1-t4", calls)))
    assert sales_with_key(erp_server, "rsv1-t4") == []
    made = with_erp(erp_server, lambda erp: provision(erp.rpc, BLUEPRINT))
    assert made.created == ["product USAGE salable"]
    assert with_erp(erp_server, lambda erp: provision(erp.rpc, BLUEPRINT)).created == []
    placed = with_erp(erp_server, lambda erp: erp.place_sale(order("rsv1-t4", calls)))
    assert placed.state == "processing"


def test_an_erp_that_is_down_is_unavailable_and_nothing_was_sent(erp_server: TrytonServer) -> None:
    erp_server.stop()
    with pytest.raises(ErpUnavailable) as error:
        with_erp(erp_server, lambda erp: erp.place_sale(order("rsv1-t5")))
    assert error.value.sent is False


def test_the_sale_awaits_payment_of_its_invoices_then_is_done(erp_server: TrytonServer) -> None:
    """Tryton's sale follows the invoices linked to it: ``awaiting payment`` once one is posted,
    ``paid`` (the sale ``done``) when every one is paid — even when they invoice less than it
    sold (a prorated first month: one line of one unit at its amount)."""
    whole = with_erp(erp_server, lambda erp: erp.place_sale(order("rsv1-t6", PLATFORM)))
    part = with_erp(erp_server, lambda erp: erp.place_sale(order("rsv1-t7", SEATS)))
    today = date.today()
    fee = replace(FEE, sale_line=dict(whole.lines)["growth:platform"])
    prorated = replace(
        FEE,
        description="Seats (prorated)",
        unit_price=Decimal("300.12"),
        sale_line=dict(part.lines)["growth:seats"],
    )
    postings = [
        with_erp(erp_server, lambda erp, d=d: erp.post(d))
        for d in (
            invoice(
                "rsv1-k60", "INV-000060", today, fee, untaxed="99.00", tax="19.80", total="118.80"
            ),
            invoice(
                "rsv1-k61",
                "INV-000061",
                today,
                prorated,
                untaxed="300.12",
                tax="60.02",
                total="360.14",
            ),
        )
    ]

    def states(key: str) -> tuple[Any, ...]:
        [sale] = sales_with_key(erp_server, key)
        return sale["state"], sale["invoice_state"], len(sale["invoices"])

    assert states("rsv1-t6") == ("processing", "awaiting payment", 1)
    assert states("rsv1-t7") == ("processing", "awaiting payment", 1)
    [left] = with_rpc(
        erp_server,
        lambda c: c.model(
            "sale.line", "read", [int(dict(part.lines)["growth:seats"])], ["quantity_to_invoice"]
        ),
    )
    assert left["quantity_to_invoice"] == 9.0  # Tryton counts the 1 unit invoiced against 10
    for posting, total in zip(postings, ("118.80", "360.14"), strict=True):
        with_rpc(
            erp_server, lambda c, p=posting, t=total: pay(c, int(p.remote_id), Decimal(t), today)
        )
    assert states("rsv1-t6") == ("done", "paid", 1)
    assert states("rsv1-t7") == ("done", "paid", 1)
    assert with_erp(erp_server, lambda erp: erp.find_sale("rsv1-t7")).state == "done"


# --- the ERP destination ---------------------------------------------------------------------

RULES = (PostingRule("REVSYNC", "4.1.2"),)


def deal(n: int, key: str) -> OutboundMessage:
    body = {
        "opportunity_id": "006000000000009AAA",
        "name": "Acme — Growth",
        "account_id": "001000000000001AAA",
        "customer": {
            "id": "c1",
            "name": "Acme SARL",
            "country": "FR",
            "tax_exempt": False,
            "erp_ref": None,
        },
        "subscription_id": "opp-006000000000009AAA",
        "kind": "new",
        "status": "active",
        "currency": "EUR",
        "closed_on": f"{YEAR}-02-27",
        "start": f"{YEAR}-03-01",
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
        ],
    }
    return message(n, "deal.taken", key, body)


def first_invoice(n: int, key: str) -> OutboundMessage:
    body = {
        "number": f"INV-{n:06d}",
        "issue_date": f"{YEAR}-03-01",
        "currency": "EUR",
        "subscription_id": "opp-006000000000009AAA",
        "customer": {"id": "c1", "name": "Acme SARL", "country": "FR"},
        "taxes": [{"tax_code": "standard", "rate": "20"}],
        "lines": [
            {
                "kind": "recurring",
                "charge": "growth@1:seats",
                "description": "Seats",
                "amount": "441.00",
                "quantity": "10",
                "unit_amount": "44.10",
                "tax_code": "standard",
                "service": {"start": f"{YEAR}-03-01", "end": f"{YEAR}-04-01"},
            }
        ],
        "totals": {"subtotal": "441.00", "discount": "0", "tax": "88.20", "total": "529.20"},
    }
    return message(n, "invoice.finalized", key, body)


def message(n: int, kind: str, key: str, body: dict[str, Any]) -> OutboundMessage:
    return OutboundMessage(
        id=n,
        destination="erp",
        aggregate="erp",
        kind=kind,
        object_type="deal" if kind == "deal.taken" else "invoice",
        object_id=f"o-{n}",
        key=key,
        payload=body,
        correlation_id=None,
        created_at=datetime(YEAR, 3, 1, tzinfo=UTC),
        attempts=1,
        unsure=False,
    )


def send_many(server: TrytonServer, messages: Sequence[OutboundMessage]) -> list[Attempt]:
    async def go() -> list[Attempt]:
        destination = ErpDestination(erp_for(server), RULES)
        try:
            return await destination.send_many(messages)
        finally:
            await destination.aclose()

    return asyncio.run(go())


def test_a_deals_sale_is_placed_before_the_invoice_after_it_which_is_linked_to_it(
    erp_server: TrytonServer,
) -> None:
    batch = [deal(1, "rsv1-d1"), first_invoice(2, "rsv1-i2")]
    placed, posted = send_many(erp_server, batch)
    assert (placed.delivered, placed.found_by_key, posted.delivered) == (True, False, True)
    assert placed.receipt is not None
    sale_lines = placed.receipt["erp_sale_lines"]
    [(key, line)] = json.loads(sale_lines).items()
    assert key == "growth:seats"
    [sale] = sales_with_key(erp_server, "rsv1-d1")
    assert (str(sale["id"]), sale["number"]) == (
        placed.receipt["erp_sale_id"],
        placed.receipt["erp_sale_number"],
    )
    assert sale["invoices"] == [int(str(posted.remote_id))]
    [origin] = with_rpc(
        erp_server,
        lambda c: c.model(
            "account.invoice.line",
            "search_read",
            [("invoice", "=", int(str(posted.remote_id)))],
            0,
            None,
            None,
            ["origin"],
        ),
    )
    assert origin["origin"] == f"sale.line,{line}"
    # sent again (a lost answer): both found by their keys, nothing placed or posted twice
    again = send_many(erp_server, batch)
    assert [(a.delivered, a.found_by_key, a.remote_id) for a in again] == [
        (True, True, placed.remote_id),
        (True, True, posted.remote_id),
    ]
    assert again[0].receipt == placed.receipt
    assert len(sales_with_key(erp_server, "rsv1-d1")) == 1

    async def lookup() -> Attempt | None:
        destination = ErpDestination(erp_for(erp_server), RULES)
        try:
            return await destination.find_by_key("rsv1-d1")
        finally:
            await destination.aclose()

    found = asyncio.run(lookup())
    assert found is not None
    assert (found.delivered, found.found_by_key, found.receipt) == (True, True, placed.receipt)
