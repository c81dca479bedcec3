"""Usage thresholds: what a plan or subscription may declare, and which are reached."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from revsync.domain.errors import InvalidField
from revsync.domain.pricing import plan_from_mapping, plan_to_mapping
from revsync.domain.thresholds import (
    Threshold,
    ThresholdKind,
    check_thresholds,
    crossed,
    effective,
    threshold_to_mapping,
)

PLAN: dict[str, Any] = {
    "name": "Pro",
    "currency": "EUR",
    "interval": "month",
    "charges": [
        {
            "key": "calls",
            "model": "allowance",
            "description": "API calls",
            "meter": "api_calls",
            "included": "10000",
            "amount": "0.01",
        },
        {"key": "tokens", "model": "per_unit", "description": "Tokens", "meter": "llm_tokens"}
        | {"amount": "0.0001"},
    ],
    "features": [{"key": "tokens", "kind": "quota", "meter": "llm_tokens", "limit": "5000000"}],
}


def plan_with(*thresholds: dict[str, Any]) -> Any:
    return plan_from_mapping({**PLAN, "thresholds": list(thresholds)}, code="pro", version=1)


def test_a_plan_keeps_its_thresholds_through_its_stored_form() -> None:
    plan = plan_with(
        {"key": "calls-80", "kind": "percent", "meter": "api_calls", "value": "80"},
        {"key": "tokens-1m", "kind": "usage", "meter": "llm_tokens", "value": 1000000},
        {"key": "spend-500", "kind": "spend", "value": "500.00", "invoice": True},
    )
    assert plan.thresholds == (
        Threshold("calls-80", ThresholdKind.PERCENT, Decimal("80"), "api_calls"),
        Threshold("tokens-1m", ThresholdKind.USAGE, Decimal("1000000"), "llm_tokens"),
        Threshold("spend-500", ThresholdKind.SPEND, Decimal("500.00"), None, invoice=True),
    )
    assert plan_from_mapping(plan_to_mapping(plan), code="pro", version=1) == plan
    # a percent counts against the quota feature, else the allowance's included units
    assert plan.included() == {"api_calls": Decimal("10000"), "llm_tokens": Decimal("5000000")}


@pytest.mark.parametrize(
    ("threshold", "field", "reason"),
    [
        ({"key": "X", "kind": "usage", "meter": "m", "value": 1}, "thresholds.0.key", "match"),
        ({"key": "a", "kind": "cost", "value": 1}, "thresholds.0.kind", "one of"),
        ({"key": "a", "kind": "usage", "value": 1}, "thresholds.0.meter", "name it"),
        ({"key": "a", "kind": "spend", "meter": "m", "value": 1}, "thresholds.0.meter", "every"),
        ({"key": "a", "kind": "spend", "value": 0}, "thresholds.0.value", "above 0"),
        ({"key": "a", "kind": "spend", "value": 1.5}, "thresholds.0.value", "decimal string"),
        ({"key": "a", "kind": "spend", "value": "NaN"}, "thresholds.0.value", "above 0"),
        ({"key": "a", "kind": "spend", "value": "1e19"}, "thresholds.0.value", "at most"),
        ({"key": "a", "kind": "percent", "meter": "m", "value": "1001"}, "thresholds.0.value", ""),
        ({"key": "a", "kind": "usage", "meter": "m", "value": 1, "invoice": True}, "", "spend"),
        ({"key": "a", "kind": "spend", "value": 1, "invoice": "yes"}, "thresholds.0.invoice", ""),
        ({"key": "a", "kind": "spend", "value": 1, "colour": "red"}, "thresholds.0.colour", ""),
    ],
)
def test_a_threshold_refused_names_the_field_and_why(
    threshold: dict[str, Any], field: str, reason: str
) -> None:
    with pytest.raises(InvalidField) as refused:
        check_thresholds([threshold])
    assert refused.value.field.startswith(field or "thresholds.0")
    assert reason in refused.value.reason


def test_a_plan_refuses_a_percent_of_what_it_does_not_include_and_repeated_keys() -> None:
    with pytest.raises(InvalidField, match="includes nothing of 'storage_gb'") as refused:
        plan_with({"key": "s", "kind": "percent", "meter": "storage_gb", "value": 80})
    assert refused.value.field == "thresholds.0.meter"
    with pytest.raises(InvalidField, match="duplicate threshold 'a'"):
        plan_with(
            {"key": "a", "kind": "spend", "value": 1}, {"key": "a", "kind": "spend", "value": 2}
        )
    with pytest.raises(InvalidField, match="expected a list"):
        check_thresholds("spend")


def test_a_subscriptions_threshold_replaces_the_plans_of_its_key() -> None:
    plan = (
        Threshold("a", ThresholdKind.SPEND, Decimal(100)),
        Threshold("b", ThresholdKind.SPEND, Decimal(200)),
    )
    own = (
        Threshold("b", ThresholdKind.SPEND, Decimal(250), invoice=True),
        Threshold("c", ThresholdKind.USAGE, Decimal(5), "api_calls"),
    )
    assert effective(plan, own) == (plan[0], own[0], own[1])
    assert [threshold_to_mapping(t) for t in own] == [
        {"key": "b", "kind": "spend", "value": "250", "invoice": True},
        {"key": "c", "kind": "usage", "value": "5", "meter": "api_calls"},
    ]


values = st.decimals(min_value=0, max_value=10**12, places=3, allow_nan=False)
limits = st.decimals(min_value="0.001", max_value=10**12, places=3, allow_nan=False)


@given(
    value=limits,
    percent=st.decimals(min_value="0.01", max_value=1000, places=2, allow_nan=False),
    included=limits,
    usage=values,
    spend=st.none() | values,
)
def test_a_threshold_is_reached_exactly_when_what_it_watches_reaches_its_limit(
    value: Decimal, percent: Decimal, included: Decimal, usage: Decimal, spend: Decimal | None
) -> None:
    thresholds = (
        Threshold("u", ThresholdKind.USAGE, value, "api_calls"),
        Threshold("p", ThresholdKind.PERCENT, percent, "api_calls"),
        Threshold("s", ThresholdKind.SPEND, value),
        Threshold("other", ThresholdKind.USAGE, value, "llm_tokens"),  # not measured
    )
    found = {
        c.threshold.key: (c.limit, c.observed)
        for c in crossed(thresholds, {"api_calls": included}, {"api_calls": usage}, spend)
    }
    expected: dict[str, tuple[Decimal, Decimal]] = {}
    if usage >= value:
        expected["u"] = (value, usage)
    if usage * 100 >= included * percent:
        expected["p"] = (included * percent / 100, usage)
    if spend is not None and spend >= value:
        expected["s"] = (value, spend)
    assert found == expected
