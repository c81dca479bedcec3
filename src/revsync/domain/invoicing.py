"""Invoices: lines rounded once, discounts, tax kept apart, totals, prepaid credits.

An invoice is identified by (subscription, period, kind) and its id is derived from them, so
re-running a billing run finds the same invoice instead of making another. Every line has a
deterministic key within its invoice; re-rating a draft replaces lines by key.

Order of the arithmetic, each step on rounded amounts:
1. each charge line is rounded once (the currency's minor unit, the named rule);
2. discounts: one line per coupon and tax code, percent-off rounded once per line,
   amount-off split across tax codes in proportion (largest remainder); a coupon limited to
   plans or meters (:mod:`revsync.domain.scopes`) takes its base from the lines in its scope;
3. tax per tax code on (lines + discounts) of that code, rounded once per code;
4. total = subtotal + discounts + tax; prepaid credits then reduce the amount due — a grant
   limited to plans or meters only the part of it its lines come to (:func:`shares`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from revsync.domain.errors import InvalidField
from revsync.domain.money import Rounding, allocate, quantum, round_money
from revsync.domain.periods import Period
from revsync.domain.scopes import EVERYTHING, Scope

ZERO = Decimal(0)


class InvoiceKind(StrEnum):
    """What an invoice bills."""

    ADVANCE = "advance"  # recurring fees in advance for a recurring period
    ARREARS = "arrears"  # usage, fees in arrears and prorations for a usage period
    ADJUSTMENT = "adjustment"  # corrections to finalized invoices (when configured apart)
    INTERIM = "interim"  # usage so far in an open period, billed when a spend threshold is reached
    USAGE = "usage"  # in-advance usage charges of an open period so far, billed day by day
    CREDIT_NOTE = "credit_note"  # a credit against a finalized invoice (void or correction)
    CONSOLIDATED = "consolidated"  # a customer's invoices of one issue date, as one invoice


class InvoiceStatus(StrEnum):
    """Draft → finalized → posted → paid, or void."""

    DRAFT = "draft"
    FINALIZED = "finalized"
    POSTED = "posted"
    PAID = "paid"
    VOID = "void"


_NEXT = {
    InvoiceStatus.DRAFT: {InvoiceStatus.FINALIZED},
    InvoiceStatus.FINALIZED: {InvoiceStatus.POSTED, InvoiceStatus.PAID, InvoiceStatus.VOID},
    InvoiceStatus.POSTED: {InvoiceStatus.PAID, InvoiceStatus.VOID},
    InvoiceStatus.PAID: set(),
    InvoiceStatus.VOID: set(),
}


def check_transition(current: InvoiceStatus, target: InvoiceStatus) -> None:
    """Refuse a status change the lifecycle does not allow."""
    if target not in _NEXT[current]:
        raise InvalidField("status", f"an invoice cannot go from {current.value} to {target.value}")


class LineKind(StrEnum):
    """Where a line comes from."""

    RECURRING = "recurring"
    USAGE = "usage"
    PRORATION = "proration"
    MINIMUM = "minimum"
    CAP = "cap"
    DISCOUNT = "discount"
    ADJUSTMENT = "adjustment"
    CREDIT = "credit"


@dataclass(frozen=True, slots=True)
class Lineage:
    """The usage behind a line: which meter, window, customers and group, and which events
    (their number and an order-independent hash of their ``(source, id)``)."""

    meter: str
    start: datetime
    end: datetime
    customer_ids: tuple[str, ...]
    group: tuple[tuple[str, str], ...] = ()
    events: int = 0
    events_hash: str = ""
    cutoff_seq: int = 0  # the events are those up to this ingest sequence number


@dataclass(frozen=True, slots=True)
class Line:
    """An invoice line; ``amount`` is rounded."""

    key: str
    kind: LineKind
    charge: str
    description: str
    quantity: Decimal
    unit_amount: Decimal
    amount: Decimal
    service: Period
    tax_code: str = "standard"
    lineage: Lineage | None = None
    adjusts: str | None = None  # "<invoice id>/<line key>" for adjustment lines


@dataclass(frozen=True, slots=True)
class RawLine:
    """A line before rounding (as rating produces it)."""

    key: str
    kind: LineKind
    charge: str
    description: str
    quantity: Decimal
    unit_amount: Decimal
    amount: Decimal
    service: Period
    tax_code: str = "standard"
    lineage: Lineage | None = None
    adjusts: str | None = None


@dataclass(frozen=True, slots=True)
class TaxLine:
    """Tax on the lines of one tax code."""

    tax_code: str
    rate: Decimal
    base: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Totals:
    """Sums of rounded amounts."""

    subtotal: Decimal
    discount: Decimal
    tax: Decimal
    total: Decimal
    credits: Decimal = ZERO

    @property
    def amount_due(self) -> Decimal:
        """What the customer still owes after prepaid credits."""
        return self.total - self.credits


@dataclass(frozen=True, slots=True)
class Discount:
    """A coupon's effect on one invoice: a percentage, or an amount (same currency)."""

    code: str
    description: str
    percent: Decimal | None = None
    amount: Decimal | None = None
    scope: Scope = EVERYTHING


