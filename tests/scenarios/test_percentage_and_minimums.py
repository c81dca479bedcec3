"""Billing scenarios: a percentage of each transaction, a charge's own minimum, and a plan
minimum that counts the recurring fees — through real billing runs, with the full invoices.

Every figure is worked out by hand from docs/billing.md. The customer ``acme`` (EUR, UTC,
tenant ``t-acme``, no tax) subscribes on 2026-11-01 to a monthly plan; the run of 1 December
(no grace) bills November.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tests.conftest import TEST_METERS
from tests.scenarios.harness import World, invoice

NO_GRACE = {"grace_period_hours": 0}
NOV = "2026-11-01/2026-12-01"
#: a sum of the captured payments' amounts
PAYMENTS = {
    "key": "paid",
    "event_type": "payment.captured",
    "aggregation": "sum",
    "value": "amount",
}


def plan(code: str, *charges: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "code": code,
        "name": code.title(),
        "currency": "EUR",
        "interval": "month",
        "charges": list(charges),
        **extra,
    }


def calls(**fields: Any) -> dict[str, Any]:
    return {
        "key": "calls",
        "model": "per_unit",
        "description": "API calls",
        "meter": "api_calls",
        "amount": "0.01",
        **fields,
    }


def test_a_percentage_of_each_transaction_with_a_free_one_and_bounds(
    world: Callable[..., World],
) -> None:
    cards = {
        "key": "cards",
        "model": "percentage",
        "description": "Card payments",
        "meter": "paid",
        "rate": "2.9",
        "fixed_amount": "0.30",
        "free_transactions": 1,
        "min_per_transaction": "0.50",
        "max_per_transaction": "5.00",
    }
    w = world(
        plans=[plan("payments", cards)],
        meters=[*TEST_METERS, PAYMENTS],
        start="2026-11-01T08:00:00Z",
        billing=NO_GRACE,
    )
    w.customer("acme")
    w.subscribe("s1", "acme", "payments", "2026-11-01")
    # sent out of order: the time they happened decides which one is free
    for when, amount in (
        ("2026-11-20T10:00:00Z", "500.00"),
        ("2026-11-02T10:00:00Z", "80.00"),
        ("2026-11-10T10:00:00Z", "100.00"),
        ("2026-11-05T10:00:00Z", "5.00"),
        ("2026-12-01T00:30:00Z", "1000.00"),  # December's
    ):
        w.at("2026-12-01T01:00:00Z").usage(
            "t-acme", "payment.captured", when, {"amount": Decimal(amount)}
        )
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    # 80.00 (2 Nov) free; 5.00 → 0.145 + 0.30 = 0.445 → raised to 0.50; 100.00 → 2.90 + 0.30 =
    # 3.20; 500.00 → 14.50 + 0.30 = 14.80 → held to 5.00: 0.50 + 3.20 + 5.00 = 8.70
    assert w.invoices("s1") == [
        invoice(
            "arrears",
            NOV,
            "INV-000001",
            (
                (
                    "usage:cards:2026-11-01:free",
                    "Card payments — free: the first transaction",
                    "80.00",
                    "0",
                    "0.00",
                ),
                (
                    "usage:cards:2026-11-01:fees",
                    "Card payments — 2.9% of 605 + 0.3 × 3 transactions, 1 raised to the "
                    "minimum of 0.5, 1 held to the maximum of 5",
                    "605.00",
                    "0.029",
                    "8.70",
                ),
            ),
            "8.70",
        )
    ]


def test_a_charges_minimum_then_the_plans(world: Callable[..., World]) -> None:
    w = world(
        plans=[plan("floor", calls(minimum="30"), minimum="50")],
        start="2026-11-01T08:00:00Z",
        billing=NO_GRACE,
    )
    w.customer("acme")
    w.subscribe("s1", "acme", "floor", "2026-11-01")
    w.at("2026-11-20T12:00:00Z").usage("t-acme", "api.request", "2026-11-20T11:00:00Z", times=1250)
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    # 1,250 × 0.01 = 12.50, topped up to the charge's 30 (17.50); the plan's 50 counts the 30:
    # 20.00 more
    assert w.invoices("s1") == [
        invoice(
            "arrears",
            NOV,
            "INV-000001",
            (
                ("usage:calls:2026-11-01", "API calls", "1250", "0.01", "12.50"),
                (
                    "usage:calls:2026-11-01:minimum",
                    "API calls — minimum of 30, shortfall",
                    "1",
                    "17.50",
                    "17.50",
                ),
                (
                    "minimum:2026-11-01",
                    "Minimum commitment of 50 — shortfall",
                    "1",
                    "20.00",
                    "20.00",
                ),
            ),
            "50.00",
        )
    ]


def test_a_plan_minimum_that_counts_the_fees_of_each_day(world: Callable[..., World]) -> None:
    fees = [
        {
            "key": "platform",
            "model": "flat",
            "description": "Platform fee",
            "timing": "in_advance",
            "amount": "100.00",
        },
        {
            "key": "seats",
            "model": "per_seat",
            "description": "Seats",
            "timing": "in_advance",
            "amount": "10.00",
        },
    ]
    w = world(
        plans=[plan("committed", *fees, calls(), minimum="300", minimum_includes_fees=True)],
        start="2026-11-01T08:00:00Z",
        billing=NO_GRACE,
    )
    w.customer("acme")
    w.subscribe("s1", "acme", "committed", "2026-11-01", seats=2)
    w.at("2026-11-01T09:00:00Z").bill("2026-11-01")
    w.at("2026-11-16T09:00:00Z").amend("s1", "seat_change", "2026-11-16", seats=5)
    w.at("2026-11-20T12:00:00Z").usage("t-acme", "api.request", "2026-11-20T11:00:00Z", times=5000)
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    [november, arrears, december] = w.invoices("s1")
    assert november == invoice(
        "advance",
        NOV,
        "INV-000001",
        (
            ("fee:platform", "Platform fee", "1", "100.00", "100.00"),
            ("fee:seats", "Seats × 2", "2", "10.00", "20.00"),
        ),
        "120.00",
    )
    # fees of November's days: 100.00 + 2 seats × 10.00 × 15/30 (10.00) + 5 × 10.00 × 15/30
    # (25.00) = 135.00; usage 5,000 × 0.01 = 50.00; 300 − 185.00 = 115.00
    assert arrears == invoice(
        "arrears",
        NOV,
        "INV-000003",  # after December's advance invoice, issued the same day
        (
            ("usage:calls:2026-11-01", "API calls", "5000", "0.01", "50.00"),
            (
                "minimum:2026-11-01",
                "Minimum commitment of 300 (usage and fees) — shortfall",
                "1",
                "115.00",
                "115.00",
            ),
            (
                "proration:2026-11-16:v1:seats",
                "Unused time on Seats × 2 (prorated 15/30 days)",
                "2",
                "10.00",
                "-10.00",
            ),
            (
                "proration:2026-11-16:v2:seats",
                "Remaining time on Seats × 5 (prorated 15/30 days)",
                "5",
                "10.00",
                "25.00",
            ),
        ),
        "180.00",
    )
    assert december == invoice(
        "advance",
        "2026-12-01/2027-01-01",
        "INV-000002",
        (
            ("fee:platform", "Platform fee", "1", "100.00", "100.00"),
            ("fee:seats", "Seats × 5", "5", "10.00", "50.00"),
        ),
        "150.00",
    )


def test_a_fee_cut_by_seat_changes_counts_its_whole_share_toward_the_minimum(
    world: Callable[..., World],
) -> None:
    """Found by the golden grid: each stretch's share of the platform fee was rounded apart
    (33.33 × 3 = 99.99 of a 100.00 fee)."""
    fees = [
        {
            "key": "platform",
            "model": "flat",
            "description": "Platform fee",
            "timing": "in_advance",
            "amount": "100.00",
        },
        {
            "key": "seats",
            "model": "per_seat",
            "description": "Seats",
            "timing": "in_advance",
            "amount": "10.00",
        },
    ]
    w = world(
        plans=[plan("committed", *fees, calls(), minimum="300", minimum_includes_fees=True)],
        start="2026-11-01T08:00:00Z",
        billing=NO_GRACE,
    )
    w.customer("acme")
    w.subscribe("s1", "acme", "committed", "2026-11-01", seats=3)
    w.at("2026-11-01T09:00:00Z").bill("2026-11-01")
    w.at("2026-11-10T09:00:00Z").amend("s1", "seat_change", "2026-11-11", seats=4)
    w.at("2026-11-20T09:00:00Z").amend("s1", "seat_change", "2026-11-21", seats=2)
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    arrears = w.invoices("s1")[1]
    # fees of November: 100.00 + seats 3 × 10.00 × 10/30 + 4 × 10.00 × 10/30 + 2 × 10.00 ×
    # 10/30 = 30.00: 130.00; no usage; 300 − 130.00 = 170.00
    assert arrears == invoice(
        "arrears",
        NOV,
        "INV-000003",
        (
            ("usage:calls:2026-11-01", "API calls", "0", "0.01", "0.00"),
            (
                "minimum:2026-11-01",
                "Minimum commitment of 300 (usage and fees) — shortfall",
                "1",
                "170.00",
                "170.00",
            ),
            (
                "proration:2026-11-11:v1:seats",
                "Unused time on Seats × 3 (prorated 20/30 days)",
                "3",
                "10.00",
                "-20.00",
            ),
            (
                "proration:2026-11-11:v2:seats",
                "Remaining time on Seats × 4 (prorated 20/30 days)",
                "4",
                "10.00",
                "26.67",
            ),
            (
                "proration:2026-11-21:v2:seats",
                "Unused time on Seats × 4 (prorated 10/30 days)",
                "4",
                "10.00",
                "-13.33",
            ),
            (
                "proration:2026-11-21:v3:seats",
                "Remaining time on Seats × 2 (prorated 10/30 days)",
                "2",
                "10.00",
                "6.67",
            ),
        ),
        "170.01",
    )


# --- carried meters ---------------------------------------------------------------------

#: storage reported as a level (the value held until the next report)
STORAGE = {
    "key": "storage_held",
    "event_type": "storage.level",
    "aggregation": "latest",
    "value": "gb",
    "carried": True,
}
#: seats added and removed (each event adds its delta to the value held)
SEATS = {
    "key": "seats_held",
    "event_type": "seat.change",
    "aggregation": "sum",
    "value": "delta",
    "carried": True,
    "allow_negative": True,
}


def test_carried_meters_bill_the_value_held_each_day(world: Callable[..., World]) -> None:
    held = [
        {
            "key": "storage",
            "model": "per_unit",
            "description": "Storage (GB-month)",
            "meter": "storage_held",
            "amount": "0.10",
        },
        {
            "key": "seats",
            "model": "per_unit",
            "description": "Seats held",
            "meter": "seats_held",
            "amount": "3.00",
        },
    ]
    w = world(
        plans=[plan("held", *held)],
        meters=[*TEST_METERS, STORAGE, SEATS],
        start="2026-10-01T08:00:00Z",
        billing=NO_GRACE,
    )
    w.customer("acme")
    w.subscribe("s1", "acme", "held", "2026-11-01")
    for when, kind, data in (
        # before the subscription: carried into November
        ("2026-10-20T10:00:00Z", "storage.level", {"gb": 100}),
        ("2026-10-01T10:00:00Z", "seat.change", {"delta": 5}),
        # 11 November: 300 GB at 10:00, 200 GB at 15:00 (the day counts its peak, 300)
        ("2026-11-11T15:00:00Z", "storage.level", {"gb": 200}),
        ("2026-11-11T10:00:00Z", "storage.level", {"gb": 300}),
        # 16 November: 3 seats added, one removed the same day (8 that day, then 7)
        ("2026-11-16T09:00:00Z", "seat.change", {"delta": 3}),
        ("2026-11-16T17:00:00Z", "seat.change", {"delta": -1}),
    ):
        w.at("2026-11-20T00:00:00Z").usage("t-acme", kind, when, data)
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    w.at("2027-01-01T09:00:00Z").bill("2027-01-01")
    # storage: 10 days × 100 + 1 × 300 + 19 × 200 = 5,100 GB-days / 30 = 170 × 0.10 = 17.00
    # seats: 15 days × 5 + 1 × 8 + 14 × 7 = 181 seat-days / 30 = 6.033333333333333333 (to 18
    # places) × 3.00 = 18.099999999999999999 → 18.10
    # December: nothing reported, what was held is carried: 200 GB (20.00) and 7 seats (21.00)
    assert w.invoices("s1") == [
        invoice(
            "arrears",
            NOV,
            "INV-000001",
            (
                (
                    "usage:storage:2026-11-01",
                    "Storage (GB-month) (held 5100 unit-days of 30)",
                    "170",
                    "0.10",
                    "17.00",
                ),
                (
                    "usage:seats:2026-11-01",
                    "Seats held (held 181 unit-days of 30)",
                    "6.033333333333333333",
                    "3.00",
                    "18.10",
                ),
            ),
            "35.10",
        ),
        invoice(
            "arrears",
            "2026-12-01/2027-01-01",
            "INV-000002",
            (
                (
                    "usage:storage:2026-12-01",
                    "Storage (GB-month) (held 6200 unit-days of 31)",
                    "200",
                    "0.10",
                    "20.00",
                ),
                (
                    "usage:seats:2026-12-01",
                    "Seats held (held 217 unit-days of 31)",
                    "7",
                    "3.00",
                    "21.00",
                ),
            ),
            "41.00",
        ),
    ]
