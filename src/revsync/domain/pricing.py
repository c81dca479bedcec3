"""Plans, charges and rating: how usage and subscriptions become exact, unrounded amounts.

A *plan* (code + version) has one currency, a recurring interval, a usage interval and a
list of *charges*. Build plans with ``new_plan`` (or ``plan_from_mapping`` for JSON/YAML
data), which validates everything and raises ``InvalidField`` with a dotted field path
such as ``charges.2.tiers.1.up_to``. Rating is pure: no I/O, no clock, no rounding. Each
result line (``Rated``) carries a ``part`` that is stable within its charge, so
``(charge.key, part)`` is the deterministic reference of an invoice line: re-rating a
period updates its lines instead of duplicating them. The invoice rounds each line once.

Exactness
    Amounts and quantities are ``Decimal``, never ``float``. Products and sums are computed
    in ``RATING_PRECISION`` (60) significant digits with ``Inexact`` trapped, so they are
    exact or refused with ``InvalidField("usage", ...)``. The one place a result may be
    inexact is a proration fraction (``price × seats × days / period_days`` and the
    prorated minimum / maximum): the numerator is computed exactly and divided once in
    ``RATING_CONTEXT`` (60 digits, ``Inexact`` not trapped), so 1/3 of a month is rounded
    once, at the 60th digit. Decimals in plans are finite, non-negative, with at most 30
    digits before the point and 18 after; floats are refused because they are inexact.

Usage models (``rate_usage``, one function per model in ``RATERS``)
    * ``per_unit``: one line (part ``""``), quantity = total, unit = ``amount``.
    * ``graduated``: tier *i* covers quantities above the previous tier's ``up_to`` up to and
      including its own. One line per tier that receives a quantity > 0 (part ``tier-i``,
      1-based): quantity in the tier × its ``unit_amount``, plus its ``flat_amount``. A
      total exactly on a boundary (1000 with ``up_to`` 1000) stays in the lower tier; 1001
      puts 1 unit in the next. A zero total gives one ``tier-1`` line of quantity 0 and
      amount 0 (no flat amount) — or, with ``flat_fee_at_zero``, the first tier's flat
      amount (a base fee for the period, used or not).
    * ``volume``: the whole total at the price of the tier that contains it (same boundary
      rule), plus that tier's ``flat_amount``; one line, part ``tier-i``. A zero total gives
      ``tier-1`` with amount 0 (no flat amount). Volume pricing is *not* monotone in
      general: with cheaper upper tiers, 1001 units may cost less than 1000 (the usual
      volume-discount cliff). It is monotone when unit and flat amounts never decrease from
      one tier to the next.
    * ``package``: packages = ceil(total / ``package_size``) (a fraction of a package counts
      as a whole one); one line, quantity = packages, unit = ``amount``. With ``included``
      (free units), those come first at no charge — a line ``included`` of min(total,
      included) at unit 0 — and the packages count the rest: ceil(max(0, total − included)
      / size), part ``packages``.
    * ``allowance``: always two lines, ``included`` (min(total, included) at unit 0) and
      ``overage`` (the rest at ``amount``), so the invoice shows what was included.
    * ``per_dimension``: ``UsageInput.by_dimension`` maps each value of the charge's
      ``dimension`` (as text; ``""`` = the events that have none) to its quantity; the
      quantities must add up to ``total``. One line per value with quantity > 0, sorted by
      value (part ``dim:<value>``, group ``((dimension, value),)``), priced from ``prices``
      or else ``default_price``. A value with quantity > 0 and no price is refused with
      ``InvalidField("charges.<key>.prices", "no price for <dimension> '<value>'")``. A zero
      total gives no lines at all (``[]``).

    * ``percentage``: ``UsageInput.values`` holds each transaction's amount in the order they
      happened (they must add up to ``total``). The period's free allowance comes first:
      ``free_transactions`` (the first N transactions) and/or ``free_amount`` (the first X of
      amount; the transaction that crosses it pays on its part above); with both, the
      allowance ends when either is used up. A wholly free transaction pays nothing; any other
      pays ``rate`` % of its charged amount + ``fixed_amount``, raised to
      ``min_per_transaction`` / held to ``max_per_transaction``. Lines: ``free`` (when an
      allowance is set: the free amount at 0) and ``fees`` — quantity = the charged amount,
      unit = rate / 100, amount = the exact sum of the transactions' fees (so with a fixed
      amount or bounds, quantity × unit is not the amount; the description says why).

    ``UsageInput.by_dimension`` is ignored by every other model, ``UsageInput.values`` by every
    model but ``percentage``.

Charge minimum
    Any usage charge may have a ``minimum``: ``charge_minimum`` adds what its lines (rounded as
    billed) fall short of ``minimum × days / period_days`` (part ``minimum``).

Recurring models (``rate_recurring``)
    ``flat`` (quantity 1) and ``per_seat`` (quantity = seats; ``seats`` is ignored by
    ``flat``): one line, part ``""``, unit = ``amount`` (the full-period price). For a
    segment of ``days`` out of ``period_days`` the amount is prorated — ``amount × quantity
    × days / period_days`` — while quantity and unit stay the full-period ones, and the
    description says ``(prorated 10/30 days)``. So on a prorated line, quantity × unit is
    *not* the amount; the fraction is in the description. ``timing`` (in advance or in
    arrears) decides when the caller bills the period, not how it is rated; a usage charge
    in advance is billed day by day as the usage arrives (not ``volume``, whose price can
    fall as usage grows).

Minimum and maximum (per usage period, over the total of the usage charges)
    With ``minimum_includes_fees`` the caller adds the recurring fees' share of the period to
    the usage amount it passes to ``true_up``. ``true_up`` adds ``minimum × days /
    period_days − usage`` when positive (part ``minimum``); ``cap`` subtracts ``usage −
    maximum × days / period_days`` when positive (part ``cap``, negative amount). Both are
    one line of quantity 1 whose unit equals its amount, or ``None`` when there is nothing to
    add or subtract.

Descriptions
    The charge's description, then `` — `` and the detail. Numbers are plain (never an
    exponent), with ``,`` as thousands separator and no trailing fractional zeros:
    ``API calls — tier 2 (1,001–10,000)``. Tier ranges read ``up to 1,000``,
    ``1,001–10,000`` (when the lower bound is a whole number), ``above 1,000.5 up to 2,000``
    (when it is not), ``above 10,000`` and ``all units``.

Misuse
    Negative or non-finite usage is refused with ``InvalidField("usage", ...)`` (and bad
    ``seats`` / ``days`` / ``period_days`` / ``usage_amount`` with ``InvalidField`` naming
    them). Rating a usage charge with ``rate_recurring`` (or the reverse), or rating a
    charge that ``new_plan`` would refuse, is a programming error: ``ValueError``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
)
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final, TypeVar

from revsync.domain.entitlements import Feature, FeatureKind, check_features, feature_to_mapping
from revsync.domain.errors import InvalidField
from revsync.domain.money import is_currency, plain
from revsync.domain.periods import Interval
from revsync.domain.thresholds import (
    Threshold,
    ThresholdKind,
    check_thresholds,
    threshold_to_mapping,
)

# --- exact arithmetic ------------------------------------------------------------------

#: significant digits of every rating computation
RATING_PRECISION: Final = 60
#: the context of proration fractions, the only computations allowed to be inexact
RATING_CONTEXT: Final = Context(
    prec=RATING_PRECISION,
    rounding=ROUND_HALF_EVEN,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)
#: the context of products and sums: any rounding raises ``Inexact``
_EXACT: Final = Context(
    prec=RATING_PRECISION,
    rounding=ROUND_HALF_EVEN,
    traps=[InvalidOperation, DivisionByZero, Overflow, Inexact],
)

_ZERO: Final = Decimal(0)
_ONE: Final = Decimal(1)
#: bounds of the decimals a plan may hold
_MAX_INTEGER_DIGITS: Final = 30
_MAX_DECIMALS: Final = 18
_QUANTUM: Final = Decimal(1).scaleb(-_MAX_DECIMALS)
_DECIMAL_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_CODE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


# --- the model -------------------------------------------------------------------------


class ChargeModel(StrEnum):
    """How a charge turns a quantity into an amount."""

    FLAT = "flat"
    PER_SEAT = "per_seat"
    PER_UNIT = "per_unit"
    GRADUATED = "graduated"
    VOLUME = "volume"
    PACKAGE = "package"
    ALLOWANCE = "allowance"
    PER_DIMENSION = "per_dimension"
    PERCENTAGE = "percentage"


class Timing(StrEnum):
    """Whether a charge is billed at the start of its period or after it."""

    IN_ADVANCE = "in_advance"
    IN_ARREARS = "in_arrears"


#: models rated per period from the subscription (``rate_recurring``)
RECURRING_MODELS: Final = frozenset({ChargeModel.FLAT, ChargeModel.PER_SEAT})
#: models rated from a meter's usage (``rate_usage``)
USAGE_MODELS: Final = frozenset(ChargeModel) - RECURRING_MODELS


@dataclass(frozen=True, slots=True)
class Tier:
    """One tier of a graduated or volume charge, covering (previous ``up_to``, ``up_to``]."""

    up_to: Decimal | None
    unit_amount: Decimal
    flat_amount: Decimal = _ZERO


@dataclass(frozen=True, slots=True)
class Charge:
    """One priced item of a plan; see the module docstring for what each model uses."""

    key: str
    model: ChargeModel
    description: str
    timing: Timing = Timing.IN_ARREARS
    amount: Decimal | None = None
    meter: str | None = None
    tiers: tuple[Tier, ...] = ()
    package_size: Decimal | None = None
    included: Decimal | None = None
    dimension: str | None = None
    prices: tuple[tuple[str, Decimal], ...] = ()
    default_price: Decimal | None = None
    tax_code: str = "standard"
    #: graduated: the first tier's flat amount is charged at zero usage too
    flat_fee_at_zero: bool = False
    #: percentage: percent of each transaction's amount (``2.9`` = 2.9 %)
    rate: Decimal | None = None
    #: percentage: a fixed amount per charged transaction
    fixed_amount: Decimal | None = None
    #: percentage: the period's first transactions that are free
    free_transactions: int | None = None
    #: percentage: the period's first transaction amount that is free
    free_amount: Decimal | None = None
    #: percentage: bounds of one transaction's fee
    min_per_transaction: Decimal | None = None
    max_per_transaction: Decimal | None = None
    #: any usage model: what the charge bills at least per usage period (prorated by day)
    minimum: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """A versioned price list; build it with ``new_plan``, which validates it."""

    code: str
    version: int
    name: str
    currency: str
    interval: Interval
    usage_interval: Interval
    charges: tuple[Charge, ...]
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    #: the minimum counts the recurring fees' share of the usage period as well as usage
    minimum_includes_fees: bool = False
    #: what the plan entitles a customer to (domain/entitlements.py)
    features: tuple[Feature, ...] = ()
    #: usage, percent and spend thresholds of every subscription on it (domain/thresholds.py)
    thresholds: tuple[Threshold, ...] = ()

    def feature(self, key: str) -> Feature | None:
        """The plan's feature ``key``, if it has it."""
        return next((f for f in self.features if f.key == key), None)

    def included(self) -> dict[str, Decimal]:
        """Meter → what the plan includes of it: its quota feature's limit, else the
        ``included`` units of its allowance or package charge (what a percent threshold counts
        against)."""
        found = {
            c.meter: c.included
            for c in self.charges
            if c.model in (ChargeModel.ALLOWANCE, ChargeModel.PACKAGE)
            and c.meter is not None
            and c.included is not None
        }
        for feature in self.features:
            if feature.kind is FeatureKind.QUOTA and feature.meter is not None:
                assert feature.limit is not None  # a quota has one
                found[feature.meter] = feature.limit
        return found


