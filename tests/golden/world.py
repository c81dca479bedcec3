"""The real revsync a golden world plays its cells on: one database (a copy of the migrated
SQLite template), the real services through the composition root, a frozen clock the actions
move, and the HTTP API in process for the surfaces a customer sees (upcoming invoice, usage,
credit notes). Many cells share one world: each has its own customers and subscriptions, and
every billing run bills them all.

What revsync holds is read back through its application queries and the API and rendered as
``tests/golden/scenario.Doc`` — the terms the oracle answers in.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from fastapi.testclient import TestClient

from revsync.application.corrections import CorrectUsage
from revsync.application.customers import PutCustomer as PutCustomerCommand
from revsync.application.erp import ErpReceipts
from revsync.application.ingestion import IngestContext
from revsync.application.subscriptions import AmendSubscription, CreateSubscription
from revsync.bootstrap import Container, apply_configuration, build
from revsync.domain.delivery import OutboundMessage
from revsync.domain.identity import System
from revsync.domain.invoicing import Invoice, InvoiceKind, interim_invoice_id
from revsync.domain.money import quantum
from revsync.domain.scopes import scope_from_data
from revsync.domain.subscriptions import Change
from revsync.domain.usage import from_micros
from revsync.entrypoints.api.app import create_app
from revsync.ports.billing import InvoiceFilter
from revsync.ports.erp import ErpInvoiceState
from revsync.schemas.cloudevents_v1 import decode_items
from tests.conftest import issue_key, make_settings
from tests.golden.oracle import day_start  # the same local-day bounds as the oracle's
from tests.golden.scenario import (
    Action,
    Amend,
    Bill,
    CreditLines,
    Doc,
    Grant,
    Line,
    LookUpcoming,
    LookUsage,
    Outcome,
    Pay,
    Pick,
    Post,
    PutCustomer,
    Settings,
    Subscribe,
    Sweep,
    Usage,
    VoidEvents,
    VoidInvoice,
    doc_ref,
    handler_name,
    timeline,
)
from tests.support.clock import FrozenClock
from tests.support.events import encode, event

ACTOR = "golden"
_INVOICE_ID = re.compile(r"inv_[0-9a-f]{24}")
_PRORATED = re.compile(r"\(prorated (\d+)/(\d+) days\)")
#: line keys whose description states a proration fraction (the others quote a source's)
_OWN_FRACTION = ("fee:", "proration:", "minimum:", "cap:")


class _PaidLedger:
    """The ERP as the payment sync sees it: of the posted invoices asked about, the one named
    is paid, the others are open. (The states only: the grid is about what revsync bills; the
    payment sync against the real Tryton is tested in tests/e2e.)"""

    def __init__(self, paid: str) -> None:
        self._paid = paid

    async def settle(self, invoice_id: str, credit_note_ids: Sequence[str]) -> Decimal:
        return Decimal(1)

    async def run_collections(self, today: date) -> int:
        return 0

    async def states(self, remote_ids: Sequence[str], today: date) -> dict[str, ErpInvoiceState]:
        return {r: ErpInvoiceState(r, r == self._paid, Decimal(0), False, None) for r in remote_ids}

    async def run_deferrals(self) -> int:
        return 0


@dataclass
class GoldenWorld:
    """One revsync, its clock, its API, and what the looks saw."""

    container: Container
    clock: FrozenClock
    api: TestClient
    headers: dict[str, str]
    thresholds: tuple[str, ...]
    #: subscription → its customer, as the cells made them
    subscribers: dict[str, str] = field(default_factory=dict)

    # --- playing -----------------------------------------------------------------------------

    def play(self, actions: list[Action]) -> dict[str, Any]:
        """Play the actions in time order; returns what each look and credit saw, by tag."""
        looks: dict[str, Any] = {}
        ordered = timeline(actions)
        index = 0
        while index < len(ordered):
            action = ordered[index]
            self.clock.set(action.at)
            if isinstance(action, Usage):  # a batch of the events sent at one instant
                batch = [action]
                while (
                    index + 1 < len(ordered)
                    and isinstance(ordered[index + 1], Usage)
                    and ordered[index + 1].at == action.at
                ):
                    index += 1
                    batch.append(ordered[index])  # type: ignore[arg-type]
                self._usage(batch)
            else:
                getattr(self, handler_name(action))(action, looks)
            index += 1
        return looks

    def _usage(self, batch: list[Usage]) -> None:
        items = decode_items(
            [
                encode(
                    event(
                        u.event_id,
                        subject=u.tenant,
                        type=u.type,
                        time=u.time,
                        source=u.source,
                        data=dict(u.data),
                    )
                )
                for u in batch
            ]
        )
        report = self.container.ingestion.ingest(items, IngestContext("api", ACTOR))
        assert report.rejected == [], report.rejected

    def _do_put_customer(self, action: PutCustomer, looks: dict[str, Any]) -> None:
        self.container.customers.put(
            PutCustomerCommand(
                action.customer,
                action.customer.title(),
                action.currency,
                action.timezone,
                action.parent,
                {System.PRODUCT: list(action.tenants)},
                ACTOR,
                action.country,
                action.exempt,
            )
        )

    def _do_subscribe(self, action: Subscribe, looks: dict[str, Any]) -> None:
        self.subscribers[action.subscription] = action.customer
        self.container.subscriptions.create(
            CreateSubscription(
                action.subscription,
                action.customer,
                action.plan,
                action.start,
                ACTOR,
                seats=action.seats,
                anchor=action.anchor,
                trial_end=action.trial_end,
                ends=action.ends,
                include_children=action.include_children,
                coupons=list(action.coupons),
            )
        )

    def _do_amend(self, action: Amend, looks: dict[str, Any]) -> None:
        self.container.subscriptions.amend(
            AmendSubscription(
                action.subscription,
                Change(action.change),
                action.effective,
                ACTOR,
                plan_code=action.plan,
                seats=action.seats,
                trial_end=action.trial_end,
                ends=action.ends,
            )
        )

    def _do_grant(self, action: Grant, looks: dict[str, Any]) -> None:
        scope = {target: list(names) for target, names in action.applies_to} or None
        self.container.credits.grant(
            action.customer,
            action.amount,
            action.currency,
            granted_on=action.granted_on,
            expires_on=action.expires_on,
            reason="golden",
            actor=ACTOR,
            applies_to=scope_from_data(scope),
            given=scope,
        )

    def _do_void_events(self, action: VoidEvents, looks: dict[str, Any]) -> None:
        self.container.corrections.correct(
            CorrectUsage(
                "golden",
                tuple(("app://golden", event_id) for event_id in action.event_ids),
                (),
                ACTOR,
            )
        )

    def _do_bill(self, action: Bill, looks: dict[str, Any]) -> None:
        self.container.billing.run(action.as_of, ACTOR)

    def _do_sweep(self, action: Sweep, looks: dict[str, Any]) -> None:
        self.container.thresholds.sweep()

    def find(self, pick: Pick) -> Invoice | None:
        if pick.kind == InvoiceKind.CONSOLIDATED.value:
            return self._consolidated(pick)
        found = self.container.billing.invoices(
            InvoiceFilter(
                subscription_id=pick.subscription,
                kind=InvoiceKind(pick.kind),
                period_start=pick.start,
            ),
            after=None,
            limit=10,
        )
        return found[0] if found else None

    def _consolidated(self, pick: Pick) -> Invoice | None:
        """The consolidated invoice of the subscription's customer that starts on the pick's day
        and bills the subscription (it has none of its own: docs, its lines are described
        ``<subscription> — <description>``), the first issued of those."""
        found = self.container.billing.invoices(
            InvoiceFilter(
                customer_id=self.subscribers.get(pick.subscription, "?"),
                kind=InvoiceKind.CONSOLIDATED,
                period_start=pick.start,
            ),
            after=None,
            limit=10,
        )
        mine = f"{pick.subscription} — "
        billing = [i for i in found if any(x.description.startswith(mine) for x in i.lines)]
        return min(billing, key=lambda i: i.issue_date, default=None)

    def parts(self, whole: Invoice) -> dict[str, Invoice]:
        """A consolidated invoice's parts by id (its lines' key prefixes)."""
        found = self.container.billing.invoices(
            InvoiceFilter(customer_id=whole.customer_id), after=None, limit=1000
        )
        return {i.id: i for i in found if i.consolidated_into == whole.id}

    def _do_post(self, action: Post, looks: dict[str, Any]) -> None:
        invoice = self.find(action.pick)
        assert invoice is not None, action.pick
        message = OutboundMessage(
            id=0,
            destination="erp",
            aggregate="invoice",
            kind="invoice.finalized",
            object_type="invoice",
            object_id=invoice.id,
            key=f"golden:{invoice.id}",
            payload={},
            correlation_id=None,
            created_at=action.at,
            attempts=1,
            unsure=False,
        )
        receipt = {
            "erp_invoice_id": f"erp-{invoice.id}",
            "erp_number": f"ERP-{invoice.number}",
            "erp_party": "",
            "erp_invoice_date": invoice.issue_date.isoformat(),
        }
        with self.container.unit_of_work() as uow:
            ErpReceipts().apply(uow, message, receipt, action.at)
            uow.commit()

    def _do_pay(self, action: Pay, looks: dict[str, Any]) -> None:
        invoice = self.find(action.pick)
        assert invoice is not None, action.pick
        ledger = _PaidLedger(f"erp-{invoice.id}")
        asyncio.run(self.container.erp_sync().run(ledger))  # type: ignore[arg-type]

    def _do_void_invoice(self, action: VoidInvoice, looks: dict[str, Any]) -> None:
        invoice = self.find(action.pick)
        if invoice is None:
            looks[action.tag] = "refused"
            return
        answer = self.api.post(
            f"/v1/invoices/{invoice.id}/void", json={"reason": "golden"}, headers=self.headers
        )
        looks[action.tag] = _answer(answer)

    def _do_credit_lines(self, action: CreditLines, looks: dict[str, Any]) -> None:
        invoice = self.find(action.pick)
        if invoice is None:
            looks[action.tag] = "refused"
            return
        unit = quantum(invoice.currency)
        credited: dict[str, Decimal] = {}
        for note in self.container.billing.invoices(
            InvoiceFilter(customer_id=invoice.customer_id, kind=InvoiceKind.CREDIT_NOTE),
            after=None,
            limit=1000,
        ):
            if note.credits_invoice == invoice.id:
                for line in note.lines:
                    key = line.key.removeprefix("credit:")
                    credited[key] = credited.get(key, Decimal(0)) - line.amount
        # the first line as the oracle names it: a consolidated invoice's keys start with its
        # parts' ids, which sort apart from their refs
        named = (
            {i: _own_ref(p, self.thresholds) for i, p in self.parts(invoice).items()}
            if invoice.kind is InvoiceKind.CONSOLIDATED
            else {}
        )
        charged = sorted(
            (x for x in invoice.lines if x.amount > 0), key=lambda x: _canonical(x.key, named)
        )
        chosen = charged[:1] if action.which == "first" else charged
        amounts = {
            line.key: str(
                line.amount - credited.get(line.key, Decimal(0))
                if action.share is None
                else (line.amount * action.share).quantize(unit, rounding=ROUND_DOWN)
            )
            for line in chosen
        }
        if not amounts:
            looks[action.tag] = "refused"
            return
        answer = self.api.post(
            f"/v1/invoices/{invoice.id}/credit-notes",
            json={"lines": amounts, "reason": "golden"},
            headers=self.headers,
        )
        looks[action.tag] = _answer(answer)

    def _do_look_upcoming(self, action: LookUpcoming, looks: dict[str, Any]) -> None:
        answer = self.api.get(
            f"/v1/customers/{action.customer}/upcoming-invoice", headers=self.headers
        )
        if answer.status_code != 200:
            looks[action.tag] = f"HTTP {answer.status_code}: {answer.text[:300]}"
            return
        looks[action.tag] = tuple(
            sorted((_doc_of_json(item) for item in answer.json()["items"]), key=lambda d: d.ref)
        )

    def _do_look_usage(self, action: LookUsage, looks: dict[str, Any]) -> None:
        zone = self.container.customers.get(action.customer).timezone
        answer = self.api.get(
            f"/v1/customers/{action.customer}/usage",
            params={
                "meter": action.meter,
                "from": day_start(action.start, zone).isoformat(),
                "to": day_start(action.end, zone).isoformat(),
            },
            headers=self.headers,
        )
        if answer.status_code != 200:
            looks[action.tag] = f"HTTP {answer.status_code}: {answer.text[:300]}"
            return
        buckets = answer.json()["buckets"]
        looks[action.tag] = (
            sum((Decimal(b["value"]) for b in buckets), Decimal(0)) if buckets else None
        )

    # --- reading back ------------------------------------------------------------------------

    def documents(self) -> tuple[dict[str, Doc], dict[str, str], dict[str, Invoice]]:
        """Every invoice and credit note of the world as compared, by ref; and the refs and
        invoices by revsync's ids."""
        everything: list[Invoice] = []
        after = None
        while True:
            page = self.container.billing.invoices(InvoiceFilter(), after=after, limit=1000)
            everything += page
            if len(page) < 1000:
                break
            after = page[-1].id
        refs: dict[str, str] = {}
        #: a consolidated invoice's ref names the first (by subscription) of its parts'
        firsts: dict[str, str] = {}
        for invoice in everything:
            if invoice.consolidated_into is not None and invoice.subscription_id is not None:
                known = firsts.get(invoice.consolidated_into)
                if known is None or invoice.subscription_id < known:
                    firsts[invoice.consolidated_into] = invoice.subscription_id
        for invoice in everything:
            if invoice.kind is InvoiceKind.CONSOLIDATED and invoice.id in firsts:
                refs[invoice.id] = doc_ref(
                    firsts[invoice.id],
                    invoice.kind.value,
                    invoice.period.start,
                    invoice.issue_date.isoformat(),
                )
            elif invoice.kind is not InvoiceKind.CREDIT_NOTE and invoice.subscription_id:
                refs[invoice.id] = _own_ref(invoice, self.thresholds)
        notes = sorted(
            (i for i in everything if i.kind is InvoiceKind.CREDIT_NOTE),
            key=lambda i: (i.number or "", i.id),
        )
        counts: dict[str, int] = {}
        for note in notes:
            credited = refs.get(note.credits_invoice or "", note.credits_invoice or "?")
            counts[credited] = counts.get(credited, 0) + 1
            refs[note.id] = f"{credited}/note-{counts[credited]}"
        docs = {refs[i.id]: _doc_of(i, refs) for i in everything if i.id in refs}
        by_id = {i.id: i for i in everything}
        return docs, refs, by_id

    def wallets(self, customers: Sequence[str]) -> dict[str, dict[str, Decimal]]:
        found: dict[str, dict[str, Decimal]] = {}
        for customer in customers:
            for grant in self.container.credits.wallet(customer).grants:
                mine = found.setdefault(customer, {})
                mine[grant.currency] = mine.get(grant.currency, Decimal(0)) + grant.remaining
        return found

    def behind(self, invoice_id: str, key: str) -> list[tuple[datetime, str, Mapping[str, Any]]]:
        """The events revsync lists behind a usage line: (time, id, data)."""
        _, events, _ = self.container.billing.line_events(
            invoice_id, key, after_seq=None, limit=100_000
        )
        return [(from_micros(e.time_us), e.event_id, e.data) for e in events]