@dataclass(frozen=True, slots=True)
class TaxRates:
    """Tax rate per tax code for one invoice (``exempt``: no tax at all)."""

    rates: Mapping[str, Decimal] = field(default_factory=dict)
    exempt: bool = False


@dataclass(frozen=True, slots=True)
class Invoice:
    """An invoice or credit note."""

    id: str
    customer_id: str
    subscription_id: str | None
    kind: InvoiceKind
    period: Period
    currency: str
    status: InvoiceStatus
    issue_date: date
    lines: tuple[Line, ...]
    taxes: tuple[TaxLine, ...]
    totals: Totals
    number: str | None = None
    basis_version: int | None = None  # advance invoices: the terms version they were rated on
    credits_invoice: str | None = None  # credit notes: the invoice they credit
    recheck: bool = False  # finalized, but late usage or an amendment may have made it wrong
    #: a subscription's invoice billed on a consolidated invoice: that invoice's id (it has no
    #: number of its own and is neither announced nor credited; the consolidated one is)
    consolidated_into: str | None = None

    def line(self, key: str) -> Line | None:
        """The line with ``key``, if any."""
        return next((line for line in self.lines if line.key == key), None)


def invoice_id(subscription_id: str, period: Period, kind: InvoiceKind) -> str:
    """The deterministic id of the invoice for (subscription, period, kind)."""
    digest = hashlib.sha256(f"{subscription_id}\x00{period}\x00{kind.value}".encode()).hexdigest()
    return f"inv_{digest[:24]}"


#: the key prefixes of deductions: what interim invoices (spend thresholds) and usage
#: invoices (in-advance usage charges) of a period billed, taken off the next invoice
DEDUCTION_PREFIXES = ("interim:", "prebilled:")


def is_deduction(line: Line | RawLine) -> bool:
    """A line taking off what an interim or usage invoice of the period billed."""
    return line.kind is LineKind.ADJUSTMENT and line.key.startswith(DEDUCTION_PREFIXES)


def interim_invoice_id(subscription_id: str, period: Period, threshold_key: str) -> str:
    """The deterministic id of the interim invoice a spend threshold issues in a period."""
    text = f"{subscription_id}\x00{period}\x00{InvoiceKind.INTERIM.value}\x00{threshold_key}"
    return f"inv_{hashlib.sha256(text.encode()).hexdigest()[:24]}"


#: lines whose unit amount is itself a computed amount (quantity 1), shown rounded like it
_COMPUTED_UNIT = frozenset({LineKind.MINIMUM, LineKind.CAP})


def consolidated_invoice_id(customer_id: str, currency: str, issue_date: date) -> str:
    """The deterministic id of a customer's consolidated invoice of an issue date."""
    text = f"{customer_id}\x00{currency}\x00{issue_date.isoformat()}\x00consolidated"
    return f"inv_{hashlib.sha256(text.encode()).hexdigest()[:24]}"


