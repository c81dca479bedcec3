"""revsync and the support sandbox end to end, read back through zenpy: an organization whose
external id is a customer's is mapped to it; each open ticket of a mapped organization gets
the customer's context in revsync's ticket fields and an internal note, once; the note is made
again only when what it tells changes (an invoice going overdue), not when usage moves or
revsync's own write brings the ticket back; tickets of unmapped organizations and solved ones
are left alone; a refusal becomes a case."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from zenpy import Zenpy
from zenpy.lib.api_objects import Organization

from revsync.application.customers import PutCustomer
from revsync.application.ingestion import IngestContext
from revsync.application.subscriptions import CreateSubscription
from revsync.bootstrap import Container, apply_configuration, build
from revsync.domain.delivery import CaseKind, CaseStatus
from revsync.domain.errors import InvalidField
from revsync.domain.identity import System
from revsync.domain.invoicing import Invoice
from revsync.entrypoints.api.app import create_app
from revsync.ports.billing import InvoiceFilter
from revsync.ports.delivery import CaseFilter
from revsync.ports.erp import PostingRecord
from revsync.sandbox.support import SupportSandbox
from revsync.schemas.cloudevents_v1 import decode_items
from tests.conftest import issue_key, make_settings
from tests.support.clock import FrozenClock
from tests.support.delivery import deliver_until, settled, statuses
from tests.support.events import encode, event
from tests.support.zendesk import FIELDS, OWNED, Clock, new_ticket, zenpy_for

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
        {"key": "api_calls", "kind": "quota", "meter": "api_calls", "limit": "1000"},
    ],
}
NOW = datetime(2026, 11, 20, 9, tzinfo=UTC)


@pytest.fixture
def tool_clock() -> Clock:
    return Clock(NOW)  # revsync's time


@pytest.fixture
def sandbox(tmp_path: Path, tool_clock: Clock) -> Iterator[SupportSandbox]:
    with SupportSandbox(tmp_path / "support", clock=tool_clock) as running:
        yield running


@pytest.fixture
def zenpy(sandbox: SupportSandbox) -> Zenpy:
    return zenpy_for(sandbox)


@pytest.fixture
def container(
    any_db_url: str, sandbox: SupportSandbox, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Container]:
    monkeypatch.setenv("REVSYNC_TEST_SUPPORT_TOKEN", sandbox.credentials.token)
    settings = make_settings(
        any_db_url,
        plans=[GROWTH],
        support={
            "url": sandbox.url,
            "ca_file": str(sandbox.cert_path),
            "email": sandbox.credentials.email,
            "token_env": "REVSYNC_TEST_SUPPORT_TOKEN",
        },
        outbox={"allow_private_hosts": ["127.0.0.1"]},
        worker={"lease_seconds": 60, "poll_seconds": 0.02},
    )
    wired = build(settings, clock=FrozenClock(NOW))
    apply_configuration(wired, "test")
    yield wired
    wired.close()


def calls(container: Container, prefix: str, count: int) -> None:
    events = [
        event(f"{prefix}-{n}", subject="t-acme", time=datetime(2026, 11, 10, tzinfo=UTC))
        for n in range(count)
    ]
    report = container.ingestion.ingest(
        decode_items([encode(e) for e in events]), IngestContext("api", "test")
    )
    assert report.rejected == []


def sync(container: Container) -> Any:
    return asyncio.run(container.sync_support())


def deliver(container: Container) -> None:
    deliver_until(container, lambda: settled(container))


def notes(zenpy: Zenpy, ticket_id: int) -> list[str]:
    return [c.body for c in zenpy.tickets.comments(ticket=ticket_id) if not c.public]


def fields(zenpy: Zenpy, ticket_id: int) -> dict[str, Any]:
    titles = {f.id: f.title for f in zenpy.ticket_fields()}
    roles = {title: role for role, title in OWNED.items()}
    return {
        roles[titles[f["id"]]]: f["value"]
        for f in zenpy.tickets(id=ticket_id).custom_fields
        if titles[f["id"]] in roles
    }


@pytest.mark.postgres
def test_open_tickets_of_a_mapped_customer_get_its_context_once_and_again_when_it_changes(
    container: Container, sandbox: SupportSandbox, zenpy: Zenpy
) -> None:
    container.customers.put(
        PutCustomer("acme", "Acme", "EUR", "UTC", None, {System.PRODUCT: ["t-acme"]}, "test")
    )
    container.subscriptions.create(
        CreateSubscription("s-acme", "acme", "growth", date(2026, 11, 1), "test", seats=3)
    )
    container.billing.run(date(2026, 11, 1), "test")
    [invoice] = container.billing.invoices(InvoiceFilter("acme"), after=None, limit=10)
    assert invoice.number is not None
    posting = PostingRecord(
        invoice.id, "77", "INV/0007", "acme", date(2026, 11, 1), None,
        amount_to_pay=Decimal("500.00"), due_date=date(2026, 11, 15),
    )  # fmt: skip
    with container.unit_of_work() as uow:  # posted, then read back by the payment sync
        uow.postings.record(posting, NOW)
        uow.postings.update(posting, NOW)
        uow.commit()
    calls(container, "a", 300)

    assert asyncio.run(_provision(container)) == sorted(FIELDS.values())
    acme_org = zenpy.organizations.create(Organization(name="Acme Inc", external_id="acme")).id
    other_org = zenpy.organizations.create(Organization(name="Other")).id
    ticket = new_ticket(zenpy, "SSO broken", organization_id=acme_org).id
    other = new_ticket(zenpy, "Hello", organization_id=other_org).id
    solved = new_ticket(zenpy, "Old question", organization_id=acme_org, status="solved").id

    first = sync(container)
    assert first.organizations_mapped == ["acme"]
    assert container.customers.get("acme").refs_in(System.SUPPORT) == (str(acme_org),)
    assert (first.tickets_read, first.tickets_unmapped, first.contexts_queued) == (3, 1, [ticket])
    deliver(container)
    context = [
        "revsync context for Acme (acme)",
        "Plan: Growth (growth) — subscription s-acme, 3 seats",
        "Renewal: none",
        "Entitlements this period (usage as of 2026-11-20 09:00 UTC):",
        "  - sso: included",
        "  - api_calls: 300 of 1,000 (30%), on pace for 450",
    ]
    assert notes(zenpy, ticket) == [
        "\n".join(
            [
                *context,
                "Open invoices:",
                f"  - {invoice.number} / ERP INV/0007: 500.00 EUR, due 2026-11-15",
                "Health score: 100/100",
                "Support: 2 tickets opened in 30 days (0 urgent or high), weight 2, rising from 0",
                "Open revsync cases: none",
                "",
                f"[revsync:context:{_key(first, container)}]",
            ]
        )
    ]
    assert fields(zenpy, ticket) == {
        "plan": "Growth (growth)",
        "renewal_date": None,
        "overdue_amount": "0",
        "dunning_level": None,
        "health_score": "100",
    }
    assert notes(zenpy, other) == [] and notes(zenpy, solved) == []

    calls(container, "b", 50)  # usage moves; revsync's write brought the ticket back
    again = sync(container)
    assert again.contexts_queued == [] and again.tickets_read >= 1

    with container.unit_of_work() as uow:  # the ERP's payment sync: overdue, dunning level 1
        overdue = PostingRecord(
            invoice.id, "77", "INV/0007", "acme", date(2026, 11, 1), None,
            amount_to_pay=Decimal("500.00"), due_date=date(2026, 11, 15), overdue=True,
            dunning_level="1",
        )  # fmt: skip
        uow.postings.update(overdue, NOW)
        uow.commit()
    changed = sync(container)
    assert changed.contexts_queued == [ticket]
    deliver(container)
    [_, second] = notes(zenpy, ticket)
    assert second.splitlines()[6:11] == [
        "Open invoices (500.00 EUR overdue):",
        f"  - {invoice.number} / ERP INV/0007: 500.00 EUR, due 2026-11-15 — OVERDUE (dunning 1)",
        "Health score: 55/100 (risks: overdue, dunning)",
        "Support: 2 tickets opened in 30 days (0 urgent or high), weight 2, rising from 0",
        "Open revsync cases: none",
    ]
    assert second.splitlines()[5] == "  - api_calls: 350 of 1,000 (35%), on pace for 525"
    assert fields(zenpy, ticket) == {
        "plan": "Growth (growth)",
        "renewal_date": None,
        "overdue_amount": "500.00",
        "dunning_level": "1",
        "health_score": "55",
    }


@pytest.mark.postgres
def test_a_refusal_becomes_a_case_retried_once_fixed_and_a_deleted_ticket_is_skipped(
    container: Container, sandbox: SupportSandbox, zenpy: Zenpy
) -> None:
    container.customers.put(PutCustomer("acme", "Acme", "EUR", "UTC", None, {}, "test"))
    asyncio.run(_provision(container))
    org = zenpy.organizations.create(Organization(name="Acme Inc", external_id="acme")).id
    kept = new_ticket(zenpy, "Invoice question", organization_id=org).id
    gone = new_ticket(zenpy, "Spam", organization_id=org).id
    assert sorted(sync(container).contexts_queued) == [kept, gone]
    zenpy.tickets.delete(zenpy.tickets(id=gone))
    [plan_field] = [f for f in zenpy.ticket_fields() if f.title == FIELDS["plan"]]
    plan_field.title = "Plan (renamed by an admin)"
    zenpy.ticket_fields.update(plan_field)
    deliver(container)
    assert notes(zenpy, kept) == []
    [case] = container.cases.find(CaseFilter(destination="support"), after=None, limit=10)
    assert (case.status, case.object_type, case.object_id) == (CaseStatus.OPEN, "ticket", str(kept))
    assert "no ticket field titled 'revsync plan'" in (case.last_error or "")
    assert statuses(container)[str(gone)] == "skipped"  # deleted: nothing to write, no case

    plan_field.title = FIELDS["plan"]  # the admin puts it back; the operator retries
    zenpy.ticket_fields.update(plan_field)
    container.cases.retry(case.id, "ops@acme", "field restored")
    deliver(container)
    assert len(notes(zenpy, kept)) == 1
    assert container.cases.show(case.id).case.status is CaseStatus.RESOLVED


async def _provision(container: Container) -> list[str]:
    client = container.support()
    try:
        return sorted(await client.provision())
    finally:
        await client.aclose()


def _key(report: Any, container: Container) -> str:
    """The note's key: ``context:`` and the first 16 characters of the context's digest."""
    with container.unit_of_work(write=False) as uow:
        [record] = uow.support.tickets(report.contexts_queued).values()
    assert record.context_digest is not None
    return record.context_digest[:16]


@pytest.mark.postgres
def test_tickets_rising_while_an_invoice_is_overdue_flag_the_customer_until_it_is_paid(
    container: Container, sandbox: SupportSandbox, zenpy: Zenpy
) -> None:
    container.customers.put(PutCustomer("acme", "Acme", "EUR", "UTC", None, {}, "test"))
    container.subscriptions.create(
        CreateSubscription("s-acme", "acme", "growth", date(2026, 11, 1), "test", seats=3)
    )
    container.billing.run(date(2026, 11, 1), "test")
    [invoice] = container.billing.invoices(InvoiceFilter("acme"), after=None, limit=10)
    overdue = PostingRecord(
        invoice.id, "77", "INV/0007", "acme", date(2026, 11, 1), None,
        amount_to_pay=Decimal("500.00"), due_date=date(2026, 11, 15), overdue=True,
    )  # fmt: skip
    with container.unit_of_work() as uow:
        uow.postings.record(overdue, NOW)
        uow.postings.update(overdue, NOW)
        uow.commit()
    asyncio.run(_provision(container))
    org = zenpy.organizations.create(Organization(name="Acme Inc", external_id="acme")).id
    tickets = [
        new_ticket(zenpy, f"Outage {n}", organization_id=org, priority="high").id for n in range(2)
    ]
    sync(container)
    deliver(container)
    # weight 4, rising from 0, while an invoice is overdue: escalating
    for ticket in tickets:
        assert "revsync_escalating" in zenpy.tickets(id=ticket).tags
        assert fields(zenpy, ticket)["health_score"] == "50"  # overdue 30, escalating 20
    [note] = notes(zenpy, tickets[0])
    assert "Health score: 50/100 (risks: overdue, escalating)" in note.splitlines()

    with container.unit_of_work() as uow:  # paid
        uow.postings.update(replace(overdue, paid=True, overdue=False), NOW)
        uow.commit()
    assert sorted(sync(container).contexts_queued) == sorted(tickets)
    deliver(container)
    for ticket in tickets:
        assert "revsync_escalating" not in zenpy.tickets(id=ticket).tags
        assert fields(zenpy, ticket)["health_score"] == "100"


def world(container: Container) -> Invoice:
    """acme on Growth since November 1st, its November invoice posted as INV/0007."""
    container.customers.put(PutCustomer("acme", "Acme", "EUR", "UTC", None, {}, "test"))
    container.subscriptions.create(
        CreateSubscription("s-acme", "acme", "growth", date(2026, 11, 1), "test", seats=3)
    )
    container.billing.run(date(2026, 11, 1), "test")
    [invoice] = container.billing.invoices(InvoiceFilter("acme"), after=None, limit=10)
    post(container, invoice, "INV/0007")
    asyncio.run(_provision(container))
    return invoice


def post(container: Container, invoice: Invoice, number: str) -> None:
    """What the ERP's receipt records once it posted the invoice."""
    posting = PostingRecord(invoice.id, number, number, "acme", invoice.issue_date, None)
    with container.unit_of_work() as uow:
        uow.postings.record(posting, NOW)
        uow.commit()


