"""Changes announced in their own transaction: a customer's first subscription
(``customer.activated``, once per customer), each amendment (``subscription.amended``, its terms
before and after), and each posting the ERP answered (``invoice.posted``, once)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from revsync.adapters.db.tables import outbox_messages
from revsync.application.erp import ErpReceipts
from revsync.bootstrap import Container, announcer_for, apply_configuration
from revsync.config import Settings
from revsync.domain.delivery import OutboundMessage
from revsync.ports.billing import InvoiceFilter
from revsync.schemas.event_payloads_v1 import validate_payload
from tests.conftest import NOW, make_settings
from tests.scenarios.harness import PRO

KINDS = ["customer.activated", "subscription.amended", "invoice.posted"]


@pytest.fixture
def settings(db_url: str) -> Settings:
    hook = {"name": "hub", "url": "https://hooks.example.com/revsync", "events": KINDS}
    return make_settings(db_url, plans=[PRO], outbox={"destinations": [hook]})


def announced(container: Container) -> list[tuple[str, str, dict[str, Any]]]:
    m = outbox_messages.c
    with container.engine.connect() as conn:
        rows = conn.execute(
            sa.select(m.kind, m.object_id, m.payload).where(m.destination == "hub").order_by(m.id)
        ).all()
    return [(row.kind, row.object_id, row.payload) for row in rows]


def test_a_first_subscription_activates_the_customer_once_and_amendments_are_announced(
    api: TestClient, container: Container, admin: dict[str, str]
) -> None:
    apply_configuration(container, "test")
    body = {"name": "Acme", "currency": "EUR"}
    assert api.put("/v1/customers/acme", json=body, headers=admin).status_code == 201
    for sid, start in (("s-1", "2026-11-01"), ("s-2", "2026-11-15")):
        sub = {"customer_id": "acme", "plan": "pro", "start": start, "seats": 3}
        assert api.put(f"/v1/subscriptions/{sid}", json=sub, headers=admin).status_code == 201
    # the same request again (idempotent PUT) announces nothing more
    sub = {"customer_id": "acme", "plan": "pro", "start": "2026-11-01", "seats": 3}
    assert api.put("/v1/subscriptions/s-1", json=sub, headers=admin).status_code == 200
    change = {"change": "seat_change", "effective": "2026-11-20", "seats": 5}
    answer = api.post("/v1/subscriptions/s-1/amendments", json=change, headers=admin)
    assert answer.status_code == 201, answer.text
    terms = {"plan": "pro@1", "trial_end": None, "ends": None}
    assert announced(container) == [
        (
            "customer.activated",
            "acme",
            {
                "customer_id": "acme",
                "name": "Acme",
                "subscription_id": "s-1",
                "plan": "pro@1",
                "seats": 3,
                "start": "2026-11-01",
            },
        ),
        (
            "subscription.amended",
            "s-1",
            {
                "subscription_id": "s-1",
                "customer_id": "acme",
                "change": "seat_change",
                "effective": "2026-11-20",
                "before": {
                    "version": 1,
                    "effective": "2026-11-01",
                    "change": "created",
                    "seats": 3,
                    **terms,
                },
                "after": {
                    "version": 2,
                    "effective": "2026-11-20",
                    "change": "seat_change",
                    "seats": 5,
                    **terms,
                },
            },
        ),
    ]
    for kind, _, payload in announced(container):
        validate_payload(kind, payload)


def test_a_posting_is_announced_once_when_its_receipt_is_applied_twice(
    api: TestClient, container: Container, admin: dict[str, str]
) -> None:
    apply_configuration(container, "test")
    body = {"name": "Acme", "currency": "EUR"}
    assert api.put("/v1/customers/acme", json=body, headers=admin).status_code == 201
    sub = {"customer_id": "acme", "plan": "pro", "start": "2026-11-01", "seats": 3}
    assert api.put("/v1/subscriptions/s-1", json=sub, headers=admin).status_code == 201
    run = api.post("/v1/billing-runs", json={}, headers=admin)
    assert run.status_code in (200, 201), run.text
    found = container.billing.invoices(InvoiceFilter(customer_id="acme"), after=None, limit=10)
    [invoice] = [i for i in found if i.number]
    message = OutboundMessage(
        id=1,
        destination="erp",
        aggregate="all",
        kind="invoice.finalized",
        object_type="invoice",
        object_id=invoice.id,
        key="rsv1-test",
        payload={},
        correlation_id="relay-test",
        created_at=NOW,
        attempts=1,
        unsure=False,
    )
    receipt = {
        "erp_invoice_id": "42",
        "erp_number": "INV-2026-00042",
        "erp_party": "RS-acme",
        "erp_invoice_date": "2026-12-01",
        "rolled_forward_from": "2026-11-30",
    }
    receipts = ErpReceipts(announcer_for(container.settings))
    for _ in range(2):  # a lookup after a lost answer finds the same posting again
        with container.unit_of_work() as uow:
            receipts.apply(uow, message, receipt, NOW)
            uow.commit()
    posted = [a for a in announced(container) if a[0] == "invoice.posted"]
    assert posted == [
        (
            "invoice.posted",
            invoice.id,
            {
                "invoice_id": invoice.id,
                "customer_id": "acme",
                "number": invoice.number,
                "erp_number": "INV-2026-00042",
                "erp_invoice_id": "42",
                "erp_invoice_date": "2026-12-01",
                "rolled_forward_from": "2026-11-30",
                "total": str(invoice.totals.total),
                "currency": "EUR",
            },
        )
    ]
    validate_payload("invoice.posted", posted[0][2])
    assert date.fromisoformat(posted[0][2]["erp_invoice_date"]) == date(2026, 12, 1)