def consolidate(parts: Sequence[Invoice]) -> Invoice:
    """One draft invoice billing ``parts`` — invoices of one customer, currency and issue
    date, of several subscriptions: every line of each, keyed ``<part id>:<its key>`` and
    described with its subscription (lineage and what it adjusts kept); each part's tax lines
    summed per code and rate; the totals the parts' sums. Its period runs from the earliest
    part's start to the latest part's end. Each part keeps its own rating (discounts, rounding,
    tax): consolidating changes no amount."""
    if len({(p.customer_id, p.currency, p.issue_date) for p in parts}) != 1 or len(parts) < 2:
        raise InvalidField("invoices", "only invoices of one customer, currency and date")
    # by subscription, then kind and period: the order a reader expects
    parts = sorted(parts, key=lambda p: (p.subscription_id or "", p.kind.value, p.period.start))
    first = parts[0]
    zero = Decimal(0).quantize(quantum(first.currency))
    lines = tuple(
        replace(
            line,
            key=f"{part.id}:{line.key}",
            description=f"{part.subscription_id} — {line.description}",
        )
        for part in parts
        for line in part.lines
    )
    taxes: dict[tuple[str, Decimal], TaxLine] = {}
    for tax in (t for part in parts for t in part.taxes):
        was = taxes.get((tax.tax_code, tax.rate))
        taxes[(tax.tax_code, tax.rate)] = (
            tax
            if was is None
            else replace(was, base=was.base + tax.base, amount=was.amount + tax.amount)
        )
    return Invoice(
        id=consolidated_invoice_id(first.customer_id, first.currency, first.issue_date),
        customer_id=first.customer_id,
        subscription_id=None,
        kind=InvoiceKind.CONSOLIDATED,
        period=Period(min(p.period.start for p in parts), max(p.period.end for p in parts)),
        currency=first.currency,
        status=InvoiceStatus.DRAFT,
        issue_date=first.issue_date,
        lines=lines,
        taxes=tuple(sorted(taxes.values(), key=lambda t: (t.tax_code, t.rate))),
        totals=Totals(
            sum((p.totals.subtotal for p in parts), zero),
            sum((p.totals.discount for p in parts), zero),
            sum((p.totals.tax for p in parts), zero),
            sum((p.totals.total for p in parts), zero),
            zero,
        ),
    )


def round_lines(raw: Sequence[RawLine], currency: str, rule: Rounding) -> list[Line]:
    """Round each line once. Unit prices stay as priced (0.002 per call), except where the
    unit is a computed amount (a minimum's shortfall, a cap), rounded like the line."""
    return [
        Line(
            key=r.key,
            kind=r.kind,
            charge=r.charge,
            description=r.description,
            quantity=r.quantity,
            unit_amount=(
                round_money(r.unit_amount, currency, rule)
                if r.kind in _COMPUTED_UNIT
                else r.unit_amount
            ),
            amount=round_money(r.amount, currency, rule),
            service=r.service,
            tax_code=r.tax_code,
            lineage=r.lineage,
            adjusts=r.adjusts,
        )
        for r in raw
    ]