@dataclass(frozen=True, slots=True)
class Rated:
    """One exact, unrounded line of a rated charge; ``part`` is stable within the charge."""

    part: str
    description: str
    quantity: Decimal
    unit_amount: Decimal
    amount: Decimal
    group: tuple[tuple[str, str], ...] = ()


_NO_DIMENSIONS: Final[Mapping[str, Decimal]] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class UsageInput:
    """A meter's value over a period (or segment), its split by dimension value, and — for
    a percentage charge — each transaction's amount in the order they happened."""

    total: Decimal
    by_dimension: Mapping[str, Decimal] = dataclasses.field(default_factory=lambda: _NO_DIMENSIONS)
    values: Sequence[Decimal] | None = None


#: the percentage model's optional fields (its meter and rate are required)
_PERCENTAGE_OPTIONS: Final = (
    "fixed_amount",
    "free_transactions",
    "free_amount",
    "min_per_transaction",
    "max_per_transaction",
)
#: which optional fields each model uses (the others must be left empty)
_USES: Final[Mapping[ChargeModel, frozenset[str]]] = MappingProxyType(
    {
        ChargeModel.FLAT: frozenset({"amount"}),
        ChargeModel.PER_SEAT: frozenset({"amount"}),
        ChargeModel.PER_UNIT: frozenset({"amount", "meter"}),
        ChargeModel.GRADUATED: frozenset({"tiers", "meter"}),
        ChargeModel.VOLUME: frozenset({"tiers", "meter"}),
        ChargeModel.PACKAGE: frozenset({"amount", "package_size", "included", "meter"}),
        ChargeModel.ALLOWANCE: frozenset({"amount", "included", "meter"}),
        ChargeModel.PER_DIMENSION: frozenset({"meter", "dimension", "prices", "default_price"}),
        ChargeModel.PERCENTAGE: frozenset({"meter", "rate", *_PERCENTAGE_OPTIONS}),
    }
)
#: the fields that only some models use
_MODEL_FIELDS: Final = (
    "amount",
    "meter",
    "tiers",
    "package_size",
    "included",
    "dimension",
    "prices",
    "default_price",
    "rate",
    *_PERCENTAGE_OPTIONS,
)
#: the fields of ``_USES`` a model may leave empty
_MAY_BE_EMPTY: Final[Mapping[ChargeModel, frozenset[str]]] = MappingProxyType(
    {
        ChargeModel.PER_DIMENSION: frozenset({"default_price"}),
        ChargeModel.PACKAGE: frozenset({"included"}),  # free units before the packages
        ChargeModel.PERCENTAGE: frozenset(_PERCENTAGE_OPTIONS),
    }
)


