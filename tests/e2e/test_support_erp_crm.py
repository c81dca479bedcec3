"""The support tool beside a real Tryton and the CRM sandbox, each read back through its own API
(Tryton's JSON-RPC, simple-salesforce, zenpy).

Enrichment and service credits: a ticket's note names the invoice with the number Tryton gave
it; a service credit asked with that ERP number, approved by finance over the API, becomes a
credit note Tryton posts, and the ticket's public comment names Tryton's number for it.

The collections ladder: an invoice left unpaid climbs Tryton's dunning levels 1, 2 and 3 — a CRM
task for the account's owner, then a task for its success manager and a tag on the customer's
open ticket, then its exports suspended — and once it is paid in the ERP every step is undone:
both tasks completed, the tag taken off, exports allowed again; each move audited and announced
once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from simple_salesforce.api import Salesforce
from zenpy import Zenpy
from zenpy.lib.api_objects import Organization

from revsync.adapters.db.tables import outbox_messages
from revsync.bootstrap import Container, apply_configuration, build
from revsync.entrypoints.api.app import create_app
from revsync.ports.billing import InvoiceFilter
from revsync.sandbox.crm import CrmSandbox
from revsync.sandbox.crm.ids import SANDBOX_USER_ID, USER_PREFIX, make_id
from revsync.sandbox.support import SupportSandbox
from revsync.schemas.event_payloads_v1 import validate_payload
from tests.conftest import issue_key, make_settings
from tests.support.clock import FrozenClock
from tests.support.crm import CRM_SECRET_ENV, crm_section, salesforce
from tests.support.delivery import deliver_until, settled
from tests.support.erp import ERP_PASSWORD_ENV, YEAR, erp_section, pay, run, with_rpc
from tests.support.tryton import ADMIN_PASSWORD, TrytonServer
from tests.support.zendesk import Clock, new_ticket, zenpy_for

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
        }
    ],
    "features": [
        {"key": "sso", "kind": "boolean"},
        {"key": "exports", "kind": "boolean"},
    ],
}
START = datetime(YEAR, 10, 1, 8, tzinfo=UTC)
MANAGER = make_id(USER_PREFIX, 7)  # the account's success manager


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def tool_clock() -> Clock:
    return Clock(START)


@pytest.fixture
def crm(tmp_path: Path) -> Iterator[CrmSandbox]:
    with CrmSandbox(tmp_path / "crm") as running:
        yield running


@pytest.fixture
def support(tmp_path: Path, tool_clock: Clock) -> Iterator[SupportSandbox]:
    with SupportSandbox(tmp_path / "support", clock=tool_clock) as running:
        yield running


@pytest.fixture
def container(
    any_db_url: str,
    erp_server: TrytonServer,
    crm: CrmSandbox,
    support: SupportSandbox,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Container]:
    monkeypatch.setenv(ERP_PASSWORD_ENV, ADMIN_PASSWORD)
    monkeypatch.setenv(CRM_SECRET_ENV, crm.credentials.client_secret)
    monkeypatch.setenv("REVSYNC_TEST_SUPPORT_TOKEN", support.credentials.token)
    settings = make_settings(
        any_db_url,
        plans=[GROWTH],
        tax={"rates": {"FR": {"standard": "20"}}},
        billing={"grace_period_hours": 0},
        erp=erp_section(erp_server),
        crm=crm_section(crm, plans={"Growth": "growth"}, overlap_seconds=0),
        support={
            "url": support.url,
            "ca_file": str(support.cert_path),
            "email": support.credentials.email,
            "token_env": "REVSYNC_TEST_SUPPORT_TOKEN",
        },
        collections={
            "rungs": [
                {"level": 1, "task": "owner"},
                {"level": 2, "task": "success_manager", "flag_tickets": True},
                {"level": 3, "entitlements": "suspend", "features": ["exports"]},
            ]
        },
        outbox={"allow_private_hosts": ["127.0.0.1"]},
        worker={"lease_seconds": 60, "poll_seconds": 0.02},
    )
    wired = build(settings, clock=clock)
    apply_configuration(wired, "test")
    yield wired
    wired.close()


def tasks(client: Salesforce) -> dict[str, tuple[str, str, str, str]]:
    """revsync's collections tasks by key: owner, status, subject, due date."""
    found = client.query(
        "SELECT Revsync_Key__c, OwnerId, Status, Subject, ActivityDate, WhatId FROM Task"
    )
    return {
        r["Revsync_Key__c"]: (r["OwnerId"], r["Status"], r["Subject"], r["ActivityDate"])
        for r in found["records"]
        if str(r["Revsync_Key__c"] or "").startswith("collections:")
    }


