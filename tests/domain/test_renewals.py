"""Renewal assessments: the horizon a renewal is within, and each verdict with its reasons."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from revsync.domain.crm import MeterAdoption
from revsync.domain.renewals import (
    Milestone,
    MilestoneState,
    Payments,
    RenewalAssessment,
    Verdict,
    assess_renewal,
    horizon_of,
    milestone_state,
)
from revsync.domain.support import SupportLoad

TODAY = date(2026, 11, 27)
RENEWAL = date(2027, 1, 15)  # 49 days out: the 60-day horizon
HORIZONS = (90, 60, 30)
ON_TIME = Payments(invoices=6, dunned=1, overdue=0)


def calls(used: int, previous: int, included: int | None = 1000) -> MeterAdoption:
    entitlement = None if included is None else Decimal(included)
    return MeterAdoption("api_calls", Decimal(used), Decimal(previous), entitlement)


@pytest.mark.parametrize(
    ("days", "horizon"), [(91, None), (90, 90), (61, 90), (60, 60), (31, 60), (30, 30), (0, 30)]
)
def test_a_renewal_is_within_its_nearest_horizon(days: int, horizon: int | None) -> None:
    assert horizon_of(days, HORIZONS) == horizon
    assert horizon_of(-1, HORIZONS) is None  # passed


def assess(
    *adoption: MeterAdoption, payments: Payments = ON_TIME, load: SupportLoad | None = None
) -> RenewalAssessment:
    found = assess_renewal("acme", "s-acme", RENEWAL, TODAY, HORIZONS, adoption, payments, load)
    assert found is not None
    return found


def test_a_healthy_renewal_says_its_adoption_and_payments() -> None:
    assert assess(calls(650, 600)) == RenewalAssessment(
        "acme",
        "s-acme",
        RENEWAL,
        49,
        60,
        Verdict.HEALTHY,
        ("adoption: api_calls 650 of 1,000 (65%, flat)", "payments: 1 of 6 invoices dunned"),
    )


def test_usage_at_or_above_the_commitment_is_an_expansion() -> None:
    found = assess(calls(1000, 700))
    assert (found.verdict, found.reasons) == (
        Verdict.EXPANSION,
        (
            "above the commitment: api_calls 1,000 of 1,000 (100%, up)",
            "payments: 1 of 6 invoices dunned",
        ),
    )


@pytest.mark.parametrize(
    ("adoption", "payments", "load", "reasons"),
    [
        (
            [calls(1500, 1500)],
            Payments(6, 1, 1),
            None,
            ["payments: 1 of 6 invoices dunned, 1 overdue now"],
        ),
        ([calls(650, 600)], Payments(6, 3, 0), None, ["payments: 3 of 6 invoices dunned"]),
        (
            [calls(200, 300)],
            ON_TIME,
            None,
            [
                "adoption below 30% of the commitment: api_calls 200 of 1,000 (20%, down)",
                "usage falling: api_calls 200 of 1,000 (20%, down)",
            ],
        ),
        (
            [calls(650, 600)],
            ON_TIME,
            SupportLoad(5, 2, 9, 3),
            ["support: 5 tickets opened in 30 days (2 urgent or high), weight 9, rising from 3"],
        ),
    ],
)
def test_what_puts_a_renewal_at_risk_is_named(
    adoption: list[MeterAdoption], payments: Payments, load: SupportLoad | None, reasons: list[str]
) -> None:
    found = assess(*adoption, payments=payments, load=load)
    assert (found.verdict, list(found.reasons)) == (Verdict.AT_RISK, reasons)


def test_nothing_is_assessed_before_the_farthest_horizon() -> None:
    early = assess_renewal(
        "acme", "s-acme", date(2027, 3, 1), TODAY, HORIZONS, [calls(650, 600)], ON_TIME
    )
    assert early is None


SEATS = Milestone("five_seats", "active_users", Decimal(5), 14)
START = date(2026, 11, 1)


@pytest.mark.parametrize(
    ("today", "used", "state"),
    [
        (date(2026, 11, 3), Decimal(5), MilestoneState.REACHED),
        (date(2026, 11, 14), Decimal(4), None),  # its last day: it may still be reached
        (date(2026, 11, 15), Decimal(4), MilestoneState.MISSED),
        (date(2026, 11, 20), Decimal(9), MilestoneState.REACHED),  # the usage by its deadline
    ],
)
def test_a_milestone_is_reached_missed_or_still_open(
    today: date, used: Decimal, state: MilestoneState | None
) -> None:
    assert milestone_state(SEATS, START, today, used) == state
