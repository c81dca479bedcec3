"""Billing calendars: periods anchored on a day, day counts, local day starts.

A subscription's periods run from its billing anchor in steps of one interval — a week, or a
month, a quarter, a half-year or a year: ``[anchor, anchor + 1 interval)``, then the next.
Weeks are seven days from the anchor's weekday. For the others, the anchor's day of the month
is kept when the month allows it and clamped to the month's last day when it does not (an
anchor on the 31st gives 28 or 29 February, then 31 March). Periods are local calendar dates
in the customer's time zone, half-open: ``end`` is the first day of the next period.

An anchor is *on the calendar* of its interval when it starts one of the calendar's own
periods: a Monday for weeks, the 1st of a month, of January, April, July or October, of
January or July, or of January (:func:`calendar_anchor`).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo


class Interval(StrEnum):
    """How long a billing period is."""

    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    HALF_YEAR = "half_year"
    YEAR = "year"

    @property
    def months(self) -> int:
        """The interval in months (0 for a week, which is counted in days)."""
        return _MONTHS.get(self, 0)

    def divides(self, longer: Interval) -> bool:
        """Whether periods of this interval tile periods of ``longer`` exactly (on one anchor):
        a week only weeks; a month, quarter or half-year the intervals it is a fraction of."""
        if Interval.WEEK in (self, longer):
            return self is longer
        return longer.months % self.months == 0


_MONTHS = {Interval.MONTH: 1, Interval.QUARTER: 3, Interval.HALF_YEAR: 6, Interval.YEAR: 12}


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """Local dates ``[start, end)``."""

    start: date
    end: date

    @property
    def days(self) -> int:
        """Number of days in the period."""
        return (self.end - self.start).days

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day < self.end

    def overlap(self, start: date, end: date) -> int:
        """Days of ``[start, end)`` that fall in this period."""
        return max(0, (min(end, self.end) - max(start, self.start)).days)

    def __str__(self) -> str:
        return f"{self.start.isoformat()}/{self.end.isoformat()}"


def shift_months(anchor: date, months: int) -> date:
    """``anchor`` moved by ``months``, its day clamped to the target month's length."""
    index = anchor.year * 12 + anchor.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(anchor.day, last))


@lru_cache(maxsize=65_536)
def period_of(day: date, anchor: date, interval: Interval) -> Period:
    """The period of the calendar anchored on ``anchor`` that contains ``day`` (remembered: a
    billing run asks for the same few periods of every subscription)."""
    if interval is Interval.WEEK:
        start = anchor + timedelta(days=(day - anchor).days // 7 * 7)
        return Period(start, start + timedelta(days=7))
    step = interval.months
    offset = (day.year - anchor.year) * 12 + (day.month - anchor.month)
    k = offset // step
    start = shift_months(anchor, k * step)
    while start > day:
        k -= 1
        start = shift_months(anchor, k * step)
    end = shift_months(anchor, (k + 1) * step)
    while end <= day:
        k += 1
        start, end = end, shift_months(anchor, (k + 1) * step)
    return Period(start, end)


def periods(anchor: date, interval: Interval, start: date, end: date) -> Iterator[Period]:
    """The anchored periods that overlap ``[start, end)``, in order."""
    if end <= start:
        return
    period = period_of(start, anchor, interval)
    while period.start < end:
        yield period
        period = period_of(period.end, anchor, interval)


def calendar_anchor(day: date, interval: Interval) -> date:
    """The first day of the calendar period of ``interval`` that holds ``day``: its week's
    Monday, its month's 1st, its quarter's, half-year's or year's first day."""
    if interval is Interval.WEEK:
        return day - timedelta(days=day.weekday())
    step = interval.months
    return date(day.year, (day.month - 1) // step * step + 1, 1)


def on_calendar(anchor: date, interval: Interval) -> bool:
    """Whether periods of ``interval`` from ``anchor`` are the calendar's own."""
    return calendar_anchor(anchor, interval) == anchor


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of a local day, in UTC.

    When midnight does not exist (a clock change at midnight), the local day starts at the
    moment of the change; when it exists twice, at the first of them.
    """
    return datetime.combine(day, time(0), zone).astimezone(UTC)


def local_date(moment: datetime, zone: ZoneInfo) -> date:
    """The local calendar date of an instant."""
    return moment.astimezone(zone).date()