def at(clock: FrozenClock, tool_clock: Clock, moment: datetime) -> None:
    clock.set(moment)
    tool_clock.now = moment


def deliver(container: Container) -> None:
    deliver_until(container, lambda: settled(container))


def exports(api: TestClient, key: dict[str, str]) -> dict[str, Any]:
    answer = api.post(
        "/v1/entitlements/check",
        json={"customer_id": "acme", "feature": "exports"},
        headers=key,
    )
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return {k: found[k] for k in ("allowed", "reason", "restriction")}


def sent_changes(container: Container) -> list[dict[str, Any]]:
    m = outbox_messages.c
    query = (
        sa.select(m.payload)
        .where(m.kind == "collections.changed", m.destination == "crm")
        .order_by(m.id)
    )
    with container.engine.connect() as conn:
        return [dict(row.payload) for row in conn.execute(query)]


def moves(container: Container) -> list[tuple[Any, Any]]:
    with container.unit_of_work(write=False) as uow:
        found = [e.record for e in uow.audit.entries() if e.record.action == "collections.moved"]
    return [(r.before["level"], r.after["level"]) for r in found if r.before and r.after]


def erp_document(server: TrytonServer, remote_id: str) -> dict[str, Any]:
    """An invoice or credit note as Tryton holds it."""
    found: list[dict[str, Any]] = with_rpc(
        server,
        lambda c: c.model(
            "account.invoice",
            "read",
            [int(remote_id)],
            ["number", "state", "total_amount", "untaxed_amount"],
        ),
    )
    return found[0]


def world(container: Container, crm: CrmSandbox) -> Any:
    """Acme SA in the CRM (France, Growth since October 1st), pulled; October's invoice
    (500.00 + 20% tax) billed and posted to Tryton."""
    account = crm.create_record(
        "Account",
        {
            "Name": "Acme SA",
            "Revsync_Customer_Id__c": "acme",
            "BillingCountry": "FR",
            "Success_Manager__c": MANAGER,
        },
    )
    crm.create_record(
        "Contract",
        {
            "AccountId": account,
            "Status": "Activated",
            "StartDate": f"{YEAR}-10-01",
            "ContractTerm": 12,
            "Plan__c": "Growth",
            "Seats__c": 5,
        },
    )
    assert asyncio.run(container.pull_crm()).customers_created == ["acme"]
    container.billing.run(date(YEAR, 10, 1), "test")
    deliver(container)
    [invoice] = container.billing.invoices(InvoiceFilter(customer_id="acme"), after=None, limit=9)
    return invoice


