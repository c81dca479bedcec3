"""Shadow re-rating: a plan run over periods already billed, beside what was issued.

The pure rules of a re-rate: which subscriptions and periods it covers, a subscription as it
would have been on the candidate plan, and the comparison of each period's issued lines with
the same period rated again — per line key, per customer, overall — with the customers the
change moves most. Rating itself is billing's own (``revsync.domain.billing``, run by
``Billing.rate_again``); nothing here prices.

What counts as issued for a period: the lines of its finalized (posted, paid) invoice, before
tax, discount lines included, with every adjustment line a later finalized invoice added to
one of them folded into that line (late usage, a backdated amendment). Adjustment lines an
invoice carries for other periods belong to those periods; credit notes are commercial
corrections and do not count (as for billing's own adjustments); a voided invoice's period is
left out. Amounts are compared before tax: tax is collected for others, not earned.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Protocol

from revsync.domain.billing import (
    advance_issue_date,
    arrears_issue_date,
    recurring_periods,
    usage_periods,
)
from revsync.domain.errors import InvalidField
from revsync.domain.invoicing import (
    ZERO,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Line,
    LineKind,
    invoice_id,
    is_deduction,
)
from revsync.domain.periods import Period
from revsync.domain.pricing import Plan
from revsync.domain.subscriptions import Calendar, Subscription

#: the longest range a re-rate covers, in days (a year, leap or not)
MAX_DAYS = 366
#: the most customers a re-rate names
MAX_CUSTOMERS = 10_000
#: how many customers each ranking lists at most
MAX_TOP = 1_000
DEFAULT_TOP = 10
#: the longest version number a reference names (2^31 - 1)
_MAX_VERSION = 2**31 - 1
_REFERENCE = re.compile(r"^([a-z0-9][a-z0-9_.-]{0,63})(?:@([0-9]{1,10}))?$")
_FINAL = (InvoiceStatus.FINALIZED, InvoiceStatus.POSTED, InvoiceStatus.PAID)
_RATED_KINDS = (InvoiceKind.ADVANCE, InvoiceKind.ARREARS)
_PERCENT = Decimal("0.01")


# --- what a re-rate covers -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanReference:
    """A stored plan named ``CODE`` (its newest version) or ``CODE@VERSION``."""

    code: str
    version: int | None = None

    def __str__(self) -> str:
        return self.code if self.version is None else f"{self.code}@{self.version}"


def plan_reference(text: object, field: str = "plan") -> PlanReference:
    """``CODE`` or ``CODE@VERSION`` read from ``text`` (refused naming ``field``)."""
    if not isinstance(text, str):
        raise InvalidField(field, "expected a plan reference, CODE or CODE@VERSION")
    found = _REFERENCE.fullmatch(text)
    if found is None:
        raise InvalidField(
            field, f"{text[:80]!r} is not a plan reference (CODE or CODE@VERSION, e.g. pro@2)"
        )
    code, version = found.group(1), found.group(2)
    if version is None:
        return PlanReference(code)
    number = int(version)
    if not 1 <= number <= _MAX_VERSION:
        raise InvalidField(field, f"the version must be from 1 to {_MAX_VERSION}")
    return PlanReference(code, number)


def check_range(start: date, end: date) -> None:
    """The days of a re-rate, ``start`` to ``end`` inclusive: in order, and at most
    :data:`MAX_DAYS` of them."""
    if end < start:
        raise InvalidField("to", f"{end.isoformat()} is before from ({start.isoformat()})")
    if (end - start).days >= MAX_DAYS:
        raise InvalidField(
            "to", f"a re-rate covers at most {MAX_DAYS} days ({start.isoformat()} to {end})"
        )


def on_code_within(sub: Subscription, code: str, start: date, end: date) -> bool:
    """Whether the subscription was in service on a version of plan ``code`` on some day of
    ``start`` to ``end`` (inclusive)."""
    if sub.ends is not None and sub.ends <= start:
        return False
    following = [*sub.terms[1:], None]
    for terms, after in zip(sub.terms, following, strict=True):
        if terms.plan_code != code or terms.effective > end:
            continue
        if after is None or after.effective > start:
            return True
    return False


def calendars_within(sub: Subscription, start: date, end: date) -> list[Calendar]:
    """The calendars of the subscription in force on some day of ``start`` to ``end``
    (inclusive): one, unless a plan change changed the interval in the range."""
    calendars = sub.calendars
    following = [*(c.start for c in calendars[1:]), None]
    return [
        calendar
        for calendar, until in zip(calendars, following, strict=True)
        if calendar.start <= end and (until is None or until > start)
    ]


def on_plan(sub: Subscription, plan: Plan) -> Subscription:
    """The subscription as it would have been on ``plan``: every version of its terms names
    it, with the seats, trial, end, effective dates and calendars as they were; coupons and
    thresholds kept. A plan change then changes nothing (the same plan on both sides)."""
    return replace(
        sub,
        terms=tuple(replace(t, plan_code=plan.code, plan_version=plan.version) for t in sub.terms),
    )


def periods_to_rate(
    sub: Subscription, invoices: Iterable[Invoice], start: date, end: date
) -> list[tuple[InvoiceKind, Period]]:
    """The advance and arrears periods of ``sub`` a re-rate of ``start`` to ``end`` rates
    again: those that start in it and that billing has closed — issued no later than the
    subscription's last finalized invoice, their own invoice (if any) neither a draft still
    open nor voided. A period that billed nothing is covered too, so that a candidate which
    bills it (a fee the old plan did not have) shows what it would have billed."""
    own = {i.id: i for i in invoices if i.kind in _RATED_KINDS}
    closed = max(
        (i.issue_date for i in own.values() if i.status is not InvoiceStatus.DRAFT),
        default=None,
    )
    if closed is None:
        return []
    until = end + timedelta(days=1)
    found: list[tuple[InvoiceKind, Period]] = []
    for kind, calendar, issue in (
        (InvoiceKind.ADVANCE, recurring_periods, advance_issue_date),
        (InvoiceKind.ARREARS, usage_periods, arrears_issue_date),
    ):
        for period in calendar(sub, until):
            if period.start < start or issue(sub, period) > closed:
                continue
            invoice = own.get(invoice_id(sub.id, period, kind))
            if invoice is not None and invoice.status not in _FINAL:
                continue
            found.append((kind, period))
    return found


# --- the comparison --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineDiff:
    """One line key of a period: what was issued and what the candidate rates."""

    key: str
    description: str
    issued_quantity: Decimal
    issued: Decimal
    rerated_quantity: Decimal
    rerated: Decimal

    @property
    def difference(self) -> Decimal:
        """Re-rated less issued."""
        return self.rerated - self.issued


class _Parts(Protocol):
    @property
    def issued(self) -> Decimal: ...

    @property
    def rerated(self) -> Decimal: ...


class _Sums:
    """Issued, re-rated and the difference, summed over the parts (``_parts``)."""

    __slots__ = ()

    def _parts(self) -> Iterable[_Parts]:
        raise NotImplementedError

    @property
    def issued(self) -> Decimal:
        return sum((x.issued for x in self._parts()), ZERO)

    @property
    def rerated(self) -> Decimal:
        return sum((x.rerated for x in self._parts()), ZERO)

    @property
    def difference(self) -> Decimal:
        return self.rerated - self.issued

    @property
    def relative(self) -> Decimal | None:
        """The difference in percent of what was issued (None when nothing was)."""
        return percent(self.difference, self.issued)


@dataclass(frozen=True, slots=True)
class PeriodDiff(_Sums):
    """One period of a subscription (its advance or arrears invoice), issued and re-rated."""

    subscription_id: str
    kind: InvoiceKind
    period: Period
    #: the invoice's id (derived from subscription, period and kind, issued or not)
    invoice_id: str
    #: the issued invoice's number; None when nothing was issued for the period
    number: str | None
    lines: tuple[LineDiff, ...]

    def _parts(self) -> Iterable[_Parts]:
        return self.lines


@dataclass(frozen=True, slots=True)
class CustomerDiff(_Sums):
    """A customer's periods, issued and re-rated, and the totals."""

    customer_id: str
    periods: tuple[PeriodDiff, ...]

    def _parts(self) -> Iterable[_Parts]:
        return self.periods


