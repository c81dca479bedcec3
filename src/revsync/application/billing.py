"""Billing runs: rate every due period into invoices, finalize them after the grace period,
apply prepaid credits, and adjust finalized invoices that late usage or a backdated amendment
made wrong. Also: the upcoming invoice, voids and credit notes.

A run reads everything first (including a usage snapshot, so that it knows exactly which
events it counted), computes outside any write transaction, then writes in one short
transaction. Invoices are identified by (subscription, period, kind): running twice, or two
runs at once, finds the same invoices; a finalized invoice is never changed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from zoneinfo import ZoneInfo

from revsync.application.announcements import Announcer
from revsync.application.usage_figures import Figures, Need, compute
from revsync.domain.audit import AuditRecord
from revsync.domain.billing import (
    Money,
    UsageFigure,
    UsageRequest,
    UsageSource,
    adjustments,
    advance_issue_date,
    advance_lines,
    arrears_issue_date,
    arrears_lines,
    carried_quantity,
    charge_ref,
    deductions,
    has_usage_in_advance,
    interim_lines,
    latest_interim,
    recurring_periods,
    usage_invoice_lines,
    usage_periods,
    usage_requests,
)
from revsync.domain.coupons import Coupon, as_discount, could_apply, covers
from revsync.domain.delivery import CaseKind, CaseStatus
from revsync.domain.errors import Conflict, DomainError, InvalidField, NotFound
from revsync.domain.identity import Customer
from revsync.domain.invoicing import (
    ZERO,
    CreditGrant,
    CreditUse,
    Discount,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Line,
    Lineage,
    LineKind,
    Pricing,
    RawLine,
    TaxLine,
    TaxRates,
    Totals,
    after_discounts,
    apply_credits,
    assemble,
    check_transition,
    consolidate,
    interim_invoice_id,
    invoice_id,
    is_deduction,
    shares,
    with_credits,
)
from revsync.domain.metering import MISSING, Meter, MeterPoint, Tally, key_text
from revsync.domain.money import Rounding, plain, quantum, round_money
from revsync.domain.periods import Period, day_start
from revsync.domain.pricing import USAGE_MODELS, Plan, Timing
from revsync.domain.rerating import on_plan
from revsync.domain.scopes import Scope
from revsync.domain.subscriptions import Subscription
from revsync.domain.thresholds import Threshold, ThresholdKind, effective
from revsync.domain.usage import dedup_slot, digest_text, from_micros, to_micros
from revsync.ports.billing import (
    BillingRunRecord,
    InvoiceFilter,
    TaxEngine,
    UsageSnapshot,
    UsageSnapshots,
)
from revsync.ports.clock import Clock, IdSource
from revsync.ports.delivery import Case
from revsync.ports.repositories import UnitOfWork, UnitOfWorkFactory
from revsync.ports.usage import StoredEvent, UsageReader

FINAL = (InvoiceStatus.FINALIZED, InvoiceStatus.POSTED, InvoiceStatus.PAID)
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BillingPolicy:
    """How invoices are finished."""

    rounding: Rounding = Rounding.HALF_EVEN
    grace: timedelta = timedelta(hours=72)
    late_usage: str = "next_invoice"  # or "separate_invoice"
    invoice_prefix: str = "INV"
    credit_note_prefix: str = "CN"
    #: one invoice per customer, currency and issue date for the invoices a run finalizes
    consolidate: bool = False


@dataclass(slots=True)
class BillingError:
    """A subscription (or one of its invoices) a run could not bill, and its case."""

    subscription_id: str
    customer_id: str
    reason: str
    period: Period | None = None
    case_id: str | None = None


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
    errors: list[BillingError] = field(default_factory=list)
    usage_cutoff_seq: int = 0
    #: the number of the last run committed when this one read its state
    after_run: int = 0


#: how many times a run starts again when other runs commit while it computes
RUN_ATTEMPTS = 5
#: event-set digests are sums of dedup slots modulo 2^64 (see revsync.domain.usage)
_DIGEST_MASK = (1 << 64) - 1


class _Superseded(Exception):
    """Another billing run committed after this one read its state."""


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


@dataclass(frozen=True, slots=True)
class _Plan:
    """A subscription's work in a run: invoices to build, stale invoices, where adjustments go."""

    jobs: list[_Job]
    stale: tuple[Invoice, ...]
    target: _Job | None


