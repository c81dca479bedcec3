"""Posting rules (the most specific rule wins; every line a plan can produce needs one) and
revenue recognition (by day over calendar months, exact to the minor unit)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from revsync.domain.errors import InvalidField
from revsync.domain.invoicing import LineKind
from revsync.domain.periods import Period
from revsync.domain.posting import (
    PostingRule,
    Recognition,
    check_rules,
    deferred,
    recognition_schedule,
    rule_for,
)
from revsync.domain.pricing import plan_from_mapping

RULES = [
    PostingRule("SUBSCRIPTION", "706000"),
    PostingRule("USAGE", "706100", kind=LineKind.USAGE),
    PostingRule("USAGE-USD", "706110", kind=LineKind.USAGE, currency="USD"),
    PostingRule("API-CALLS", "706200", charge="pro:calls"),
]
PRO = plan_from_mapping(
    {
        "name": "Pro",
        "currency": "EUR",
        "interval": "month",
        "minimum": "50.00",
        "charges": [
            {
                "key": "platform",
                "model": "flat",
                "description": "Fee",
                "timing": "in_advance",
                "amount": "99.00",
            },
            {
                "key": "calls",
                "model": "per_unit",
                "description": "Calls",
                "meter": "api_calls",
                "amount": "0.01",
            },
        ],
    },
    code="pro",
    version=2,
)


def test_the_most_specific_rule_wins() -> None:
    assert rule_for(RULES, "pro@2:calls", LineKind.USAGE, "USD").product == "API-CALLS"
    assert rule_for(RULES, "pro@2:calls", LineKind.ADJUSTMENT, "EUR").product == "API-CALLS"
    assert rule_for(RULES, "team@1:tokens", LineKind.USAGE, "USD").product == "USAGE-USD"
    assert rule_for(RULES, "team@1:tokens", LineKind.USAGE, "EUR").product == "USAGE"
    assert rule_for(RULES, "pro@2:platform", LineKind.RECURRING, "EUR").product == "SUBSCRIPTION"
    assert rule_for(RULES, "", LineKind.DISCOUNT, "EUR").account == "706000"


def test_a_plan_line_without_a_rule_is_reported_before_any_billing() -> None:
    check_rules(RULES, [PRO])
    only_usage = [PostingRule("USAGE", "706100", kind=LineKind.USAGE)]
    with pytest.raises(InvalidField) as error:
        check_rules(only_usage, [PRO])
    assert error.value.field == "erp.posting_rules"
    assert error.value.reason == "plan 'pro': no rule for a recurring line of pro:platform in EUR"


def test_an_annual_fee_is_recognised_by_day_over_calendar_months() -> None:
    year = Period(date(2026, 11, 15), date(2027, 11, 15))
    schedule = recognition_schedule(Decimal("1200.00"), year, "EUR")
    assert schedule[:3] == [
        Recognition(date(2026, 11, 1), Decimal("52.60")),  # 16 of 365 days
        Recognition(date(2026, 12, 1), Decimal("101.92")),  # 31 days
        Recognition(date(2027, 1, 1), Decimal("101.92")),
    ]
    # 14 days: 46.027…; the 7 cents left after rounding down go to the seven 31-day months,
    # whose fractions (.78) are the largest
    assert schedule[-1] == Recognition(date(2027, 11, 1), Decimal("46.02"))
    assert [r.amount for r in schedule].count(Decimal("101.92")) == 7
    assert len(schedule) == 13
    assert sum(r.amount for r in schedule) == Decimal("1200.00")
    assert deferred(year) and not deferred(Period(date(2026, 11, 15), date(2026, 12, 15)))


@given(
    cents=st.integers(-10_000_000, 10_000_000),
    start=st.dates(date(2024, 1, 1), date(2030, 12, 31)),
    days=st.integers(1, 800),
)
def test_recognition_adds_up_exactly_and_follows_the_days(
    cents: int, start: date, days: int
) -> None:
    amount = Decimal(cents) / 100
    service = Period(start, start + timedelta(days=days))
    schedule = recognition_schedule(amount, service, "EUR")
    assert sum(r.amount for r in schedule) == amount
    assert [r.month for r in schedule] == sorted({r.month for r in schedule})
    for r in schedule:
        first = max(r.month, service.start)
        following = date(r.month.year + r.month.month // 12, r.month.month % 12 + 1, 1)
        share = amount * (min(following, service.end) - first).days / days
        assert abs(r.amount - share) < Decimal("0.01")
        assert r.amount.as_tuple().exponent == -2