@dataclass(frozen=True, slots=True)
class RerateError:
    """A period that could not be rated again (left out of both sides), and why."""

    subscription_id: str
    customer_id: str
    period: Period | None
    reason: str


@dataclass(frozen=True, slots=True)
class Rerate(_Sums):
    """A shadow re-rate: the candidate plan, the days covered, every customer's periods."""

    #: the candidate, ``code@version``
    plan: str
    #: whether that version is stored (False: a definition given with the request)
    stored: bool
    #: the plan code whose subscriptions were re-rated
    replaces: str
    start: date
    end: date
    currency: str
    customers: tuple[CustomerDiff, ...]
    errors: tuple[RerateError, ...]
    #: the usage read: every event up to this ingest sequence number
    usage_cutoff_seq: int
    top: int = DEFAULT_TOP

    def _parts(self) -> Iterable[_Parts]:
        return self.customers

    @property
    def by_amount(self) -> list[CustomerDiff]:
        """The customers moved most in money (either way), at most :attr:`top`."""
        return movers(self.customers, self.top)

    @property
    def by_share(self) -> list[CustomerDiff]:
        """The customers moved most in proportion to what they were issued (either way), at
        most :attr:`top`; customers issued nothing are not ranked."""
        return movers(self.customers, self.top, relative=True)