def line_owner(line: Line, charge_meters: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The plan (code) a line was rated on and the meter whose usage it bills (``None`` when
    it bills none): what scopes are matched against. Usage lines, and their adjustments and
    credits, name their meter in their lineage; an interim deduction of a usage line names its
    charge (``charge_meters``: charge reference → meter). Fees, minimums and caps bill none."""
    head, at, _ = line.charge.partition("@")
    plan = head if at else None
    if line.lineage is not None:
        return plan, line.lineage.meter
    deducted = is_deduction(line) and (line.adjusts or "").partition("/")[2].startswith("usage:")
    if line.kind is LineKind.USAGE or deducted:
        return plan, charge_meters.get(line.charge)
    return plan, None


def _discounted(line: Line) -> bool:
    """Adjustments of earlier invoices are not discounted again (their own discount is part of
    the adjustment), except what interim invoices of the period billed: it comes off the base,
    as their own discount came off them."""
    return line.kind is not LineKind.DISCOUNT and (
        line.kind is not LineKind.ADJUSTMENT or is_deduction(line)
    )


def _spread(
    part: Decimal, lines: Sequence[Line], left: dict[str, Decimal], currency: str
) -> list[Decimal]:
    """Share ``part`` over ``lines`` in proportion to what is ``left`` of them (largest
    remainder) and take each share off it; returns the shares."""
    shares = allocate(part, [left[line.key] for line in lines], currency)
    for line, share in zip(lines, shares, strict=True):
        left[line.key] -= share
    return shares


def discount_lines(
    lines: Sequence[Line],
    discounts: Sequence[Discount],
    currency: str,
    rule: Rounding,
    service: Period,
    charge_meters: Mapping[str, str] | None = None,
) -> list[Line]:
    """One line per discount and tax code, on the base of the lines in the discount's scope
    (all of them when it is not limited); adjustments are left out of the base, interim
    deductions come off it. A tax code's discount never exceeds its in-scope base, nor what
    the whole code comes to (lines out of scope below zero — the unused time on another plan
    — lower that), so no code goes below zero. Each discount is shared over the lines it took
    from in proportion to what is left of them, so a later coupon's base is what earlier ones
    left of its lines (two unlimited coupons compound, as they always did)."""
    meters = charge_meters or {}
    base = [line for line in lines if _discounted(line)]
    left = {line.key: line.amount for line in base}
    result: list[Line] = []
    for discount in discounts:
        reached = (
            [line for line in base if discount.scope.reaches(*line_owner(line, meters))]
            if discount.scope.limited
            else base
        )
        bases: dict[str, Decimal] = {}
        for line in reached:
            bases[line.tax_code] = bases.get(line.tax_code, ZERO) + left[line.key]
        room = {
            code: min(amount, sum((left[x.key] for x in base if x.tax_code == code), ZERO))
            for code, amount in bases.items()
        }
        codes = sorted(code for code, amount in room.items() if amount > 0)
        if discount.percent is not None:
            parts = [
                min(room[c], round_money(bases[c] * discount.percent / 100, currency, rule))
                for c in codes
            ]
        else:
            available = sum((room[c] for c in codes), ZERO)
            wanted = min(discount.amount or ZERO, available)
            parts = allocate(wanted, [room[c] for c in codes], currency)
        for code, part in zip(codes, parts, strict=True):
            if part == 0:
                continue
            _spread(part, [x for x in reached if x.tax_code == code], left, currency)
            result.append(
                Line(
                    key=f"discount:{discount.code}:{code}",
                    kind=LineKind.DISCOUNT,
                    charge=f"coupon:{discount.code}",
                    description=discount.description,
                    quantity=Decimal(1),
                    unit_amount=-part,
                    amount=-part,
                    service=service,
                    tax_code=code,
                )
            )
    return result


def tax_lines(
    lines: Sequence[Line], rates: TaxRates, currency: str, rule: Rounding
) -> list[TaxLine]:
    """Tax per tax code on the (discounted) lines of that code: the tax on the code's charges
    (lines above 0) and the tax on its credits (discounts, unused time, adjustments below 0)
    each rounded once, then added — as an ERP books them (Tryton keeps a tax line for each
    sign), so that the invoice's tax is the ledger's to the cent."""
    if rates.exempt:
        return []
    bases: dict[str, tuple[Decimal, Decimal]] = {}
    for line in lines:
        charged, credited = bases.get(line.tax_code, (ZERO, ZERO))
        if line.amount >= 0:
            charged += line.amount
        else:
            credited += line.amount
        bases[line.tax_code] = (charged, credited)
    result = []
    for code in sorted(bases):
        if code not in rates.rates:
            raise InvalidField("tax_code", f"no tax rate for tax code {code!r}")
        rate = rates.rates[code]
        charged, credited = bases[code]
        base = charged + credited
        if rate == 0 and base == 0:
            continue
        amount = round_money(charged * rate / 100, currency, rule) + round_money(
            credited * rate / 100, currency, rule
        )
        result.append(TaxLine(code, rate, base, amount))
    return result


def totals_of(lines: Sequence[Line], taxes: Sequence[TaxLine], currency: str) -> Totals:
    """Totals as sums of rounded amounts (in the currency's minor unit, even when zero)."""
    zero = Decimal(0).quantize(quantum(currency))
    subtotal = sum((x.amount for x in lines if x.kind is not LineKind.DISCOUNT), zero)
    discount = sum((x.amount for x in lines if x.kind is LineKind.DISCOUNT), zero)
    tax = sum((t.amount for t in taxes), zero)
    return Totals(subtotal, discount, tax, subtotal + discount + tax, zero)


@dataclass(frozen=True, slots=True)
class Pricing:
    """How an invoice's money is finished: currency, rounding rule, discounts, tax rates."""

    currency: str
    rounding: Rounding
    discounts: tuple[Discount, ...] = ()
    tax: TaxRates = field(default_factory=TaxRates)
    #: charge reference → meter, for the scopes of limited coupons (see :func:`line_owner`)
    charge_meters: Mapping[str, str] = field(default_factory=dict)


def assemble(
    raw: Sequence[RawLine], pricing: Pricing, service: Period
) -> tuple[list[Line], list[TaxLine], Totals]:
    """Round, discount, tax and total a set of raw lines (their keys must be unique: a line
    is updated by its key when an invoice is rated again)."""
    lines = round_lines(raw, pricing.currency, pricing.rounding)
    lines += discount_lines(
        lines, pricing.discounts, pricing.currency, pricing.rounding, service, pricing.charge_meters
    )
    keys = [line.key for line in lines]
    if len(set(keys)) != len(keys):
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        raise InvalidField("lines", f"line keys repeat: {', '.join(repeated)}")
    taxes = tax_lines(lines, pricing.tax, pricing.currency, pricing.rounding)
    return lines, taxes, totals_of(lines, taxes, pricing.currency)


@dataclass(frozen=True, slots=True)
class CreditGrant:
    """Prepaid credit: what is left of it, until when it can be used, and the part of an
    invoice it may pay (:data:`~revsync.domain.scopes.EVERYTHING`: all of it)."""

    id: str
    currency: str
    remaining: Decimal
    granted_on: date
    expires_on: date | None
    scope: Scope = EVERYTHING


@dataclass(frozen=True, slots=True)
class CreditUse:
    """Credit taken from one grant for one invoice."""

    grant_id: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Share:
    """What one line of an invoice comes to with its part of the discounts and of the tax,
    and what scopes know it by (its plan and meter)."""

    key: str
    plan: str | None
    meter: str | None
    amount: Decimal


def shares(
    invoice: Invoice, coupon_scopes: Mapping[str, Scope], charge_meters: Mapping[str, str]
) -> list[Share]:
    """The invoice's total shared over its lines: each line's amount, less its part of each
    discount line (shared as :func:`discount_lines` took it: over the lines of its tax code in
    its coupon's scope, in proportion to what earlier discounts left of them), plus its part
    of its tax code's tax (in proportion to the code's lines after discounts, largest
    remainder). ``coupon_scopes``: coupon code → scope (a coupon not in it reached
    everything)."""
    lines = [line for line in invoice.lines if line.kind is not LineKind.DISCOUNT]
    owners = {line.key: line_owner(line, charge_meters) for line in lines}
    net = after_discounts(invoice, coupon_scopes, charge_meters)
    for tax in invoice.taxes:
        of_code = [line for line in lines if line.tax_code == tax.tax_code]
        parts = allocate(tax.amount, [net[line.key] for line in of_code], invoice.currency)
        for line, part in zip(of_code, parts, strict=True):
            net[line.key] += part
    return [Share(line.key, *owners[line.key], net[line.key]) for line in lines]


def after_discounts(
    invoice: Invoice, coupon_scopes: Mapping[str, Scope], charge_meters: Mapping[str, str]
) -> dict[str, Decimal]:
    """Each line's amount less its part of each discount line (shared as
    :func:`discount_lines` took it), before tax: what the lines are worth on the invoice —
    they add up to the subtotal plus the discount. On a consolidated invoice, each part's
    discounts share only that part's lines (as they did on it)."""
    if invoice.kind is InvoiceKind.CONSOLIDATED:
        by_part: dict[str, list[Line]] = {}
        for line in invoice.lines:
            by_part.setdefault(line.key.partition(":")[0], []).append(line)
        net: dict[str, Decimal] = {}
        for part_lines in by_part.values():
            alone = replace(invoice, kind=InvoiceKind.ARREARS, lines=tuple(part_lines))
            net.update(after_discounts(alone, coupon_scopes, charge_meters))
        return net
    lines = [line for line in invoice.lines if line.kind is not LineKind.DISCOUNT]
    owners = {line.key: line_owner(line, charge_meters) for line in lines}
    net = {line.key: line.amount for line in lines}
    base = [line for line in lines if _discounted(line)]
    left = {line.key: line.amount for line in base}
    for discount in invoice.lines:
        if discount.kind is not LineKind.DISCOUNT:
            continue
        scope = coupon_scopes.get(discount.charge.removeprefix("coupon:"), EVERYTHING)
        reached = [
            line
            for line in base
            if line.tax_code == discount.tax_code and scope.reaches(*owners[line.key])
        ]
        for line, part in zip(
            reached, _spread(-discount.amount, reached, left, invoice.currency), strict=True
        ):
            net[line.key] -= part
    return net


def apply_credits(
    amount_due: Decimal,
    currency: str,
    on: date,
    grants: Sequence[CreditGrant],
    parts: Sequence[Share] = (),
) -> list[CreditUse]:
    """Consume grants usable on ``on`` up to the amount due: limited grants first, then the
    others; within each, soonest expiry first, then oldest. A limited grant pays at most what
    is still unpaid of the lines in its scope (``parts``, from :func:`shares`; without them it
    pays nothing), and what it pays is taken off those lines in proportion (largest
    remainder), so a second limited grant reaching the same lines finds only the rest."""
    usable = sorted(
        (
            g
            for g in grants
            if g.currency == currency
            and g.remaining > 0
            and g.granted_on <= on
            and (g.expires_on is None or on < g.expires_on)
        ),
        key=lambda g: (
            not g.scope.limited,
            g.expires_on is None,
            g.expires_on or date.max,
            g.granted_on,
            g.id,
        ),
    )
    unpaid = {part.key: part.amount for part in parts}
    uses: list[CreditUse] = []
    left = amount_due
    for grant in usable:
        if left <= 0:
            break
        take = min(left, grant.remaining)
        if grant.scope.limited:
            reached = [p for p in parts if grant.scope.reaches(p.plan, p.meter)]
            take = min(take, sum((unpaid[p.key] for p in reached), ZERO))
            if take <= 0:
                continue
            paid = allocate(take, [unpaid[p.key] for p in reached], currency)
            for part, amount in zip(reached, paid, strict=True):
                unpaid[part.key] -= amount
        uses.append(CreditUse(grant.id, take))
        left -= take
    return uses


def with_credits(invoice: Invoice, uses: Sequence[CreditUse], *, number: str) -> Invoice:
    """The invoice finalized under ``number``, prepaid credits deducted from its amount due."""
    credits = sum((u.amount for u in uses), Decimal(0).quantize(quantum(invoice.currency)))
    totals = (
        invoice.totals
        if credits == invoice.totals.credits
        else replace(invoice.totals, credits=credits)
    )
    return replace(invoice, status=InvoiceStatus.FINALIZED, number=number, totals=totals)