def _own_ref(invoice: Invoice, thresholds: Sequence[str]) -> str:
    """The ref of a subscription's invoice (an interim one names its threshold)."""
    assert invoice.subscription_id is not None
    if invoice.kind is InvoiceKind.INTERIM:
        key = next(
            (
                k
                for k in thresholds
                if interim_invoice_id(invoice.subscription_id, invoice.period, k) == invoice.id
            ),
            "?",
        )
        return doc_ref(invoice.subscription_id, "interim", invoice.period.start, key)
    return doc_ref(invoice.subscription_id, invoice.kind.value, invoice.period.start)


def _answer(response: Any) -> Any:
    """A credit or void answer: the note's id, ``refused`` for a 4xx, the error otherwise."""
    if response.status_code == 201:
        return ("note", response.json()["id"])
    if 400 <= response.status_code < 500:
        return "refused"
    return f"HTTP {response.status_code}: {response.text[:300]}"


def _fraction(description: str, key: str) -> tuple[int, int] | None:
    if not key.startswith(_OWN_FRACTION):
        return None
    found = _PRORATED.search(description)
    return (int(found.group(1)), int(found.group(2))) if found else None


def _own_key(invoice: Invoice, key: str) -> str:
    """A line's key on its own invoice: a consolidated invoice's ``<part id>:<key>`` is
    ``<key>``."""
    return key.partition(":")[2] if invoice.kind is InvoiceKind.CONSOLIDATED else key


