"""Invoices: lines rounded once, discounts, tax kept apart, totals, prepaid credits.

An invoice is identified by (subscription, period, kind) and its id is derived from them, so
re-running a billing run finds the same invoice instead of making another. Every line has a
deterministic key within its invoice; re-rating a draft replaces lines by key.

Order of the arithmetic, each step on rounded amounts:
1. each charge line is rounded once (the currency's minor unit, the named rule);
2. discounts: one line per coupon and tax code, percent-off rounded once per line,
   amount-off split across tax codes in proportion (largest remainder);
3. tax per tax code on (lines + discounts) of that code, rounded once per code;
4. total = subtotal + discounts + tax; prepaid credits then reduce the amount due.
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

ZERO = Decimal(0)


class InvoiceKind(StrEnum):
    """What an invoice bills."""

    ADVANCE = "advance"  # recurring fees in advance for a recurring period
    ARREARS = "arrears"  # usage, fees in arrears and prorations for a usage period
    ADJUSTMENT = "adjustment"  # corrections to finalized invoices (when configured apart)
    INTERIM = "interim"  # usage so far in an open period, billed when a spend threshold is reached
    CREDIT_NOTE = "credit_note"  # a credit against a finalized invoice (void or correction)


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

    def line(self, key: str) -> Line | None:
        """The line with ``key``, if any."""
        return next((line for line in self.lines if line.key == key), None)


def invoice_id(subscription_id: str, period: Period, kind: InvoiceKind) -> str:
    """The deterministic id of the invoice for (subscription, period, kind)."""
    digest = hashlib.sha256(f"{subscription_id}\x00{period}\x00{kind.value}".encode()).hexdigest()
    return f"inv_{digest[:24]}"


def is_deduction(line: Line | RawLine) -> bool:
    """A line taking off what an interim invoice of the period billed."""
    return line.kind is LineKind.ADJUSTMENT and line.key.startswith("interim:")


def interim_invoice_id(subscription_id: str, period: Period, threshold_key: str) -> str:
    """The deterministic id of the interim invoice a spend threshold issues in a period."""
    text = f"{subscription_id}\x00{period}\x00{InvoiceKind.INTERIM.value}\x00{threshold_key}"
    return f"inv_{hashlib.sha256(text.encode()).hexdigest()[:24]}"


#: lines whose unit amount is itself a computed amount (quantity 1), shown rounded like it
_COMPUTED_UNIT = frozenset({LineKind.MINIMUM, LineKind.CAP})


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


def discount_lines(
    lines: Sequence[Line],
    discounts: Sequence[Discount],
    currency: str,
    rule: Rounding,
    service: Period,
) -> list[Line]:
    """One line per discount and tax code; adjustments of earlier invoices are not discounted
    again (their own discount is part of the adjustment), except what interim invoices of the
    period billed: it comes off the base, as their own discount came off them."""
    bases: dict[str, Decimal] = {}
    for line in lines:
        if line.kind is not LineKind.ADJUSTMENT or is_deduction(line):
            bases[line.tax_code] = bases.get(line.tax_code, ZERO) + line.amount
    codes = sorted(code for code, base in bases.items() if base > 0)
    result: list[Line] = []
    remaining = {code: bases[code] for code in codes}
    for discount in discounts:
        if discount.percent is not None:
            parts = [
                min(
                    remaining[c], round_money(remaining[c] * discount.percent / 100, currency, rule)
                )
                for c in codes
            ]
        else:
            available = sum((remaining[c] for c in codes), ZERO)
            wanted = min(discount.amount or ZERO, available)
            parts = allocate(wanted, [remaining[c] for c in codes], currency)
        for code, part in zip(codes, parts, strict=True):
            if part == 0:
                continue
            remaining[code] -= part
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


def assemble(
    raw: Sequence[RawLine], pricing: Pricing, service: Period
) -> tuple[list[Line], list[TaxLine], Totals]:
    """Round, discount, tax and total a set of raw lines (their keys must be unique: a line
    is updated by its key when an invoice is rated again)."""
    lines = round_lines(raw, pricing.currency, pricing.rounding)
    lines += discount_lines(lines, pricing.discounts, pricing.currency, pricing.rounding, service)
    keys = [line.key for line in lines]
    if len(set(keys)) != len(keys):
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        raise InvalidField("lines", f"line keys repeat: {', '.join(repeated)}")
    taxes = tax_lines(lines, pricing.tax, pricing.currency, pricing.rounding)
    return lines, taxes, totals_of(lines, taxes, pricing.currency)


@dataclass(frozen=True, slots=True)
class CreditGrant:
    """Prepaid credit: what is left of it, and until when it can be used."""

    id: str
    currency: str
    remaining: Decimal
    granted_on: date
    expires_on: date | None


@dataclass(frozen=True, slots=True)
class CreditUse:
    """Credit taken from one grant for one invoice."""

    grant_id: str
    amount: Decimal


def apply_credits(
    amount_due: Decimal, currency: str, on: date, grants: Sequence[CreditGrant]
) -> list[CreditUse]:
    """Consume grants usable on ``on`` (soonest expiry first, then oldest) up to the amount due."""
    usable = sorted(
        (
            g
            for g in grants
            if g.currency == currency
            and g.remaining > 0
            and g.granted_on <= on
            and (g.expires_on is None or on < g.expires_on)
        ),
        key=lambda g: (g.expires_on is None, g.expires_on or date.max, g.granted_on, g.id),
    )
    uses: list[CreditUse] = []
    left = amount_due
    for grant in usable:
        if left <= 0:
            break
        take = min(left, grant.remaining)
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