@dataclass(slots=True)
class _Outcome:
    """What rating a subscription produced."""

    context: _Context
    plan: _Plan
    invoices: list[Invoice] = field(default_factory=list)
    adjustments: dict[str, list[RawLine]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Catalog:
    """Plans and coupons a run needs."""

    plans: dict[tuple[str, int], Plan]
    coupons: dict[str, Coupon]
    #: charge reference → meter, for limited coupons and grants (``line_owner``)
    charge_meters: dict[str, str] = field(default_factory=dict)

    def plan(self, code: str, version: int) -> Plan:
        return self.plans[(code, version)]

    def add_plan(self, plan: Plan) -> None:
        self.plans[(plan.code, plan.version)] = plan
        for charge in plan.charges:
            if charge.meter is not None:
                self.charge_meters[charge_ref(plan, charge)] = charge.meter

    def coupon_scopes(self) -> dict[str, Scope]:
        return {code: coupon.applies_to for code, coupon in self.coupons.items()}


def _consume(grants: list[CreditGrant], uses: Sequence[CreditUse]) -> list[CreditGrant]:
    """Grants with what ``uses`` took from them subtracted."""
    taken = {use.grant_id: use.amount for use in uses}
    return [replace(g, remaining=g.remaining - taken.get(g.id, ZERO)) for g in grants]


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
        announcer: Announcer | None = None,
    ) -> None:
        self._reader = reader
        self._announcer = announcer or Announcer()
        self._uow = unit_of_work
        self._snapshots = snapshots
        self._clock = clock
        self._ids = ids
        self._tax = tax
        self._meters = {m.key: m for m in meters}
        self._policy = policy

    # --- runs ----------------------------------------------------------------------------

    def run(self, as_of: date | None, actor: str, correlation_id: str | None = None) -> RunReport:
        """Bill every period due on or before ``as_of`` (default: today, UTC).

        Runs commit one at a time. A run that finds another one committed after it started
        reading starts again from the new state (at most :data:`RUN_ATTEMPTS` times). A
        subscription that cannot be billed (any error while planning or rating one of its
        invoices) is left out alone, with a ``billing`` exception case, and the run goes on;
        a later run that bills it resolves the case."""
        for _ in range(RUN_ATTEMPTS):
            try:
                return self._run_once(as_of, actor, correlation_id)
            except _Superseded:
                continue
        raise Conflict(
            f"billing run: other runs kept committing first ({RUN_ATTEMPTS} attempts); run it again"
        )

    def _run_once(self, as_of: date | None, actor: str, correlation_id: str | None) -> RunReport:
        now = self._clock.now()
        as_of = as_of or now.date()
        if as_of > now.date() + timedelta(days=1):
            raise InvalidField("as_of", f"{as_of.isoformat()} is in the future")
        report = RunReport(self._ids.new_id("run"), as_of)
        with self._uow(write=False) as uow:
            contexts, catalog, last = self._read(uow, as_of)
        last_cutoff = last.usage_cutoff_seq if last else 0
        report.after_run = last.number if last else 0
        with self._snapshots.snapshot() as snapshot:
            invoiced = {
                customer_id
                for c in contexts
                if any(
                    i.kind is InvoiceKind.ARREARS and i.status in FINAL for i in c.invoices.values()
                )
                for customer_id in c.customer_ids
            }
            late = snapshot.late_customers(last_cutoff) if invoiced else {}
            rechecks = snapshot.rechecks()
            for customer_id, from_us in rechecks.items():
                late[customer_id] = min(late.get(customer_id, from_us), from_us)
            plans: dict[str, _Plan] = {}
            needs: list[Need] = []
            for context in contexts:
                try:
                    plan = self._plan_jobs(context, as_of, late, catalog)
                    needs += _needs(context, plan, catalog)
                except Exception as error:  # noqa: BLE001 - one failure stops only its subscription
                    _failed(report, context, "planning", None, error)
                    continue
                plans[context.subscription.id] = plan
            figures = compute(snapshot, needs, self._meters)
            report.usage_cutoff_seq = snapshot.cutoff_seq
        outcomes = []
        for context in contexts:
            planned = plans.get(context.subscription.id)
            if planned is None:
                continue
            source = Figures(figures, context.customer_ids, context.customer.timezone)
            outcomes.append(self._rate(context, planned, catalog, source, report))
        self._write(outcomes, catalog, rechecks, report, actor, now, correlation_id)
        return report

    def _read(
        self, uow: UnitOfWork, as_of: date, chosen: Sequence[Subscription] | None = None
    ) -> tuple[list[_Context], _Catalog, BillingRunRecord | None]:
        subscriptions = (
            uow.subscriptions.billable(as_of)
            if chosen is None
            else [s for s in chosen if s.start <= as_of]
        )
        invoices = uow.invoices.of_subscriptions([s.id for s in subscriptions])
        rechecks = uow.subscriptions.recheck_dates()
        customers = {c.id: c for c in uow.customers.many({s.customer_id for s in subscriptions})}
        catalog = _Catalog({}, {})
        contexts = []
        for subscription in subscriptions:
            customer = customers[subscription.customer_id]
            ids: tuple[str, ...] = (customer.id,)
            if subscription.include_children:
                ids += tuple(uow.customers.descendants_of(customer.id))
            for terms in subscription.terms:
                if terms.plan not in catalog.plans:
                    plan = uow.plans.get(*terms.plan)
                    assert plan is not None
                    catalog.add_plan(plan)
            for use in subscription.coupons:
                if use.code not in catalog.coupons:
                    coupon = uow.coupons.get(use.code)
                    assert coupon is not None
                    catalog.coupons[use.code] = coupon
            contexts.append(
                _Context(
                    subscription,
                    customer,
                    ids,
                    {i.id: i for i in invoices[subscription.id]},
                    rechecks.get(subscription.id),
                )
            )
        return contexts, catalog, uow.billing_runs.last()

    def _plan_jobs(
        self, context: _Context, as_of: date, late: Mapping[str, int], catalog: _Catalog
    ) -> _Plan:
        """The invoices to build for a subscription in this run, and the stale ones to adjust."""
        sub = context.subscription
        until = as_of + timedelta(days=1)
        jobs: list[_Job] = []
        for period in recurring_periods(sub, until):
            issue = advance_issue_date(sub, period)
            if issue <= as_of and not self._final(context, period, InvoiceKind.ADVANCE):
                jobs.append(_Job(InvoiceKind.ADVANCE, period, issue))
        arrears: list[_Job] = []
        for period in usage_periods(sub, until):
            issue = arrears_issue_date(sub, period)
            if self._final(context, period, InvoiceKind.ARREARS):
                continue
            jobs += self._usage_jobs(context, period, issue, as_of, catalog)
            if issue <= as_of:
                arrears.append(_Job(InvoiceKind.ARREARS, period, issue))
        stale = self._stale(context, late)
        target = self._adjustment_target(context, stale, arrears, as_of) if stale else None
        if target is not None and target not in arrears:
            jobs.append(target)
        return _Plan(jobs + arrears, stale, target)

    def _usage_jobs(
        self, context: _Context, period: Period, closing: date, as_of: date, catalog: _Catalog
    ) -> list[_Job]:
        """The usage invoices of an open usage period (``closing``: its arrears invoice's issue
        day) to build: its drafts, rated again, and the one through the day before ``as_of``
        (issued on ``as_of``) — none for the day before ``closing`` or later: the arrears
        invoice bills it. A run bills every day since the one before in one invoice."""
        sub = context.subscription
        newest = as_of - timedelta(days=1)
        last_day = closing - timedelta(days=1)  # billed by the arrears invoice
        if not has_usage_in_advance(sub, period, catalog.plan):
            return []
        days = {
            i.period
            for i in context.invoices.values()
            if i.kind is InvoiceKind.USAGE
            and i.status is InvoiceStatus.DRAFT
            and period.start <= i.period.start < last_day
        }
        if max(period.start, sub.start) <= newest < last_day:
            days.add(Period(newest, as_of))
        return [
            _Job(InvoiceKind.USAGE, day, day.end)
            for day in sorted(days, key=lambda d: d.start)
            if not self._final(context, day, InvoiceKind.USAGE)
        ]

    def _final(self, context: _Context, period: Period, kind: InvoiceKind) -> bool:
        invoice = context.invoices.get(invoice_id(context.subscription.id, period, kind))
        return invoice is not None and invoice.status is not InvoiceStatus.DRAFT

    def _stale(self, context: _Context, late: Mapping[str, int]) -> tuple[Invoice, ...]:
        """Finalized arrears invoices that may be wrong now: already flagged, or reached by
        usage ingested since the last run or by a backdated amendment."""
        zone = ZoneInfo(context.customer.timezone)
        late_us = min((late[c] for c in context.customer_ids if c in late), default=None)
        recheck_from = context.recheck_from
        found = []
        for invoice in context.invoices.values():
            if invoice.kind is not InvoiceKind.ARREARS or invoice.status not in FINAL:
                continue
            end = day_start(invoice.period.end, zone)
            by_usage = late_us is not None and from_micros(late_us) < end
            by_amendment = recheck_from is not None and recheck_from < invoice.period.end
            if invoice.recheck or by_usage or by_amendment:
                found.append(invoice)
        return tuple(sorted(found, key=lambda i: i.period.start))

    def _adjustment_target(
        self, context: _Context, stale: tuple[Invoice, ...], arrears: list[_Job], as_of: date
    ) -> _Job | None:
        """Where adjustments go: the next arrears draft, or an adjustment invoice (the draft
        one the subscription already has, else a new one dated the day of the run)."""
        sub = context.subscription
        if self._policy.late_usage == "next_invoice":
            later = [job for job in arrears if job.period.start >= stale[0].period.end]
            if later:
                return later[0]
            if sub.ends is None or as_of < sub.ends:
                return None  # not due yet: the invoices stay flagged until it is
        drafts = sorted(
            (
                i
                for i in context.invoices.values()
                if i.kind is InvoiceKind.ADJUSTMENT and i.status is InvoiceStatus.DRAFT
            ),
            key=lambda i: i.period.start,
        )
        if drafts:
            return _Job(InvoiceKind.ADJUSTMENT, drafts[0].period, drafts[0].issue_date)
        return _Job(InvoiceKind.ADJUSTMENT, Period(as_of, as_of + timedelta(days=1)), as_of)

    def _rate(
        self,
        context: _Context,
        plan: _Plan,
        catalog: _Catalog,
        usage: UsageSource,
        report: RunReport,
        drafts: bool = False,
    ) -> _Outcome:
        """Rate a subscription's work; ``drafts``: stored usage invoices still drafts count as
        billed (the upcoming invoice; a run rates them again itself)."""
        sub = context.subscription
        money = Money(catalog.plans[sub.current.plan].currency, self._policy.rounding)
        outcome = _Outcome(context, plan)
        for stale in plan.stale:
            try:
                lines = self._adjustment_lines(context, stale, catalog, usage, money)
            except Exception as error:  # noqa: BLE001 - one failure stops only its invoice
                _failed(report, context, f"adjusting {stale.number}", stale.period, error)
                continue
            outcome.adjustments[stale.id] = lines
        # usage periods one of whose usage invoices could not be rated: the invoices after it
        # would deduct the one before it, so they wait as well
        waiting: set[Period] = set()
        for job in plan.jobs:
            open_period = (
                sub.usage_period_on(job.period.start)
                if job.kind in (InvoiceKind.USAGE, InvoiceKind.ARREARS)
                else None
            )
            try:
                if open_period in waiting:
                    raise DomainError("a usage invoice of its period before it could not be rated")
                raw, basis = self._raw_lines(
                    context, job, catalog, usage, money, outcome.invoices, drafts
                )
                if job == plan.target:
                    raw += [line for lines in outcome.adjustments.values() for line in lines]
                invoice = self._invoice(context, job, raw, basis, catalog, outcome.invoices)
            except Exception as error:  # noqa: BLE001 - one failure stops only its invoice
                _failed(report, context, f"{job.kind.value} {job.period}", job.period, error)
                if job.kind is InvoiceKind.USAGE and open_period is not None:
                    waiting.add(open_period)
                continue
            if invoice is not None:
                outcome.invoices.append(invoice)
        return outcome

    def _raw_lines(
        self,
        context: _Context,
        job: _Job,
        catalog: _Catalog,
        usage: UsageSource,
        money: Money,
        rated: Sequence[Invoice] = (),
        drafts: bool = False,
    ) -> tuple[list[RawLine], int | None]:
        """The lines of ``job`` (``rated``: the invoices this run rated before it; ``drafts``:
        see :meth:`_rate`)."""
        sub = context.subscription
        if job.kind is InvoiceKind.ADVANCE:
            return advance_lines(sub, job.period, catalog.plan)
        if job.kind is InvoiceKind.ARREARS:
            basis = lambda recurring: self._basis(context, recurring)  # noqa: E731
            lines = arrears_lines(sub, job.period, catalog.plan, usage, money, basis)
            lines += deductions(_interims(context, job.period))
            prebilled = _usage_invoices(context, job.period, job.period.end, rated, drafts)
            return lines + deductions(prebilled, usage=True), None
        if job.kind is InvoiceKind.USAGE:
            period = sub.usage_period_on(job.period.start)
            lines = usage_invoice_lines(sub, period, job.period.end, catalog.plan, usage, money)
            before = _usage_invoices(context, period, job.period.start, rated, drafts)
            stored = invoice_id(sub.id, job.period, job.kind) in context.invoices
            if not stored and _charged(lines, money) == _charged(_latest_lines(before), money):
                return [], None  # nothing more to pay since the one before: no invoice
            return lines + deductions(before, usage=True), None
        return [], None

    def _basis(self, context: _Context, recurring: Period) -> int | None:
        advance = invoice_id(context.subscription.id, recurring, InvoiceKind.ADVANCE)
        invoice = context.invoices.get(advance)
        if invoice is None or invoice.status is InvoiceStatus.DRAFT:
            return None
        return invoice.basis_version

    def _adjustment_lines(
        self, context: _Context, stale: Invoice, catalog: _Catalog, usage: UsageSource, money: Money
    ) -> list[RawLine]:
        sub = context.subscription
        basis = lambda recurring: self._basis(context, recurring)  # noqa: E731
        raw = arrears_lines(sub, stale.period, catalog.plan, usage, money, basis)
        raw += deductions(_interims(context, stale.period))
        raw += deductions(_usage_invoices(context, stale.period, stale.period.end), usage=True)
        discounts = self._discounts(
            sub,
            stale.period,
            InvoiceKind.ARREARS,
            catalog,
            money.currency,
            context.invoices.values(),
        )
        # only the lines are compared: tax is computed on the invoice that carries them
        pricing = Pricing(
            money.currency, money.rounding, discounts, TaxRates(exempt=True), catalog.charge_meters
        )
        expected, _, _ = assemble(raw, pricing, stale.period)
        return adjustments(
            stale.id,
            # the adjustments it carries are billed for the invoices they correct (which count
            # them, _already_adjusted): rated again, its period has nothing to set against them.
            # Its deductions of interim and usage invoices are its own: rated again, it has them
            {line.key: line for line in stale.lines if line.adjusts is None or is_deduction(line)},
            _already_adjusted(context, stale.id),
            {line.key: line for line in expected},
        )

    def _discounts(
        self,
        sub: Subscription,
        period: Period,
        kind: InvoiceKind,
        catalog: _Catalog,
        currency: str,
        invoices: Collection[Invoice] = (),
    ) -> tuple[Discount, ...]:
        """The coupons covering the period, as discounts of its invoice of ``kind``. An
        amount-off is taken on the advance invoice when that invoice has fees in its scope
        (the plan in force when the period starts has in-advance fees, and the coupon is not
        limited or names that plan), else on the arrears invoices: once per recurring period,
        so where several usage periods share one (a yearly plan with monthly usage) each takes
        what the ones before it in that recurring period (``invoices``: the subscription's)
        left of it."""
        terms = sub.terms_on(max(period.start, sub.start))
        if terms is None:
            return ()
        plan = catalog.plan(*terms.plan)
        advance = any(
            c.timing is Timing.IN_ADVANCE and c.model not in USAGE_MODELS for c in plan.charges
        )
        result = []
        for use in sub.coupons:
            coupon = catalog.coupons[use.code]
            scope = coupon.applies_to
            eligible = partial(could_apply, scope, sub, plans=catalog.plan)
            if not covers(coupon, use.start, sub, period.start, eligible):
                continue
            on_advance = advance and (not scope.limited or plan.code in scope.plans)
            if coupon.amount_off is not None and (
                kind is InvoiceKind.USAGE or (kind is InvoiceKind.ADVANCE) != on_advance
            ):
                continue
            discount = as_discount(coupon, currency)
            if (
                discount is not None
                and discount.amount is not None
                and kind is not InvoiceKind.ADVANCE
            ):
                rest = discount.amount - _taken(coupon.code, sub, period, invoices)
                discount = replace(discount, amount=rest) if rest > 0 else None
            if discount is not None:
                result.append(discount)
        return tuple(result)

    def _invoice(
        self,
        context: _Context,
        job: _Job,
        raw: list[RawLine],
        basis: int | None,
        catalog: _Catalog,
        rated: Sequence[Invoice] = (),
    ) -> Invoice | None:
        """The invoice of ``job`` (``rated``: the ones this run rated before it, which count
        with the stored ones for what an amount-off already took)."""
        sub = context.subscription
        if not raw:
            return None
        currency = catalog.plans[sub.current.plan].currency
        discounts = (
            ()
            if job.kind is InvoiceKind.ADJUSTMENT
            else self._discounts(
                sub,
                job.period,
                job.kind,
                catalog,
                currency,
                list({**context.invoices, **{i.id: i for i in rated}}.values()),
            )
        )
        rates = self._tax.rates(
            country=context.customer.country,
            exempt=context.customer.tax_exempt,
            codes={line.tax_code for line in raw},
            on=job.issue,
        )
        pricing = Pricing(currency, self._policy.rounding, discounts, rates, catalog.charge_meters)
        lines, taxes, totals = assemble(raw, pricing, job.period)
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
        outcomes: list[_Outcome],
        catalog: _Catalog,
        rechecks: Mapping[str, int],
        report: RunReport,
        actor: str,
        now: datetime,
        correlation_id: str | None,
    ) -> None:
        built = [(o.context, i) for o in outcomes for i in o.invoices]
        with self._uow() as uow:
            uow.invoices.lock()
            latest = uow.billing_runs.last()
            if (latest.number if latest else 0) != report.after_run:
                raise _Superseded  # everything read may have changed: read again
            statuses = uow.invoices.statuses([i.id for _, i in built])
            closing = {c.subscription.id: c for c, i in built if i.kind is InvoiceKind.ARREARS}
            known = {
                i.id
                for c in closing.values()
                for i in c.invoices.values()
                if i.kind is InvoiceKind.INTERIM
            }
            if closing and not uow.invoices.interims_of(closing) <= known:
                raise _Superseded  # an interim invoice was issued meanwhile: deduct it
            drafts = [
                (c, i)
                for c, i in built
                if statuses.get(i.id, InvoiceStatus.DRAFT) is InvoiceStatus.DRAFT
            ]
            due, parts = self._consolidated(uow, [i for c, i in drafts if self._due(c, i, now)])
            finals, uses, records = self._finalize_all(
                uow, due, now, actor, catalog.coupon_scopes(), catalog.charge_meters
            )
            final_by_id = {i.id: i for i in finals}
            to_save: list[Invoice] = []
            to_finalize: list[Invoice] = []
            for consolidated, members in parts.items():
                number = final_by_id[consolidated].number
                report.created.append(consolidated)
                to_save.append(final_by_id[consolidated])
                for part in members:
                    final_by_id[part.id] = replace(
                        part, status=InvoiceStatus.FINALIZED, consolidated_into=consolidated
                    )
                    records.append(_consolidated_record(now, actor, part, number))
            for context, invoice in drafts:
                final = final_by_id.get(invoice.id)
                stored = context.invoices.get(invoice.id)
                if invoice.id not in statuses:
                    report.created.append(invoice.id)
                    to_save.append(final or invoice)  # a due invoice is written final at once
                elif stored is not None and _same(stored, invoice):
                    report.unchanged.append(invoice.id)
                    if final is not None:  # a part of a consolidated invoice is written whole
                        (to_save if final.consolidated_into else to_finalize).append(final)
                else:
                    report.updated.append(invoice.id)
                    to_save.append(final or invoice)
            uow.invoices.save_many(to_save, set(statuses), now)
            uow.invoices.finalize_many(to_finalize, now)
            for invoice_id_, used in uses.items():
                uow.credits.use(invoice_id_, used)
            uow.audit.append_many(records)
            customers = {o.context.customer.id: o.context.customer for o in outcomes}
            announced = [
                m
                for i in finals
                for m in self._announcer.invoice_finalized(
                    i, customers[i.customer_id], report.id, parts.get(i.id, ())
                )
            ]
            uow.outbox.add(announced, now)
            finalized = [*finals, *(p for members in parts.values() for p in members)]
            report.finalized = [i.id for i in finalized]
            self._settle_rechecks(uow, outcomes, {i.id for i in finalized}, report)
            for customer_id, from_us in rechecks.items():
                uow.usage.clear_recheck(customer_id, from_us)
            self._record_cases(uow, outcomes, report, actor, now, correlation_id)
            uow.billing_runs.add(
                BillingRunRecord(
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
                        "errors": [f"{e.subscription_id}: {e.reason}" for e in report.errors],
                    },
                    actor=actor,
                )
            )
            uow.commit()

    def _record_cases(
        self,
        uow: UnitOfWork,
        outcomes: list[_Outcome],
        report: RunReport,
        actor: str,
        now: datetime,
        correlation_id: str | None,
    ) -> None:
        """Open (or bring up to date) a billing case per subscription that failed; resolve
        the cases of the subscriptions this run billed."""
        failed = {e.subscription_id for e in report.errors}
        for error in report.errors:
            details = {
                "customer_id": error.customer_id,
                "period": str(error.period) if error.period else None,
                "run_id": report.id,
                "as_of": report.as_of.isoformat(),
            }
            error.case_id = uow.cases.open_billing(
                Case(
                    id=self._ids.new_id("case"),
                    kind=CaseKind.BILLING,
                    status=CaseStatus.OPEN,
                    object_type="subscription",
                    object_id=error.subscription_id,
                    opened_at=now,
                    updated_at=now,
                    correlation_id=correlation_id,
                    last_error=error.reason,
                    details=details,
                )
            )
        billed = {o.context.subscription.id for o in outcomes} - failed
        uow.cases.settle_billing(billed, now, actor, f"billed by run {report.id}")

    def _settle_rechecks(
        self, uow: UnitOfWork, outcomes: list[_Outcome], finalized: set[str], report: RunReport
    ) -> None:
        """Keep flagging stale invoices until their adjustments are final; clear the others."""
        flag: list[str] = []
        clear: list[str] = []
        for outcome in outcomes:
            subscription = outcome.context.subscription
            target = outcome.plan.target
            target_id = (
                None if target is None else invoice_id(subscription.id, target.period, target.kind)
            )
            for stale in outcome.plan.stale:
                lines = outcome.adjustments.get(stale.id)
                if lines is not None and (not lines or target_id in finalized):
                    clear.append(stale.id)
                    if lines:
                        report.adjusted.append(stale.id)
                else:  # not rated, or its adjustments are not final yet: look again next run
                    flag.append(stale.id)
            if outcome.context.recheck_from is not None:
                uow.subscriptions.clear_recheck(subscription.id, outcome.context.recheck_from)
        uow.invoices.set_recheck(flag, True)
        uow.invoices.set_recheck(clear, False)

    def _consolidated(
        self, uow: UnitOfWork, due: list[Invoice]
    ) -> tuple[list[Invoice], dict[str, list[Invoice]]]:
        """The due drafts to number, in numbering order: with ``consolidate``, the invoices of
        one customer, currency and issue date (two or more) give way to one consolidated
        invoice; also returns each consolidated invoice's parts. A date whose consolidated
        invoice exists already (invoices made for it by a later run) keeps them apart."""
        parts: dict[str, list[Invoice]] = {}
        wholes: list[Invoice] = []
        if self._policy.consolidate:
            groups: dict[tuple[str, str, date], list[Invoice]] = {}
            for invoice in due:
                key = (invoice.customer_id, invoice.currency, invoice.issue_date)
                groups.setdefault(key, []).append(invoice)
            made = [(consolidate(g), g) for g in groups.values() if len(g) > 1]
            taken = uow.invoices.statuses([whole.id for whole, _ in made])
            for whole, group in made:
                if whole.id not in taken:
                    wholes.append(whole)
                    parts[whole.id] = group
            apart = {p.id for group in parts.values() for p in group}
            due = [i for i in due if i.id not in apart]
        order = lambda i: (i.issue_date, i.customer_id, i.kind.value, i.id)  # noqa: E731
        return sorted([*due, *wholes], key=order), parts

    def _finalize_all(
        self,
        uow: UnitOfWork,
        due: list[Invoice],
        now: datetime,
        actor: str,
        coupon_scopes: Mapping[str, Scope],
        charge_meters: Mapping[str, str],
    ) -> tuple[list[Invoice], dict[str, list[CreditUse]], list[AuditRecord]]:
        """Number the due drafts in order and apply prepaid credit; returns the final invoices,
        the credit each takes and their audit records (the caller writes them). Grants limited
        to plans or meters pay the part of an invoice its lines in their scope come to
        (``coupon_scopes`` and ``charge_meters`` place the lines)."""
        if not due:
            return [], {}, []
        numbers: dict[str, str] = {}
        for series, prefix, batch in (
            ("INV", self._policy.invoice_prefix, [i for i in due if i.totals.total >= 0]),
            ("CN", self._policy.credit_note_prefix, [i for i in due if i.totals.total < 0]),
        ):
            if batch:
                first = uow.invoices.reserve_numbers(series, len(batch))
                for offset, invoice in enumerate(batch):
                    numbers[invoice.id] = f"{prefix}-{first + offset:06d}"
        grants = uow.credits.grants_of({i.customer_id for i in due if i.totals.total > 0})
        finals: list[Invoice] = []
        uses: dict[str, list[CreditUse]] = {}
        records: list[AuditRecord] = []
        for invoice in due:
            check_transition(invoice.status, InvoiceStatus.FINALIZED)
            used: list[CreditUse] = []
            available = grants.get(invoice.customer_id)
            if invoice.totals.total > 0 and available:
                parts = (
                    shares(invoice, coupon_scopes, charge_meters)
                    if any(g.scope.limited for g in available)
                    else []
                )
                used = apply_credits(
                    invoice.totals.total, invoice.currency, invoice.issue_date, available, parts
                )
                grants[invoice.customer_id] = _consume(available, used)
                uses[invoice.id] = used
            final = with_credits(invoice, used, number=numbers[invoice.id])
            finals.append(final)
            records.append(
                AuditRecord(
                    now,
                    actor,
                    "invoice.finalized",
                    "invoice",
                    invoice.id,
                    None,
                    {
                        "number": final.number,
                        "total": plain(final.totals.total),
                        "credits": plain(final.totals.credits),
                        "amount_due": plain(final.totals.amount_due),
                        "currency": final.currency,
                    },
                )
            )
        return finals, uses, records

    def _due(self, context: _Context, invoice: Invoice, now: datetime) -> bool:
        """A draft is finalized once the grace period after its issue day has passed."""
        zone = ZoneInfo(context.customer.timezone)
        return now >= day_start(invoice.issue_date, zone) + self._policy.grace

    # --- upcoming invoice ---------------------------------------------------------------

    def upcoming(self, customer_id: str) -> list[Invoice]:
        """The arrears drafts of the customer's open usage periods, from the usage so far
        (nothing is stored)."""
        now = self._clock.now()
        with self._uow(write=False) as uow:
            customer = uow.customers.get(customer_id)
            if customer is None:
                raise NotFound("customer", customer_id)
            today = now.astimezone(ZoneInfo(customer.timezone)).date()
            # the customer's own subscriptions only (it read every billable one of every
            # customer: 170 ms a call with 400 subscriptions in the database)
            contexts, catalog, _ = self._read(
                uow, today, uow.subscriptions.of_customer(customer_id)
            )
        plans: dict[str, _Plan] = {}
        for context in contexts:
            sub = context.subscription
            if context.customer.id != customer_id or (sub.ends is not None and sub.ends <= today):
                continue
            period = sub.usage_period_on(today)
            job = _Job(InvoiceKind.ARREARS, period, arrears_issue_date(sub, period))
            plans[sub.id] = _Plan([job], (), None)
        chosen = [c for c in contexts if c.subscription.id in plans]
        report = RunReport("upcoming", today)
        with self._snapshots.snapshot() as snapshot:
            needs = [need for c in chosen for need in _needs(c, plans[c.subscription.id], catalog)]
            figures = compute(snapshot, needs, self._meters)
        result: list[Invoice] = []
        for context in chosen:
            source = Figures(figures, context.customer_ids, context.customer.timezone)
            result += self._rate(
                context, plans[context.subscription.id], catalog, source, report, drafts=True
            ).invoices
        if report.errors:
            raise InvalidField("usage", "; ".join(e.reason for e in report.errors))
        return result

    # --- thresholds ----------------------------------------------------------------------

    def progress(self, snapshot: UsageSnapshot, customer_ids: Collection[str]) -> list[Progress]:
        """The open usage period of every subscription in service that counts these customers'
        usage and watches thresholds: the usage of each meter watched, the spend so far and
        the interim lines that would bill it now, from ``snapshot`` (nothing is stored)."""
        now = self._clock.now()
        with self._uow(write=False) as uow:
            chosen = _counting(uow, customer_ids)
            contexts, catalog, _ = self._read(uow, now.date() + timedelta(days=1), chosen)
        watched: list[tuple[_Context, Plan, tuple[Threshold, ...], Period]] = []
        needs: list[Need] = []
        for context in contexts:
            sub = context.subscription
            today = now.astimezone(ZoneInfo(context.customer.timezone)).date()
            terms = sub.terms_on(today)
            if terms is None or sub.start > today or (sub.ends is not None and sub.ends <= today):
                continue
            plan = catalog.plan(*terms.plan)
            thresholds = effective(plan.thresholds, sub.thresholds)
            if not thresholds:
                continue
            period = sub.usage_period_on(today)
            who, zone = context.customer_ids, context.customer.timezone
            for meter in sorted({t.meter for t in thresholds if t.meter is not None}):
                if meter in self._meters:
                    needs.append(Need(who, zone, UsageRequest(meter, period)))
            if any(t.kind is ThresholdKind.SPEND for t in thresholds):
                needs += [Need(who, zone, r) for r in usage_requests(sub, period, catalog.plan)]
            watched.append((context, plan, thresholds, period))
        figures = compute(snapshot, needs, self._meters)
        found: list[Progress] = []
        for context, plan, thresholds, period in watched:
            sub = context.subscription
            source = Figures(figures, context.customer_ids, context.customer.timezone)
            usage = {
                meter: _usage_of(source(UsageRequest(meter, period)), period)
                for meter in {t.meter for t in thresholds if t.meter is not None}
                if meter in self._meters
            }
            lines: list[RawLine] = []
            spend = None
            if any(t.kind is ThresholdKind.SPEND for t in thresholds):
                money = Money(plan.currency, self._policy.rounding)
                try:
                    lines = interim_lines(sub, period, catalog.plan, source, money)
                except DomainError:  # the period cannot be rated: its billing case says why
                    log.warning("spend of %s not rated", sub.id, exc_info=True)
                else:
                    spend = sum(
                        (
                            round_money(li.amount, plan.currency, self._policy.rounding)
                            for li in lines
                        ),
                        ZERO,
                    )
            discounts = self._discounts(
                sub, period, InvoiceKind.ARREARS, catalog, plan.currency, context.invoices.values()
            )
            found.append(
                Progress(
                    context.subscription,
                    context.customer,
                    plan,
                    thresholds,
                    period,
                    usage,
                    spend,
                    lines + deductions(_interims(context, period)),
                    tuple(d for d in discounts if d.percent is not None),
                    snapshot.cutoff_seq,
                    catalog.charge_meters,
                )
            )
        return found

    def issue_interim(
        self, uow: UnitOfWork, progress: Progress, threshold_key: str, now: datetime, actor: str
    ) -> Invoice | None:
        """Issue the interim invoice of a spend threshold reached (in the caller's transaction,
        which holds the invoice lock): the usage so far less what earlier interim invoices of the
        period billed, finalized at once (numbered, prepaid credit applied, announced like any
        invoice, so posted to the ERP). None when there is nothing more to bill, or when the
        period's invoice is already final (it bills everything)."""
        sub, period = progress.subscription, progress.period
        closing = invoice_id(sub.id, period, InvoiceKind.ARREARS)
        if (
            uow.invoices.statuses([closing]).get(closing, InvoiceStatus.DRAFT)
            is not InvoiceStatus.DRAFT
        ):
            return None
        latest = latest_interim(_interims_of(uow, sub.id, period))
        deducted = {li.adjusts.split("/", 1)[0] for li in progress.interim if li.adjusts}
        if deducted != ({latest.id} if latest is not None else set()):
            return None  # another interim invoice was issued since the usage was read
        raw = list(progress.interim)
        if not raw:
            return None
        zone = ZoneInfo(progress.customer.timezone)
        issue = now.astimezone(zone).date()
        rates = self._tax.rates(
            country=progress.customer.country,
            exempt=progress.customer.tax_exempt,
            codes={line.tax_code for line in raw},
            on=issue,
        )
        pricing = Pricing(
            progress.plan.currency,
            self._policy.rounding,
            progress.discounts,
            rates,
            progress.charge_meters,
        )
        lines, taxes, totals = assemble(raw, pricing, period)
        if totals.total <= 0:
            return None
        draft = Invoice(
            id=interim_invoice_id(sub.id, period, threshold_key),
            customer_id=sub.customer_id,
            subscription_id=sub.id,
            kind=InvoiceKind.INTERIM,
            period=period,
            currency=progress.plan.currency,
            status=InvoiceStatus.DRAFT,
            issue_date=issue,
            lines=tuple(lines),
            taxes=tuple(taxes),
            totals=totals,
        )
        if uow.invoices.statuses([draft.id]):
            return None  # issued before (a sweep read the same usage twice)
        scopes = {d.code: d.scope for d in progress.discounts}
        finals, uses, records = self._finalize_all(
            uow, [draft], now, actor, scopes, progress.charge_meters
        )
        final = finals[0]
        uow.invoices.save_many([final], set(), now)
        for invoice_id_, used in uses.items():
            uow.credits.use(invoice_id_, used)
        uow.audit.append_many(records)
        uow.outbox.add(self._announcer.invoice_finalized(final, progress.customer, None), now)
        return final

    def unbilled(self) -> dict[str, Decimal]:
        """Currency → what the next invoices will bill for usage no finalized invoice has
        billed: the usage lines of every period not finalized yet (the open one so far
        included) and the adjustments late usage calls for, rated now; nothing is stored."""
        now = self._clock.now()
        with self._uow(write=False) as uow:
            contexts, catalog, last = self._read(uow, now.date() + timedelta(days=1))
        plans: dict[str, _Plan] = {}
        with self._snapshots.snapshot() as snapshot:
            late = snapshot.late_customers(last.usage_cutoff_seq if last else 0)
            for customer_id, from_us in snapshot.rechecks().items():
                late[customer_id] = min(late.get(customer_id, from_us), from_us)
            for context in contexts:
                sub = context.subscription
                today = now.astimezone(ZoneInfo(context.customer.timezone)).date()
                if sub.start > today:
                    continue
                try:
                    plan = self._plan_jobs(context, today, late, catalog)
                except Exception:
                    log.debug("unbilled: %s cannot be planned", sub.id, exc_info=True)
                    continue
                jobs = [j for j in plan.jobs if j.kind is InvoiceKind.ARREARS or j == plan.target]
                target = plan.target
                if sub.ends is None or sub.ends > today:
                    period = sub.usage_period_on(today)
                    open_job = _Job(InvoiceKind.ARREARS, period, arrears_issue_date(sub, period))
                    if open_job not in jobs:
                        jobs.append(open_job)
                    if plan.stale and target is None:  # late usage waits for this invoice
                        target = open_job
                plans[sub.id] = _Plan(jobs, plan.stale, target)
            chosen = [c for c in contexts if c.subscription.id in plans]
            needs = [need for c in chosen for need in _needs(c, plans[c.subscription.id], catalog)]
            figures = compute(snapshot, needs, self._meters)
        amounts: dict[str, Decimal] = {}
        report = RunReport("unbilled", now.date())
        for context in chosen:
            source = Figures(figures, context.customer_ids, context.customer.timezone)
            for invoice in self._rate(
                context, plans[context.subscription.id], catalog, source, report
            ).invoices:
                usage = sum(
                    (li.amount for li in invoice.lines if li.lineage or is_deduction(li)),
                    Decimal(0),
                )
                amounts[invoice.currency] = amounts.get(invoice.currency, Decimal(0)) + usage
        return amounts

    # --- shadow re-rating ---------------------------------------------------------------

    def rate_again(
        self,
        subscriptions: Sequence[Subscription],
        plan: Plan,
        select: Callable[[Subscription, Sequence[Invoice]], Sequence[tuple[InvoiceKind, Period]]],
    ) -> tuple[list[RatedAgain], int]:
        """Rate periods of these subscriptions again, as a run rates them, on ``plan`` in
        place of every plan their terms name (``domain/rerating.on_plan``) and with the usage
        known now; ``select`` picks the periods from a subscription and its invoices. Nothing
        is stored, no lock is taken, no adjustment is made (the issued side holds them); a
        period that cannot be rated stops only itself. Also returns the usage cutoff read."""
        with self._uow(write=False) as uow:
            contexts, catalog, _ = self._read(uow, date.max, subscriptions)
        catalog.add_plan(plan)
        stored_as: dict[str, Subscription] = {}
        jobs: dict[str, list[_Job]] = {}
        failed: dict[str, dict[str, str]] = {}
        needs: list[Need] = []
        for context in contexts:
            stored = stored_as[context.subscription.id] = context.subscription
            context.subscription = sub = on_plan(stored, plan)
            jobs[sub.id] = [
                _Job(
                    kind,
                    period,
                    (advance_issue_date if kind is InvoiceKind.ADVANCE else arrears_issue_date)(
                        sub, period
                    ),
                )
                for kind, period in select(stored, list(context.invoices.values()))
            ]
            try:
                needs += _needs(context, _Plan(jobs[sub.id], (), None), catalog)
            except Exception as error:  # noqa: BLE001 - one failure stops only its subscription
                report = RunReport("rerate", date.min)
                _failed(report, context, "planning", None, error)
                failed[sub.id] = {
                    invoice_id(sub.id, j.period, j.kind): report.errors[0].reason
                    for j in jobs.pop(sub.id)
                }
        with self._snapshots.snapshot() as snapshot:
            figures = compute(snapshot, needs, self._meters)
            cutoff = snapshot.cutoff_seq
        found = []
        for context in contexts:
            sub = context.subscription
            source = Figures(figures, context.customer_ids, context.customer.timezone)
            rated: dict[str, Invoice | None] = {}
            refused = failed.get(sub.id, {})
            for job in jobs.get(sub.id, []):
                target = invoice_id(sub.id, job.period, job.kind)
                report = RunReport("rerate", job.issue)
                outcome = self._rate(context, _Plan([job], (), None), catalog, source, report)
                if report.errors:
                    refused[target] = report.errors[0].reason
                else:
                    rated[target] = outcome.invoices[0] if outcome.invoices else None
            found.append(
                RatedAgain(
                    stored_as[sub.id],
                    context.customer,
                    tuple(context.invoices.values()),
                    rated,
                    refused,
                )
            )
        return found, cutoff

    # --- voids and credit notes ----------------------------------------------------------

    def void(
        self, invoice_id_: str, reason: str, actor: str, correlation_id: str | None = None
    ) -> Invoice:
        """Void a finalized invoice: a credit note for all of it, and its prepaid credit back."""
        now = self._clock.now()
        with self._uow() as uow:
            uow.invoices.lock()
            invoice = uow.invoices.get(invoice_id_)
            if invoice is None:
                raise NotFound("invoice", invoice_id_)
            if invoice.kind is InvoiceKind.CREDIT_NOTE:
                raise InvalidField("invoice", "a credit note cannot be voided")
            _not_a_part(uow, invoice, "void")
            check_transition(invoice.status, InvoiceStatus.VOID)
            credited = _Credited.of(uow.invoices.credit_notes_of(invoice.id))
            lines = [
                _void_line(line, credited.lines.get(line.key, ZERO))
                for line in invoice.lines
                if line.key not in credited.lines or line.amount != credited.lines[line.key]
            ]
            taxes = []
            for tax in invoice.taxes:  # what is left of each code's tax (none: no line)
                rest = credited.taxes.get(tax.tax_code, ZERO) - tax.amount
                if rest or tax.tax_code not in credited.taxes:
                    base = credited.tax_bases.get(tax.tax_code, ZERO) - tax.base
                    taxes.append(replace(tax, base=base, amount=rest))
            # the prepaid credit it took goes back to the wallet, so the note returns only
            # what was paid otherwise
            credits = invoice.totals.credits.copy_negate()
            note = self._credit_note(uow, invoice, lines, taxes, now, credits)
            uow.credits.restore(invoice.id)
            uow.invoices.set_status(invoice.id, InvoiceStatus.VOID, now)
            for part in uow.invoices.parts_of(invoice.id):  # what it billed is void with it
                uow.invoices.set_status(part.id, InvoiceStatus.VOID, now)
            customer = self._customer_of(uow, invoice)
            announced = self._announcer.invoice_finalized(note, customer, correlation_id)
            announced += self._announcer.invoice_voided(invoice, note, reason, correlation_id)
            uow.outbox.add(announced, now)
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

    def creditable(self, uow: UnitOfWork, invoice: Invoice) -> dict[str, Decimal]:
        """What is left to credit on each line of the invoice (inside the caller's unit of
        work): its amount less what credit notes credited before."""
        credited = _Credited.of(uow.invoices.credit_notes_of(invoice.id))
        return {
            line.key: line.amount - credited.lines.get(line.key, ZERO) for line in invoice.lines
        }

    def credit(
        self,
        invoice_id_: str,
        amounts: Mapping[str, Decimal],
        reason: str,
        actor: str,
        correlation_id: str | None = None,
        *,
        then: Callable[[UnitOfWork, Invoice], None] | None = None,
    ) -> Invoice:
        """A credit note for part of some lines of a finalized invoice (amounts > 0 to credit).
        ``then`` runs in the same transaction once the note is made (what the credit settles;
        raising there makes nothing)."""
        now = self._clock.now()
        with self._uow() as uow:
            uow.invoices.lock()
            invoice = uow.invoices.get(invoice_id_)
            if invoice is None:
                raise NotFound("invoice", invoice_id_)
            if invoice.status not in FINAL:
                raise InvalidField(
                    "invoice",
                    f"only a finalized invoice can be credited (it is {invoice.status.value})",
                )
            _not_a_part(uow, invoice, "credit")
            if not amounts:
                raise InvalidField("lines", "name at least one line to credit")
            notes = uow.invoices.credit_notes_of(invoice.id)
            credited = _Credited.of(notes)
            worth = _worth(uow, invoice)
            lines = []
            for key, amount in sorted(amounts.items()):
                line = invoice.line(key)
                if line is None or line.kind is LineKind.DISCOUNT:
                    raise InvalidField("lines", f"no line {key!r} on invoice {invoice.id}")
                if amount != amount.quantize(quantum(invoice.currency)):
                    raise InvalidField(
                        f"lines.{key}",
                        f"{plain(amount)} has more decimals than {invoice.currency} allows",
                    )
                value = worth[key]
                left = value - credited.lines.get(key, ZERO)
                if not ZERO < amount <= left:
                    after = "" if value == line.amount else f" ({line.amount} less discounts)"
                    raise InvalidField(
                        f"lines.{key}",
                        f"the credit must be more than 0 and at most {left} "
                        f"(the line's {value}{after} less {value - left} credited before)",
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
            taxes = self._credit_taxes(invoice, lines, amounts, credited, worth)
            # the invoice's other negative lines (unused time, an adjustment of a discount)
            # are not credited: the notes together stay within the invoice's total
            before = -sum((n.totals.total for n in notes), ZERO)
            this = -sum((x.amount for x in lines), ZERO) - sum((t.amount for t in taxes), ZERO)
            if before + this > invoice.totals.total:
                raise InvalidField(
                    "lines",
                    f"this note would credit {this}, and with the {before} credited before, more "
                    f"than the invoice's total {invoice.totals.total}",
                )
            note = self._credit_note(uow, invoice, lines, taxes, now)
            customer = self._customer_of(uow, invoice)
            uow.outbox.add(self._announcer.invoice_finalized(note, customer, correlation_id), now)
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
            if then is not None:
                then(uow, note)
            uow.commit()
        return note

    @staticmethod
    def _customer_of(uow: UnitOfWork, invoice: Invoice) -> Customer:
        customer = uow.customers.get(invoice.customer_id)
        if customer is None:
            raise NotFound("customer", invoice.customer_id)
        return customer

    def _credit_taxes(
        self,
        invoice: Invoice,
        lines: Sequence[Line],
        amounts: Mapping[str, Decimal],
        credited: _Credited,
        worth: Mapping[str, Decimal],
    ) -> list[TaxLine]:
        """Tax on a partial credit note, at the invoice's rates and rounded once per code, but
        never more than is left of the invoice's tax; the note that credits the last of a
        code's lines credits the rest of its tax, so the notes add up to the invoice."""
        taxes = []
        for tax in invoice.taxes:
            base = sum((x.amount for x in lines if x.tax_code == tax.tax_code), ZERO)
            if not base:
                continue
            left = tax.amount - credited.taxes.get(tax.tax_code, ZERO)
            amount = round_money(base * tax.rate / 100, invoice.currency, self._policy.rounding)
            rest = [
                worth[x.key] - credited.lines.get(x.key, ZERO) - amounts.get(x.key, ZERO)
                for x in invoice.lines
                if x.tax_code == tax.tax_code and x.kind is not LineKind.DISCOUNT
            ]
            if not any(rest) or -amount > left:
                amount = -left
            taxes.append(TaxLine(tax.tax_code, tax.rate, base, amount))
        return taxes

    def _credit_note(
        self,
        uow: UnitOfWork,
        invoice: Invoice,
        lines: list[Line],
        taxes: list[TaxLine],
        now: datetime,
        credits: Decimal | None = None,
    ) -> Invoice:
        """A finalized credit note; ``credits``: the prepaid credit it gives back (negative)."""
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
            totals=Totals(subtotal, discount, tax, subtotal + discount + tax, credits or zero),
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
        self,
        invoice_id_: str,
        key: str,
        *,
        after_seq: int | None,
        limit: int,
        check: Callable[[Invoice], None] | None = None,
    ) -> tuple[Line, list[StoredEvent], int | None]:
        """The events behind a usage line, in ingest order, a page at a time; ``check``
        sees the invoice first (a caller's reach) and raises to refuse it."""
        invoice = self.invoice(invoice_id_)
        if check is not None:
            check(invoice)
        line = invoice.line(key)
        if line is None:
            raise NotFound("line", key)
        lineage = line.lineage
        if lineage is None:
            raise InvalidField("key", f"line {key!r} is not a usage line: no events are behind it")
        if lineage.meter not in self._meters:
            raise InvalidField(
                "key", f"line {key!r} counts meter {lineage.meter!r}, which is no longer configured"
            )
        found: list[StoredEvent] = []
        for stored in self._behind(lineage, after_seq or 0):
            found.append(stored)
            if len(found) == limit:
                return line, found, stored.seq
        return line, found, None

    def recount(self, lineage: Lineage) -> tuple[int, str] | None:
        """The events behind a usage line read again, up to the ingest sequence number it was
        billed at: how many, and the digest of their keys (as :class:`Lineage` has them);
        None when the line's meter is no longer configured."""
        if lineage.meter not in self._meters:
            return None
        events = digest = 0
        for stored in self._behind(lineage, 0):
            events += 1
            digest = (digest + dedup_slot(stored.source, stored.event_id)) & _DIGEST_MASK
        return events, digest_text(digest)

    def _behind(self, lineage: Lineage, after_seq: int) -> Iterator[StoredEvent]:
        """The events a usage line counted, in ingest order, after ``after_seq``: those its
        cutoff counted — an event mapped to the customer later is not among them, one voided
        later still is (``UsageReader.events``)."""
        meter = self._meters[lineage.meter]
        dimension, value = lineage.group[0] if lineage.group else (None, None)
        tally = Tally(meter, dimension)
        for stored in self._reader.events(
            lineage.customer_ids,
            meter.event_type,
            to_micros(lineage.start),
            to_micros(lineage.end),
            upto_seq=lineage.cutoff_seq,
            after_seq=after_seq,
        ):
            group = tally.add(
                MeterPoint(stored.time_us, (stored.source, stored.event_id), stored.data)
            )
            if group is MISSING or (dimension is not None and key_text(group) != value):
                continue
            yield stored

    def invoices(self, where: InvoiceFilter, *, after: str | None, limit: int) -> list[Invoice]:
        """Invoices matching ``where``, by id."""
        with self._uow(write=False) as uow:
            return uow.invoices.page(where, after=after, limit=limit)