def _canonical(key: str, refs: Mapping[str, str]) -> str:
    return _INVOICE_ID.sub(lambda m: refs.get(m.group(0), m.group(0)), key)


def _doc_of(invoice: Invoice, refs: Mapping[str, str]) -> Doc:
    t = invoice.totals
    series = None if invoice.number is None else invoice.number.split("-", 1)[0]
    return Doc(
        ref=refs[invoice.id],
        kind=invoice.kind.value,
        period=(invoice.period.start, invoice.period.end),
        status=invoice.status.value,
        issue_date=invoice.issue_date,
        lines=tuple(
            sorted(
                (
                    Line(
                        _canonical(line.key, refs),
                        line.quantity,
                        line.unit_amount,
                        line.amount,
                        line.tax_code,
                        _fraction(line.description, _own_key(invoice, line.key)),
                    )
                    for line in invoice.lines
                ),
                key=lambda x: x.key,
            )
        ),
        taxes=tuple(
            sorted((x.tax_code, x.base, x.amount) for x in invoice.taxes if x.base or x.amount)
        ),
        totals=(t.subtotal, t.discount, t.tax, t.total, t.credits),
        series=series,
        consolidated_into=(
            None
            if invoice.consolidated_into is None
            else refs.get(invoice.consolidated_into, invoice.consolidated_into)
        ),
    )


