"""Billing scenarios with coupons and prepaid credit limited to plans or meters
(docs/billing.md, "Scopes").

Every expected number is worked out by hand in the comments. Unless a scenario says
otherwise: the customer ``acme`` (EUR, UTC, France: 20% standard, 5.5% reduced) subscribes on
2026-11-01 to a monthly plan, and billing runs have no grace period.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from revsync.ports.billing import InvoiceFilter
from tests.scenarios.harness import Rendered, World, render

NO_GRACE = {"grace_period_hours": 0}
FRANCE = {"FR": {"standard": "20", "reduced": "5.5"}}
NOVEMBER = "2026-11-01/2026-12-01"
DECEMBER = "2026-12-01/2027-01-01"
JANUARY = "2027-01-01/2027-02-01"


def plan(code: str, *charges: dict[str, Any]) -> dict[str, Any]:
    return {
        "code": code,
        "name": code.title(),
        "currency": "EUR",
        "interval": "month",
        "charges": list(charges),
    }


def fee(
    amount: str,
    key: str = "platform",
    description: str = "Platform fee",
    timing: str = "in_advance",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "key": key,
        "model": "flat",
        "description": description,
        "timing": timing,
        "amount": amount,
        **extra,
    }


CALLS = {
    "key": "calls",
    "model": "per_unit",
    "description": "API calls",
    "meter": "api_calls",
    "amount": "0.01",
}
TOKENS = {
    "key": "tokens",
    "model": "per_unit",
    "description": "LLM tokens",
    "meter": "llm_tokens",
    "amount": "0.001",
}

#: 50.00 a month in arrears, 0.01 per API call, 0.001 per LLM token: one invoice a month
#: with a fee and two meters
METERED = plan("metered", fee("50.00", timing="in_arrears"), CALLS, TOKENS)


def calls(w: World, day: str, count: int) -> None:
    w.at(f"{day}T13:00:00Z").usage("t-acme", "api.request", f"{day}T12:00:00Z", times=count)


def tokens(w: World, day: str, count: int) -> None:
    data = {"tokens": count, "environment": "production", "model": "small"}
    w.at(f"{day}T13:00:00Z").usage("t-acme", "llm.completion", f"{day}T12:00:00Z", data)


def totals(*values: str) -> tuple[str, ...]:
    """subtotal, discount, tax, total, credits, amount due"""
    return values


def wallet(w: World) -> dict[str, str]:
    """grant id → what is left of it."""
    return {g.id: str(g.remaining) for g in w.container.credits.wallet("acme").grants}


def test_a_percent_off_limited_to_a_meter_discounts_only_that_meters_usage(
    world: Callable[..., World],
) -> None:
    coupons = [
        {
            "code": "CALLS20",
            "description": "20% off API calls",
            "duration": "forever",
            "percent_off": "20",
            "applies_to": {"meters": ["api_calls"]},
        }
    ]
    w = world(
        plans=[METERED], coupons=coupons, tax=FRANCE, start="2026-11-01T08:00:00Z", billing=NO_GRACE
    )
    w.customer("acme", country="FR")
    w.subscribe("s1", "acme", "metered", "2026-11-01", coupons=[("CALLS20", "2026-11-01")])
    calls(w, "2026-11-20", 1250)
    tokens(w, "2026-11-21", 10000)
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    assert w.invoices("s1") == [
        Rendered(
            "arrears",
            NOVEMBER,
            "finalized",
            "INV-000001",
            (
                ("usage:calls:2026-11-01", "API calls", "1250", "0.01", "12.50"),
                ("usage:tokens:2026-11-01", "LLM tokens", "10000", "0.001", "10.00"),
                ("fee:2026-11-01:platform", "Platform fee", "1", "50.00", "50.00"),
                # 20% of the calls' 12.50 only: not of the tokens, not of the fee
                ("discount:CALLS20:standard", "20% off API calls", "1", "-2.50", "-2.50"),
            ),
            # tax: 72.50 × 20% = 14.50 on the charges, −2.50 × 20% = −0.50 on the discount
            (("standard", "20", "70.00", "14.00"),),
            totals("72.50", "-2.50", "14.00", "84.00", "0.00", "84.00"),
        )
    ]


#: before: 49.00 a month in advance, 0.02 per call
BASIC = plan("basic", fee("49.00"), {**CALLS, "amount": "0.02"})
#: after: 99.00 a month in advance, support 30.00 a month in advance at the reduced rate,
#: 0.01 per call
PRO = plan("pro", fee("99.00"), fee("30.00", "support", "Support", tax_code="reduced"), CALLS)


def test_an_amount_off_limited_to_a_plan_is_capped_at_that_plans_lines_on_a_plan_change(
    world: Callable[..., World],
) -> None:
    coupons = [
        {
            "code": "PRO100",
            "description": "100 EUR off Pro",
            "duration": "once",
            "amount_off": "100.00",
            "currency": "EUR",
            "applies_to": {"plans": ["pro"]},
        }
    ]
    w = world(
        plans=[BASIC, PRO],
        coupons=coupons,
        tax=FRANCE,
        start="2026-11-01T08:00:00Z",
        billing=NO_GRACE,
    )
    w.customer("acme", country="FR")
    w.subscribe("s1", "acme", "basic", "2026-11-01", coupons=[("PRO100", "2026-11-01")])
    calls(w, "2026-11-10", 5000)
    w.at("2026-11-15T10:00:00Z").amend("s1", "upgrade", "2026-11-16", plan="pro")
    calls(w, "2026-11-20", 2000)
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    assert w.invoices("s1") == [
        Rendered(
            "advance",
            NOVEMBER,
            "finalized",
            "INV-000001",
            # Basic's fee: not in scope, and the amount-off is not taken here (the plan in
            # force when the period starts is not one it names)
            (("fee:platform", "Platform fee", "1", "49.00", "49.00"),),
            (("standard", "20", "49.00", "9.80"),),
            totals("49.00", "0.00", "9.80", "58.80", "0.00", "58.80"),
        ),
        Rendered(
            "arrears",
            NOVEMBER,
            "finalized",
            "INV-000003",
            (
                ("usage:calls:2026-11-01", "API calls", "5000", "0.02", "100.00"),
                ("usage:calls:2026-11-16", "API calls", "2000", "0.01", "20.00"),
                (
                    "proration:2026-11-16:v1:platform",
                    "Unused time on Platform fee (prorated 15/30 days)",
                    "1",
                    "49.00",
                    "-24.50",
                ),
                (
                    "proration:2026-11-16:v2:platform",
                    "Remaining time on Platform fee (prorated 15/30 days)",
                    "1",
                    "99.00",
                    "49.50",
                ),
                (
                    "proration:2026-11-16:v2:support",
                    "Remaining time on Support (prorated 15/30 days)",
                    "1",
                    "30.00",
                    "15.00",
                ),
                # Pro's lines: 20.00 + 49.50 = 69.50 standard, 15.00 reduced — 84.50 in all,
                # less than the 100.00 off: each code's in-scope lines are taken in full.
                # Basic's usage (100.00) and unused time (−24.50) are not discounted.
                ("discount:PRO100:reduced", "100 EUR off Pro", "1", "-15.00", "-15.00"),
                ("discount:PRO100:standard", "100 EUR off Pro", "1", "-69.50", "-69.50"),
            ),
            (
                # charges 15.00 → 0.825 → 0.82, discount −15.00 → −0.82 (half-even)
                ("reduced", "5.5", "0.00", "0.00"),
                # charges 169.50 → 33.90, credits −24.50 − 69.50 = −94.00 → −18.80
                ("standard", "20", "75.50", "15.10"),
            ),
            totals("160.00", "-84.50", "15.10", "90.60", "0.00", "90.60"),
        ),
        Rendered(
            "advance",
            DECEMBER,
            "finalized",
            "INV-000002",
            # once: November could use it (Pro from the 16th), so December does not
            (
                ("fee:platform", "Platform fee", "1", "99.00", "99.00"),
                ("fee:support", "Support", "1", "30.00", "30.00"),
            ),
            (("reduced", "5.5", "30.00", "1.65"), ("standard", "20", "99.00", "19.80")),
            totals("129.00", "0.00", "21.45", "150.45", "0.00", "150.45"),
        ),
    ]


def test_a_once_coupon_limited_to_a_plan_waits_for_the_first_period_on_it(
    world: Callable[..., World],
) -> None:
    team = plan("team", fee("199.00"))
    coupons = [
        {
            "code": "TEAM25",
            "description": "25% off Team",
            "duration": "once",
            "percent_off": "25",
            "applies_to": {"plans": ["team"]},
        }
    ]
    w = world(
        plans=[plan("solo", fee("99.00")), team],
        coupons=coupons,
        start="2026-11-01T08:00:00Z",
        billing=NO_GRACE,
    )
    w.customer("acme")
    w.subscribe("s1", "acme", "solo", "2026-11-01", coupons=[("TEAM25", "2026-11-01")])
    w.at("2026-11-01T09:00:00Z").bill("2026-11-01")
    w.at("2026-11-20T09:00:00Z").amend("s1", "upgrade", "2026-12-01", plan="team")
    w.at("2027-01-01T09:00:00Z").bill("2027-01-01")
    assert w.invoices("s1") == [
        Rendered(
            "advance",
            NOVEMBER,
            "finalized",
            "INV-000001",
            (("fee:platform", "Platform fee", "1", "99.00", "99.00"),),
            totals=totals("99.00", "0.00", "0.00", "99.00", "0.00", "99.00"),
        ),
        Rendered(
            "advance",
            DECEMBER,
            "finalized",
            "INV-000002",
            # the first period on Team: 25% of 199.00 = 49.75
            (
                ("fee:platform", "Platform fee", "1", "199.00", "199.00"),
                ("discount:TEAM25:standard", "25% off Team", "1", "-49.75", "-49.75"),
            ),
            totals=totals("199.00", "-49.75", "0.00", "149.25", "0.00", "149.25"),
        ),
        Rendered(
            "advance",
            JANUARY,
            "finalized",
            "INV-000003",
            (("fee:platform", "Platform fee", "1", "199.00", "199.00"),),
            totals=totals("199.00", "0.00", "0.00", "199.00", "0.00", "199.00"),
        ),
    ]


def test_a_grant_limited_to_a_meter_pays_its_part_an_unlimited_one_the_rest_and_a_void_gives_both_back(
    world: Callable[..., World],
) -> None:
    w = world(plans=[METERED], tax=FRANCE, start="2026-11-01T08:00:00Z", billing=NO_GRACE)
    w.customer("acme", country="FR")
    tokens_only = w.credit("acme", "30.00", applies_to={"meters": ["llm_tokens"]})
    anything = w.credit("acme", "50.00", expires_on="2027-06-01")
    w.subscribe("s1", "acme", "metered", "2026-11-01")
    calls(w, "2026-11-20", 1250)
    tokens(w, "2026-11-21", 10000)
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    november = Rendered(
        "arrears",
        NOVEMBER,
        "finalized",
        "INV-000001",
        (
            ("usage:calls:2026-11-01", "API calls", "1250", "0.01", "12.50"),
            ("usage:tokens:2026-11-01", "LLM tokens", "10000", "0.001", "10.00"),
            ("fee:2026-11-01:platform", "Platform fee", "1", "50.00", "50.00"),
        ),
        (("standard", "20", "72.50", "14.50"),),
        # The tokens' part: 10.00 and its share of the tax, 14.50 × 10.00 / 72.50 = 2.00:
        # 12.00 from the limited grant, first (though the other expires and it does not).
        # The unlimited grant pays 50.00 of the 75.00 left: 62.00 of credit, 25.00 due.
        totals("72.50", "0.00", "14.50", "87.00", "62.00", "25.00"),
    )
    assert w.invoices("s1") == [november]
    assert wallet(w) == {tokens_only: "18.00", anything: "0.00"}

    (invoice,) = w.raw_invoices("s1")
    note = w.at("2026-12-05T10:00:00Z").container.billing.void(invoice.id, "mistake", "scenario")
    # each grant gets back exactly what it gave
    assert wallet(w) == {tokens_only: "30.00", anything: "50.00"}
    assert render(note) == Rendered(
        "credit_note",
        NOVEMBER,
        "finalized",
        "CN-000001",
        (
            ("credit:usage:calls:2026-11-01", "Credit: API calls", "1250", "-0.01", "-12.50"),
            ("credit:usage:tokens:2026-11-01", "Credit: LLM tokens", "10000", "-0.001", "-10.00"),
            ("credit:fee:2026-11-01:platform", "Credit: Platform fee", "1", "-50.00", "-50.00"),
        ),
        (("standard", "20", "-72.50", "-14.50"),),
        totals("-72.50", "0.00", "-14.50", "-87.00", "-62.00", "-25.00"),
    )

    # December: calls and the fee, no tokens — the limited grant has nothing to pay
    calls(w, "2026-12-10", 1000)
    w.at("2027-01-01T09:00:00Z").bill("2027-01-01")
    assert w.invoices("s1")[-1] == Rendered(
        "arrears",
        DECEMBER,
        "finalized",
        "INV-000002",
        (
            ("usage:calls:2026-12-01", "API calls", "1000", "0.01", "10.00"),
            ("usage:tokens:2026-12-01", "LLM tokens", "0", "0.001", "0.00"),
            ("fee:2026-12-01:platform", "Platform fee", "1", "50.00", "50.00"),
        ),
        (("standard", "20", "60.00", "12.00"),),
        totals("60.00", "0.00", "12.00", "72.00", "50.00", "22.00"),
    )
    assert wallet(w) == {tokens_only: "30.00", anything: "0.00"}
    notes = w.container.billing.invoices(InvoiceFilter(customer_id="acme"), after=None, limit=10)
    assert sorted(i.number or "" for i in notes) == ["CN-000001", "INV-000001", "INV-000002"]