@dataclass(frozen=True, slots=True)
class _Credited:
    """What earlier credit notes already credited on an invoice (positive amounts), by the
    invoice's line key and tax code."""

    lines: dict[str, Decimal]
    tax_bases: dict[str, Decimal]
    taxes: dict[str, Decimal]

    @classmethod
    def of(cls, notes: Sequence[Invoice]) -> _Credited:
        lines: dict[str, Decimal] = {}
        bases: dict[str, Decimal] = {}
        taxes: dict[str, Decimal] = {}
        for note in notes:
            for line in note.lines:
                key = line.key.removeprefix("credit:")
                lines[key] = lines.get(key, ZERO) - line.amount
            for tax in note.taxes:
                bases[tax.tax_code] = bases.get(tax.tax_code, ZERO) - tax.base
                taxes[tax.tax_code] = taxes.get(tax.tax_code, ZERO) - tax.amount
        return cls(lines, bases, taxes)


def _taken(code: str, sub: Subscription, period: Period, invoices: Collection[Invoice]) -> Decimal:
    """What coupon ``code`` took off the arrears invoices of the usage periods before
    ``period`` in its recurring period (not voided)."""
    recurring = sub.recurring_period_on(period.start)
    taken = ZERO
    for invoice in invoices:
        if (
            invoice.kind is InvoiceKind.ARREARS
            and invoice.status is not InvoiceStatus.VOID
            and recurring.start <= invoice.period.start < period.start
        ):
            taken -= sum((x.amount for x in invoice.lines if x.charge == f"coupon:{code}"), ZERO)
    return taken