# --- validating plans ------------------------------------------------------------------


def new_plan(
    *,
    code: str,
    version: int,
    name: str,
    currency: str,
    interval: Interval | str,
    usage_interval: Interval | str | None = None,
    charges: Sequence[Charge],
    minimum: Decimal | None = None,
    maximum: Decimal | None = None,
    minimum_includes_fees: bool = False,
    features: Sequence[Feature | Mapping[str, Any]] | None = None,
    thresholds: Sequence[Threshold | Mapping[str, Any]] | None = None,
) -> Plan:
    """A validated plan; raises ``InvalidField`` naming the field at fault.

    Values are normalized: enum fields may be given as their string values, decimals as
    ``int`` or decimal strings, sequences as lists; ``prices`` are sorted by value.
    ``usage_interval`` defaults to ``interval``.
    """
    if not isinstance(code, str) or not _CODE_PATTERN.fullmatch(code):
        raise InvalidField("code", f"{code!r} does not match {_CODE_PATTERN.pattern}")
    if type(version) is not int or version < 1:
        raise InvalidField("version", f"expected an integer ≥ 1, got {version!r}")
    if not isinstance(name, str) or not name.strip():
        raise InvalidField("name", "must not be empty")
    if not isinstance(currency, str) or not is_currency(currency):
        raise InvalidField("currency", f"{currency!r} is not an ISO 4217 currency code")
    recurring = _enum(Interval, interval, "interval")
    usage = (
        recurring if usage_interval is None else _enum(Interval, usage_interval, "usage_interval")
    )
    if not usage.divides(recurring):
        raise InvalidField(
            "usage_interval",
            f"a {recurring.value} plan cannot have a {usage.value} usage period (usage periods "
            "divide the billing period: a week only a week; month, quarter, half_year, year)",
        )
    checked = _check_charges(charges)
    low = None if minimum is None else _amount(minimum, "minimum")
    high = None if maximum is None else _amount(maximum, "maximum")
    if (low is not None or high is not None) and not any(c.model in USAGE_MODELS for c in checked):
        field = "minimum" if low is not None else "maximum"
        raise InvalidField(field, "applies to usage charges, and the plan has none")
    if low is not None and high is not None and high < low:
        raise InvalidField("maximum", f"must not be less than the minimum ({plain(low)})")
    if not isinstance(minimum_includes_fees, bool):
        raise InvalidField("minimum_includes_fees", "expected true or false")
    if minimum_includes_fees and low is None:
        raise InvalidField("minimum_includes_fees", "the plan has no minimum")
    plan = Plan(
        code=code,
        version=version,
        name=name,
        currency=currency,
        interval=recurring,
        usage_interval=usage,
        charges=checked,
        minimum=low,
        maximum=high,
        minimum_includes_fees=minimum_includes_fees,
        features=check_features(features),
    )
    return replace(plan, thresholds=check_plan_thresholds(plan, thresholds))


def check_plan_thresholds(
    plan: Plan, thresholds: object, field: str = "thresholds"
) -> tuple[Threshold, ...]:
    """Thresholds checked against ``plan``: a percent threshold needs a meter the plan
    includes some of, a spend threshold a plan with usage charges."""
    checked = check_thresholds(thresholds, field)
    included = plan.included()
    for index, threshold in enumerate(checked):
        if threshold.kind is ThresholdKind.PERCENT and threshold.meter not in included:
            raise InvalidField(
                f"{field}.{index}.meter",
                f"plan {plan.code!r} includes nothing of {threshold.meter!r} (no quota feature "
                "or allowance charge on it) to take a percent of",
            )
        if threshold.kind is ThresholdKind.SPEND and not any(
            c.model in USAGE_MODELS for c in plan.charges
        ):
            raise InvalidField(f"{field}.{index}.kind", "the plan has no usage charges to spend on")
    return checked


def _check_charges(charges: object) -> tuple[Charge, ...]:
    if isinstance(charges, str | bytes) or not isinstance(charges, Sequence):
        raise InvalidField("charges", f"expected a list of charges, got {_type_name(charges)}")
    if not charges:
        raise InvalidField("charges", "a plan needs at least one charge")
    checked: list[Charge] = []
    seen: set[str] = set()
    for index, charge in enumerate(charges):
        normal = _check_charge(charge, f"charges.{index}")
        if normal.key in seen:
            raise InvalidField("charges", f"duplicate key {normal.key!r}")
        seen.add(normal.key)
        checked.append(normal)
    return tuple(checked)


