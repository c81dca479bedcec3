"""A subscription's calendars: a plan change to another interval starts a new calendar on its
effective day. Whatever the history, the periods (as served) tile time from the start without
gap or overlap, each usage period within one recurring period; the periods before the first
change are exactly those of the one calendar the subscription had; each period's identity (its
dates, which name its invoices) is unique.
"""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from revsync.domain.errors import InvalidField
from revsync.domain.periods import Interval, Period, calendar_anchor, on_calendar, periods
from revsync.domain.subscriptions import (
    Amendment,
    Calendar,
    Change,
    Subscription,
    amend,
    new_subscription,
)

DAYS = st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31))
#: (interval, usage interval) pairs a plan may have: the usage interval divides the interval
CYCLES = [(i, u) for i in Interval for u in Interval if u.divides(i)]


def subscription(
    start: date,
    cycle: tuple[Interval, Interval] = (Interval.MONTH, Interval.MONTH),
    anchor: date | None = None,
) -> Subscription:
    return new_subscription(
        subscription_id="s1",
        customer_id="acme",
        start=start,
        plan=(f"p-{cycle[0].value}-{cycle[1].value}", 1),
        interval=cycle[0],
        usage_interval=cycle[1],
        anchor=anchor,
    )


def change(
    sub: Subscription, day: date, cycle: tuple[Interval, Interval], version: int = 1
) -> Subscription:
    """A plan change on ``day`` to a plan billing on ``cycle``."""
    plan = (f"p-{cycle[0].value}-{cycle[1].value}", version)
    if plan == sub.current.plan:
        plan = (plan[0], version + 1)
    return amend(
        sub,
        Amendment(Change.PLAN_CHANGE, day, plan=plan, interval=cycle[0], usage_interval=cycle[1]),
    )


#: start, (interval, usage interval), anchor, and plan changes: (days after the start, the new
#: plan's intervals, a seat change the same day too)
History = tuple[
    date, tuple[Interval, Interval], date | None, list[tuple[int, tuple[Interval, Interval], bool]]
]

histories = st.tuples(
    DAYS,
    st.sampled_from(CYCLES),
    st.one_of(st.none(), DAYS),
    st.lists(
        st.tuples(st.integers(0, 800), st.sampled_from(CYCLES), st.booleans()), max_size=6
    ).map(sorted),
)


def build(history: History) -> Subscription:
    start, cycle, anchor, changes = history
    sub = subscription(start, cycle, anchor)
    for offset, to, seats_too in changes:
        day = start + timedelta(days=offset)
        sub = change(sub, day, to)
        if seats_too:  # a seat change the same day changes no calendar
            sub = amend(sub, Amendment(Change.SEAT_CHANGE, day, seats=3))
    return sub


def served(sub: Subscription, found: list[Period]) -> list[tuple[date, date]]:
    return [(p.start, sub.service_end(p)) for p in found]


@given(history=histories)
def test_periods_tile_time_from_the_start_whatever_the_interval_changes(
    history: History,
) -> None:
    sub = build(history)
    until = sub.start + timedelta(days=1200)
    for usage in (False, True):
        found = (
            sub.usage_periods(sub.start, until)
            if usage
            else sub.recurring_periods(sub.start, until)
        )
        spans = served(sub, found)
        # the first holds the start; each starts where the one before stops serving
        assert spans[0][0] <= sub.start < spans[0][1]
        for (_, end), (start, _) in pairwise(spans):
            assert start == end
        assert spans[-1][1] >= until
        # identities (which name invoices) are unique, each a period of the subscription
        assert len({p.start for p in found}) == len(found)
        assert all(sub.is_period(p, usage=usage) for p in found)
        # a period is the whole of its calendar's period, or its end part
        for period in found:
            whole = sub.full_period(period, usage=usage)
            assert whole.start <= period.start < period.end == whole.end
        # the period in service on a day is the one whose span holds it
        for start, end in spans[:12]:
            on = sub.usage_period_on(start) if usage else sub.recurring_period_on(start)
            assert (on.start, sub.service_end(on)) == (start, end)
    recurring = served(sub, sub.recurring_periods(sub.start, until))
    for start, end in served(sub, sub.usage_periods(sub.start, until)):
        assert any(r_start <= start and end <= r_end for r_start, r_end in recurring)


