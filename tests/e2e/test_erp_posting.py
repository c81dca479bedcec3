"""Billing to a real Tryton ERP through the outbox: a billing run finalizes invoices, the relay
posts them (the ERP read back: same totals, one document per invoice), revsync records the ERP
number and the customer's party, a closed period rolls the invoice forward (audited), an
annual fee is posted with deferral, and the payment sync brings "paid" and "overdue" back and
announces them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from revsync.adapters.db.tables import outbox_attempts, outbox_messages
from revsync.application.customers import PutCustomer
from revsync.application.ingestion import IngestContext
from revsync.application.subscriptions import CreateSubscription
from revsync.bootstrap import Container, apply_configuration, build
from revsync.domain.delivery import CaseKind, CaseStatus
from revsync.domain.errors import InvalidField
from revsync.domain.identity import System
from revsync.domain.invoicing import InvoiceStatus
from revsync.entrypoints.api.app import create_app
from revsync.observability.tracing import configure_tracing, stop_tracing
from revsync.ports.billing import InvoiceFilter
from revsync.ports.delivery import CaseFilter
from revsync.sandbox.faults import FaultServer
from revsync.schemas.cloudevents_v1 import decode_items
from tests.conftest import issue_key, make_settings
from tests.scenarios.harness import PRO
from tests.support.clock import FrozenClock
from tests.support.delivery import deliver_until, destination, settled, statuses
from tests.support.erp import YEAR, pay, run, with_rpc
from tests.support.events import encode, event
from tests.support.tryton import ADMIN_PASSWORD, TrytonServer

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
ANNUAL = {
    "code": "annual",
    "name": "Annual",
    "currency": "EUR",
    "interval": "year",
    "usage_interval": "month",
    "charges": [
        {
            "key": "platform",
            "model": "flat",
            "description": "Annual platform fee",
            "timing": "in_advance",
            "amount": "1200.00",
        }
    ],
}
#: Pro, billing the usage so far at once when it reaches 5.00
PROGRESSIVE = {
    **PRO,
    "code": "progressive",
    "thresholds": [{"key": "spend-5", "kind": "spend", "value": "5", "invoice": True}],
}
RULES = [
    {"product": "REVSYNC", "account": "4.1.2"},
    {"product": "USAGE", "account": "4.1.2", "kind": "usage"},
    {"product": "ANNUAL", "account": "4.2.2", "charge": "annual:platform"},
]


@pytest.fixture
def target() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(YEAR, 11, 1, 8, tzinfo=UTC))


@pytest.fixture
def container(
    sqlite_url: str,
    erp_server: TrytonServer,
    target: FaultServer,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Container]:
    monkeypatch.setenv("REVSYNC_TEST_ERP_PASSWORD", ADMIN_PASSWORD)
    wired = build(wiring(sqlite_url, erp_server, target), clock=clock)
    apply_configuration(wired, "test")
    yield wired
    wired.close()


def wiring(sqlite_url: str, erp_server: TrytonServer, target: FaultServer, **erp: Any) -> Any:
    """Settings with the ERP (``erp``: more ERP keys) and a success-tool target."""
    return make_settings(
        sqlite_url,
        plans=[PRO, ANNUAL, PROGRESSIVE],
        tax={"rates": {"FR": {"standard": "20"}}},
        billing={"grace_period_hours": 0},
        erp={
            "url": erp_server.url,
            "database": erp_server.database,
            "password_env": "REVSYNC_TEST_ERP_PASSWORD",
            "posting_rules": RULES,
            "retry": {"base_seconds": 0.05, "max_delay_seconds": 0.2},
            **erp,
        },
        outbox={
            "allow_private_hosts": ["127.0.0.1"],
            "destinations": [
                destination(target, name="success", events=["invoice.paid", "invoice.overdue"])
            ],
        },
        worker={"lease_seconds": 60, "poll_seconds": 0.02},
    )


def customer(container: Container, cid: str, plan: str, start: date) -> None:
    container.customers.put(
        PutCustomer(
            cid, cid.title(), "EUR", "UTC", None, {System.PRODUCT: [f"t-{cid}"]}, "test", "FR"
        )
    )
    container.subscriptions.create(CreateSubscription(f"s-{cid}", cid, plan, start, "test"))


def erp_invoices(server: TrytonServer) -> list[dict[str, Any]]:
    return with_rpc(
        server,
        lambda c: c.model(
            "account.invoice",
            "search_read",
            [("type", "=", "out")],
            0,
            None,
            [("id", "ASC")],
            [
                "number",
                "state",
                "total_amount",
                "tax_amount",
                "invoice_date",
                "reference",
                "description",
                "party.code",
            ],
        ),
    )


def invoices(container: Container) -> list[Any]:
    found = container.billing.invoices(InvoiceFilter(), after=None, limit=100)
    return sorted(found, key=lambda i: (i.issue_date, i.number or ""))


def test_finalized_invoices_reach_the_erp_once_with_revsyncs_totals(
    container: Container, erp_server: TrytonServer
) -> None:
    customer(container, "acme", "pro", date(YEAR, 10, 1))
    customer(container, "globex", "pro", date(YEAR, 11, 1))
    report = container.billing.run(date(YEAR, 11, 1), "test")
    assert len(report.finalized) == 4  # acme: Oct + Nov advance, Oct arrears; globex: Nov advance
    deliver_until(container, lambda: settled(container))
    ours = invoices(container)
    theirs = erp_invoices(erp_server)
    # one ERP invoice per revsync invoice, posted, with the same totals and the revsync number
    assert sorted((i["description"], i["total_amount"], i["tax_amount"]) for i in theirs) == sorted(
        (i.number, i.totals.total, i.totals.tax) for i in ours
    )
    # a zero invoice (no usage in October) has nothing to pay: Tryton marks it paid at once
    assert [(i["state"], i["total_amount"] == 0) for i in theirs].count(("posted", False)) == 3
    assert [i["state"] for i in theirs if i["total_amount"] == 0] == ["paid"]
    assert [i["number"] for i in theirs] == [f"INV-{YEAR}-{n:05d}" for n in range(1, 5)]
    # revsync knows each ERP number, and the customers' ERP parties
    assert {i.status for i in invoices(container)} == {InvoiceStatus.POSTED}
    with container.unit_of_work(write=False) as uow:
        numbers = {uow.postings.get(i.id).number for i in ours}  # type: ignore[union-attr]
    assert numbers == {i["number"] for i in theirs}
    assert container.customers.get("acme").refs_in(System.ERP) == ("RS-acme",)
    actions = [e.record.action for e in container.audit.entries(after=None, limit=500)]
    assert actions.count("invoice.posted") == 4


async def close_october(client: Any) -> None:
    [period] = await client.model(
        "account.period",
        "search",
        [("start_date", "=", date(YEAR, 10, 1)), ("type", "=", "standard")],
        0,
        1,
        None,
    )
    await client.model("account.period", "close", [period])


def rolled_forward(container: Container) -> list[Any]:
    return [
        e.record
        for e in container.audit.entries(after=None, limit=500)
        if e.record.action == "invoice.rolled_forward"
    ]


def test_an_invoice_in_a_closed_period_is_posted_in_the_next_one_and_audited(
    container: Container, erp_server: TrytonServer
) -> None:
    with_rpc(erp_server, close_october)
    customer(container, "acme", "pro", date(YEAR, 10, 1))
    container.billing.run(date(YEAR, 10, 1), "test")
    deliver_until(container, lambda: settled(container))
    [stored] = erp_invoices(erp_server)
    assert stored["invoice_date"] == date(YEAR, 11, 1)
    [invoice] = invoices(container)
    assert invoice.issue_date == date(YEAR, 10, 1)
    assert [
        (r.object_id, r.before, r.after["invoice_date"]) for r in rolled_forward(container)
    ] == [(invoice.id, {"invoice_date": f"{YEAR}-10-01"}, f"{YEAR}-11-01")]


def test_on_hold_a_closed_period_opens_a_case_and_approval_posts_in_the_next_one(
    sqlite_url: str,
    erp_server: TrytonServer,
    target: FaultServer,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REVSYNC_TEST_ERP_PASSWORD", ADMIN_PASSWORD)
    held = build(wiring(sqlite_url, erp_server, target, period_policy="hold"), clock=clock)
    try:
        apply_configuration(held, "test")
        with_rpc(erp_server, close_october)
        customer(held, "acme", "pro", date(YEAR, 10, 1))
        held.billing.run(date(YEAR, 10, 1), "test")
        deliver_until(held, lambda: settled(held))
        assert erp_invoices(erp_server) == []
        [case] = held.cases.find(CaseFilter(kind=CaseKind.DELIVERY), after=None, limit=10)
        assert case.status is CaseStatus.OPEN
        assert "is closed in the ERP" in (case.last_error or "")
        with pytest.raises(InvalidField, match="reason"):
            held.cases.approve(case.id, "ops@example.com", " ")
        held.cases.approve(case.id, "ops@example.com", "October is closed: book it in November")
        deliver_until(held, lambda: settled(held))
        [stored] = erp_invoices(erp_server)
        assert stored["invoice_date"] == date(YEAR, 11, 1)
        [invoice] = invoices(held)
        assert invoice.status is InvoiceStatus.POSTED
        assert held.cases.show(case.id).case.status is CaseStatus.RESOLVED
        actions = [e.record.action for e in held.audit.entries(after=None, limit=500)]
        assert actions.index("case.approved") < actions.index("invoice.rolled_forward")
        assert len(rolled_forward(held)) == 1
    finally:
        held.close()


def test_an_annual_fee_is_posted_with_deferral_and_recognised_by_the_sync(
    container: Container, erp_server: TrytonServer
) -> None:
    customer(container, "acme", "annual", date(YEAR, 11, 1))
    container.billing.run(date(YEAR, 11, 1), "test")
    deliver_until(container, lambda: settled(container))

    async def lines(client: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await client.model(
            "account.invoice.line",
            "search_read",
            [],
            0,
            None,
            None,
            ["defer_from", "defer_to", "amount"],
        )
        return found

    assert [(x["defer_from"], x["defer_to"], x["amount"]) for x in with_rpc(erp_server, lines)] == [
        (date(YEAR, 11, 1), date(YEAR + 1, 10, 31), Decimal("1200.00"))
    ]

    report = run(container.sync_erp())
    assert report.deferrals == 1

    async def deferrals(client: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await client.model(
            "account.invoice.deferred",
            "search_read",
            [],
            0,
            None,
            None,
            ["state", "amount", "moves"],
        )
        return found

    [deferral] = with_rpc(erp_server, deferrals)
    # the fiscal years cover the whole service year: the deferral and its twelve monthly
    # recognitions are booked at once, and the deferral is done
    assert (deferral["state"], deferral["amount"], len(deferral["moves"])) == (
        "closed",
        Decimal("1200.00"),
        13,
    )


def test_the_payment_sync_brings_paid_and_overdue_back_and_announces_them(
    container: Container, erp_server: TrytonServer, target: FaultServer, clock: FrozenClock
) -> None:
    customer(container, "acme", "pro", date(YEAR, 10, 1))
    container.billing.run(date(YEAR, 10, 1), "test")  # October's advance invoice
    deliver_until(container, lambda: settled(container))
    customer(container, "globex", "pro", date(YEAR, 10, 1))
    container.billing.run(date(YEAR, 10, 1), "test")
    deliver_until(container, lambda: settled(container))
    acme, globex = invoices(container)
    with container.unit_of_work(write=False) as uow:
        acme_erp = uow.postings.get(acme.id)
    assert acme_erp is not None
    with_rpc(
        erp_server, lambda c: pay(c, int(acme_erp.remote_id), acme.totals.total, date(YEAR, 10, 20))
    )
    clock.set(datetime(YEAR, 11, 15, 9, tzinfo=UTC))  # globex's 30 days are over

    report = run(container.sync_erp())
    assert (report.checked, report.paid, report.overdue) == (2, [acme.id], [globex.id])
    assert [i.status for i in invoices(container)] == [InvoiceStatus.PAID, InvoiceStatus.POSTED]
    again = run(container.sync_erp())  # nothing new: nothing announced twice
    assert (again.paid, again.overdue) == ([], [])
    deliver_until(container, lambda: settled(container))
    announced = sorted(
        (d["body"]["type"], d["body"]["data"]["invoice_id"]) for d in target.documents()
    )
    assert announced == sorted([("invoice.paid", acme.id), ("invoice.overdue", globex.id)])
    overdue = next(
        d["body"]["data"] for d in target.documents() if d["body"]["type"] == "invoice.overdue"
    )
    assert (overdue["amount_to_pay"], overdue["due_date"], overdue["dunning_level"]) == (
        str(globex.totals.total),
        f"{YEAR}-10-31",
        "level 1",  # 15 days past due: the first dunning level
    )
    clock.set(datetime(YEAR, 12, 16, 9, tzinfo=UTC))  # 46 days: the second level
    later = run(container.sync_erp())
    assert (later.dunnings, later.paid, later.overdue) == (1, [], [globex.id])
    deliver_until(container, lambda: settled(container))
    levels = [
        d["body"]["data"]["dunning_level"]
        for d in target.documents()
        if d["body"]["type"] == "invoice.overdue"
    ]
    assert levels == ["level 1", "level 2"]


def test_credit_notes_are_settled_in_the_erp_and_a_voided_invoice_is_never_dunned(
    container: Container, erp_server: TrytonServer, target: FaultServer, clock: FrozenClock
) -> None:
    customer(container, "acme", "pro", date(YEAR, 10, 1))
    container.billing.run(date(YEAR, 10, 1), "test")
    [invoice] = invoices(container)
    fee = invoice.lines[0].key
    container.billing.credit(invoice.id, {fee: Decimal("20.00")}, "goodwill", "test")
    container.billing.void(invoice.id, "signed by mistake", "test")
    deliver_until(container, lambda: settled(container))
    totals = sorted(i["total_amount"] for i in erp_invoices(erp_server))
    assert totals == [Decimal("-94.80"), Decimal("-24.00"), Decimal("118.80")]
    clock.set(datetime(YEAR, 11, 20, 9, tzinfo=UTC))  # past due and past the first dunning level

    report = run(container.sync_erp())
    assert (report.settled, report.paid, report.overdue, report.dunnings) == (
        [invoice.id],
        [],
        [],
        0,
    )
    assert {i["state"] for i in erp_invoices(erp_server)} == {"paid"}  # closed by the notes
    assert next(i for i in invoices(container) if i.id == invoice.id).status is InvoiceStatus.VOID
    deliver_until(container, lambda: settled(container))
    assert target.documents() == []  # neither paid nor overdue was announced
    again = run(container.sync_erp())
    assert (again.settled, again.checked) == ([], 0)


def test_a_refusal_in_a_batch_posts_what_comes_before_and_holds_what_follows(
    sqlite_url: str,
    erp_server: TrytonServer,
    target: FaultServer,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Invoices go to the ERP twenty per call, in order. One dated in a closed period (held by
    policy) is refused inside a batch: those before it are posted, it opens a case that says
    how many postings wait behind it, and those after it wait — then posted once approved."""
    monkeypatch.setenv("REVSYNC_TEST_ERP_PASSWORD", ADMIN_PASSWORD)
    held = build(wiring(sqlite_url, erp_server, target, period_policy="hold"), clock=clock)
    try:
        apply_configuration(held, "test")
        with_rpc(erp_server, close_october)
        for n in range(2):  # billed first
            customer(held, f"c{n}", "pro", date(YEAR, 11, 1))
        held.billing.run(date(YEAR, 11, 1), "test")
        for n, start in enumerate([10, 11, 11], start=2):  # then one started in October
            customer(held, f"c{n}", "pro", date(YEAR, start, 1))
        held.billing.run(date(YEAR, 11, 1), "test")
        m = outbox_messages.c
        with held.engine.connect() as conn:
            queued = conn.execute(
                sa.select(m.id, m.object_id, m.payload).where(m.destination == "erp").order_by(m.id)
            ).all()
        dates = [date.fromisoformat(p["issue_date"]) for _, _, p in queued]
        first_held = next(i for i, d in enumerate(dates) if d.month == 10)
        assert 0 < first_held < len(queued) - 1  # one batch holds both sides of it
        deliver_until(held, lambda: statuses(held)[queued[first_held][1]] == "failed")
        numbers = [p["number"] for _, _, p in queued]
        assert sorted(d["description"] for d in erp_invoices(erp_server)) == sorted(
            numbers[:first_held]
        )
        [case] = held.cases.find(CaseFilter(kind=CaseKind.DELIVERY), after=None, limit=10)
        assert case.object_id == queued[first_held][1]
        assert case.details is not None
        behind = len(queued) - first_held - 1
        assert (case.details["messages_held"], case.details["waiting_behind"]) == (1, behind)
        assert [statuses(held)[i] for _, i, _ in queued[first_held + 1 :]] == ["pending"] * behind
        held.cases.approve(case.id, "ops@example.com", "October is closed: book it in November")
        deliver_until(held, lambda: settled(held))
        stored = erp_invoices(erp_server)
        assert sorted(d["description"] for d in stored) == sorted(numbers)
        by_erp_number = sorted(stored, key=lambda d: (len(d["number"]), d["number"]))
        assert [d["description"] for d in by_erp_number] == numbers  # numbered in order
        with held.engine.connect() as conn:  # six invoices; the batch made few calls
            calls = conn.execute(
                sa.select(sa.func.count(sa.distinct(outbox_attempts.c.started_at))).where(
                    outbox_attempts.c.message_id.in_([i for i, _, _ in queued])
                )
            ).scalar_one()
        assert calls <= 3
    finally:
        held.close()


