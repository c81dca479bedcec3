"""Entitlement decisions and the features a plan declares."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from revsync.domain.entitlements import (
    Enforcement,
    EntitlementReason,
    Feature,
    FeatureKind,
    check_features,
    decide,
    feature_to_mapping,
)
from revsync.domain.errors import InvalidField

amounts = st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False)


@given(limit=amounts, used=amounts, quantity=amounts, soft=st.booleans())
def test_a_quota_allows_what_fits_and_a_soft_one_allows_more_saying_so(
    limit: Decimal, used: Decimal, quantity: Decimal, soft: bool
) -> None:
    enforcement = Enforcement.SOFT if soft else Enforcement.HARD
    feature = Feature("calls", FeatureKind.QUOTA, "api_calls", limit, enforcement)
    decision = decide(feature, quantity, used=used)
    fits = used + quantity <= limit
    assert decision.allowed == (fits or soft)
    assert decision.reason == (
        EntitlementReason.WITHIN_LIMIT
        if fits
        else EntitlementReason.OVER_SOFT_LIMIT
        if soft
        else EntitlementReason.OVER_LIMIT
    )
    assert decision.remaining == max(limit - used, Decimal(0))
    assert (decision.limit, decision.used) == (limit, used)


@given(seats=st.integers(min_value=0, max_value=10_000), used=st.integers(0, 20_000))
def test_seats_allow_up_to_the_subscriptions_count(seats: int, used: int) -> None:
    feature = Feature("seats", FeatureKind.SEATS)
    decision = decide(feature, Decimal(1), seats=seats, used=Decimal(used))
    assert decision.allowed == (used + 1 <= seats)
    assert decision.limit == seats and decision.reason != EntitlementReason.OVER_SOFT_LIMIT


def test_a_boolean_is_included_and_a_missing_feature_is_not_in_the_plan() -> None:
    sso = decide(Feature("sso", FeatureKind.BOOLEAN), Decimal(1))
    assert (sso.allowed, sso.reason, sso.limit) == (True, EntitlementReason.INCLUDED, None)
    missing = decide(None, Decimal(1), key="sso")
    assert (missing.feature, missing.allowed, missing.reason) == (
        "sso",
        False,
        EntitlementReason.NOT_IN_PLAN,
    )


def test_features_read_back_what_they_write() -> None:
    raw = [
        {"key": "sso", "kind": "boolean"},
        {"key": "api_calls", "kind": "quota", "meter": "api_calls", "limit": 200000},
        {"key": "seats", "kind": "seats", "meter": "active_users"},
    ]
    features = check_features(raw)
    assert check_features([feature_to_mapping(f) for f in features]) == features
    assert feature_to_mapping(features[1]) == {
        "key": "api_calls",
        "kind": "quota",
        "meter": "api_calls",
        "limit": "200000",
        "enforcement": "hard",
    }


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("sso", "features"),
        ([{"key": "Bad Key", "kind": "boolean"}], "features.0.key"),
        ([{"key": "x", "kind": "maybe"}], "features.0.kind"),
        ([{"key": "x", "kind": "quota", "limit": "5"}], "features.0.meter"),
        ([{"key": "x", "kind": "quota", "meter": "m"}], "features.0.limit"),
        ([{"key": "x", "kind": "quota", "meter": "m", "limit": "-1"}], "features.0.limit"),
        ([{"key": "x", "kind": "quota", "meter": "m", "limit": 1.5}], "features.0.limit"),
        ([{"key": "x", "kind": "quota", "meter": "m", "limit": "NaN"}], "features.0.limit"),
        ([{"key": "x", "kind": "boolean", "meter": "m"}], "features.0.meter"),
        ([{"key": "x", "kind": "seats", "limit": "3"}], "features.0.limit"),
        ([{"key": "x", "kind": "seats", "enforcement": "soft"}], "features.0.enforcement"),
        ([{"key": "x", "kind": "boolean", "colour": "red"}], "features.0.colour"),
        ([{"key": "x", "kind": "boolean"}, {"key": "x", "kind": "boolean"}], "features.1.key"),
    ],
)
def test_a_wrong_feature_is_refused_naming_the_field(raw: object, field: str) -> None:
    with pytest.raises(InvalidField) as refused:
        check_features(raw)
    assert refused.value.field == field