@given(history=histories)
def test_the_periods_before_the_first_change_are_the_first_calendars(
    history: History,
) -> None:
    sub = build(history)
    first = sub.calendars[0]
    on_start = sub.terms_on(sub.start)
    assert on_start is not None
    # the first calendar: the start, the anchor, and the intervals of the start day's terms
    assert first == Calendar(sub.start, sub.anchor, on_start.interval, on_start.usage_interval)  # type: ignore[arg-type]
    end = sub.calendars[1].start if len(sub.calendars) > 1 else sub.start + timedelta(days=1200)
    assert sub.recurring_periods(sub.start, end) == list(
        periods(first.anchor, first.interval, sub.start, end)
    )
    assert sub.usage_periods(sub.start, end) == list(
        periods(first.anchor, first.usage_interval, sub.start, end)
    )


@given(start=DAYS, cycle=st.sampled_from(CYCLES), anchor=st.one_of(st.none(), DAYS))
def test_without_a_change_of_interval_one_calendar_as_before(
    start: date, cycle: tuple[Interval, Interval], anchor: date | None
) -> None:
    sub = subscription(start, cycle, anchor)
    sub = amend(sub, Amendment(Change.SEAT_CHANGE, start + timedelta(days=40), seats=4))
    sub = change(sub, start + timedelta(days=70), cycle, version=2)  # same intervals
    assert sub.calendars == (Calendar(start, anchor or start, *cycle),)
    end = start + timedelta(days=900)
    assert sub.recurring_periods(start, end) == list(periods(anchor or start, cycle[0], start, end))
    assert sub.usage_periods(start, end) == list(periods(anchor or start, cycle[1], start, end))


MONTHLY = (Interval.MONTH, Interval.MONTH)
YEARLY = (Interval.YEAR, Interval.MONTH)


def test_on_the_anniversary_the_new_calendar_starts_on_the_day_of_the_change() -> None:
    sub = change(subscription(date(2026, 5, 10)), date(2026, 6, 16), YEARLY)
    assert sub.calendars[1] == Calendar(date(2026, 6, 16), date(2026, 6, 16), *YEARLY)
    june = Period(date(2026, 6, 10), date(2026, 7, 10))
    assert sub.recurring_periods(date(2026, 6, 1), date(2027, 7, 1)) == [
        Period(date(2026, 5, 10), date(2026, 6, 10)),
        june,  # keeps its dates, serves until the change
        Period(date(2026, 6, 16), date(2027, 6, 16)),
        Period(date(2027, 6, 16), date(2028, 6, 16)),
    ]
    assert sub.service_end(june) == date(2026, 6, 16)
    assert sub.usage_periods(date(2026, 6, 10), date(2026, 8, 1)) == [
        june,
        Period(date(2026, 6, 16), date(2026, 7, 16)),
        Period(date(2026, 7, 16), date(2026, 8, 16)),
    ]