def asking(zenpy: Zenpy, org: int, subject: str, **credit: str) -> int:
    """A ticket tagged for a service credit, its fields filled in by the agent."""
    ids = {f.title: f.id for f in zenpy.ticket_fields()}
    fields = [{"id": ids[FIELDS[f"credit_{k}"]], "value": v} for k, v in credit.items()]
    return int(
        new_ticket(
            zenpy, subject, organization_id=org, tags=["service_credit"], custom_fields=fields
        ).id
    )


def comments(zenpy: Zenpy, ticket_id: int) -> list[tuple[bool, str]]:
    """(public, body without revsync's key line) of each comment after the first, the
    context notes left out."""
    found = list(zenpy.tickets.comments(ticket=ticket_id))[1:]
    return [
        (c.public, c.body.rsplit("\n\n[revsync:", 1)[0])
        for c in found
        if "[revsync:context:" not in c.body
    ]


@pytest.mark.postgres
def test_a_service_credit_asked_on_a_ticket_is_approved_issued_and_told_its_erp_number(
    container: Container, sandbox: SupportSandbox, zenpy: Zenpy
) -> None:
    invoice = world(container)
    [platform] = invoice.lines
    org = zenpy.organizations.create(Organization(name="Acme Inc", external_id="acme")).id
    ticket = asking(
        zenpy, org, "Down for four hours", amount="50.00", invoice="INV/0007", reason="4h outage"
    )
    first = sync(container)
    assert first.credits_taken == [ticket]
    [case] = container.cases.find(CaseFilter(kind=CaseKind.SERVICE_CREDIT), after=None, limit=10)
    assert (case.status, case.object_id) == (CaseStatus.OPEN, str(ticket))
    assert sync(container).credits_taken == []  # asked once
    deliver(container)
    asked = (
        f"Service credit of 50.00 EUR (before tax) asked: {platform.key} 50.00. Awaiting "
        f"approval by finance (case {case.id})."
    )
    assert comments(zenpy, ticket) == [(False, asked)]

    finance = issue_key(container, "finance")
    with TestClient(create_app(container)) as api:
        body = {"reason": "SLA breach confirmed"}
        approved = api.post(f"/v1/cases/{case.id}/approve", json=body, headers=finance)
        assert (approved.status_code, approved.json()["status"]) == (200, "resolved"), approved.text
        approver = approved.json()["closed_by"]
        assert approver.startswith("api_key:")
        again = api.post(f"/v1/cases/{case.id}/approve", json=body, headers=finance)
        assert again.status_code == 409, again.text
    notes_ = container.billing.invoices(InvoiceFilter("acme"), after=None, limit=10)
    [note] = [n for n in notes_ if n.credits_invoice == invoice.id]
    assert [(line.key, line.amount) for line in note.lines] == [
        (f"credit:{platform.key}", Decimal("-50.00"))
    ]
    assert (note.number, note.totals.total, note.currency) == (
        "CN-000001",
        Decimal("-50.00"),
        "EUR",
    )
    deliver(container)
    post(container, note, "CN/0003")  # the ERP posted the credit note
    told = sync(container)
    assert told.credits_told == [ticket]
    assert sync(container).credits_told == []  # told once
    deliver(container)
    assert comments(zenpy, ticket) == [
        (False, asked),
        (
            False,
            f"Service credit approved by {approver}: credit note CN-000001 of 50.00 EUR (tax "
            "included). Its ERP number follows once posted.",
        ),
        (
            True,
            "We have issued a service credit of 50.00 EUR on invoice INV-000001: credit note "
            "CN-000001, ERP number CN/0003.",
        ),
    ]
    actions = [e.record.action for e in container.audit.entries(after=None, limit=500)]
    assert actions.count("service_credit.requested") == 1
    assert actions.count("service_credit.issued") == 1
    assert actions.count("invoice.credited") == 1


