"""Amendment scenarios: every kind of change of terms, prorated by day.

In-advance fees (a flat platform fee and a per-seat fee) are billed on the advance invoice of
each period on the terms in force when the period starts. A change during the period shows on
the arrears invoice of that period as "Unused time on" the old terms (negative) and "Remaining
time on" the new terms (positive), both from the change to the end of the recurring period,
prorated by day: ``amount × quantity × days / period days``, each line rounded once
(half-even). Usage before a plan change is rated on the old plan, after it on the new one.

Every expected figure is worked out by hand in the comments. November 2026 has 30 days,
December 31.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from revsync.domain.invoicing import InvoiceKind, invoice_id
from revsync.domain.periods import Period
from tests.scenarios.harness import Rendered, World, invoice


def tiers(free_up_to: str, price: str) -> list[dict[str, Any]]:
    return [
        {"up_to": free_up_to, "unit_amount": "0"},
        {"up_to": None, "unit_amount": price},
    ]


def fee(key: str, model: str, description: str, amount: str) -> dict[str, Any]:
    return {
        "key": key,
        "model": model,
        "description": description,
        "timing": "in_advance",
        "amount": amount,
    }


BASIC = {
    "code": "basic",
    "name": "Basic",
    "currency": "EUR",
    "interval": "month",
    "charges": [
        fee("platform", "flat", "Platform fee", "99.00"),
        fee("seats", "per_seat", "Seats", "10.00"),
        {
            "key": "calls",
            "model": "graduated",
            "description": "API calls",
            "meter": "api_calls",
            "tiers": tiers("1000", "0.012"),
        },
    ],
}

PREMIUM = {
    "code": "premium",
    "name": "Premium",
    "currency": "EUR",
    "interval": "month",
    "charges": [
        fee("platform", "flat", "Premium platform fee", "199.00"),
        fee("seats", "per_seat", "Premium seats", "15.00"),
        {
            "key": "calls",
            "model": "graduated",
            "description": "API calls",
            "meter": "api_calls",
            "tiers": tiers("2000", "0.008"),
        },
    ],
}

STARTER = {
    "code": "starter",
    "name": "Starter",
    "currency": "EUR",
    "interval": "month",
    "minimum": "60",
    "charges": [
        fee("platform", "flat", "Platform fee", "29.00"),
        {
            "key": "calls",
            "model": "per_unit",
            "description": "API calls",
            "meter": "api_calls",
            "amount": "0.002",
        },
    ],
}

GROWTH = {
    "code": "growth",
    "name": "Growth",
    "currency": "EUR",
    "interval": "month",
    "minimum": "90",
    "charges": [
        fee("platform", "flat", "Growth platform fee", "79.00"),
        {
            "key": "calls",
            "model": "allowance",
            "description": "API calls",
            "meter": "api_calls",
            "included": "1000",
            "amount": "0.01",
        },
    ],
}

NOV = "2026-11-01/2026-12-01"
DEC = "2026-12-01/2027-01-01"
JAN = "2027-01-01/2027-02-01"

#: the in-advance fees of Basic with five seats: 99.00 + 5 × 10.00
BASIC_5 = (
    ("fee:platform", "Platform fee", "1", "99.00", "99.00"),
    ("fee:seats", "Seats × 5", "5", "10.00", "50.00"),
)
#: the in-advance fees of Premium with five seats: 199.00 + 5 × 15.00
PREMIUM_5 = (
    ("fee:platform", "Premium platform fee", "1", "199.00", "199.00"),
    ("fee:seats", "Premium seats × 5", "5", "15.00", "75.00"),
)
NO_BASIC_USAGE = ("API calls — tier 1 (up to 1,000)", "0", "0", "0.00")
NO_PREMIUM_USAGE = ("API calls — tier 1 (up to 2,000)", "0", "0", "0.00")


def arrears_id(subscription_id: str, start: str, end: str) -> str:
    period = Period(date.fromisoformat(start), date.fromisoformat(end))
    return invoice_id(subscription_id, period, InvoiceKind.ARREARS)


def basic_world(world: Callable[..., World], *plans: dict[str, Any], seats: int = 5) -> World:
    """Acme on Basic from 1 November, the November advance invoice finalized (INV-000001)."""
    w = world(plans=[BASIC, PREMIUM, *plans], start="2026-11-01T08:00:00Z")
    w.customer("acme")
    w.subscribe("s1", "acme", "basic", "2026-11-01", seats=seats)
    w.at("2026-11-04T00:00:00Z").bill("2026-11-04")  # the grace period (72 h) has passed
    return w


# --- upgrade, downgrade, plan change ------------------------------------------------------


def test_upgrade_mid_period_prorates_the_flat_and_seat_fees(world: Callable[..., World]) -> None:
    w = basic_world(world)
    w.at("2026-11-10T12:00:00Z").usage("t-acme", "api.request", "2026-11-10T10:00:00Z", times=1200)
    w.at("2026-11-16T09:00:00Z").amend("s1", "upgrade", "2026-11-16", plan="premium")
    w.at("2026-11-20T12:00:00Z").usage("t-acme", "api.request", "2026-11-20T10:00:00Z", times=2500)
    w.at("2026-12-04T00:00:00Z").bill("2026-12-04")
    assert w.invoices("s1") == [
        invoice("advance", NOV, "INV-000001", BASIC_5, "149.00"),
        invoice(
            "arrears",
            NOV,
            "INV-000003",
            (
                # 1–15 November on Basic: 1,200 calls, 1,000 free, 200 × 0.012 = 2.40
                (
                    "usage:calls:2026-11-01:tier-1",
                    "API calls — tier 1 (up to 1,000)",
                    "1000",
                    "0",
                    "0.00",
                ),
                (
                    "usage:calls:2026-11-01:tier-2",
                    "API calls — tier 2 (above 1,000)",
                    "200",
                    "0.012",
                    "2.40",
                ),
                # 16–30 November on Premium: 2,500 calls, 2,000 free, 500 × 0.008 = 4.00
                (
                    "usage:calls:2026-11-16:tier-1",
                    "API calls — tier 1 (up to 2,000)",
                    "2000",
                    "0",
                    "0.00",
                ),
                (
                    "usage:calls:2026-11-16:tier-2",
                    "API calls — tier 2 (above 2,000)",
                    "500",
                    "0.008",
                    "4.00",
                ),
                (
                    "proration:2026-11-16:v1:platform",
                    "Unused time on Platform fee (prorated 15/30 days)",
                    "1",
                    "99.00",
                    "-49.50",
                ),
                # 15 of 30 days: 99.00 / 2 = 49.50, 50.00 / 2 = 25.00, 199.00 / 2 = 99.50,
                # 75.00 / 2 = 37.50
                (
                    "proration:2026-11-16:v1:seats",
                    "Unused time on Seats × 5 (prorated 15/30 days)",
                    "5",
                    "10.00",
                    "-25.00",
                ),
                (
                    "proration:2026-11-16:v2:platform",
                    "Remaining time on Premium platform fee (prorated 15/30 days)",
                    "1",
                    "199.00",
                    "99.50",
                ),
                (
                    "proration:2026-11-16:v2:seats",
                    "Remaining time on Premium seats × 5 (prorated 15/30 days)",
                    "5",
                    "15.00",
                    "37.50",
                ),
            ),
            # 2.40 + 4.00 − 49.50 − 25.00 + 99.50 + 37.50
            "68.90",
        ),
        invoice("advance", DEC, "INV-000002", PREMIUM_5, "274.00"),
    ]


def test_downgrade_worth_more_than_the_usage_makes_a_credit_note(
    world: Callable[..., World],
) -> None:
    w = world(plans=[BASIC, PREMIUM], start="2026-11-01T08:00:00Z")
    w.customer("acme")
    w.subscribe("s1", "acme", "premium", "2026-11-01", seats=2)
    w.at("2026-11-04T00:00:00Z").bill("2026-11-04")
    w.at("2026-11-05T12:00:00Z").usage("t-acme", "api.request", "2026-11-05T10:00:00Z", times=300)
    w.at("2026-11-21T09:00:00Z").amend("s1", "downgrade", "2026-11-21", plan="basic")
    w.at("2026-11-25T12:00:00Z").usage("t-acme", "api.request", "2026-11-25T10:00:00Z", times=1500)
    w.at("2026-12-04T00:00:00Z").bill("2026-12-04")
    assert w.invoices("s1") == [
        invoice(
            "advance",
            NOV,
            "INV-000001",
            (
                ("fee:platform", "Premium platform fee", "1", "199.00", "199.00"),
                ("fee:seats", "Premium seats × 2", "2", "15.00", "30.00"),
            ),
            "229.00",
        ),
        invoice(
            "arrears",
            NOV,
            # the total is negative: numbered in the credit-note series
            "CN-000001",
            (
                (
                    "usage:calls:2026-11-01:tier-1",
                    "API calls — tier 1 (up to 2,000)",
                    "300",
                    "0",
                    "0.00",
                ),
                (
                    "usage:calls:2026-11-21:tier-1",
                    "API calls — tier 1 (up to 1,000)",
                    "1000",
                    "0",
                    "0.00",
                ),
                (
                    "usage:calls:2026-11-21:tier-2",
                    "API calls — tier 2 (above 1,000)",
                    "500",
                    "0.012",
                    "6.00",
                ),
                (
                    "proration:2026-11-21:v1:platform",
                    "Unused time on Premium platform fee (prorated 10/30 days)",
                    "1",
                    "199.00",
                    "-66.33",
                ),
                # 10 of 30 days: 199.00 / 3 = 66.333 → 66.33; 30.00 / 3 = 10.00;
                # 99.00 / 3 = 33.00; 20.00 / 3 = 6.667 → 6.67
                (
                    "proration:2026-11-21:v1:seats",
                    "Unused time on Premium seats × 2 (prorated 10/30 days)",
                    "2",
                    "15.00",
                    "-10.00",
                ),
                (
                    "proration:2026-11-21:v2:platform",
                    "Remaining time on Platform fee (prorated 10/30 days)",
                    "1",
                    "99.00",
                    "33.00",
                ),
                (
                    "proration:2026-11-21:v2:seats",
                    "Remaining time on Seats × 2 (prorated 10/30 days)",
                    "2",
                    "10.00",
                    "6.67",
                ),
            ),
            # 6.00 − 66.33 − 10.00 + 33.00 + 6.67
            "-30.66",
        ),
        invoice(
            "advance",
            DEC,
            "INV-000002",
            (
                ("fee:platform", "Platform fee", "1", "99.00", "99.00"),
                ("fee:seats", "Seats × 2", "2", "10.00", "20.00"),
            ),
            "119.00",
        ),
    ]


def test_plan_change_rates_usage_per_stretch_with_a_prorated_minimum(
    world: Callable[..., World],
) -> None:
    w = world(plans=[STARTER, GROWTH], start="2026-11-01T08:00:00Z")
    w.customer("acme")
    w.subscribe("s1", "acme", "starter", "2026-11-01")
    w.at("2026-11-04T00:00:00Z").bill("2026-11-04")
    # the last instant on Starter, then the first on Growth
    w.at("2026-11-10T12:00:00Z").usage("t-acme", "api.request", "2026-11-10T23:59:59Z", times=1000)
    w.amend("s1", "plan_change", "2026-11-11", plan="growth")
    w.at("2026-11-11T12:00:00Z").usage("t-acme", "api.request", "2026-11-11T00:00:00Z", times=2500)
    w.at("2026-12-04T00:00:00Z").bill("2026-12-04")
    assert w.invoices("s1") == [
        invoice(
            "advance",
            NOV,
            "INV-000001",
            (("fee:platform", "Platform fee", "1", "29.00", "29.00"),),
            "29.00",
        ),
        invoice(
            "arrears",
            NOV,
            "INV-000003",
            (
                # 1–10 November on Starter: 1,000 × 0.002 = 2.00; minimum 60 × 10/30 = 20.00,
                # shortfall 18.00
                ("usage:calls:2026-11-01", "API calls", "1000", "0.002", "2.00"),
                (
                    "minimum:2026-11-01",
                    "Minimum commitment of 60 — shortfall (prorated 10/30 days)",
                    "1",
                    "18.00",
                    "18.00",
                ),
                # 11–30 November on Growth: the whole allowance of 1,000 applies to the stretch,
                # 1,500 × 0.01 = 15.00; minimum 90 × 20/30 = 60.00, shortfall 45.00
                (
                    "usage:calls:2026-11-11:included",
                    "API calls — 1,000 included",
                    "1000",
                    "0",
                    "0.00",
                ),
                (
                    "usage:calls:2026-11-11:overage",
                    "API calls — overage above 1,000 included",
                    "1500",
                    "0.01",
                    "15.00",
                ),
                (
                    "minimum:2026-11-11",
                    "Minimum commitment of 90 — shortfall (prorated 20/30 days)",
                    "1",
                    "45.00",
                    "45.00",
                ),
                (
                    "proration:2026-11-11:v1:platform",
                    "Unused time on Platform fee (prorated 20/30 days)",
                    "1",
                    "29.00",
                    "-19.33",
                ),
                (
                    "proration:2026-11-11:v2:platform",
                    "Remaining time on Growth platform fee (prorated 20/30 days)",
                    "1",
                    "79.00",
                    "52.67",
                ),
                # 20 of 30 days: 29.00 × 2/3 = 19.333 → 19.33; 79.00 × 2/3 = 52.667 → 52.67
            ),
            # 2.00 + 18.00 + 15.00 + 45.00 − 19.33 + 52.67
            "113.34",
        ),
        invoice(
            "advance",
            DEC,
            "INV-000002",
            (("fee:platform", "Growth platform fee", "1", "79.00", "79.00"),),
            "79.00",
        ),
    ]


# --- seats ---------------------------------------------------------------------------------


def test_seat_changes_up_then_down_in_one_period(world: Callable[..., World]) -> None:
    w = basic_world(world)
    w.at("2026-11-11T09:00:00Z").amend("s1", "seat_change", "2026-11-11", seats=8)
    w.at("2026-11-24T09:00:00Z").amend("s1", "seat_change", "2026-11-24", seats=2)
    w.at("2026-12-04T00:00:00Z").bill("2026-12-04")
    assert w.invoices("s1") == [
        invoice("advance", NOV, "INV-000001", BASIC_5, "149.00"),
        invoice(
            "arrears",
            NOV,
            "INV-000003",
            (
                ("usage:calls:2026-11-01:tier-1", *NO_BASIC_USAGE),
                # 5 → 8 seats on 11 November, 20 of 30 days left:
                # 99.00 × 2/3 = 66.00; 50.00 × 2/3 = 33.333 → 33.33; 80.00 × 2/3 = 53.333 → 53.33
                (
                    "proration:2026-11-11:v1:seats",
                    "Unused time on Seats × 5 (prorated 20/30 days)",
                    "5",
                    "10.00",
                    "-33.33",
                ),
                (
                    "proration:2026-11-11:v2:seats",
                    "Remaining time on Seats × 8 (prorated 20/30 days)",
                    "8",
                    "10.00",
                    "53.33",
                ),
                # 8 → 2 seats on 24 November, 7 of 30 days left:
                # 99.00 × 7/30 = 23.10; 80.00 × 7/30 = 18.667 → 18.67; 20.00 × 7/30 = 4.667 → 4.67
                (
                    "proration:2026-11-24:v2:seats",
                    "Unused time on Seats × 8 (prorated 7/30 days)",
                    "8",
                    "10.00",
                    "-18.67",
                ),
                (
                    "proration:2026-11-24:v3:seats",
                    "Remaining time on Seats × 2 (prorated 7/30 days)",
                    "2",
                    "10.00",
                    "4.67",
                ),
            ),
            # (53.33 − 33.33) + (4.67 − 18.67)
            "6.00",
        ),
        invoice(
            "advance",
            DEC,
            "INV-000002",
            (
                ("fee:platform", "Platform fee", "1", "99.00", "99.00"),
                ("fee:seats", "Seats × 2", "2", "10.00", "20.00"),
            ),
            "119.00",
        ),
    ]


def test_two_seat_changes_effective_the_same_day_prorate_once(
    world: Callable[..., World],
) -> None:
    """5 → 6 → 7 seats, both changes effective 16 November: 6 seats were never in force for a
    day, so the period shows one change, 5 → 7 (this history stopped every billing run)."""
    w = basic_world(world)
    w.at("2026-11-16T09:00:00Z").amend("s1", "seat_change", "2026-11-16", seats=6)
    w.at("2026-11-16T09:05:00Z").amend("s1", "seat_change", "2026-11-16", seats=7)
    w.at("2026-12-04T00:00:00Z").bill("2026-12-04")
    assert w.invoices("s1") == [
        invoice("advance", NOV, "INV-000001", BASIC_5, "149.00"),
        invoice(
            "arrears",
            NOV,
            "INV-000003",
            (
                ("usage:calls:2026-11-01:tier-1", *NO_BASIC_USAGE),
                # 15 of 30 days left: 50.00 / 2 = 25.00 back, 70.00 / 2 = 35.00 on
                (
                    "proration:2026-11-16:v1:seats",
                    "Unused time on Seats × 5 (prorated 15/30 days)",
                    "5",
                    "10.00",
                    "-25.00",
                ),
                (
                    "proration:2026-11-16:v3:seats",
                    "Remaining time on Seats × 7 (prorated 15/30 days)",
                    "7",
                    "10.00",
                    "35.00",
                ),
            ),
            "10.00",
        ),
        invoice(
            "advance",
            DEC,
            "INV-000002",
            (
                ("fee:platform", "Platform fee", "1", "99.00", "99.00"),
                ("fee:seats", "Seats × 7", "7", "10.00", "70.00"),
            ),
            "169.00",
        ),
    ]


# --- cancellation and renewal ------------------------------------------------------------


def test_cancel_mid_period_the_final_invoice_is_a_credit_note(
    world: Callable[..., World],
) -> None:
    w = basic_world(world)
    w.at("2026-11-10T12:00:00Z").usage("t-acme", "api.request", "2026-11-10T10:00:00Z", times=1100)
    w.at("2026-11-14T09:00:00Z").amend("s1", "cancel", "2026-11-16")
    # usage after the end of service is not billed
    w.at("2026-11-20T12:00:00Z").usage("t-acme", "api.request", "2026-11-20T10:00:00Z", times=500)
    # the final invoice is issued when service ends (16 November) and finalized 72 h later
    w.at("2026-11-19T00:00:00Z").bill("2026-11-19")
    expected = [
        invoice("advance", NOV, "INV-000001", BASIC_5, "149.00"),
        invoice(
            "arrears",
            NOV,
            "CN-000001",
            (
                (
                    "usage:calls:2026-11-01:tier-1",
                    "API calls — tier 1 (up to 1,000)",
                    "1000",
                    "0",
                    "0.00",
                ),
                (
                    "usage:calls:2026-11-01:tier-2",
                    "API calls — tier 2 (above 1,000)",
                    "100",
                    "0.012",
                    "1.20",
                ),
                (
                    "proration:2026-11-16:v1:platform",
                    "Unused time on Platform fee (prorated 15/30 days)",
                    "1",
                    "99.00",
                    "-49.50",
                ),
                # 15 of 30 days unused: 99.00 / 2 = 49.50, 50.00 / 2 = 25.00; nothing remains
                (
                    "proration:2026-11-16:v1:seats",
                    "Unused time on Seats × 5 (prorated 15/30 days)",
                    "5",
                    "10.00",
                    "-25.00",
                ),
            ),
            # 1.20 − 49.50 − 25.00
            "-73.30",
        ),
    ]
    assert w.invoices("s1") == expected
    w.at("2027-01-04T00:00:00Z")
    report = w.bill("2027-01-04")
    assert (report.created, report.finalized) == ([], [])
    assert w.invoices("s1") == expected


def test_cancel_at_the_end_of_the_period_credits_nothing(world: Callable[..., World]) -> None:
    w = basic_world(world)
    w.at("2026-11-20T09:00:00Z").amend("s1", "cancel", "2026-11-20", ends="2026-12-01")
    w.at("2027-01-04T00:00:00Z").bill("2027-01-04")
    # the unused and remaining time from 20 November are the same 11 days: no proration
    assert w.invoices("s1") == [
        invoice("advance", NOV, "INV-000001", BASIC_5, "149.00"),
        invoice(
            "arrears",
            NOV,
            "INV-000002",
            (("usage:calls:2026-11-01:tier-1", *NO_BASIC_USAGE),),
            "0.00",
        ),
    ]


def test_renewal_extends_the_service(world: Callable[..., World]) -> None:
    w = world(plans=[BASIC], start="2026-11-01T08:00:00Z")
    w.customer("acme")
    w.subscribe("s1", "acme", "basic", "2026-11-01", seats=1, ends="2026-12-16")
    w.at("2026-11-04T00:00:00Z").bill("2026-11-04")
    # renewed on 20 November, before December is invoiced, until 16 January
    w.at("2026-11-20T09:00:00Z").amend("s1", "renewal", "2026-11-20", ends="2027-01-16")
    w.at("2027-02-04T00:00:00Z").bill("2027-02-04")
    full = (
        ("fee:platform", "Platform fee", "1", "99.00", "99.00"),
        ("fee:seats", "Seats × 1", "1", "10.00", "10.00"),
    )
    assert w.invoices("s1") == [
        invoice("advance", NOV, "INV-000001", full, "109.00"),
        # the renewal changes nothing in November: no proration
        invoice(
            "arrears",
            NOV,
            "INV-000003",
            (("usage:calls:2026-11-01:tier-1", *NO_BASIC_USAGE),),
            "0.00",
        ),
        # December is a whole month now
        invoice("advance", DEC, "INV-000002", full, "109.00"),
        invoice(
            "arrears",
            DEC,
            "INV-000005",
            (("usage:calls:2026-12-01:tier-1", *NO_BASIC_USAGE),),
            "0.00",
        ),
        invoice(
            "advance",
            JAN,
            "INV-000004",
            (
                # service ends on 16 January: 15 of 31 days, 99.00 × 15/31 = 47.903 → 47.90,
                # 10.00 × 15/31 = 4.839 → 4.84
                ("fee:platform", "Platform fee (prorated 15/31 days)", "1", "99.00", "47.90"),
                ("fee:seats", "Seats × 1 (prorated 15/31 days)", "1", "10.00", "4.84"),
            ),
            "52.74",
        ),
        # issued when service ends, 16 January; nothing after it
        invoice(
            "arrears",
            JAN,
            "INV-000006",
            (("usage:calls:2027-01-01:tier-1", *NO_BASIC_USAGE),),
            "0.00",
        ),
    ]


# --- trials --------------------------------------------------------------------------------


def test_trial_days_are_not_charged_and_trial_usage_is_free(world: Callable[..., World]) -> None:
    w = world(plans=[BASIC], start="2026-11-01T08:00:00Z")
    w.customer("acme")
    w.subscribe("s1", "acme", "basic", "2026-11-01", seats=5, trial_end="2026-11-11")
    w.at("2026-11-05T12:00:00Z").usage("t-acme", "api.request", "2026-11-05T10:00:00Z", times=800)
    w.at("2026-11-20T12:00:00Z").usage("t-acme", "api.request", "2026-11-20T10:00:00Z", times=1300)
    w.at("2026-12-04T00:00:00Z").bill("2026-12-04")
    assert w.invoices("s1") == [
        invoice(
            "advance",
            NOV,
            "INV-000001",
            (
                # 20 billable days of 30: 99.00 × 2/3 = 66.00; 50.00 × 2/3 = 33.333 → 33.33
                ("fee:platform", "Platform fee (prorated 20/30 days)", "1", "99.00", "66.00"),
                ("fee:seats", "Seats × 5 (prorated 20/30 days)", "5", "10.00", "33.33"),
            ),
            "99.33",
        ),
        invoice(
            "arrears",
            NOV,
            "INV-000003",
            (
                # the 800 calls of the trial are free and do not fill the free tier
                (
                    "usage:calls:2026-11-11:tier-1",
                    "API calls — tier 1 (up to 1,000)",
                    "1000",
                    "0",
                    "0.00",
                ),
                (
                    "usage:calls:2026-11-11:tier-2",
                    "API calls — tier 2 (above 1,000)",
                    "300",
                    "0.012",
                    "3.60",
                ),
            ),
            "3.60",
        ),
        invoice("advance", DEC, "INV-000002", BASIC_5, "149.00"),
    ]


def test_trial_extended_after_the_advance_invoice_credits_the_extra_days(
    world: Callable[..., World],
) -> None:
    w = world(plans=[BASIC], start="2026-11-01T08:00:00Z")
    w.customer("acme")
    w.subscribe("s1", "acme", "basic", "2026-11-01", seats=5, trial_end="2026-11-11")
    w.at("2026-11-04T00:00:00Z").bill("2026-11-04")  # the advance invoice is finalized
    w.at("2026-11-05T09:00:00Z").amend("s1", "trial_change", "2026-11-05", trial_end="2026-11-21")
    w.at("2026-11-15T12:00:00Z").usage("t-acme", "api.request", "2026-11-15T10:00:00Z", times=700)
    w.at("2026-11-25T12:00:00Z").usage("t-acme", "api.request", "2026-11-25T10:00:00Z", times=1200)
    w.at("2026-12-04T00:00:00Z").bill("2026-12-04")
    assert w.invoices("s1") == [
        invoice(
            "advance",
            NOV,
            "INV-000001",
            (
                ("fee:platform", "Platform fee (prorated 20/30 days)", "1", "99.00", "66.00"),
                ("fee:seats", "Seats × 5 (prorated 20/30 days)", "5", "10.00", "33.33"),
            ),
            "99.33",
        ),
        invoice(
            "arrears",
            NOV,
            "CN-000001",
            (
                # usage from 21 November only
                (
                    "usage:calls:2026-11-21:tier-1",
                    "API calls — tier 1 (up to 1,000)",
                    "1000",
                    "0",
                    "0.00",
                ),
                (
                    "usage:calls:2026-11-21:tier-2",
                    "API calls — tier 2 (above 1,000)",
                    "200",
                    "0.012",
                    "2.40",
                ),
                (
                    "proration:2026-11-05:v1:platform",
                    "Unused time on Platform fee (prorated 20/30 days)",
                    "1",
                    "99.00",
                    "-66.00",
                ),
                # from 5 November: 20 billable days were charged (11–30), 10 remain (21–30)
                (
                    "proration:2026-11-05:v1:seats",
                    "Unused time on Seats × 5 (prorated 20/30 days)",
                    "5",
                    "10.00",
                    "-33.33",
                ),
                (
                    "proration:2026-11-05:v2:platform",
                    "Remaining time on Platform fee (prorated 10/30 days)",
                    "1",
                    "99.00",
                    "33.00",
                ),
                (
                    "proration:2026-11-05:v2:seats",
                    "Remaining time on Seats × 5 (prorated 10/30 days)",
                    "5",
                    "10.00",
                    "16.67",
                ),
            ),
            # 2.40 − 66.00 − 33.33 + 33.00 + 16.67: the ten extra trial days (49.66) credited
            "-47.26",
        ),
        invoice("advance", DEC, "INV-000002", BASIC_5, "149.00"),
    ]


# --- when the change is recorded --------------------------------------------------------


def test_change_on_the_first_day_recorded_after_the_advance_invoice_was_finalized(
    world: Callable[..., World],
) -> None:
    w = basic_world(world)
    w.at("2026-12-04T00:00:00Z").bill("2026-12-04")  # December's advance invoice: Basic
    w.at("2026-12-05T09:00:00Z").amend("s1", "upgrade", "2026-12-01", plan="premium")
    w.at("2026-12-10T12:00:00Z").usage("t-acme", "api.request", "2026-12-10T10:00:00Z", times=2100)
    w.at("2027-01-04T00:00:00Z").bill("2027-01-04")
    assert w.invoices("s1") == [
        invoice("advance", NOV, "INV-000001", BASIC_5, "149.00"),
        invoice(
            "arrears",
            NOV,
            "INV-000003",
            (("usage:calls:2026-11-01:tier-1", *NO_BASIC_USAGE),),
            "0.00",
        ),
        invoice("advance", DEC, "INV-000002", BASIC_5, "149.00"),
        invoice(
            "arrears",
            DEC,
            "INV-000005",
            (
                # the whole of December on Premium
                (
                    "usage:calls:2026-12-01:tier-1",
                    "API calls — tier 1 (up to 2,000)",
                    "2000",
                    "0",
                    "0.00",
                ),
                (
                    "usage:calls:2026-12-01:tier-2",
                    "API calls — tier 2 (above 2,000)",
                    "100",
                    "0.008",
                    "0.80",
                ),
                (
                    "proration:2026-12-01:v1:platform",
                    "Unused time on Platform fee",
                    "1",
                    "99.00",
                    "-99.00",
                ),
                # one pair of prorations at the period start, for all 31 days
                (
                    "proration:2026-12-01:v1:seats",
                    "Unused time on Seats × 5",
                    "5",
                    "10.00",
                    "-50.00",
                ),
                (
                    "proration:2026-12-01:v2:platform",
                    "Remaining time on Premium platform fee",
                    "1",
                    "199.00",
                    "199.00",
                ),
                (
                    "proration:2026-12-01:v2:seats",
                    "Remaining time on Premium seats × 5",
                    "5",
                    "15.00",
                    "75.00",
                ),
            ),
            # 0.80 − 149.00 + 274.00
            "125.80",
        ),
        invoice("advance", JAN, "INV-000004", PREMIUM_5, "274.00"),
    ]


def test_change_on_the_first_day_recorded_before_the_advance_invoice_is_final(
    world: Callable[..., World],
) -> None:
    w = basic_world(world)
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")  # December's advance: a draft on Basic
    w.at("2026-12-02T09:00:00Z").amend("s1", "upgrade", "2026-12-01", plan="premium")
    december = invoice_id("s1", Period(date(2026, 12, 1), date(2027, 1, 1)), InvoiceKind.ADVANCE)
    assert december in w.bill("2026-12-02").updated  # the draft is simply rated again
    w.at("2026-12-04T00:00:00Z").bill("2026-12-04")
    w.at("2027-01-04T00:00:00Z").bill("2027-01-04")
    assert w.invoices("s1") == [
        invoice("advance", NOV, "INV-000001", BASIC_5, "149.00"),
        invoice(
            "arrears",
            NOV,
            "INV-000003",
            (("usage:calls:2026-11-01:tier-1", *NO_BASIC_USAGE),),
            "0.00",
        ),
        invoice("advance", DEC, "INV-000002", PREMIUM_5, "274.00"),
        # no proration: the advance invoice was rated on Premium
        invoice(
            "arrears",
            DEC,
            "INV-000005",
            (("usage:calls:2026-12-01:tier-1", *NO_PREMIUM_USAGE),),
            "0.00",
        ),
        invoice("advance", JAN, "INV-000004", PREMIUM_5, "274.00"),
    ]


def _backdated_seat_change_expectation() -> list[Rendered]:
    """Acme on Basic with 5 seats; on 10 December, seats go to 10 from 16 November."""
    november = arrears_id("s1", "2026-11-01", "2026-12-01")
    ten_seats = (
        ("fee:platform", "Platform fee", "1", "99.00", "99.00"),
        ("fee:seats", "Seats × 10", "10", "10.00", "100.00"),
    )
    return [
        invoice("advance", NOV, "INV-000001", BASIC_5, "149.00"),
        # finalized on 4 December: it never changes
        invoice(
            "arrears",
            NOV,
            "INV-000003",
            (("usage:calls:2026-11-01:tier-1", *NO_BASIC_USAGE),),
            "0.00",
        ),
        invoice("advance", DEC, "INV-000002", BASIC_5, "149.00"),
        invoice(
            "arrears",
            DEC,
            "INV-000005",
            (
                ("usage:calls:2026-12-01:tier-1", *NO_BASIC_USAGE),
                # December's advance invoice was finalized on 5 seats: all 31 days change
                (
                    "proration:2026-12-01:v1:seats",
                    "Unused time on Seats × 5",
                    "5",
                    "10.00",
                    "-50.00",
                ),
                (
                    "proration:2026-12-01:v2:seats",
                    "Remaining time on Seats × 10",
                    "10",
                    "10.00",
                    "100.00",
                ),
                # November's prorations, missing from its finalized invoice: 15 of 30 days
                (
                    f"adjustment:{november}:proration:2026-11-16:v1:seats",
                    "Adjustment: Unused time on Seats × 5 (prorated 15/30 days)",
                    "5",
                    "10.00",
                    "-25.00",
                ),
                (
                    f"adjustment:{november}:proration:2026-11-16:v2:seats",
                    "Adjustment: Remaining time on Seats × 10 (prorated 15/30 days)",
                    "10",
                    "10.00",
                    "50.00",
                ),
            ),
            # December 50.00 (5 more seats × 10.00), November 25.00 (5 seats × 10.00 × 15/30)
            "75.00",
        ),
        invoice("advance", JAN, "INV-000004", ten_seats, "199.00"),
    ]


def test_backdated_amendment_adjusts_the_finalized_period_on_the_next_invoice(
    world: Callable[..., World],
) -> None:
    w = basic_world(world)
    w.at("2026-12-04T00:00:00Z").bill("2026-12-04")
    w.at("2026-12-10T09:00:00Z").amend("s1", "seat_change", "2026-11-16", seats=10)
    w.at("2027-01-04T00:00:00Z").bill("2027-01-04")
    assert w.invoices("s1") == _backdated_seat_change_expectation()
    w.at("2027-02-04T00:00:00Z").bill("2027-02-04")
    [january] = [i for i in w.invoices("s1") if (i.kind, i.period) == ("arrears", JAN)]
    assert (january.kind, january.period, january.number) == ("arrears", JAN, "INV-000007")
    assert [line[0] for line in january.lines] == ["usage:calls:2027-01-01:tier-1"]  # once only


def test_backdated_amendment_is_not_lost_by_runs_before_the_next_invoice(
    world: Callable[..., World],
) -> None:
    """Billing runs daily: the runs between the amendment and the next arrears invoice (which
    find nothing due to put the adjustment on) must not drop it."""
    w = basic_world(world)
    w.at("2026-12-04T00:00:00Z").bill("2026-12-04")
    w.at("2026-12-10T09:00:00Z").amend("s1", "seat_change", "2026-11-16", seats=10)
    for day in ("2026-12-10", "2026-12-11", "2027-01-01", "2027-01-02", "2027-01-04"):
        w.at(f"{day}T12:00:00Z").bill(day)
    assert w.invoices("s1") == _backdated_seat_change_expectation()


def test_a_minimum_prorated_over_a_31_day_month_shows_its_rounded_amount(
    world: Callable[..., World],
) -> None:
    """A shortfall line has quantity 1 and a unit amount equal to its amount: 10/31 of a
    minimum is not a whole number of cents, and the invoice must not show 60 digits."""
    w = world(plans=[STARTER, GROWTH], start="2026-12-01T08:00:00Z")
    w.customer("acme")
    w.subscribe("s1", "acme", "starter", "2026-12-01")
    w.at("2026-12-05T12:00:00Z").usage("t-acme", "api.request", "2026-12-05T10:00:00Z", times=100)
    w.amend("s1", "plan_change", "2026-12-11", plan="growth")
    w.at("2027-01-04T00:00:00Z").bill("2027-01-04")
    assert w.invoices("s1") == [
        invoice(
            "advance",
            DEC,
            "INV-000001",
            (("fee:platform", "Platform fee", "1", "29.00", "29.00"),),
            "29.00",
        ),
        invoice(
            "arrears",
            DEC,
            "INV-000003",
            (
                # 1–10 December: 100 × 0.002 = 0.20; 60 × 10/31 = 19.354… − 0.20 → 19.15
                ("usage:calls:2026-12-01", "API calls", "100", "0.002", "0.20"),
                (
                    "minimum:2026-12-01",
                    "Minimum commitment of 60 — shortfall (prorated 10/31 days)",
                    "1",
                    "19.15",
                    "19.15",
                ),
                # 11–31 December: no usage; 90 × 21/31 = 60.967… → 60.97
                ("usage:calls:2026-12-11:included", "API calls — 1,000 included", "0", "0", "0.00"),
                (
                    "usage:calls:2026-12-11:overage",
                    "API calls — overage above 1,000 included",
                    "0",
                    "0.01",
                    "0.00",
                ),
                (
                    "minimum:2026-12-11",
                    "Minimum commitment of 90 — shortfall (prorated 21/31 days)",
                    "1",
                    "60.97",
                    "60.97",
                ),
                (
                    "proration:2026-12-11:v1:platform",
                    "Unused time on Platform fee (prorated 21/31 days)",
                    "1",
                    "29.00",
                    "-19.65",
                ),
                (
                    "proration:2026-12-11:v2:platform",
                    "Remaining time on Growth platform fee (prorated 21/31 days)",
                    "1",
                    "79.00",
                    "53.52",
                ),
                # 21 of 31 days: 29.00 × 21/31 = 19.645… → 19.65; 79.00 × 21/31 = 53.516… → 53.52
            ),
            # 0.20 + 19.15 + 60.97 − 19.65 + 53.52
            "114.19",
        ),
        invoice(
            "advance",
            JAN,
            "INV-000002",
            (("fee:platform", "Growth platform fee", "1", "79.00", "79.00"),),
            "79.00",
        ),
    ]
