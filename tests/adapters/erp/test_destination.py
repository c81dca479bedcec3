"""The ERP as an outbox destination (``ErpDestination``) against a real trytond: a batch is one
attempt per message for a prefix of the messages — skipped kinds go on, an unmappable or
refused message ends it — a message posted earlier is found by its key, and an ERP that does
not answer is an outage."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from revsync.adapters.connectors.erp.destination import ErpDestination
from revsync.domain.delivery import Attempt, ErrorClass, OutboundMessage
from revsync.domain.posting import PostingRule
from tests.support.erp import erp_for, with_rpc
from tests.support.tryton import TrytonServer

RULES = (PostingRule("REVSYNC", "4.1.2"),)


def payload(number: str) -> dict[str, Any]:
    """An announced invoice, as its wire form: one platform fee of 99.00 with 20% tax."""
    return {
        "number": number,
        "issue_date": "2026-03-10",
        "currency": "EUR",
        "customer": {"id": "c1", "name": "Acme SARL", "country": "FR"},
        "taxes": [{"tax_code": "standard", "rate": "20"}],
        "lines": [
            {
                "kind": "recurring",
                "charge": "pro:platform",
                "description": "Platform fee",
                "amount": "99.00",
                "quantity": "1",
                "unit_amount": "99.00",
                "tax_code": "standard",
                "service": {"start": "2026-03-01", "end": "2026-04-01"},
            }
        ],
        "totals": {"subtotal": "99.00", "discount": "0", "tax": "19.80", "total": "118.80"},
    }


def message(
    n: int, kind: str = "invoice.finalized", body: dict[str, Any] | None = None
) -> OutboundMessage:
    return OutboundMessage(
        id=n,
        destination="erp",
        aggregate=f"invoice:{n}",
        kind=kind,
        object_type="invoice",
        object_id=f"inv-{n}",
        key=f"k{n}",
        payload=payload(f"INV-{n:06d}") if body is None else body,
        correlation_id=None,
        created_at=datetime(2026, 3, 10, tzinfo=UTC),
        attempts=1,
        unsure=False,
    )


def send_many(server: TrytonServer, messages: Sequence[OutboundMessage]) -> list[Attempt]:
    """The batch sent by a destination with a fresh client."""

    async def go() -> list[Attempt]:
        destination = ErpDestination(erp_for(server), RULES)
        try:
            return await destination.send_many(messages)
        finally:
            await destination.aclose()

    return asyncio.run(go())


def posted_keys(server: TrytonServer) -> list[str]:
    """The keys of the invoices posted in the ERP, in the order of their numbers."""
    found = with_rpc(
        server,
        lambda c: c.model(
            "account.invoice",
            "search_read",
            [("state", "=", "posted")],
            0,
            None,
            [("number", "ASC")],
            ["reference"],
        ),
    )
    return [str(i["reference"]) for i in found]


def outcome(attempt: Attempt) -> tuple[Any, ...]:
    return (attempt.delivered, attempt.error_class, attempt.remote_id, attempt.ambiguous)


def test_a_batch_is_posted_in_order_and_a_skipped_kind_does_not_end_it(
    erp_server: TrytonServer,
) -> None:
    batch = [message(1), message(2, kind="invoice.paid"), message(3), message(4)]
    attempts = send_many(erp_server, batch)
    assert [(a.delivered, a.error_class, a.found_by_key) for a in attempts] == [
        (True, None, False),
        (False, ErrorClass.SKIPPABLE, False),
        (True, None, False),
        (True, None, False),
    ]
    assert attempts[1].reason == "the ERP does not take invoice.paid"
    assert posted_keys(erp_server) == ["k1", "k3", "k4"]
    receipt = attempts[0].receipt
    assert receipt is not None
    assert (receipt["erp_invoice_id"], receipt["erp_party"], receipt["erp_invoice_date"]) == (
        attempts[0].remote_id,
        "RS-c1",
        "2026-03-10",
    )
    # sent again (a lost answer): each found by its key, nothing posted twice
    again = send_many(erp_server, [message(3), message(4), message(5)])
    assert [(a.delivered, a.found_by_key) for a in again] == [
        (True, True),
        (True, True),
        (True, False),
    ]
    assert [a.remote_id for a in again[:2]] == [attempts[2].remote_id, attempts[3].remote_id]
    assert posted_keys(erp_server) == ["k1", "k3", "k4", "k5"]


def test_a_refusal_or_an_unmappable_message_ends_the_batch(erp_server: TrytonServer) -> None:
    wrong = payload("INV-000002")
    wrong["totals"] = {**wrong["totals"], "tax": "19.81", "total": "118.81"}
    attempts = send_many(erp_server, [message(1), message(2, body=wrong), message(3)])
    assert [(a.delivered, a.error_class) for a in attempts] == [
        (True, None),
        (False, ErrorClass.FATAL),
    ]
    assert "where revsync billed 99.00/19.81/118.81" in attempts[1].reason
    broken = payload("INV-000005")
    del broken["totals"]
    attempts = send_many(erp_server, [message(4), message(5, body=broken), message(6)])
    assert [(a.delivered, a.error_class) for a in attempts] == [
        (True, None),
        (False, ErrorClass.FATAL),
    ]
    assert attempts[1].reason == "cannot map to the ERP: 'totals'"
    assert posted_keys(erp_server) == ["k1", "k4"]  # nothing after either


def test_an_erp_that_does_not_answer_is_an_outage_for_every_message_sent(
    erp_server: TrytonServer,
) -> None:
    erp_server.stop()
    broken = payload("INV-000004")
    del broken["totals"]
    batch = [message(1), message(2, kind="invoice.paid"), message(3), message(4, body=broken)]
    attempts = send_many(erp_server, batch)
    # up to the unmappable message, which was not sent (it is tried again with the next batch)
    assert [(a.delivered, a.error_class, a.ambiguous) for a in attempts] == [
        (False, ErrorClass.UNAVAILABLE, False),
        (False, ErrorClass.SKIPPABLE, False),
        (False, ErrorClass.UNAVAILABLE, False),
    ]
    assert attempts[0].reason.startswith("ConnectError")

    async def lookup() -> Attempt | None:
        destination = ErpDestination(erp_for(erp_server), RULES)
        try:
            return await destination.find_by_key("k1")
        finally:
            await destination.aclose()

    found = asyncio.run(lookup())
    assert found is not None
    assert found.error_class is ErrorClass.UNAVAILABLE
    assert found.reason.startswith("lookup failed: ConnectError")