def _doc_of_json(item: Mapping[str, Any]) -> Doc:
    """An invoice as the API answers it (an upcoming draft)."""
    t = item["totals"]
    start = date.fromisoformat(item["period"]["start"])
    return Doc(
        ref=doc_ref(item["subscription_id"], item["kind"], start),
        kind=item["kind"],
        period=(start, date.fromisoformat(item["period"]["end"])),
        status=item["status"],
        issue_date=date.fromisoformat(item["issue_date"]),
        lines=tuple(
            sorted(
                (
                    Line(
                        x["key"],
                        Decimal(x["quantity"]),
                        Decimal(x["unit_amount"]),
                        Decimal(x["amount"]),
                        x["tax_code"],
                        _fraction(x["description"], x["key"]),
                    )
                    for x in item["lines"]
                ),
                key=lambda x: x.key,
            )
        ),
        taxes=tuple(
            sorted(
                (x["tax_code"], Decimal(x["base"]), Decimal(x["amount"]))
                for x in item["taxes"]
                if Decimal(x["base"]) or Decimal(x["amount"])
            )
        ),
        totals=tuple(
            Decimal(t[name]) for name in ("subtotal", "discount", "tax", "total", "credits")
        ),  # type: ignore[arg-type]
        series=None if item["number"] is None else item["number"].split("-", 1)[0],
    )


