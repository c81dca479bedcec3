"""In-advance fees across changes of interval, rated by the pure domain: whatever the history
(plan changes between weekly, monthly, quarterly, half-yearly and yearly plans, seat changes,
several on one day, a trial, a cancellation at the end), the fees billed — advance invoices,
prorations and the unused time credited when a new calendar starts — add up to what was in
force day by day: each day's fees divided by the days of the (whole) period serving it, to
half a cent per line.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from revsync.domain.billing import (
    Money,
    UsageFigure,
    UsageRequest,
    advance_lines,
    arrears_lines,
    recurring_periods,
    usage_periods,
)
from revsync.domain.money import Rounding, round_money
from revsync.domain.periods import Interval, period_of
from revsync.domain.pricing import Plan, plan_from_mapping
from revsync.domain.subscriptions import Amendment, Change, Subscription, amend, new_subscription

#: code → (interval, usage interval, flat fee, price per seat)
CATALOG = {
    "weekly": ("week", "week", "20.00", "3.00"),
    "monthly": ("month", "month", "99.00", "10.00"),
    "quarterly": ("quarter", "month", "280.00", "27.00"),
    "half": ("half_year", "quarter", "540.00", "50.00"),
    "yearly": ("year", "month", "1000.00", "100.00"),
}


def _plan(code: str) -> Plan:
    interval, usage, fee, seat = CATALOG[code]
    return plan_from_mapping(
        {
            "name": code,
            "currency": "EUR",
            "interval": interval,
            "usage_interval": usage,
            "charges": [
                {
                    "key": "platform",
                    "model": "flat",
                    "description": "Platform",
                    "timing": "in_advance",
                    "amount": fee,
                },
                {
                    "key": "seats",
                    "model": "per_seat",
                    "description": "Seats",
                    "timing": "in_advance",
                    "amount": seat,
                },
            ],
        },
        code=code,
        version=1,
    )


PLANS = {code: _plan(code) for code in CATALOG}
MONEY = Money("EUR", Rounding.HALF_EVEN)


def plans(code: str, version: int) -> Plan:
    return PLANS[code]


def no_usage(request: UsageRequest) -> UsageFigure:
    raise AssertionError(f"these plans read no usage: {request}")


def unknown_basis(_: object) -> int | None:
    return None


def day_fee(sub: Subscription, day: date) -> Fraction:
    """The in-advance fees of one day: the terms in force's fees over the days of the whole
    calendar period holding it, in the calendar in force that day."""
    terms = sub.terms_on(day)
    if terms is None or not terms.billable(day, sub.start):
        return Fraction(0)
    _, _, fee, seat = CATALOG[terms.plan_code]
    calendar = [c for c in sub.calendars if c.start <= day][-1]
    days = period_of(day, calendar.anchor, calendar.interval).days
    return (Fraction(fee) + Fraction(seat) * terms.seats) / days


amendments = st.lists(
    st.tuples(
        st.integers(0, 500),
        st.one_of(
            st.tuples(st.just("plan"), st.sampled_from(sorted(CATALOG))),
            st.tuples(st.just("seats"), st.integers(0, 9)),
        ),
    ),
    max_size=5,
).map(sorted)


@settings(max_examples=60, deadline=None)
@given(
    start=st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)),
    first=st.sampled_from(sorted(CATALOG)),
    anchor_offset=st.one_of(st.none(), st.integers(-40, 40)),
    trial_days=st.one_of(st.none(), st.integers(1, 60)),
    history=amendments,
    tail=st.integers(1, 200),
)
def test_fees_billed_equal_the_fees_in_force_day_by_day(
    start: date,
    first: str,
    anchor_offset: int | None,
    trial_days: int | None,
    history: list[tuple[int, tuple[str, object]]],
    tail: int,
) -> None:
    interval, usage, _, _ = CATALOG[first]
    sub = new_subscription(
        subscription_id="s1",
        customer_id="acme",
        start=start,
        plan=(first, 1),
        interval=Interval(interval),
        usage_interval=Interval(usage),
        seats=2,
        anchor=None if anchor_offset is None else start + timedelta(days=anchor_offset),
        trial_end=None if trial_days is None else start + timedelta(days=trial_days),
    )
    for offset, (what, value) in history:
        day = start + timedelta(days=offset)
        if what == "plan":
            if value == sub.current.plan_code:
                continue
            code = str(value)
            sub = amend(
                sub,
                Amendment(
                    Change.PLAN_CHANGE,
                    day,
                    plan=(code, 1),
                    interval=Interval(CATALOG[code][0]),
                    usage_interval=Interval(CATALOG[code][1]),
                ),
            )
        else:
            assert isinstance(value, int)
            sub = amend(sub, Amendment(Change.SEAT_CHANGE, day, seats=value))
    ends = sub.current.effective + timedelta(days=tail)
    sub = amend(sub, Amendment(Change.CANCEL, ends))

    billed: list[Decimal] = []
    until = ends + timedelta(days=1)
    for period in recurring_periods(sub, until):
        lines, _ = advance_lines(sub, period, plans)
        billed += [line.amount for line in lines]
    for period in usage_periods(sub, until):
        lines = arrears_lines(sub, period, plans, no_usage, MONEY, unknown_basis)
        billed += [line.amount for line in lines]
    rounded = sum(round_money(amount, "EUR", Rounding.HALF_EVEN) for amount in billed)
    expected = sum(
        (day_fee(sub, start + timedelta(days=n)) for n in range((ends - start).days)),
        Fraction(0),
    )
    assert abs(Fraction(rounded) - expected) <= Fraction(1, 200) * max(1, len(billed))


def billed(sub: Subscription, until: date) -> Decimal:
    """Every in-advance fee line rated for the periods before ``until``, each rounded."""
    amounts = [
        line.amount
        for period in recurring_periods(sub, until)
        for line in advance_lines(sub, period, plans)[0]
    ] + [
        line.amount
        for period in usage_periods(sub, until)
        for line in arrears_lines(sub, period, plans, no_usage, MONEY, unknown_basis)
    ]
    return sum((round_money(a, "EUR", Rounding.HALF_EVEN) for a in amounts), Decimal(0))


def test_monthly_then_yearly_from_the_16th_then_cancelled_on_the_1st() -> None:
    sub = new_subscription(
        subscription_id="s1",
        customer_id="acme",
        start=date(2026, 6, 1),
        plan=("monthly", 1),
        interval=Interval.MONTH,
        usage_interval=Interval.MONTH,
        seats=0,
    )
    sub = amend(
        sub,
        Amendment(
            Change.PLAN_CHANGE,
            date(2026, 6, 16),
            plan=("yearly", 1),
            interval=Interval.YEAR,
            usage_interval=Interval.MONTH,
        ),
    )
    sub = amend(sub, Amendment(Change.CANCEL, date(2026, 7, 1)))
    # June: 99.00, less 15/30 back (49.50); the first year to 1 January, 1000.00 × 199/365 =
    # 545.21, less the 184/365 the cancellation on 1 July gives back (504.11): 41.10
    assert billed(sub, date(2026, 7, 2)) == Decimal("49.50") + Decimal("41.10")