def _check_charge(charge: object, path: str) -> Charge:
    if not isinstance(charge, Charge):
        raise InvalidField(path, f"expected a Charge, got {_type_name(charge)}")
    if not isinstance(charge.key, str) or not _KEY_PATTERN.fullmatch(charge.key):
        raise InvalidField(f"{path}.key", f"{charge.key!r} does not match {_KEY_PATTERN.pattern}")
    model = _enum(ChargeModel, charge.model, f"{path}.model")
    if not isinstance(charge.description, str) or not charge.description.strip():
        raise InvalidField(f"{path}.description", "must not be empty")
    timing = _enum(Timing, charge.timing, f"{path}.timing")
    if model is ChargeModel.VOLUME and timing is not Timing.IN_ARREARS:
        raise InvalidField(
            f"{path}.timing",
            "a volume price can fall as usage grows: volume charges are billed in arrears",
        )
    if not isinstance(charge.flat_fee_at_zero, bool):
        raise InvalidField(f"{path}.flat_fee_at_zero", "expected true or false")
    if charge.flat_fee_at_zero and model is not ChargeModel.GRADUATED:
        raise InvalidField(f"{path}.flat_fee_at_zero", "only for graduated charges")
    if not isinstance(charge.tax_code, str) or not charge.tax_code.strip():
        raise InvalidField(f"{path}.tax_code", "must not be empty")
    uses = _USES[model]
    for name in _MODEL_FIELDS:
        _check_presence(charge, name, model, uses, path)
    amount = _optional_amount(charge.amount, f"{path}.amount")
    if charge.meter is not None and (
        not isinstance(charge.meter, str) or not _KEY_PATTERN.fullmatch(charge.meter)
    ):
        raise InvalidField(
            f"{path}.meter", f"{charge.meter!r} is not a meter key ({_KEY_PATTERN.pattern})"
        )
    package_size = _optional_amount(charge.package_size, f"{path}.package_size", positive=True)
    if charge.minimum is not None and model not in USAGE_MODELS:
        raise InvalidField(f"{path}.minimum", "only usage charges have a minimum of their own")
    low = _optional_amount(charge.min_per_transaction, f"{path}.min_per_transaction")
    high = _optional_amount(charge.max_per_transaction, f"{path}.max_per_transaction")
    if low is not None and high is not None and high < low:
        raise InvalidField(
            f"{path}.max_per_transaction",
            f"must not be less than min_per_transaction ({plain(low)})",
        )
    if charge.dimension is not None and (
        not isinstance(charge.dimension, str) or not charge.dimension.strip()
    ):
        raise InvalidField(f"{path}.dimension", "must not be empty")
    return replace(
        charge,
        model=model,
        timing=timing,
        amount=amount,
        tiers=_check_tiers(charge.tiers, f"{path}.tiers") if "tiers" in uses else (),
        package_size=package_size,
        included=_optional_amount(charge.included, f"{path}.included"),
        prices=_check_prices(charge.prices, f"{path}.prices") if "prices" in uses else (),
        default_price=_optional_amount(charge.default_price, f"{path}.default_price"),
        rate=_optional_amount(charge.rate, f"{path}.rate"),
        fixed_amount=_optional_amount(charge.fixed_amount, f"{path}.fixed_amount"),
        free_transactions=_optional_count(charge.free_transactions, f"{path}.free_transactions"),
        free_amount=_optional_amount(charge.free_amount, f"{path}.free_amount"),
        min_per_transaction=low,
        max_per_transaction=high,
        minimum=_optional_amount(charge.minimum, f"{path}.minimum"),
    )


def _check_presence(
    charge: Charge, name: str, model: ChargeModel, uses: frozenset[str], path: str
) -> None:
    value = getattr(charge, name)
    empty = value is None or (isinstance(value, tuple | list) and not value)
    if name in uses and empty and name not in _MAY_BE_EMPTY.get(model, frozenset()):
        raise InvalidField(f"{path}.{name}", f"required for model {model.value!r}")
    if name not in uses and not empty:
        raise InvalidField(f"{path}.{name}", f"not used by model {model.value!r}")


def _check_tiers(tiers: object, path: str) -> tuple[Tier, ...]:
    if isinstance(tiers, str | bytes) or not isinstance(tiers, Sequence):
        raise InvalidField(path, f"expected a list of tiers, got {_type_name(tiers)}")
    checked: list[Tier] = []
    previous: Decimal | None = None
    last = len(tiers) - 1
    for index, tier in enumerate(tiers):
        where = f"{path}.{index}"
        if not isinstance(tier, Tier):
            raise InvalidField(where, f"expected a Tier, got {_type_name(tier)}")
        up_to: Decimal | None = None
        if tier.up_to is None:
            if index != last:
                raise InvalidField(f"{where}.up_to", "only the last tier may be unbounded")
        else:
            up_to = _amount(tier.up_to, f"{where}.up_to", positive=True)
            if index == last:
                raise InvalidField(f"{where}.up_to", "the last tier must be unbounded (up_to null)")
            if previous is not None and up_to <= previous:
                raise InvalidField(
                    f"{where}.up_to",
                    f"must be greater than the previous tier's up_to ({plain(previous)})",
                )
            previous = up_to
        checked.append(
            Tier(
                up_to=up_to,
                unit_amount=_amount(tier.unit_amount, f"{where}.unit_amount"),
                flat_amount=_amount(tier.flat_amount, f"{where}.flat_amount"),
            )
        )
    return tuple(checked)


def _check_prices(prices: object, path: str) -> tuple[tuple[str, Decimal], ...]:
    if isinstance(prices, str | bytes) or not isinstance(prices, Sequence):
        raise InvalidField(
            path, f"expected a list of (value, price) pairs, got {_type_name(prices)}"
        )
    checked: dict[str, Decimal] = {}
    for index, pair in enumerate(prices):
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise InvalidField(f"{path}.{index}", "expected a (value, price) pair")
        value, price = pair
        if not isinstance(value, str):
            raise InvalidField(
                f"{path}.{index}", f"a dimension value is text, got {_type_name(value)}"
            )
        if value in checked:
            raise InvalidField(path, f"duplicate value {value!r}")
        checked[value] = _amount(price, f"{path}.{value}")
    return tuple(sorted(checked.items()))


_E = TypeVar("_E", bound=StrEnum)


def _enum(kind: type[_E], value: object, field: str) -> _E:
    if isinstance(value, kind):
        return value
    if isinstance(value, str):
        try:
            return kind(value)
        except ValueError:
            pass
    known = ", ".join(member.value for member in kind)
    raise InvalidField(field, f"{value!r} is not one of {known}")


