"""Period scenarios: local month boundaries and time zones, billing anchors, annual contracts,
hierarchies, quiet months and the end of service.

Periods are local calendar dates in the customer's time zone, half-open. Every expected figure
is worked out by hand in the comments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.scenarios.harness import PRO, Line, Rendered, World, invoice

#: usage only: every call at 0.10
METERED = {
    "code": "metered",
    "name": "Metered",
    "currency": "EUR",
    "interval": "month",
    "charges": [
        {
            "key": "calls",
            "model": "per_unit",
            "description": "API calls",
            "meter": "api_calls",
            "amount": "0.10",
        }
    ],
}

#: usage only, with a monthly minimum commitment of 50
COMMITTED = {**METERED, "code": "committed", "name": "Committed", "minimum": "50"}


def annual(code: str, description: str, fee: str, price: str) -> dict[str, Any]:
    """A yearly contract: the fee billed a year in advance, usage billed monthly."""
    return {
        "code": code,
        "name": code.title(),
        "currency": "EUR",
        "interval": "year",
        "usage_interval": "month",
        "charges": [
            {
                "key": "platform",
                "model": "flat",
                "description": description,
                "timing": "in_advance",
                "amount": fee,
            },
            {
                "key": "calls",
                "model": "per_unit",
                "description": "API calls",
                "meter": "api_calls",
                "amount": price,
            },
        ],
    }


ANNUAL = annual("annual", "Annual platform fee", "1200.00", "0.01")
ANNUAL_PLUS = annual("annual-plus", "Annual platform fee (Plus)", "2400.00", "0.008")

PLATFORM = ("fee:platform", "Platform fee", "1", "99.00", "99.00")
TIER_1_EMPTY = ("API calls — tier 1 (up to 1,000)", "0", "0", "0.00")


def calls(start: str, quantity: int, amount: str) -> Line:
    """A line of the per-unit ``metered`` plan."""
    return (f"usage:calls:{start}", "API calls", str(quantity), "0.10", amount)


# --- boundaries -----------------------------------------------------------------------------


def test_the_last_millisecond_of_the_month_and_the_first_instant_of_the_next(
    world: Callable[..., World],
) -> None:
    w = world(plans=[METERED], start="2026-11-30T08:00:00Z")
    w.customer("acme", timezone="Europe/Paris")
    w.subscribe("s1", "acme", "metered", "2026-11-01")
    w.at("2026-11-30T23:00:00Z")
    w.usage("t-acme", "api.request", "2026-11-30T23:59:59.999+01:00", times=3)
    w.usage("t-acme", "api.request", "2026-12-01T00:00:00+01:00", times=5)
    w.at("2027-01-05T00:00:00Z").bill("2027-01-05")
    assert w.invoices("s1") == [
        invoice(
            "arrears",
            "2026-11-01/2026-12-01",
            "INV-000001",
            (calls("2026-11-01", 3, "0.30"),),
            "0.30",
        ),
        invoice(
            "arrears",
            "2026-12-01/2027-01-01",
            "INV-000002",
            (calls("2026-12-01", 5, "0.50"),),
            "0.50",
        ),
    ]


def test_the_same_instant_falls_in_different_months_in_new_york_and_tokyo(
    world: Callable[..., World],
) -> None:
    w = world(plans=[METERED], start="2026-11-30T08:00:00Z")
    w.customer("nyc", timezone="America/New_York")
    w.customer("tokyo", timezone="Asia/Tokyo")
    w.subscribe("s-nyc", "nyc", "metered", "2026-11-01")
    w.subscribe("s-tokyo", "tokyo", "metered", "2026-11-01")
    w.at("2026-12-01T06:00:00Z")
    for tenant in ("t-nyc", "t-tokyo"):
        # Tokyo 30 Nov 23:00 — New York 30 Nov 09:00
        w.usage(tenant, "api.request", "2026-11-30T14:00:00Z", times=1)
        # Tokyo 1 Dec 00:00 — New York 30 Nov 10:00
        w.usage(tenant, "api.request", "2026-11-30T15:00:00Z", times=2)
        # Tokyo 1 Dec 13:59:59 — New York 30 Nov 23:59:59
        w.usage(tenant, "api.request", "2026-12-01T04:59:59Z", times=4)
        # Tokyo 1 Dec 14:00 — New York 1 Dec 00:00
        w.usage(tenant, "api.request", "2026-12-01T05:00:00Z", times=8)
    # Tokyo's December starts at 30 Nov 15:00Z: its grace ends at 3 Dec 15:00Z,
    # New York's (1 Dec 05:00Z) at 4 Dec 05:00Z
    w.at("2026-12-03T16:00:00Z").bill("2026-12-03")
    w.at("2026-12-04T06:00:00Z").bill("2026-12-04")
    w.at("2027-01-05T00:00:00Z").bill("2027-01-05")
    assert w.invoices("s-nyc") == [
        invoice(
            "arrears",
            "2026-11-01/2026-12-01",
            "INV-000002",
            (calls("2026-11-01", 7, "0.70"),),
            "0.70",
        ),
        invoice(
            "arrears",
            "2026-12-01/2027-01-01",
            "INV-000003",
            (calls("2026-12-01", 8, "0.80"),),
            "0.80",
        ),
    ]
    assert w.invoices("s-tokyo") == [
        invoice(
            "arrears",
            "2026-11-01/2026-12-01",
            "INV-000001",
            (calls("2026-11-01", 1, "0.10"),),
            "0.10",
        ),
        invoice(
            "arrears",
            "2026-12-01/2027-01-01",
            "INV-000004",
            (calls("2026-12-01", 14, "1.40"),),
            "1.40",
        ),
    ]


# --- anchors --------------------------------------------------------------------------------


def test_periods_anchored_on_the_15th(world: Callable[..., World]) -> None:
    w = world(plans=[PRO], start="2026-11-15T08:00:00Z")
    w.customer("acme")
    w.subscribe("s1", "acme", "pro", "2026-11-15")
    w.at("2026-12-14T23:30:00Z")
    w.usage("t-acme", "api.request", "2026-12-14T23:59:59Z", times=1500)
    w.usage("t-acme", "api.request", "2026-12-15T00:00:00Z", times=200)
    w.at("2027-01-18T00:00:00Z").bill("2027-01-18")
    assert w.invoices("s1") == [
        invoice("advance", "2026-11-15/2026-12-15", "INV-000001", (PLATFORM,), "99.00"),
        invoice(
            "arrears",
            "2026-11-15/2026-12-15",
            "INV-000003",
            (
                (
                    "usage:calls:2026-11-15:tier-1",
                    "API calls — tier 1 (up to 1,000)",
                    "1000",
                    "0",
                    "0.00",
                ),
                (
                    "usage:calls:2026-11-15:tier-2",
                    "API calls — tier 2 (above 1,000)",
                    "500",
                    "0.012",
                    "6.00",
                ),
            ),
            "6.00",
        ),
        invoice("advance", "2026-12-15/2027-01-15", "INV-000002", (PLATFORM,), "99.00"),
        invoice(
            "arrears",
            "2026-12-15/2027-01-15",
            "INV-000005",
            (
                (
                    "usage:calls:2026-12-15:tier-1",
                    "API calls — tier 1 (up to 1,000)",
                    "200",
                    "0",
                    "0.00",
                ),
            ),
            "0.00",
        ),
        invoice("advance", "2027-01-15/2027-02-15", "INV-000004", (PLATFORM,), "99.00"),
    ]


def _partial_first_period() -> list[Rendered]:
    """Start on 3 November, periods on the 15th: the first period is 3–14 November."""
    return [
        invoice(
            "advance",
            "2026-10-15/2026-11-15",
            "INV-000001",
            # 12 of the 31 days from 15 October to 15 November: 99.00 × 12/31 = 38.322… → 38.32
            (("fee:platform", "Platform fee (prorated 12/31 days)", "1", "99.00", "38.32"),),
            "38.32",
        ),
        invoice(
            "arrears",
            "2026-10-15/2026-11-15",
            "INV-000003",
            (
                (
                    "usage:calls:2026-11-03:tier-1",
                    "API calls — tier 1 (up to 1,000)",
                    "1000",
                    "0",
                    "0.00",
                ),
                (
                    "usage:calls:2026-11-03:tier-2",
                    "API calls — tier 2 (above 1,000)",
                    "100",
                    "0.012",
                    "1.20",
                ),
            ),
            "1.20",
        ),
        invoice("advance", "2026-11-15/2026-12-15", "INV-000002", (PLATFORM,), "99.00"),
    ]


def _start_on_the_3rd(w: World, **anchor: str) -> None:
    w.customer("acme")
    w.subscribe("s1", "acme", "pro", "2026-11-03", **anchor)
    w.at("2026-11-10T12:00:00Z").usage("t-acme", "api.request", "2026-11-10T10:00:00Z", times=1100)
    w.at("2026-11-18T00:00:00Z").bill("2026-11-18")


def test_an_anchor_on_an_earlier_15th_makes_the_first_period_partial(
    world: Callable[..., World],
) -> None:
    w = world(plans=[PRO], start="2026-11-03T08:00:00Z")
    _start_on_the_3rd(w, anchor="2026-10-15")
    assert w.invoices("s1") == _partial_first_period()


def test_a_start_before_the_anchor_makes_the_first_period_partial(
    world: Callable[..., World],
) -> None:
    """The natural way to say "bill on the 15th from now on": an anchor after the start."""
    w = world(plans=[PRO], start="2026-11-03T08:00:00Z")
    _start_on_the_3rd(w, anchor="2026-11-15")
    assert w.invoices("s1") == _partial_first_period()


def test_an_anchor_on_the_31st_is_clamped_to_short_months(world: Callable[..., World]) -> None:
    w = world(plans=[PRO], start="2027-01-31T08:00:00Z")
    w.customer("acme")
    w.subscribe("s1", "acme", "pro", "2027-01-31")
    w.at("2027-02-27T12:00:00Z")
    w.usage("t-acme", "api.request", "2027-02-27T12:00:00Z", times=1100)
    w.usage("t-acme", "api.request", "2027-02-28T00:00:00Z", times=1)  # the next period
    w.at("2027-03-31T00:00:00Z")
    w.usage("t-acme", "api.request", "2027-03-30T23:59:59Z", times=2)
    w.usage("t-acme", "api.request", "2027-03-31T00:00:00Z", times=3)  # the one after
    w.at("2027-04-03T00:00:00Z").bill("2027-04-03")
    assert w.invoices("s1") == [
        # 31 January – 27 February: 28 days
        invoice("advance", "2027-01-31/2027-02-28", "INV-000001", (PLATFORM,), "99.00"),
        invoice(
            "arrears",
            "2027-01-31/2027-02-28",
            "INV-000003",
            (
                (
                    "usage:calls:2027-01-31:tier-1",
                    "API calls — tier 1 (up to 1,000)",
                    "1000",
                    "0",
                    "0.00",
                ),
                (
                    "usage:calls:2027-01-31:tier-2",
                    "API calls — tier 2 (above 1,000)",
                    "100",
                    "0.012",
                    "1.20",
                ),
            ),
            "1.20",
        ),
        # 28 February – 30 March, then back on the 31st
        invoice("advance", "2027-02-28/2027-03-31", "INV-000002", (PLATFORM,), "99.00"),
        invoice(
            "arrears",
            "2027-02-28/2027-03-31",
            "INV-000005",
            (
                (
                    "usage:calls:2027-02-28:tier-1",
                    "API calls — tier 1 (up to 1,000)",
                    "3",
                    "0",
                    "0.00",
                ),
            ),
            "0.00",
        ),
        invoice("advance", "2027-03-31/2027-04-30", "INV-000004", (PLATFORM,), "99.00"),
    ]


# --- an annual contract --------------------------------------------------------------------


def test_annual_contract_with_monthly_usage_and_an_upgrade_in_may(
    world: Callable[..., World],
) -> None:
    w = world(plans=[ANNUAL, ANNUAL_PLUS], start="2027-01-01T08:00:00Z")
    w.customer("acme")
    w.subscribe("s1", "acme", "annual", "2027-01-01")
    w.at("2027-01-20T12:00:00Z").usage("t-acme", "api.request", "2027-01-20T10:00:00Z", times=1000)
    w.at("2027-02-04T00:00:00Z").bill("2027-02-04")
    w.at("2027-03-10T12:00:00Z").usage("t-acme", "api.request", "2027-03-10T10:00:00Z", times=500)
    w.at("2027-05-10T12:00:00Z").usage("t-acme", "api.request", "2027-05-10T10:00:00Z", times=2000)
    w.at("2027-05-16T09:00:00Z").amend("s1", "upgrade", "2027-05-16", plan="annual-plus")
    w.at("2027-05-20T12:00:00Z").usage("t-acme", "api.request", "2027-05-20T10:00:00Z", times=1000)
    w.at("2027-06-04T00:00:00Z").bill("2027-06-04")

    def month(start: str, end: str, number: str, quantity: int, amount: str) -> Rendered:
        line = (f"usage:calls:{start}", "API calls", str(quantity), "0.01", amount)
        return invoice("arrears", f"{start}/{end}", number, (line,), amount)

    assert w.invoices("s1") == [
        # one advance invoice for the year
        invoice(
            "advance",
            "2027-01-01/2028-01-01",
            "INV-000001",
            (("fee:platform", "Annual platform fee", "1", "1200.00", "1200.00"),),
            "1200.00",
        ),
        month("2027-01-01", "2027-02-01", "INV-000002", 1000, "10.00"),
        month("2027-02-01", "2027-03-01", "INV-000003", 0, "0.00"),
        month("2027-03-01", "2027-04-01", "INV-000004", 500, "5.00"),
        month("2027-04-01", "2027-05-01", "INV-000005", 0, "0.00"),
        invoice(
            "arrears",
            "2027-05-01/2027-06-01",
            "INV-000006",
            (
                ("usage:calls:2027-05-01", "API calls", "2000", "0.01", "20.00"),
                ("usage:calls:2027-05-16", "API calls", "1000", "0.008", "8.00"),
                # 16 May 2027 – 1 January 2028: 16 + 30 + 31 + 31 + 30 + 31 + 30 + 31 = 230 of
                # 365 days: 1200.00 × 230/365 = 756.164… → 756.16;
                # 2400.00 × 230/365 = 1512.328… → 1512.33
                (
                    "proration:2027-05-16:v1:platform",
                    "Unused time on Annual platform fee (prorated 230/365 days)",
                    "1",
                    "1200.00",
                    "-756.16",
                ),
                (
                    "proration:2027-05-16:v2:platform",
                    "Remaining time on Annual platform fee (Plus) (prorated 230/365 days)",
                    "1",
                    "2400.00",
                    "1512.33",
                ),
            ),
            # 20.00 + 8.00 − 756.16 + 1512.33
            "784.17",
        ),
    ]


# --- quiet months, hierarchies, the end of service ------------------------------------------


def test_months_without_usage(world: Callable[..., World]) -> None:
    w = world(plans=[PRO, COMMITTED], start="2026-11-01T08:00:00Z")
    w.customer("acme")
    w.customer("beta")
    w.subscribe("s1", "acme", "pro", "2026-11-01")
    w.subscribe("s2", "beta", "committed", "2026-11-01")
    w.at("2026-12-04T00:00:00Z").bill("2026-12-04")
    # issued 1 November: acme's advance; issued 1 December: acme's, then beta's
    assert w.invoices("s1") == [
        invoice("advance", "2026-11-01/2026-12-01", "INV-000001", (PLATFORM,), "99.00"),
        invoice(
            "arrears",
            "2026-11-01/2026-12-01",
            "INV-000003",
            (("usage:calls:2026-11-01:tier-1", *TIER_1_EMPTY),),
            "0.00",
        ),
        invoice("advance", "2026-12-01/2027-01-01", "INV-000002", (PLATFORM,), "99.00"),
    ]
    assert w.invoices("s2") == [
        invoice(
            "arrears",
            "2026-11-01/2026-12-01",
            "INV-000004",
            (
                ("usage:calls:2026-11-01", "API calls", "0", "0.10", "0.00"),
                # the whole commitment: nothing was used
                (
                    "minimum:2026-11-01",
                    "Minimum commitment of 50 — shortfall",
                    "1",
                    "50.00",
                    "50.00",
                ),
            ),
            "50.00",
        ),
    ]


def test_a_hierarchy_billed_at_the_parent(world: Callable[..., World]) -> None:
    w = world(plans=[METERED], start="2026-11-01T08:00:00Z")
    w.customer("acme")
    w.customer("acme-eu", parent="acme")
    w.customer("acme-paris", parent="acme-eu")
    w.subscribe("s1", "acme", "metered", "2026-11-01", include_children=True)
    w.subscribe("s2", "acme-eu", "metered", "2026-11-01")  # the child's own subscription
    w.at("2026-11-20T12:00:00Z")
    w.usage("t-acme", "api.request", "2026-11-20T10:00:00Z", times=10)
    w.usage("t-acme-eu", "api.request", "2026-11-20T10:00:00Z", times=4)
    w.usage("t-acme-paris", "api.request", "2026-11-20T10:00:00Z", times=1)
    w.at("2026-12-04T00:00:00Z").bill("2026-12-04")
    # the parent's invoice counts its own calls and every descendant's: 10 + 4 + 1
    assert w.invoices("s1") == [
        invoice(
            "arrears",
            "2026-11-01/2026-12-01",
            "INV-000001",
            (calls("2026-11-01", 15, "1.50"),),
            "1.50",
        ),
    ]
    # the child's own subscription counts its own calls only, as it would anyway
    assert w.invoices("s2") == [
        invoice(
            "arrears",
            "2026-11-01/2026-12-01",
            "INV-000002",
            (calls("2026-11-01", 4, "0.40"),),
            "0.40",
        ),
    ]
    [parent] = w.raw_invoices("s1")
    lineage = parent.lines[0].lineage
    assert lineage is not None
    assert (sorted(lineage.customer_ids), lineage.events) == (
        ["acme", "acme-eu", "acme-paris"],
        15,
    )


def test_no_invoices_after_the_end_of_service(world: Callable[..., World]) -> None:
    w = world(plans=[PRO], start="2026-11-01T08:00:00Z")
    w.customer("acme")
    w.subscribe("s1", "acme", "pro", "2026-11-01", ends="2026-12-16")
    w.at("2026-12-10T12:00:00Z").usage("t-acme", "api.request", "2026-12-10T10:00:00Z", times=1200)
    # after the end: not billed
    w.at("2026-12-20T12:00:00Z").usage("t-acme", "api.request", "2026-12-20T10:00:00Z", times=500)
    w.at("2027-03-04T00:00:00Z").bill("2027-03-04")
    assert w.invoices("s1") == [
        invoice("advance", "2026-11-01/2026-12-01", "INV-000001", (PLATFORM,), "99.00"),
        invoice(
            "arrears",
            "2026-11-01/2026-12-01",
            "INV-000003",
            (("usage:calls:2026-11-01:tier-1", *TIER_1_EMPTY),),
            "0.00",
        ),
        invoice(
            "advance",
            "2026-12-01/2027-01-01",
            "INV-000002",
            # service ends on 16 December: 15 of 31 days, 99.00 × 15/31 = 47.903… → 47.90
            (("fee:platform", "Platform fee (prorated 15/31 days)", "1", "99.00", "47.90"),),
            "47.90",
        ),
        # issued on the last day of service, 16 December
        invoice(
            "arrears",
            "2026-12-01/2027-01-01",
            "INV-000004",
            (
                (
                    "usage:calls:2026-12-01:tier-1",
                    "API calls — tier 1 (up to 1,000)",
                    "1000",
                    "0",
                    "0.00",
                ),
                (
                    "usage:calls:2026-12-01:tier-2",
                    "API calls — tier 2 (above 1,000)",
                    "200",
                    "0.012",
                    "2.40",
                ),
            ),
            "2.40",
        ),
    ]
    report = w.at("2027-03-05T00:00:00Z").bill("2027-03-05")
    assert (report.created, report.updated, report.finalized) == ([], [], [])


# --- quarterly and half-yearly billing ------------------------------------------------------

QUARTERLY = {
    "code": "quarterly",
    "name": "Quarterly",
    "currency": "EUR",
    "interval": "quarter",
    "usage_interval": "month",
    "charges": [
        {
            "key": "platform",
            "model": "flat",
            "description": "Platform, quarterly",
            "timing": "in_advance",
            "amount": "300.00",
        },
        {
            "key": "seats",
            "model": "per_seat",
            "description": "Seats",
            "timing": "in_advance",
            "amount": "30.00",
        },
        {
            "key": "calls",
            "model": "per_unit",
            "description": "API calls",
            "meter": "api_calls",
            "amount": "0.01",
        },
    ],
}


def test_a_quarterly_fee_with_monthly_usage_and_seats_added_mid_quarter(
    world: Callable[..., World],
) -> None:
    w = world(plans=[QUARTERLY], start="2027-01-01T08:00:00Z")
    w.customer("acme")
    w.subscribe("s1", "acme", "quarterly", "2027-01-01", seats=2)
    w.at("2027-01-20T12:00:00Z").usage("t-acme", "api.request", "2027-01-20T10:00:00Z", times=1000)
    w.at("2027-02-10T09:00:00Z").amend("s1", "seat_change", "2027-02-15", seats=5)
    w.at("2027-04-04T00:00:00Z").bill("2027-04-04")

    def usage(start: str, end: str, number: str, extra: tuple[Line, ...], total: str) -> Rendered:
        quantity, amount = ("1000", "10.00") if start == "2027-01-01" else ("0", "0.00")
        line = (f"usage:calls:{start}", "API calls", quantity, "0.01", amount)
        return invoice("arrears", f"{start}/{end}", number, (line, *extra), total)

    platform = ("fee:platform", "Platform, quarterly", "1", "300.00", "300.00")
    assert w.invoices("s1") == [
        invoice(
            "advance",
            "2027-01-01/2027-04-01",
            "INV-000001",
            (platform, ("fee:seats", "Seats × 2", "2", "30.00", "60.00")),
            "360.00",
        ),
        usage("2027-01-01", "2027-02-01", "INV-000002", (), "10.00"),
        usage(
            "2027-02-01",
            "2027-03-01",
            "INV-000003",
            (
                # 15 February – 1 April: 14 + 31 = 45 of the quarter's 31 + 28 + 31 = 90 days:
                # 2 × 30.00 × 45/90 = 30.00 back, 5 × 30.00 × 45/90 = 75.00 on
                (
                    "proration:2027-02-15:v1:seats",
                    "Unused time on Seats × 2 (prorated 45/90 days)",
                    "2",
                    "30.00",
                    "-30.00",
                ),
                (
                    "proration:2027-02-15:v2:seats",
                    "Remaining time on Seats × 5 (prorated 45/90 days)",
                    "5",
                    "30.00",
                    "75.00",
                ),
            ),
            "45.00",
        ),
        # issued 1 April: the second quarter's advance (INV-000004), then March's usage
        usage("2027-03-01", "2027-04-01", "INV-000005", (), "0.00"),
        invoice(
            "advance",
            "2027-04-01/2027-07-01",
            "INV-000004",
            (platform, ("fee:seats", "Seats × 5", "5", "30.00", "150.00")),
            "450.00",
        ),
    ]


HALF_YEARLY = {
    "code": "half-yearly",
    "name": "Half-yearly",
    "currency": "EUR",
    "interval": "half_year",
    "usage_interval": "quarter",
    "charges": [
        {
            "key": "platform",
            "model": "flat",
            "description": "Platform, half-yearly",
            "timing": "in_advance",
            "amount": "600.00",
        },
        {
            "key": "calls",
            "model": "per_unit",
            "description": "API calls",
            "meter": "api_calls",
            "amount": "0.01",
        },
    ],
}


def test_a_half_year_on_the_calendar_starting_mid_period_and_usage_by_quarter(
    world: Callable[..., World],
) -> None:
    w = world(plans=[HALF_YEARLY], start="2027-02-10T08:00:00Z")
    w.customer("acme")
    # billed on the calendar's half-years (January and July), from 10 February
    w.subscribe("s1", "acme", "half-yearly", "2027-02-10", anchor="2027-01-01")
    w.at("2027-05-20T12:00:00Z").usage("t-acme", "api.request", "2027-05-20T10:00:00Z", times=700)
    w.at("2027-07-04T00:00:00Z").bill("2027-07-04")
    assert w.invoices("s1") == [
        invoice(
            "advance",
            "2027-01-01/2027-07-01",
            "INV-000001",
            (
                # 10 February – 1 July: 19 + 31 + 30 + 31 + 30 = 141 of 181 days:
                # 600.00 × 141/181 = 467.403… → 467.40
                (
                    "fee:platform",
                    "Platform, half-yearly (prorated 141/181 days)",
                    "1",
                    "600.00",
                    "467.40",
                ),
            ),
            "467.40",
        ),
        invoice(
            "arrears",
            "2027-01-01/2027-04-01",
            "INV-000002",
            # the usage of the service's days: from 10 February
            (("usage:calls:2027-02-10", "API calls", "0", "0.01", "0.00"),),
            "0.00",
        ),
        invoice(
            "arrears",
            "2027-04-01/2027-07-01",
            "INV-000004",
            (("usage:calls:2027-04-01", "API calls", "700", "0.01", "7.00"),),
            "7.00",
        ),
        invoice(
            "advance",
            "2027-07-01/2028-01-01",
            "INV-000003",
            (("fee:platform", "Platform, half-yearly", "1", "600.00", "600.00"),),
            "600.00",
        ),
    ]


WEEKLY = {
    "code": "weekly",
    "name": "Weekly",
    "currency": "EUR",
    "interval": "week",
    "charges": [
        {
            "key": "platform",
            "model": "flat",
            "description": "Platform, weekly",
            "timing": "in_advance",
            "amount": "70.00",
        },
        {
            "key": "seats",
            "model": "per_seat",
            "description": "Seats",
            "timing": "in_advance",
            "amount": "10.00",
        },
        {
            "key": "calls",
            "model": "per_unit",
            "description": "API calls",
            "meter": "api_calls",
            "amount": "0.05",
        },
    ],
}


def test_weekly_billing_from_a_wednesday_with_seats_added_on_the_monday(
    world: Callable[..., World],
) -> None:
    w = world(plans=[WEEKLY], start="2027-01-06T08:00:00Z")
    w.customer("acme")
    w.subscribe("s1", "acme", "weekly", "2027-01-06")  # a Wednesday: weeks run Wed–Tue
    w.at("2027-01-07T12:00:00Z").usage("t-acme", "api.request", "2027-01-07T10:00:00Z", times=100)
    w.at("2027-01-10T09:00:00Z").amend("s1", "seat_change", "2027-01-11", seats=3)
    w.at("2027-01-24T00:00:00Z").bill("2027-01-24")
    platform = ("fee:platform", "Platform, weekly", "1", "70.00", "70.00")
    one, three = (
        ("fee:seats", "Seats × 1", "1", "10.00", "10.00"),
        (
            "fee:seats",
            "Seats × 3",
            "3",
            "10.00",
            "30.00",
        ),
    )
    assert w.invoices("s1") == [
        invoice("advance", "2027-01-06/2027-01-13", "INV-000001", (platform, one), "80.00"),
        invoice(
            "arrears",
            "2027-01-06/2027-01-13",
            "INV-000003",
            (
                ("usage:calls:2027-01-06", "API calls", "100", "0.05", "5.00"),
                # Monday 11 – Wednesday 13 January: 2 of the week's 7 days:
                # 1 × 10.00 × 2/7 = 2.857… → 2.86 back; 3 × 10.00 × 2/7 = 8.571… → 8.57 on
                (
                    "proration:2027-01-11:v1:seats",
                    "Unused time on Seats × 1 (prorated 2/7 days)",
                    "1",
                    "10.00",
                    "-2.86",
                ),
                (
                    "proration:2027-01-11:v2:seats",
                    "Remaining time on Seats × 3 (prorated 2/7 days)",
                    "3",
                    "10.00",
                    "8.57",
                ),
            ),
            "10.71",
        ),
        invoice("advance", "2027-01-13/2027-01-20", "INV-000002", (platform, three), "100.00"),
        invoice(
            "arrears",
            "2027-01-13/2027-01-20",
            "INV-000005",
            (("usage:calls:2027-01-13", "API calls", "0", "0.05", "0.00"),),
            "0.00",
        ),
        invoice("advance", "2027-01-20/2027-01-27", "INV-000004", (platform, three), "100.00"),
    ]


@pytest.mark.parametrize(
    ("zone", "first", "second"),
    [
        # Los Angeles (UTC−8): all three instants are still Sunday 10 January there
        ("America/Los_Angeles", (7, "0.70"), (0, "0.00")),
        # Auckland (UTC+13 in January): 10 Jan 11:30Z and 11 Jan 07:30Z are already Monday
        ("Pacific/Auckland", (2, "0.20"), (5, "0.50")),
    ],
)
def test_weeks_run_monday_to_monday_in_the_customers_zone(
    world: Callable[..., World], zone: str, first: tuple[int, str], second: tuple[int, str]
) -> None:
    weekly = {**METERED, "code": "weekly-metered", "interval": "week"}
    w = world(plans=[weekly], start="2027-01-03T00:00:00Z")
    w.customer("acme", timezone=zone)
    w.subscribe("s1", "acme", "weekly-metered", "2027-01-04")  # a Monday
    w.at("2027-01-12T00:00:00Z")
    # Auckland: Sun 10 Jan 23:30 / LA: Sun 10 Jan 02:30
    w.usage("t-acme", "api.request", "2027-01-10T10:30:00Z", times=2)
    # Auckland: Mon 11 Jan 00:30 / LA: Sun 10 Jan 03:30
    w.usage("t-acme", "api.request", "2027-01-10T11:30:00Z", times=4)
    # Auckland: Mon 11 Jan 20:30 / LA: Sun 10 Jan 23:30
    w.usage("t-acme", "api.request", "2027-01-11T07:30:00Z", times=1)
    w.at("2027-01-23T00:00:00Z").bill("2027-01-22")
    assert w.invoices("s1") == [
        invoice(
            "arrears",
            "2027-01-04/2027-01-11",
            "INV-000001",
            (calls("2027-01-04", *first),),
            first[1],
        ),
        invoice(
            "arrears",
            "2027-01-11/2027-01-18",
            "INV-000002",
            (calls("2027-01-11", *second),),
            second[1],
        ),
    ]