def _worth(uow: UnitOfWork, invoice: Invoice) -> dict[str, Decimal]:
    """What each line of a finalized invoice is worth after its discounts (before tax): what
    partial credit notes may credit of it, so that they never credit more than the invoice.
    The coupons and plan versions it names are read into a catalog, as a run reads them."""
    catalog = _Catalog({}, {})
    for line in invoice.lines:
        if line.kind is LineKind.DISCOUNT and line.charge.startswith("coupon:"):
            coupon = uow.coupons.get(line.charge.removeprefix("coupon:"))
            if coupon is not None:
                catalog.coupons[coupon.code] = coupon
        code, at, rest = line.charge.partition("@")
        version = rest.partition(":")[0]
        if at and version.isdigit() and (code, int(version)) not in catalog.plans:
            plan = uow.plans.get(code, int(version))
            if plan is not None:
                catalog.add_plan(plan)
    return after_discounts(invoice, catalog.coupon_scopes(), catalog.charge_meters)


def _void_line(line: Line, credited: Decimal) -> Line:
    """The credit-note line that voids what is left of ``line``: the line mirrored, or, when
    part of it was credited before, the rest as one amount."""
    kind = LineKind.DISCOUNT if line.kind is LineKind.DISCOUNT else LineKind.CREDIT
    mirrored = replace(
        line,
        key=f"credit:{line.key}",
        kind=kind,
        amount=line.amount.copy_negate(),
        unit_amount=line.unit_amount.copy_negate(),
        description=f"Credit: {line.description}",
        adjusts=None,
    )
    if not credited:
        return mirrored
    rest = credited - line.amount
    return replace(mirrored, quantity=Decimal(1), unit_amount=rest, amount=rest)


