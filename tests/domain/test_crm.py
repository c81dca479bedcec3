"""The CRM rules: field ownership, contracts read as terms and amendments, and the signals
(adoption, trend, health, readiness, expansion)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from revsync.domain.crm import (
    BillingStatus,
    ContractSeen,
    ContractTerms,
    FieldMap,
    MeterAdoption,
    MeterScope,
    Owner,
    Readiness,
    Risk,
    Signals,
    Trend,
    adoption_scopes,
    assess,
    contract_amendments,
    entitlement,
    expansion_streak,
    first_renewal,
    in_service,
    meter_adoption,
    parse_count,
    parse_date,
    trend,
)
from revsync.domain.errors import InvalidField
from revsync.domain.pricing import Interval, Plan, plan_from_mapping
from revsync.domain.subscriptions import Change, Subscription, Terms, new_subscription
from revsync.domain.support import SupportLoad

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


def test_a_contract_amends_what_it_changed_not_what_moved_without_it() -> None:
    # the subscription has 15 seats (an add-on deal added 5); the contract still says 10
    moved = new_subscription(
        subscription_id="crm-800A",
        customer_id="acme",
        start=date(2026, 1, 1),
        plan=("growth", 3),
        interval=Interval.MONTH,
        usage_interval=Interval.MONTH,
        seats=15,
    )
    day = date(2026, 6, 1)
    as_read = ContractSeen("growth", 10)
    assert contract_amendments(moved, terms(), GROWTH, day, as_read) == []
    [seats] = contract_amendments(moved, terms(seats=12), GROWTH, day, as_read)
    assert (seats.change, seats.seats) == (Change.SEAT_CHANGE, 12)
    # never read before (an install upgraded to this release): the contract's values rule
    [back] = contract_amendments(moved, terms(), GROWTH, day)
    assert (back.change, back.seats) == (Change.SEAT_CHANGE, 10)
    # a lapsed contract ends it whatever was read
    [cancel] = contract_amendments(moved, terms(status="Expired"), GROWTH, day, as_read)
    assert cancel.change is Change.CANCEL


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


# --- signals over every subscription in service -------------------------------------------

#: the README tutorial's add-on: a fee, and a meter priced from the first unit
REPORTING = plan_from_mapping(
    {
        "name": "Reporting add-on",
        "currency": "EUR",
        "interval": "month",
        "charges": [
            {"key": "base", "model": "flat", "description": "Add-on", "amount": "20.00"},
            {
                "key": "reports",
                "model": "per_unit",
                "description": "Exported reports",
                "meter": "reports",
                "amount": "0.50",
            },
        ],
    },
    code="reporting",
    version=1,
)
#: a second contract that includes more API calls
CALLS_PACK = plan_from_mapping(
    {
        "name": "Calls pack",
        "currency": "EUR",
        "interval": "month",
        "charges": [
            {
                "key": "calls",
                "model": "allowance",
                "description": "API calls",
                "meter": "api_calls",
                "included": "5000",
                "amount": "0.001",
            }
        ],
    },
    code="calls-pack",
    version=1,
)
TODAY = date(2026, 11, 27)


def subscription(
    sub_id: str, plan: Plan, start: date, *, children: bool = False, **terms: object
) -> Subscription:
    return new_subscription(
        subscription_id=sub_id,
        customer_id="acme",
        start=start,
        plan=(plan.code, plan.version),
        interval=Interval.MONTH,
        usage_interval=Interval.MONTH,
        include_children=children,
        **terms,  # type: ignore[arg-type]
    )


MAIN = subscription("main", GROWTH, date(2026, 1, 1), renewal_date=date(2026, 12, 15))
ADD_ON = subscription("add-on", REPORTING, date(2026, 11, 1), renewal_date=date(2027, 11, 1))


def test_signals_read_every_subscription_in_service_with_the_terms_in_force() -> None:
    pack = subscription("later-upgrade", CALLS_PACK, date(2026, 3, 1))
    upgrade = Terms(2, date(2026, 12, 1), Change.UPGRADE, "growth", 3, 1)  # from next month
    upgraded = replace(pack, terms=(*pack.terms, upgrade))
    ended = subscription("ended", GROWTH, date(2025, 1, 1), ends=date(2026, 11, 27))
    ending = subscription("ending", GROWTH, date(2025, 1, 1), ends=date(2026, 11, 28))
    future = subscription("future", GROWTH, date(2026, 12, 1))
    trial = subscription("trial", GROWTH, date(2026, 11, 20), trial_end=date(2026, 12, 20))
    found = in_service([ADD_ON, future, trial, ended, upgraded, ending, MAIN], TODAY)
    assert [(s.id, terms.plan) for s, terms in found] == [
        ("ending", ("growth", 3)),  # ends tomorrow: still in service today
        ("main", ("growth", 3)),
        ("later-upgrade", ("calls-pack", 1)),  # the upgrade is not in force yet
        ("add-on", ("reporting", 1)),
        ("trial", ("growth", 3)),
    ]


def test_adoption_sums_what_the_plans_include_over_the_accounts_the_contracts_bill() -> None:
    main = subscription("main", GROWTH, date(2026, 1, 1), children=True)
    pack = subscription("pack", CALLS_PACK, date(2026, 6, 1))
    covered = [(main, GROWTH), (pack, CALLS_PACK), (ADD_ON, REPORTING)]
    assert adoption_scopes("acme", covered, ["acme-fr", "acme-de"]) == [
        MeterScope("api_calls", ("acme", "acme-fr", "acme-de"), Decimal(105000)),
        MeterScope("llm_tokens", ("acme", "acme-fr", "acme-de"), Decimal(1000000)),
        MeterScope("reports", ("acme",), None),  # the add-on bills the parent's usage only
    ]
    # without the contract that bills the subsidiaries, their usage is theirs
    assert adoption_scopes("acme", covered[1:], ["acme-fr", "acme-de"]) == [
        MeterScope("api_calls", ("acme",), Decimal(5000)),
        MeterScope("reports", ("acme",), None),
    ]
    assert adoption_scopes("acme", [], ["acme-fr"]) == []


def test_an_add_on_leaves_the_main_plans_adoption_health_and_risks_as_they_were() -> None:
    """The README tutorial: a customer using 10% of its plan subscribes to a small add-on."""
    months = [date(2026, 9, 1), date(2026, 10, 1)]
    usage = {
        "api_calls": [Decimal(9000), Decimal(10000)],
        "llm_tokens": [Decimal(0), Decimal(50000)],
        "reports": [Decimal(0), Decimal(0)],
    }

    def signals(*covered: tuple[Subscription, Plan]) -> Signals:
        adoption = tuple(
            meter_adoption(scope, list(zip(months, usage[scope.meter], strict=True)))[0]
            for scope in adoption_scopes("acme", covered, [])
        )
        renewal = first_renewal((s for s, _ in covered), TODAY)
        readiness, risks = assess(adoption, NO_BILLS, renewal, TODAY, 90)
        return Signals("acme", "001A", adoption, NO_BILLS, renewal, readiness, risks)

    alone = signals((MAIN, GROWTH))
    both = signals((MAIN, GROWTH), (ADD_ON, REPORTING))
    assert "; ".join(a.summary() for a in alone.adoption) == (
        "api_calls 10,000 of 100,000 (10%, up); llm_tokens 50,000 of 1,000,000 (5%, new)"
    )
    assert "; ".join(a.summary() for a in both.adoption) == (
        "api_calls 10,000 of 100,000 (10%, up); llm_tokens 50,000 of 1,000,000 (5%, new); "
        "reports 0 (flat)"
    )
    for found in (alone, both):
        assert found.renewal_date == date(2026, 12, 15)  # the main contract renews first
        assert found.risks == (Risk.LOW_ADOPTION, Risk.RENEWAL_AT_RISK)
        assert (found.health_score, found.readiness) == (60, Readiness.AT_RISK)


def test_readiness_follows_the_contract_that_renews_first() -> None:
    lapsed = subscription("lapsed", GROWTH, date(2025, 1, 1), renewal_date=date(2026, 11, 1))
    none = subscription("none", GROWTH, date(2025, 1, 1))
    assert first_renewal([ADD_ON, lapsed, none, MAIN], TODAY) == date(2026, 12, 15)
    assert first_renewal([ADD_ON, lapsed], TODAY) == date(2027, 11, 1)
    assert first_renewal([lapsed, none], TODAY) is None
    assert first_renewal([], TODAY) is None


def test_a_meters_adoption_is_its_last_month_against_the_sum_the_plans_include() -> None:
    history = [(date(2026, m, 1), Decimal(u)) for m, u in ((8, 900), (9, 1200), (10, 1500))]
    adoption, streak = meter_adoption(MeterScope("api_calls", ("acme",), Decimal(1000)), history)
    assert adoption == MeterAdoption("api_calls", Decimal(1500), Decimal(1200), Decimal(1000))
    assert streak == [date(2026, 9, 1), date(2026, 10, 1)]
    priced, none = meter_adoption(MeterScope("reports", ("acme",), None), history)
    assert (priced.share, none) == (None, [])
    empty, _ = meter_adoption(MeterScope("reports", ("acme",), None), [])
    assert (empty.used, empty.previous) == (Decimal(0), Decimal(0))


def load(recent: list[str | None], previous: list[str | None] | None = None) -> SupportLoad:
    return SupportLoad.of(recent, previous or [])


def test_the_support_load_weighs_tickets_by_priority() -> None:
    found = load(["urgent", "high", "normal", "low", None], ["urgent"])
    assert (found.tickets, found.severe, found.weight, found.previous_weight) == (5, 2, 9, 4)
    assert found.rising and not load(["normal"], ["normal"]).rising
    assert found.summary() == (
        "5 tickets opened in 30 days (2 urgent or high), weight 9, rising from 4"
    )


@pytest.mark.parametrize(
    ("recent", "previous", "overdue", "changed", "expected"),
    [
        (["normal"] * 7, [], False, False, ()),  # 7: not heavy, nothing slipping
        (["urgent", "urgent"], [], False, False, (Risk.SUPPORT_LOAD,)),  # 8: heavy
        (["high", "normal"], [], True, False, (Risk.OVERDUE, Risk.ESCALATING)),
        (["high", "normal"], [], False, True, (Risk.ESCALATING,)),  # the contract changed
        (["high", "normal"], ["urgent"], True, False, (Risk.OVERDUE,)),  # not rising
        (["normal", "normal"], [], True, False, (Risk.OVERDUE,)),  # rising, but only 2
        (
            ["urgent"] * 3,
            ["urgent"],
            True,
            True,
            (Risk.OVERDUE, Risk.SUPPORT_LOAD, Risk.ESCALATING),
        ),
    ],
)
def test_a_heavy_support_load_is_a_risk_and_a_rising_one_while_slipping_escalates(
    recent: list[str | None],
    previous: list[str | None],
    overdue: bool,
    changed: bool,
    expected: tuple[Risk, ...],
) -> None:
    bills = (
        BillingStatus("INV-1", Decimal("10.00"), "EUR", "posted", True, None)
        if overdue
        else (NO_BILLS)
    )
    today = date(2026, 11, 1)
    readiness, risks = assess([], bills, None, today, 90, load(recent, previous), changed)
    assert (readiness, risks) == (Readiness.NOT_DUE, expected)
    without_support = (Risk.OVERDUE,) if overdue else ()  # no support tool: no load
    assert assess([], bills, None, today, 90, None, changed)[1] == without_support


def test_every_risk_has_a_crm_task_text() -> None:
    from revsync.application.crm import _RISK_TEXT

    assert set(_RISK_TEXT) == set(Risk)
