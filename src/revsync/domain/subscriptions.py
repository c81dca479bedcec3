"""Subscriptions: a customer on a plan, with every amendment kept as a version of its terms.

Each version of the terms holds from its effective date (a local date in the customer's
time zone) until the next version. Amendments never rewrite history: an upgrade, a seat
change, a cancellation or a trial extension is a new version effective on its date. Days are
the unit of proration: a fee for part of a period is ``fee × billable days / days in period``.

A day is *billable* under some terms when the subscription has started, the trial (if any)
is over and the service has not ended.

A subscription's periods come from its *calendars*: the first runs from the start on the
subscription's anchor; a plan change to another interval (or usage interval) effective on a
day D starts a new one on D. The period in service on D keeps its dates (its invoices keep
their ids) but serves only until D; the new calendar's periods run from D — from D itself on
the anniversary, or, when the old calendar was on the calendar (the 1st of the month, a
Monday…), on the new interval's calendar, its first period from D to the next boundary
(prorated by day over the whole calendar period).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from enum import StrEnum
from itertools import pairwise

from revsync.domain.errors import InvalidField
from revsync.domain.identity import validate_customer_id
from revsync.domain.periods import (
    Interval,
    Period,
    calendar_anchor,
    on_calendar,
    period_of,
    periods,
)
from revsync.domain.thresholds import Threshold


class Change(StrEnum):
    """Why a version of the terms exists."""

    CREATED = "created"
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"
    PLAN_CHANGE = "plan_change"
    SEAT_CHANGE = "seat_change"
    CANCEL = "cancel"
    TRIAL_CHANGE = "trial_change"
    RENEWAL = "renewal"


@dataclass(frozen=True, slots=True)
class Terms:
    """One version of a subscription's terms."""

    version: int
    effective: date
    change: Change
    plan_code: str
    plan_version: int
    seats: int
    trial_end: date | None = None
    ends: date | None = None
    #: the plan's intervals (None: the subscription's own, as it was created)
    interval: Interval | None = None
    usage_interval: Interval | None = None

    def billable(self, day: date, start: date) -> bool:
        """True when ``day`` is charged under these terms."""
        if day < start:
            return False
        if self.trial_end is not None and day < self.trial_end:
            return False
        return self.ends is None or day < self.ends

    def billable_days(self, start: date, end: date, subscription_start: date) -> int:
        """Billable days in ``[start, end)``."""
        first = max(start, subscription_start, self.trial_end or start)
        last = min(end, self.ends or end)
        return max(0, (last - first).days)

    @property
    def plan(self) -> tuple[str, int]:
        """The plan code and version."""
        return self.plan_code, self.plan_version


@dataclass(frozen=True, slots=True)
class Segment:
    """Days ``[start, end)`` of a period under one version of the terms."""

    start: date
    end: date
    terms: Terms
    billable: bool

    @property
    def days(self) -> int:
        """Number of days in the segment."""
        return (self.end - self.start).days


@dataclass(frozen=True, slots=True)
class Calendar:
    """Periods of ``interval`` (usage periods of ``usage_interval``) from ``anchor``, in force
    from ``start`` until the next calendar of the subscription starts."""

    start: date
    anchor: date
    interval: Interval
    usage_interval: Interval


@dataclass(frozen=True, slots=True)
class CouponUse:
    """A coupon applied to a subscription from a date."""

    code: str
    start: date


