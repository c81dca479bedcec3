"""Billing scenarios: usage charges billed in advance — day by day on usage invoices as the
usage arrives, the period's invoice settling the rest — through real billing runs, with the
full invoices.

Every figure is worked out by hand from docs/billing.md ("Usage billed as it arrives"). The
customer ``acme`` (EUR, UTC, tenant ``t-acme``, no tax) subscribes on 2026-11-01 to a
monthly plan; runs have no grace, so each invoice is final when it is made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from tests.scenarios.harness import Line, Rendered, World, invoice, render

NO_GRACE = {"grace_period_hours": 0}
NOV = "2026-11-01/2026-12-01"
DEC = "2026-12-01/2027-01-01"
TIER_1 = "API calls — tier 1 (up to 1,000)"
TIER_2 = "API calls — tier 2 (above 1,000)"

#: a platform fee in advance and API calls billed as they arrive, the first 1,000 free
METERED: dict[str, Any] = {
    "code": "metered",
    "name": "Metered",
    "currency": "EUR",
    "interval": "month",
    "charges": [
        {
            "key": "platform",
            "model": "flat",
            "description": "Platform fee",
            "timing": "in_advance",
            "amount": "10.00",
        },
        {
            "key": "calls",
            "model": "graduated",
            "description": "API calls",
            "meter": "api_calls",
            "timing": "in_advance",
            "tiers": [
                {"up_to": "1000", "unit_amount": "0"},
                {"up_to": None, "unit_amount": "0.01"},
            ],
        },
    ],
}
PLATFORM: tuple[Line, ...] = (("fee:platform", "Platform fee", "1", "10.00", "10.00"),)


def calls_so_far(tier_2: int) -> tuple[Line, ...]:
    """The usage lines of November's calls so far: 1,000 free, ``tier_2`` more at 0.01."""
    return (
        ("usage:calls:2026-11-01:tier-1", TIER_1, "1000", "0", "0.00"),
        ("usage:calls:2026-11-01:tier-2", TIER_2, str(tier_2), "0.01", f"{tier_2 / 100:.2f}"),
    )


def billed_before(invoice_id: str, day: str, tier_2: int) -> tuple[Line, ...]:
    """The deduction of what the usage invoice of ``day`` billed (so far, ``tier_2`` above
    the free 1,000)."""
    return tuple(
        (
            f"prebilled:{invoice_id}:{key}",
            f"Billed on usage invoices through {day}: {description}",
            f"-{quantity}",
            unit,
            "0.00" if amount == "0.00" else f"-{amount}",
        )
        for key, description, quantity, unit, amount in calls_so_far(tier_2)
    )


def test_usage_billed_day_by_day_then_settled_by_the_periods_invoice(
    world: Callable[..., World],
) -> None:
    w = world(plans=[METERED], start="2026-11-01T08:00:00Z", billing=NO_GRACE)
    w.customer("acme")
    w.subscribe("s1", "acme", "metered", "2026-11-01")
    w.at("2026-11-02T09:00:00Z").bill("2026-11-02")  # 1 November had no usage: no invoice
    assert [(i.kind, i.number) for i in w.invoices("s1")] == [("advance", "INV-000001")]

    w.at("2026-11-02T12:00:00Z").usage("t-acme", "api.request", "2026-11-02T11:00:00Z", times=600)
    w.at("2026-11-03T12:00:00Z").usage("t-acme", "api.request", "2026-11-03T11:00:00Z", times=700)
    # no run on the 3rd: the run of the 4th bills the 2nd and the 3rd together, through the 3rd
    w.at("2026-11-04T09:00:00Z").bill("2026-11-04")
    # the 5th, and 100 calls of the 2nd that arrive late: on the next usage invoice
    w.at("2026-11-05T12:00:00Z").usage("t-acme", "api.request", "2026-11-05T11:00:00Z", times=300)
    w.at("2026-11-05T12:00:00Z").usage("t-acme", "api.request", "2026-11-02T15:00:00Z", times=100)
    w.at("2026-11-06T09:00:00Z").bill("2026-11-06")
    # the 30th is the day before the period's invoice is issued: that invoice bills it
    w.at("2026-11-30T12:00:00Z").usage("t-acme", "api.request", "2026-11-30T11:00:00Z", times=200)
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")

    found = w.raw_invoices("s1")
    third = next(i.id for i in found if i.kind.value == "usage" and i.number == "INV-000002")
    fifth = next(i.id for i in found if i.kind.value == "usage" and i.number == "INV-000003")
    assert w.invoices("s1") == [
        invoice("advance", NOV, "INV-000001", PLATFORM, "10.00"),
        # 1,300 calls through the 3rd: 300 × 0.01
        invoice(
            "arrears",
            NOV,
            "INV-000005",
            (*calls_so_far(900), *billed_before(fifth, "2026-11-05", 700)),
            # 1,900 calls in November, 1,700 billed on usage invoices: the 30th's 200 × 0.01
            "2.00",
        ),
        invoice("usage", "2026-11-03/2026-11-04", "INV-000002", calls_so_far(300), "3.00"),
        # 1,700 calls through the 5th (the late 100 of the 2nd among them), less the 1,300
        # billed through the 3rd: 400 × 0.01
        invoice(
            "usage",
            "2026-11-05/2026-11-06",
            "INV-000003",
            (*calls_so_far(700), *billed_before(third, "2026-11-03", 300)),
            "4.00",
        ),
        invoice("advance", DEC, "INV-000004", PLATFORM, "10.00"),
    ]


