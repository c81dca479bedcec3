"""The ERP as an outbox destination (``ErpDestination``), over a fake ERP that implements the
port: a batch is one attempt per message for a prefix of the messages — skipped kinds go on,
an unmappable or refused message ends it — and an ERP that does not answer is an outage."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from revsync.adapters.connectors.erp.destination import ErpDestination
from revsync.domain.delivery import Attempt, ErrorClass, OutboundMessage
from revsync.domain.posting import PostingRule
from revsync.ports.erp import (
    ErpDocument,
    ErpInvoiceState,
    ErpPeriod,
    ErpPosting,
    ErpRefused,
    ErpUnavailable,
)

RULES = (PostingRule("SAAS", "4.1.2"),)


class FakeErp:
    """:class:`~revsync.ports.erp.Erp` in memory: posts every document but the keys it is
    told to refuse, numbers them in order, and can be down."""

    def __init__(self, refuse: Sequence[str] = (), down: ErpUnavailable | None = None) -> None:
        self.refuse = set(refuse)
        self.down = down
        self.posted: dict[str, ErpPosting] = {}
        self.batches: list[list[str]] = []

    async def post(self, document: ErpDocument) -> ErpPosting:
        [result] = await self.post_many([document])
        if isinstance(result, ErpRefused):
            raise result
        return result

    async def post_many(self, documents: Sequence[ErpDocument]) -> list[ErpPosting | ErpRefused]:
        self.batches.append([d.key for d in documents])
        if self.down is not None:
            raise self.down
        results: list[ErpPosting | ErpRefused] = []
        for document in documents:
            if document.key in self.posted:
                results.append(replace(self.posted[document.key], found=True))
                continue
            if document.key in self.refuse:
                results.append(ErpRefused(f"refused {document.number}"))
                break
            posting = ErpPosting(
                remote_id=str(len(self.posted) + 1),
                number=f"INV-{len(self.posted) + 1:05d}",
                party=document.party.code,
                invoice_date=document.invoice_date,
            )
            self.posted[document.key] = posting
            results.append(posting)
        return results

    async def find(self, key: str) -> ErpPosting | None:
        if self.down is not None:
            raise self.down
        return self.posted.get(key)

    async def states(self, remote_ids: Sequence[str], today: date) -> dict[str, ErpInvoiceState]:
        return {}

    async def settle(self, invoice_id: str, credit_note_ids: Sequence[str]) -> Decimal:
        return Decimal(0)

    async def periods(self, since: date) -> list[ErpPeriod]:
        return []

    async def run_collections(self, today: date) -> int:
        return 0

    async def run_deferrals(self) -> int:
        return 0

    async def aclose(self) -> None:
        return None


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


def send_many(erp: FakeErp, messages: Sequence[OutboundMessage]) -> list[Attempt]:
    return asyncio.run(ErpDestination(erp, RULES).send_many(messages))


def outcome(attempt: Attempt) -> tuple[Any, ...]:
    return (attempt.delivered, attempt.error_class, attempt.remote_id, attempt.ambiguous)


def test_a_batch_is_posted_in_order_and_a_skipped_kind_does_not_end_it() -> None:
    erp = FakeErp()
    batch = [message(1), message(2, kind="invoice.paid"), message(3), message(4)]
    attempts = send_many(erp, batch)
    assert erp.batches == [["k1", "k3", "k4"]]  # one call, the skipped message left out
    assert [outcome(a) for a in attempts] == [
        (True, None, "1", False),
        (False, ErrorClass.SKIPPABLE, None, False),
        (True, None, "2", False),
        (True, None, "3", False),
    ]
    assert attempts[0].receipt == {
        "erp_invoice_id": "1",
        "erp_number": "INV-00001",
        "erp_party": "RS-c1",
        "erp_invoice_date": "2026-03-10",
    }
    assert attempts[1].reason == "the ERP does not take invoice.paid"


def test_a_refusal_ends_the_batch_and_what_follows_is_not_attempted() -> None:
    erp = FakeErp(refuse=["k2"])
    attempts = send_many(erp, [message(1), message(2), message(3, kind="invoice.paid"), message(4)])
    assert [outcome(a) for a in attempts] == [
        (True, None, "1", False),
        (False, ErrorClass.FATAL, None, False),
    ]
    assert attempts[1].reason == "refused INV-000002"
    assert list(erp.posted) == ["k1"]


def test_an_unmappable_message_ends_the_batch_after_those_before_it_are_posted() -> None:
    erp = FakeErp()
    broken = payload("INV-000002")
    del broken["totals"]
    attempts = send_many(erp, [message(1), message(2, body=broken), message(3)])
    assert erp.batches == [["k1"]]
    assert [outcome(a) for a in attempts] == [
        (True, None, "1", False),
        (False, ErrorClass.FATAL, None, False),
    ]
    assert attempts[1].reason == "cannot map to the ERP: 'totals'"


def test_a_message_posted_earlier_is_delivered_as_found_by_its_key() -> None:
    erp = FakeErp()
    first = send_many(erp, [message(1)])
    again = send_many(erp, [message(1), message(2)])
    assert (first[0].found_by_key, again[0].found_by_key, again[1].found_by_key) == (
        False,
        True,
        False,
    )
    assert [a.remote_id for a in again] == ["1", "2"]


def test_an_erp_that_does_not_answer_is_an_outage_for_every_message_sent() -> None:
    erp = FakeErp(down=ErpUnavailable("ConnectError: refused", sent=False))
    broken = payload("INV-000004")
    del broken["totals"]
    batch = [message(1), message(2, kind="invoice.paid"), message(3), message(4, body=broken)]
    attempts = send_many(erp, batch)
    # up to the unmappable message, which was not sent (it is tried again with the next batch)
    assert [outcome(a) for a in attempts] == [
        (False, ErrorClass.UNAVAILABLE, None, False),
        (False, ErrorClass.SKIPPABLE, None, False),
        (False, ErrorClass.UNAVAILABLE, None, False),
    ]
    assert attempts[0].reason == "ConnectError: refused"
    lost = FakeErp(down=ErpUnavailable("ReadTimeout", sent=True))
    assert [outcome(a) for a in send_many(lost, [message(1), message(2)])] == [
        (False, ErrorClass.UNAVAILABLE, None, True),
        (False, ErrorClass.UNAVAILABLE, None, True),
    ]
    # an ERP that answers with a failure of its own is not away: retriable
    failing = FakeErp(down=ErpUnavailable("the ERP failed: boom", sent=True, outage=False))
    assert [outcome(a) for a in send_many(failing, [message(1)])] == [
        (False, ErrorClass.RETRIABLE, None, True)
    ]


def test_send_is_a_batch_of_one_and_a_lookup_of_an_erp_that_is_down_is_an_outage() -> None:
    erp = FakeErp()
    destination = ErpDestination(erp, RULES)
    sent = asyncio.run(destination.send(message(1)))
    assert outcome(sent) == (True, None, "1", False)
    found = asyncio.run(destination.find_by_key("k1"))
    assert found is not None and (found.remote_id, found.found_by_key) == ("1", True)
    erp.down = ErpUnavailable("ConnectError: refused", sent=False)
    lookup = asyncio.run(destination.find_by_key("k1"))
    assert lookup is not None
    assert (lookup.error_class, lookup.reason) == (
        ErrorClass.UNAVAILABLE,
        "lookup failed: ConnectError: refused",
    )
    assert outcome(asyncio.run(destination.send(message(2)))) == (
        False,
        ErrorClass.UNAVAILABLE,
        None,
        False,
    )