@contextmanager
def open_world(
    url: str,
    settings: Settings,
    *,
    plans: Sequence[Mapping[str, Any]],
    coupons: Sequence[Mapping[str, Any]],
    meters: Sequence[Mapping[str, Any]],
    start: datetime,
) -> Iterator[GoldenWorld]:
    """A revsync on the fresh database ``url`` configured for one world."""
    config = make_settings(
        url,
        meters=list(meters),
        plans=[dict(p) for p in plans],
        coupons=[dict(c) for c in coupons],
        tax={"rates": settings.tax_table()},
        billing={
            "rounding": settings.rounding,
            "grace_period_hours": settings.grace_hours,
            "late_usage": settings.late_usage,
            "consolidate": settings.consolidate,
        },
        thresholds={"poll_seconds": 0},
    )
    clock = FrozenClock(start)
    container = build(config, clock=clock)
    with ExitStack() as stack:
        stack.callback(container.close)
        apply_configuration(container, ACTOR)
        api = stack.enter_context(TestClient(create_app(container)))
        thresholds = tuple(sorted({t["key"] for p in plans for t in p.get("thresholds", ())}))
        yield GoldenWorld(container, clock, api, issue_key(container, "admin"), thresholds)


def outcome_of(
    world: GoldenWorld,
    looks: Mapping[str, Any],
    docs: Mapping[str, Doc],
    refs: Mapping[str, str],
    subscriptions: Sequence[str],
    customers: Sequence[str],
    tags: Sequence[str],
) -> Outcome:
    """One cell's share of what the world holds."""
    found = Outcome()
    mine = tuple(f"{s}/" for s in subscriptions)
    for ref, doc in docs.items():
        if ref.startswith(mine):
            found.docs[ref] = doc
    for tag in tags:
        if tag not in looks:
            continue
        look = looks[tag]
        if isinstance(look, tuple) and len(look) == 2 and look[0] == "note":
            look = refs.get(look[1], look[1])
        found.looks[tag] = look
    found.wallets = world.wallets(customers)
    return found