def _decimal(value: object, field: str) -> Decimal:
    """A finite, bounded Decimal from a Decimal, an int or a decimal string."""
    if isinstance(value, float):
        raise InvalidField(
            field,
            f"floats are inexact ({value!r}); give the number as a string such as "
            f"'{value!r}', or as a Decimal",
        )
    if isinstance(value, bool):
        raise InvalidField(field, f"expected a decimal number, got {value!r}")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int) or (isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value)):
        number = Decimal(value)
    elif isinstance(value, str):
        raise InvalidField(field, f"{value!r} is not a decimal number")
    else:
        raise InvalidField(field, f"expected a decimal number, got {_type_name(value)}")
    if not number.is_finite():
        raise InvalidField(field, f"must be a finite number, got {number}")
    if number.is_zero():
        return number.copy_abs()  # no "-0"
    if number.adjusted() >= _MAX_INTEGER_DIGITS:
        raise InvalidField(field, f"more than {_MAX_INTEGER_DIGITS} digits before the point")
    try:
        number.quantize(_QUANTUM, context=_EXACT)
    except Inexact:
        raise InvalidField(field, f"more than {_MAX_DECIMALS} digits after the point") from None
    return number


#: a finite Decimal with at most 30 digits before the point and 18 after, from a Decimal, an
#: int or a decimal string (never a float): how every amount given to revsync is read
exact_decimal = _decimal


def _amount(value: object, field: str, *, positive: bool = False) -> Decimal:
    number = _decimal(value, field)
    if number < 0:
        raise InvalidField(field, f"must not be negative, got {plain(number)}")
    if positive and number == 0:
        raise InvalidField(field, "must be greater than 0")
    return number


def _optional_amount(value: object, field: str, *, positive: bool = False) -> Decimal | None:
    return None if value is None else _amount(value, field, positive=positive)


def _optional_count(value: object, field: str) -> int | None:
    """A whole number ≥ 0 (an int, or an integral decimal), or None."""
    if value is None:
        return None
    number = _amount(value, field)
    if number != number.to_integral_value():
        raise InvalidField(field, f"expected a whole number, got {plain(number)}")
    return int(number)


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


# --- plans as plain data ---------------------------------------------------------------

_PLAN_KEYS: Final = (
    "name",
    "currency",
    "interval",
    "usage_interval",
    "charges",
    "minimum",
    "maximum",
    "minimum_includes_fees",
    "features",
    "thresholds",
)
_CHARGE_KEYS: Final = (
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
)
_TIER_KEYS: Final = ("up_to", "unit_amount", "flat_amount")


def plan_from_mapping(data: Mapping[str, Any], *, code: str, version: int) -> Plan:
    """A validated plan from JSON-like data (as written by ``plan_to_mapping``).

    Decimals may be strings, ints or Decimals (floats are refused: they are inexact);
    enums are their string values; tiers are a list of objects (``up_to`` null for the
    last); ``prices`` is an object from dimension value to price. A ``null`` optional value
    counts as absent. Unknown keys are refused, naming the key. The code and version are
    given separately (they identify the plan) and must not appear in ``data``.
    """
    _check_keys(data, "", _PLAN_KEYS, required=("name", "currency", "interval", "charges"))
    raw_charges = data["charges"]
    if isinstance(raw_charges, str | bytes) or not isinstance(raw_charges, Sequence):
        raise InvalidField("charges", f"expected a list of charges, got {_type_name(raw_charges)}")
    return new_plan(
        code=code,
        version=version,
        name=data["name"],
        currency=data["currency"],
        interval=data["interval"],
        usage_interval=data.get("usage_interval"),
        charges=[_charge_from(item, f"charges.{i}") for i, item in enumerate(raw_charges)],
        minimum=data.get("minimum"),
        maximum=data.get("maximum"),
        minimum_includes_fees=data.get("minimum_includes_fees", False),
        features=data.get("features"),
        thresholds=data.get("thresholds"),
    )


def _charge_from(item: object, path: str) -> Charge:
    _check_keys(item, path, _CHARGE_KEYS, required=("key", "model", "description"))
    assert isinstance(item, Mapping)  # checked above
    fields: dict[str, Any] = {k: v for k, v in item.items() if v is not None}
    if "tiers" in fields:
        tiers = fields["tiers"]
        if isinstance(tiers, str | bytes) or not isinstance(tiers, Sequence):
            raise InvalidField(f"{path}.tiers", f"expected a list, got {_type_name(tiers)}")
        fields["tiers"] = tuple(_tier_from(t, f"{path}.tiers.{i}") for i, t in enumerate(tiers))
    if "prices" in fields:
        prices = fields["prices"]
        if not isinstance(prices, Mapping):
            raise InvalidField(
                f"{path}.prices",
                f"expected an object from dimension value to price, got {_type_name(prices)}",
            )
        fields["prices"] = tuple(prices.items())
    return Charge(**fields)


def _tier_from(item: object, path: str) -> Tier:
    _check_keys(item, path, _TIER_KEYS, required=("unit_amount",))
    assert isinstance(item, Mapping)  # checked above
    given = {k: v for k, v in item.items() if v is not None}
    return Tier(**{"up_to": None, **given})  # no up_to: unbounded, checked with the others


def _check_keys(
    item: object, path: str, known: tuple[str, ...], *, required: tuple[str, ...]
) -> None:
    where = path or "plan"
    if not isinstance(item, Mapping):
        raise InvalidField(where, f"expected an object, got {_type_name(item)}")
    prefix = f"{path}." if path else ""
    for key in item:
        if key in known:
            continue
        if not path and key in ("code", "version"):
            raise InvalidField(key, "given separately, not in the plan's data")
        raise InvalidField(f"{prefix}{key}", f"unknown key (known: {', '.join(known)})")
    for key in required:
        if item.get(key) is None:
            raise InvalidField(f"{prefix}{key}", "required")


def plan_to_mapping(plan: Plan) -> dict[str, Any]:
    """Plain JSON-ready data for a plan (decimals as strings, None and empty fields left
    out); ``plan_from_mapping`` reads it back. The code and version are not included."""
    data: dict[str, Any] = {
        "name": plan.name,
        "currency": plan.currency,
        "interval": plan.interval.value,
        "usage_interval": plan.usage_interval.value,
        "charges": [_charge_to(charge) for charge in plan.charges],
    }
    if plan.minimum is not None:
        data["minimum"] = plain(plan.minimum)
    if plan.maximum is not None:
        data["maximum"] = plain(plan.maximum)
    if plan.minimum_includes_fees:
        data["minimum_includes_fees"] = True
    if plan.features:
        data["features"] = [feature_to_mapping(f) for f in plan.features]
    if plan.thresholds:
        data["thresholds"] = [threshold_to_mapping(t) for t in plan.thresholds]
    return data