def _not_a_part(uow: UnitOfWork, invoice: Invoice, act: str) -> None:
    """Refuse to void or credit an invoice billed on a consolidated invoice: that one is the
    document the customer and the ERP have."""
    if invoice.consolidated_into is None:
        return
    whole = uow.invoices.get(invoice.consolidated_into)
    named = whole.number if whole is not None and whole.number else invoice.consolidated_into
    raise InvalidField(
        "invoice",
        f"it is billed on consolidated invoice {named}: {act} that one "
        f"(its lines are keyed {invoice.id}:<line key>)",
    )


def _consolidated_record(
    now: datetime, actor: str, part: Invoice, number: str | None
) -> AuditRecord:
    return AuditRecord(
        now,
        actor,
        "invoice.finalized",
        "invoice",
        part.id,
        None,
        {
            "consolidated_into": number,
            "total": plain(part.totals.total),
            "currency": part.currency,
        },
    )


def _failed(
    report: RunReport, context: _Context, what: str, period: Period | None, error: Exception
) -> None:
    """Record that ``what`` of a subscription could not be billed (the run goes on)."""
    sub = context.subscription
    if isinstance(error, DomainError):
        reason = f"{what}: {error}"
    else:  # a bug: the case says where, the log has the traceback
        log.exception("billing %s of %s failed", what, sub.id)
        reason = f"{what}: internal error ({type(error).__name__}); see the server log"
    report.errors.append(BillingError(sub.id, sub.customer_id, reason, period))