@dataclass(frozen=True, slots=True)
class Subscription:
    """A customer's subscription and the full history of its terms."""

    id: str
    customer_id: str
    anchor: date
    interval: Interval
    usage_interval: Interval
    terms: tuple[Terms, ...]
    include_children: bool = False
    renewal_date: date | None = None
    coupons: tuple[CouponUse, ...] = ()
    #: thresholds of this subscription beside its plan's (domain/thresholds.py)
    thresholds: tuple[Threshold, ...] = ()
    _calendars: tuple[Calendar, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_calendars", _calendars_of(self))

    @property
    def start(self) -> date:
        """The first day of service."""
        return self.terms[0].effective

    @property
    def current(self) -> Terms:
        """The newest version of the terms."""
        return self.terms[-1]

    @property
    def ends(self) -> date | None:
        """The day service ends (exclusive), if it is cancelled."""
        return self.current.ends

    def terms_on(self, day: date) -> Terms | None:
        """The terms in force on ``day`` (``None`` before the start)."""
        found = None
        for terms in self.terms:
            if terms.effective > day:
                break
            found = terms
        return found

    # --- calendars --------------------------------------------------------------------

    @property
    def calendars(self) -> tuple[Calendar, ...]:
        """The calendars of the subscription's periods, in order (one unless a plan change
        changed the interval)."""
        return self._calendars

    def recurring_periods(self, start: date, end: date) -> list[Period]:
        """The recurring periods in service on some day of ``[start, end)``, in order."""
        return self._periods(start, end, usage=False)

    def usage_periods(self, start: date, end: date) -> list[Period]:
        """The usage periods in service on some day of ``[start, end)``, in order."""
        return self._periods(start, end, usage=True)

    def recurring_period_on(self, day: date) -> Period:
        """The recurring period in service on ``day``."""
        return self._periods(day, day + _DAY, usage=False)[0]

    def usage_period_on(self, day: date) -> Period:
        """The usage period in service on ``day``."""
        return self._periods(day, day + _DAY, usage=True)[0]

    def service_end(self, period: Period) -> date:
        """The day a period of the subscription stops serving (exclusive): its end, or the
        start of the next calendar when that comes first (the end of service aside)."""
        calendars = self._calendars
        if len(calendars) == 1:  # the usual case: one calendar all along
            return period.end
        index = self._calendar_index(period.start)
        if index + 1 < len(calendars):
            return min(period.end, calendars[index + 1].start)
        return period.end

    def full_period(self, period: Period, *, usage: bool = False) -> Period:
        """The whole period of its calendar that a period is (or, for the first period of a
        later calendar on the calendar, is the end of): what fees and commitments are
        prorated over."""
        calendar = self._calendars[self._calendar_index(period.start)]
        interval = calendar.usage_interval if usage else calendar.interval
        return period_of(period.start, calendar.anchor, interval)

    def is_period(self, period: Period, *, usage: bool = False) -> bool:
        """Whether ``period`` is one of the subscription's recurring (or usage) periods."""
        return self._periods(period.start, period.start + _DAY, usage=usage) == [period]

    def _calendar_index(self, day: date) -> int:
        """The calendar in force on ``day`` (the first one before the start)."""
        found = 0
        for index, calendar in enumerate(self._calendars):
            if calendar.start > day:
                break
            found = index
        return found

    def _periods(self, start: date, end: date, *, usage: bool) -> list[Period]:
        found: list[Period] = []
        calendars = self._calendars
        for index, calendar in enumerate(calendars):
            following = calendars[index + 1].start if index + 1 < len(calendars) else None
            first = start if index == 0 else max(start, calendar.start)
            last = end if following is None else min(end, following)
            if first >= last:
                continue
            interval = calendar.usage_interval if usage else calendar.interval
            for period in periods(calendar.anchor, interval, first, last):
                if index and period.start < calendar.start:  # a later calendar's first period
                    period = Period(calendar.start, period.end)
                found.append(period)
        return found

    # --- terms within a period ----------------------------------------------------------

    def segments(self, period: Period) -> list[Segment]:
        """The period cut at every change of terms, trial end and end of service; a period
        that a new calendar ends early (:meth:`service_end`) stops there."""
        end = self.service_end(period)
        cuts = {period.start, end}
        for terms in self.terms:
            for day in (terms.effective, terms.trial_end, terms.ends):
                if day is not None and period.start < day < end:
                    cuts.add(day)
        bounds = sorted(cuts)
        result: list[Segment] = []
        for start, end in pairwise(bounds):
            found = self.terms_on(start)
            if found is None:
                continue
            terms = found
            billable = terms.billable(start, self.start)
            if result and result[-1].terms == terms and result[-1].billable == billable:
                result[-1] = replace(result[-1], end=end)
            else:
                result.append(Segment(start, end, terms, billable))
        return result

    def changes_in(self, period: Period) -> list[tuple[Terms, Terms]]:
        """Consecutive (previous, new) versions whose change takes effect inside ``period``."""
        return [
            (previous, terms)
            for previous, terms in pairwise(self.terms)
            if terms.effective in period
        ]


_DAY = timedelta(days=1)


def _calendars_of(subscription: Subscription) -> tuple[Calendar, ...]:
    """The calendars the terms make: a new one on each day whose terms (the last version of
    the day: only it was ever in force) bill on other intervals than the calendar before."""
    sub = subscription

    def cycle(terms: Terms) -> tuple[Interval, Interval]:
        return terms.interval or sub.interval, terms.usage_interval or sub.usage_interval

    if not sub.terms:
        return (Calendar(sub.anchor, sub.anchor, sub.interval, sub.usage_interval),)
    last_of_day: dict[date, Terms] = {}
    for terms in sub.terms:
        last_of_day[terms.effective] = terms
    start = sub.terms[0].effective
    found = [Calendar(start, sub.anchor, *cycle(last_of_day[start]))]
    for day in sorted(last_of_day):
        interval, usage = cycle(last_of_day[day])
        before = found[-1]
        if day > start and (interval, usage) != (before.interval, before.usage_interval):
            kept = on_calendar(before.anchor, before.interval)
            anchor = calendar_anchor(day, interval) if kept else day
            found.append(Calendar(day, anchor, interval, usage))
    return tuple(found)


def new_subscription(
    *,
    subscription_id: str,
    customer_id: str,
    start: date,
    plan: tuple[str, int],
    interval: Interval,
    usage_interval: Interval,
    seats: int = 1,
    anchor: date | None = None,
    trial_end: date | None = None,
    ends: date | None = None,
    include_children: bool = False,
    renewal_date: date | None = None,
    coupons: Sequence[CouponUse] = (),
) -> Subscription:
    """Validate a new subscription (its first version of terms)."""
    validate_customer_id(subscription_id, "id")
    validate_customer_id(customer_id, "customer_id")
    _check_seats(seats)
    anchor = anchor or start  # an anchor after the start makes the first period partial
    if trial_end is not None and trial_end <= start:
        raise InvalidField("trial_end", "must be after the start")
    if ends is not None and ends <= start:
        raise InvalidField("ends", "must be after the start")
    first = Terms(
        1, start, Change.CREATED, plan[0], plan[1], seats, trial_end, ends, interval, usage_interval
    )
    return Subscription(
        id=subscription_id,
        customer_id=customer_id,
        anchor=anchor,
        interval=interval,
        usage_interval=usage_interval,
        terms=(first,),
        include_children=include_children,
        renewal_date=renewal_date,
        coupons=tuple(coupons),
    )


@dataclass(frozen=True, slots=True)
class Amendment:
    """A requested change: what changes and from which day. Unset fields stay as they are.
    A new plan comes with its intervals (``None``: the current ones)."""

    change: Change
    effective: date
    plan: tuple[str, int] | None = None
    seats: int | None = None
    trial_end: date | None = None
    ends: date | None = None
    interval: Interval | None = None
    usage_interval: Interval | None = None


def amend(subscription: Subscription, amendment: Amendment) -> Subscription:
    """The subscription with one more version of its terms."""
    current = subscription.current
    if amendment.effective < current.effective:
        raise InvalidField(
            "effective",
            f"must not be before the newest version's date ({current.effective.isoformat()})",
        )
    if (
        current.ends is not None
        and amendment.effective >= current.ends
        and amendment.change is not Change.RENEWAL
    ):
        raise InvalidField("effective", f"the subscription ends on {current.ends.isoformat()}")
    terms = replace(
        current, version=current.version + 1, effective=amendment.effective, change=amendment.change
    )
    match amendment.change:
        case Change.UPGRADE | Change.DOWNGRADE | Change.PLAN_CHANGE:
            if amendment.plan is None:
                raise InvalidField("plan", f"required for a {amendment.change.value}")
            if amendment.plan == current.plan:
                raise InvalidField("plan", "is the plan already in force")
            terms = replace(
                terms,
                plan_code=amendment.plan[0],
                plan_version=amendment.plan[1],
                interval=amendment.interval or terms.interval,
                usage_interval=amendment.usage_interval or terms.usage_interval,
            )
            if amendment.seats is not None:
                terms = replace(terms, seats=_check_seats(amendment.seats))
        case Change.SEAT_CHANGE:
            if amendment.seats is None:
                raise InvalidField("seats", "required for a seat change")
            terms = replace(terms, seats=_check_seats(amendment.seats))
        case Change.CANCEL:
            ends = amendment.ends or amendment.effective
            if ends < amendment.effective:
                raise InvalidField("ends", "must not be before the effective date")
            terms = replace(terms, ends=ends)
        case Change.TRIAL_CHANGE:
            if amendment.trial_end is None or amendment.trial_end <= subscription.start:
                raise InvalidField("trial_end", "required, and after the start")
            terms = replace(terms, trial_end=amendment.trial_end)
        case Change.RENEWAL:
            terms = replace(terms, ends=amendment.ends)
        case Change.CREATED:
            raise InvalidField("change", "a subscription is created once")
    return replace(subscription, terms=(*subscription.terms, terms))


def _check_seats(seats: int) -> int:
    if seats < 0:
        raise InvalidField("seats", "must not be negative")
    return seats