def _charge_to(charge: Charge) -> dict[str, Any]:
    data: dict[str, Any] = {
        "key": charge.key,
        "model": charge.model.value,
        "description": charge.description,
        "timing": charge.timing.value,
    }
    for name in (
        "amount",
        "package_size",
        "included",
        "default_price",
        "rate",
        "fixed_amount",
        "free_amount",
        "min_per_transaction",
        "max_per_transaction",
        "minimum",
    ):
        value = getattr(charge, name)
        if value is not None:
            data[name] = plain(value)
    for name in ("meter", "dimension", "free_transactions"):
        value = getattr(charge, name)
        if value is not None:
            data[name] = value
    if charge.tiers:
        data["tiers"] = [
            {
                "up_to": None if tier.up_to is None else plain(tier.up_to),
                "unit_amount": plain(tier.unit_amount),
                "flat_amount": plain(tier.flat_amount),
            }
            for tier in charge.tiers
        ]
    if charge.prices:
        data["prices"] = {value: plain(price) for value, price in charge.prices}
    data["tax_code"] = charge.tax_code
    if charge.flat_fee_at_zero:
        data["flat_fee_at_zero"] = True
    return data


# --- rating usage ----------------------------------------------------------------------

_Rater = Callable[[Charge, UsageInput], list[Rated]]
_Body = Callable[[Charge, Decimal, UsageInput], list[Rated]]
_REGISTRY: dict[ChargeModel, _Rater] = {}


def _rater(model: ChargeModel) -> Callable[[_Body], _Rater]:
    """Register the rating function of one usage model.

    The registered function checks the model and the usage, then runs the body with the
    validated total; an inexact product or sum becomes ``InvalidField("usage", ...)``.
    """

    def register(body: _Body) -> _Rater:
        def rate(charge: Charge, usage: UsageInput) -> list[Rated]:
            if charge.model != model:
                raise ValueError(
                    f"charge {charge.key!r} is {str(charge.model)!r}, not {model.value!r}"
                )
            total = _quantity(usage.total, "usage", "total")
            try:
                return body(charge, total, usage)
            except _TOO_BIG:
                raise InvalidField("usage", _too_big(f"rating charge {charge.key!r}")) from None

        rate.__name__ = rate.__qualname__ = body.__name__.lstrip("_")
        rate.__doc__ = body.__doc__
        _REGISTRY[model] = rate
        return rate

    return register


def rate_usage(charge: Charge, usage: UsageInput) -> list[Rated]:
    """The lines of a usage charge for the usage of one period (or segment of one)."""
    rater = RATERS.get(charge.model)
    if rater is None:
        raise ValueError(
            f"charge {charge.key!r} has model {str(charge.model)!r}, which is not rated from "
            "usage (use rate_recurring)"
        )
    return rater(charge, usage)


@_rater(ChargeModel.PER_UNIT)
def _per_unit(charge: Charge, total: Decimal, usage: UsageInput) -> list[Rated]:
    """Every unit at the charge's amount."""
    unit = _required(charge, charge.amount, "amount")
    return [Rated("", charge.description, total, unit, _EXACT.multiply(total, unit))]


@_rater(ChargeModel.GRADUATED)
def _graduated(charge: Charge, total: Decimal, usage: UsageInput) -> list[Rated]:
    """Each tier prices the units that fall in it."""
    tiers = _required_tiers(charge)
    if total == 0:
        base = tiers[0].flat_amount if charge.flat_fee_at_zero else _ZERO
        return [_tier_line(charge, 0, _ZERO, base)]
    lines: list[Rated] = []
    lower = _ZERO
    for index, tier in enumerate(tiers):
        upper = total if tier.up_to is None else min(total, tier.up_to)
        in_tier = _EXACT.subtract(upper, lower)
        if in_tier <= 0:
            break
        amount = _EXACT.add(_EXACT.multiply(in_tier, tier.unit_amount), tier.flat_amount)
        lines.append(_tier_line(charge, index, in_tier, amount))
        if tier.up_to is None or total <= tier.up_to:
            break
        lower = tier.up_to
    return lines


@_rater(ChargeModel.VOLUME)
def _volume(charge: Charge, total: Decimal, usage: UsageInput) -> list[Rated]:
    """All units at the price of the tier that contains the total."""
    tiers = _required_tiers(charge)
    index = next(i for i, t in enumerate(tiers) if t.up_to is None or total <= t.up_to)
    tier = tiers[index]
    amount = _EXACT.multiply(total, tier.unit_amount)
    if total > 0:
        amount = _EXACT.add(amount, tier.flat_amount)
    line = _tier_line(charge, index, total, amount)
    return [replace(line, description=f"{line.description}, for all units")]


@_rater(ChargeModel.PACKAGE)
def _package(charge: Charge, total: Decimal, usage: UsageInput) -> list[Rated]:
    """Whole packages of ``package_size`` units; a started package counts in full. With
    ``included``, that many units come free first (a line of their own)."""
    unit = _required(charge, charge.amount, "amount")
    size = _required(charge, charge.package_size, "package_size")
    free = charge.included
    billed = total if free is None else max(_ZERO, _EXACT.subtract(total, free))
    whole, rest = _EXACT.divmod(billed, size)
    packages = _EXACT.add(whole, _ONE) if rest else whole
    description = f"{charge.description} — packages of {_number(size)}"
    if free is None:
        return [Rated("", description, packages, unit, _EXACT.multiply(packages, unit))]
    allowance = _number(free)
    return [
        Rated(
            "included",
            f"{charge.description} — {allowance} included",
            min(total, free),
            _ZERO,
            _ZERO,
        ),
        Rated(
            "packages",
            f"{description} above {allowance} included",
            packages,
            unit,
            _EXACT.multiply(packages, unit),
        ),
    ]


@_rater(ChargeModel.ALLOWANCE)
def _allowance(charge: Charge, total: Decimal, usage: UsageInput) -> list[Rated]:
    """The included units at no charge, then the overage at the charge's amount."""
    unit = _required(charge, charge.amount, "amount")
    included = _required(charge, charge.included, "included")
    inside = min(total, included)
    over = max(_ZERO, _EXACT.subtract(total, included))
    allowance = _number(included)
    return [
        Rated("included", f"{charge.description} — {allowance} included", inside, _ZERO, _ZERO),
        Rated(
            "overage",
            f"{charge.description} — overage above {allowance} included",
            over,
            unit,
            _EXACT.multiply(over, unit),
        ),
    ]