def percent(difference: Decimal, base: Decimal) -> Decimal | None:
    """``difference`` in percent of ``base``, to two decimals (half even); None for a zero
    base."""
    if not base:
        return None
    return (difference * 100 / base).quantize(_PERCENT, rounding=ROUND_HALF_EVEN)


def movers(
    customers: Sequence[CustomerDiff], top: int, *, relative: bool = False
) -> list[CustomerDiff]:
    """The ``top`` customers with the largest movement, by amount or in proportion (exact,
    not the rounded percent), larger first, then by id; those that did not move are not
    ranked."""
    if relative:
        ranked = [(abs(c.difference / c.issued), c) for c in customers if c.issued and c.difference]
    else:
        ranked = [(abs(c.difference), c) for c in customers if c.difference]
    ranked.sort(key=lambda pair: (-pair[0], pair[1].customer_id))
    return [c for _, c in ranked[:top]]


def adjustments_by_invoice(invoices: Iterable[Invoice]) -> dict[str, list[Line]]:
    """The adjustment lines of finalized invoices, by the invoice whose line they adjust
    (deductions of interim invoices are not adjustments of another period)."""
    found: dict[str, list[Line]] = {}
    for invoice in invoices:
        if invoice.status not in _FINAL:
            continue
        for line in invoice.lines:
            if _adjusts_another(line):
                assert line.adjusts is not None  # checked by _adjusts_another
                found.setdefault(line.adjusts.split("/", 1)[0], []).append(line)
    return found


def _adjusts_another(line: Line) -> bool:
    return line.kind is LineKind.ADJUSTMENT and line.adjusts is not None and not is_deduction(line)


def compare(
    subscription_id: str,
    kind: InvoiceKind,
    period: Period,
    issued: Invoice | None,
    adjusting: Sequence[Line],
    rerated: Invoice | None,
) -> PeriodDiff:
    """A period's issued lines beside the same period rated again, per line key.

    ``issued``: its finalized invoice (None: nothing was issued); ``adjusting``: the
    adjustment lines later invoices added to it, folded into the lines they adjust;
    ``rerated``: the period rated on the candidate (None: nothing to bill). Adjustment lines
    ``issued`` carries for other periods are left out: they belong to those periods; so are
    the deductions of what its interim and usage invoices billed (the same on both sides): a
    period shows all its usage, however many invoices billed it."""
    sides: dict[str, list[Decimal]] = {}
    described: dict[str, str] = {}

    def add(key: str, description: str, quantity: Decimal, amount: Decimal, at: int) -> None:
        figures = sides.setdefault(key, [ZERO, ZERO, ZERO, ZERO])
        figures[at] += quantity
        figures[at + 1] += amount
        described.setdefault(key, description)

    for line in issued.lines if issued is not None else ():
        if not _adjusts_another(line) and not is_deduction(line):
            add(line.key, line.description, line.quantity, line.amount, 0)
    for line in adjusting:
        assert line.adjusts is not None  # an adjustment line names what it adjusts
        key = line.adjusts.split("/", 1)[1]
        description = line.description.removeprefix("Adjustment: ")
        add(key, description, line.quantity, line.amount, 0)
    for line in rerated.lines if rerated is not None else ():
        if is_deduction(line):
            continue
        add(line.key, line.description, line.quantity, line.amount, 2)
        described[line.key] = line.description  # the candidate's words where it has the line
    target = invoice_id(subscription_id, period, kind)
    return PeriodDiff(
        subscription_id=subscription_id,
        kind=kind,
        period=period,
        invoice_id=target,
        number=issued.number if issued is not None else None,
        lines=tuple(
            LineDiff(key, described[key], figures[0], figures[1], figures[2], figures[3])
            for key, figures in sides.items()
        ),
    )


def customer_diffs(
    periods: Iterable[tuple[str, PeriodDiff]], named: Iterable[str] = ()
) -> tuple[CustomerDiff, ...]:
    """Periods gathered by customer (``(customer id, period)`` pairs), by customer id, then
    subscription, period and kind; customers ``named`` with no period are listed with none."""
    by_customer: dict[str, list[PeriodDiff]] = {c: [] for c in named}
    for customer_id, diff in periods:
        by_customer.setdefault(customer_id, []).append(diff)
    order = {InvoiceKind.ADVANCE: 0, InvoiceKind.ARREARS: 1}
    return tuple(
        CustomerDiff(
            customer_id,
            tuple(
                sorted(
                    diffs, key=lambda d: (d.subscription_id, d.period.start, order.get(d.kind, 2))
                )
            ),
        )
        for customer_id, diffs in sorted(by_customer.items())
    )


def issued_invoice(invoices: Mapping[str, Invoice], target: str) -> Invoice | None:
    """The finalized invoice ``target``, if there is one."""
    found = invoices.get(target)
    return found if found is not None and found.status in _FINAL else None