def test_on_the_calendar_the_new_calendar_keeps_to_it_from_a_shorter_first_period() -> None:
    # monthly on the 1st: on the calendar; yearly from 16 June runs to 1 January, then by year
    sub = change(subscription(date(2026, 3, 1)), date(2026, 6, 16), YEARLY)
    assert sub.calendars[1] == Calendar(date(2026, 6, 16), date(2026, 1, 1), *YEARLY)
    stub = Period(date(2026, 6, 16), date(2027, 1, 1))
    assert sub.recurring_periods(date(2026, 6, 1), date(2027, 2, 1)) == [
        Period(date(2026, 6, 1), date(2026, 7, 1)),
        stub,
        Period(date(2027, 1, 1), date(2028, 1, 1)),
    ]
    assert sub.full_period(stub) == Period(date(2026, 1, 1), date(2027, 1, 1))
    first_usage = sub.usage_period_on(date(2026, 6, 20))
    assert first_usage == Period(date(2026, 6, 16), date(2026, 7, 1))
    assert sub.full_period(first_usage, usage=True) == Period(date(2026, 6, 1), date(2026, 7, 1))
    # and back to monthly on 10 September: months on the 1st again, from a short first one
    back = change(sub, date(2026, 9, 10), MONTHLY, version=3)
    assert back.recurring_periods(date(2026, 9, 1), date(2026, 11, 1)) == [
        stub,
        Period(date(2026, 9, 10), date(2026, 10, 1)),
        Period(date(2026, 10, 1), date(2026, 11, 1)),
    ]
    assert back.service_end(stub) == date(2026, 9, 10)


def test_a_weekly_calendar_goes_on_from_mondays() -> None:
    monday = date(2027, 1, 4)
    sub = subscription(monday, (Interval.WEEK, Interval.WEEK))
    sub = change(sub, date(2027, 1, 14), MONTHLY)  # a Thursday
    assert sub.recurring_periods(date(2027, 1, 11), date(2027, 2, 2)) == [
        Period(date(2027, 1, 11), date(2027, 1, 18)),
        Period(date(2027, 1, 14), date(2027, 2, 1)),
        Period(date(2027, 2, 1), date(2027, 3, 1)),
    ]
    weekly = change(sub, date(2027, 2, 10), (Interval.WEEK, Interval.WEEK), version=3)
    assert weekly.calendars[-1] == Calendar(
        date(2027, 2, 10), date(2027, 2, 8), Interval.WEEK, Interval.WEEK
    )


def test_only_the_last_amendment_of_a_day_makes_the_calendar() -> None:
    there = change(subscription(date(2026, 5, 10)), date(2026, 6, 16), YEARLY)
    back = change(there, date(2026, 6, 16), MONTHLY, version=3)  # back the same day
    assert back.calendars == (Calendar(date(2026, 5, 10), date(2026, 5, 10), *MONTHLY),)
    # a change on the first day sets the first calendar's intervals, on the anchor
    first_day = change(subscription(date(2026, 5, 10)), date(2026, 5, 10), YEARLY)
    assert first_day.calendars == (Calendar(date(2026, 5, 10), date(2026, 5, 10), *YEARLY),)


def test_segments_of_a_period_stop_where_the_new_calendar_starts() -> None:
    sub = change(subscription(date(2026, 5, 10)), date(2026, 6, 16), YEARLY)
    june = Period(date(2026, 6, 10), date(2026, 7, 10))
    assert [(s.start, s.end, s.terms.version) for s in sub.segments(june)] == [
        (date(2026, 6, 10), date(2026, 6, 16), 1)
    ]


def test_calendar_anchors() -> None:
    day = date(2026, 8, 20)  # a Thursday
    assert [calendar_anchor(day, i) for i in Interval] == [
        date(2026, 8, 17),
        date(2026, 8, 1),
        date(2026, 7, 1),
        date(2026, 7, 1),
        date(2026, 1, 1),
    ]
    assert on_calendar(date(2026, 4, 1), Interval.QUARTER)
    assert not on_calendar(date(2026, 5, 1), Interval.QUARTER)
    assert on_calendar(date(2026, 5, 1), Interval.MONTH)


def test_a_plan_change_takes_the_new_plans_intervals_and_other_changes_keep_them() -> None:
    sub = change(subscription(date(2026, 5, 10)), date(2026, 6, 16), YEARLY)
    assert (sub.current.interval, sub.current.usage_interval) == YEARLY
    seats = amend(sub, Amendment(Change.SEAT_CHANGE, date(2026, 7, 1), seats=9))
    assert (seats.current.interval, seats.current.usage_interval) == YEARLY
    with pytest.raises(InvalidField):
        change(sub, date(2026, 6, 1), MONTHLY, version=5)  # before the newest version
