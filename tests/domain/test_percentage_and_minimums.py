"""The percentage-of-transaction model, a charge's own minimum, and a plan minimum that counts
the recurring fees: their rules, their refusals and their round trip as data."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from revsync.domain.errors import InvalidField
from revsync.domain.pricing import (
    Charge,
    ChargeModel,
    Interval,
    Plan,
    UsageInput,
    charge_minimum,
    new_plan,
    plan_from_mapping,
    plan_to_mapping,
    rate_usage,
    true_up,
)

D = Decimal


def plan_of(*charges: Charge, **overrides: Any) -> Plan:
    fields: dict[str, Any] = {
        "code": "pay",
        "version": 1,
        "name": "Payments",
        "currency": "EUR",
        "interval": Interval.MONTH,
        "charges": charges,
    }
    fields.update(overrides)
    return new_plan(**fields)


def percentage(**fields: Any) -> Charge:
    fields.setdefault("rate", D("2.9"))
    charge = Charge(
        key="cards",
        model=ChargeModel.PERCENTAGE,
        description="Card payments",
        meter="paid",
        **fields,
    )
    return plan_of(charge).charges[0]


def rate(charge: Charge, *amounts: str) -> list[tuple[str, str, Decimal, Decimal, Decimal]]:
    values = [D(a) for a in amounts]
    rated = rate_usage(charge, UsageInput(sum(values, D(0)), values=values))
    return [(r.part, r.description, r.quantity, r.unit_amount, r.amount) for r in rated]


# --- percentage -------------------------------------------------------------------------


def test_a_percent_of_every_transaction() -> None:
    assert rate(percentage(), "10.00", "100.00") == [
        ("fees", "Card payments — 2.9% of 110", D("110.00"), D("0.029"), D("3.19000")),
    ]


def test_no_transactions_gives_a_zero_line() -> None:
    assert rate(percentage(fixed_amount=D("0.30"))) == [
        ("fees", "Card payments — 2.9% of 0 + 0.3 × 0 transactions", D(0), D("0.029"), D(0)),
    ]


def test_fixed_amount_and_bounds_per_transaction() -> None:
    # fees: 5.00 → 0.145 + 0.30 = 0.445 → raised to 0.50; 10.00 → 0.59; 100.00 → 3.20;
    # 500.00 → 14.80 → held to 5.00: 0.50 + 0.59 + 3.20 + 5.00 = 9.29 exactly, one line
    charge = percentage(
        fixed_amount=D("0.30"), min_per_transaction=D("0.50"), max_per_transaction=D("5.00")
    )
    assert rate(charge, "5.00", "10.00", "100.00", "500.00") == [
        (
            "fees",
            "Card payments — 2.9% of 615 + 0.3 × 4 transactions, 1 raised to the minimum of "
            "0.5, 1 held to the maximum of 5",
            D("615.00"),
            D("0.029"),
            D("9.29000"),
        ),
    ]


def test_free_transactions_come_first_and_pay_nothing() -> None:
    charge = percentage(fixed_amount=D("0.30"), free_transactions=2)
    assert rate(charge, "50", "70", "100") == [
        ("free", "Card payments — free: the first 2 transactions", D(120), D(0), D(0)),
        (
            "fees",
            "Card payments — 2.9% of 100 + 0.3 × 1 transaction",
            D(100),
            D("0.029"),
            D("3.200"),
        ),
    ]


def test_free_amount_leaves_the_crossing_transaction_paying_on_the_rest() -> None:
    # 100 free of amount: 60 free, then 40 of the 70, the 70's other 30 pays (and its fixed fee)
    charge = percentage(fixed_amount=D("0.30"), free_amount=D(100))
    assert rate(charge, "60", "70", "200") == [
        ("free", "Card payments — free: the first 100 of amount", D(100), D(0), D(0)),
        (
            "fees",
            "Card payments — 2.9% of 230 + 0.3 × 2 transactions",
            D(230),
            D("0.029"),
            D("7.270"),
        ),
    ]


def test_with_both_allowances_the_first_used_up_ends_it() -> None:
    # two free transactions within 1,000 of amount: the count runs out first
    both = percentage(free_transactions=2, free_amount=D(1000))
    assert rate(both, "10", "20", "30")[0][2] == D(30)
    # three free transactions within 25 of amount: the amount runs out first (10 + 15 of 20)
    amount_first = percentage(free_transactions=3, free_amount=D(25))
    assert rate(amount_first, "10", "20", "30") == [
        (
            "free",
            "Card payments — free: the first 3 transactions, within the first 25 of amount",
            D(25),
            D(0),
            D(0),
        ),
        ("fees", "Card payments — 2.9% of 35", D(35), D("0.029"), D("1.015")),
    ]


def test_a_zero_transaction_within_the_allowance_is_free_and_uses_a_slot() -> None:
    charge = percentage(fixed_amount=D("0.30"), free_transactions=1)
    assert rate(charge, "0", "10")[1][4] == D("0.590")


def test_the_transactions_must_add_up_to_the_total() -> None:
    with pytest.raises(InvalidField) as refused:
        rate_usage(percentage(), UsageInput(D(5), values=[D(1), D(2)]))
    assert (refused.value.field, refused.value.reason) == (
        "usage",
        "the transactions add up to 3, not the total 5",
    )
    with pytest.raises(InvalidField) as missing:
        rate_usage(percentage(), UsageInput(D(5)))
    assert missing.value.reason == "charge 'cards' needs each transaction's amount"


@given(
    amounts=st.lists(
        st.decimals(min_value=0, max_value=10_000, places=2, allow_nan=False), max_size=30
    ),
    free_count=st.none() | st.integers(min_value=0, max_value=5),
    free_amount=st.none() | st.decimals(min_value=0, max_value=500, places=2),
    fixed=st.none() | st.decimals(min_value=0, max_value=1, places=2),
    low=st.none() | st.decimals(min_value=0, max_value=2, places=2),
    spread=st.none() | st.decimals(min_value=0, max_value=50, places=2),
)
def test_fees_are_the_sum_of_each_transactions_fee(
    amounts: list[Decimal],
    free_count: int | None,
    free_amount: Decimal | None,
    fixed: Decimal | None,
    low: Decimal | None,
    spread: Decimal | None,
) -> None:
    """Against a transaction-by-transaction reckoning written plainly here."""
    high = None if spread is None else (low or D(0)) + spread
    charge = percentage(
        fixed_amount=fixed,
        free_transactions=free_count,
        free_amount=free_amount,
        min_per_transaction=low,
        max_per_transaction=high,
    )
    expected_fees = expected_free = D(0)
    slots, left = free_count, free_amount
    allowance = free_count is not None or free_amount is not None
    for amount in amounts:
        free = D(0)
        inside = allowance and (slots is None or slots > 0) and (left is None or left > 0)
        if inside:
            slots = None if slots is None else slots - 1
            free = amount if left is None else min(amount, left)
            left = None if left is None else left - free
        expected_free += free
        if inside and free == amount:
            continue
        fee = (amount - free) * D("0.029") + (fixed or 0)
        if low is not None:
            fee = max(fee, low)
        if high is not None:
            fee = min(fee, high)
        expected_fees += fee
    rated = rate_usage(charge, UsageInput(sum(amounts, D(0)), values=amounts))
    by_part = {r.part: r for r in rated}
    assert by_part["fees"].amount == expected_fees
    assert by_part["fees"].quantity + (by_part["free"].quantity if allowance else 0) == sum(
        amounts, D(0)
    )
    if allowance:
        assert by_part["free"].quantity == expected_free and by_part["free"].amount == 0


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"rate": None}, "charges.0.rate", "required for model 'percentage'"),
        ({"rate": "-1"}, "charges.0.rate", "must not be negative, got -1"),
        (
            {"free_transactions": "1.5"},
            "charges.0.free_transactions",
            "expected a whole number, got 1.5",
        ),
        (
            {"min_per_transaction": "2", "max_per_transaction": "1"},
            "charges.0.max_per_transaction",
            "must not be less than min_per_transaction (2)",
        ),
        ({"amount": "1"}, "charges.0.amount", "not used by model 'percentage'"),
    ],
)
def test_percentage_refusals_name_the_field(
    fields: dict[str, Any], field: str, reason: str
) -> None:
    data = {
        "name": "Payments",
        "currency": "EUR",
        "interval": "month",
        "charges": [
            {
                "key": "cards",
                "model": "percentage",
                "description": "Card payments",
                "meter": "paid",
                "rate": "2.9",
                **fields,
            }
        ],
    }
    data["charges"][0] = {k: v for k, v in data["charges"][0].items() if v is not None}
    with pytest.raises(InvalidField) as refused:
        plan_from_mapping(data, code="pay", version=1)
    assert (refused.value.field, refused.value.reason) == (field, reason)


def test_rate_is_refused_on_other_models() -> None:
    with pytest.raises(InvalidField) as refused:
        plan_of(
            Charge(
                key="c",
                model=ChargeModel.PER_UNIT,
                description="x",
                meter="m",
                amount=D(1),
                rate=D(1),
            )
        )
    assert (refused.value.field, refused.value.reason) == (
        "charges.0.rate",
        "not used by model 'per_unit'",
    )


# --- minimums ---------------------------------------------------------------------------


def test_a_charges_minimum_tops_it_up_prorated_by_day() -> None:
    charge = plan_of(
        Charge(
            key="calls",
            model=ChargeModel.PER_UNIT,
            description="API calls",
            meter="calls",
            amount=D("0.01"),
            minimum=D(30),
        )
    ).charges[0]
    full = charge_minimum(charge, D("12.50"), days=30, period_days=30)
    assert full is not None
    assert (full.part, full.description, full.quantity, full.unit_amount, full.amount) == (
        "minimum",
        "API calls — minimum of 30, shortfall",
        D(1),
        D("17.50"),
        D("17.50"),
    )
    part = charge_minimum(charge, D(5), days=10, period_days=30)
    assert part is not None
    assert (part.description, part.amount) == (
        "API calls — minimum of 30, shortfall (prorated 10/30 days)",
        D(5),
    )
    assert charge_minimum(charge, D(30), days=30, period_days=30) is None


def test_a_minimum_is_only_for_usage_charges() -> None:
    with pytest.raises(InvalidField) as refused:
        plan_of(
            Charge(
                key="fee",
                model=ChargeModel.FLAT,
                description="Fee",
                amount=D(1),
                timing="in_advance",
                minimum=D(5),  # type: ignore[arg-type]
            )
        )
    assert (refused.value.field, refused.value.reason) == (
        "charges.0.minimum",
        "only usage charges have a minimum of their own",
    )


def test_minimum_includes_fees_needs_a_minimum_and_reads_back() -> None:
    calls = Charge(
        key="calls",
        model=ChargeModel.PER_UNIT,
        description="API calls",
        meter="calls",
        amount=D("0.01"),
    )
    with pytest.raises(InvalidField) as refused:
        plan_of(calls, minimum_includes_fees=True)
    assert (refused.value.field, refused.value.reason) == (
        "minimum_includes_fees",
        "the plan has no minimum",
    )
    with pytest.raises(InvalidField) as not_bool:
        plan_of(calls, minimum=D(100), minimum_includes_fees="yes")
    assert not_bool.value.field == "minimum_includes_fees"
    plan = plan_of(calls, minimum=D(100), minimum_includes_fees=True)
    line = true_up(plan, D(40), days=30, period_days=30)
    assert line is not None
    assert (line.description, line.amount) == (
        "Minimum commitment of 100 (usage and fees) — shortfall",
        D(60),
    )


def test_new_fields_round_trip_as_data() -> None:
    plan = plan_of(
        Charge(
            key="cards",
            model=ChargeModel.PERCENTAGE,
            description="Card payments",
            meter="paid",
            rate=D("2.9"),
            fixed_amount=D("0.30"),
            free_transactions=3,
            free_amount=D(50),
            min_per_transaction=D("0.5"),
            max_per_transaction=D(5),
            minimum=D(10),
        ),
        minimum=D(100),
        minimum_includes_fees=True,
    )
    data = plan_to_mapping(plan)
    assert data["charges"][0] == {
        "key": "cards",
        "model": "percentage",
        "description": "Card payments",
        "timing": "in_arrears",
        "rate": "2.9",
        "fixed_amount": "0.30",
        "free_amount": "50",
        "min_per_transaction": "0.5",
        "max_per_transaction": "5",
        "minimum": "10",
        "meter": "paid",
        "free_transactions": 3,
        "tax_code": "standard",
    }
    assert data["minimum_includes_fees"] is True
    assert plan_from_mapping(data, code="pay", version=1) == plan