@pytest.mark.postgres
def test_a_credit_over_the_limit_is_refused_and_one_ignored_by_an_operator_too(
    container: Container, sandbox: SupportSandbox, zenpy: Zenpy
) -> None:
    invoice = world(container)
    org = zenpy.organizations.create(Organization(name="Acme Inc", external_id="acme")).id
    over = asking(zenpy, org, "Refund me", amount="5000", invoice=invoice.number or "", reason="x")
    unknown = asking(zenpy, org, "Old one", percent="10", invoice="INV-999999", reason="late")
    tenth = asking(zenpy, org, "Slow", percent="10", invoice=invoice.number or "", reason="slow")
    assert sorted(sync(container).credits_taken) == sorted([over, unknown, tenth])
    [case] = container.cases.find(CaseFilter(kind=CaseKind.SERVICE_CREDIT), after=None, limit=9)
    assert case.object_id == str(tenth)
    with pytest.raises(InvalidField, match="ignore its case to refuse it"):
        container.cases.resolve(case.id, "ops@acme", "done")
    container.cases.ignore(case.id, "ops@acme", "not covered by the SLA")
    deliver(container)
    assert comments(zenpy, over) == [
        (False, "Service credit refused: 5000.00 is over the limit of 1000 for one service credit.")
    ]
    assert comments(zenpy, unknown) == [
        (False, "Service credit refused: Acme has no invoice 'INV-999999' to credit.")
    ]
    assert comments(zenpy, tenth)[-1] == (
        False,
        "Service credit refused: refused by ops@acme: not covered by the SLA.",
    )
    notes_ = container.billing.invoices(InvoiceFilter("acme"), after=None, limit=10)
    assert [n.id for n in notes_] == [invoice.id]  # no credit note


