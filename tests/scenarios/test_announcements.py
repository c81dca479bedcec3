"""What billing announces: each finalized invoice, credit note and void becomes an outbox
message for every destination subscribed to it, in the transaction that made it, with a key
derived from the document; the relay then delivers the invoice as the API shows it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from revsync.adapters.db.tables import outbox_messages
from revsync.domain.delivery import idempotency_key
from revsync.sandbox.faults import FaultServer
from revsync.schemas.invoices_v1 import invoice_out
from tests.scenarios.harness import PRO, World
from tests.support.delivery import deliver_until, destination, outbox_settings, settled


@pytest.fixture
def target() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


def messages(w: World) -> list[tuple[str, str, str, str]]:
    """(kind, aggregate, object id, key) of every outbox message, in order."""
    m = outbox_messages.c
    with w.container.engine.connect() as conn:
        rows = conn.execute(
            sa.select(m.kind, m.aggregate, m.object_id, m.idempotency_key).order_by(m.id)
        )
        return [tuple(r) for r in rows]


def test_finalized_invoices_voids_and_credit_notes_are_announced_once(
    world: Callable[..., World], target: FaultServer
) -> None:
    w = world(
        plans=[PRO],
        start="2026-11-01T08:00:00Z",
        billing={"grace_period_hours": 0},
        extra=outbox_settings(destination(target)),
    )
    w.customer("acme")
    w.subscribe("s1", "acme", "pro", "2026-11-01")
    w.at("2026-11-01T09:00:00Z").bill("2026-11-01")
    w.bill("2026-11-01")  # again: nothing new to announce
    [invoice] = w.raw_invoices("s1")
    assert invoice.number == "INV-000001"
    assert messages(w) == [
        (
            "invoice.finalized",
            "customer:acme",
            invoice.id,
            idempotency_key("invoice.finalized", invoice.id, "INV-000001"),
        )
    ]
    note = w.container.billing.void(invoice.id, "duplicate", "ops", "corr-void")
    assert messages(w)[1:] == [
        (
            "credit_note.issued",
            "customer:acme",
            note.id,
            idempotency_key("credit_note.issued", note.id, "CN-000001"),
        ),
        (
            "invoice.voided",
            "customer:acme",
            invoice.id,
            idempotency_key("invoice.voided", invoice.id, note.id),
        ),
    ]
    # delivered in order, the invoice exactly as the API shows it (money as strings)
    deliver_until(w.container, lambda: settled(w.container))
    documents = [d["body"] for d in target.documents()]
    assert [d["type"] for d in documents] == [
        "invoice.finalized",
        "credit_note.issued",
        "invoice.voided",
    ]
    expected = invoice_out(invoice)
    assert documents[0]["data"]["totals"] == {k: str(v) for k, v in expected["totals"].items()}
    assert documents[0]["data"]["number"] == "INV-000001"
    assert documents[1]["data"]["credits_invoice"] == invoice.id
    assert documents[2]["correlation_id"] == "corr-void"
    assert documents[2]["data"] == {
        "invoice_id": invoice.id,
        "number": "INV-000001",
        "credit_note_id": note.id,
        "credit_note_number": "CN-000001",
        "reason": "duplicate",
    }


def test_without_destinations_nothing_is_queued(world: Callable[..., World]) -> None:
    w = world(plans=[PRO], start="2026-11-01T08:00:00Z", billing={"grace_period_hours": 0})
    w.customer("acme")
    w.subscribe("s1", "acme", "pro", "2026-11-01")
    w.at("2026-11-01T09:00:00Z").bill("2026-11-01")
    assert w.raw_invoices("s1")[0].number == "INV-000001"
    assert messages(w) == []
