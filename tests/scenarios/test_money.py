"""Billing scenarios about money: discounts, tax, rounding, currencies and prepaid credits.

Every expected number is worked out by hand from docs/billing.md ("Money", "Coupons", "Tax",
"Prepaid credits"): each line rounded once, discounts per coupon and tax code (amount-off
split in proportion, largest remainder), tax per code on the discounted lines rounded once,
total = subtotal + discounts + tax, then prepaid credit lowers the amount due.

Unless a scenario says otherwise: the customer ``acme`` (EUR, UTC, tenant ``t-acme``)
subscribes on 2026-11-01 to a monthly plan, and billing runs have no grace period, so every
invoice issued on or before a run's day is finalized by that run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from revsync.domain.errors import InvalidField
from revsync.ports.billing import InvoiceFilter
from tests.scenarios.harness import Line, Rendered, World, render

NO_GRACE = {"grace_period_hours": 0}
NOVEMBER = "2026-11-01/2026-12-01"
DECEMBER = "2026-12-01/2027-01-01"
JANUARY = "2027-01-01/2027-02-01"


def plan(code: str, *charges: dict[str, Any], currency: str = "EUR") -> dict[str, Any]:
    return {
        "code": code,
        "name": code.title(),
        "currency": currency,
        "interval": "month",
        "charges": list(charges),
    }


def fee(
    amount: str, key: str = "platform", description: str = "Platform fee", **extra: Any
) -> dict[str, Any]:
    return {
        "key": key,
        "model": "flat",
        "description": description,
        "timing": "in_advance",
        "amount": amount,
        **extra,
    }


def per_call(amount: str) -> dict[str, Any]:
    return {
        "key": "calls",
        "model": "per_unit",
        "description": "API calls",
        "meter": "api_calls",
        "amount": amount,
    }


#: 99.00 a month in advance, 0.01 per API call in arrears
PRO = plan("pro", fee("99.00"), per_call("0.01"))
#: 0.01 per API call in arrears, nothing in advance
METERED = plan("metered", per_call("0.01"))
#: 99.00 a month in advance and nothing else
FLAT = plan("flat", fee("99.00"))

COUPONS = [
    {
        "code": "WELCOME10",
        "description": "Welcome 10% off",
        "duration": "once",
        "percent_off": "10",
    },
    {
        "code": "LAUNCH20",
        "description": "Launch 20% off",
        "duration": "repeating",
        "periods": 2,
        "percent_off": "20",
    },
    {
        "code": "PARTNER5",
        "description": "Partner 5% off",
        "duration": "forever",
        "percent_off": "5",
    },
    {
        "code": "MINUS15",
        "description": "15 EUR off",
        "duration": "forever",
        "amount_off": "15.00",
        "currency": "EUR",
    },
    {
        "code": "BIG200",
        "description": "200 EUR off",
        "duration": "once",
        "amount_off": "200.00",
        "currency": "EUR",
    },
    {
        "code": "TENOFF",
        "description": "10 EUR off",
        "duration": "once",
        "amount_off": "10.00",
        "currency": "EUR",
    },
]


def usage(w: World, tenant: str, day: str, api_calls: int) -> None:
    """``api_calls`` calls at noon on ``day``."""
    w.at(f"{day}T13:00:00Z").usage(tenant, "api.request", f"{day}T12:00:00Z", times=api_calls)


def totals(
    subtotal: str, discount: str, tax: str, total: str, credits: str, due: str
) -> tuple[str, ...]:
    return (subtotal, discount, tax, total, credits, due)


def platform_fee(amount: str = "99.00") -> Line:
    return ("fee:platform", "Platform fee", "1", amount, amount)


def calls_line(period_start: str, quantity: str, amount: str, unit: str = "0.01") -> Line:
    return (f"usage:calls:{period_start}", "API calls", quantity, unit, amount)


def wallet(w: World, customer_id: str) -> list[tuple[str, str | None, str]]:
    """(granted on, expires on, remaining) of each grant, by grant date."""
    grants = w.container.credits.wallet(customer_id).grants
    return sorted(
        (
            g.granted_on.isoformat(),
            g.expires_on.isoformat() if g.expires_on else None,
            str(g.remaining),
        )
        for g in grants
    )


# --- discounts --------------------------------------------------------------------------


def test_percent_off_once_discounts_every_invoice_of_the_first_period_only(
    world: Callable[..., World],
) -> None:
    w = world(plans=[PRO], coupons=COUPONS, start="2026-11-01T08:00:00Z", billing=NO_GRACE)
    w.customer("acme")
    w.subscribe("s1", "acme", "pro", "2026-11-01", coupons=[("WELCOME10", "2026-11-01")])
    usage(w, "t-acme", "2026-11-20", 1250)
    usage(w, "t-acme", "2026-12-20", 800)
    w.at("2027-01-01T09:00:00Z").bill("2027-01-01")
    assert w.invoices("s1") == [
        Rendered(
            "advance",
            NOVEMBER,
            "finalized",
            "INV-000001",
            # 10% of 99.00 = 9.90
            (
                platform_fee(),
                ("discount:WELCOME10:standard", "Welcome 10% off", "1", "-9.90", "-9.90"),
            ),
            totals=totals("99.00", "-9.90", "0.00", "89.10", "0.00", "89.10"),
        ),
        Rendered(
            "arrears",
            NOVEMBER,
            "finalized",
            "INV-000003",
            # 10% of 12.50 = 1.25
            (
                calls_line("2026-11-01", "1250", "12.50"),
                ("discount:WELCOME10:standard", "Welcome 10% off", "1", "-1.25", "-1.25"),
            ),
            totals=totals("12.50", "-1.25", "0.00", "11.25", "0.00", "11.25"),
        ),
        Rendered(
            "advance",
            DECEMBER,
            "finalized",
            "INV-000002",
            (platform_fee(),),
            totals=totals("99.00", "0.00", "0.00", "99.00", "0.00", "99.00"),
        ),
        Rendered(
            "arrears",
            DECEMBER,
            "finalized",
            "INV-000005",
            (calls_line("2026-12-01", "800", "8.00"),),
            totals=totals("8.00", "0.00", "0.00", "8.00", "0.00", "8.00"),
        ),
        Rendered(
            "advance",
            JANUARY,
            "finalized",
            "INV-000004",
            (platform_fee(),),
            totals=totals("99.00", "0.00", "0.00", "99.00", "0.00", "99.00"),
        ),
    ]


def test_percent_off_repeating_discounts_only_the_first_n_periods(
    world: Callable[..., World],
) -> None:
    w = world(plans=[PRO], coupons=COUPONS, start="2026-11-01T08:00:00Z", billing=NO_GRACE)
    w.customer("acme")
    w.subscribe("s1", "acme", "pro", "2026-11-01", coupons=[("LAUNCH20", "2026-11-01")])
    usage(w, "t-acme", "2026-11-20", 1250)
    usage(w, "t-acme", "2026-12-20", 800)
    w.at("2027-01-01T09:00:00Z").bill("2027-01-01")
    launch = "Launch 20% off"
    assert w.invoices("s1") == [
        Rendered(
            "advance",
            NOVEMBER,
            "finalized",
            "INV-000001",
            (platform_fee(), ("discount:LAUNCH20:standard", launch, "1", "-19.80", "-19.80")),
            totals=totals("99.00", "-19.80", "0.00", "79.20", "0.00", "79.20"),
        ),
        Rendered(
            "arrears",
            NOVEMBER,
            "finalized",
            "INV-000003",
            (
                calls_line("2026-11-01", "1250", "12.50"),
                ("discount:LAUNCH20:standard", launch, "1", "-2.50", "-2.50"),
            ),
            totals=totals("12.50", "-2.50", "0.00", "10.00", "0.00", "10.00"),
        ),
        Rendered(
            "advance",
            DECEMBER,
            "finalized",
            "INV-000002",
            (platform_fee(), ("discount:LAUNCH20:standard", launch, "1", "-19.80", "-19.80")),
            totals=totals("99.00", "-19.80", "0.00", "79.20", "0.00", "79.20"),
        ),
        Rendered(
            "arrears",
            DECEMBER,
            "finalized",
            "INV-000005",
            # 20% of 8.00 = 1.60
            (
                calls_line("2026-12-01", "800", "8.00"),
                ("discount:LAUNCH20:standard", launch, "1", "-1.60", "-1.60"),
            ),
            totals=totals("8.00", "-1.60", "0.00", "6.40", "0.00", "6.40"),
        ),
        Rendered(
            "advance",
            JANUARY,
            "finalized",
            "INV-000004",
            # the third period is not covered
            (platform_fee(),),
            totals=totals("99.00", "0.00", "0.00", "99.00", "0.00", "99.00"),
        ),
    ]


def test_percent_off_forever_discounts_every_period_and_rounds_once_per_line(
    world: Callable[..., World],
) -> None:
    w = world(plans=[PRO], coupons=COUPONS, start="2026-11-01T08:00:00Z", billing=NO_GRACE)
    w.customer("acme")
    w.subscribe("s1", "acme", "pro", "2026-11-01", coupons=[("PARTNER5", "2026-11-01")])
    usage(w, "t-acme", "2026-11-20", 1250)
    w.at("2027-01-01T09:00:00Z").bill("2027-01-01")
    partner = ("discount:PARTNER5:standard", "Partner 5% off", "1", "-4.95", "-4.95")
    discounted_fee = totals("99.00", "-4.95", "0.00", "94.05", "0.00", "94.05")
    assert w.invoices("s1") == [
        Rendered(
            "advance",
            NOVEMBER,
            "finalized",
            "INV-000001",
            (platform_fee(), partner),
            totals=discounted_fee,
        ),
        Rendered(
            "arrears",
            NOVEMBER,
            "finalized",
            "INV-000003",
            # 5% of 12.50 = 0.625 → 0.62 (half-even)
            (
                calls_line("2026-11-01", "1250", "12.50"),
                ("discount:PARTNER5:standard", "Partner 5% off", "1", "-0.62", "-0.62"),
            ),
            totals=totals("12.50", "-0.62", "0.00", "11.88", "0.00", "11.88"),
        ),
        Rendered(
            "advance",
            DECEMBER,
            "finalized",
            "INV-000002",
            (platform_fee(), partner),
            totals=discounted_fee,
        ),
        Rendered(
            "arrears",
            DECEMBER,
            "finalized",
            "INV-000005",
            # nothing to discount on a zero invoice: no discount line
            (calls_line("2026-12-01", "0", "0.00"),),
            totals=totals("0.00", "0.00", "0.00", "0.00", "0.00", "0.00"),
        ),
        Rendered(
            "advance",
            JANUARY,
            "finalized",
            "INV-000004",
            (platform_fee(), partner),
            totals=discounted_fee,
        ),
    ]


def test_amount_off_is_taken_once_per_period_on_the_advance_invoice_when_the_plan_has_fees_in_advance(
    world: Callable[..., World],
) -> None:
    w = world(plans=[PRO], coupons=COUPONS, start="2026-11-01T08:00:00Z", billing=NO_GRACE)
    w.customer("acme")
    w.subscribe("s1", "acme", "pro", "2026-11-01", coupons=[("MINUS15", "2026-11-01")])
    usage(w, "t-acme", "2026-11-20", 1250)
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    minus15 = ("discount:MINUS15:standard", "15 EUR off", "1", "-15.00", "-15.00")
    assert w.invoices("s1") == [
        Rendered(
            "advance",
            NOVEMBER,
            "finalized",
            "INV-000001",
            (platform_fee(), minus15),
            totals=totals("99.00", "-15.00", "0.00", "84.00", "0.00", "84.00"),
        ),
        Rendered(
            "arrears",
            NOVEMBER,
            "finalized",
            "INV-000003",
            (calls_line("2026-11-01", "1250", "12.50"),),  # not a second time
            totals=totals("12.50", "0.00", "0.00", "12.50", "0.00", "12.50"),
        ),
        Rendered(
            "advance",
            DECEMBER,
            "finalized",
            "INV-000002",
            (platform_fee(), minus15),
            totals=totals("99.00", "-15.00", "0.00", "84.00", "0.00", "84.00"),
        ),
    ]


def test_amount_off_goes_on_the_arrears_invoice_when_the_plan_has_nothing_in_advance(
    world: Callable[..., World],
) -> None:
    w = world(plans=[METERED], coupons=COUPONS, start="2026-11-01T08:00:00Z", billing=NO_GRACE)
    w.customer("acme")
    w.subscribe("s1", "acme", "metered", "2026-11-01", coupons=[("MINUS15", "2026-11-01")])
    usage(w, "t-acme", "2026-11-20", 2500)
    usage(w, "t-acme", "2026-12-20", 1800)
    w.at("2027-01-01T09:00:00Z").bill("2027-01-01")
    minus15 = ("discount:MINUS15:standard", "15 EUR off", "1", "-15.00", "-15.00")
    assert w.invoices("s1") == [
        Rendered(
            "arrears",
            NOVEMBER,
            "finalized",
            "INV-000001",
            (calls_line("2026-11-01", "2500", "25.00"), minus15),
            totals=totals("25.00", "-15.00", "0.00", "10.00", "0.00", "10.00"),
        ),
        Rendered(
            "arrears",
            DECEMBER,
            "finalized",
            "INV-000002",
            (calls_line("2026-12-01", "1800", "18.00"), minus15),
            totals=totals("18.00", "-15.00", "0.00", "3.00", "0.00", "3.00"),
        ),
    ]


def test_an_amount_off_covers_a_yearly_plan_with_monthly_usage_once_a_year(
    world: Callable[..., World],
) -> None:
    """Found in review: the 15.00 off per (yearly) recurring period was taken on every monthly
    arrears invoice. Each takes what the months before it in the year left; one run billing
    two months counts the first as well."""
    yearly = {**METERED, "code": "metered-year", "interval": "year", "usage_interval": "month"}
    w = world(plans=[yearly], coupons=COUPONS, start="2026-11-01T08:00:00Z", billing=NO_GRACE)
    w.customer("acme")
    w.subscribe("s1", "acme", "metered-year", "2026-11-01", coupons=[("MINUS15", "2026-11-01")])
    usage(w, "t-acme", "2026-11-20", 500)
    usage(w, "t-acme", "2026-12-20", 2000)
    usage(w, "t-acme", "2027-01-20", 2000)
    w.at("2027-01-01T09:00:00Z").bill("2027-01-01")  # November and December in one run
    w.at("2027-02-01T09:00:00Z").bill("2027-02-01")
    off = "15 EUR off"
    assert w.invoices("s1") == [
        Rendered(
            "arrears",
            NOVEMBER,
            "finalized",
            "INV-000001",
            # 5.00 of the 15.00 (the invoice's amount)
            (
                calls_line("2026-11-01", "500", "5.00"),
                ("discount:MINUS15:standard", off, "1", "-5.00", "-5.00"),
            ),
            totals=totals("5.00", "-5.00", "0.00", "0.00", "0.00", "0.00"),
        ),
        Rendered(
            "arrears",
            DECEMBER,
            "finalized",
            "INV-000002",
            # the 10.00 November left
            (
                calls_line("2026-12-01", "2000", "20.00"),
                ("discount:MINUS15:standard", off, "1", "-10.00", "-10.00"),
            ),
            totals=totals("20.00", "-10.00", "0.00", "10.00", "0.00", "10.00"),
        ),
        Rendered(
            "arrears",
            "2027-01-01/2027-02-01",
            "finalized",
            "INV-000003",
            # nothing left this year (until 1 November 2027)
            (calls_line("2027-01-01", "2000", "20.00"),),
            totals=totals("20.00", "0.00", "0.00", "20.00", "0.00", "20.00"),
        ),
    ]


def test_amount_off_larger_than_the_invoice_is_capped_at_its_total(
    world: Callable[..., World],
) -> None:
    w = world(plans=[PRO], coupons=COUPONS, start="2026-11-01T08:00:00Z", billing=NO_GRACE)
    w.customer("acme")
    w.subscribe("s1", "acme", "pro", "2026-11-01", coupons=[("BIG200", "2026-11-01")])
    usage(w, "t-acme", "2026-11-20", 1250)
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    assert w.invoices("s1") == [
        Rendered(
            "advance",
            NOVEMBER,
            "finalized",
            "INV-000001",
            # 200.00 off a 99.00 invoice: 99.00 off, a zero total (never negative)
            (platform_fee(), ("discount:BIG200:standard", "200 EUR off", "1", "-99.00", "-99.00")),
            totals=totals("99.00", "-99.00", "0.00", "0.00", "0.00", "0.00"),
        ),
        Rendered(
            "arrears",
            NOVEMBER,
            "finalized",
            "INV-000003",
            # an amount-off is taken once per period, on the advance invoice: the rest is not
            # carried to the arrears invoice
            (calls_line("2026-11-01", "1250", "12.50"),),
            totals=totals("12.50", "0.00", "0.00", "12.50", "0.00", "12.50"),
        ),
        Rendered(
            "advance",
            DECEMBER,
            "finalized",
            "INV-000002",
            (platform_fee(),),
            totals=totals("99.00", "0.00", "0.00", "99.00", "0.00", "99.00"),
        ),
    ]


def test_amount_off_is_split_across_two_tax_codes_in_proportion(
    world: Callable[..., World],
) -> None:
    bundle = plan(
        "bundle",
        fee("100.00"),
        fee("50.00", key="training", description="Training", tax_code="reduced"),
    )
    w = world(
        plans=[bundle],
        coupons=COUPONS,
        tax={"FR": {"standard": "20", "reduced": "5.5"}},
        start="2026-11-01T08:00:00Z",
        billing=NO_GRACE,
    )
    w.customer("acme", country="FR")
    w.subscribe("s1", "acme", "bundle", "2026-11-01", coupons=[("TENOFF", "2026-11-01")])
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    assert w.invoices("s1") == [
        Rendered(
            "advance",
            NOVEMBER,
            "finalized",
            "INV-000001",
            # 10.00 split 100 : 50 → 6.666… and 3.333…: 6.66 + 3.33 = 9.99, and the cent left
            # goes to the largest remainder (standard) → 6.67 and 3.33
            (
                ("fee:platform", "Platform fee", "1", "100.00", "100.00"),
                ("fee:training", "Training", "1", "50.00", "50.00"),
                ("discount:TENOFF:reduced", "10 EUR off", "1", "-3.33", "-3.33"),
                ("discount:TENOFF:standard", "10 EUR off", "1", "-6.67", "-6.67"),
            ),
            # reduced: 46.67 × 5.5% = 2.56685 → 2.57; standard: 93.33 × 20% = 18.666 → 18.67
            taxes=(("reduced", "5.5", "46.67", "2.57"), ("standard", "20", "93.33", "18.67")),
            totals=totals("150.00", "-10.00", "21.24", "161.24", "0.00", "161.24"),
        ),
        Rendered(
            "advance",
            DECEMBER,
            "finalized",
            "INV-000002",
            (
                ("fee:platform", "Platform fee", "1", "100.00", "100.00"),
                ("fee:training", "Training", "1", "50.00", "50.00"),
            ),
            taxes=(("reduced", "5.5", "50.00", "2.75"), ("standard", "20", "100.00", "20.00")),
            totals=totals("150.00", "0.00", "22.75", "172.75", "0.00", "172.75"),
        ),
    ]


# --- tax --------------------------------------------------------------------------------


def test_a_french_customer_pays_20_percent(world: Callable[..., World]) -> None:
    w = world(
        plans=[PRO], tax={"FR": {"standard": "20"}}, start="2026-11-01T08:00:00Z", billing=NO_GRACE
    )
    w.customer("acme", country="FR")
    w.subscribe("s1", "acme", "pro", "2026-11-01")
    usage(w, "t-acme", "2026-11-20", 1250)
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    advance_tax = (("standard", "20", "99.00", "19.80"),)
    advance_totals = totals("99.00", "0.00", "19.80", "118.80", "0.00", "118.80")
    assert w.invoices("s1") == [
        Rendered(
            "advance",
            NOVEMBER,
            "finalized",
            "INV-000001",
            (platform_fee(),),
            advance_tax,
            advance_totals,
        ),
        Rendered(
            "arrears",
            NOVEMBER,
            "finalized",
            "INV-000003",
            (calls_line("2026-11-01", "1250", "12.50"),),
            (("standard", "20", "12.50", "2.50"),),
            totals("12.50", "0.00", "2.50", "15.00", "0.00", "15.00"),
        ),
        Rendered(
            "advance",
            DECEMBER,
            "finalized",
            "INV-000002",
            (platform_fee(),),
            advance_tax,
            advance_totals,
        ),
    ]


def test_a_customer_in_a_country_with_two_tax_codes_pays_each_rate_rounded_once_per_code(
    world: Callable[..., World],
) -> None:
    bundle = plan(
        "bundle",
        fee("99.00"),
        fee("45.50", key="training", description="Training", tax_code="reduced"),
    )
    w = world(
        plans=[bundle],
        tax={"DE": {"standard": "19", "reduced": "7"}, "FR": {"standard": "20", "reduced": "5.5"}},
        start="2026-11-01T08:00:00Z",
        billing=NO_GRACE,
    )
    w.customer("acme", country="DE")
    w.subscribe("s1", "acme", "bundle", "2026-11-01")
    w.at("2026-11-01T09:00:00Z").bill("2026-11-01")
    assert w.invoices("s1") == [
        Rendered(
            "advance",
            NOVEMBER,
            "finalized",
            "INV-000001",
            (
                ("fee:platform", "Platform fee", "1", "99.00", "99.00"),
                ("fee:training", "Training", "1", "45.50", "45.50"),
            ),
            # reduced: 45.50 × 7% = 3.185 → 3.18 (half-even); standard: 99.00 × 19% = 18.81
            (("reduced", "7", "45.50", "3.18"), ("standard", "19", "99.00", "18.81")),
            totals("144.50", "0.00", "21.99", "166.49", "0.00", "166.49"),
        ),
    ]


def test_an_exempt_customer_gets_no_tax_lines(world: Callable[..., World]) -> None:
    w = world(
        plans=[PRO], tax={"FR": {"standard": "20"}}, start="2026-11-01T08:00:00Z", billing=NO_GRACE
    )
    w.customer("acme", country="FR", exempt=True)
    w.subscribe("s1", "acme", "pro", "2026-11-01")
    usage(w, "t-acme", "2026-11-20", 1250)
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    fee_totals = totals("99.00", "0.00", "0.00", "99.00", "0.00", "99.00")
    assert w.invoices("s1") == [
        Rendered("advance", NOVEMBER, "finalized", "INV-000001", (platform_fee(),), (), fee_totals),
        Rendered(
            "arrears",
            NOVEMBER,
            "finalized",
            "INV-000003",
            (calls_line("2026-11-01", "1250", "12.50"),),
            (),
            totals("12.50", "0.00", "0.00", "12.50", "0.00", "12.50"),
        ),
        Rendered("advance", DECEMBER, "finalized", "INV-000002", (platform_fee(),), (), fee_totals),
    ]


def test_a_customer_without_a_country_is_an_error_while_a_tax_table_is_configured(
    world: Callable[..., World],
) -> None:
    w = world(
        plans=[FLAT], tax={"FR": {"standard": "20"}}, start="2026-11-01T08:00:00Z", billing=NO_GRACE
    )
    w.customer("acme")  # no country
    w.customer("beta", country="FR")
    w.subscribe("s1", "acme", "flat", "2026-11-01")
    w.subscribe("s2", "beta", "flat", "2026-11-01")
    report = w.at("2026-11-01T09:00:00Z").bill("2026-11-01")
    assert [e.subscription_id for e in report.errors] == ["s1"]
    assert "advance" in report.errors[0].reason and NOVEMBER in report.errors[0].reason
    assert "country" in report.errors[0].reason
    # acme's invoice is not made; beta's is made and takes the first number
    assert w.invoices("s1") == []
    taxed = (("standard", "20", "99.00", "19.80"),)
    taxed_totals = totals("99.00", "0.00", "19.80", "118.80", "0.00", "118.80")
    assert w.invoices("s2") == [
        Rendered(
            "advance", NOVEMBER, "finalized", "INV-000001", (platform_fee(),), taxed, taxed_totals
        )
    ]
    # once the country is known, the next run makes the invoice
    w.customer("acme", country="FR")
    again = w.at("2026-11-02T09:00:00Z").bill("2026-11-02")
    assert again.errors == []
    assert w.invoices("s1") == [
        Rendered(
            "advance", NOVEMBER, "finalized", "INV-000002", (platform_fee(),), taxed, taxed_totals
        )
    ]


# --- rounding ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rounding", "prorated", "usage_amount"),
    [
        # 30.05 × 15/30 = 15.025 → 15.02 (half-even) / 15.03 (half-up)
        # 101 × 0.005 = 0.505 → 0.50 (half-even) / 0.51 (half-up)
        pytest.param(None, "15.02", "0.50", id="half_even-by-default"),
        pytest.param("half_up", "15.03", "0.51", id="half_up"),
    ],
)
def test_the_rounding_rule_is_applied_once_per_line(
    world: Callable[..., World], rounding: str | None, prorated: str, usage_amount: str
) -> None:
    fine = plan("fine", fee("30.05"), per_call("0.005"))
    billing = NO_GRACE if rounding is None else {**NO_GRACE, "rounding": rounding}
    w = world(plans=[fine], start="2026-11-16T08:00:00Z", billing=billing)
    w.customer("acme")
    w.subscribe("s1", "acme", "fine", "2026-11-16", anchor="2026-11-01")
    usage(w, "t-acme", "2026-11-20", 101)
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    assert w.invoices("s1") == [
        Rendered(
            "advance",
            NOVEMBER,
            "finalized",
            "INV-000001",
            (("fee:platform", "Platform fee (prorated 15/30 days)", "1", "30.05", prorated),),
            totals=totals(prorated, "0.00", "0.00", prorated, "0.00", prorated),
        ),
        Rendered(
            "arrears",
            NOVEMBER,
            "finalized",
            "INV-000003",
            (calls_line("2026-11-16", "101", usage_amount, unit="0.005"),),
            totals=totals(usage_amount, "0.00", "0.00", usage_amount, "0.00", usage_amount),
        ),
        Rendered(
            "advance",
            DECEMBER,
            "finalized",
            "INV-000002",
            (platform_fee("30.05"),),
            totals=totals("30.05", "0.00", "0.00", "30.05", "0.00", "30.05"),
        ),
    ]


# --- currencies -------------------------------------------------------------------------


def test_an_eur_and_a_jpy_customer_billed_in_the_same_run(world: Callable[..., World]) -> None:
    pro_jpy = plan("pro-jpy", fee("9800"), per_call("1.5"), currency="JPY")
    w = world(plans=[PRO, pro_jpy], start="2026-11-01T08:00:00Z", billing=NO_GRACE)
    w.customer("acme", currency="EUR")
    w.customer("kaito", currency="JPY", timezone="UTC")
    w.subscribe("s1", "acme", "pro", "2026-11-01")
    w.subscribe("s2", "kaito", "pro-jpy", "2026-11-01")
    usage(w, "t-acme", "2026-11-20", 1250)
    usage(w, "t-kaito", "2026-11-20", 7)
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    # one number series for the run, in (issue date, customer, kind) order
    assert w.invoices("s1") == [
        Rendered(
            "advance",
            NOVEMBER,
            "finalized",
            "INV-000001",
            (platform_fee(),),
            totals=totals("99.00", "0.00", "0.00", "99.00", "0.00", "99.00"),
        ),
        Rendered(
            "arrears",
            NOVEMBER,
            "finalized",
            "INV-000004",
            (calls_line("2026-11-01", "1250", "12.50"),),
            totals=totals("12.50", "0.00", "0.00", "12.50", "0.00", "12.50"),
        ),
        Rendered(
            "advance",
            DECEMBER,
            "finalized",
            "INV-000003",
            (platform_fee(),),
            totals=totals("99.00", "0.00", "0.00", "99.00", "0.00", "99.00"),
        ),
    ]
    assert w.invoices("s2") == [
        Rendered(
            "advance",
            NOVEMBER,
            "finalized",
            "INV-000002",
            (("fee:platform", "Platform fee", "1", "9800", "9800"),),
            totals=totals("9800", "0", "0", "9800", "0", "9800"),
        ),
        Rendered(
            "arrears",
            NOVEMBER,
            "finalized",
            "INV-000006",
            # JPY has no minor unit: 7 × 1.5 = 10.5 → 10 (half-even)
            (calls_line("2026-11-01", "7", "10", unit="1.5"),),
            totals=totals("10", "0", "0", "10", "0", "10"),
        ),
        Rendered(
            "advance",
            DECEMBER,
            "finalized",
            "INV-000005",
            (("fee:platform", "Platform fee", "1", "9800", "9800"),),
            totals=totals("9800", "0", "0", "9800", "0", "9800"),
        ),
    ]


# --- prepaid credits --------------------------------------------------------------------


def test_a_grant_is_applied_when_the_invoice_is_finalized(world: Callable[..., World]) -> None:
    w = world(plans=[FLAT], start="2026-11-01T08:00:00Z", billing=NO_GRACE)
    w.customer("acme")
    w.credit("acme", "50.00")
    w.subscribe("s1", "acme", "flat", "2026-11-01")
    w.at("2026-11-01T09:00:00Z").bill("2026-11-01")
    assert w.invoices("s1") == [
        Rendered(
            "advance",
            NOVEMBER,
            "finalized",
            "INV-000001",
            (platform_fee(),),
            totals=totals("99.00", "0.00", "0.00", "99.00", "50.00", "49.00"),
        )
    ]
    assert wallet(w, "acme") == [("2026-11-01", None, "0.00")]


def test_a_grant_larger_than_an_invoice_carries_over_to_the_next(
    world: Callable[..., World],
) -> None:
    w = world(plans=[FLAT], start="2026-11-01T08:00:00Z", billing=NO_GRACE)
    w.customer("acme")
    w.credit("acme", "150.00")
    w.subscribe("s1", "acme", "flat", "2026-11-01")
    w.at("2026-11-01T09:00:00Z").bill("2026-11-01")
    assert wallet(w, "acme") == [("2026-11-01", None, "51.00")]
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    assert w.invoices("s1") == [
        Rendered(
            "advance",
            NOVEMBER,
            "finalized",
            "INV-000001",
            (platform_fee(),),
            totals=totals("99.00", "0.00", "0.00", "99.00", "99.00", "0.00"),
        ),
        Rendered(
            "advance",
            DECEMBER,
            "finalized",
            "INV-000002",
            (platform_fee(),),
            totals=totals("99.00", "0.00", "0.00", "99.00", "51.00", "48.00"),
        ),
    ]
    assert wallet(w, "acme") == [("2026-11-01", None, "0.00")]


def test_an_expired_grant_is_not_used(world: Callable[..., World]) -> None:
    w = world(plans=[FLAT], start="2026-11-01T08:00:00Z", billing=NO_GRACE)
    w.customer("acme")
    w.credit("acme", "30.00", granted_on="2026-10-01", expires_on="2026-10-31")
    w.credit("acme", "20.00", granted_on="2026-10-15")
    w.subscribe("s1", "acme", "flat", "2026-11-01")
    w.at("2026-11-01T09:00:00Z").bill("2026-11-01")
    assert w.invoices("s1") == [
        Rendered(
            "advance",
            NOVEMBER,
            "finalized",
            "INV-000001",
            (platform_fee(),),
            totals=totals("99.00", "0.00", "0.00", "99.00", "20.00", "79.00"),
        )
    ]
    assert wallet(w, "acme") == [
        ("2026-10-01", "2026-10-31", "30.00"),
        ("2026-10-15", None, "0.00"),
    ]


def test_grants_are_used_soonest_expiry_first_and_grants_without_expiry_last(
    world: Callable[..., World],
) -> None:
    w = world(plans=[FLAT], start="2026-11-01T08:00:00Z", billing=NO_GRACE)
    w.customer("acme")
    w.credit("acme", "100.00", granted_on="2026-09-01")  # never expires
    w.credit("acme", "40.00", granted_on="2026-10-01", expires_on="2027-06-30")
    w.credit("acme", "80.00", granted_on="2026-10-15", expires_on="2026-12-31")
    w.subscribe("s1", "acme", "flat", "2026-11-01")
    w.at("2026-11-01T09:00:00Z").bill("2026-11-01")
    # November: 80.00 from the grant expiring on 31 December, 19.00 from the one of June 2027
    assert wallet(w, "acme") == [
        ("2026-09-01", None, "100.00"),
        ("2026-10-01", "2027-06-30", "21.00"),
        ("2026-10-15", "2026-12-31", "0.00"),
    ]
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    # December: the 21.00 left of the June grant, then 78.00 from the grant without expiry
    assert wallet(w, "acme") == [
        ("2026-09-01", None, "22.00"),
        ("2026-10-01", "2027-06-30", "0.00"),
        ("2026-10-15", "2026-12-31", "0.00"),
    ]
    paid_by_credit = totals("99.00", "0.00", "0.00", "99.00", "99.00", "0.00")
    assert w.invoices("s1") == [
        Rendered(
            "advance", NOVEMBER, "finalized", "INV-000001", (platform_fee(),), totals=paid_by_credit
        ),
        Rendered(
            "advance", DECEMBER, "finalized", "INV-000002", (platform_fee(),), totals=paid_by_credit
        ),
    ]


def test_voiding_an_invoice_issues_a_credit_note_and_gives_the_prepaid_credit_back(
    world: Callable[..., World],
) -> None:
    w = world(
        plans=[FLAT], tax={"FR": {"standard": "20"}}, start="2026-11-01T08:00:00Z", billing=NO_GRACE
    )
    w.customer("acme", country="FR")
    w.credit("acme", "50.00")
    w.subscribe("s1", "acme", "flat", "2026-11-01")
    w.at("2026-11-01T09:00:00Z").bill("2026-11-01")
    taxed = (("standard", "20", "99.00", "19.80"),)
    billed = Rendered(
        "advance",
        NOVEMBER,
        "finalized",
        "INV-000001",
        (platform_fee(),),
        taxed,
        totals("99.00", "0.00", "19.80", "118.80", "50.00", "68.80"),
    )
    assert w.invoices("s1") == [billed]
    assert wallet(w, "acme") == [("2026-11-01", None, "0.00")]

    (invoice,) = w.raw_invoices("s1")
    note = w.at("2026-11-05T10:00:00Z").container.billing.void(
        invoice.id, "ordered by mistake", "scenario"
    )

    assert note.credits_invoice == invoice.id
    assert note.issue_date == date(2026, 11, 5)
    assert wallet(w, "acme") == [("2026-11-01", None, "50.00")]
    # the voided invoice keeps what it said, and is not billed again
    assert w.invoices("s1") == [Rendered(**{**billed.__dict__, "status": "void"})]

    # the credit given back pays the next invoice
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    assert w.invoices("s1")[-1] == Rendered(
        "advance",
        DECEMBER,
        "finalized",
        "INV-000002",
        (platform_fee(),),
        taxed,
        totals("99.00", "0.00", "19.80", "118.80", "50.00", "68.80"),
    )
    assert wallet(w, "acme") == [("2026-11-01", None, "0.00")]

    # The credit note reverses the whole invoice, lines and tax. Of the 118.80, 50.00 were
    # paid with prepaid credit, and the void gave those back to the wallet: so the note shows
    # them as credits (−50.00) and owes the customer only the 68.80 that was due in money.
    # Otherwise the customer would get the 50.00 back twice: in the wallet and on the note.
    expected_note = Rendered(
        "credit_note",
        NOVEMBER,
        "finalized",
        "CN-000001",
        (("credit:fee:platform", "Credit: Platform fee", "1", "-99.00", "-99.00"),),
        (("standard", "20", "-99.00", "-19.80"),),
        totals("-99.00", "0.00", "-19.80", "-118.80", "-50.00", "-68.80"),
    )
    assert [
        render(i)
        for i in w.container.billing.invoices(
            InvoiceFilter(customer_id="acme"), after=None, limit=10
        )
        if i.kind.value == "credit_note"
    ] == [expected_note]
    assert render(note) == expected_note


def test_voiding_a_discounted_invoice_mirrors_its_subtotal_discount_and_tax(
    world: Callable[..., World],
) -> None:
    w = world(
        plans=[FLAT],
        coupons=COUPONS,
        tax={"FR": {"standard": "20"}},
        start="2026-11-01T08:00:00Z",
        billing=NO_GRACE,
    )
    w.customer("acme", country="FR")
    w.subscribe("s1", "acme", "flat", "2026-11-01", coupons=[("WELCOME10", "2026-11-01")])
    w.at("2026-11-01T09:00:00Z").bill("2026-11-01")
    # 99.00 − 9.90 = 89.10; tax 20% = 17.82; total 106.92
    assert w.invoices("s1") == [
        Rendered(
            "advance",
            NOVEMBER,
            "finalized",
            "INV-000001",
            (
                platform_fee(),
                ("discount:WELCOME10:standard", "Welcome 10% off", "1", "-9.90", "-9.90"),
            ),
            (("standard", "20", "89.10", "17.82"),),
            totals("99.00", "-9.90", "17.82", "106.92", "0.00", "106.92"),
        )
    ]
    (invoice,) = w.raw_invoices("s1")
    note = w.at("2026-11-05T10:00:00Z").container.billing.void(invoice.id, "duplicate", "scenario")
    # the credit note is the invoice's mirror image: −99.00 of charges, +9.90 of discount
    # taken back, −17.82 of tax; its discount total is the reversed discount, not 0.00 with
    # the discount folded into the subtotal
    assert render(note) == Rendered(
        "credit_note",
        NOVEMBER,
        "finalized",
        "CN-000001",
        (
            ("credit:fee:platform", "Credit: Platform fee", "1", "-99.00", "-99.00"),
            ("credit:discount:WELCOME10:standard", "Credit: Welcome 10% off", "1", "9.90", "9.90"),
        ),
        (("standard", "20", "-89.10", "-17.82"),),
        totals("-99.00", "9.90", "-17.82", "-106.92", "0.00", "-106.92"),
    )


def test_credits_in_another_currency_are_not_used(world: Callable[..., World]) -> None:
    w = world(plans=[FLAT], start="2026-11-01T08:00:00Z", billing=NO_GRACE)
    w.customer("acme")
    w.credit("acme", "500.00", currency="USD")
    w.subscribe("s1", "acme", "flat", "2026-11-01")
    w.at("2026-11-01T09:00:00Z").bill("2026-11-01")
    assert w.invoices("s1")[0].totals == totals("99.00", "0.00", "0.00", "99.00", "0.00", "99.00")
    assert wallet(w, "acme") == [("2026-11-01", None, "500.00")]


def test_partial_credits_then_a_void_credit_exactly_the_invoice_total(
    world: Callable[..., World],
) -> None:
    w = world(
        plans=[FLAT], tax={"FR": {"standard": "20"}}, start="2026-11-01T08:00:00Z", billing=NO_GRACE
    )
    w.customer("acme", country="FR")
    w.subscribe("s1", "acme", "flat", "2026-11-01")
    w.at("2026-11-01T09:00:00Z").bill("2026-11-01")
    (invoice,) = w.raw_invoices("s1")
    assert invoice.totals.total == Decimal("118.80")  # 99.00 + 20% tax
    billing = w.at("2026-11-05T10:00:00Z").container.billing
    goodwill = billing.credit(invoice.id, {"fee:platform": Decimal("30.00")}, "goodwill", "ops")
    assert render(goodwill) == Rendered(
        "credit_note",
        NOVEMBER,
        "finalized",
        "CN-000001",
        (("credit:fee:platform", "Credit: Platform fee", "1", "-30.00", "-30.00"),),
        (("standard", "20", "-30.00", "-6.00"),),
        totals("-30.00", "0.00", "-6.00", "-36.00", "0.00", "-36.00"),
    )
    # 69.00 of the line is left to credit
    with pytest.raises(InvalidField) as refused:
        billing.credit(invoice.id, {"fee:platform": Decimal("69.01")}, "again", "ops")
    assert refused.value.field == "lines.fee:platform"
    assert "at most 69.00" in refused.value.reason
    # voiding credits what is left, line and tax
    rest = billing.void(invoice.id, "cancelled", "ops")
    assert render(rest) == Rendered(
        "credit_note",
        NOVEMBER,
        "finalized",
        "CN-000002",
        (("credit:fee:platform", "Credit: Platform fee", "1", "-69.00", "-69.00"),),
        (("standard", "20", "-69.00", "-13.80"),),
        totals("-69.00", "0.00", "-13.80", "-82.80", "0.00", "-82.80"),
    )
    assert goodwill.totals.total + rest.totals.total == -invoice.totals.total


def test_partial_credits_of_a_discounted_invoice_credit_the_lines_after_the_discount(
    world: Callable[..., World],
) -> None:
    """Found by the golden grid: crediting 40.00 then the rest of a fee discounted 10% credited
    the fee in full beside the discount — 117.10 of a 107.10 invoice."""
    w = world(
        plans=[FLAT],
        coupons=COUPONS,
        tax={"FR": {"standard": "20"}},
        start="2026-11-01T08:00:00Z",
        billing=NO_GRACE,
    )
    w.customer("acme", country="FR")
    w.subscribe("s1", "acme", "flat", "2026-11-01", coupons=[("WELCOME10", "2026-11-01")])
    w.at("2026-11-01T09:00:00Z").bill("2026-11-01")
    (invoice,) = w.raw_invoices("s1")
    # 99.00 − 9.90 = 89.10, + 20% = 17.82: 106.92
    assert invoice.totals.total == Decimal("106.92")
    billing = w.at("2026-11-05T10:00:00Z").container.billing
    first = billing.credit(invoice.id, {"fee:platform": Decimal("40.00")}, "goodwill", "ops")
    assert render(first) == Rendered(
        "credit_note",
        NOVEMBER,
        "finalized",
        "CN-000001",
        (("credit:fee:platform", "Credit: Platform fee", "1", "-40.00", "-40.00"),),
        (("standard", "20", "-40.00", "-8.00"),),
        totals("-40.00", "0.00", "-8.00", "-48.00", "0.00", "-48.00"),
    )
    # the fee is worth 89.10 on the invoice: 49.10 is left to credit, not 59.00
    with pytest.raises(InvalidField) as refused:
        billing.credit(invoice.id, {"fee:platform": Decimal("49.11")}, "again", "ops")
    assert (refused.value.field, refused.value.reason) == (
        "lines.fee:platform",
        "the credit must be more than 0 and at most 49.10 (the line's 89.10 (99.00 less "
        "discounts) less 40.00 credited before)",
    )
    rest = billing.credit(invoice.id, {"fee:platform": Decimal("49.10")}, "the rest", "ops")
    # the last of the code's lines takes the rest of its tax: 17.82 − 8.00
    assert render(rest) == Rendered(
        "credit_note",
        NOVEMBER,
        "finalized",
        "CN-000002",
        (("credit:fee:platform", "Credit: Platform fee", "1", "-49.10", "-49.10"),),
        (("standard", "20", "-49.10", "-9.82"),),
        totals("-49.10", "0.00", "-9.82", "-58.92", "0.00", "-58.92"),
    )
    assert first.totals.total + rest.totals.total == -invoice.totals.total


def test_partial_credits_stay_within_the_total_of_an_invoice_with_a_negative_line(
    world: Callable[..., World],
) -> None:
    """An upgrade on 16 November: the arrears invoice has the unused time on 99.00 (−49.50)
    and the remaining time on 149.00 (+74.50), 25.00 in all. Crediting the charged line in full
    would credit 74.50 of a 25.00 invoice."""
    w = world(
        plans=[FLAT, plan("bigger", fee("149.00"))], start="2026-11-01T08:00:00Z", billing=NO_GRACE
    )
    w.customer("acme")
    w.subscribe("s1", "acme", "flat", "2026-11-01")
    w.at("2026-11-01T09:00:00Z").bill("2026-11-01")
    w.at("2026-11-16T09:00:00Z").amend("s1", "upgrade", "2026-11-16", plan="bigger")
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    arrears = next(i for i in w.raw_invoices("s1") if i.kind == "arrears")
    assert arrears.totals.total == Decimal("25.00")
    billing = w.container.billing
    key = "proration:2026-11-16:v2:platform"
    with pytest.raises(InvalidField) as refused:
        billing.credit(arrears.id, {key: Decimal("74.50")}, "all of it", "ops")
    assert (refused.value.field, refused.value.reason) == (
        "lines",
        "this note would credit 74.50, and with the 0 credited before, more than the invoice's "
        "total 25.00",
    )
    note = billing.credit(arrears.id, {key: Decimal("25.00")}, "the total", "ops")
    assert note.totals.total == Decimal("-25.00")
    with pytest.raises(InvalidField):
        billing.credit(arrears.id, {key: Decimal("0.01")}, "a cent more", "ops")


def test_the_usable_balance_follows_the_customers_calendar(world: Callable[..., World]) -> None:
    w = world(plans=[FLAT], start="2026-11-01T08:00:00Z")
    w.customer("kk", currency="JPY", timezone="Asia/Tokyo")
    w.credit("kk", "5000", currency="JPY", expires_on="2026-12-01")
    # 14:59 UTC on 30 November is still 30 November in Tokyo; 15:00 is 1 December there
    w.at("2026-11-30T14:59:00Z")
    assert w.container.credits.wallet("kk").balances == {"JPY": Decimal("5000")}
    w.at("2026-11-30T15:00:00Z")
    assert w.container.credits.wallet("kk").balances == {}  # nothing usable left