@dataclass(frozen=True, slots=True)
class RatedAgain:
    """A subscription's periods rated again (see :meth:`Billing.rate_again`)."""

    #: the subscription as stored (not as rated)
    subscription: Subscription
    customer: Customer
    #: every invoice of the subscription, as stored
    invoices: tuple[Invoice, ...]
    #: invoice id → its period rated again (None: it bills nothing), for each period rated
    rated: dict[str, Invoice | None]
    #: invoice id → why its period could not be rated again
    failed: dict[str, str]


@dataclass(frozen=True, slots=True)
class Progress:
    """A subscription's open usage period as it stands (see :meth:`Billing.progress`)."""

    subscription: Subscription
    customer: Customer
    plan: Plan
    thresholds: tuple[Threshold, ...]
    period: Period
    #: meter → its value in the period so far
    usage: dict[str, Decimal]
    #: the usage charges so far, rounded per line, before discounts and tax (None: no spend
    #: threshold, or the period could not be rated)
    spend: Decimal | None
    #: what an interim invoice issued now would bill, and its discounts (the percentages off
    #: the period has; amounts off are taken on the period's invoice)
    interim: list[RawLine]
    discounts: tuple[Discount, ...]
    cutoff_seq: int
    #: charge reference → meter, for limited coupons and grants (``line_owner``)
    charge_meters: Mapping[str, str] = field(default_factory=dict)