#: the longest dimension value written into a line key as it is; a longer one by its digest
MAX_KEYED_VALUE: Final = 64


def dimension_part(value: str) -> str:
    """The key part of a dimension value's line: ``dim:<value>``, or ``dim:#<digest>`` for a
    value longer than :data:`MAX_KEYED_VALUE` characters (keys stay short and unique)."""
    if len(value) <= MAX_KEYED_VALUE:
        return f"dim:{value}"
    return f"dim:#{hashlib.sha256(value.encode()).hexdigest()[:32]}"


@_rater(ChargeModel.PER_DIMENSION)
def _per_dimension(charge: Charge, total: Decimal, usage: UsageInput) -> list[Rated]:
    """Each dimension value's units at that value's price (or the default price)."""
    dimension = _required(charge, charge.dimension, "dimension")
    if not isinstance(usage.by_dimension, Mapping):
        raise InvalidField("usage", "by_dimension must map dimension values to quantities")
    split: dict[str, Decimal] = {}
    for value, quantity in usage.by_dimension.items():
        if not isinstance(value, str):
            raise InvalidField("usage", f"dimension value {value!r} is not text")
        split[value] = _quantity(quantity, "usage", f"by_dimension[{value!r}]")
    added = _sum(split.values())
    if added != total:
        raise InvalidField(
            "usage",
            f"by_dimension adds up to {plain(added)}, not the total {plain(total)}",
        )
    prices = dict(charge.prices)
    lines: list[Rated] = []
    for value in sorted(split):
        quantity = split[value]
        if quantity == 0:
            continue
        unit = prices.get(value, charge.default_price)
        if unit is None:
            raise InvalidField(
                f"charges.{charge.key}.prices", f"no price for {dimension} {value!r}"
            )
        label = value if value else "(none)"
        lines.append(
            Rated(
                part=dimension_part(value),
                description=f"{charge.description} — {dimension} {label}",
                quantity=quantity,
                unit_amount=unit,
                amount=_EXACT.multiply(quantity, unit),
                group=((dimension, value),),
            )
        )
    return lines


@_rater(ChargeModel.PERCENTAGE)
def _percentage(charge: Charge, total: Decimal, usage: UsageInput) -> list[Rated]:
    """A percent of each transaction's amount (plus a fixed amount per transaction), after
    the period's free transactions and free amount, each fee held within its bounds."""
    rate = _required(charge, charge.rate, "rate")
    if usage.values is None:
        raise InvalidField("usage", f"charge {charge.key!r} needs each transaction's amount")
    values = [_quantity(v, "usage", "transaction amount") for v in usage.values]
    added = _sum(values)
    if added != total:
        raise InvalidField(
            "usage", f"the transactions add up to {plain(added)}, not the total {plain(total)}"
        )
    unit = rate.scaleb(-2)
    fixed = charge.fixed_amount or _ZERO
    low, high = charge.min_per_transaction, charge.max_per_transaction
    free_count, free_left = charge.free_transactions, charge.free_amount
    has_free = free_count is not None or free_left is not None
    used = 0
    free_total = charged_total = raised = lowered = _ZERO
    charged = raised_count = lowered_count = 0
    for value in values:
        free = _ZERO
        allowed = (
            has_free
            and (free_count is None or used < free_count)
            and (free_left is None or free_left > 0)
        )
        if allowed:
            used += 1
            free = value if free_left is None else min(value, free_left)
            if free_left is not None:
                free_left = _EXACT.subtract(free_left, free)
        rest = _EXACT.subtract(value, free)
        free_total = _EXACT.add(free_total, free)
        if allowed and rest == 0:
            continue  # wholly free: no fee at all
        charged += 1
        charged_total = _EXACT.add(charged_total, rest)
        fee = _EXACT.add(_EXACT.multiply(rest, unit), fixed)
        if low is not None and fee < low:
            raised = _EXACT.add(raised, _EXACT.subtract(low, fee))
            raised_count += 1
        elif high is not None and fee > high:
            lowered = _EXACT.add(lowered, _EXACT.subtract(high, fee))
            lowered_count += 1
    fees = _EXACT.add(
        _EXACT.multiply(charged_total, unit), _EXACT.multiply(Decimal(charged), fixed)
    )
    fees = _EXACT.add(_EXACT.add(fees, raised), lowered)
    detail = f"{_number(rate)}% of {_number(charged_total)}"
    if charge.fixed_amount is not None:
        detail = f"{detail} + {_number(fixed)} × {_count_text(charged)}"
    if raised_count:
        assert low is not None
        detail = f"{detail}, {raised_count:,} raised to the minimum of {_number(low)}"
    if lowered_count:
        assert high is not None
        detail = f"{detail}, {lowered_count:,} held to the maximum of {_number(high)}"
    lines: list[Rated] = []
    if has_free:
        free_text = f"{charge.description} — {_free_text(charge)}"
        lines.append(Rated("free", free_text, free_total, _ZERO, _ZERO))
    lines.append(Rated("fees", f"{charge.description} — {detail}", charged_total, unit, fees))
    return lines


def _free_text(charge: Charge) -> str:
    parts = []
    if charge.free_transactions == 1:
        parts.append("the first transaction")
    elif charge.free_transactions is not None:
        parts.append(f"the first {_count_text(charge.free_transactions)}")
    if charge.free_amount is not None:
        parts.append(f"the first {_number(charge.free_amount)} of amount")
    return "free: " + (parts[0] if len(parts) == 1 else f"{parts[0]}, within {parts[1]}")


def _count_text(count: int) -> str:
    return f"{count:,} transaction" + ("" if count == 1 else "s")


#: the rating function of each usage model, used by ``rate_usage``
RATERS: Final[Mapping[ChargeModel, _Rater]] = MappingProxyType(_REGISTRY)


def _tier_line(charge: Charge, index: int, quantity: Decimal, amount: Decimal) -> Rated:
    tier = charge.tiers[index]
    unit = tier.unit_amount
    label = _tier_range(charge.tiers, index)
    description = f"{charge.description} — tier {index + 1} ({label})"
    return Rated(f"tier-{index + 1}", description, quantity, unit, amount)


