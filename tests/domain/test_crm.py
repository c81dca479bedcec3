"""The CRM rules: field ownership, contracts read as terms and amendments, and the signals
(adoption, trend, health, readiness, expansion)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from revsync.domain.crm import (
    BillingStatus,
    ContractTerms,
    FieldMap,
    MeterAdoption,
    Owner,
    Readiness,
    Risk,
    Signals,
    Trend,
    assess,
    contract_amendments,
    entitlement,
    expansion_streak,
    parse_count,
    parse_date,
    trend,
)
from revsync.domain.errors import InvalidField
from revsync.domain.pricing import Interval, plan_from_mapping
from revsync.domain.subscriptions import Change, new_subscription

FIELDS = FieldMap(
    {
        "Account.Name": Owner.CRM,
        "Account.Revsync_Health_Score__c": Owner.REVSYNC,
        "Task.Revsync_Key__c": Owner.REVSYNC,
    }
)
GROWTH = plan_from_mapping(
    {
        "name": "Growth",
        "currency": "EUR",
        "interval": "month",
        "charges": [
            {"key": "base", "model": "flat", "description": "Base", "amount": "500.00"},
            {
                "key": "calls",
                "model": "allowance",
                "description": "API calls",
                "meter": "api_calls",
                "included": "100000",
                "amount": "0.001",
            },
            {
                "key": "tokens",
                "model": "graduated",
                "description": "Tokens",
                "meter": "llm_tokens",
                "tiers": [
                    {"up_to": "1000000", "unit_amount": "0"},
                    {"up_to": None, "unit_amount": "0.00002"},
                ],
            },
        ],
    },
    code="growth",
    version=3,
)
NO_BILLS = BillingStatus(None, None, None, None, False, None)


def test_revsync_writes_only_the_fields_it_owns() -> None:
    FIELDS.check_write("Account", ["Revsync_Health_Score__c"])
    with pytest.raises(InvalidField, match=r"Account\.Name: revsync may not write it: the CRM"):
        FIELDS.check_write("Account", ["Revsync_Health_Score__c", "Name"])
    with pytest.raises(InvalidField, match=r"Account\.Phone: .* not in the field map"):
        FIELDS.check_write("Account", ["Phone"])
    assert FIELDS.writable("Task") == {"Revsync_Key__c"}


def test_crm_values_are_read_strictly() -> None:
    assert parse_count("12", "Seats__c") == 12
    assert parse_count(Decimal("12.0"), "Seats__c") == 12
    assert parse_count(None, "Seats__c") is None
    with pytest.raises(InvalidField, match="Seats__c: must be a whole number"):
        parse_count("12.5", "Seats__c")
    with pytest.raises(InvalidField, match="Seats__c: is not a number"):
        parse_count("twelve", "Seats__c")
    assert parse_date("2026-03-01", "StartDate") == date(2026, 3, 1)
    with pytest.raises(InvalidField, match="StartDate: is not a date"):
        parse_date("March", "StartDate")


def terms(**changes: object) -> ContractTerms:
    values: dict[str, object] = {
        "contract_id": "800A",
        "account_id": "001A",
        "status": "Activated",
        "plan": "growth",
        "seats": 10,
        "start": date(2026, 1, 1),
        "term_months": 12,
        "end": date(2026, 12, 31),
        "renewal_date": date(2027, 1, 1),
        "owner_id": None,
        "amendment_date": None,
    }
    return ContractTerms(**(values | changes))  # type: ignore[arg-type]


def test_a_changed_contract_becomes_plan_and_seat_amendments_and_a_lapsed_one_a_cancel() -> None:
    subscription = new_subscription(
        subscription_id="crm-800A",
        customer_id="acme",
        start=date(2026, 1, 1),
        plan=("starter", 1),
        interval=Interval.MONTH,
        usage_interval=Interval.MONTH,
        seats=5,
    )
    day = date(2026, 6, 1)
    found = contract_amendments(subscription, terms(), GROWTH, day)
    assert [(a.change, a.plan, a.seats, a.effective) for a in found] == [
        (Change.PLAN_CHANGE, ("growth", 3), None, day),
        (Change.SEAT_CHANGE, None, 10, day),
    ]
    same = new_subscription(
        subscription_id="crm-800A",
        customer_id="acme",
        start=date(2026, 1, 1),
        plan=("growth", 3),
        interval=Interval.MONTH,
        usage_interval=Interval.MONTH,
        seats=10,
    )
    assert contract_amendments(same, terms(), GROWTH, day) == []
    [cancel] = contract_amendments(same, terms(status="Expired"), GROWTH, day)
    assert (cancel.change, cancel.ends) == (Change.CANCEL, day)


def test_entitlement_is_what_the_plan_includes_for_a_meter() -> None:
    assert entitlement(GROWTH, "api_calls") == Decimal(100000)
    assert entitlement(GROWTH, "llm_tokens") == Decimal(1000000)
    assert entitlement(GROWTH, "storage") is None


@given(
    st.decimals(min_value=0, max_value=10**9, places=3),
    st.decimals(min_value=0, max_value=10**9, places=3),
)
def test_trend_follows_the_direction_of_the_change(current: Decimal, previous: Decimal) -> None:
    moved = trend(current, previous)
    if previous == 0:
        assert moved is (Trend.NEW if current > 0 else Trend.FLAT)
    elif current > previous * Decimal("1.10"):
        assert moved is Trend.UP
    elif current < previous * Decimal("0.90"):
        assert moved is Trend.DOWN
    else:
        assert moved is Trend.FLAT


def adoption(used: str, previous: str, included: str | None = "1000") -> MeterAdoption:
    return MeterAdoption(
        "api_calls", Decimal(used), Decimal(previous), Decimal(included) if included else None
    )


def test_adoption_reads_well_in_the_crm() -> None:
    assert adoption("1250", "1000").summary() == "api_calls 1,250 of 1,000 (125%, up)"
    assert adoption("5", "5", None).summary() == "api_calls 5 (flat)"


def test_risks_lower_health_and_put_a_close_renewal_at_risk() -> None:
    today = date(2026, 11, 1)
    overdue = BillingStatus("INV-000042", Decimal("120.00"), "EUR", "posted", True, "level 1")
    readiness, risks = assess([adoption("100", "400")], overdue, date(2026, 12, 1), today, 90)
    assert readiness is Readiness.AT_RISK
    assert risks == (
        Risk.OVERDUE,
        Risk.DUNNING,
        Risk.LOW_ADOPTION,
        Risk.DECLINING_USAGE,
        Risk.RENEWAL_AT_RISK,
    )
    signals = Signals("acme", "001A", (adoption("100", "400"),), overdue, None, readiness, risks)
    assert signals.health_score == 0
    healthy = assess([adoption("900", "850")], NO_BILLS, date(2026, 12, 1), today, 90)
    assert healthy == (Readiness.READY, ())
    far = assess([adoption("900", "850")], NO_BILLS, date(2027, 6, 1), today, 90)
    assert far == (Readiness.NOT_DUE, ())


@given(st.lists(st.sampled_from(list(Risk)), unique=True))
def test_health_is_between_0_and_100_and_falls_with_each_risk(risks: list[Risk]) -> None:
    def score(chosen: list[Risk]) -> int:
        return Signals("a", "b", (), NO_BILLS, None, Readiness.NOT_DUE, tuple(chosen)).health_score

    assert 0 <= score(risks) <= 100
    if risks:
        assert score(risks) <= score(risks[:-1])


def test_the_account_values_carry_only_mapped_signals() -> None:
    bills = BillingStatus("INV-000042", Decimal("120.00"), "EUR", "paid", False, None)
    signals = Signals(
        "acme", "001A", (adoption("1250", "1000"),), bills, None, Readiness.NOT_DUE, ()
    )
    values = signals.account_values(
        {"health_score": "Health__c", "billing_status": "Billing__c", "adoption": "Adoption__c"}
    )
    assert values == {
        "Health__c": 100,
        "Billing__c": "INV-000042 120.00 EUR paid",
        "Adoption__c": "api_calls 1,250 of 1,000 (125%, up)",
    }


def test_the_expansion_streak_is_the_unbroken_run_above_the_entitlement_at_the_end() -> None:
    months = [date(2026, m, 1) for m in range(6, 11)]
    used = ["1200", "1500", "900", "1100", "1300"]
    history = list(zip(months, [Decimal(u) for u in used], strict=True))
    assert expansion_streak(history, Decimal(1000)) == [date(2026, 9, 1), date(2026, 10, 1)]
    assert expansion_streak(history[:3], Decimal(1000)) == []