def _counting(uow: UnitOfWork, customer_ids: Collection[str]) -> list[Subscription]:
    """The subscriptions that count these customers' usage and watch thresholds: their own,
    and their ancestors' that include children (a few queries, however many customers)."""
    own = set(customer_ids)
    ancestors: set[str] = set()
    frontier = set(own)
    while frontier:
        parents = {c.parent_id for c in uow.customers.many(frontier) if c.parent_id is not None}
        frontier = parents - own - ancestors
        ancestors |= frontier
    plans: dict[tuple[str, int], bool] = {}

    def watches(subscription: Subscription) -> bool:
        if subscription.thresholds:
            return True
        for terms in subscription.terms:
            if terms.plan not in plans:
                plan = uow.plans.get(*terms.plan)
                plans[terms.plan] = plan is not None and bool(plan.thresholds)
            if plans[terms.plan]:
                return True
        return False

    found = [
        s
        for s in uow.subscriptions.of_customers(own | ancestors)
        if (s.customer_id in own or s.include_children) and watches(s)
    ]
    return sorted(found, key=lambda s: s.id)


def _usage_of(figure: UsageFigure, period: Period) -> Decimal:
    """A meter's usage in a period as billing counts it: a carried meter's value-days (held to
    the period's end) as its average over the period."""
    return carried_quantity(figure.total, period.days) if figure.carried else figure.total


