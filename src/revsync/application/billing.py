"""Billing runs: rate every due period into invoices, finalize them after the grace period,
apply prepaid credits, and adjust finalized invoices that late usage or a backdated amendment
made wrong. Also: the upcoming invoice, voids and credit notes.

A run reads everything first (including a usage snapshot, so that it knows exactly which
events it counted), computes outside any write transaction, then writes in one short
transaction. Invoices are identified by (subscription, period, kind): running twice, or two
runs at once, finds the same invoices; a finalized invoice is never changed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from revsync.application.usage_figures import Figures, Need, Recorder, compute
from revsync.domain.audit import AuditRecord
from revsync.domain.billing import (
    Money,
    UsageSource,
    adjustments,
    advance_issue_date,
    advance_lines,
    arrears_issue_date,
    arrears_lines,
    recurring_periods,
    usage_periods,
)
from revsync.domain.coupons import Coupon, as_discount, covers
from revsync.domain.errors import DomainError, InvalidField, NotFound
from revsync.domain.identity import Customer
from revsync.domain.invoicing import (
    ZERO,
    Discount,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Line,
    LineKind,
    Pricing,
    RawLine,
    TaxLine,
    Totals,
    apply_credits,
    assemble,
    check_transition,
    invoice_id,
    with_credits,
)
from revsync.domain.metering import MISSING, Meter, MeterPoint, Tally, key_text
from revsync.domain.money import Rounding, quantum, round_money
from revsync.domain.periods import Period, day_start, period_of
from revsync.domain.pricing import USAGE_MODELS, Plan, Timing
from revsync.domain.subscriptions import Subscription
from revsync.domain.usage import from_micros, to_micros
from revsync.ports.billing import BillingRunRecord, InvoiceFilter, TaxEngine, UsageSnapshots
from revsync.ports.clock import Clock, IdSource
from revsync.ports.repositories import UnitOfWork, UnitOfWorkFactory
from revsync.ports.usage import StoredEvent, UsageReader

FINAL = (InvoiceStatus.FINALIZED, InvoiceStatus.POSTED, InvoiceStatus.PAID)


@dataclass(frozen=True, slots=True)
class BillingPolicy:
    """How invoices are finished."""

    rounding: Rounding = Rounding.HALF_EVEN
    grace: timedelta = timedelta(hours=72)
    late_usage: str = "next_invoice"  # or "separate_invoice"
    invoice_prefix: str = "INV"
    credit_note_prefix: str = "CN"


@dataclass(slots=True)
class RunReport:
    """What a billing run did."""

    id: str
    as_of: date
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    finalized: list[str] = field(default_factory=list)
    adjusted: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    usage_cutoff_seq: int = 0


@dataclass(slots=True)
class _Context:
    """What a run knows about one subscription."""

    subscription: Subscription
    customer: Customer
    customer_ids: tuple[str, ...]
    invoices: dict[str, Invoice]
    recheck_from: date | None


@dataclass(frozen=True, slots=True)
class _Job:
    """An invoice to build: its identity and when it is issued."""

    kind: InvoiceKind
    period: Period
    issue: date
    adjusts: tuple[Invoice, ...] = ()


class Billing:
    """Billing runs, upcoming invoices, voids and credit notes."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        snapshots: UsageSnapshots,
        clock: Clock,
        ids: IdSource,
        tax: TaxEngine,
        meters: Sequence[Meter],
        policy: BillingPolicy,
        reader: UsageReader,
    ) -> None:
        self._reader = reader
        self._uow = unit_of_work
        self._snapshots = snapshots
        self._clock = clock
        self._ids = ids
        self._tax = tax
        self._meters = {m.key: m for m in meters}
        self._policy = policy

    # --- runs ----------------------------------------------------------------------------

    def run(self, as_of: date | None, actor: str) -> RunReport:
        """Bill every period due on or before ``as_of`` (default: today, UTC)."""
        now = self._clock.now()
        as_of = as_of or now.date()
        if as_of > now.date() + timedelta(days=1):
            raise InvalidField("as_of", f"{as_of.isoformat()} is in the future")
        report = RunReport(self._ids.new_id("run"), as_of)
        with self._uow(write=False) as uow:
            contexts, plans, coupons, last_cutoff = self._read(uow, as_of)
        with self._snapshots.snapshot() as snapshot:
            late = snapshot.late_customers(last_cutoff)
            jobs = {c.subscription.id: self._jobs(c, as_of, late, plans) for c in contexts}
            needs: set[Need] = set()
            for context in contexts:
                self._rate(
                    context,
                    jobs[context.subscription.id],
                    plans,
                    coupons,
                    Recorder(context.customer_ids, context.customer.timezone, needs),
                    report,
                    dry=True,
                )
            figures = compute(snapshot, sorted(needs, key=repr), self._meters)
            report.usage_cutoff_seq = snapshot.cutoff_seq
        built: list[tuple[_Context, Invoice]] = []
        for context in contexts:
            source = Figures(figures, context.customer_ids, context.customer.timezone)
            built += self._rate(
                context, jobs[context.subscription.id], plans, coupons, source, report
            )
        self._write(built, contexts, late, report, actor, now)
        return report

    def _read(
        self, uow: UnitOfWork, as_of: date
    ) -> tuple[list[_Context], dict[tuple[str, int], Plan], dict[str, Coupon], int]:
        subscriptions = uow.subscriptions.billable(as_of)
        invoices = uow.invoices.of_subscriptions([s.id for s in subscriptions])
        plans: dict[tuple[str, int], Plan] = {}
        coupons: dict[str, Coupon] = {}
        contexts = []
        for subscription in subscriptions:
            customer = uow.customers.get(subscription.customer_id)
            assert customer is not None
            ids: tuple[str, ...] = (customer.id,)
            if subscription.include_children:
                ids += tuple(uow.customers.descendants_of(customer.id))
            for terms in subscription.terms:
                if terms.plan not in plans:
                    plan = uow.plans.get(*terms.plan)
                    assert plan is not None
                    plans[terms.plan] = plan
            for use in subscription.coupons:
                coupon = uow.coupons.get(use.code)
                assert coupon is not None
                coupons[use.code] = coupon
            contexts.append(
                _Context(
                    subscription,
                    customer,
                    ids,
                    {i.id: i for i in invoices[subscription.id]},
                    uow.subscriptions.recheck_from(subscription.id),
                )
            )
        last = uow.billing_runs.last()
        return contexts, plans, coupons, last.usage_cutoff_seq if last else 0

    def _jobs(
        self,
        context: _Context,
        as_of: date,
        late: Mapping[str, int],
        plans: Mapping[tuple[str, int], Plan],
    ) -> list[_Job]:
        """The invoices to build for a subscription in this run."""
        sub = context.subscription
        until = as_of + timedelta(days=1)
        jobs: list[_Job] = []
        for period in recurring_periods(sub, until):
            issue = advance_issue_date(sub, period)
            if issue <= as_of and not self._final(context, period, InvoiceKind.ADVANCE):
                jobs.append(_Job(InvoiceKind.ADVANCE, period, issue))
        stale = self._stale(context, late)
        drafts: list[_Job] = []
        for period in usage_periods(sub, until):
            issue = arrears_issue_date(sub, period)
            if issue <= as_of and not self._final(context, period, InvoiceKind.ARREARS):
                drafts.append(_Job(InvoiceKind.ARREARS, period, issue))
        if stale:
            target = self._adjustment_target(sub, stale, drafts, as_of)
            if target is not None:
                drafts = [d for d in drafts if d.period != target.period or d.kind != target.kind]
                drafts.append(target)
        return jobs + drafts

    def _final(self, context: _Context, period: Period, kind: InvoiceKind) -> bool:
        invoice = context.invoices.get(invoice_id(context.subscription.id, period, kind))
        return invoice is not None and invoice.status is not InvoiceStatus.DRAFT

    def _stale(self, context: _Context, late: Mapping[str, int]) -> tuple[Invoice, ...]:
        """Finalized arrears invoices that late usage or a backdated amendment made stale."""
        zone = ZoneInfo(context.customer.timezone)
        late_us = min((late[c] for c in context.customer_ids if c in late), default=None)
        found = []
        for invoice in context.invoices.values():
            if invoice.kind is not InvoiceKind.ARREARS or invoice.status not in FINAL:
                continue
            by_amendment = (
                context.recheck_from is not None and context.recheck_from < invoice.period.end
            )
            by_usage = late_us is not None and from_micros(late_us) < day_start(
                invoice.period.end, zone
            )
            if by_amendment or by_usage:
                found.append(invoice)
        return tuple(sorted(found, key=lambda i: i.period.start))

    def _adjustment_target(
        self, sub: Subscription, stale: tuple[Invoice, ...], drafts: list[_Job], as_of: date
    ) -> _Job | None:
        """Where adjustments go: the next arrears draft, or an adjustment invoice."""
        if self._policy.late_usage == "next_invoice":
            later = [d for d in drafts if d.period.start >= stale[0].period.end]
            if later:
                return replace(later[0], adjusts=stale)
            if sub.ends is None or as_of < sub.ends:
                return None  # not due yet: the adjustments wait for the next arrears invoice
        period = period_of(as_of, sub.anchor, sub.usage_interval)
        return _Job(InvoiceKind.ADJUSTMENT, period, period.end, stale)

    def _rate(
        self,
        context: _Context,
        jobs: Sequence[_Job],
        plans: Mapping[tuple[str, int], Plan],
        coupons: Mapping[str, Coupon],
        usage: UsageSource,
        report: RunReport,
        dry: bool = False,
    ) -> list[tuple[_Context, Invoice]]:
        sub = context.subscription
        plan_of = lambda code, version: plans[(code, version)]  # noqa: E731
        money = Money(self._plan_at(sub, plans).currency, self._policy.rounding)
        built = []
        for job in jobs:
            try:
                raw, basis = self._raw_lines(context, job, plan_of, usage, money, coupons)
                if dry:
                    continue
                invoice = self._invoice(context, job, raw, basis, coupons, plans)
            except DomainError as error:
                if not dry:
                    report.errors.append((sub.id, f"{job.kind.value} {job.period}: {error}"))
                continue
            if invoice is not None:
                built.append((context, invoice))
        return built

    def _plan_at(self, sub: Subscription, plans: Mapping[tuple[str, int], Plan]) -> Plan:
        return plans[sub.current.plan]

    def _raw_lines(
        self,
        context: _Context,
        job: _Job,
        plan_of: Callable[[str, int], Plan],
        usage: UsageSource,
        money: Money,
        coupons: Mapping[str, Coupon],
    ) -> tuple[list[RawLine], int | None]:
        sub = context.subscription
        basis = None
        raw: list[RawLine] = []
        if job.kind is InvoiceKind.ADVANCE:
            raw, basis = advance_lines(sub, job.period, plan_of)
        elif job.kind is InvoiceKind.ARREARS:
            raw = arrears_lines(
                sub, job.period, plan_of, usage, money, lambda r: self._basis(context, r)
            )
        for stale in job.adjusts:
            raw += self._adjustment_lines(context, stale, plan_of, usage, money, coupons)
        return raw, basis

    def _basis(self, context: _Context, recurring: Period) -> int | None:
        invoice = context.invoices.get(
            invoice_id(context.subscription.id, recurring, InvoiceKind.ADVANCE)
        )
        return (
            None
            if invoice is None or invoice.status is InvoiceStatus.DRAFT
            else invoice.basis_version
        )

    def _adjustment_lines(
        self,
        context: _Context,
        stale: Invoice,
        plan_of: Callable[[str, int], Plan],
        usage: UsageSource,
        money: Money,
        coupons: Mapping[str, Coupon],
    ) -> list[RawLine]:
        sub = context.subscription
        raw = arrears_lines(
            sub, stale.period, plan_of, usage, money, lambda r: self._basis(context, r)
        )
        pricing = Pricing(
            money.currency,
            money.rounding,
            self._discounts(
                sub, stale.period, InvoiceKind.ARREARS, coupons, plan_of, money.currency
            ),
        )
        expected, _, _ = assemble(raw, pricing, stale.period)
        return adjustments(
            stale.id,
            {line.key: line for line in stale.lines},
            _already_adjusted(context, stale.id),
            {line.key: line for line in expected},
        )

    def _discounts(
        self,
        sub: Subscription,
        period: Period,
        kind: InvoiceKind,
        coupons: Mapping[str, Coupon],
        plan_of: Callable[[str, int], Plan],
        currency: str,
    ) -> tuple[Discount, ...]:
        terms = sub.terms_on(max(period.start, sub.start))
        if terms is None:
            return ()
        plan = plan_of(*terms.plan)
        advance = any(
            c.timing is Timing.IN_ADVANCE and c.model not in USAGE_MODELS for c in plan.charges
        )
        result = []
        for use in sub.coupons:
            coupon = coupons[use.code]
            if not covers(coupon, use.start, sub.anchor, sub.interval, period.start):
                continue
            if coupon.amount_off is not None and (kind is InvoiceKind.ADVANCE) != advance:
                continue
            discount = as_discount(coupon, currency)
            if discount is not None:
                result.append(discount)
        return tuple(result)

    def _invoice(
        self,
        context: _Context,
        job: _Job,
        raw: list[RawLine],
        basis: int | None,
        coupons: Mapping[str, Coupon],
        plans: Mapping[tuple[str, int], Plan],
    ) -> Invoice | None:
        sub = context.subscription
        if not raw:
            return None
        currency = self._plan_at(sub, plans).currency
        plan_of = lambda code, version: plans[(code, version)]  # noqa: E731
        discounts = (
            ()
            if job.kind is InvoiceKind.ADJUSTMENT
            else self._discounts(sub, job.period, job.kind, coupons, plan_of, currency)
        )
        codes = {line.tax_code for line in raw}
        rates = self._tax.rates(
            country=context.customer.country,
            exempt=context.customer.tax_exempt,
            codes=codes,
            on=job.issue,
        )
        lines, taxes, totals = assemble(
            raw, Pricing(currency, self._policy.rounding, discounts, rates), job.period
        )
        return Invoice(
            id=invoice_id(sub.id, job.period, job.kind),
            customer_id=sub.customer_id,
            subscription_id=sub.id,
            kind=job.kind,
            period=job.period,
            currency=currency,
            status=InvoiceStatus.DRAFT,
            issue_date=job.issue,
            lines=tuple(lines),
            taxes=tuple(taxes),
            totals=totals,
            basis_version=basis,
        )

    # --- writing -------------------------------------------------------------------------

    def _write(
        self,
        built: list[tuple[_Context, Invoice]],
        contexts: list[_Context],
        late: Mapping[str, int],
        report: RunReport,
        actor: str,
        now: datetime,
    ) -> None:
        due = sorted(
            (pair for pair in built if self._due(pair[0], pair[1], now)),
            key=lambda pair: (
                pair[1].issue_date,
                pair[1].customer_id,
                pair[1].kind.value,
                pair[1].id,
            ),
        )
        with self._uow() as uow:
            for _, invoice in built:
                stored = uow.invoices.get(invoice.id)
                if stored is not None and stored.status is not InvoiceStatus.DRAFT:
                    continue  # finalized meanwhile (another run): never changed
                if stored is None:
                    report.created.append(invoice.id)
                elif _same(stored, invoice):
                    report.unchanged.append(invoice.id)
                else:
                    report.updated.append(invoice.id)
                if stored is None or not _same(stored, invoice):
                    uow.invoices.save(invoice, now)
            for _, invoice in due:
                stored = uow.invoices.get(invoice.id)
                if stored is None or stored.status is not InvoiceStatus.DRAFT:
                    continue
                self._finalize(uow, stored, now, actor)
                report.finalized.append(invoice.id)
                report.adjusted += sorted(
                    {line.adjusts.split("/")[0] for line in stored.lines if line.adjusts}
                )
            for context in contexts:
                if context.recheck_from is not None:
                    uow.subscriptions.set_recheck(context.subscription.id, None)
            record = BillingRunRecord(
                id=report.id,
                as_of=report.as_of,
                started_at=now,
                usage_cutoff_seq=report.usage_cutoff_seq,
                finished_at=self._clock.now(),
                summary={
                    "created": len(report.created),
                    "updated": len(report.updated),
                    "unchanged": len(report.unchanged),
                    "finalized": len(report.finalized),
                    "errors": [f"{sid}: {reason}" for sid, reason in report.errors],
                },
                actor=actor,
            )
            uow.billing_runs.add(record)
            uow.commit()

    def _due(self, context: _Context, invoice: Invoice, now: datetime) -> bool:
        """A draft is finalized once the grace period after its issue day has passed."""
        zone = ZoneInfo(context.customer.timezone)
        return now >= day_start(invoice.issue_date, zone) + self._policy.grace

    def _finalize(self, uow: UnitOfWork, invoice: Invoice, now: datetime, actor: str) -> Invoice:
        check_transition(invoice.status, InvoiceStatus.FINALIZED)
        credit_note = invoice.totals.total < 0
        series = self._policy.credit_note_prefix if credit_note else self._policy.invoice_prefix
        number = f"{series}-{uow.invoices.next_number('CN' if credit_note else 'INV'):06d}"
        uses = []
        if invoice.totals.total > 0:
            grants = uow.credits.grants(invoice.customer_id)
            uses = apply_credits(invoice.totals.total, invoice.currency, invoice.issue_date, grants)
        final = with_credits(replace(invoice, status=InvoiceStatus.FINALIZED, number=number), uses)
        uow.invoices.finalize(final, number, now)
        uow.credits.use(invoice.id, uses)
        uow.audit.append(
            AuditRecord(
                now,
                actor,
                "invoice.finalized",
                "invoice",
                invoice.id,
                None,
                {
                    "number": number,
                    "total": str(final.totals.total),
                    "credits": str(final.totals.credits),
                    "amount_due": str(final.totals.amount_due),
                    "currency": final.currency,
                },
            )
        )
        return final

    # --- upcoming invoice ---------------------------------------------------------------

    def upcoming(self, customer_id: str) -> list[Invoice]:
        """The arrears drafts of the customer's open usage periods, from the usage so far."""
        now = self._clock.now()
        with self._uow(write=False) as uow:
            customer = uow.customers.get(customer_id)
            if customer is None:
                raise NotFound("customer", customer_id)
            today = now.astimezone(ZoneInfo(customer.timezone)).date()
            contexts, plans, coupons, _ = self._read(uow, today)
        contexts = [c for c in contexts if c.customer.id == customer_id]
        jobs: dict[str, list[_Job]] = {}
        for context in contexts:
            sub = context.subscription
            if sub.ends is not None and sub.ends <= today:
                continue
            period = period_of(today, sub.anchor, sub.usage_interval)
            jobs[sub.id] = [_Job(InvoiceKind.ARREARS, period, arrears_issue_date(sub, period))]
        report = RunReport("upcoming", today)
        with self._snapshots.snapshot() as snapshot:
            needs: set[Need] = set()
            for context in contexts:
                if context.subscription.id in jobs:
                    self._rate(
                        context,
                        jobs[context.subscription.id],
                        plans,
                        coupons,
                        Recorder(context.customer_ids, context.customer.timezone, needs),
                        report,
                        dry=True,
                    )
            figures = compute(snapshot, sorted(needs, key=repr), self._meters)
        result = []
        for context in contexts:
            if context.subscription.id in jobs:
                source = Figures(figures, context.customer_ids, context.customer.timezone)
                result += [
                    i
                    for _, i in self._rate(
                        context, jobs[context.subscription.id], plans, coupons, source, report
                    )
                ]
        if report.errors:
            raise InvalidField("usage", "; ".join(reason for _, reason in report.errors))
        return result

    # --- voids and credit notes ----------------------------------------------------------

    def void(self, invoice_id_: str, reason: str, actor: str) -> Invoice:
        """Void a finalized invoice: a credit note for all of it, and its prepaid credit back."""
        now = self._clock.now()
        with self._uow() as uow:
            invoice = uow.invoices.get(invoice_id_)
            if invoice is None:
                raise NotFound("invoice", invoice_id_)
            if invoice.kind is InvoiceKind.CREDIT_NOTE:
                raise InvalidField("invoice", "a credit note cannot be voided")
            check_transition(invoice.status, InvoiceStatus.VOID)
            lines = [
                replace(
                    line,
                    key=f"credit:{line.key}",
                    kind=LineKind.CREDIT,
                    amount=-line.amount,
                    unit_amount=-line.unit_amount,
                    description=f"Credit: {line.description}",
                    adjusts=None,
                )
                for line in invoice.lines
            ]
            note = self._credit_note(
                uow,
                invoice,
                lines,
                [replace(t, base=-t.base, amount=-t.amount) for t in invoice.taxes],
                now,
            )
            uow.credits.restore(invoice.id)
            uow.invoices.set_status(invoice.id, InvoiceStatus.VOID, now)
            uow.audit.append(
                AuditRecord(
                    now,
                    actor,
                    "invoice.voided",
                    "invoice",
                    invoice.id,
                    {"status": invoice.status.value},
                    {"status": "void", "credit_note": note.number, "reason": reason},
                )
            )
            uow.commit()
        return note

    def credit(
        self, invoice_id_: str, amounts: Mapping[str, Decimal], reason: str, actor: str
    ) -> Invoice:
        """A credit note for part of some lines of a finalized invoice (amounts > 0 to credit)."""
        now = self._clock.now()
        with self._uow() as uow:
            invoice = uow.invoices.get(invoice_id_)
            if invoice is None:
                raise NotFound("invoice", invoice_id_)
            if invoice.status not in FINAL:
                raise InvalidField(
                    "invoice",
                    f"only a finalized invoice can be credited (it is {invoice.status.value})",
                )
            if not amounts:
                raise InvalidField("lines", "name at least one line to credit")
            lines = []
            for key, amount in sorted(amounts.items()):
                line = invoice.line(key)
                if line is None:
                    raise InvalidField("lines", f"no line {key!r} on invoice {invoice.id}")
                if not ZERO < amount <= line.amount:
                    raise InvalidField(
                        "lines", f"{key}: the credit must be more than 0 and at most {line.amount}"
                    )
                lines.append(
                    replace(
                        line,
                        key=f"credit:{key}",
                        kind=LineKind.CREDIT,
                        quantity=Decimal(1),
                        unit_amount=-amount,
                        amount=-amount,
                        description=f"Credit: {line.description}",
                        adjusts=None,
                    )
                )
            rates = {t.tax_code: t.rate for t in invoice.taxes}
            taxes = []
            for code in sorted({line.tax_code for line in lines}):
                if code in rates:
                    base = sum((x.amount for x in lines if x.tax_code == code), ZERO)
                    taxes.append(
                        TaxLine(
                            code,
                            rates[code],
                            base,
                            round_money(
                                base * rates[code] / 100, invoice.currency, self._policy.rounding
                            ),
                        )
                    )
            note = self._credit_note(uow, invoice, lines, taxes, now)
            uow.audit.append(
                AuditRecord(
                    now,
                    actor,
                    "invoice.credited",
                    "invoice",
                    invoice.id,
                    None,
                    {"credit_note": note.number, "total": str(note.totals.total), "reason": reason},
                )
            )
            uow.commit()
        return note

    def _credit_note(
        self,
        uow: UnitOfWork,
        invoice: Invoice,
        lines: list[Line],
        taxes: list[TaxLine],
        now: datetime,
    ) -> Invoice:
        zero = Decimal(0).quantize(quantum(invoice.currency))
        subtotal = sum((x.amount for x in lines if x.kind is not LineKind.DISCOUNT), zero)
        discount = sum((x.amount for x in lines if x.kind is LineKind.DISCOUNT), zero)
        tax = sum((t.amount for t in taxes), zero)
        number = f"{self._policy.credit_note_prefix}-{uow.invoices.next_number('CN'):06d}"
        note = Invoice(
            id=self._ids.new_id("cn"),
            customer_id=invoice.customer_id,
            subscription_id=None,
            kind=InvoiceKind.CREDIT_NOTE,
            period=invoice.period,
            currency=invoice.currency,
            status=InvoiceStatus.FINALIZED,
            issue_date=now.date(),
            lines=tuple(lines),
            taxes=tuple(taxes),
            totals=Totals(subtotal, discount, tax, subtotal + discount + tax, zero),
            number=number,
            credits_invoice=invoice.id,
        )
        uow.invoices.save(replace(note, status=InvoiceStatus.DRAFT, number=None), now)
        uow.invoices.finalize(note, number, now)
        return note

    # --- queries ------------------------------------------------------------------------

    def invoice(self, invoice_id_: str) -> Invoice:
        """One invoice or credit note."""
        with self._uow(write=False) as uow:
            invoice = uow.invoices.get(invoice_id_)
        if invoice is None:
            raise NotFound("invoice", invoice_id_)
        return invoice

    def line_events(
        self, invoice_id_: str, key: str, *, after_seq: int | None, limit: int
    ) -> tuple[Line, list[StoredEvent], int | None]:
        """The events behind a usage line, in ingest order, a page at a time."""
        line = self.invoice(invoice_id_).line(key)
        if line is None:
            raise NotFound("line", key)
        lineage = line.lineage
        if lineage is None:
            raise InvalidField("key", f"line {key!r} is not a usage line: no events are behind it")
        meter = self._meters[lineage.meter]
        dimension, value = lineage.group[0] if lineage.group else (None, None)
        tally = Tally(meter, dimension)
        found: list[StoredEvent] = []
        last = after_seq or 0
        for stored in self._reader.events(
            lineage.customer_ids,
            meter.event_type,
            to_micros(lineage.start),
            to_micros(lineage.end),
            upto_seq=lineage.cutoff_seq,
            after_seq=last,
        ):
            last = stored.seq
            group = tally.add(
                MeterPoint(stored.time_us, (stored.source, stored.event_id), stored.data)
            )
            if group is MISSING or (dimension is not None and key_text(group) != value):
                continue
            found.append(stored)
            if len(found) == limit:
                return line, found, last
        return line, found, None

    def invoices(self, where: InvoiceFilter, *, after: str | None, limit: int) -> list[Invoice]:
        """Invoices matching ``where``, by id."""
        with self._uow(write=False) as uow:
            return uow.invoices.page(where, after=after, limit=limit)


def _already_adjusted(context: _Context, stale_id: str) -> dict[str, tuple[Decimal, Decimal]]:
    """(quantity, amount) that finalized invoices already added to each line of ``stale_id``."""
    prefix = f"{stale_id}/"
    totals: dict[str, tuple[Decimal, Decimal]] = {}
    for invoice in context.invoices.values():
        if invoice.status not in FINAL:
            continue
        for line in invoice.lines:
            if line.adjusts and line.adjusts.startswith(prefix):
                key = line.adjusts[len(prefix) :]
                quantity, amount = totals.get(key, (ZERO, ZERO))
                totals[key] = (quantity + line.quantity, amount + line.amount)
    return totals


def _same(stored: Invoice, built: Invoice) -> bool:
    """True when a stored draft already says what the new rating says."""
    return (stored.lines, stored.taxes, stored.totals, stored.issue_date, stored.basis_version) == (
        built.lines,
        built.taxes,
        built.totals,
        built.issue_date,
        built.basis_version,
    )
