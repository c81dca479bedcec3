"""The golden grid's oracle: what revsync's invoices should be, worked out from docs/billing.md.

Written apart from the rating code, from the spec: it imports nothing of revsync (a test
checks that with ``ast``) and does its own arithmetic on ``fractions.Fraction`` — exact until a
line is rounded, once, to the currency's minor unit. It plays a cell's actions (see
``tests/golden/scenario.py``) on a model of its own and answers with the documents a correct
revsync would hold and what each look should see.

What it follows, section by section of docs/billing.md:

- *Plans, charge models*: each model as the table says (tiers inclusive of ``up_to``; a
  package started counts whole, free units first; an allowance's included units free;
  per-dimension prices, else the default price; a percentage of each transaction after the
  period's free allowance, each fee within its bounds). Line parts as the pricing module's
  docstring names them (``tier-2``, ``included``/``overage``, ``included``/``packages``,
  ``dim:<value>``, ``free``/``fees``). A charge's own ``minimum`` tops its lines up
  (``usage:<charge>:<stretch>:minimum``); ``minimum_includes_fees`` adds the recurring fees'
  share of the usage period to what the plan's minimum is compared with.
- *Carried meters*: the value held each local day (its peak; below zero counts as zero), from
  the customer's first event on; the usage charge rates value-days / the period's days, to 18
  places, half even.
- *Subscriptions*: periods from the anchor in steps of the interval, the anchor's day clamped to
  short months, weeks from the anchor's weekday; versions of the terms, each from its date.
- *Invoices*: an advance invoice per recurring period (fees in advance on the terms in force
  when it starts, for its billable days); an arrears invoice per usage period (usage per
  stretch under one plan, minimum and cap prorated by day, fees in arrears of the recurring
  periods ending in it, prorations of the fees a change changes: unused time on the old terms,
  remaining time on the new, several changes on one day as one).
- *Usage billed as it arrives*: a usage charge ``in_advance`` billed day by day on usage
  invoices (through the day before each run, none for the day before the period's invoice is
  issued), each the period's usage so far less what the latest usage invoice before it rated
  (``prebilled:``), none when nothing new is charged; the period's invoice deducts the latest
  one; a voided one bills nothing; a percent off applies to them, an amount off never.
- *Lifecycle*: drafts rated again by each run, finalized by the first run after the grace
  period, numbered, prepaid credit applied; finalized invoices never change.
- *Late usage and backdated amendments*: a finalized arrears invoice rated again when usage
  ingested since the last run (or mapped, or voided) or an amendment reaches its period; the
  difference line by line as ``adjustment:<invoice>:<line>`` on the next arrears invoice or on an
  adjustment invoice dated the run's day.
- *Money*: each line rounded once; one discount line per coupon and tax code (percent rounded
  per line, amount-off split in proportion by largest remainder); tax per code, its charges and
  its credits rounded apart; total; then prepaid credit.
- *Consolidated invoices* (``billing.consolidate``): the invoices a run finalizes for one
  customer, issue date and currency, two or more, are finalized as one invoice of kind
  ``consolidated`` — every line of each part keyed ``<part>:<key>`` (the part's ref here, its id
  in revsync), its taxes the parts' summed per code and rate, no amount computed again; it gets
  the number and the prepaid credit, is posted, paid, credited and voided; the parts are
  finalized without a number, name it, and refuse to be voided or credited; a void of it voids
  them; a credit note credits each line at most its value after its own part's discounts.
- *Coupons, prepaid credits, credit notes, interim invoices (docs/thresholds.md)*, and
  *Scopes*: a coupon or grant limited to plans and meters reaches the lines of the plans and
  the usage lines of the meters (the union); a limited coupon discounts only those, a limited
  grant pays only their part of the invoice (limited grants first).

Where the docs leave a choice open, the choice is written where it is made, marked
``docs silent:``; the grid's README lists them.
"""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from tests.golden.scenario import (
    Action,
    Amend,
    Bill,
    CreditLines,
    Doc,
    Grant,
    Held,
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


class Unpriced(Exception):
    """The oracle does not know how to price something the cell uses (a cell the grid must
    not claim to cover)."""


class Refused(Exception):
    """What a correct revsync refuses (a credit beyond what is left, a void of a paid
    invoice…)."""


# --- numbers ---------------------------------------------------------------------------------

#: ISO 4217 minor units of the currencies the grid bills in
MINOR_UNITS = {
    "EUR": 2,
    "USD": 2,
    "GBP": 2,
    "CHF": 2,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "BHD": 3,
    "CLF": 4,
}
ZERO = Fraction(0)


def num(value: object) -> Fraction:
    """An exact number from a Decimal, an int, a decimal string or a Fraction."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, bool):
        raise Unpriced(f"a boolean is not a number: {value!r}")
    if isinstance(value, int | Decimal):
        return Fraction(value)
    if isinstance(value, str):
        return Fraction(Decimal(value))
    raise Unpriced(f"not a number: {value!r}")


def places(currency: str) -> int:
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        raise Unpriced(f"minor units of {currency} unknown to the oracle") from None


def round_money(value: Fraction, currency: str, mode: str) -> Fraction:
    """``value`` rounded to the currency's minor unit. ``down`` is towards zero and ``up`` away
    from it (docs silent on negative amounts: the decimal sense of the words is taken)."""
    scale = 10 ** places(currency)
    scaled = value * scale
    magnitude = abs(scaled)
    whole = magnitude.numerator // magnitude.denominator
    rest = magnitude - whole
    if rest == 0 or mode == "down":
        kept = whole
    elif mode == "up" or rest > Fraction(1, 2):
        kept = whole + 1
    elif rest < Fraction(1, 2):
        kept = whole
    elif mode == "half_up":
        kept = whole + 1
    elif mode == "half_down":
        kept = whole
    elif mode == "half_even":
        kept = whole if whole % 2 == 0 else whole + 1
    else:
        raise Unpriced(f"rounding rule {mode!r} unknown to the oracle")
    return Fraction(kept if scaled >= 0 else -kept, scale)


def as_decimal(value: Fraction) -> Decimal:
    """The exact decimal of a terminating fraction."""
    denominator = value.denominator
    twos = fives = 0
    while denominator % 2 == 0:
        denominator //= 2
        twos += 1
    while denominator % 5 == 0:
        denominator //= 5
        fives += 1
    if denominator != 1:
        raise ValueError(f"{value} has no finite decimal")
    digits = max(twos, fives)
    return Decimal(value.numerator * 10**digits // value.denominator).scaleb(-digits)


# --- calendars -------------------------------------------------------------------------------

_MONTHS = {"month": 1, "quarter": 3, "half_year": 6, "year": 12}


def add_months(anchor: date, months: int) -> date:
    """``anchor`` moved by whole months, its day clamped to the month's length."""
    year, month = divmod(anchor.year * 12 + anchor.month - 1 + months, 12)
    return date(year, month + 1, min(anchor.day, calendar.monthrange(year, month + 1)[1]))


def period_at(day: date, anchor: date, interval: str) -> tuple[date, date]:
    """The period of the calendar anchored on ``anchor`` that holds ``day``."""
    if interval == "week":
        start = anchor + timedelta(days=7 * ((day - anchor).days // 7))
        return start, start + timedelta(days=7)
    if interval not in _MONTHS:
        raise Unpriced(f"interval {interval!r} unknown to the oracle")
    step = _MONTHS[interval]
    k = ((day.year - anchor.year) * 12 + day.month - anchor.month) // step
    while add_months(anchor, k * step) > day:
        k -= 1
    while add_months(anchor, (k + 1) * step) <= day:
        k += 1
    return add_months(anchor, k * step), add_months(anchor, (k + 1) * step)


def periods_over(anchor: date, interval: str, start: date, end: date) -> list[tuple[date, date]]:
    """The anchored periods that overlap ``[start, end)``."""
    found: list[tuple[date, date]] = []
    if end <= start:
        return found
    period = period_at(start, anchor, interval)
    while period[0] < end:
        found.append(period)
        period = period_at(period[1], anchor, interval)
    return found


def divides(short: str, long: str) -> bool:
    """docs: the usage interval divides the interval; a week goes only with a week."""
    if "week" in (short, long):
        return short == long
    return _MONTHS[long] % _MONTHS[short] == 0


def day_start(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(0), ZoneInfo(zone)).astimezone(UTC)


# --- meters ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Meter:
    key: str
    event_type: str
    aggregation: str
    value: str | None
    filters: tuple[tuple[str, tuple[Any, ...]], ...]
    group_by: tuple[str, ...]
    #: docs, Carried meters: the value is held from event to event and billed by the day
    carried: bool = False


def meter_of(data: Mapping[str, Any]) -> Meter:
    filters = tuple(
        (path, tuple(want) if isinstance(want, list) else (want,))
        for path, want in dict(data.get("filters") or {}).items()
    )
    return Meter(
        data["key"],
        data["event_type"],
        data["aggregation"],
        data.get("value"),
        filters,
        tuple(data.get("group_by") or ()),
        bool(data.get("carried")),
    )


_ABSENT = object()


def lookup(data: Mapping[str, Any], path: str) -> Any:
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _ABSENT
        value = value[part]
    return value


def _same_json(left: Any, right: Any) -> bool:
    """JSON equality: ``true`` is not ``1``; ``1`` is ``1.0``."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    return bool(left == right)


def counts(meter: Meter, data: Mapping[str, Any]) -> bool:
    """Whether an event of the meter's type passes its filters."""
    for path, wanted in meter.filters:
        found = lookup(data, path)
        if found is _ABSENT or not any(_same_json(found, w) for w in wanted):
            return False
    return True


def aggregate(
    meter: Meter, readings: Sequence[tuple[datetime, str, Mapping[str, Any]]]
) -> Fraction:
    """A meter's value over events ``(time, id, data)``: sum, count, max, the number of
    distinct values, or the value of the latest event (by time)."""
    kind = meter.aggregation
    if kind == "count":
        return Fraction(len(readings))
    if not readings:
        return ZERO
    assert meter.value is not None
    values = [lookup(data, meter.value) for _, _, data in readings]
    if kind == "sum":
        return sum((num(v) for v in values), ZERO)
    if kind == "max":
        return max(num(v) for v in values)
    if kind == "latest":
        latest = max(readings, key=lambda r: r[0])
        return num(lookup(latest[2], meter.value))
    if kind == "unique_count":
        distinct: list[Any] = []
        for value in values:
            if not any(_same_json(value, seen) for seen in distinct):
                distinct.append(value)
        return Fraction(len(distinct))
    raise Unpriced(f"aggregation {kind!r} unknown to the oracle")


def held_before(
    meter: Meter, readings: Sequence[tuple[datetime, str, Mapping[str, Any]]]
) -> Fraction:
    """docs, Carried meters: the value a carried meter holds after ``readings`` (all its events
    before some instant): a ``latest`` meter the value of the latest event (by time, then id), a
    ``sum`` meter what they add up to. docs silent before the customer's first event: 0."""
    value = ZERO
    for _, _, data in sorted(readings, key=lambda r: (r[0], r[1])):
        value = _held_after(meter, value, data)
    return value


def _held_after(meter: Meter, value: Fraction, data: Mapping[str, Any]) -> Fraction:
    assert meter.value is not None
    reading = num(lookup(data, meter.value))
    if meter.aggregation == "latest":
        return reading  # each event sets the value held
    if meter.aggregation == "sum":
        return value + reading  # each event adds to it
    raise Unpriced(f"a carried {meter.aggregation} meter is unknown to the oracle")


def held_days(
    meter: Meter,
    carried_in: Fraction,
    readings: Sequence[tuple[datetime, str, Mapping[str, Any]]],
    zone: str,
    days: tuple[date, date],
) -> tuple[Fraction, Fraction]:
    """docs, Carried meters: a carried meter's value-days over the local days ``days`` and the
    value held at their end. Each day counts the greatest value held during it — the value it
    starts with (carried in, or set by an event at its midnight) and each value set or reached
    in it — and a value below zero counts as zero. ``carried_in`` is what the events before
    ``days`` left; ``readings`` are the events of ``days`` (taken by time, then id)."""
    value = carried_in
    ordered = sorted(readings, key=lambda r: (r[0], r[1]))
    position = 0
    total = ZERO
    day = days[0]
    while day < days[1]:
        low = day_start(day, zone)
        high = day_start(day + timedelta(days=1), zone)
        while position < len(ordered) and ordered[position][0] <= low:
            value = _held_after(meter, value, ordered[position][2])
            position += 1
        peak = value
        while position < len(ordered) and ordered[position][0] < high:
            value = _held_after(meter, value, ordered[position][2])
            peak = max(peak, value)
            position += 1
        total += max(peak, ZERO)
        day += timedelta(days=1)
    return total, value


def held_average(value_days: Fraction, period_days: int) -> Fraction:
    """docs: value-days / the period's days, to 18 decimal places (half even)."""
    return round(value_days / period_days, 18)


def dimension_text(value: Any) -> str:
    """docs: ``""`` is the events that have no value of the dimension."""
    if value is _ABSENT or value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return format(Decimal(str(value)), "f")
    return str(value)


# --- plans and coupons -----------------------------------------------------------------------

USAGE_MODELS = (
    "per_unit",
    "graduated",
    "volume",
    "package",
    "allowance",
    "per_dimension",
    "percentage",
)
FEE_MODELS = ("flat", "per_seat")
_CHARGE_KEYS = {
    "key",
    "model",
    "description",
    "timing",
    "amount",
    "meter",
    "tiers",
    "package_size",
    "included",
    "dimension",
    "prices",
    "default_price",
    "tax_code",
    "flat_fee_at_zero",
    "rate",
    "fixed_amount",
    "free_transactions",
    "free_amount",
    "min_per_transaction",
    "max_per_transaction",
    "minimum",
}
_PLAN_KEYS = {
    "code",
    "name",
    "currency",
    "interval",
    "usage_interval",
    "charges",
    "minimum",
    "maximum",
    "minimum_includes_fees",
    "thresholds",
}


@dataclass(frozen=True)
class Charge:
    key: str
    model: str
    timing: str
    amount: Fraction | None
    meter: str | None
    tiers: tuple[tuple[Fraction | None, Fraction, Fraction], ...]
    package_size: Fraction | None
    included: Fraction | None
    dimension: str | None
    prices: tuple[tuple[str, Fraction], ...]
    default_price: Fraction | None
    tax_code: str
    flat_fee_at_zero: bool
    rate: Fraction | None = None
    fixed_amount: Fraction | None = None
    free_transactions: int | None = None
    free_amount: Fraction | None = None
    min_per_transaction: Fraction | None = None
    max_per_transaction: Fraction | None = None
    #: docs: what a usage charge bills at least per usage period
    minimum: Fraction | None = None


@dataclass(frozen=True)
class Threshold:
    key: str
    kind: str
    value: Fraction
    invoice: bool


@dataclass(frozen=True)
class Plan:
    code: str
    version: int
    currency: str
    interval: str
    usage_interval: str
    charges: tuple[Charge, ...]
    minimum: Fraction | None
    maximum: Fraction | None
    thresholds: tuple[Threshold, ...]
    minimum_includes_fees: bool = False

    @property
    def has_advance_fees(self) -> bool:
        return any(c.model in FEE_MODELS and c.timing == "in_advance" for c in self.charges)


def _opt(data: Mapping[str, Any], name: str) -> Fraction | None:
    value = data.get(name)
    return None if value is None else num(value)


def _count(data: Mapping[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise Unpriced(f"{name} is not a whole number: {value!r}")
    return value


def plan_of(data: Mapping[str, Any], version: int = 1) -> Plan:
    """A plan from the mapping revsync is configured with; anything the oracle cannot price is
    refused with ``Unpriced``."""
    unknown = set(data) - _PLAN_KEYS
    if unknown:
        raise Unpriced(f"plan fields {sorted(unknown)} unknown to the oracle")
    charges = []
    for item in data["charges"]:
        extra = set(item) - _CHARGE_KEYS
        if extra:
            raise Unpriced(f"charge fields {sorted(extra)} unknown to the oracle")
        model = item["model"]
        if model not in USAGE_MODELS + FEE_MODELS:
            raise Unpriced(f"charge model {model!r} unknown to the oracle")
        tiers = tuple(
            (_opt(t, "up_to"), num(t["unit_amount"]), num(t.get("flat_amount") or 0))
            for t in item.get("tiers") or ()
        )
        charges.append(
            Charge(
                key=item["key"],
                model=model,
                timing=item.get("timing") or "in_arrears",
                amount=_opt(item, "amount"),
                meter=item.get("meter"),
                tiers=tiers,
                package_size=_opt(item, "package_size"),
                included=_opt(item, "included"),
                dimension=item.get("dimension"),
                prices=tuple(sorted((k, num(v)) for k, v in (item.get("prices") or {}).items())),
                default_price=_opt(item, "default_price"),
                tax_code=item.get("tax_code") or "standard",
                flat_fee_at_zero=bool(item.get("flat_fee_at_zero")),
                rate=_opt(item, "rate"),
                fixed_amount=_opt(item, "fixed_amount"),
                free_transactions=_count(item, "free_transactions"),
                free_amount=_opt(item, "free_amount"),
                min_per_transaction=_opt(item, "min_per_transaction"),
                max_per_transaction=_opt(item, "max_per_transaction"),
                minimum=_opt(item, "minimum"),
            )
        )
    thresholds = tuple(
        Threshold(t["key"], t["kind"], num(t["value"]), bool(t.get("invoice")))
        for t in data.get("thresholds") or ()
    )
    interval = data["interval"]
    return Plan(
        code=data["code"],
        version=version,
        currency=data["currency"],
        interval=interval,
        usage_interval=data.get("usage_interval") or interval,
        charges=tuple(charges),
        minimum=_opt(data, "minimum"),
        maximum=_opt(data, "maximum"),
        thresholds=thresholds,
        minimum_includes_fees=bool(data.get("minimum_includes_fees")),
    )


@dataclass(frozen=True)
class Scope:
    """docs, Scopes: the plans (by code) and meters (by key) a coupon or grant is limited to;
    both empty: the whole invoice."""

    plans: frozenset[str] = frozenset()
    meters: frozenset[str] = frozenset()

    @property
    def limited(self) -> bool:
        return bool(self.plans or self.meters)


def scope_of(data: Mapping[str, Any] | None) -> Scope:
    if not data:
        return Scope()
    unknown = set(data) - {"plans", "meters"}
    if unknown:
        raise Unpriced(f"scope targets {sorted(unknown)} unknown to the oracle")
    return Scope(frozenset(data.get("plans") or ()), frozenset(data.get("meters") or ()))


@dataclass(frozen=True)
class Coupon:
    code: str
    duration: str
    percent: Fraction | None
    amount: Fraction | None
    currency: str | None
    periods: int | None
    scope: Scope = Scope()


def coupon_of(data: Mapping[str, Any]) -> Coupon:
    known = {
        "code",
        "description",
        "duration",
        "percent_off",
        "amount_off",
        "currency",
        "periods",
        "applies_to",
    }
    if set(data) - known:
        raise Unpriced(f"coupon fields {sorted(set(data) - known)} unknown to the oracle")
    return Coupon(
        data["code"],
        data.get("duration", "once"),
        _opt(data, "percent_off"),
        _opt(data, "amount_off"),
        data.get("currency"),
        data.get("periods"),
        scope_of(data.get("applies_to")),
    )


# --- rating ----------------------------------------------------------------------------------


def _ceil(value: Fraction) -> Fraction:
    return Fraction(-((-value.numerator) // value.denominator))


def rate_usage(
    charge: Charge,
    total: Fraction,
    by_dimension: Mapping[str, Fraction],
    transactions: Sequence[Fraction] = (),
) -> list[tuple[str, Fraction, Fraction, Fraction]]:
    """A usage charge's lines for one stretch: ``(part, quantity, unit, amount)``, exact.
    ``transactions`` are the stretch's event values in the order they happened (percentage)."""
    total = max(total, ZERO)  # docs: usage that nets below zero bills as zero
    model = charge.model
    if model == "percentage":
        return _percentage(charge, transactions)
    if model == "per_unit":
        assert charge.amount is not None
        return [("", total, charge.amount, total * charge.amount)]
    if model in ("graduated", "volume"):
        tiers = charge.tiers
        if model == "volume":
            index = next(i for i, t in enumerate(tiers) if t[0] is None or total <= t[0])
            _, unit, flat = tiers[index]
            return [(f"tier-{index + 1}", total, unit, total * unit + (flat if total > 0 else 0))]
        if total == 0:
            base = tiers[0][2] if charge.flat_fee_at_zero else ZERO
            return [("tier-1", ZERO, tiers[0][1], base)]
        lines = []
        lower = ZERO
        for index, (up_to, unit, flat) in enumerate(tiers):
            upper = total if up_to is None else min(total, up_to)
            inside = upper - lower
            if inside <= 0:
                break
            lines.append((f"tier-{index + 1}", inside, unit, inside * unit + flat))
            if up_to is None or total <= up_to:
                break
            lower = up_to
        return lines
    if model == "package":
        assert charge.amount is not None and charge.package_size is not None
        free = charge.included
        billed = total if free is None else max(ZERO, total - free)
        packages = _ceil(billed / charge.package_size)
        if free is None:
            return [("", packages, charge.amount, packages * charge.amount)]
        return [
            ("included", min(total, free), ZERO, ZERO),
            ("packages", packages, charge.amount, packages * charge.amount),
        ]
    if model == "allowance":
        assert charge.amount is not None and charge.included is not None
        over = max(ZERO, total - charge.included)
        return [
            ("included", min(total, charge.included), ZERO, ZERO),
            ("overage", over, charge.amount, over * charge.amount),
        ]
    if model == "per_dimension":
        prices = dict(charge.prices)
        lines = []
        for value in sorted(by_dimension):
            quantity = max(by_dimension[value], ZERO)
            if quantity == 0:
                continue
            unit = prices.get(value, charge.default_price)
            if unit is None:
                raise Refused(f"no price for {charge.dimension} {value!r}")
            lines.append((f"dim:{value}", quantity, unit, quantity * unit))
        return lines
    raise Unpriced(f"charge model {model!r} unknown to the oracle")


def _percentage(
    charge: Charge, transactions: Sequence[Fraction]
) -> list[tuple[str, Fraction, Fraction, Fraction]]:
    """docs, Percentage of a transaction: the stretch starts with its free allowance — the first
    ``free_transactions`` transactions and/or the first ``free_amount`` of amount (the
    transaction that crosses it pays on its part above) — which ends when the first of the two
    is used up. A wholly free transaction pays nothing; any other pays ``rate`` % of its charged
    amount + ``fixed_amount``, raised to ``min_per_transaction``, held to
    ``max_per_transaction``. Lines: ``free`` (the free amount at 0, when an allowance is set)
    and ``fees`` (the charged amount at rate / 100, its amount the exact sum of the fees)."""
    assert charge.rate is not None
    allowance = charge.free_transactions is not None or charge.free_amount is not None
    count_left = charge.free_transactions
    amount_left = charge.free_amount
    open_allowance = allowance and count_left != 0 and amount_left != 0
    free_total = charged_total = fees = ZERO
    for value in transactions:
        free = ZERO
        inside = open_allowance
        if open_allowance:
            free = value if amount_left is None else min(value, amount_left)
            if amount_left is not None:
                amount_left -= free
            if count_left is not None:
                count_left -= 1
            open_allowance = count_left != 0 and amount_left != 0
        charged = value - free
        free_total += free
        charged_total += charged
        if inside and charged == 0:
            continue  # wholly free: not even the fixed amount
        fee = charged * charge.rate / 100 + (charge.fixed_amount or ZERO)
        if charge.min_per_transaction is not None:
            fee = max(fee, charge.min_per_transaction)
        if charge.max_per_transaction is not None:
            fee = min(fee, charge.max_per_transaction)
        fees += fee
    # docs silent on a stretch without transactions: the lines are shown, at 0
    lines = [("free", free_total, ZERO, ZERO)] if allowance else []
    return [*lines, ("fees", charged_total, charge.rate / 100, fees)]


# --- the model of a subscription -------------------------------------------------------------


@dataclass(frozen=True)
class Terms:
    version: int
    effective: date
    change: str
    plan: str
    seats: int
    trial_end: date | None
    ends: date | None

    def billable(self, day: date, start: date) -> bool:
        if day < start or (self.trial_end is not None and day < self.trial_end):
            return False
        return self.ends is None or day < self.ends

    def billable_days(self, first: date, end: date, start: date) -> int:
        low = max(first, start, self.trial_end or first)
        high = min(end, self.ends or end)
        return max(0, (high - low).days)


@dataclass
class Sub:
    id: str
    customer: str
    anchor: date
    interval: str
    usage_interval: str
    terms: list[Terms]
    coupons: tuple[tuple[str, date], ...]
    include_children: bool
    recheck_from: date | None = None

    @property
    def start(self) -> date:
        return self.terms[0].effective

    @property
    def ends(self) -> date | None:
        return self.terms[-1].ends

    def terms_on(self, day: date) -> Terms | None:
        found = None
        for terms in self.terms:
            if terms.effective > day:
                break
            found = terms
        return found

    def segments(self, start: date, end: date) -> list[tuple[date, date, Terms, bool]]:
        """``[start, end)`` cut at every change of terms, trial end and end of service."""
        cuts = {start, end}
        for terms in self.terms:
            for day in (terms.effective, terms.trial_end, terms.ends):
                if day is not None and start < day < end:
                    cuts.add(day)
        bounds = sorted(cuts)
        found: list[tuple[date, date, Terms, bool]] = []
        for low, high in itertools.pairwise(bounds):
            terms = self.terms_on(low)
            if terms is None:
                continue
            billable = terms.billable(low, self.start)
            if found and found[-1][2] == terms and found[-1][3] == billable:
                found[-1] = (found[-1][0], high, terms, billable)
            else:
                found.append((low, high, terms, billable))
        return found


@dataclass
class Event:
    id: str
    source: str
    type: str
    tenant: str
    time: datetime
    data: Mapping[str, Any]
    runs_before: int  # billing runs made before it was ingested
    sweeps_before: int
    owner: str | None
    voided: bool = False


@dataclass
class OLine:
    """A line as the oracle keeps it: amounts exact (rounded ones are multiples of the unit)."""

    key: str
    #: recurring usage charge_minimum proration minimum cap discount adjustment deduction credit
    kind: str
    charge: str
    quantity: Fraction
    unit: Fraction
    amount: Fraction
    tax_code: str
    service: tuple[date, date]
    prorated: tuple[int, int] | None = None
    adjusts: tuple[str, str] | None = None
    figure: tuple[Fraction, frozenset[str]] | None = None
    #: the meter a usage line (or its correction) bills, for scopes
    meter: str | None = None
    #: a carried meter's line: the value carried in, the value held at the end, the customer's
    #: zone and the usage period's days (its figure is the average)
    held: tuple[Fraction, Fraction, str, int] | None = None

    @property
    def plan(self) -> str | None:
        """The code of the plan the line was rated on (none for a discount)."""
        return self.charge.split("@", 1)[0] if "@" in self.charge else None


@dataclass
class Invoice:
    ref: str
    subscription: str
    customer: str
    kind: str
    period: tuple[date, date]
    issue: date
    currency: str
    status: str = "draft"
    lines: list[OLine] = field(default_factory=list)
    taxes: list[tuple[str, Fraction, Fraction, Fraction]] = field(default_factory=list)
    credits: Fraction = ZERO
    basis: int | None = None
    recheck: bool = False
    series: str | None = None
    uses: list[tuple[int, Fraction]] = field(default_factory=list)
    notes: list[Invoice] = field(default_factory=list)
    credits_ref: str | None = None
    #: per line (by position): what the discount lines took from it
    discounted: dict[int, Fraction] = field(default_factory=dict)
    #: a part of a consolidated invoice: that invoice's ref
    consolidated_into: str | None = None
    #: a consolidated invoice: its parts, in the order it bills them
    parts: list[Invoice] = field(default_factory=list)

    @property
    def subtotal(self) -> Fraction:
        return sum((x.amount for x in self.lines if x.kind != "discount"), ZERO)

    @property
    def discount(self) -> Fraction:
        return sum((x.amount for x in self.lines if x.kind == "discount"), ZERO)

    @property
    def tax(self) -> Fraction:
        return sum((t[3] for t in self.taxes), ZERO)

    @property
    def total(self) -> Fraction:
        return self.subtotal + self.discount + self.tax


@dataclass
class Wallet:
    index: int
    customer: str
    currency: str
    remaining: Fraction
    granted_on: date
    expires_on: date | None
    scope: Scope = Scope()


@dataclass
class Customer:
    id: str
    currency: str
    timezone: str
    country: str | None
    exempt: bool
    tenants: tuple[str, ...]
    parent: str | None


_FINAL = ("finalized", "posted", "paid")


class Oracle:
    """Plays one cell's actions (and its world's runs) on the oracle's own model."""

    def __init__(
        self,
        settings: Settings,
        plans: Iterable[Mapping[str, Any]],
        coupons: Iterable[Mapping[str, Any]],
        meters: Iterable[Mapping[str, Any]],
    ) -> None:
        self.settings = settings
        self.plans = {p["code"]: plan_of(p) for p in plans}
        self.coupons = {c["code"]: coupon_of(c) for c in coupons}
        self.meters = {m["key"]: meter_of(m) for m in meters}
        self.customers: dict[str, Customer] = {}
        self.subs: dict[str, Sub] = {}
        self.events: list[Event] = []
        self.invoices: dict[str, Invoice] = {}
        self.wallet: list[Wallet] = []
        self.runs = 0
        self.sweeps = 0
        self.rechecks: dict[str, datetime] = {}  # customer → earliest event time to look at
        self.fired: set[tuple[str, str, date]] = set()
        #: (customer, currency, issue date) → the ref of its consolidated invoice
        self.consolidated: dict[tuple[str, str, date], str] = {}
        self.outcome = Outcome()
        self.now = datetime.min.replace(tzinfo=UTC)

    # --- playing -----------------------------------------------------------------------------

    def play(self, actions: list[Action]) -> Outcome:
        for action in timeline(actions):
            self.now = action.at
            handler = getattr(self, handler_name(action))
            handler(action)
        for invoice in self.invoices.values():
            self.outcome.docs[invoice.ref] = self._doc(invoice)
            for number, note in enumerate(invoice.notes, 1):
                self.outcome.docs[f"{invoice.ref}/note-{number}"] = self._doc(note)
        for grant in self.wallet:
            mine = self.outcome.wallets.setdefault(grant.customer, {})
            mine[grant.currency] = mine.get(grant.currency, Decimal(0)) + as_decimal(
                grant.remaining
            )
        return self.outcome

    def _do_put_customer(self, action: PutCustomer) -> None:
        before = self.customers.get(action.customer)
        known = set(before.tenants) if before else set()
        self.customers[action.customer] = Customer(
            action.customer,
            action.currency,
            action.timezone,
            action.country,
            action.exempt,
            action.tenants,
            action.parent,
        )
        added = [t for t in action.tenants if t not in known]
        # a tenant moved away keeps its past events with their customer (docs/architecture:
        # mapping attaches the events stored unmapped; nothing else moves)
        attached = [e for e in self.events if e.owner is None and e.tenant in added]
        for event in attached:
            event.owner = action.customer
        if attached:
            earliest = min(e.time for e in attached)
            current = self.rechecks.get(action.customer)
            self.rechecks[action.customer] = earliest if current is None else min(current, earliest)

    def _do_subscribe(self, action: Subscribe) -> None:
        plan = self.plans[action.plan]
        terms = Terms(
            1, action.start, "created", plan.code, action.seats, action.trial_end, action.ends
        )
        self.subs[action.subscription] = Sub(
            action.subscription,
            action.customer,
            action.anchor or action.start,
            plan.interval,
            plan.usage_interval,
            [terms],
            action.coupons,
            action.include_children,
        )

    def _owner(self, tenant: str) -> str | None:
        return next((c.id for c in self.customers.values() if tenant in c.tenants), None)

    def _do_usage(self, action: Usage) -> None:
        self.events.append(
            Event(
                action.event_id,
                action.source,
                action.type,
                action.tenant,
                action.time,
                action.data,
                self.runs,
                self.sweeps,
                self._owner(action.tenant),
            )
        )

    def _do_void_events(self, action: VoidEvents) -> None:
        for event in self.events:
            if event.id in action.event_ids and not event.voided:
                event.voided = True
                if event.owner is not None:
                    current = self.rechecks.get(event.owner)
                    self.rechecks[event.owner] = (
                        event.time if current is None else min(current, event.time)
                    )

    def _do_amend(self, action: Amend) -> None:
        sub = self.subs[action.subscription]
        current = sub.terms[-1]
        terms = replace(
            current, version=current.version + 1, effective=action.effective, change=action.change
        )
        if action.change in ("upgrade", "downgrade", "plan_change"):
            assert action.plan is not None
            terms = replace(terms, plan=action.plan)
            if action.seats is not None:
                terms = replace(terms, seats=action.seats)
        elif action.change == "seat_change":
            assert action.seats is not None
            terms = replace(terms, seats=action.seats)
        elif action.change == "cancel":
            terms = replace(terms, ends=action.ends or action.effective)
        elif action.change == "trial_change":
            terms = replace(terms, trial_end=action.trial_end)
        elif action.change == "renewal":
            terms = replace(terms, ends=action.ends)
        else:
            raise Unpriced(f"amendment {action.change!r} unknown to the oracle")
        sub.terms.append(terms)
        # docs: an amendment effective in the period of a finalized arrears invoice makes it
        # be rated again by the next run
        if any(
            i.subscription == sub.id
            and i.kind == "arrears"
            and i.status in _FINAL
            and i.period[1] > action.effective
            for i in self.invoices.values()
        ):
            earlier = sub.recheck_from
            sub.recheck_from = (
                action.effective if earlier is None else min(earlier, action.effective)
            )

    def _do_grant(self, action: Grant) -> None:
        self.wallet.append(
            Wallet(
                len(self.wallet),
                action.customer,
                action.currency,
                num(action.amount),
                action.granted_on or self.now.date(),
                action.expires_on,
                scope_of({target: list(names) for target, names in action.applies_to}),
            )
        )

    # --- usage -------------------------------------------------------------------------------

    def _family(self, customer: str, include_children: bool) -> tuple[str, ...]:
        ids = [customer]
        if include_children:
            frontier = [customer]
            while frontier:
                children = [c.id for c in self.customers.values() if c.parent in frontier]
                ids += children
                frontier = children
        return tuple(ids)

    def _figure(
        self,
        who: Sequence[str],
        zone: str,
        meter_key: str,
        days: tuple[date, date],
        dimension: str | None,
    ) -> tuple[
        Fraction, dict[str, Fraction], dict[str, frozenset[str]], frozenset[str], list[Fraction]
    ]:
        """The meter's value over local days, its split by ``dimension``, the events, and (a
        ``sum`` meter) each event's value in the order they happened (by time, then id)."""
        meter = self.meters[meter_key]
        low, high = day_start(days[0], zone), day_start(days[1], zone)
        readings = [
            e
            for e in self.events
            if e.owner in who
            and not e.voided
            and e.type == meter.event_type
            and low <= e.time < high
            and counts(meter, e.data)
        ]
        total = aggregate(meter, [(e.time, e.id, e.data) for e in readings])
        split: dict[str, Fraction] = {}
        ids: dict[str, frozenset[str]] = {}
        if dimension is not None:
            groups: dict[str, list[Event]] = {}
            for e in readings:
                groups.setdefault(dimension_text(lookup(e.data, dimension)), []).append(e)
            for value, members in groups.items():
                split[value] = aggregate(meter, [(e.time, e.id, e.data) for e in members])
                ids[value] = frozenset(e.id for e in members)
        values: list[Fraction] = []
        if meter.aggregation == "sum" and meter.value is not None:
            values = [
                num(lookup(e.data, meter.value))
                for e in sorted(readings, key=lambda e: (e.time, e.id))
            ]
        return total, split, ids, frozenset(e.id for e in readings), values

    # --- rating an invoice's lines -----------------------------------------------------------

    def _money(self, amount: Fraction, currency: str) -> Fraction:
        return round_money(amount, currency, self.settings.rounding)

    def _fees(
        self,
        sub: Sub,
        terms: Terms,
        period: tuple[date, date],
        days: tuple[date, date],
        timing: str,
        prefix: str,
        sign: int = 1,
        kind: str = "recurring",
    ) -> list[OLine]:
        """The fees of ``timing`` of ``terms`` for its billable days of ``days``, prorated on
        the recurring ``period``'s length."""
        plan = self.plans[terms.plan]
        billable = terms.billable_days(days[0], days[1], sub.start)
        if billable == 0:
            return []
        first = max(days[0], sub.start, terms.trial_end or days[0])
        service = (first, min(days[1], terms.ends or days[1]))
        length = (period[1] - period[0]).days
        lines = []
        for charge in plan.charges:
            if charge.model not in FEE_MODELS or charge.timing != timing:
                continue
            assert charge.amount is not None
            quantity = Fraction(terms.seats) if charge.model == "per_seat" else Fraction(1)
            amount = charge.amount * quantity * billable / length
            lines.append(
                OLine(
                    key=":".join(p for p in (prefix, charge.key) if p),
                    kind=kind,
                    charge=f"{plan.code}@{plan.version}:{charge.key}",
                    quantity=quantity,
                    unit=charge.amount,
                    amount=sign * amount,
                    tax_code=charge.tax_code,
                    service=service,
                    prorated=None if billable == length else (billable, length),
                )
            )
        return lines

    def _advance(self, sub: Sub, period: tuple[date, date]) -> tuple[list[OLine], int | None]:
        terms = sub.terms_on(max(period[0], sub.start))
        if terms is None:
            return [], None
        return self._fees(sub, terms, period, period, "in_advance", "fee"), terms.version

    def _held(
        self, who: Sequence[str], zone: str, meter_key: str, days: tuple[date, date], length: int
    ) -> tuple[Fraction, frozenset[str], Fraction, Fraction]:
        """A carried meter over the local days ``days`` of a usage period of ``length`` days: the
        average billed, the ids of the days' own events (the lineage), the value carried in and
        the value held at the end. docs: from the customer's first event on; the upcoming
        invoice counts the value as held to the period's end (no event yet: the same)."""
        meter = self.meters[meter_key]
        low = day_start(days[0], zone)
        high = day_start(days[1], zone)
        before: list[tuple[datetime, str, Mapping[str, Any]]] = []
        own: list[tuple[datetime, str, Mapping[str, Any]]] = []
        for e in self.events:
            if (
                e.owner in who
                and not e.voided
                and e.type == meter.event_type
                and e.time < high
                and counts(meter, e.data)
            ):
                (before if e.time < low else own).append((e.time, e.id, e.data))
        carried_in = held_before(meter, before)
        value_days, end = held_days(meter, carried_in, own, zone, days)
        ids = frozenset(r[1] for r in own)
        return held_average(value_days, length), ids, carried_in, end

    def _usage_lines(
        self,
        sub: Sub,
        period: tuple[date, date],
        *,
        timing: str | None = None,
        until: date | None = None,
    ) -> list[OLine]:
        """The usage lines of ``period`` (stretches under one plan): the usage charges (those of
        ``timing``, or all), each charge's own minimum, the plan's minimum and cap. ``until``:
        rated on the usage of the days before it only (docs, Usage billed as it arrives: the
        period's usage so far), each stretch keyed as on the period's invoice."""
        customer = self.customers[sub.customer]
        who = self._family(sub.customer, sub.include_children)
        merged: list[tuple[date, date, Terms, bool]] = []
        for low, high, terms, billable in sub.segments(*period):
            if merged and merged[-1][2].plan == terms.plan and merged[-1][3] == billable:
                merged[-1] = (merged[-1][0], high, terms, billable)
            else:
                merged.append((low, high, terms, billable))
        lines: list[OLine] = []
        length = (period[1] - period[0]).days
        for low, high, terms, billable in merged:
            if not billable or (until is not None and low >= until):
                continue
            seen = (low, high if until is None else min(high, until))  # the days rated
            plan = self.plans[terms.plan]
            days = (high - low).days
            usage_total = ZERO
            usage_codes = []
            for charge in plan.charges:
                if charge.model in FEE_MODELS or timing not in (None, charge.timing):
                    continue
                usage_codes.append(charge.tax_code)
                assert charge.meter is not None
                held = None
                if self.meters[charge.meter].carried:
                    # docs: the average over the usage period; docs silent on a stretch: its
                    # value-days over the whole period's days, as for a new calendar's first
                    total, ids, carried_in, end = self._held(
                        who, customer.timezone, charge.meter, seen, length
                    )
                    split: dict[str, Fraction] = {}
                    split_ids: dict[str, frozenset[str]] = {}
                    values: list[Fraction] = []
                    held = (carried_in, end, customer.timezone, length)
                else:
                    total, split, split_ids, ids, values = self._figure(
                        who, customer.timezone, charge.meter, seen, charge.dimension
                    )
                charged = ZERO
                for part, quantity, unit, amount in rate_usage(charge, total, split, values):
                    figure = (total, ids)
                    if part.startswith("dim:"):
                        value = part[4:]
                        figure = (split[value], split_ids[value])
                    lines.append(
                        OLine(
                            key=":".join(
                                p for p in ("usage", charge.key, low.isoformat(), part) if p
                            ),
                            kind="usage",
                            charge=f"{plan.code}@{plan.version}:{charge.key}",
                            quantity=quantity,
                            unit=unit,
                            amount=amount,
                            tax_code=charge.tax_code,
                            service=seen,
                            figure=figure,
                            meter=charge.meter,
                            held=held,
                        )
                    )
                    charged += self._money(amount, plan.currency)
                # docs: a charge's own minimum tops its lines (as billed) up to it, prorated by
                # day for a stretch; it counts as usage for the plan's minimum and cap
                if charge.minimum is not None:
                    short = charge.minimum * days / length - charged
                    if short > 0:
                        lines.append(
                            OLine(
                                f"usage:{charge.key}:{low.isoformat()}:minimum",
                                "charge_minimum",
                                f"{plan.code}@{plan.version}:{charge.key}",
                                Fraction(1),
                                short,
                                short,
                                charge.tax_code,
                                (low, high),
                                meter=charge.meter,
                            )
                        )
                        charged += self._money(short, plan.currency)
                usage_total += charged
            code = usage_codes[0] if usage_codes else "standard"
            # docs: minimum and cap per usage period over the usage charges' total, prorated
            # by day for a stretch of the period; with minimum_includes_fees the minimum is
            # compared with the recurring fees' share of the stretch too (the cap is not)
            if plan.minimum is not None:
                counted = usage_total
                if plan.minimum_includes_fees:
                    counted += self._fee_share(sub, low, high)
                shortfall = plan.minimum * days / length - counted
                if shortfall > 0:
                    lines.append(
                        OLine(
                            f"minimum:{low.isoformat()}",
                            "minimum",
                            f"{plan.code}@{plan.version}:minimum",
                            Fraction(1),
                            shortfall,
                            shortfall,
                            code,
                            (low, high),
                            None if days == length else (days, length),
                        )
                    )
            if plan.maximum is not None:
                over = plan.maximum * days / length - usage_total
                if over < 0:
                    lines.append(
                        OLine(
                            f"cap:{low.isoformat()}",
                            "cap",
                            f"{plan.code}@{plan.version}:cap",
                            Fraction(1),
                            over,
                            over,
                            code,
                            (low, high),
                            None if days == length else (days, length),
                        )
                    )
        return lines

    def _fee_share(self, sub: Sub, low: date, high: date) -> Fraction:
        """docs, minimum_includes_fees: the recurring fees' share of the days ``[low, high)`` —
        each billable day at the terms in force that day (seats, plan), each fee prorated by day
        over its recurring period, whatever its timing (a 100.00 monthly fee counts 100.00 in a
        month). docs silent on rounding: each fee's share is rounded once, as a line."""
        shares: dict[str, Fraction] = {}
        currency = ""
        day = low
        while day < high:
            terms = sub.terms_on(day)
            if terms is not None and terms.billable(day, sub.start):
                plan = self.plans[terms.plan]
                currency = plan.currency
                recurring = period_at(day, sub.anchor, sub.interval)
                period_days = (recurring[1] - recurring[0]).days
                for charge in plan.charges:
                    if charge.model not in FEE_MODELS:
                        continue
                    assert charge.amount is not None
                    seats = terms.seats if charge.model == "per_seat" else 1
                    share = charge.amount * seats / period_days
                    shares[charge.key] = shares.get(charge.key, ZERO) + share
            day += timedelta(days=1)
        return sum((self._money(share, currency) for share in shares.values()), ZERO)

    def _arrears(self, sub: Sub, period: tuple[date, date]) -> list[OLine]:
        lines = self._usage_lines(sub, period)
        for recurring in periods_over(sub.anchor, sub.interval, period[0], period[1]):
            last = min(recurring[1], sub.ends) if sub.ends else recurring[1]
            if period[0] < last <= period[1]:
                for low, high, terms, _ in sub.segments(*recurring):
                    lines += self._fees(
                        sub, terms, recurring, (low, high), "in_arrears", f"fee:{low.isoformat()}"
                    )
            lines += self._prorations(sub, recurring, period)
        return lines

    def _prorations(
        self, sub: Sub, recurring: tuple[date, date], usage: tuple[date, date]
    ) -> list[OLine]:
        """docs: prorations of in-advance fees for every change of terms effective in the usage
        period, from the change to the end of the recurring period, only for the fees the change
        changes; several changes on one day are one (from the terms before the first to the
        last). A change on the day a recurring period starts is in its advance invoice, unless
        that invoice was finalized on other terms (then it is prorated from that day)."""
        first_day = max(recurring[0], sub.start)
        changes: list[tuple[Terms | None, Terms]] = []
        start_terms = sub.terms_on(first_day)
        advance = self.invoices.get(doc_ref(sub.id, "advance", recurring[0]))
        basis = advance.basis if advance is not None and advance.status != "draft" else None
        if (
            basis is not None
            and start_terms is not None
            and usage[0] <= first_day < usage[1]
            and basis != start_terms.version
        ):
            changes.append((sub.terms[basis - 1], start_terms))
        for before, after in zip(sub.terms, sub.terms[1:], strict=False):
            if not (recurring[0] <= after.effective < recurring[1]):
                continue
            if after.effective > first_day and usage[0] <= after.effective < usage[1]:
                old: Terms | None = before
                if changes and changes[-1][1].effective == after.effective:
                    old = changes.pop()[0]
                changes.append((old, after))
        lines: list[OLine] = []
        for before, after in changes:
            remaining = (max(after.effective, first_day), recurring[1])
            label = remaining[0].isoformat()
            old_lines = (
                self._fees(
                    sub,
                    before,
                    recurring,
                    remaining,
                    "in_advance",
                    f"proration:{label}:v{before.version}",
                    sign=-1,
                    kind="proration",
                )
                if before is not None
                else []
            )
            new_lines = self._fees(
                sub,
                after,
                recurring,
                remaining,
                "in_advance",
                f"proration:{label}:v{after.version}",
                kind="proration",
            )

            def same(x: OLine) -> tuple[object, ...]:
                return (x.charge, x.quantity, abs(x.amount), x.service)

            unchanged = {same(x) for x in old_lines} & {same(x) for x in new_lines}
            lines += [x for x in old_lines + new_lines if same(x) not in unchanged]
        return lines

    def _latest(
        self, sub: Sub, period: tuple[date, date], kind: str, before: date | None = None
    ) -> Invoice | None:
        """The latest invoice of ``kind`` of the usage period ``period`` (an interim one: by
        issue date, then number; a usage one: by its day, before ``before`` when given) that is
        not void — docs: a voided one bills nothing. An interim invoice is final when it is
        made; a usage one may be a draft: it is rated again by each run before the invoices
        after it (docs: the upcoming invoice deducts the drafts too)."""
        found = [
            i
            for i in self.invoices.values()
            if i.subscription == sub.id
            and i.kind == kind
            and period[0] <= i.period[0] < period[1]
            and (before is None or i.period[0] < before)
            and (i.status in _FINAL if kind == "interim" else i.status != "void")
        ]
        if kind == "interim":
            return max(found, key=lambda i: (i.issue, i.series or "", i.ref), default=None)
        return max(found, key=lambda i: i.period[0], default=None)

    @staticmethod
    def _deduct(latest: Invoice | None, prefix: str) -> list[OLine]:
        """What ``latest`` rated — its charged lines, negated — taken off the invoice after it:
        ``<prefix>:<its ref>:<line key>``. Each such invoice bills what was rated so far less
        what the one before it rated, so the latest one's charged lines are what they all
        billed together."""
        if latest is None:
            return []
        return [
            replace(
                line,
                key=f"{prefix}:{latest.ref}:{line.key}",
                kind="deduction",
                quantity=-line.quantity,
                amount=-line.amount,
                adjusts=(latest.ref, line.key),
                figure=None,
                prorated=None,
                held=None,
            )
            for line in latest.lines
            if line.kind not in ("discount", "deduction")
        ]

    def _deductions(self, sub: Sub, period: tuple[date, date]) -> list[OLine]:
        """What the period's invoice deducts: docs/thresholds.md, what the latest interim
        invoice rated (``interim:``); docs/billing.md, Usage billed as it arrives, what the
        latest usage invoice rated (``prebilled:``) — the one charges billed in arrears, the
        other those billed in advance, so both apply."""
        return self._deduct(self._latest(sub, period, "interim"), "interim") + self._deduct(
            self._latest(sub, period, "usage"), "prebilled"
        )

    def _usage_invoices(self, sub: Sub, customer: Customer, as_of: date) -> list[Invoice]:
        """docs, Usage billed as it arrives: each run rates the usage drafts again (drafts are
        rated again on each run), in the order of their days, and makes one usage invoice
        through the day before the run, D: its period ``D/D+1``, issued on D+1, for the usage
        period open on D — none for the last day before that period's invoice is issued (that
        invoice bills it). A usage invoice of D bills the charges billed in advance rated on the
        period's usage before D+1, keyed as on the period's invoice (usage lines only: minimums
        and the cap are settled over the whole period, on its invoice), less what the latest
        usage invoice of the period before it rated (``prebilled:``, ``_deduct``). A run that
        finds nothing new makes none: no usage invoice of D when its charged amounts (rounded,
        those not zero) are the ones the invoice before it rated (docs silent on usage that
        changes a quantity and no amount, in a free tier: not new — the amounts are what is
        billed). A percent off applies; an amount off never does."""
        days = sorted(
            i.period[0]
            for i in self.invoices.values()
            if i.subscription == sub.id and i.kind == "usage" and i.status == "draft"
        )
        today = as_of - timedelta(days=1)
        if today >= sub.start and doc_ref(sub.id, "usage", today) not in self.invoices:
            open_period = period_at(today, sub.anchor, sub.usage_interval)
            issue = min(open_period[1], sub.ends) if sub.ends else open_period[1]
            if as_of < issue:
                days.append(today)
        currency = self.plans[sub.terms[-1].plan].currency
        made = []
        for day in days:
            ref = doc_ref(sub.id, "usage", day)
            period = period_at(day, sub.anchor, sub.usage_interval)
            after = day + timedelta(days=1)
            lines = [
                x
                for x in self._usage_lines(sub, period, timing="in_advance", until=after)
                if x.kind == "usage"
            ]
            before = self._latest(sub, period, "usage", day)

            def charged(found: Iterable[OLine]) -> dict[str, Fraction]:
                amounts = {x.key: self._money(x.amount, currency) for x in found}
                return {key: amount for key, amount in amounts.items() if amount}

            billed = [] if before is None else [x for x in before.lines if x.kind == "usage"]
            if ref not in self.invoices and charged(lines) == charged(billed):
                continue
            invoice = Invoice(ref, sub.id, sub.customer, "usage", (day, after), after, currency)
            # docs silent on which period's coupons: those covering the recurring period of D
            coupons = [
                c
                for c in self._discounts(sub, invoice.period, "usage", currency)
                if c.percent is not None
            ]
            self._finish(
                invoice, lines + self._deduct(before, "prebilled"), coupons, self._rates(customer)
            )
            self.invoices[ref] = invoice  # the invoices after it deduct it as rated now
            made.append(invoice)
        return made

    def _discounts(
        self, sub: Sub, period: tuple[date, date], kind: str, currency: str
    ) -> list[Coupon]:
        """docs: coupons cover recurring periods from the one holding the day they are applied;
        percent-off on every invoice of a covered period, amount-off once per covered period (on
        the advance invoice when the plan has in-advance fees, else the arrears one), in the
        coupon's currency only."""
        terms = sub.terms_on(max(period[0], sub.start))
        if terms is None:
            return []
        plan = self.plans[terms.plan]
        found = []
        # docs: several coupons are taken in the order of their start dates, then codes
        for code, applied in sorted(sub.coupons, key=lambda use: (use[1], use[0])):
            coupon = self.coupons[code]
            first = period_at(applied, sub.anchor, sub.interval)
            if period[0] < first[0]:
                continue
            if coupon.duration != "forever":
                count = 1 if coupon.duration == "once" else coupon.periods or 1
                if coupon.scope.limited:
                    if not self._limited_covers(sub, coupon.scope, first, count, period[0]):
                        continue
                else:
                    last = first
                    for _ in range(count - 1):
                        last = period_at(last[1], sub.anchor, sub.interval)
                    if period[0] >= last[1]:
                        continue
            if coupon.amount is not None:
                # docs, Scopes: a limited amount-off goes on the advance invoice only when the
                # coupon names the plan in force when the period starts
                on_advance = plan.has_advance_fees and (
                    not coupon.scope.limited or plan.code in coupon.scope.plans
                )
                if (kind == "advance") != on_advance:
                    continue
                if coupon.currency != currency:
                    continue
            found.append(coupon)
        return found

    def _limited_covers(
        self, sub: Sub, scope: Scope, first: tuple[date, date], count: int, day: date
    ) -> bool:
        """docs, Scopes: a limited ``once`` or ``repeating`` coupon counts only the recurring
        periods it could apply to, from ``first``; whether it covers the one holding ``day``."""
        target = period_at(day, sub.anchor, sub.interval)
        seen = 0
        current = first
        while current[0] <= target[0]:
            if self._could_apply(sub, scope, current):
                seen += 1
                if current == target:
                    return seen <= count
            elif current == target:
                return False
            if seen >= count:
                return False
            current = period_at(current[1], sub.anchor, sub.interval)
        return False

    def _could_apply(self, sub: Sub, scope: Scope, period: tuple[date, date]) -> bool:
        """docs: a period with at least one billable day (not a trial day) on a plan the scope
        names, or on a plan with a usage charge of a meter it names."""
        day = period[0]
        while day < period[1]:
            terms = sub.terms_on(day)
            if terms is not None and terms.billable(day, sub.start):
                plan = self.plans[terms.plan]
                if plan.code in scope.plans or any(
                    c.meter in scope.meters for c in plan.charges if c.model not in FEE_MODELS
                ):
                    return True
            day += timedelta(days=1)
        return False

    def _rates(self, customer: Customer) -> dict[str, Fraction] | None:
        """Tax rate per code for the customer, or None for no tax (exempt, or no table)."""
        table = self.settings.tax_table()
        if customer.exempt or not table:
            return None
        if customer.country is None or customer.country not in table:
            raise Refused(f"no tax rates for {customer.country!r}")
        return {code: num(rate) for code, rate in table[customer.country].items()}

    def _finish(
        self,
        invoice: Invoice,
        raw: list[OLine],
        coupons: Sequence[Coupon],
        rates: dict[str, Fraction] | None,
    ) -> None:
        """docs, Money: round each line once; discounts per coupon and tax code; tax per code,
        its charges and its credits rounded apart; totals as sums."""
        currency = invoice.currency
        lines = []
        for line in raw:
            amount = self._money(line.amount, currency)
            unit = (
                self._money(line.unit, currency)
                if line.kind in ("minimum", "cap", "charge_minimum")
                else line.unit
            )
            lines.append(replace(line, amount=amount, unit=unit))
        bases: dict[str, Fraction] = {}
        # docs: adjustment lines are not discounted again; what earlier coupons left of each line
        left: dict[int, Fraction] = {}
        for index, line in enumerate(lines):
            if line.kind != "adjustment":
                bases[line.tax_code] = bases.get(line.tax_code, ZERO) + line.amount
                left[index] = line.amount
        codes = sorted(c for c, b in bases.items() if b > 0)
        remaining = {c: bases[c] for c in codes}
        discounted: dict[int, Fraction] = {}
        # docs silent: several coupons apply one after the other, each on what the ones
        # before it left
        for coupon in coupons:
            # docs, Scopes: a limited coupon's base per code is what its lines come to (after
            # earlier coupons); no code is discounted below zero
            reach = {
                c: [i for i in left if lines[i].tax_code == c and in_scope(lines[i], coupon.scope)]
                for c in codes
            }
            base = {c: min(sum((left[i] for i in reach[c]), ZERO), remaining[c]) for c in codes}
            if coupon.percent is not None:
                parts = [
                    self._money(base[c] * coupon.percent / 100, currency) if base[c] > 0 else ZERO
                    for c in codes
                ]
            else:
                assert coupon.amount is not None
                weights = [max(base[c], ZERO) for c in codes]
                wanted = min(coupon.amount, sum(weights, ZERO))
                parts = largest_remainder(wanted, weights, currency)
            for code, part in zip(codes, parts, strict=True):
                if part == 0:
                    continue
                remaining[code] -= part
                # docs, Prepaid credits: a discount is shared over the lines it took from, in
                # proportion to what earlier coupons left of them (docs silent on the rounding:
                # largest remainder, as the tax)
                shares = shared(part, [left[i] for i in reach[code]], currency)
                for i, taken in zip(reach[code], shares, strict=True):
                    left[i] -= taken
                    discounted[i] = discounted.get(i, ZERO) + taken
                lines.append(
                    OLine(
                        f"discount:{coupon.code}:{code}",
                        "discount",
                        f"coupon:{coupon.code}",
                        Fraction(1),
                        -part,
                        -part,
                        code,
                        invoice.period,
                    )
                )
        taxes = []
        if rates is not None:
            sides: dict[str, tuple[Fraction, Fraction]] = {}
            for line in lines:
                charged, credited = sides.get(line.tax_code, (ZERO, ZERO))
                if line.amount >= 0:
                    charged += line.amount
                else:
                    credited += line.amount
                sides[line.tax_code] = (charged, credited)
            for code in sorted(sides):
                if code not in rates:
                    raise Refused(f"no tax rate for code {code!r}")
                rate = rates[code]
                charged, credited = sides[code]
                amount = self._money(charged * rate / 100, currency) + self._money(
                    credited * rate / 100, currency
                )
                taxes.append((code, rate, charged + credited, amount))
        invoice.lines = lines
        invoice.taxes = taxes
        invoice.discounted = discounted

    # --- runs --------------------------------------------------------------------------------

    def _do_bill(self, action: Bill) -> None:
        as_of = action.as_of
        late: dict[str, datetime] = {}
        for event in self.events:
            if event.runs_before == self.runs and event.owner is not None and not event.voided:
                current = late.get(event.owner)
                late[event.owner] = event.time if current is None else min(current, event.time)
        for customer, earliest in self.rechecks.items():
            late[customer] = min(late.get(customer, earliest), earliest)
        self.rechecks = {}
        self.runs += 1
        built: list[Invoice] = []
        outcomes = []
        for sub in self.subs.values():
            if sub.start > as_of:
                continue
            customer = self.customers[sub.customer]
            built += self._usage_invoices(sub, customer, as_of)
            until = as_of + timedelta(days=1)
            end = min(until, sub.ends) if sub.ends else until
            jobs: list[tuple[str, tuple[date, date], date]] = []
            for period in periods_over(sub.anchor, sub.interval, sub.start, end):
                issue = max(period[0], sub.start)
                if issue <= as_of and not self._final(sub, "advance", period):
                    jobs.append(("advance", period, issue))
            arrears = []
            for period in periods_over(sub.anchor, sub.usage_interval, sub.start, end):
                issue = min(period[1], sub.ends) if sub.ends else period[1]
                if issue <= as_of and not self._final(sub, "arrears", period):
                    arrears.append(("arrears", period, issue))
            stale = self._stale(sub, customer, late)
            target = self._target(sub, stale, arrears, as_of) if stale else None
            if target is not None and target not in arrears:
                jobs.append(target)
            jobs += arrears
            adjustments: dict[str, list[OLine]] = {}
            for invoice in stale:
                adjustments[invoice.ref] = self._adjustments(sub, invoice)
            for kind, period, issue in jobs:
                ref = doc_ref(sub.id, kind, period[0])
                raw: list[OLine] = []
                basis = None
                if kind == "advance":
                    raw, basis = self._advance(sub, period)
                elif kind == "arrears":
                    raw = self._arrears(sub, period) + self._deductions(sub, period)
                if (kind, period, issue) == target:
                    raw += [line for lines in adjustments.values() for line in lines]
                if not raw:
                    continue
                plan = self.plans[sub.terms[-1].plan]
                invoice = Invoice(ref, sub.id, sub.customer, kind, period, issue, plan.currency)
                invoice.basis = basis
                coupons = (
                    ()
                    if kind == "adjustment"
                    else self._discounts(sub, period, kind, plan.currency)
                )
                self._finish(invoice, raw, coupons, self._rates(customer))
                built.append(invoice)
            outcomes.append((sub, stale, adjustments, target))
        due = sorted(
            (
                i
                for i in built
                if self.now
                >= day_start(i.issue, self.customers[i.customer].timezone)
                + timedelta(hours=self.settings.grace_hours)
            ),
            key=lambda i: (i.issue, i.customer, i.kind, i.ref),
        )
        for invoice in built:
            self.invoices[invoice.ref] = invoice
        for invoice in self._consolidate(due):
            self._finalize(invoice)
        for sub, stale, adjustments, target in outcomes:
            target_ref = None if target is None else doc_ref(sub.id, target[0], target[1][0])
            target_final = target_ref is not None and self.invoices.get(target_ref) in due
            for invoice in stale:
                invoice.recheck = not (not adjustments[invoice.ref] or target_final)
            sub.recheck_from = None

    def _consolidate(self, due: list[Invoice]) -> list[Invoice]:
        """docs, Consolidated invoices: what a run finalizes, in numbering order. With
        ``billing.consolidate``, two or more of one customer, issue date and currency are
        finalized as one consolidated invoice (its parts finalized, naming it, no number) —
        unless that date's consolidated invoice exists already: then each stays on its own, as
        does an invoice alone on its date. (Interim invoices are issued by a sweep, not a run:
        never here.)"""
        if not self.settings.consolidate:
            return due
        groups: dict[tuple[str, str, date], list[Invoice]] = {}
        for invoice in due:
            groups.setdefault((invoice.customer, invoice.currency, invoice.issue), []).append(
                invoice
            )
        taken: set[str] = set()
        wholes: list[Invoice] = []
        for key, group in groups.items():
            if len(group) < 2 or key in self.consolidated:
                continue
            whole = _consolidated(group)
            self.consolidated[key] = whole.ref
            self.invoices[whole.ref] = whole
            for part in group:
                part.status = "finalized"
                part.consolidated_into = whole.ref
                taken.add(part.ref)
            wholes.append(whole)
        return sorted(
            [i for i in due if i.ref not in taken] + wholes,
            key=lambda i: (i.issue, i.customer, i.kind, i.ref),
        )

    def _final(self, sub: Sub, kind: str, period: tuple[date, date]) -> bool:
        invoice = self.invoices.get(doc_ref(sub.id, kind, period[0]))
        return invoice is not None and invoice.status != "draft"

    def _stale(self, sub: Sub, customer: Customer, late: Mapping[str, datetime]) -> list[Invoice]:
        who = self._family(sub.customer, sub.include_children)
        times = [late[c] for c in who if c in late]
        earliest = min(times) if times else None
        found = []
        for invoice in self.invoices.values():
            if invoice.subscription != sub.id or invoice.kind != "arrears":
                continue
            if invoice.status not in _FINAL:
                continue
            by_usage = earliest is not None and earliest < day_start(
                invoice.period[1], customer.timezone
            )
            by_terms = sub.recheck_from is not None and sub.recheck_from < invoice.period[1]
            if invoice.recheck or by_usage or by_terms:
                found.append(invoice)
        return sorted(found, key=lambda i: i.period[0])

    def _target(
        self,
        sub: Sub,
        stale: list[Invoice],
        arrears: list[tuple[str, tuple[date, date], date]],
        as_of: date,
    ) -> tuple[str, tuple[date, date], date] | None:
        """docs: on the next arrears invoice of the subscription, or on an adjustment invoice
        (``separate_invoice``, or the subscription has ended) dated the run's day, collecting
        further adjustments while it is a draft."""
        if self.settings.late_usage == "next_invoice":
            later = [job for job in arrears if job[1][0] >= stale[0].period[1]]
            if later:
                return later[0]
            if sub.ends is None or as_of < sub.ends:
                return None
        drafts = sorted(
            (
                i
                for i in self.invoices.values()
                if i.subscription == sub.id and i.kind == "adjustment" and i.status == "draft"
            ),
            key=lambda i: i.period[0],
        )
        if drafts:
            return ("adjustment", drafts[0].period, drafts[0].issue)
        return ("adjustment", (as_of, as_of + timedelta(days=1)), as_of)

    def _adjustments(self, sub: Sub, stale: Invoice) -> list[OLine]:
        """docs: the period rated again from all the usage known now, the difference with what
        the invoice and earlier finalized adjustments billed, line by line."""
        now = Invoice(
            stale.ref, sub.id, sub.customer, "arrears", stale.period, stale.issue, stale.currency
        )
        raw = self._arrears(sub, stale.period) + self._deductions(sub, stale.period)
        self._finish(now, raw, self._discounts(sub, stale.period, "arrears", stale.currency), None)
        billed = {line.key: line for line in stale.lines}
        expected = {line.key: line for line in now.lines}
        prior: dict[str, tuple[Fraction, Fraction]] = {}
        for invoice in self.invoices.values():
            if invoice.subscription != sub.id or invoice.status not in _FINAL or invoice.parts:
                continue  # a consolidated invoice bills its parts' lines: they are counted there
            for line in invoice.lines:
                if line.kind == "adjustment" and line.adjusts and line.adjusts[0] == stale.ref:
                    quantity, amount = prior.get(line.adjusts[1], (ZERO, ZERO))
                    prior[line.adjusts[1]] = (quantity + line.quantity, amount + line.amount)
        lines = []
        for key in sorted(set(billed) | set(expected)):
            was, will = billed.get(key), expected.get(key)
            before_quantity, before_amount = prior.get(key, (ZERO, ZERO))
            had_amount = (was.amount if was else ZERO) + before_amount
            had_quantity = (was.quantity if was else ZERO) + before_quantity
            want_amount = will.amount if will else ZERO
            want_quantity = will.quantity if will else ZERO
            if (want_amount, want_quantity) == (had_amount, had_quantity):
                continue
            source = will or was
            assert source is not None
            lines.append(
                OLine(
                    f"adjustment:{stale.ref}:{key}",
                    "adjustment",
                    source.charge,
                    want_quantity - had_quantity,
                    source.unit,
                    want_amount - had_amount,
                    source.tax_code,
                    source.service,
                    adjusts=(stale.ref, key),
                )
            )
        return lines

    def _finalize(self, invoice: Invoice) -> None:
        """docs: numbered (credit notes apart), prepaid credit usable on its issue date taken up
        to its total: limited grants first, then unlimited ones; within each, soonest expiry
        first, then oldest. A limited grant pays at most what is still unpaid of the lines in
        its scope (their parts of the invoice, ``parts``), taken off them in proportion."""
        invoice.status = "finalized"
        invoice.series = "INV" if invoice.total >= 0 else "CN"
        if invoice.total <= 0:
            return
        usable = sorted(
            (
                g
                for g in self.wallet
                if g.customer == invoice.customer
                and g.currency == invoice.currency
                and g.remaining > 0
                and g.granted_on <= invoice.issue
                and (g.expires_on is None or invoice.issue < g.expires_on)
            ),
            key=lambda g: (
                not g.scope.limited,
                g.expires_on is None,
                g.expires_on or date.max,
                g.granted_on,
                g.index,
            ),
        )
        left = invoice.total
        unpaid = parts(invoice) if any(g.scope.limited for g in usable) else {}
        for grant in usable:
            if left <= 0:
                break
            take = min(left, grant.remaining)
            if grant.scope.limited:
                mine = [i for i in unpaid if in_scope(invoice.lines[i], grant.scope)]
                reach = sum((unpaid[i] for i in mine), ZERO)
                if reach <= 0:
                    continue  # its lines come to nothing: it keeps its credit
                take = min(take, reach)
                # docs silent on the rounding of what is taken off each line: exact shares
                for i in mine:
                    unpaid[i] -= take * unpaid[i] / reach
            grant.remaining -= take
            invoice.uses.append((grant.index, take))
            left -= take
        invoice.credits = invoice.total - left

    # --- thresholds and interim invoices (docs/thresholds.md) --------------------------------

    def _do_sweep(self, action: Sweep) -> None:
        touched = {e.owner for e in self.events if e.sweeps_before == self.sweeps and e.owner}
        self.sweeps += 1
        for sub in self.subs.values():
            who = self._family(sub.customer, sub.include_children)
            if not touched & set(who):
                continue
            customer = self.customers[sub.customer]
            today = self.now.astimezone(ZoneInfo(customer.timezone)).date()
            terms = sub.terms_on(today)
            if terms is None or (sub.ends is not None and sub.ends <= today):
                continue
            plan = self.plans[terms.plan]
            spends = [t for t in plan.thresholds if t.kind == "spend"]
            if not spends:
                continue
            period = period_at(today, sub.anchor, sub.usage_interval)
            # docs/thresholds.md: no fees, no minimum (nor a charge's own)
            # docs (Usage billed as it arrives): only the charges billed in arrears count
            lines = [
                x
                for x in self._usage_lines(sub, period, timing="in_arrears")
                if x.kind not in ("minimum", "charge_minimum")
            ]
            spend = sum((self._money(x.amount, plan.currency) for x in lines), ZERO)
            reached = [
                t
                for t in spends
                if spend >= t.value and (sub.id, t.key, period[0]) not in self.fired
            ]
            for threshold in reached:
                self.fired.add((sub.id, threshold.key, period[0]))
            billing = [t for t in reached if t.invoice]
            if not billing or self._final(sub, "arrears", period):
                continue
            key = max(billing, key=lambda t: t.value).key
            raw = lines + self._deduct(self._latest(sub, period, "interim"), "interim")
            if not raw:
                continue
            invoice = Invoice(
                doc_ref(sub.id, "interim", period[0], key),
                sub.id,
                sub.customer,
                "interim",
                period,
                today,
                plan.currency,
            )
            coupons = [
                c
                for c in self._discounts(sub, period, "arrears", plan.currency)
                if c.percent is not None
            ]
            self._finish(invoice, raw, coupons, self._rates(customer))
            if invoice.total <= 0:
                continue
            self.invoices[invoice.ref] = invoice
            self._finalize(invoice)

    # --- the invoices' lives after finalization ----------------------------------------------

    def _pick(self, pick: Pick) -> Invoice:
        """The invoice of the subscription — a consolidated one: that bills a part of it, the
        first issued of those — of the kind, starting on the day."""
        found = [
            invoice
            for invoice in self.invoices.values()
            if invoice.kind == pick.kind
            and invoice.period[0] == pick.start
            and pick.subscription
            in ({p.subscription for p in invoice.parts} or {invoice.subscription})
        ]
        if not found:
            raise Refused(f"no invoice {pick}")
        return min(found, key=lambda i: i.issue)

    def _do_post(self, action: Post) -> None:
        """docs silent on a consolidated invoice's parts once it is posted or paid: they stay
        ``finalized`` (docs: "finalized with ``consolidated_into``"; only a void reaches them)."""
        invoice = self._pick(action.pick)
        if invoice.status == "finalized":
            invoice.status = "posted"

    def _do_pay(self, action: Pay) -> None:
        invoice = self._pick(action.pick)
        if invoice.status in ("finalized", "posted"):
            invoice.status = "paid"

    def _credited(
        self, invoice: Invoice
    ) -> tuple[dict[str, Fraction], dict[str, Fraction], dict[str, Fraction]]:
        """What earlier notes credited (positive): by line key, tax base and tax, per code."""
        lines: dict[str, Fraction] = {}
        bases: dict[str, Fraction] = {}
        taxes: dict[str, Fraction] = {}
        for note in invoice.notes:
            for line in note.lines:
                key = line.key.removeprefix("credit:")
                lines[key] = lines.get(key, ZERO) - line.amount
            for code, _, base, amount in note.taxes:
                bases[code] = bases.get(code, ZERO) - base
                taxes[code] = taxes.get(code, ZERO) - amount
        return lines, bases, taxes

    def _note(
        self, invoice: Invoice, lines: list[OLine], taxes: list[Any], credits: Fraction
    ) -> Invoice:
        note = Invoice(
            f"{invoice.ref}/note-{len(invoice.notes) + 1}",
            invoice.subscription,
            invoice.customer,
            "credit_note",
            invoice.period,
            self.now.date(),
            invoice.currency,
            status="finalized",
            lines=lines,
            taxes=taxes,
            credits=credits,
            series="CN",
            credits_ref=invoice.ref,
        )
        invoice.notes.append(note)
        return note

    def _do_void_invoice(self, action: VoidInvoice) -> None:
        """docs: a void credits all that is left of the invoice — every line, discount and tax
        less what earlier notes credited — and gives back the prepaid credit it took. docs
        silent on voiding a paid invoice; the lifecycle reads ``… → posted → paid, or void``: a
        paid invoice is not voided (it is credited). docs, Consolidated invoices: a part is not
        voided (its consolidated invoice is); voiding that voids its parts too."""
        try:
            invoice = self._pick(action.pick)
        except Refused:
            self.outcome.looks[action.tag] = "refused"
            return
        if invoice.consolidated_into is not None or invoice.status not in ("finalized", "posted"):
            self.outcome.looks[action.tag] = "refused"
            return
        credited, bases, taxed = self._credited(invoice)
        lines = []
        for line in invoice.lines:
            done = credited.get(line.key, ZERO)
            if line.key in credited and done == line.amount:
                continue
            kind = "discount" if line.kind == "discount" else "credit"
            if done:
                rest = done - line.amount
                lines.append(
                    replace(
                        line,
                        key=f"credit:{line.key}",
                        kind=kind,
                        quantity=Fraction(1),
                        unit=rest,
                        amount=rest,
                        prorated=None,
                        figure=None,
                    )
                )
            else:
                lines.append(
                    replace(
                        line,
                        key=f"credit:{line.key}",
                        kind=kind,
                        unit=-line.unit,
                        amount=-line.amount,
                        prorated=None,
                        figure=None,
                    )
                )
        taxes = []
        for code, rate, base, amount in invoice.taxes:
            rest = taxed.get(code, ZERO) - amount
            if rest or code not in taxed:
                taxes.append((code, rate, bases.get(code, ZERO) - base, rest))
        note = self._note(invoice, lines, taxes, -invoice.credits)
        for index, amount in invoice.uses:
            self.wallet[index].remaining += amount
        invoice.status = "void"
        for part in invoice.parts:
            part.status = "void"
        self.outcome.looks[action.tag] = note.ref

    def _do_credit_lines(self, action: CreditLines) -> None:
        """docs: part of some lines, at most what is left of each after earlier notes, taxed at
        the invoice's rates; however it is split, the notes never credit more than the invoice's
        total. docs silent on the rounding rest: the note that leaves nothing of a code's
        charged lines to credit credits what is left of the code's tax. docs, Consolidated
        invoices: a part is not credited (its consolidated invoice is)."""
        try:
            invoice = self._pick(action.pick)
        except Refused:
            self.outcome.looks[action.tag] = "refused"
            return
        if invoice.consolidated_into is not None or invoice.status not in _FINAL:
            self.outcome.looks[action.tag] = "refused"
            return
        credited, _, taxed = self._credited(invoice)
        worth = _worth(invoice)
        charged = sorted(
            (x for x in invoice.lines if x.amount > 0 and x.kind != "discount"), key=lambda x: x.key
        )
        chosen = charged[:1] if action.which == "first" else charged
        amounts: dict[str, Fraction] = {}
        for line in chosen:
            if action.share is None:  # what a client asks: the rest of the line as billed
                amounts[line.key] = line.amount - credited.get(line.key, ZERO)
            else:
                amounts[line.key] = round_money(
                    line.amount * num(action.share), invoice.currency, "down"
                )
        if not amounts:
            self.outcome.looks[action.tag] = "refused"
            return
        lines = []
        for key in sorted(amounts):
            line = next(x for x in invoice.lines if x.key == key)
            left = worth[key] - credited.get(key, ZERO)
            if not ZERO < amounts[key] <= left:
                self.outcome.looks[action.tag] = "refused"
                return
            lines.append(
                replace(
                    line,
                    key=f"credit:{key}",
                    kind="credit",
                    quantity=Fraction(1),
                    unit=-amounts[key],
                    amount=-amounts[key],
                    prorated=None,
                    figure=None,
                )
            )
        taxes = []
        for code, rate, _, amount in invoice.taxes:
            base = sum((x.amount for x in lines if x.tax_code == code), ZERO)
            if not base:
                continue
            left = amount - taxed.get(code, ZERO)
            tax = round_money(base * rate / 100, invoice.currency, self.settings.rounding)
            rest = [
                worth[x.key] - credited.get(x.key, ZERO) - amounts.get(x.key, ZERO)
                for x in invoice.lines
                if x.tax_code == code and x.amount > 0 and x.kind != "discount"
            ]
            if not any(rest) or -tax > left:
                tax = -left
            taxes.append((code, rate, base, tax))
        before = sum((n.total for n in invoice.notes), ZERO)
        total = sum((x.amount for x in lines), ZERO) + sum((t[3] for t in taxes), ZERO)
        if -(before + total) > invoice.total:
            self.outcome.looks[action.tag] = "refused"
            return
        note = self._note(invoice, lines, taxes, ZERO)
        self.outcome.looks[action.tag] = note.ref

    # --- looks -------------------------------------------------------------------------------

    def _do_look_upcoming(self, action: LookUpcoming) -> None:
        """docs: the open usage period of each of the customer's subscriptions rated with the
        usage so far, nothing stored."""
        customer = self.customers[action.customer]
        today = self.now.astimezone(ZoneInfo(customer.timezone)).date()
        drafts = []
        for sub in self.subs.values():
            if sub.customer != customer.id or sub.start > today:
                continue
            if sub.ends is not None and sub.ends <= today:
                continue
            period = period_at(today, sub.anchor, sub.usage_interval)
            issue = min(period[1], sub.ends) if sub.ends else period[1]
            raw = self._arrears(sub, period) + self._deductions(sub, period)
            if not raw:
                continue
            plan = self.plans[sub.terms[-1].plan]
            invoice = Invoice(
                doc_ref(sub.id, "arrears", period[0]),
                sub.id,
                sub.customer,
                "arrears",
                period,
                issue,
                plan.currency,
            )
            coupons = self._discounts(sub, period, "arrears", plan.currency)
            self._finish(invoice, raw, coupons, self._rates(customer))
            drafts.append(self._doc(invoice))
        self.outcome.looks[action.tag] = tuple(sorted(drafts, key=lambda d: d.ref))

    def _do_look_usage(self, action: LookUsage) -> None:
        customer = self.customers[action.customer]
        total, _, _, ids, _ = self._figure(
            (customer.id,), customer.timezone, action.meter, (action.start, action.end), None
        )
        self.outcome.looks[action.tag] = as_decimal(total) if ids else None

    # --- answers -----------------------------------------------------------------------------

    def _doc(self, invoice: Invoice) -> Doc:
        lines = []
        for line in invoice.lines:
            key = line.key
            lines.append(
                Line(
                    key,
                    as_decimal(line.quantity),
                    as_decimal(line.unit),
                    as_decimal(line.amount),
                    line.tax_code,
                    line.prorated,
                )
            )
            if line.figure is not None and invoice.status != "draft":
                self.outcome.lineage[(invoice.ref, key)] = (
                    as_decimal(line.figure[0]),
                    line.figure[1],
                )
                if line.held is not None:
                    carried_in, end, zone, period_days = line.held
                    self.outcome.held[(invoice.ref, key)] = Held(
                        as_decimal(carried_in), as_decimal(end), zone, line.service, period_days
                    )
        taxes = tuple(
            sorted(
                (code, as_decimal(base), as_decimal(amount))
                for code, _, base, amount in invoice.taxes
                if base or amount
            )
        )
        totals = tuple(
            as_decimal(v)
            for v in (
                invoice.subtotal,
                invoice.discount,
                invoice.tax,
                invoice.total,
                invoice.credits,
            )
        )
        return Doc(
            ref=invoice.ref,
            kind=invoice.kind,
            period=invoice.period,
            status=invoice.status,
            issue_date=invoice.issue,
            lines=tuple(sorted(lines, key=lambda x: x.key)),
            taxes=taxes,
            totals=totals,  # type: ignore[arg-type]
            series=invoice.series,
            consolidated_into=invoice.consolidated_into,
        )


def _consolidated(group: Sequence[Invoice]) -> Invoice:
    """docs, Consolidated invoices: one invoice billing ``group`` (of one customer, issue date
    and currency) — the parts ordered by subscription, then kind (docs silent on one
    subscription's two parts of one kind: by period start); every line of each, keyed
    ``<part>:<key>``, as the part rated it (amount, tax code, lineage, what it adjusts); the
    parts' taxes summed per code and rate; so its totals are the parts' sums. Its period: "from
    the first part's start to the last one's end", read in time (the earliest start, the latest
    end: parts ordered by subscription and kind may start later than they end). Its ref names
    the first part's subscription, its period start and its issue date (its id in revsync is
    per customer, currency and date)."""
    ordered = sorted(group, key=lambda p: (p.subscription, p.kind, p.period[0]))
    first = ordered[0]
    start = min(p.period[0] for p in ordered)
    whole = Invoice(
        doc_ref(first.subscription, "consolidated", start, first.issue.isoformat()),
        first.subscription,
        first.customer,
        "consolidated",
        (start, max(p.period[1] for p in ordered)),
        first.issue,
        first.currency,
        parts=ordered,
    )
    taxes: dict[tuple[str, Fraction], tuple[Fraction, Fraction]] = {}
    for part in ordered:
        offset = len(whole.lines)
        whole.lines += [replace(line, key=f"{part.ref}:{line.key}") for line in part.lines]
        whole.discounted.update({offset + i: v for i, v in part.discounted.items()})
        for code, rate, base, amount in part.taxes:
            was_base, was_amount = taxes.get((code, rate), (ZERO, ZERO))
            taxes[(code, rate)] = (was_base + base, was_amount + amount)
    whole.taxes = [
        (code, rate, base, amount) for (code, rate), (base, amount) in sorted(taxes.items())
    ]
    return whole


def _worth(invoice: Invoice) -> dict[str, Fraction]:
    """docs: what a partial credit note may credit of a line — its value after the invoice's
    discounts: each discount line of a tax code shared over that code's (not adjustment) lines
    in proportion to what earlier discounts left of them, largest remainder. On a consolidated
    invoice, each line's value after its own part's discounts."""
    if invoice.parts:
        return {
            f"{part.ref}:{key}": value
            for part in invoice.parts
            for key, value in _worth(part).items()
        }
    lines = [x for x in invoice.lines if x.kind != "discount"]
    worth = {x.key: x.amount for x in lines}
    for discount in (x for x in invoice.lines if x.kind == "discount"):
        reached = [x for x in lines if x.tax_code == discount.tax_code and x.kind != "adjustment"]
        parts = largest_remainder(
            -discount.amount, [worth[x.key] for x in reached], invoice.currency
        )
        for line, part in zip(reached, parts, strict=True):
            worth[line.key] -= part
    return worth


def parts(invoice: Invoice) -> dict[int, Fraction]:
    """docs, Prepaid credits: each line's part of the invoice (by position, discount lines
    aside) — its amount, less what the discount lines took from it, plus its share of its tax
    code's tax (pro rata to the discounted amounts, largest remainder) — so that the parts add
    up to the total."""
    found: dict[int, Fraction] = {}
    for index, line in enumerate(invoice.lines):
        if line.kind != "discount":
            found[index] = line.amount - invoice.discounted.get(index, ZERO)
    for code, _, _, tax in invoice.taxes:
        mine = [i for i in found if invoice.lines[i].tax_code == code]
        for i, share in zip(
            mine, shared(tax, [found[i] for i in mine], invoice.currency), strict=True
        ):
            found[i] += share
    return found


def in_scope(line: OLine, scope: Scope) -> bool:
    """docs, Scopes: a line is in a limited scope when it belongs to one of the plans (fees,
    prorations, usage, minimum and cap; a correction as the line it corrects) or bills one of
    the meters (usage lines and their corrections only); discount lines never are."""
    if not scope.limited:
        return line.kind != "discount"
    if line.kind in ("discount", "credit"):
        return False
    if line.plan is not None and line.plan in scope.plans:
        return True
    return line.meter is not None and line.meter in scope.meters


def shared(total: Fraction, weights: Sequence[Fraction], currency: str) -> list[Fraction]:
    """``total`` shared in proportion to ``weights``: in whole minor units by largest remainder
    when it can be (a positive total over weights that are not negative), else exactly."""
    weight_sum = sum(weights, ZERO)
    if weight_sum == 0:
        return [ZERO for _ in weights]
    if total > 0 and all(w >= 0 for w in weights) and total * 10 ** places(currency) % 1 == 0:
        return largest_remainder(total, weights, currency)
    return [total * w / weight_sum for w in weights]


def largest_remainder(
    total: Fraction, weights: Sequence[Fraction], currency: str
) -> list[Fraction]:
    """``total`` split in whole minor units in proportion to ``weights``: floors first, then one
    unit each to the largest remainders (docs silent on ties: the first code in order)."""
    unit = Fraction(1, 10 ** places(currency))
    weight_sum = sum(weights, ZERO)
    if not weights or weight_sum == 0:
        return [ZERO for _ in weights]
    units = int(total / unit)
    exact = [units * w / weight_sum for w in weights]
    floors = [e.numerator // e.denominator for e in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[: units - sum(floors)]:
        floors[i] += 1
    return [f * unit for f in floors]


def expect(
    settings: Settings,
    plans: Iterable[Mapping[str, Any]],
    coupons: Iterable[Mapping[str, Any]],
    meters: Iterable[Mapping[str, Any]],
    actions: list[Action],
) -> Outcome:
    """What a correct revsync holds after ``actions``."""
    return Oracle(settings, plans, coupons, meters).play(actions)
