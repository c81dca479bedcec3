"""Billing calendars: every interval's periods hold the day asked, tile time without gap or
overlap, and start on the anchor's steps — seven days for a week, the anchor's day of the month
(clamped) for the others."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from revsync.domain.periods import Interval, Period, period_of, periods, shift_months

DAYS = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))


@given(anchor=DAYS, day=DAYS, interval=st.sampled_from(list(Interval)))
def test_a_period_holds_its_day_and_starts_on_a_step_of_the_anchor(
    anchor: date, day: date, interval: Interval
) -> None:
    period = period_of(day, anchor, interval)
    assert period.start <= day < period.end
    following = period_of(period.end, anchor, interval)
    assert following.start == period.end  # no gap, no overlap
    if interval is Interval.WEEK:
        assert period.end - period.start == timedelta(days=7)
        assert (period.start - anchor).days % 7 == 0
    else:
        steps = range(-20 * 12, 20 * 12 + 1, interval.months)
        assert period.start in {shift_months(anchor, n) for n in steps}
        assert period.end == shift_months(
            anchor,
            next(n for n in steps if shift_months(anchor, n) == period.start) + interval.months,
        )


def test_weeks_run_from_the_anchors_weekday_and_quarters_keep_its_day() -> None:
    wednesday = date(2027, 1, 6)
    assert period_of(date(2027, 1, 12), wednesday, Interval.WEEK) == Period(
        date(2027, 1, 6), date(2027, 1, 13)
    )
    assert period_of(date(2027, 1, 5), wednesday, Interval.WEEK) == Period(
        date(2026, 12, 30), date(2027, 1, 6)
    )
    assert list(
        periods(date(2027, 1, 31), Interval.QUARTER, date(2027, 1, 31), date(2027, 9, 1))
    ) == [
        Period(date(2027, 1, 31), date(2027, 4, 30)),
        Period(date(2027, 4, 30), date(2027, 7, 31)),
        Period(date(2027, 7, 31), date(2027, 10, 31)),
    ]
    assert period_of(date(2027, 8, 15), date(2027, 1, 1), Interval.HALF_YEAR) == Period(
        date(2027, 7, 1), date(2028, 1, 1)
    )


def test_which_usage_periods_divide_which_billing_periods() -> None:
    divides = {(u.value, b.value) for u in Interval for b in Interval if u.divides(b)}
    assert divides == {
        ("week", "week"),
        ("month", "month"),
        ("month", "quarter"),
        ("month", "half_year"),
        ("month", "year"),
        ("quarter", "quarter"),
        ("quarter", "half_year"),
        ("quarter", "year"),
        ("half_year", "half_year"),
        ("half_year", "year"),
        ("year", "year"),
    }
