"""Any history of accepted amendments bills, and bills what was in force day by day.

Hypothesis draws seat and plan changes, cancellations and renewals, and trials (several on one
day, on the first day of the subscription, on the last day of a month, back and forth between
plans); each accepted one is recorded on
its effective day and billing runs on the 4th of every month. For each month, the in-advance
fees billed for it (its advance invoice plus the prorations on its arrears invoice) must equal
an independent computation: the sum over the month's days of the fees of the terms in force
that day, divided by the days of the month — up to half a cent per line, since each line is
rounded once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from revsync.domain.errors import DomainError
from revsync.domain.invoicing import InvoiceKind
from tests.scenarios.harness import World
from tests.scenarios.test_amendments import BASIC, PREMIUM
from tests.scenarios.test_properties import fresh_world

#: (platform fee, price per seat) of each plan
FEES = {"basic": (Fraction(99), Fraction(10)), "premium": (Fraction(199), Fraction(15))}
START = date(2026, 11, 1)
MONTHS = [(date(2026, 11, 1), date(2026, 12, 1)), (date(2026, 12, 1), date(2027, 1, 1))]
MONTHS.append((date(2027, 1, 1), date(2027, 2, 1)))

amendment = st.one_of(
    st.tuples(st.just("seat_change"), st.integers(1, 40)),
    st.tuples(st.sampled_from(["upgrade", "downgrade", "plan_change"]), st.just(0)),
    # cancel (ends that day), renewal (ends no more), a trial until that many days later
    st.tuples(st.sampled_from(["cancel", "renewal"]), st.just(0)),
    st.tuples(st.just("trial_change"), st.integers(1, 20)),
)
# days from 1 November; 0 is the start day, 29 / 60 the last days of November / December
history = st.lists(
    st.tuples(st.sampled_from([0, 1, 14, 15, 29, 30, 31, 45, 60, 61, 75, 91]), amendment),
    max_size=7,
).map(sorted)


@dataclass(frozen=True)
class InForce:
    """The terms as the oracle follows them."""

    plan: str = "basic"
    seats: int = 5
    trial_end: date | None = None
    ends: date | None = None

    def fee_on(self, day: date) -> Fraction:
        if (self.trial_end is not None and day < self.trial_end) or (
            self.ends is not None and day >= self.ends
        ):
            return Fraction(0)
        platform, per_seat = FEES[self.plan]
        return platform + per_seat * self.seats


def amend(w: World, day: date, kind: str, n: int, now: InForce) -> InForce | None:
    """Record one amendment; the terms it sets, or None if revsync refused it."""
    other = "premium" if now.plan == "basic" else "basic"
    options: dict[str, object] = {}
    if kind == "seat_change":
        options, after = {"seats": n}, replace(now, seats=n)
    elif kind == "trial_change":
        end = day + timedelta(days=n)
        options, after = {"trial_end": end.isoformat()}, replace(now, trial_end=end)
    elif kind == "cancel":
        after = replace(now, ends=day)
    elif kind == "renewal":
        after = replace(now, ends=None)
    else:
        options, after = {"plan": other}, replace(now, plan=other)
    try:
        w.amend("s1", kind, day.isoformat(), **options)
    except DomainError:
        return None
    return after


def in_force(changes: list[tuple[date, InForce]], day: date) -> InForce:
    found = InForce()
    for effective, terms in changes:
        if effective <= day:
            found = terms
    return found


def expected_fees(changes: list[tuple[date, InForce]], start: date, end: date) -> Fraction:
    days = (end - start).days
    return sum(
        (
            in_force(changes, start + timedelta(days=n)).fee_on(start + timedelta(days=n)) / days
            for n in range(days)
        ),
        Fraction(0),
    )


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=history)
@example(steps=[(15, ("seat_change", 6)), (15, ("seat_change", 7))])
@example(steps=[(0, ("upgrade", 0)), (0, ("seat_change", 9)), (29, ("downgrade", 0))])
@example(steps=[(15, ("upgrade", 0)), (15, ("downgrade", 0)), (15, ("upgrade", 0))])
@example(steps=[(14, ("cancel", 0)), (45, ("renewal", 0))])
@example(steps=[(0, ("trial_change", 14)), (15, ("seat_change", 8))])
def test_any_accepted_history_bills_the_fees_in_force_day_by_day(
    sqlite_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
    steps: list[tuple[int, tuple[str, int]]],
) -> None:
    with fresh_world(sqlite_template, tmp_path_factory, plans=[BASIC, PREMIUM]) as w:
        w.customer("acme")
        w.subscribe("s1", "acme", "basic", START.isoformat(), seats=5)
        changes: list[tuple[date, InForce]] = []
        runs = iter([date(2026, 11, 4), date(2026, 12, 4), date(2027, 1, 4), date(2027, 2, 4)])
        next_run = next(runs)
        for index, (offset, (kind, seats)) in enumerate(steps):
            day = START + timedelta(days=offset)
            while next_run <= day:
                _bill(w, next_run)
                next_run = next(runs, date.max)
            w.at(f"{day.isoformat()}T09:{index:02d}:00Z")
            done = amend(w, day, kind, seats, in_force(changes, day))
            if done is not None:
                changes.append((day, done))
        while next_run != date.max:
            _bill(w, next_run)
            next_run = next(runs, date.max)
        invoices = w.raw_invoices("s1")
        for start, end in MONTHS:
            billed = [
                line
                for invoice in invoices
                if invoice.period.start == start and invoice.kind is not InvoiceKind.ADJUSTMENT
                for line in invoice.lines
                if not line.key.startswith("usage:")
            ]
            exact = expected_fees(changes, start, end)
            total = sum((line.amount for line in billed), Decimal(0))
            assert abs(Fraction(total) - exact) <= Fraction(len(billed), 200), (start, changes)


def _bill(w: World, day: date) -> None:
    w.at(f"{day.isoformat()}T00:00:00Z")
    report = w.bill(day.isoformat())
    assert report.errors == [], report.errors
