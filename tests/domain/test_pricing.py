"""Pricing: validated plans, their plain-data form, and the pure rating of every charge model."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal, Inexact, InvalidOperation, getcontext
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from revsync.domain.errors import InvalidField
from revsync.domain.pricing import (
    RATERS,
    RECURRING_MODELS,
    USAGE_MODELS,
    Charge,
    ChargeModel,
    Interval,
    Plan,
    Rated,
    Tier,
    Timing,
    UsageInput,
    cap,
    new_plan,
    plan_from_mapping,
    plan_to_mapping,
    rate_recurring,
    rate_usage,
    true_up,
)

D = Decimal
Line = tuple[str, Decimal, Decimal, Decimal]


def plan_of(*charges: Charge, **overrides: Any) -> Plan:
    fields: dict[str, Any] = {
        "code": "pro",
        "version": 1,
        "name": "Pro",
        "currency": "EUR",
        "interval": Interval.MONTH,
        "charges": charges,
    }
    fields.update(overrides)
    return new_plan(**fields)


def charge(model: ChargeModel, **fields: Any) -> Charge:
    """A validated charge (through new_plan), meter filled in for usage models."""
    if model in USAGE_MODELS:
        fields.setdefault("meter", "units")
    fields.setdefault("description", "Units")
    return plan_of(Charge(key="c", model=model, **fields)).charges[0]


def lines(rated: list[Rated]) -> list[Line]:
    return [(r.part, r.quantity, r.unit_amount, r.amount) for r in rated]


def usage(charge_: Charge, total: Decimal | str | int) -> list[Line]:
    return lines(rate_usage(charge_, UsageInput(D(total))))


def total_of(rated: list[Rated]) -> Decimal:
    return sum((r.amount for r in rated), D(0))


def exactly(value: Decimal, expected: Decimal) -> bool:
    """Equal as numbers *and* as the exact fraction (no rounding slipped in)."""
    return value == expected and Fraction(value) == Fraction(expected)


# --- per unit ------------------------------------------------------------------------

PER_UNIT = charge(ChargeModel.PER_UNIT, amount=D("0.002"), description="API calls")


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        ("0", [("", D(0), D("0.002"), D(0))]),
        ("1", [("", D(1), D("0.002"), D("0.002"))]),
        ("1234.5", [("", D("1234.5"), D("0.002"), D("2.4690"))]),
    ],
)
def test_per_unit_prices_every_unit(total: str, expected: list[Line]) -> None:
    assert usage(PER_UNIT, total) == expected
    assert rate_usage(PER_UNIT, UsageInput(D(total)))[0].description == "API calls"


# --- graduated -----------------------------------------------------------------------

GRADUATED = charge(
    ChargeModel.GRADUATED,
    description="API calls",
    tiers=(
        Tier(D(1000), D("0.01")),
        Tier(D(10000), D("0.005"), flat_amount=D(1)),
        Tier(None, D("0.001")),
    ),
)


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        ("0", [("tier-1", D(0), D("0.01"), D(0))]),
        ("999", [("tier-1", D(999), D("0.01"), D("9.99"))]),
        ("1000", [("tier-1", D(1000), D("0.01"), D(10))]),
        (
            "1001",
            [("tier-1", D(1000), D("0.01"), D(10)), ("tier-2", D(1), D("0.005"), D("1.005"))],
        ),
        (
            "1000.5",
            [("tier-1", D(1000), D("0.01"), D(10)), ("tier-2", D("0.5"), D("0.005"), D("1.0025"))],
        ),
        (
            "9999",
            [("tier-1", D(1000), D("0.01"), D(10)), ("tier-2", D(8999), D("0.005"), D("45.995"))],
        ),
        (
            "10000",
            [("tier-1", D(1000), D("0.01"), D(10)), ("tier-2", D(9000), D("0.005"), D(46))],
        ),
        (
            "10001",
            [
                ("tier-1", D(1000), D("0.01"), D(10)),
                ("tier-2", D(9000), D("0.005"), D(46)),
                ("tier-3", D(1), D("0.001"), D("0.001")),
            ],
        ),
    ],
)
def test_graduated_fills_tiers_in_order(total: str, expected: list[Line]) -> None:
    assert usage(GRADUATED, total) == expected


def test_graduated_descriptions_name_the_tier_range() -> None:
    rated = rate_usage(GRADUATED, UsageInput(D(12345)))
    assert [r.description for r in rated] == [
        "API calls — tier 1 (up to 1,000)",
        "API calls — tier 2 (1,001–10,000)",
        "API calls — tier 3 (above 10,000)",
    ]


def test_tier_ranges_with_a_fractional_bound_and_a_single_tier() -> None:
    fractional = charge(
        ChargeModel.GRADUATED,
        tiers=(Tier(D("0.5"), D(2)), Tier(D(2), D(1)), Tier(None, D(0))),
    )
    assert [r.description for r in rate_usage(fractional, UsageInput(D(3)))] == [
        "Units — tier 1 (up to 0.5)",
        "Units — tier 2 (above 0.5 up to 2)",
        "Units — tier 3 (above 2)",
    ]
    single = charge(ChargeModel.GRADUATED, tiers=(Tier(None, D(3), D(5)),))
    [line] = rate_usage(single, UsageInput(D(2)))
    assert line.description == "Units — tier 1 (all units)"
    assert (line.quantity, line.amount) == (D(2), D(11))


def test_graduated_flat_amount_is_charged_once_per_tier_entered() -> None:
    flats = charge(
        ChargeModel.GRADUATED,
        tiers=(Tier(D(10), D(0), D(100)), Tier(None, D(1), D(50))),
    )
    assert usage(flats, 0) == [("tier-1", D(0), D(0), D(0))]
    assert usage(flats, 10) == [("tier-1", D(10), D(0), D(100))]
    assert usage(flats, 12) == [("tier-1", D(10), D(0), D(100)), ("tier-2", D(2), D(1), D(52))]


def test_graduated_may_charge_the_first_tiers_flat_amount_at_zero_usage() -> None:
    tiers = (Tier(D(10), D(0), D(100)), Tier(None, D(1), D(50)))
    based = charge(ChargeModel.GRADUATED, tiers=tiers, flat_fee_at_zero=True)
    assert usage(based, 0) == [("tier-1", D(0), D(0), D(100))]
    # usage above zero is rated as without the option: each tier's flat amount once entered
    assert usage(based, 12) == [("tier-1", D(10), D(0), D(100)), ("tier-2", D(2), D(1), D(52))]
    assert plan_from_mapping(plan_to_mapping(plan_of(based)), code="pro", version=1) == plan_of(
        based
    )
    with pytest.raises(InvalidField, match=r"charges\.0\.flat_fee_at_zero: only for graduated"):
        plan_of(charge(ChargeModel.VOLUME, tiers=tiers, flat_fee_at_zero=True))
    with pytest.raises(InvalidField, match=r"charges\.0\.flat_fee_at_zero: expected true or false"):
        plan_of(charge(ChargeModel.GRADUATED, tiers=tiers, flat_fee_at_zero="yes"))  # type: ignore[arg-type]


# --- volume --------------------------------------------------------------------------

VOLUME = charge(
    ChargeModel.VOLUME,
    description="Messages",
    tiers=(
        Tier(D(1000), D("0.01")),
        Tier(D(10000), D("0.005"), flat_amount=D(2)),
        Tier(None, D("0.001")),
    ),
)


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        ("0", [("tier-1", D(0), D("0.01"), D(0))]),
        ("999", [("tier-1", D(999), D("0.01"), D("9.99"))]),
        ("1000", [("tier-1", D(1000), D("0.01"), D(10))]),
        ("1001", [("tier-2", D(1001), D("0.005"), D("7.005"))]),
        ("9999", [("tier-2", D(9999), D("0.005"), D("51.995"))]),
        ("10000", [("tier-2", D(10000), D("0.005"), D(52))]),
        ("10001", [("tier-3", D(10001), D("0.001"), D("10.001"))]),
        ("10000.5", [("tier-3", D("10000.5"), D("0.001"), D("10.0005"))]),
    ],
)
def test_volume_prices_everything_at_the_tier_of_the_total(
    total: str, expected: list[Line]
) -> None:
    assert usage(VOLUME, total) == expected


def test_volume_description_and_zero_total_has_no_flat_amount() -> None:
    [line] = rate_usage(VOLUME, UsageInput(D(5000)))
    assert line.description == "Messages — tier 2 (1,001–10,000), for all units"
    flat_first = charge(ChargeModel.VOLUME, tiers=(Tier(D(10), D(1), D(9)), Tier(None, D(1))))
    assert usage(flat_first, 0) == [("tier-1", D(0), D(1), D(0))]
    assert usage(flat_first, 1) == [("tier-1", D(1), D(1), D(10))]


def test_volume_pricing_has_a_cliff_when_upper_tiers_are_cheaper() -> None:
    """Documented: volume pricing is not monotone in general (1001 units cost less)."""
    assert total_of(rate_usage(VOLUME, UsageInput(D(1001)))) < total_of(
        rate_usage(VOLUME, UsageInput(D(1000)))
    )


# --- package -------------------------------------------------------------------------

PACKAGE = charge(ChargeModel.PACKAGE, amount=D(5), package_size=D(1000), description="SMS")


@pytest.mark.parametrize(
    ("total", "packages"),
    [("0", 0), ("1", 1), ("999.5", 1), ("1000", 1), ("1000.001", 2), ("1001", 2), ("3000", 3)],
)
def test_package_counts_started_packages(total: str, packages: int) -> None:
    assert usage(PACKAGE, total) == [("", D(packages), D(5), D(5 * packages))]


FREE_SMS = charge(
    ChargeModel.PACKAGE, amount=D(5), package_size=D(1000), included=D(500), description="SMS"
)


@pytest.mark.parametrize(
    ("total", "free", "packages"),
    [("0", "0", 0), ("500", "500", 0), ("501", "500", 1), ("1500", "500", 1), ("1501", "500", 2)],
)
def test_package_with_free_units_counts_the_packages_of_the_rest(
    total: str, free: str, packages: int
) -> None:
    assert usage(FREE_SMS, total) == [
        ("included", D(free), D(0), D(0)),
        ("packages", D(packages), D(5), D(5 * packages)),
    ]
    [included, rest] = rate_usage(FREE_SMS, UsageInput(D(total)))
    assert included.description == "SMS — 500 included"
    assert rest.description == "SMS — packages of 1,000 above 500 included"


@given(
    total=st.integers(min_value=0, max_value=100_000),
    free=st.integers(min_value=0, max_value=5_000),
    size=st.integers(min_value=1, max_value=2_000),
)
def test_free_units_are_never_billed_and_every_other_unit_is_in_a_package(
    total: int, free: int, size: int
) -> None:
    model = charge(ChargeModel.PACKAGE, amount=D(3), package_size=D(size), included=D(free))
    [included, rest] = rate_usage(model, UsageInput(D(total)))
    billed = max(0, total - free)
    assert included.quantity == min(total, free) and included.amount == 0
    assert rest.quantity * size >= billed > (rest.quantity - 1) * size
    assert rest.amount == rest.quantity * 3


def test_package_description_and_fractional_size() -> None:
    [line] = rate_usage(PACKAGE, UsageInput(D(1)))
    assert line.description == "SMS — packages of 1,000"
    halves = charge(ChargeModel.PACKAGE, amount=D("0.30"), package_size=D("0.5"))
    assert usage(halves, "1.2") == [("", D(3), D("0.30"), D("0.90"))]
    assert usage(halves, "1.5") == [("", D(3), D("0.30"), D("0.90"))]


# --- allowance -----------------------------------------------------------------------

ALLOWANCE = charge(ChargeModel.ALLOWANCE, amount=D("0.10"), included=D(100), description="Storage")


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        ("0", [("included", D(0), D(0), D(0)), ("overage", D(0), D("0.10"), D(0))]),
        ("40", [("included", D(40), D(0), D(0)), ("overage", D(0), D("0.10"), D(0))]),
        ("100", [("included", D(100), D(0), D(0)), ("overage", D(0), D("0.10"), D(0))]),
        (
            "150.5",
            [("included", D(100), D(0), D(0)), ("overage", D("50.5"), D("0.10"), D("5.050"))],
        ),
    ],
)
def test_allowance_always_shows_included_and_overage(total: str, expected: list[Line]) -> None:
    assert usage(ALLOWANCE, total) == expected


def test_allowance_descriptions_and_zero_allowance() -> None:
    assert [r.description for r in rate_usage(ALLOWANCE, UsageInput(D(1)))] == [
        "Storage — 100 included",
        "Storage — overage above 100 included",
    ]
    none_included = charge(ChargeModel.ALLOWANCE, amount=D(2), included=D(0))
    assert usage(none_included, 3) == [
        ("included", D(0), D(0), D(0)),
        ("overage", D(3), D(2), D(6)),
    ]


# --- per dimension -------------------------------------------------------------------

PER_MODEL = charge(
    ChargeModel.PER_DIMENSION,
    description="LLM tokens",
    dimension="model",
    prices=(("large", D("0.03")), ("small", D("0.001"))),
    default_price=D("0.01"),
)
STRICT = charge(
    ChargeModel.PER_DIMENSION,
    dimension="model",
    prices=(("large", D("0.03")), ("small", D("0.001"))),
)


def test_per_dimension_prices_each_value_and_falls_back_to_the_default() -> None:
    split = {"small": D(1000), "large": D(100), "other": D(10), "": D(5), "unused": D(0)}
    rated = rate_usage(PER_MODEL, UsageInput(D(1115), split))
    assert lines(rated) == [
        ("dim:", D(5), D("0.01"), D("0.05")),
        ("dim:large", D(100), D("0.03"), D("3.00")),
        ("dim:other", D(10), D("0.01"), D("0.10")),
        ("dim:small", D(1000), D("0.001"), D("1.000")),
    ]
    assert [r.group for r in rated] == [
        (("model", ""),),
        (("model", "large"),),
        (("model", "other"),),
        (("model", "small"),),
    ]
    assert [r.description for r in rated] == [
        "LLM tokens — model (none)",
        "LLM tokens — model large",
        "LLM tokens — model other",
        "LLM tokens — model small",
    ]


def test_per_dimension_without_a_default_refuses_unpriced_values() -> None:
    assert usage(STRICT, 0) == []
    priced = rate_usage(STRICT, UsageInput(D(3), {"large": D(3), "other": D(0)}))
    assert lines(priced) == [("dim:large", D(3), D("0.03"), D("0.09"))]
    with pytest.raises(InvalidField) as caught:
        rate_usage(STRICT, UsageInput(D(4), {"large": D(3), "other": D(1)}))
    assert (caught.value.field, caught.value.reason) == (
        "charges.c.prices",
        "no price for model 'other'",
    )
    with pytest.raises(InvalidField, match="no price for model ''"):
        rate_usage(STRICT, UsageInput(D(1), {"": D(1)}))


def test_per_dimension_zero_total_gives_no_lines() -> None:
    assert rate_usage(PER_MODEL, UsageInput(D(0))) == []
    assert rate_usage(PER_MODEL, UsageInput(D(0), {"large": D(0)})) == []


@pytest.mark.parametrize(
    ("total", "split", "reason"),
    [
        ("10", {"large": D(4)}, "by_dimension adds up to 4, not the total 10"),
        ("10", {}, "by_dimension adds up to 0, not the total 10"),
        ("0", {"large": D(-1), "small": D(1)}, "must not be negative"),
        ("1", {"large": 1.0}, "expected a Decimal"),
    ],
)
def test_per_dimension_refuses_an_inconsistent_split(
    total: str, split: Mapping[str, Any], reason: str
) -> None:
    with pytest.raises(InvalidField, match=reason) as caught:
        rate_usage(PER_MODEL, UsageInput(D(total), split))
    assert caught.value.field == "usage"


def test_other_models_ignore_the_split() -> None:
    assert usage(PER_UNIT, 3) == lines(rate_usage(PER_UNIT, UsageInput(D(3), {"x": D(99)})))


# --- recurring -----------------------------------------------------------------------

FLAT = charge(ChargeModel.FLAT, amount=D("99.00"), description="Platform fee")
SEATS = charge(
    ChargeModel.PER_SEAT, amount=D("99.00"), description="Seats", timing=Timing.IN_ADVANCE
)


def test_flat_fee_for_a_full_and_a_prorated_period() -> None:
    [full] = rate_recurring(FLAT, seats=7, days=30, period_days=30)
    assert full == Rated("", "Platform fee", D(1), D("99.00"), D("99.00"))
    [part] = rate_recurring(FLAT, seats=7, days=10, period_days=30)
    assert part.description == "Platform fee (prorated 10/30 days)"
    assert (part.quantity, part.unit_amount) == (D(1), D("99.00"))
    assert exactly(part.amount, D("33.000"))


def test_per_seat_fee_for_a_full_and_a_prorated_period() -> None:
    [full] = rate_recurring(SEATS, seats=12, days=31, period_days=31)
    assert full == Rated("", "Seats × 12", D(12), D("99.00"), D("1188.00"))
    [part] = rate_recurring(SEATS, seats=12, days=10, period_days=30)
    assert part.description == "Seats × 12 (prorated 10/30 days)"
    assert (part.quantity, part.unit_amount) == (D(12), D("99.00"))
    assert exactly(part.amount, D("396"))
    [none] = rate_recurring(SEATS, seats=0, days=30, period_days=30)
    assert (none.quantity, none.amount) == (D(0), D(0))
    [zero_days] = rate_recurring(SEATS, seats=3, days=0, period_days=30)
    assert zero_days.amount == 0


def test_a_third_of_a_period_is_rounded_once_at_sixty_digits() -> None:
    fee = charge(ChargeModel.FLAT, amount=D(100))
    [line] = rate_recurring(fee, seats=1, days=1, period_days=3)
    assert line.amount == D("33." + "3" * 58)
    assert len(line.amount.as_tuple().digits) == 60
    [line] = rate_recurring(fee, seats=1, days=2, period_days=3)
    assert line.amount == D("66." + "6" * 57 + "7")


def test_large_seat_counts_stay_exact() -> None:
    [line] = rate_recurring(SEATS, seats=10**12, days=30, period_days=30)
    assert exactly(line.amount, D("99000000000000.00"))


# --- minimum and maximum -------------------------------------------------------------

COMMITTED = plan_of(PER_UNIT, minimum=D(100), maximum=D(1000))


@pytest.mark.parametrize(
    ("used", "days", "period", "expected"),
    [
        ("0", 30, 30, D(100)),
        ("40", 30, 30, D(60)),
        ("99.999", 30, 30, D("0.001")),
        ("100", 30, 30, None),
        ("120", 30, 30, None),
        ("40", 15, 30, D(10)),
        ("50", 15, 30, None),
        ("0", 0, 30, None),
    ],
)
def test_true_up_adds_the_shortfall_to_the_prorated_minimum(
    used: str, days: int, period: int, expected: Decimal | None
) -> None:
    line = true_up(COMMITTED, D(used), days=days, period_days=period)
    if expected is None:
        assert line is None
        return
    assert line is not None
    assert (line.part, line.quantity, line.unit_amount) == ("minimum", D(1), expected)
    assert exactly(line.amount, expected)
    suffix = "" if days == period else f" (prorated {days}/{period} days)"
    assert line.description == f"Minimum commitment of 100 — shortfall{suffix}"


@pytest.mark.parametrize(
    ("used", "days", "period", "expected"),
    [
        ("1200", 30, 30, D(-200)),
        ("1000.01", 30, 30, D("-0.01")),
        ("1000", 30, 30, None),
        ("10", 30, 30, None),
        ("600", 15, 30, D(-100)),
        ("500", 15, 30, None),
        ("5", 0, 30, D(-5)),
    ],
)
def test_cap_takes_usage_back_to_the_prorated_maximum(
    used: str, days: int, period: int, expected: Decimal | None
) -> None:
    line = cap(COMMITTED, D(used), days=days, period_days=period)
    if expected is None:
        assert line is None
        return
    assert line is not None
    assert (line.part, line.quantity, line.unit_amount) == ("cap", D(1), expected)
    assert exactly(line.amount, expected)
    suffix = "" if days == period else f" (prorated {days}/{period} days)"
    assert line.description == f"Maximum of 1,000 — usage above the cap{suffix}"


def test_prorated_minimum_and_maximum_round_once() -> None:
    """(100 × 10 − 31 × 3) / 31 — one rounding, not (100 × 10 / 31, rounded) − 3."""
    line = true_up(COMMITTED, D(3), days=10, period_days=31)
    assert line is not None
    assert line.amount == D("29.2580645161290322580645161290322580645161290322580645161290")
    assert within_half_ulp(line.amount, Fraction(1000 - 93, 31))
    capped = cap(COMMITTED, D(400), days=10, period_days=30)
    assert capped is not None
    assert capped.amount == D("-66." + "6" * 57 + "7")


def test_plans_without_a_minimum_or_maximum_add_nothing() -> None:
    plain_plan = plan_of(PER_UNIT)
    assert true_up(plain_plan, D(0), days=30, period_days=30) is None
    assert cap(plain_plan, D(10**9), days=30, period_days=30) is None


# --- misuse --------------------------------------------------------------------------


@pytest.mark.parametrize("total", [D(-1), D("-0.000001"), D("NaN"), D("Infinity"), 1.5, "3", True])
def test_rating_refuses_bad_usage(total: Any) -> None:
    for model_charge in (PER_UNIT, GRADUATED, VOLUME, PACKAGE, ALLOWANCE, PER_MODEL):
        with pytest.raises(InvalidField) as caught:
            rate_usage(model_charge, UsageInput(total))
        assert caught.value.field == "usage"


def test_negative_usage_amount_days_and_seats_are_refused() -> None:
    with pytest.raises(InvalidField, match="must not be negative") as caught:
        true_up(COMMITTED, D(-1), days=30, period_days=30)
    assert caught.value.field == "usage_amount"
    for days, period, field in [(-1, 30, "days"), (31, 30, "days"), (0, 0, "period_days")]:
        with pytest.raises(InvalidField) as caught:
            rate_recurring(FLAT, seats=1, days=days, period_days=period)
        assert caught.value.field == field
        with pytest.raises(InvalidField):
            cap(COMMITTED, D(1), days=days, period_days=period)
    for seats in (-1, True):
        with pytest.raises(InvalidField) as caught:
            rate_recurring(SEATS, seats=seats, days=1, period_days=30)
        assert caught.value.field == "seats"


def test_models_are_rated_by_their_own_function() -> None:
    with pytest.raises(ValueError, match="use rate_recurring"):
        rate_usage(FLAT, UsageInput(D(1)))
    with pytest.raises(ValueError, match="use rate_usage"):
        rate_recurring(PER_UNIT, seats=1, days=1, period_days=1)
    with pytest.raises(ValueError, match="not 'graduated'"):
        RATERS[ChargeModel.GRADUATED](PER_UNIT, UsageInput(D(1)))
    with pytest.raises(ValueError, match="build charges with new_plan"):
        rate_usage(Charge("x", ChargeModel.PER_UNIT, "X", meter="m"), UsageInput(D(1)))


def test_the_registry_has_one_function_per_usage_model() -> None:
    assert set(RATERS) == USAGE_MODELS
    assert set(ChargeModel) == USAGE_MODELS | RECURRING_MODELS
    assert not USAGE_MODELS & RECURRING_MODELS


def test_results_too_precise_to_be_exact_are_refused() -> None:
    fine = charge(ChargeModel.PER_UNIT, amount=D("0.123456789012345678"))
    with pytest.raises(InvalidField, match="60 significant digits") as caught:
        rate_usage(fine, UsageInput(D("1234567890123456789012345678901234567890.0123456789")))
    assert caught.value.field == "usage"
    tiny = charge(ChargeModel.PACKAGE, amount=D(1), package_size=D("0.000000000000000001"))
    with pytest.raises(InvalidField, match="60 significant digits"):
        rate_usage(tiny, UsageInput(D(10) ** 50))


# --- validating plans ----------------------------------------------------------------


def base_charges() -> list[Charge]:
    return [
        Charge("platform", ChargeModel.FLAT, "Platform", amount=D(50), timing=Timing.IN_ADVANCE),
        Charge("api", ChargeModel.PER_UNIT, "API calls", amount=D("0.01"), meter="api_calls"),
        Charge(
            "tokens",
            ChargeModel.GRADUATED,
            "Tokens",
            meter="llm_tokens",
            tiers=(Tier(D(1000), D(1)), Tier(D(5000), D(2)), Tier(None, D(3))),
        ),
    ]


def with_charge(index: int, **changes: Any) -> dict[str, Any]:
    charges = base_charges()
    old = charges[index]
    charges[index] = Charge(**{name: getattr(old, name) for name in Charge.__slots__} | changes)
    return {"charges": charges}


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"code": "Pro"}, "code", "does not match"),
        ({"code": ""}, "code", "does not match"),
        ({"version": 0}, "version", "expected an integer ≥ 1"),
        ({"version": True}, "version", "expected an integer ≥ 1"),
        ({"name": "  "}, "name", "must not be empty"),
        ({"currency": "XXX"}, "currency", "not an ISO 4217"),
        (
            {"interval": "fortnight"},
            "interval",
            "'fortnight' is not one of week, month, quarter, half_year, year",
        ),
        (
            {"interval": "month", "usage_interval": "week"},
            "usage_interval",
            "a month plan cannot have a week usage period",
        ),
        (
            {"interval": "week", "usage_interval": "month"},
            "usage_interval",
            "a week plan cannot have a month usage period",
        ),
        ({"usage_interval": "year"}, "usage_interval", "a month plan cannot have a year usage"),
        (
            {"interval": "quarter", "usage_interval": "half_year"},
            "usage_interval",
            "a quarter plan cannot have a half_year usage period",
        ),
        ({"charges": []}, "charges", "at least one charge"),
        ({"charges": "api"}, "charges", "expected a list of charges"),
        ({"charges": [object()]}, "charges.0", "expected a Charge"),
        ({"minimum": D(10), "maximum": D(5)}, "maximum", "not be less than the minimum (10)"),
        ({"minimum": D(-1)}, "minimum", "must not be negative"),
        (
            {"minimum": D(1), "charges": base_charges()[:1]},
            "minimum",
            "the plan has none",
        ),
        ({"maximum": 0.5}, "maximum", "floats are inexact"),
        (with_charge(0, key="Platform"), "charges.0.key", "does not match"),
        (with_charge(0, model="hourly"), "charges.0.model", "'hourly' is not one of"),
        (with_charge(0, description=""), "charges.0.description", "must not be empty"),
        (with_charge(0, amount=None), "charges.0.amount", "required for model 'flat'"),
        (with_charge(0, amount=D("-0.01")), "charges.0.amount", "must not be negative, got -0.01"),
        (with_charge(0, amount=1.5), "charges.0.amount", "floats are inexact"),
        (with_charge(0, amount="ten"), "charges.0.amount", "'ten' is not a decimal number"),
        (with_charge(0, amount=D("NaN")), "charges.0.amount", "finite"),
        (with_charge(0, amount=D("1E+30")), "charges.0.amount", "more than 30 digits"),
        (with_charge(0, amount=D("1E-19")), "charges.0.amount", "more than 18 digits"),
        (with_charge(0, meter="api_calls"), "charges.0.meter", "not used by model 'flat'"),
        (with_charge(0, tax_code=""), "charges.0.tax_code", "must not be empty"),
        (with_charge(0, timing="weekly"), "charges.0.timing", "is not one of"),
        (
            with_charge(2, model=ChargeModel.VOLUME, timing=Timing.IN_ADVANCE),
            "charges.2.timing",
            "a volume price can fall as usage grows: volume charges are billed in arrears",
        ),
        (with_charge(1, meter=None), "charges.1.meter", "required for model 'per_unit'"),
        (with_charge(1, meter="API"), "charges.1.meter", "is not a meter key"),
        (with_charge(1, included=D(1)), "charges.1.included", "not used by model 'per_unit'"),
        (with_charge(1, tiers=(Tier(None, D(1)),)), "charges.1.tiers", "not used"),
        (with_charge(1, key="platform"), "charges", "duplicate key 'platform'"),
        (with_charge(2, tiers=()), "charges.2.tiers", "required for model 'graduated'"),
        (with_charge(2, amount=D(1)), "charges.2.amount", "not used by model 'graduated'"),
        (
            with_charge(2, tiers=(Tier(D(1000), D(1)), Tier(D(1000), D(2)), Tier(None, D(3)))),
            "charges.2.tiers.1.up_to",
            "must be greater than the previous tier's up_to (1000)",
        ),
        (
            with_charge(2, tiers=(Tier(D(1000), D(1)), Tier(D(5000), D(2)))),
            "charges.2.tiers.1.up_to",
            "the last tier must be unbounded",
        ),
        (
            with_charge(2, tiers=(Tier(None, D(1)), Tier(None, D(2)))),
            "charges.2.tiers.0.up_to",
            "only the last tier may be unbounded",
        ),
        (
            with_charge(2, tiers=(Tier(D(0), D(1)), Tier(None, D(2)))),
            "charges.2.tiers.0.up_to",
            "must be greater than 0",
        ),
        (
            with_charge(2, tiers=(Tier(None, D(-1)),)),
            "charges.2.tiers.0.unit_amount",
            "must not be negative",
        ),
        (
            with_charge(2, tiers=(Tier(None, D(1), D(-1)),)),
            "charges.2.tiers.0.flat_amount",
            "must not be negative",
        ),
        (with_charge(2, tiers=({"up_to": None},)), "charges.2.tiers.0", "expected a Tier"),
    ],
)
def test_new_plan_names_the_field_at_fault(
    overrides: dict[str, Any], field: str, reason: str
) -> None:
    fields: dict[str, Any] = {
        "code": "pro",
        "version": 1,
        "name": "Pro",
        "currency": "EUR",
        "interval": "month",
        "charges": base_charges(),
    }
    fields.update(overrides)
    with pytest.raises(InvalidField) as caught:
        new_plan(**fields)
    assert caught.value.field == field
    assert reason in caught.value.reason


@pytest.mark.parametrize(
    ("model", "fields", "field", "reason"),
    [
        (ChargeModel.PACKAGE, {"amount": D(1)}, "package_size", "required for model 'package'"),
        (
            ChargeModel.PACKAGE,
            {"amount": D(1), "package_size": D(0)},
            "package_size",
            "greater than 0",
        ),
        (ChargeModel.ALLOWANCE, {"amount": D(1)}, "included", "required for model 'allowance'"),
        (ChargeModel.ALLOWANCE, {"amount": D(1), "included": D(-1)}, "included", "negative"),
        (ChargeModel.PER_DIMENSION, {"dimension": "model"}, "prices", "required"),
        (ChargeModel.PER_DIMENSION, {"prices": (("a", D(1)),)}, "dimension", "required"),
        (
            ChargeModel.PER_DIMENSION,
            {"dimension": "model", "prices": (("a", D(1)), ("a", D(2)))},
            "prices",
            "duplicate value 'a'",
        ),
        (
            ChargeModel.PER_DIMENSION,
            {"dimension": "model", "prices": (("a", D(-1)),)},
            "prices.a",
            "must not be negative",
        ),
        (
            ChargeModel.PER_DIMENSION,
            {"dimension": "model", "prices": ((1, D(1)),)},
            "prices.0",
            "a dimension value is text",
        ),
        (
            ChargeModel.PER_DIMENSION,
            {"dimension": "model", "prices": (("a", D(1)),), "default_price": D(-1)},
            "default_price",
            "must not be negative",
        ),
        (
            ChargeModel.PER_UNIT,
            {"amount": D(1), "default_price": D(1)},
            "default_price",
            "not used",
        ),
        (ChargeModel.PER_SEAT, {}, "amount", "required for model 'per_seat'"),
    ],
)
def test_model_specific_fields_are_checked(
    model: ChargeModel, fields: dict[str, Any], field: str, reason: str
) -> None:
    meter = {} if model in RECURRING_MODELS else {"meter": "units"}
    with pytest.raises(InvalidField) as caught:
        plan_of(Charge("c", model, "C", **meter, **fields))
    assert caught.value.field == f"charges.0.{field}"
    assert reason in caught.value.reason


def test_new_plan_normalizes_its_input() -> None:
    plan = new_plan(
        code="pro",
        version=2,
        name="Pro",
        currency="EUR",
        interval="year",
        usage_interval="month",
        charges=[
            Charge(
                "tokens",
                "per_dimension",  # type: ignore[arg-type]
                "Tokens",
                meter="tokens",
                dimension="model",
                prices=[("small", 1), ("large", "0.5")],  # type: ignore[arg-type]
            ),
            Charge("fee", "flat", "Fee", amount=5, timing="in_advance"),  # type: ignore[arg-type]
        ],
        minimum="10",  # type: ignore[arg-type]
    )
    tokens, fee = plan.charges
    assert plan.interval is Interval.YEAR
    assert plan.usage_interval is Interval.MONTH
    assert tokens.model is ChargeModel.PER_DIMENSION
    assert tokens.prices == (("large", D("0.5")), ("small", D(1)))
    assert all(type(price) is Decimal for _, price in tokens.prices)
    assert fee.timing is Timing.IN_ADVANCE
    assert type(fee.amount) is Decimal
    assert plan.minimum == D(10)
    assert hash(plan) == hash(plan_from_mapping(plan_to_mapping(plan), code="pro", version=2))


def test_usage_interval_defaults_to_the_interval() -> None:
    assert plan_of(PER_UNIT, interval="year").usage_interval is Interval.YEAR


@pytest.mark.parametrize(
    ("interval", "usage"),
    [("quarter", "month"), ("half_year", "quarter"), ("half_year", "month"), ("year", "quarter")],
)
def test_usage_periods_may_divide_the_billing_period(interval: str, usage: str) -> None:
    plan = plan_of(PER_UNIT, interval=interval, usage_interval=usage)
    assert (plan.interval.months, plan.usage_interval.months) == (
        {"quarter": 3, "half_year": 6, "year": 12}[interval],
        {"month": 1, "quarter": 3}[usage],
    )


# --- plans as plain data -------------------------------------------------------------

SAMPLE: dict[str, Any] = {
    "name": "Growth",
    "currency": "USD",
    "interval": "year",
    "usage_interval": "month",
    "minimum": "500",
    "charges": [
        {
            "key": "platform",
            "model": "flat",
            "description": "Platform",
            "amount": 12000,
            "timing": "in_advance",
        },
        {
            "key": "api",
            "model": "graduated",
            "description": "API calls",
            "meter": "api_calls",
            "tiers": [
                {"up_to": "1000", "unit_amount": "0"},
                {"up_to": None, "unit_amount": "0.002"},
            ],
        },
        {
            "key": "tokens",
            "model": "per_dimension",
            "description": "Tokens",
            "meter": "llm_tokens",
            "dimension": "model",
            "prices": {"small": "0.001", "large": "0.01"},
            "default_price": None,
            "tax_code": "digital",
        },
    ],
}


def test_plan_from_mapping_reads_plain_data() -> None:
    plan = plan_from_mapping(SAMPLE, code="growth", version=3)
    platform, api, tokens = plan.charges
    assert (plan.code, plan.version, plan.interval, plan.usage_interval) == (
        "growth",
        3,
        Interval.YEAR,
        Interval.MONTH,
    )
    assert plan.minimum == D(500)
    assert plan.maximum is None
    assert platform == Charge(
        "platform", ChargeModel.FLAT, "Platform", Timing.IN_ADVANCE, amount=D(12000)
    )
    assert api.tiers == (Tier(D(1000), D(0), D(0)), Tier(None, D("0.002"), D(0)))
    assert tokens.prices == (("large", D("0.01")), ("small", D("0.001")))
    assert tokens.default_price is None
    assert tokens.tax_code == "digital"


def test_plan_to_mapping_writes_strings_and_omits_empty_fields() -> None:
    plan = plan_from_mapping(SAMPLE, code="growth", version=3)
    data = plan_to_mapping(plan)
    assert json.loads(json.dumps(data)) == data
    assert data["minimum"] == "500"
    assert "maximum" not in data
    assert data["charges"][0] == {
        "key": "platform",
        "model": "flat",
        "description": "Platform",
        "timing": "in_advance",
        "amount": "12000",
        "tax_code": "standard",
    }
    assert data["charges"][1]["tiers"] == [
        {"up_to": "1000", "unit_amount": "0", "flat_amount": "0"},
        {"up_to": None, "unit_amount": "0.002", "flat_amount": "0"},
    ]
    assert data["charges"][2]["prices"] == {"large": "0.01", "small": "0.001"}
    assert "default_price" not in data["charges"][2]
    assert plan_from_mapping(data, code="growth", version=3) == plan


def test_plan_to_mapping_never_writes_an_exponent() -> None:
    plan = plan_of(charge(ChargeModel.PER_UNIT, amount=D("1E-7")), maximum=D("1E+3"))
    data = plan_to_mapping(plan)
    assert (data["charges"][0]["amount"], data["maximum"]) == ("0.0000001", "1000")


def edit(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """SAMPLE with the value at ``path`` replaced (or added)."""
    data = json.loads(json.dumps(SAMPLE))
    node = data
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return data


def drop(path: tuple[Any, ...]) -> dict[str, Any]:
    data = json.loads(json.dumps(SAMPLE))
    node = data
    for step in path[:-1]:
        node = node[step]
    del node[path[-1]]
    return data


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        (edit(("minimum",), 0.1), "minimum", "floats are inexact (0.1)"),
        (edit(("charges", 0, "amount"), 12000.0), "charges.0.amount", "floats are inexact"),
        (
            edit(("charges", 1, "tiers", 1, "unit_amount"), 0.002),
            "charges.1.tiers.1.unit_amount",
            "floats are inexact",
        ),
        (edit(("charges", 2, "prices", "small"), 0.001), "charges.2.prices.small", "floats"),
        (edit(("charges", 0, "amount"), "1,000"), "charges.0.amount", "not a decimal number"),
        (edit(("charges", 0, "amount"), " 1"), "charges.0.amount", "not a decimal number"),
        (edit(("charges", 0, "amount"), "Infinity"), "charges.0.amount", "not a decimal number"),
        (edit(("charges", 0, "amount"), True), "charges.0.amount", "expected a decimal number"),
        (edit(("colour",), "blue"), "colour", "unknown key"),
        (edit(("code",), "growth"), "code", "given separately"),
        (edit(("version",), 3), "version", "given separately"),
        (edit(("charges", 1, "colour"), "blue"), "charges.1.colour", "unknown key"),
        (edit(("charges", 1, "tiers", 0, "colour"), 1), "charges.1.tiers.0.colour", "unknown key"),
        (drop(("name",)), "name", "required"),
        (drop(("charges",)), "charges", "required"),
        (drop(("charges", 1, "model")), "charges.1.model", "required"),
        (
            drop(("charges", 1, "tiers", 0, "unit_amount")),
            "charges.1.tiers.0.unit_amount",
            "required",
        ),
        (edit(("charges",), {"a": 1}), "charges", "expected a list of charges"),
        (edit(("charges", 0), "platform"), "charges.0", "expected an object"),
        (edit(("charges", 1, "tiers"), "none"), "charges.1.tiers", "expected a list"),
        (edit(("charges", 1, "tiers", 0), 5), "charges.1.tiers.0", "expected an object"),
        (
            edit(("charges", 2, "prices"), [["small", "1"]]),
            "charges.2.prices",
            "expected an object",
        ),
        (edit(("interval",), "fortnight"), "interval", "is not one of"),
        (edit(("charges", 1, "model"), "tiered"), "charges.1.model", "is not one of"),
        (edit(("charges", 1, "timing"), "at_once"), "charges.1.timing", "is not one of"),
    ],
)
def test_plan_from_mapping_refuses_bad_data(data: Any, field: str, reason: str) -> None:
    with pytest.raises(InvalidField) as caught:
        plan_from_mapping(data, code="growth", version=3)
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_a_usage_charge_may_be_billed_as_it_arrives() -> None:
    plan = plan_from_mapping(edit(("charges", 1, "timing"), "in_advance"), code="growth", version=3)
    assert plan.charges[1].timing is Timing.IN_ADVANCE
    assert plan_from_mapping(SAMPLE, code="growth", version=3).charges[1].timing is (
        Timing.IN_ARREARS
    )


def test_plan_from_mapping_needs_a_mapping() -> None:
    with pytest.raises(InvalidField, match="expected an object, got list") as caught:
        plan_from_mapping([], code="growth", version=3)  # type: ignore[arg-type]
    assert caught.value.field == "plan"


# --- hypothesis: generated plans -----------------------------------------------------

amounts = st.builds(
    lambda n, places: Decimal(n).scaleb(-places), st.integers(0, 10**7), st.integers(0, 4)
)
positive = amounts.filter(lambda d: d > 0)
quantities = st.builds(
    lambda n, places: Decimal(n).scaleb(-places), st.integers(0, 10**9), st.integers(0, 3)
)
labels = st.text(alphabet="abcxyz-_ ", max_size=5)
meters = st.sampled_from(["api_calls", "llm_tokens", "storage_gb"])
descriptions = st.text(min_size=1, max_size=12).filter(lambda s: bool(s.strip()))


@st.composite
def tier_lists(draw: st.DrawFn, *, rising: bool = False) -> tuple[Tier, ...]:
    bounds = sorted(draw(st.lists(positive, max_size=4, unique=True)))
    count = len(bounds) + 1
    units = draw(st.lists(amounts, min_size=count, max_size=count))
    flats = draw(st.lists(st.one_of(st.just(D(0)), amounts), min_size=count, max_size=count))
    if rising:
        units, flats = sorted(units), sorted(flats)
    return tuple(
        Tier(up_to, unit, flat)
        for up_to, unit, flat in zip([*bounds, None], units, flats, strict=True)
    )


def usage_charges(*, rising_volume: bool = False) -> st.SearchStrategy[Charge]:
    def make(model: ChargeModel, **extra: st.SearchStrategy[Any]) -> st.SearchStrategy[Charge]:
        return st.builds(
            Charge,
            key=st.just("c"),
            model=st.just(model),
            description=descriptions,
            meter=meters,
            **extra,
        )

    return st.one_of(
        make(ChargeModel.PER_UNIT, amount=amounts),
        make(ChargeModel.GRADUATED, tiers=tier_lists()),
        make(ChargeModel.VOLUME, tiers=tier_lists(rising=rising_volume)),
        make(ChargeModel.PACKAGE, amount=amounts, package_size=positive),
        make(ChargeModel.ALLOWANCE, amount=amounts, included=amounts),
        make(
            ChargeModel.PER_DIMENSION,
            dimension=st.sampled_from(["model", "region"]),
            prices=st.dictionaries(labels, amounts, min_size=1, max_size=4).map(
                lambda d: tuple(sorted(d.items()))
            ),
            default_price=st.one_of(st.none(), amounts),
        ),
    )


recurring_charges = st.builds(
    Charge,
    key=st.just("c"),
    model=st.sampled_from(sorted(RECURRING_MODELS)),
    description=descriptions,
    timing=st.sampled_from(list(Timing)),
    amount=amounts,
    tax_code=st.sampled_from(["standard", "digital", "exempt"]),
)


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    charges = draw(st.lists(st.one_of(usage_charges(), recurring_charges), min_size=1, max_size=5))
    keyed = [
        Charge(**{name: getattr(c, name) for name in Charge.__slots__} | {"key": f"c{i}"})
        for i, c in enumerate(charges)
    ]
    has_usage = any(c.model in USAGE_MODELS for c in keyed)
    minimum = draw(st.one_of(st.none(), amounts)) if has_usage else None
    maximum = draw(st.one_of(st.none(), amounts)) if has_usage else None
    if minimum is not None and maximum is not None and maximum < minimum:
        minimum, maximum = maximum, minimum
    interval = draw(st.sampled_from(list(Interval)))
    usage_interval = Interval.MONTH if interval is Interval.YEAR else interval
    return new_plan(
        code=draw(st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,10}", fullmatch=True)),
        version=draw(st.integers(1, 1000)),
        name=draw(descriptions),
        currency=draw(st.sampled_from(["EUR", "USD", "JPY", "KWD"])),
        interval=interval,
        usage_interval=draw(st.sampled_from([interval, usage_interval])),
        charges=keyed,
        minimum=minimum,
        maximum=maximum,
    )


@given(plans())
def test_plans_round_trip_through_plain_data(plan: Plan) -> None:
    data = plan_to_mapping(plan)
    assert json.loads(json.dumps(data)) == data
    assert plan_from_mapping(data, code=plan.code, version=plan.version) == plan


def split_for(charge_: Charge, draw: st.DrawFn) -> dict[str, Decimal]:
    known = [value for value, _ in charge_.prices]
    if charge_.default_price is not None:
        known = sorted({*known, "", "unlisted"})
    return draw(st.dictionaries(st.sampled_from(known), quantities, max_size=len(known)))


@st.composite
def usage_cases(draw: st.DrawFn) -> tuple[Charge, UsageInput, UsageInput]:
    """A valid usage charge and two usages, the second at least the first in every value."""
    charge_ = charge(**_fields(draw(usage_charges(rising_volume=True))))
    if charge_.model is ChargeModel.PER_DIMENSION:
        low = split_for(charge_, draw)
        high = {value: q + draw(quantities) for value, q in low.items()}
        return (
            charge_,
            UsageInput(sum(low.values(), D(0)), low),
            UsageInput(sum(high.values(), D(0)), high),
        )
    low_total = draw(quantities)
    return charge_, UsageInput(low_total), UsageInput(low_total + draw(quantities))


def _fields(c: Charge) -> dict[str, Any]:
    return {name: getattr(c, name) for name in Charge.__slots__ if name != "key"}


@settings(max_examples=200)
@given(usage_cases())
def test_amount_never_decreases_as_usage_grows(case: tuple[Charge, UsageInput, UsageInput]) -> None:
    charge_, low, high = case
    assert total_of(rate_usage(charge_, low)) <= total_of(rate_usage(charge_, high))


@given(usage_cases())
def test_rating_is_deterministic_and_exact(case: tuple[Charge, UsageInput, UsageInput]) -> None:
    charge_, low, _ = case
    first = rate_usage(charge_, low)
    again = rate_usage(charge_, UsageInput(low.total, dict(low.by_dimension)))
    assert first == again
    assert [r.part for r in first] == [r.part for r in again]
    for line in first:
        assert line.quantity >= 0
        assert line.amount >= 0
        if line.part.startswith("tier-") and charge_.model is ChargeModel.GRADUATED:
            flat = charge_.tiers[int(line.part[5:]) - 1].flat_amount
            assert line.amount == line.quantity * line.unit_amount + (flat if line.quantity else 0)
        elif charge_.model is not ChargeModel.VOLUME:
            assert Fraction(line.amount) == Fraction(line.quantity) * Fraction(line.unit_amount)
    assert len({r.part for r in first}) == len(first)


def graduated_by_loop(tiers: tuple[Tier, ...], total: Decimal) -> tuple[Fraction, list[int]]:
    """Walk the units tier by tier: an independent statement of graduated pricing."""
    amount, used, lower = Fraction(0), [], Fraction(0)
    remaining = Fraction(total)
    for number, tier in enumerate(tiers, start=1):
        width = None if tier.up_to is None else Fraction(tier.up_to) - lower
        take = remaining if width is None else min(remaining, width)
        if take > 0:
            amount += take * Fraction(tier.unit_amount) + Fraction(tier.flat_amount)
            used.append(number)
        remaining -= take
        if tier.up_to is not None:
            lower = Fraction(tier.up_to)
    return amount, used


@given(tier_lists(), quantities)
def test_graduated_equals_a_simple_loop(tiers: tuple[Tier, ...], total: Decimal) -> None:
    graduated = charge(ChargeModel.GRADUATED, tiers=tiers)
    rated = rate_usage(graduated, UsageInput(total))
    expected, used = graduated_by_loop(tiers, total)
    assert Fraction(total_of(rated)) == expected
    assert [r.part for r in rated] == [f"tier-{n}" for n in used or [1]]
    assert sum(r.quantity for r in rated) == total


@given(tier_lists(), quantities)
def test_volume_prices_the_whole_total_at_one_tier(tiers: tuple[Tier, ...], total: Decimal) -> None:
    volume = charge(ChargeModel.VOLUME, tiers=tiers)
    [line] = rate_usage(volume, UsageInput(total))
    number = int(line.part.removeprefix("tier-"))
    tier = tiers[number - 1]
    lower = tiers[number - 2].up_to if number > 1 else None
    assert line.quantity == total
    assert tier.up_to is None or total <= tier.up_to
    assert lower is None or total > lower
    assert line.amount == total * tier.unit_amount + (tier.flat_amount if total else 0)


@st.composite
def dimension_cases(draw: st.DrawFn) -> tuple[Charge, dict[str, Decimal]]:
    prices = draw(st.dictionaries(labels, amounts, min_size=1, max_size=4))
    default = draw(st.one_of(st.none(), amounts))
    priced = charge(
        ChargeModel.PER_DIMENSION,
        dimension="region",
        prices=tuple(sorted(prices.items())),
        default_price=default,
    )
    return priced, split_for(priced, draw)


@given(dimension_cases())
def test_per_dimension_total_is_the_sum_of_quantity_times_price(
    case: tuple[Charge, dict[str, Decimal]],
) -> None:
    priced, split = case
    rated = rate_usage(priced, UsageInput(sum(split.values(), D(0)), split))
    prices = dict(priced.prices)
    expected = sum(
        (
            Fraction(q) * Fraction(prices.get(v, priced.default_price or 0))
            for v, q in split.items()
        ),
        Fraction(0),
    )
    assert Fraction(total_of(rated)) == expected
    assert [r.part for r in rated] == [f"dim:{v}" for v in sorted(split) if split[v] > 0]


def within_half_ulp(value: Decimal, exact: Fraction) -> bool:
    """``value`` is ``exact`` rounded once to 60 significant digits."""
    if value == 0:
        return exact == 0
    ulp = Fraction(10) ** (value.adjusted() - 59)
    return abs(Fraction(value) - exact) <= ulp / 2


@given(
    st.sampled_from([FLAT, SEATS]),
    amounts,
    st.integers(0, 10_000),
    st.integers(1, 366).flatmap(lambda p: st.tuples(st.integers(0, p), st.just(p))),
)
def test_proration_is_the_exact_fraction_rounded_once(
    fee: Charge, price: Decimal, seats: int, days_of: tuple[int, int]
) -> None:
    days, period = days_of
    priced = charge(fee.model, amount=price)
    [line] = rate_recurring(priced, seats=seats, days=days, period_days=period)
    quantity = seats if fee.model is ChargeModel.PER_SEAT else 1
    assert line.quantity == quantity
    assert line.unit_amount == price
    assert within_half_ulp(line.amount, Fraction(price) * quantity * days / period)
    minimum_plan = plan_of(PER_UNIT, minimum=price, maximum=price * 2)
    used = D(seats)
    exact_min = Fraction(price) * days / period - Fraction(used)
    shortfall = true_up(minimum_plan, used, days=days, period_days=period)
    assert (shortfall is None) == (exact_min <= 0)
    if shortfall is not None:
        assert within_half_ulp(shortfall.amount, exact_min)
    exact_cap = Fraction(used) - Fraction(price * 2) * days / period
    capped = cap(minimum_plan, used, days=days, period_days=period)
    assert (capped is None) == (exact_cap <= 0)
    if capped is not None:
        assert within_half_ulp(capped.amount, -exact_cap)


def test_decimal_traps_do_not_leak() -> None:
    """Rating uses its own contexts; the caller's context is untouched."""
    before = getcontext().copy()
    rate_recurring(charge(ChargeModel.FLAT, amount=D(1)), seats=1, days=1, period_days=3)
    after = getcontext()
    assert (after.prec, after.traps[Inexact], after.traps[InvalidOperation]) == (
        before.prec,
        before.traps[Inexact],
        before.traps[InvalidOperation],
    )