#: API calls at 0.10 each billed as they arrive, at least 20.00 a month
PREPAID: dict[str, Any] = {
    "code": "prepaid",
    "name": "Prepaid",
    "currency": "EUR",
    "interval": "month",
    "charges": [
        {
            "key": "calls",
            "model": "per_unit",
            "description": "API calls",
            "meter": "api_calls",
            "timing": "in_advance",
            "amount": "0.10",
            "minimum": "20",
        }
    ],
}
COUPONS = [
    {
        "code": "PARTNER5",
        "description": "Partner 5% off",
        "duration": "forever",
        "percent_off": "5",
    },
    {
        "code": "MINUS3",
        "description": "3 EUR off",
        "duration": "forever",
        "amount_off": "3.00",
        "currency": "EUR",
    },
]


def test_drafts_in_grace_a_charges_minimum_coupons_and_late_usage(
    world: Callable[..., World],
) -> None:
    w = world(plans=[PREPAID], coupons=COUPONS, start="2026-11-01T08:00:00Z")  # 72 h grace
    w.customer("acme")
    w.subscribe(
        "s1",
        "acme",
        "prepaid",
        "2026-11-01",
        coupons=[("PARTNER5", "2026-11-01"), ("MINUS3", "2026-11-01")],
    )
    w.at("2026-11-02T10:00:00Z").usage("t-acme", "api.request", "2026-11-02T09:00:00Z", times=100)
    w.at("2026-11-03T09:00:00Z").bill("2026-11-03")
    # 20 more calls of the 2nd, while its usage invoice is a draft: the draft takes them
    w.at("2026-11-04T08:00:00Z").usage("t-acme", "api.request", "2026-11-02T20:00:00Z", times=20)
    w.at("2026-11-04T09:00:00Z").bill("2026-11-04")
    upcoming = w.container.billing.upcoming("acme")
    w.at("2026-11-06T09:00:00Z").bill("2026-11-06")
    w.at("2026-12-04T09:00:00Z").bill("2026-12-04")
    # 50 calls of 10 November arrive once November's invoice is final: adjusted on December's
    w.at("2026-12-05T08:00:00Z").usage("t-acme", "api.request", "2026-11-10T09:00:00Z", times=50)
    w.at("2027-01-04T09:00:00Z").bill("2027-01-04")
    found = w.raw_invoices("s1")
    second = next(i.id for i in found if i.kind.value == "usage")
    november = next(i.id for i in found if i.kind.value == "arrears" and i.number == "INV-000002")
    calls = ("usage:calls:2026-11-01", "API calls", "120", "0.10", "12.00")
    shortfall = ("usage:calls:2026-11-01:minimum", "API calls — minimum of 20, shortfall")
    minus3 = ("discount:MINUS3:standard", "3 EUR off", "1", "-3.00", "-3.00")
    # 120 calls, topped up to the charge's 20.00, less the 12.00 billed on the usage
    # invoice; 3.00 off (amounts off are never taken on usage invoices), then 5% of 5.00
    arrears = Rendered(
        "arrears",
        NOV,
        "finalized",
        "INV-000002",
        (
            calls,
            (*shortfall, "1", "8.00", "8.00"),
            (
                f"prebilled:{second}:usage:calls:2026-11-01",
                "Billed on usage invoices through 2026-11-02: API calls",
                "-120",
                "0.10",
                "-12.00",
            ),
            minus3,
            ("discount:PARTNER5:standard", "Partner 5% off", "1", "-0.25", "-0.25"),
        ),
        totals=("8.00", "-3.25", "0.00", "4.75", "0.00", "4.75"),
    )
    assert w.invoices("s1") == [
        arrears,
        # the run of the 4th rated the draft again with the late 20: 120 × 0.10, 5% off
        Rendered(
            "usage",
            "2026-11-02/2026-11-03",
            "finalized",
            "INV-000001",
            (calls, ("discount:PARTNER5:standard", "Partner 5% off", "1", "-0.60", "-0.60")),
            totals=("12.00", "-0.60", "0.00", "11.40", "0.00", "11.40"),
        ),
        # December: no usage, the charge's minimum; November's 50 late calls, which the
        # minimum they raise November's usage to absorbs (+5.00, −5.00): 20.00, 3.00 off, 5%
        # of 17.00
        Rendered(
            "arrears",
            DEC,
            "finalized",
            "INV-000003",
            (
                ("usage:calls:2026-12-01", "API calls", "0", "0.10", "0.00"),
                (
                    "usage:calls:2026-12-01:minimum",
                    "API calls — minimum of 20, shortfall",
                    "1",
                    "20.00",
                    "20.00",
                ),
                (
                    f"adjustment:{november}:usage:calls:2026-11-01",
                    "Adjustment: API calls",
                    "50",
                    "0.10",
                    "5.00",
                ),
                (
                    f"adjustment:{november}:usage:calls:2026-11-01:minimum",
                    "Adjustment: API calls — minimum of 20, shortfall",
                    "0",
                    "3.00",
                    "-5.00",
                ),
                minus3,
                ("discount:PARTNER5:standard", "Partner 5% off", "1", "-0.85", "-0.85"),
            ),
            totals=("20.00", "-3.85", "0.00", "16.15", "0.00", "16.15"),
        ),
    ]
    # the upcoming invoice of the 4th counted the usage invoice, a draft then, as billed: it
    # is the invoice November got
    assert [replace(render(i), status="finalized", number="INV-000002") for i in upcoming] == [
        arrears
    ]