def _tier_range(tiers: tuple[Tier, ...], index: int) -> str:
    lower = tiers[index - 1].up_to if index > 0 else None
    upper = tiers[index].up_to
    if upper is None:
        return "all units" if lower is None else f"above {_number(lower)}"
    if lower is None:
        return f"up to {_number(upper)}"
    if _EXACT.remainder(lower, _ONE) == 0:
        return f"{_number(_EXACT.add(lower, _ONE))}–{_number(upper)}"
    return f"above {_number(lower)} up to {_number(upper)}"


def _sum(values: Any) -> Decimal:
    total = _ZERO
    for value in values:
        total = _EXACT.add(total, value)
    return total


# --- rating recurring fees, minimum and maximum ----------------------------------------


def rate_recurring(charge: Charge, *, seats: int, days: int, period_days: int) -> list[Rated]:
    """The line of a flat or per-seat charge for ``days`` of a ``period_days`` period."""
    if charge.model not in RECURRING_MODELS:
        raise ValueError(
            f"charge {charge.key!r} has model {str(charge.model)!r}, which is rated from usage "
            "(use rate_usage)"
        )
    unit = _required(charge, charge.amount, "amount")
    _check_days(days, period_days)
    description = charge.description
    if charge.model == ChargeModel.PER_SEAT:
        if type(seats) is not int or seats < 0:
            raise InvalidField("seats", f"expected an integer ≥ 0, got {seats!r}")
        quantity = Decimal(seats)
        description = f"{description} × {_number(quantity)}"
    else:
        quantity = _ONE
    try:
        full = _EXACT.multiply(unit, quantity)
        if days == period_days:
            amount = full
        else:
            amount = RATING_CONTEXT.divide(_EXACT.multiply(full, days), period_days)
            description = f"{description} {_prorated(days, period_days)}"
    except _TOO_BIG:
        raise InvalidField("seats", _too_big(f"rating charge {charge.key!r}")) from None
    return [Rated("", description, quantity, unit, amount)]


def true_up(plan: Plan, usage_amount: Decimal, *, days: int, period_days: int) -> Rated | None:
    """The minimum-commitment line: what the usage charges fall short of the (prorated)
    minimum, or None when the plan has no minimum or the usage reaches it."""
    if plan.minimum is None:
        return None
    shortfall = _prorated_gap(plan.minimum, usage_amount, days, period_days)
    if shortfall <= 0:
        return None
    counted = " (usage and fees)" if plan.minimum_includes_fees else ""
    description = f"Minimum commitment of {_number(plan.minimum)}{counted} — shortfall"
    if days != period_days:
        description = f"{description} {_prorated(days, period_days)}"
    return Rated("minimum", description, _ONE, shortfall, shortfall)


def charge_minimum(
    charge: Charge, charged: Decimal, *, days: int, period_days: int
) -> Rated | None:
    """A usage charge's own minimum line: what its lines (``charged``, rounded as billed) fall
    short of its (prorated) ``minimum``, or None when it has none or reaches it."""
    if charge.minimum is None:
        return None
    shortfall = _prorated_gap(charge.minimum, charged, days, period_days)
    if shortfall <= 0:
        return None
    description = f"{charge.description} — minimum of {_number(charge.minimum)}, shortfall"
    if days != period_days:
        description = f"{description} {_prorated(days, period_days)}"
    return Rated("minimum", description, _ONE, shortfall, shortfall)


def cap(plan: Plan, usage_amount: Decimal, *, days: int, period_days: int) -> Rated | None:
    """The maximum line: a negative amount taking the usage charges back down to the
    (prorated) maximum, or None when the plan has no maximum or the usage stays within."""
    if plan.maximum is None:
        return None
    credit = _prorated_gap(plan.maximum, usage_amount, days, period_days)
    if credit >= 0:
        return None
    description = f"Maximum of {_number(plan.maximum)} — usage above the cap"
    if days != period_days:
        description = f"{description} {_prorated(days, period_days)}"
    return Rated("cap", description, _ONE, credit, credit)


def _prorated_gap(limit: Decimal, usage_amount: object, days: int, period_days: int) -> Decimal:
    """``limit × days / period_days − usage_amount``, computed as one fraction
    ``(limit × days − usage × period_days) / period_days`` so that it is rounded once."""
    usage = _quantity(usage_amount, "usage_amount")
    _check_days(days, period_days)
    try:
        numerator = _EXACT.subtract(
            _EXACT.multiply(limit, days), _EXACT.multiply(usage, period_days)
        )
        return RATING_CONTEXT.divide(numerator, period_days)
    except _TOO_BIG:
        raise InvalidField("usage_amount", _too_big("the usage amount")) from None


def _check_days(days: int, period_days: int) -> None:
    if type(period_days) is not int or period_days < 1:
        raise InvalidField("period_days", f"expected an integer ≥ 1, got {period_days!r}")
    if type(days) is not int or not 0 <= days <= period_days:
        raise InvalidField("days", f"expected an integer from 0 to {period_days}, got {days!r}")


def _prorated(days: int, period_days: int) -> str:
    return f"(prorated {days}/{period_days} days)"


# --- helpers ---------------------------------------------------------------------------

#: what exact arithmetic raises when a result needs more digits than it may have
_TOO_BIG: Final = (Inexact, InvalidOperation, Overflow)


def _too_big(what: str) -> str:
    return f"{what} needs more than {RATING_PRECISION} significant digits (or is out of range)"


def _quantity(value: object, field: str, what: str = "") -> Decimal:
    """A finite, non-negative Decimal (or int) from usage; ``InvalidField(field)`` if not."""
    name = f"{what} " if what else ""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise InvalidField(field, f"{name}expected a Decimal, got {_type_name(value)}")
    number = Decimal(value)
    if not number.is_finite():
        raise InvalidField(field, f"{name}must be a finite number, got {number}")
    if number < 0:
        raise InvalidField(field, f"{name}must not be negative, got {plain(number)}")
    return number


_T = TypeVar("_T")


def _required(charge: Charge, value: _T | None, name: str) -> _T:
    if value is None:
        raise ValueError(f"charge {charge.key!r} has no {name}; build charges with new_plan")
    return value


def _required_tiers(charge: Charge) -> tuple[Tier, ...]:
    if not charge.tiers or charge.tiers[-1].up_to is not None:
        raise ValueError(
            f"charge {charge.key!r} needs tiers ending unbounded; build charges with new_plan"
        )
    return charge.tiers


def _number(value: Decimal) -> str:
    """Plain notation with thousands separators and no trailing fractional zeros."""
    text = format(value, ",f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