def test_a_service_credit_asked_with_the_erp_number_is_posted_to_the_erp_and_told_its_number(
    container: Container, crm: CrmSandbox, support: SupportSandbox, erp_server: TrytonServer
) -> None:
    invoice = world(container, crm)
    with container.unit_of_work(write=False) as uow:
        posting = uow.postings.get(invoice.id)
    assert posting is not None
    tryton = erp_document(erp_server, posting.remote_id)
    assert (tryton["state"], tryton["total_amount"]) == ("posted", Decimal("600.00"))
    zenpy: Zenpy = zenpy_for(support)
    run(container.support().provision())
    org = zenpy.organizations.create(Organization(name="Acme SA", external_id="acme")).id
    ticket = new_ticket(zenpy, "The API was down", organization_id=org).id
    run(container.sync_erp())  # the due date, as Tryton's payment term set it
    asyncio.run(container.sync_support())
    deliver(container)
    [note] = [c.body for c in zenpy.tickets.comments(ticket=ticket) if not c.public]
    assert (
        f"  - {invoice.number} / ERP {tryton['number']}: 600.00 EUR, due {YEAR}-10-31"
        in note.splitlines()
    )

    # the agent asks with the number the customer sees on its invoice: Tryton's
    ids = {f.title: f.id for f in zenpy.ticket_fields()}
    titles = container.settings.support.fields
    asked = zenpy.tickets(id=ticket)
    asked.tags.append("service_credit")
    asked.custom_fields = [
        {"id": ids[titles["credit_amount"]], "value": "50.00"},
        {"id": ids[titles["credit_invoice"]], "value": tryton["number"]},
        {"id": ids[titles["credit_reason"]], "value": "4 hours down"},
    ]
    zenpy.tickets.update(asked)
    assert asyncio.run(container.sync_support()).credits_taken == [ticket]
    with container.unit_of_work(write=False) as uow:
        credit = uow.support.credits([ticket])[ticket]
    assert credit.case_id is not None, credit.explanation
    api = TestClient(create_app(container))
    approved = api.post(
        f"/v1/cases/{credit.case_id}/approve",
        json={"reason": "SLA breach confirmed"},
        headers=issue_key(container, "finance"),
    )
    assert approved.status_code == 200, approved.text
    deliver(container)  # the credit note to Tryton
    [cn] = [
        i
        for i in container.billing.invoices(InvoiceFilter(customer_id="acme"), after=None, limit=9)
        if i.credits_invoice == invoice.id
    ]
    with container.unit_of_work(write=False) as uow:
        cn_posting = uow.postings.get(cn.id)
    assert cn_posting is not None
    in_erp = erp_document(erp_server, cn_posting.remote_id)
    assert (in_erp["state"], in_erp["untaxed_amount"], in_erp["total_amount"]) == (
        "posted",
        Decimal("-50.00"),
        Decimal("-60.00"),
    )
    assert asyncio.run(container.sync_support()).credits_told == [ticket]
    deliver(container)
    public = [c.body for c in zenpy.tickets.comments(ticket=ticket) if c.public][1:]
    assert [p.rsplit("\n\n[revsync:", 1)[0] for p in public] == [
        f"We have issued a service credit of 60.00 EUR on invoice {invoice.number}: credit "
        f"note {cn.number}, ERP number {in_erp['number']}."
    ]