def test_a_billing_run_asked_for_in_a_trace_is_posted_to_the_erp_in_it(
    sqlite_url: str,
    erp_server: TrytonServer,
    target: FaultServer,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One trace from the request to the ERP: the billing run's server span, the relay's
    delivery of the postings under it, and each JSON-RPC call to Tryton under that."""
    monkeypatch.setenv("REVSYNC_TEST_ERP_PASSWORD", ADMIN_PASSWORD)
    exporter = InMemorySpanExporter()
    configure_tracing(None, exporter=exporter)
    wired: Container | None = None
    try:
        wired = build(wiring(sqlite_url, erp_server, target), clock=clock)
        apply_configuration(wired, "test")
        customer(wired, "acme", "pro", date(YEAR, 10, 1))
        admin = issue_key(wired, "admin")
        with TestClient(create_app(wired)) as api:
            answer = api.post(
                "/v1/billing-runs",
                json={"as_of": f"{YEAR}-11-01"},
                headers={**admin, "traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"},
            )
            assert answer.status_code == 201, answer.text
        deliver_until(wired, lambda: settled(wired))
        posted = {i.number for i in invoices(wired) if i.status is InvoiceStatus.POSTED}
    finally:
        stop_tracing()
        if wired is not None:
            wired.close()
    assert len(posted) == 3  # October's advance and arrears, November's advance
    spans = [s for s in exporter.get_finished_spans() if s.context.trace_id == int(TRACE_ID, 16)]
    (server,) = [s for s in spans if s.kind is SpanKind.SERVER]
    deliveries = [s for s in spans if s.name == "deliver erp"]
    assert deliveries and all(
        d.parent and d.parent.span_id == server.context.span_id for d in deliveries
    )
    assert sum(d.attributes["revsync.delivery.delivered"] for d in deliveries) == 3  # type: ignore[index]
    rpc = [
        s
        for s in spans
        if s.kind is SpanKind.CLIENT
        and "db.system" not in (s.attributes or {})
        and s.parent is not None
        and s.parent.span_id in {d.context.span_id for d in deliveries}
    ]
    assert rpc, "no call to the ERP in the trace"
    # every one a call to Tryton (its URL on the span)
    assert all(
        any(str(v).startswith(erp_server.url) for v in (s.attributes or {}).values()) for s in rpc
    )


def test_an_interim_invoice_and_the_final_one_that_deducts_it_are_posted_as_revsync_has_them(
    container: Container, erp_server: TrytonServer, clock: FrozenClock
) -> None:
    customer(container, "acme", "progressive", date(YEAR, 11, 1))
    container.billing.run(date(YEAR, 11, 1), "test")  # November's fee in advance
    calls = [
        event(
            f"c-{n}", subject="t-acme", type="api.request", time=datetime(YEAR, 11, 10, tzinfo=UTC)
        )
        for n in range(2500)
    ]
    clock.set(datetime(YEAR, 11, 10, 12, tzinfo=UTC))
    report = container.ingestion.ingest(
        decode_items([encode(e) for e in calls[:2000]]), IngestContext("api", "test")
    )
    assert report.accepted == 2000
    [interim_id] = container.thresholds.sweep().interim_invoices  # 1,000 above the free tier
    clock.set(datetime(YEAR, 11, 20, 12, tzinfo=UTC))
    container.ingestion.ingest(
        decode_items([encode(e) for e in calls[2000:]]), IngestContext("api", "test")
    )
    clock.set(datetime(YEAR, 12, 1, 9, tzinfo=UTC))
    container.billing.run(date(YEAR, 12, 1), "test")
    deliver_until(container, lambda: settled(container))
    ours = {i.number: i for i in invoices(container)}
    interim = container.billing.invoice(interim_id)
    final = next(i for i in ours.values() if i.kind.value == "arrears")
    assert (interim.totals.subtotal, interim.totals.total) == (Decimal("12.00"), Decimal("14.40"))
    assert (final.totals.subtotal, final.totals.total) == (Decimal("6.00"), Decimal("7.20"))
    theirs = {i["description"]: i for i in erp_invoices(erp_server)}
    assert sorted(theirs) == sorted(ours)  # the fees, the interim and the final invoice
    for number, invoice in ours.items():
        assert (theirs[number]["total_amount"], theirs[number]["tax_amount"]) == (
            invoice.totals.total,
            invoice.totals.tax,
        )
        assert theirs[number]["state"] == "posted"