def test_the_first_sync_reads_the_last_60_days_not_the_whole_history(
    container: Container, sandbox: SupportSandbox, zenpy: Zenpy, tool_clock: Clock
) -> None:
    container.customers.put(PutCustomer("acme", "Acme", "EUR", "UTC", None, {}, "test"))
    tool_clock.tick(-61 * 24 * 3600)  # the tool's history (its stamps never go back)
    org = zenpy.organizations.create(Organization(name="Acme Inc", external_id="acme")).id
    new_ticket(zenpy, "Long ago", organization_id=org)
    tool_clock.tick(61 * 24 * 3600)
    asyncio.run(_provision(container))
    recent = new_ticket(zenpy, "Today", organization_id=org).id
    first = sync(container)
    assert (first.tickets_read, first.contexts_queued) == (1, [recent])


@pytest.mark.postgres
def test_a_billing_change_reaches_every_open_ticket_the_sync_no_longer_reads(
    container: Container, sandbox: SupportSandbox, zenpy: Zenpy, tool_clock: Clock
) -> None:
    """The payment sync finds the invoice overdue long after the customer's tickets last
    changed: the support sync reads only newer tickets, yet both open tickets of the customer
    get the overdue amount and dunning level (before, they waited for their next update)."""
    invoice = world(container)
    org = zenpy.organizations.create(Organization(name="Acme Inc", external_id="acme")).id
    tickets = [new_ticket(zenpy, f"Question {n}", organization_id=org).id for n in range(2)]
    sync(container)
    deliver(container)
    tool_clock.tick(3600)  # an hour later, another customer's ticket: acme's leave the window
    stranger = zenpy.organizations.create(Organization(name="Someone")).id
    new_ticket(zenpy, "Hello", organization_id=stranger)
    sync(container)  # from the last mark: acme's tickets one last time, and the new one
    quiet = sync(container)
    assert quiet.contexts_queued == [] and quiet.tickets_read == 1  # the newest only

    with container.unit_of_work() as uow:  # the ERP's payment sync: overdue, dunning level 1
        overdue = PostingRecord(
            invoice.id, "77", "INV/0007", "acme", date(2026, 11, 1), None,
            amount_to_pay=Decimal("500.00"), due_date=date(2026, 11, 15), overdue=True,
            dunning_level="level 1",
        )  # fmt: skip
        uow.postings.update(overdue, NOW)
        uow.commit()
    changed = sync(container)
    assert (changed.tickets_read, sorted(changed.contexts_queued)) == (1, sorted(tickets))
    assert sync(container).contexts_queued == []  # once
    deliver(container)
    for ticket in tickets:
        assert {k: fields(zenpy, ticket)[k] for k in ("overdue_amount", "dunning_level")} == {
            "overdue_amount": "500.00",
            "dunning_level": "level 1",
        }