def test_an_unpaid_invoice_climbs_the_ladder_and_payment_undoes_every_step(
    container: Container,
    crm: CrmSandbox,
    support: SupportSandbox,
    erp_server: TrytonServer,
    clock: FrozenClock,
    tool_clock: Clock,
) -> None:
    invoice = world(container, crm)
    zenpy: Zenpy = zenpy_for(support)
    run(container.support().provision())
    org = zenpy.organizations.create(Organization(name="Acme SA", external_id="acme")).id
    ticket = new_ticket(zenpy, "Export fails", organization_id=org).id
    asyncio.run(container.sync_support())
    deliver(container)
    api = TestClient(create_app(container))
    reader = issue_key(container, "read")
    sf = salesforce(crm)
    assert exports(api, reader) == {"allowed": True, "reason": "included", "restriction": None}

    # 15 days past due: Tryton's first dunning level — a task for the account's owner
    at(clock, tool_clock, datetime(YEAR, 11, 15, 9, tzinfo=UTC))
    first = run(container.sync_erp())
    assert first.collections.moved == {"acme": (0, 1)}
    deliver(container)
    since = f"{YEAR}-11-15"
    one, two = f"collections:acme:{since}:1", f"collections:acme:{since}:2"
    assert tasks(sf) == {
        one: (
            SANDBOX_USER_ID,  # the account's owner
            "Not Started",
            "revsync collections: dunning level 1 — Acme SA",
            since,
        )
    }
    assert run(container.sync_erp()).collections.moved == {}  # the same level: nothing again

    # 45 days: the second level — a task for the success manager, the open ticket flagged
    at(clock, tool_clock, datetime(YEAR, 12, 15, 9, tzinfo=UTC))
    assert run(container.sync_erp()).collections.moved == {"acme": (1, 2)}
    asyncio.run(container.sync_support())
    deliver(container)
    assert tasks(sf)[two][:2] == (MANAGER, "Not Started")
    assert "revsync_collections" in zenpy.tickets(id=ticket).tags
    note = [c.body for c in zenpy.tickets.comments(ticket=ticket) if not c.public][-1]
    assert f"Collections: dunning level 2 since {since}" in note.splitlines()
    assert exports(api, reader)["allowed"] is True

    # 75 days: the third level — exports suspended
    at(clock, tool_clock, datetime(YEAR + 1, 1, 14, 9, tzinfo=UTC))
    assert run(container.sync_erp()).collections.moved == {"acme": (2, 3)}
    deliver(container)
    assert exports(api, reader) == {
        "allowed": False,
        "reason": "suspended",
        "restriction": "suspend",
    }
    listed = api.get("/v1/collections", headers=reader).json()["items"]
    assert [
        (x["customer_id"], x["level"], x["since"], x["tasks"], x["tickets_flagged"]) for x in listed
    ] == [("acme", 3, since, [1, 2], True)]

    # the customer pays in the ERP: the ladder resets
    with container.unit_of_work(write=False) as uow:
        posting = uow.postings.get(invoice.id)
    assert posting is not None
    with_rpc(
        erp_server,
        lambda c: pay(c, int(posting.remote_id), invoice.totals.total, date(YEAR + 1, 1, 15)),
    )
    at(clock, tool_clock, datetime(YEAR + 1, 1, 16, 9, tzinfo=UTC))
    paid = run(container.sync_erp())
    assert (paid.paid, paid.collections.moved) == ([invoice.id], {"acme": (3, 0)})
    asyncio.run(container.sync_support())
    deliver(container)
    assert {k: v[1] for k, v in tasks(sf).items()} == {one: "Completed", two: "Completed"}
    assert "revsync_collections" not in zenpy.tickets(id=ticket).tags
    assert exports(api, reader) == {"allowed": True, "reason": "included", "restriction": None}
    assert api.get("/v1/collections", headers=reader).json()["items"] == []

    assert moves(container) == [(0, 1), (1, 2), (2, 3), (3, 0)]
    changes = sent_changes(container)
    for payload in changes:
        validate_payload("collections.changed", payload)
    assert [
        (
            c["previous_level"],
            c["level"],
            [t["key"] for t in c["open_tasks"]],
            [t["key"] for t in c["close_tasks"]],
            c["flag_tickets"],
            c["restriction"],
        )
        for c in changes
    ] == [
        (0, 1, [one], [], None, None),
        (1, 2, [two], [], True, None),
        (2, 3, [], [], None, {"policy": "suspend", "features": ["exports"]}),
        (3, 0, [], [two, one], False, None),
    ]
    assert changes[0]["overdue"] == [
        {
            "invoice_id": invoice.id,
            "number": invoice.number,
            "erp_number": posting.number,
            "amount_due": "600.00",
            "currency": "EUR",
            "due_date": f"{YEAR}-10-31",
            "dunning_level": "level 1",
        }
    ]
    # the next sync finds nothing to move, and nothing to tell
    assert run(container.sync_erp()).collections.moved == {}
    assert len(sent_changes(container)) == 4