def _interims_of(uow: UnitOfWork, subscription_id: str, period: Period) -> list[Invoice]:
    ids = uow.invoices.interims_of([subscription_id])
    found = [uow.invoices.get(i) for i in sorted(ids)]
    return [i for i in found if i is not None and i.period == period and i.status in FINAL]


def _usage_invoices(
    context: _Context,
    period: Period,
    before: date,
    rated: Sequence[Invoice] = (),
    drafts: bool = False,
) -> list[Invoice]:
    """The usage invoices of a usage period for the days before ``before`` that count as
    billed: finalized ones (not void), those this run rated (``rated``), and with ``drafts``
    the stored drafts too."""
    found = {
        i.id: i
        for i in context.invoices.values()
        if i.status in FINAL or (drafts and i.status is InvoiceStatus.DRAFT)
    }
    found.update({i.id: i for i in rated})
    return [
        i
        for i in found.values()
        if i.kind is InvoiceKind.USAGE and period.start <= i.period.start < before
    ]


def _latest_lines(invoices: Sequence[Invoice]) -> list[Line]:
    latest = latest_interim(invoices)
    return [] if latest is None else list(latest.lines)


def _charged(lines: Sequence[Line | RawLine], money: Money) -> dict[str, Decimal]:
    """Key → rounded amount of what lines charge (no discount, no deduction, nothing at 0):
    usage that adds nothing to pay (free units, a fraction of a cent) waits for more."""
    found = {
        line.key: round_money(line.amount, money.currency, money.rounding)
        for line in lines
        if line.kind is not LineKind.DISCOUNT and not is_deduction(line)
    }
    return {key: amount for key, amount in found.items() if amount}


def _interims(context: _Context, period: Period) -> list[Invoice]:
    """The subscription's finalized interim invoices of a usage period."""
    return [
        i
        for i in context.invoices.values()
        if i.kind is InvoiceKind.INTERIM and i.period == period and i.status in FINAL
    ]


def _needs(context: _Context, plan: _Plan, catalog: _Catalog) -> list[Need]:
    """The usage a subscription's arrears and usage jobs and stale invoices read."""
    sub = context.subscription
    reads: list[tuple[Period, date | None]] = [
        (job.period, None) for job in plan.jobs if job.kind is InvoiceKind.ARREARS
    ]
    reads += [(stale.period, None) for stale in plan.stale]
    reads += [
        (sub.usage_period_on(job.period.start), job.period.end)
        for job in plan.jobs
        if job.kind is InvoiceKind.USAGE
    ]
    return [
        Need(context.customer_ids, context.customer.timezone, request)
        for period, until in reads
        for request in usage_requests(sub, period, catalog.plan, until=until)
    ]


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
