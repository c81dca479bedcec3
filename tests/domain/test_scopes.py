"""Coupons and prepaid credit grants limited to plans and meters: which lines a scope reaches,
the discount a limited coupon takes, the periods a limited coupon counts, the part of an
invoice each line comes to and what a limited grant may pay (docs/billing.md, "Scopes").

The lines are written out by hand; ``pro@1:…`` and ``team@1:…`` are charges of two plans, the
usage lines bill ``api_calls`` or ``llm_tokens``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from revsync.domain.coupons import Coupon, Duration, could_apply, covers, new_coupon
from revsync.domain.errors import InvalidField
from revsync.domain.invoicing import (
    CreditGrant,
    CreditUse,
    Discount,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Line,
    Lineage,
    LineKind,
    Pricing,
    RawLine,
    Share,
    TaxRates,
    apply_credits,
    assemble,
    discount_lines,
    line_owner,
    shares,
)
from revsync.domain.money import Rounding, allocate, round_money
from revsync.domain.periods import Interval, Period
from revsync.domain.pricing import Plan, plan_from_mapping
from revsync.domain.scopes import (
    EVERYTHING,
    SCOPE_TARGETS,
    Scope,
    ScopeTarget,
    check_scope,
    scope_from_data,
    scope_to_data,
)
from revsync.domain.subscriptions import (
    Amendment,
    Change,
    Subscription,
    amend,
    new_subscription,
)

NOVEMBER = Period(date(2026, 11, 1), date(2026, 12, 1))
EVEN = Rounding.HALF_EVEN
CALLS = Scope(meters=frozenset({"api_calls"}))
TOKENS = Scope(meters=frozenset({"llm_tokens"}))
PRO = Scope(plans=frozenset({"pro"}))
TEAM = Scope(plans=frozenset({"team"}))
#: the charges whose interim deductions carry no lineage
CHARGE_METERS = {"pro@1:calls": "api_calls", "pro@1:tokens": "llm_tokens"}


def lineage(meter: str) -> Lineage:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    return Lineage(meter, start, datetime(2026, 12, 1, tzinfo=UTC), ("acme",))


def line(
    key: str,
    amount: str,
    *,
    kind: LineKind = LineKind.RECURRING,
    charge: str = "pro@1:platform",
    meter: str | None = None,
    code: str = "standard",
    adjusts: str | None = None,
) -> Line:
    value = Decimal(amount)
    return Line(
        key,
        kind,
        charge,
        key,
        Decimal(1),
        value,
        value,
        NOVEMBER,
        code,
        lineage(meter) if meter else None,
        adjusts,
    )


def usage(
    key: str, amount: str, meter: str, *, charge: str | None = None, code: str = "standard"
) -> Line:
    charge = charge or f"pro@1:{'calls' if meter == 'api_calls' else 'tokens'}"
    return line(key, amount, kind=LineKind.USAGE, charge=charge, meter=meter, code=code)


def discounts(lines: list[Line], *found: Discount) -> list[tuple[str, str]]:
    """(key, amount) of each discount line."""
    made = discount_lines(lines, found, "EUR", EVEN, NOVEMBER, CHARGE_METERS)
    return [(x.key, str(x.amount)) for x in made]


# --- the shape of a scope -------------------------------------------------------------------


def test_the_targets_a_scope_may_name_are_plans_and_meters() -> None:
    assert [t.value for t in SCOPE_TARGETS] == ["plans", "meters"]
    assert ScopeTarget("meters") is ScopeTarget.METERS


def test_a_scope_reads_and_writes_back_sorted() -> None:
    scope = scope_from_data({"meters": ["llm_tokens", "api_calls"], "plans": ["pro"]})
    assert scope == Scope(frozenset({"pro"}), frozenset({"api_calls", "llm_tokens"}))
    assert scope_to_data(scope) == {"plans": ["pro"], "meters": ["api_calls", "llm_tokens"]}
    assert scope_to_data(Scope(meters=frozenset({"api_calls"}))) == {"meters": ["api_calls"]}
    assert scope_from_data(None) is EVERYTHING
    assert scope_to_data(EVERYTHING) is None


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("api_calls", "applies_to"),
        ({}, "applies_to"),
        ({"plans": [], "meters": []}, "applies_to"),
        ({"charges": ["platform"]}, "applies_to.charges"),
        ({"plans": "pro"}, "applies_to.plans"),
        ({"meters": ["api_calls", 7]}, "applies_to.meters.1"),
        ({"meters": [""]}, "applies_to.meters.0"),
        ({"plans": ["x" * 65]}, "applies_to.plans.0"),
        ({"plans": ["pro", "team", "pro"]}, "applies_to.plans.2"),
        ({"meters": [f"m{n}" for n in range(101)]}, "applies_to.meters"),
    ],
)
def test_a_malformed_scope_is_refused_naming_the_field(value: object, field: str) -> None:
    with pytest.raises(InvalidField) as refused:
        scope_from_data(value)
    assert refused.value.field == field


def test_a_scope_naming_an_unknown_plan_or_meter_is_refused_at_its_position() -> None:
    data = {"plans": ["pro", "enterprise"], "meters": ["api_calls"]}
    scope = scope_from_data(data)
    with pytest.raises(InvalidField) as refused:
        check_scope(scope, data, plan_exists=lambda code: code == "pro", meters={"api_calls"})
    assert (refused.value.field, refused.value.reason) == (
        "applies_to.plans.1",
        "no plan 'enterprise'",
    )
    with pytest.raises(InvalidField) as refused:
        check_scope(scope, data, plan_exists=lambda code: True, meters={"llm_tokens"})
    assert refused.value.field == "applies_to.meters.0"
    check_scope(scope, data, plan_exists=lambda code: True, meters={"api_calls"})


# --- which lines a scope reaches -----------------------------------------------------------


def test_each_line_is_known_by_its_plan_and_the_meter_it_bills() -> None:
    deducted = line(
        "interim:inv_1:usage:calls:2026-11-01",
        "-4.00",
        kind=LineKind.ADJUSTMENT,
        charge="pro@1:calls",
        adjusts="inv_1/usage:calls:2026-11-01",
    )
    cap_deducted = line(
        "interim:inv_1:cap:2026-11-01",
        "2.00",
        kind=LineKind.ADJUSTMENT,
        charge="pro@1:cap",
        adjusts="inv_1/cap:2026-11-01",
    )
    owners = [
        line_owner(x, CHARGE_METERS)
        for x in (
            line("fee:platform", "99.00"),
            line("proration:2026-11-16:v1:platform", "-49.50", kind=LineKind.PRORATION),
            usage("usage:calls:2026-11-01", "12.50", "api_calls"),
            line("minimum:2026-11-01", "5.00", kind=LineKind.MINIMUM, charge="pro@1:minimum"),
            line("cap:2026-11-01", "-5.00", kind=LineKind.CAP, charge="pro@1:cap"),
            deducted,
            cap_deducted,
            line("discount:X:standard", "-1.00", kind=LineKind.DISCOUNT, charge="coupon:X"),
        )
    ]
    assert owners == [
        ("pro", None),
        ("pro", None),
        ("pro", "api_calls"),
        ("pro", None),  # a plan's minimum and cap are over all its usage, not one meter's
        ("pro", None),
        ("pro", "api_calls"),  # an interim deduction of a usage line: by its charge
        ("pro", None),
        (None, None),
    ]
    assert PRO.reaches("pro", None) and CALLS.reaches("team", "api_calls")
    assert not CALLS.reaches("pro", None) and not TEAM.reaches("pro", "api_calls")
    both = Scope(frozenset({"team"}), frozenset({"api_calls"}))  # the union of its targets
    assert both.reaches("team", None) and both.reaches("pro", "api_calls")
    assert EVERYTHING.reaches(None, None)


# --- limited discounts ---------------------------------------------------------------------

#: a fee and two meters: 50.00 + 12.50 (calls) + 10.00 (tokens)
FEE_AND_TWO_METERS = [
    line("fee:platform", "50.00"),
    usage("usage:calls:2026-11-01", "12.50", "api_calls"),
    usage("usage:tokens:2026-11-01", "10.00", "llm_tokens"),
]


def test_a_percent_off_limited_to_a_meter_discounts_only_its_usage_lines() -> None:
    assert discounts(
        FEE_AND_TWO_METERS, Discount("C20", "20% off calls", Decimal(20), scope=CALLS)
    ) == [
        ("discount:C20:standard", "-2.50")  # 20% of 12.50, not of the 72.50
    ]


def test_a_percent_off_limited_to_a_plan_discounts_its_fees_prorations_and_usage() -> None:
    lines = [
        line(
            "proration:2026-11-16:v1:platform",
            "-24.50",
            charge="basic@1:platform",
            kind=LineKind.PRORATION,
        ),
        usage("usage:calls:2026-11-01", "100.00", "api_calls", charge="basic@1:calls"),
        usage("usage:calls:2026-11-16", "20.00", "api_calls"),
        line("proration:2026-11-16:v2:platform", "49.50", kind=LineKind.PRORATION),
        line("minimum:2026-11-16", "5.00", kind=LineKind.MINIMUM, charge="pro@1:minimum"),
    ]
    # 10% of the pro lines: 20.00 + 49.50 + 5.00 = 74.50 → 7.45
    assert discounts(lines, Discount("P10", "10% off Pro", Decimal(10), scope=PRO)) == [
        ("discount:P10:standard", "-7.45")
    ]


def test_a_limited_coupon_with_nothing_in_scope_makes_no_line() -> None:
    assert discounts(FEE_AND_TWO_METERS, Discount("T", "team", Decimal(50), scope=TEAM)) == []
    assert discounts(FEE_AND_TWO_METERS, Discount("T", "team", amount=Decimal(5), scope=TEAM)) == []


def test_a_limited_amount_off_is_capped_at_its_lines_and_split_over_their_tax_codes() -> None:
    lines = [
        line("fee:platform", "100.00"),
        line("fee:training", "50.00", code="reduced"),
        line("fee:other", "200.00", charge="team@1:other"),
    ]
    # 30.00 split 100 : 50 (the team line is out of scope) → 20.00 and 10.00
    assert discounts(lines, Discount("A30", "30 off", amount=Decimal(30), scope=PRO)) == [
        ("discount:A30:reduced", "-10.00"),
        ("discount:A30:standard", "-20.00"),
    ]
    # 500.00 off the pro lines: no more than they come to
    assert discounts(lines, Discount("A500", "500 off", amount=Decimal(500), scope=PRO)) == [
        ("discount:A500:reduced", "-50.00"),
        ("discount:A500:standard", "-100.00"),
    ]


def test_a_limited_discount_never_takes_a_tax_code_below_zero() -> None:
    lines = [
        line(
            "proration:2026-11-16:v1:platform",
            "-80.00",
            charge="basic@1:platform",
            kind=LineKind.PRORATION,
        ),
        line("proration:2026-11-16:v2:platform", "99.00", kind=LineKind.PRORATION),
    ]
    # Pro's 99.00 is in scope, but the code comes to 19.00 in all: 19.00 at most
    assert discounts(lines, Discount("A50", "50 off", amount=Decimal(50), scope=PRO)) == [
        ("discount:A50:standard", "-19.00")
    ]
    assert discounts(lines, Discount("P50", "half", Decimal(50), scope=PRO)) == [
        ("discount:P50:standard", "-19.00")  # half of 99.00 = 49.50, capped at 19.00
    ]


def test_an_interim_deduction_of_a_meter_comes_off_that_meters_base() -> None:
    lines = [
        usage("usage:calls:2026-11-01", "20.00", "api_calls"),
        usage("usage:tokens:2026-11-01", "30.00", "llm_tokens"),
        line(
            "interim:inv_1:usage:calls:2026-11-01",
            "-8.00",
            kind=LineKind.ADJUSTMENT,
            charge="pro@1:calls",
            adjusts="inv_1/usage:calls:2026-11-01",
        ),
    ]
    # 10% of 20.00 − 8.00 billed already
    assert discounts(lines, Discount("C10", "calls", Decimal(10), scope=CALLS)) == [
        ("discount:C10:standard", "-1.20")
    ]


def test_a_later_coupon_takes_its_base_from_what_earlier_ones_left_of_its_lines() -> None:
    found = discounts(
        FEE_AND_TWO_METERS,
        Discount("C50", "half off calls", Decimal(50), scope=CALLS),
        Discount("ALL10", "10% off", Decimal(10)),
    )
    # 50% of 12.50 = 6.25; then 10% of 50.00 + 6.25 + 10.00 = 66.25 → 6.625 → 6.62 (half-even)
    assert found == [("discount:C50:standard", "-6.25"), ("discount:ALL10:standard", "-6.62")]
    # and the other way round: 10% of 72.50 = 7.25 spread 50 : 12.5 : 10 → the calls keep
    # 12.50 − 1.25 = 11.25, half of it 5.625 → 5.62
    found = discounts(
        FEE_AND_TWO_METERS,
        Discount("ALL10", "10% off", Decimal(10)),
        Discount("C50", "half off calls", Decimal(50), scope=CALLS),
    )
    assert found == [("discount:ALL10:standard", "-7.25"), ("discount:C50:standard", "-5.62")]


def _unlimited(lines: list[Line], found: list[Discount]) -> list[tuple[str, str]]:
    """The rule for coupons without a scope as it was before scopes (the reference)."""
    bases: dict[str, Decimal] = {}
    for x in lines:
        bases[x.tax_code] = bases.get(x.tax_code, Decimal(0)) + x.amount
    codes = sorted(c for c, b in bases.items() if b > 0)
    remaining = {c: bases[c] for c in codes}
    result = []
    for d in found:
        if d.percent is not None:
            parts = [
                min(remaining[c], round_money(remaining[c] * d.percent / 100, "EUR", EVEN))
                for c in codes
            ]
        else:
            wanted = min(d.amount or Decimal(0), sum((remaining[c] for c in codes), Decimal(0)))
            parts = allocate(wanted, [remaining[c] for c in codes], "EUR")
        for c, part in zip(codes, parts, strict=True):
            if part:
                remaining[c] -= part
                result.append((f"discount:{d.code}:{c}", str(-part)))
    return result


AMOUNTS = st.decimals(min_value=-200, max_value=2000, places=2)
OWNERS = st.sampled_from(
    [("pro", None), ("pro", "api_calls"), ("team", "llm_tokens"), ("team", None)]
)
SCOPES = st.sampled_from([EVERYTHING, CALLS, TOKENS, PRO, TEAM, Scope(PRO.plans, TOKENS.meters)])
LINES = st.lists(
    st.tuples(AMOUNTS, OWNERS, st.sampled_from(["standard", "reduced"])), min_size=1, max_size=8
)
DISCOUNTS = st.lists(
    st.tuples(
        st.one_of(
            st.decimals(min_value="0.01", max_value=100, places=2).map(lambda p: (p, None)),
            st.decimals(min_value="0.01", max_value=3000, places=2).map(lambda a: (None, a)),
        ),
        SCOPES,
    ),
    min_size=1,
    max_size=3,
)


def _lines(drawn: list[tuple[Decimal, tuple[str, str | None], str]]) -> list[Line]:
    made = []
    for n, (amount, (plan, meter), code) in enumerate(drawn):
        kind = LineKind.USAGE if meter else LineKind.RECURRING
        made.append(
            line(f"l{n}", str(amount), kind=kind, charge=f"{plan}@1:c{n}", meter=meter, code=code)
        )
    return made


def _discounts(drawn: list[tuple[tuple[Decimal | None, Decimal | None], Scope]]) -> list[Discount]:
    return [
        Discount(f"D{n}", "off", percent, amount, scope)
        for n, ((percent, amount), scope) in enumerate(drawn)
    ]


@given(drawn=LINES, offered=DISCOUNTS)
def test_an_unlimited_coupon_discounts_as_it_always_did(drawn: list, offered: list) -> None:
    lines = _lines(drawn)
    unlimited = [Discount(d.code, d.description, d.percent, d.amount) for d in _discounts(offered)]
    assert discounts(lines, *unlimited) == _unlimited(lines, unlimited)


@given(drawn=LINES, offered=DISCOUNTS)
def test_a_limited_discount_never_exceeds_its_lines_nor_its_tax_code(
    drawn: list, offered: list
) -> None:
    lines = _lines(drawn)
    for discount in _discounts(offered):
        made = discount_lines(lines, [discount], "EUR", EVEN, NOVEMBER, CHARGE_METERS)
        for found in made:
            of_code = [x for x in lines if x.tax_code == found.tax_code]
            in_scope = sum(
                (x.amount for x in of_code if discount.scope.reaches(*line_owner(x, {}))),
                Decimal(0),
            )
            assert 0 < -found.amount <= min(in_scope, sum((x.amount for x in of_code), Decimal(0)))
        if discount.amount is not None:
            assert -sum((x.amount for x in made), Decimal(0)) <= discount.amount


# --- the periods a limited coupon counts -------------------------------------------------------


def plan(code: str, *meters: str) -> Plan:
    fee = {
        "key": "platform",
        "model": "flat",
        "description": "Fee",
        "timing": "in_advance",
        "amount": "10.00",
    }
    usage = [
        {"key": m, "model": "per_unit", "description": m, "meter": m, "amount": "0.01"}
        for m in meters
    ]
    data = {"name": code, "currency": "EUR", "interval": "month", "charges": [fee, *usage]}
    return plan_from_mapping(data, code=code, version=1)


PLANS = {"pro": plan("pro", "api_calls"), "team": plan("team", "api_calls", "llm_tokens")}


def _plans(code: str, version: int) -> Plan:
    return PLANS[code]


def subscription(*, team_from: date | None = None, trial_end: date | None = None) -> Subscription:
    sub = new_subscription(
        subscription_id="s1",
        customer_id="acme",
        start=date(2026, 11, 1),
        plan=("pro", 1),
        interval=Interval.MONTH,
        usage_interval=Interval.MONTH,
        trial_end=trial_end,
    )
    if team_from is not None:
        sub = amend(sub, Amendment(Change.UPGRADE, team_from, plan=("team", 1)))
    return sub


def covered(coupon: Coupon, sub: Subscription, first: date, months: int) -> list[str]:
    """The months (from ``first``) whose invoices the coupon applied on 1 November covers."""
    found = []
    for n in range(months):
        start = date(first.year + (first.month - 1 + n) // 12, (first.month - 1 + n) % 12 + 1, 1)
        eligible = lambda period: could_apply(coupon.applies_to, sub, period, _plans)  # noqa: E731
        if covers(coupon, date(2026, 11, 1), sub, start, eligible):
            found.append(start.isoformat()[:7])
    return found


def coupon(duration: Duration, scope: Scope, periods: int | None = None) -> Coupon:
    return new_coupon(
        code="X",
        description="",
        duration=duration,
        percent_off=Decimal(10),
        periods=periods,
        applies_to=scope,
    )


def test_a_once_coupon_limited_to_a_plan_waits_for_the_first_period_on_that_plan() -> None:
    sub = subscription(team_from=date(2027, 1, 16))
    nov = date(2026, 11, 1)
    assert covered(coupon(Duration.ONCE, TEAM), sub, nov, 5) == ["2027-01"]
    # unlimited, it is the period it was applied in, used or not
    assert covered(coupon(Duration.ONCE, EVERYTHING), sub, nov, 5) == ["2026-11"]
    # repeating: the first two periods that could use it
    assert covered(coupon(Duration.REPEATING, TEAM, 2), sub, nov, 5) == ["2027-01", "2027-02"]
    assert covered(coupon(Duration.FOREVER, TEAM), sub, nov, 3) == ["2026-11", "2026-12", "2027-01"]


def test_a_meter_scope_counts_the_periods_on_a_plan_that_prices_the_meter() -> None:
    sub = subscription(team_from=date(2026, 12, 1))
    # tokens are priced from December (team); calls from the start (pro, then team)
    assert covered(coupon(Duration.ONCE, TOKENS), sub, date(2026, 11, 1), 3) == ["2026-12"]
    assert covered(coupon(Duration.ONCE, CALLS), sub, date(2026, 11, 1), 3) == ["2026-11"]


def test_a_period_that_could_apply_counts_even_without_usage_and_a_trial_does_not() -> None:
    # whether the meter was used is not known when the period's invoice is final; a trial
    # bills nothing, so a limited coupon waits for its end
    sub = subscription(trial_end=date(2026, 12, 10))
    assert covered(coupon(Duration.ONCE, CALLS), sub, date(2026, 11, 1), 3) == ["2026-12"]


# --- what each line comes to, and limited grants -----------------------------------------


def finalized(raw: list[RawLine], offered: tuple[Discount, ...], rates: TaxRates) -> Invoice:
    lines, taxes, totals = assemble(
        raw, Pricing("EUR", EVEN, offered, rates, CHARGE_METERS), NOVEMBER
    )
    return Invoice(
        "inv_1",
        "acme",
        "s1",
        InvoiceKind.ARREARS,
        NOVEMBER,
        "EUR",
        InvoiceStatus.DRAFT,
        date(2026, 12, 1),
        tuple(lines),
        tuple(taxes),
        totals,
    )


def raw(x: Line) -> RawLine:
    return RawLine(
        x.key,
        x.kind,
        x.charge,
        x.description,
        x.quantity,
        x.unit_amount,
        x.amount,
        x.service,
        x.tax_code,
        x.lineage,
        x.adjusts,
    )


FRANCE = TaxRates({"standard": Decimal(20), "reduced": Decimal("5.5")})
NO_TAX = TaxRates(exempt=True)


def test_each_line_comes_to_its_amount_less_its_discount_plus_its_tax() -> None:
    invoice = finalized(
        [raw(x) for x in FEE_AND_TWO_METERS],
        (Discount("C20", "calls", Decimal(20), scope=CALLS),),
        FRANCE,
    )
    # 50.00 + 12.50 + 10.00 − 2.50 = 70.00, tax 14.50 − 0.50 = 14.00, total 84.00; the
    # discount is the calls line's; the tax is shared 50.00 : 10.00 : 10.00
    assert invoice.totals.total == Decimal("84.00")
    assert shares(invoice, {"C20": CALLS}, CHARGE_METERS) == [
        Share("fee:platform", "pro", None, Decimal("60.00")),
        Share("usage:calls:2026-11-01", "pro", "api_calls", Decimal("12.00")),
        Share("usage:tokens:2026-11-01", "pro", "llm_tokens", Decimal("12.00")),
    ]


def grant(
    gid: str,
    amount: str,
    scope: Scope = EVERYTHING,
    *,
    expires: date | None = None,
    granted: date = date(2026, 10, 1),
) -> CreditGrant:
    return CreditGrant(gid, "EUR", Decimal(amount), granted, expires, scope)


def test_a_limited_grant_pays_only_its_lines_and_an_unlimited_one_the_rest() -> None:
    invoice = finalized([raw(x) for x in FEE_AND_TWO_METERS], (), FRANCE)  # total 87.00
    parts = shares(invoice, {}, CHARGE_METERS)  # tokens: 10.00 + 2.00 of tax
    on = date(2026, 12, 1)
    assert apply_credits(
        Decimal("87.00"), "EUR", on, [grant("all", "50.00"), grant("tok", "30.00", TOKENS)], parts
    ) == [
        CreditUse("tok", Decimal("12.00")),
        CreditUse("all", Decimal("50.00")),
    ]
    # without the lines placed, a limited grant pays nothing
    assert apply_credits(Decimal("87.00"), "EUR", on, [grant("tok", "30.00", TOKENS)]) == []


def test_limited_grants_come_first_then_the_soonest_expiry_then_the_oldest() -> None:
    invoice = finalized([raw(x) for x in FEE_AND_TWO_METERS], (), NO_TAX)  # total 72.50
    parts = shares(invoice, {}, CHARGE_METERS)
    grants = [
        grant("soon", "5.00", expires=date(2026, 12, 2)),
        grant("calls-late", "4.00", CALLS, expires=date(2027, 6, 1)),
        grant("calls-old", "4.00", CALLS, granted=date(2026, 9, 1)),
        grant("calls-new", "20.00", CALLS, granted=date(2026, 10, 5)),
        grant("calls-soon", "3.00", CALLS, expires=date(2027, 1, 1)),
        grant("expired", "100.00", CALLS, expires=date(2026, 12, 1)),
    ]
    # 12.50 of calls: 3.00, 4.00, then 4.00 (never-expiring, older first) and the 1.50 left;
    # the unlimited grant pays 5.00 of the rest
    assert apply_credits(Decimal("72.50"), "EUR", date(2026, 12, 1), grants, parts) == [
        CreditUse("calls-soon", Decimal("3.00")),
        CreditUse("calls-late", Decimal("4.00")),
        CreditUse("calls-old", Decimal("4.00")),
        CreditUse("calls-new", Decimal("1.50")),
        CreditUse("soon", Decimal("5.00")),
    ]


def test_two_grants_on_overlapping_scopes_never_pay_a_line_twice() -> None:
    invoice = finalized([raw(x) for x in FEE_AND_TWO_METERS], (), NO_TAX)
    parts = shares(invoice, {}, CHARGE_METERS)
    grants = [
        grant("calls", "100.00", CALLS, expires=date(2027, 1, 1)),
        grant("pro", "100.00", PRO),
    ]
    # calls first (sooner expiry): 12.50; Pro then pays what is left of its lines, 60.00
    assert apply_credits(Decimal("72.50"), "EUR", date(2026, 12, 1), grants, parts) == [
        CreditUse("calls", Decimal("12.50")),
        CreditUse("pro", Decimal("60.00")),
    ]


RATES = st.sampled_from([FRANCE, NO_TAX])
GRANTS = st.lists(
    st.tuples(
        st.decimals(min_value="0.01", max_value=500, places=2),
        SCOPES,
        st.sampled_from([None, date(2027, 1, 1), date(2026, 11, 15)]),
    ),
    max_size=5,
)


@given(drawn=LINES, offered=DISCOUNTS, rates=RATES, wallet=GRANTS)
def test_credits_never_pay_more_than_the_invoice_nor_the_grant(
    drawn: list, offered: list, rates: TaxRates, wallet: list
) -> None:
    items = _lines(drawn)
    coupons = _discounts(offered)
    invoice = finalized([raw(x) for x in items], tuple(coupons), rates)
    parts = shares(invoice, {d.code: d.scope for d in coupons}, {})
    if all(x.amount >= 0 for x in items):  # no code nets to zero with tax on it
        assert sum((p.amount for p in parts), Decimal(0)) == invoice.totals.total
    grants = [
        grant(f"g{n}", str(amount), scope, expires=expires)
        for n, (amount, scope, expires) in enumerate(wallet)
    ]
    total = invoice.totals.total
    if total <= 0:
        return
    uses = apply_credits(total, "EUR", date(2026, 12, 1), grants, parts)
    by_id = {g.id: g for g in grants}
    assert sum((u.amount for u in uses), Decimal(0)) <= total
    for use in uses:
        assert 0 < use.amount <= by_id[use.grant_id].remaining
        assert by_id[use.grant_id].expires_on in (None, date(2027, 1, 1))
    limited = [u for u in uses if by_id[u.grant_id].scope.limited]
    if len(limited) == 1:  # alone in its scope: no more than its lines come to
        scope = by_id[limited[0].grant_id].scope
        reach = sum((p.amount for p in parts if scope.reaches(p.plan, p.meter)), Decimal(0))
        assert limited[0].amount <= reach
    # the limited grants are used before any unlimited one
    kinds = [by_id[u.grant_id].scope.limited for u in uses]
    assert kinds == sorted(kinds, reverse=True)
