"""Billing scenarios: every charge model through a real billing run, with the full invoices.

Every expected number below is worked out by hand from docs/billing.md and the rules in the
docstring of ``revsync.domain.pricing`` (lines, parts, tier boundaries, rounding), never
copied from what the code prints.

Unless a scenario says otherwise: the customer ``acme`` (EUR, UTC, tenant ``t-acme``, no tax
table) subscribes on 2026-11-01 to a monthly plan, and the billing run on 2026-12-01 (grace
period 0 h, so every invoice issued on or before the run's day is finalized) bills November.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from revsync.application.billing import RunReport
from tests.scenarios.harness import Rendered, World

NO_GRACE = {"grace_period_hours": 0}
NOVEMBER = "2026-11-01/2026-12-01"
DECEMBER = "2026-12-01/2027-01-01"


def plan(code: str, *charges: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A monthly EUR plan."""
    return {
        "code": code,
        "name": code.title(),
        "currency": "EUR",
        "interval": "month",
        "charges": list(charges),
        **extra,
    }


def calls(model: str, **fields: Any) -> dict[str, Any]:
    """A usage charge on the ``api_calls`` meter (count of ``api.request``)."""
    return {
        "key": "calls",
        "model": model,
        "description": "API calls",
        "meter": "api_calls",
        **fields,
    }


def platform(amount: str, timing: str = "in_advance") -> dict[str, Any]:
    return {
        "key": "platform",
        "model": "flat",
        "description": "Platform fee",
        "timing": timing,
        "amount": amount,
    }


def tokens(model: str, production: bool = True, tokens: int = 0) -> dict[str, Any]:
    data: dict[str, Any] = {
        "tokens": tokens,
        "environment": "production" if production else "staging",
    }
    if model:
        data["model"] = model
    return data


def bill_november(w: World, api_calls: int) -> RunReport:
    """``api_calls`` calls on 20 November, then the run of 1 December."""
    if api_calls:
        w.at("2026-11-20T12:00:00Z").usage(
            "t-acme", "api.request", "2026-11-20T11:00:00Z", times=api_calls
        )
    return w.at("2026-12-01T09:00:00Z").bill("2026-12-01")


def arrears_only(
    number: str, lines: tuple[tuple[str, str, str, str, str], ...], total: str
) -> list[Rendered]:
    """The one invoice of a usage-only plan for November: its arrears invoice."""
    return [
        Rendered(
            kind="arrears",
            period=NOVEMBER,
            status="finalized",
            number=number,
            lines=lines,
            totals=(total, "0.00", "0.00", total, "0.00", total),
        )
    ]


# --- recurring fees ---------------------------------------------------------------------


def test_flat_fee_in_advance_is_billed_on_the_first_day_of_each_period(
    world: Callable[..., World],
) -> None:
    w = world(
        plans=[plan("basic", platform("49.00"))], start="2026-11-01T08:00:00Z", billing=NO_GRACE
    )
    w.customer("acme")
    w.subscribe("s1", "acme", "basic", "2026-11-01")
    w.at("2026-11-01T09:00:00Z").bill("2026-11-01")
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    # a plan with only an in-advance fee has nothing to bill in arrears: no arrears invoice
    assert w.invoices("s1") == [
        Rendered(
            kind="advance",
            period=NOVEMBER,
            status="finalized",
            number="INV-000001",
            lines=(("fee:platform", "Platform fee", "1", "49.00", "49.00"),),
            totals=("49.00", "0.00", "0.00", "49.00", "0.00", "49.00"),
        ),
        Rendered(
            kind="advance",
            period=DECEMBER,
            status="finalized",
            number="INV-000002",
            lines=(("fee:platform", "Platform fee", "1", "49.00", "49.00"),),
            totals=("49.00", "0.00", "0.00", "49.00", "0.00", "49.00"),
        ),
    ]


def test_flat_fee_in_advance_is_prorated_for_a_first_period_started_mid_month(
    world: Callable[..., World],
) -> None:
    w = world(
        plans=[plan("basic", platform("49.00"))], start="2026-11-16T08:00:00Z", billing=NO_GRACE
    )
    w.customer("acme")
    # anchored on the 1st: the first period is 16–30 November, 15 of November's 30 days
    w.subscribe("s1", "acme", "basic", "2026-11-16", anchor="2026-11-01")
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    assert w.invoices("s1") == [
        Rendered(
            kind="advance",
            period=NOVEMBER,
            status="finalized",
            number="INV-000001",
            # 49.00 × 15 / 30 = 24.50; quantity and unit stay the full-period ones
            lines=(("fee:platform", "Platform fee (prorated 15/30 days)", "1", "49.00", "24.50"),),
            totals=("24.50", "0.00", "0.00", "24.50", "0.00", "24.50"),
        ),
        Rendered(
            kind="advance",
            period=DECEMBER,
            status="finalized",
            number="INV-000002",
            lines=(("fee:platform", "Platform fee", "1", "49.00", "49.00"),),
            totals=("49.00", "0.00", "0.00", "49.00", "0.00", "49.00"),
        ),
    ]


def test_flat_fee_in_arrears_is_billed_when_the_period_ends_and_prorated_at_the_end_of_service(
    world: Callable[..., World],
) -> None:
    w = world(
        plans=[plan("basic", platform("30.00", "in_arrears"))],
        start="2026-11-01T08:00:00Z",
        billing=NO_GRACE,
    )
    w.customer("acme")
    w.subscribe("s1", "acme", "basic", "2026-11-01", ends="2026-12-11")
    w.at("2026-11-01T09:00:00Z").bill("2026-11-01")
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    w.at("2026-12-11T09:00:00Z").bill("2026-12-11")
    assert w.invoices("s1") == [
        Rendered(
            kind="arrears",
            period=NOVEMBER,
            status="finalized",
            number="INV-000001",
            lines=(("fee:2026-11-01:platform", "Platform fee", "1", "30.00", "30.00"),),
            totals=("30.00", "0.00", "0.00", "30.00", "0.00", "30.00"),
        ),
        Rendered(
            kind="arrears",
            period=DECEMBER,
            status="finalized",
            number="INV-000002",
            # service ends on 11 December: 10 of December's 31 days, 30.00 × 10 / 31 = 9.677… → 9.68
            lines=(
                (
                    "fee:2026-12-01:platform",
                    "Platform fee (prorated 10/31 days)",
                    "1",
                    "30.00",
                    "9.68",
                ),
            ),
            totals=("9.68", "0.00", "0.00", "9.68", "0.00", "9.68"),
        ),
    ]


def test_per_seat_fee_in_advance_with_a_seat_change_prorated_on_the_arrears_invoice(
    world: Callable[..., World],
) -> None:
    seats = {
        "key": "seats",
        "model": "per_seat",
        "description": "Seats",
        "timing": "in_advance",
        "amount": "10.00",
    }
    w = world(plans=[plan("team", seats)], start="2026-11-01T08:00:00Z", billing=NO_GRACE)
    w.customer("acme")
    w.subscribe("s1", "acme", "team", "2026-11-01", seats=3)
    w.at("2026-11-01T09:00:00Z").bill("2026-11-01")
    w.at("2026-11-16T09:00:00Z").amend("s1", "seat_change", "2026-11-16", seats=5)
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    assert w.invoices("s1") == [
        Rendered(
            kind="advance",
            period=NOVEMBER,
            status="finalized",
            number="INV-000001",
            lines=(("fee:seats", "Seats × 3", "3", "10.00", "30.00"),),
            totals=("30.00", "0.00", "0.00", "30.00", "0.00", "30.00"),
        ),
        Rendered(
            kind="arrears",
            period=NOVEMBER,
            status="finalized",
            number="INV-000003",
            # 16–30 November is 15 of 30 days: −3 × 10.00 × 15/30 and +5 × 10.00 × 15/30
            lines=(
                (
                    "proration:2026-11-16:v1:seats",
                    "Unused time on Seats × 3 (prorated 15/30 days)",
                    "3",
                    "10.00",
                    "-15.00",
                ),
                (
                    "proration:2026-11-16:v2:seats",
                    "Remaining time on Seats × 5 (prorated 15/30 days)",
                    "5",
                    "10.00",
                    "25.00",
                ),
            ),
            totals=("10.00", "0.00", "0.00", "10.00", "0.00", "10.00"),
        ),
        Rendered(
            kind="advance",
            period=DECEMBER,
            status="finalized",
            number="INV-000002",
            lines=(("fee:seats", "Seats × 5", "5", "10.00", "50.00"),),
            totals=("50.00", "0.00", "0.00", "50.00", "0.00", "50.00"),
        ),
    ]


# --- usage models -----------------------------------------------------------------------


def test_per_unit_bills_every_unit_at_the_price(world: Callable[..., World]) -> None:
    w = world(
        plans=[plan("metered", calls("per_unit", amount="0.004"))],
        start="2026-11-01T08:00:00Z",
        billing=NO_GRACE,
    )
    w.customer("acme")
    w.subscribe("s1", "acme", "metered", "2026-11-01")
    bill_november(w, 1250)
    # 1,250 × 0.004 = 5.00
    assert w.invoices("s1") == arrears_only(
        "INV-000001", (("usage:calls:2026-11-01", "API calls", "1250", "0.004", "5.00"),), "5.00"
    )


GRADUATED = calls(
    "graduated",
    tiers=[
        {"up_to": "1000", "unit_amount": "0.01"},
        {"up_to": "10000", "unit_amount": "0.008", "flat_amount": "5.00"},
        {"up_to": None, "unit_amount": "0.005"},
    ],
)


@pytest.mark.parametrize(
    ("api_calls", "lines", "total"),
    [
        pytest.param(
            999,
            (
                (
                    "usage:calls:2026-11-01:tier-1",
                    "API calls — tier 1 (up to 1,000)",
                    "999",
                    "0.01",
                    "9.99",
                ),
            ),
            "9.99",
            id="one-below-the-boundary",
        ),
        pytest.param(
            1000,
            # up_to is inclusive: 1,000 stays in tier 1, and tier 2's flat amount is not due
            (
                (
                    "usage:calls:2026-11-01:tier-1",
                    "API calls — tier 1 (up to 1,000)",
                    "1000",
                    "0.01",
                    "10.00",
                ),
            ),
            "10.00",
            id="exactly-on-the-boundary",
        ),
        pytest.param(
            1001,
            # one unit in tier 2: 1 × 0.008 + the tier's flat 5.00 = 5.008 → 5.01
            (
                (
                    "usage:calls:2026-11-01:tier-1",
                    "API calls — tier 1 (up to 1,000)",
                    "1000",
                    "0.01",
                    "10.00",
                ),
                (
                    "usage:calls:2026-11-01:tier-2",
                    "API calls — tier 2 (1,001–10,000)",
                    "1",
                    "0.008",
                    "5.01",
                ),
            ),
            "15.01",
            id="one-above-the-boundary",
        ),
    ],
)
def test_graduated_around_a_tier_boundary(
    world: Callable[..., World],
    api_calls: int,
    lines: tuple[tuple[str, str, str, str, str], ...],
    total: str,
) -> None:
    w = world(plans=[plan("graduated", GRADUATED)], start="2026-11-01T08:00:00Z", billing=NO_GRACE)
    w.customer("acme")
    w.subscribe("s1", "acme", "graduated", "2026-11-01")
    bill_november(w, api_calls)
    assert w.invoices("s1") == arrears_only("INV-000001", lines, total)


def test_graduated_with_a_base_fee_charged_in_a_month_without_usage(
    world: Callable[..., World],
) -> None:
    based = calls(
        "graduated",
        tiers=[
            {"up_to": "1000", "unit_amount": "0", "flat_amount": "20.00"},
            {"up_to": None, "unit_amount": "0.01"},
        ],
        flat_fee_at_zero=True,
    )
    w = world(plans=[plan("based", based)], start="2026-11-01T08:00:00Z", billing=NO_GRACE)
    w.customer("acme")
    w.subscribe("s1", "acme", "based", "2026-11-01")
    bill_november(w, 0)
    # no call in November: the first tier's 20.00 all the same (off by default: 0.00)
    assert w.invoices("s1") == arrears_only(
        "INV-000001",
        (("usage:calls:2026-11-01:tier-1", "API calls — tier 1 (up to 1,000)", "0", "0", "20.00"),),
        "20.00",
    )


VOLUME = calls(
    "volume",
    tiers=[
        {"up_to": "1000", "unit_amount": "0.01"},
        {"up_to": "10000", "unit_amount": "0.008", "flat_amount": "2.00"},
        {"up_to": None, "unit_amount": "0.005"},
    ],
)


@pytest.mark.parametrize(
    ("api_calls", "lines", "total"),
    [
        pytest.param(
            999,
            (
                (
                    "usage:calls:2026-11-01:tier-1",
                    "API calls — tier 1 (up to 1,000), for all units",
                    "999",
                    "0.01",
                    "9.99",
                ),
            ),
            "9.99",
            id="one-below-the-boundary",
        ),
        pytest.param(
            1000,
            (
                (
                    "usage:calls:2026-11-01:tier-1",
                    "API calls — tier 1 (up to 1,000), for all units",
                    "1000",
                    "0.01",
                    "10.00",
                ),
            ),
            "10.00",
            id="exactly-on-the-boundary",
        ),
        pytest.param(
            1001,
            # all 1,001 units at tier 2's price, plus its flat amount: 8.008 + 2.00 = 10.008 → 10.01
            (
                (
                    "usage:calls:2026-11-01:tier-2",
                    "API calls — tier 2 (1,001–10,000), for all units",
                    "1001",
                    "0.008",
                    "10.01",
                ),
            ),
            "10.01",
            id="one-above-the-boundary",
        ),
    ],
)
def test_volume_around_a_tier_boundary(
    world: Callable[..., World],
    api_calls: int,
    lines: tuple[tuple[str, str, str, str, str], ...],
    total: str,
) -> None:
    w = world(plans=[plan("volume", VOLUME)], start="2026-11-01T08:00:00Z", billing=NO_GRACE)
    w.customer("acme")
    w.subscribe("s1", "acme", "volume", "2026-11-01")
    bill_november(w, api_calls)
    assert w.invoices("s1") == arrears_only("INV-000001", lines, total)


@pytest.mark.parametrize(
    ("api_calls", "packages", "amount"),
    [
        pytest.param(0, "0", "0.00", id="no-usage-no-package"),
        pytest.param(100, "1", "5.00", id="exactly-one-package"),
        pytest.param(101, "2", "10.00", id="one-unit-more-starts-a-second-package"),
    ],
)
def test_package_counts_started_packages(
    world: Callable[..., World], api_calls: int, packages: str, amount: str
) -> None:
    package = calls("package", amount="5.00", package_size="100")
    w = world(plans=[plan("packaged", package)], start="2026-11-01T08:00:00Z", billing=NO_GRACE)
    w.customer("acme")
    w.subscribe("s1", "acme", "packaged", "2026-11-01")
    bill_november(w, api_calls)
    assert w.invoices("s1") == arrears_only(
        "INV-000001",
        (("usage:calls:2026-11-01", "API calls — packages of 100", packages, "5.00", amount),),
        amount,
    )


@pytest.mark.parametrize(
    ("api_calls", "free", "packages", "amount"),
    [
        pytest.param(0, "0", "0", "0.00", id="no-usage"),
        pytest.param(250, "250", "0", "0.00", id="all-free"),
        pytest.param(251, "250", "1", "5.00", id="one-unit-past-the-free-units"),
        pytest.param(451, "250", "3", "15.00", id="the-rest-in-started-packages"),
    ],
)
def test_package_with_free_units(
    world: Callable[..., World], api_calls: int, free: str, packages: str, amount: str
) -> None:
    package = calls("package", amount="5.00", package_size="100", included="250")
    w = world(plans=[plan("packaged", package)], start="2026-11-01T08:00:00Z", billing=NO_GRACE)
    w.customer("acme")
    w.subscribe("s1", "acme", "packaged", "2026-11-01")
    bill_november(w, api_calls)
    # 451 calls: 250 free, 201 left → 3 started packages of 100 × 5.00 = 15.00
    assert w.invoices("s1") == arrears_only(
        "INV-000001",
        (
            ("usage:calls:2026-11-01:included", "API calls — 250 included", free, "0", "0.00"),
            (
                "usage:calls:2026-11-01:packages",
                "API calls — packages of 100 above 250 included",
                packages,
                "5.00",
                amount,
            ),
        ),
        amount,
    )


def test_package_of_a_fractional_total(world: Callable[..., World]) -> None:
    storage = {
        "key": "storage",
        "model": "package",
        "description": "Storage",
        "meter": "storage_gb",
        "amount": "3.00",
        "package_size": "10",
    }
    w = world(plans=[plan("storage", storage)], start="2026-11-01T08:00:00Z", billing=NO_GRACE)
    w.customer("acme")
    w.subscribe("s1", "acme", "storage", "2026-11-01")
    w.at("2026-11-25T12:00:00Z")
    for day, gb in (("05", "12.5"), ("12", "20.5"), ("19", "18")):
        w.usage("t-acme", "storage.snapshot", f"2026-11-{day}T06:00:00Z", {"gb": Decimal(gb)})
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    # max 20.5 GB → 3 packages of 10 GB (a started package counts in full) × 3.00 = 9.00
    assert w.invoices("s1") == arrears_only(
        "INV-000001",
        (("usage:storage:2026-11-01", "Storage — packages of 10", "3", "3.00", "9.00"),),
        "9.00",
    )


@pytest.mark.parametrize(
    ("api_calls", "included", "overage", "amount"),
    [
        pytest.param(400, "400", "0", "0.00", id="under-the-allowance"),
        pytest.param(1000, "1000", "0", "0.00", id="exactly-the-allowance"),
        pytest.param(1500, "1000", "500", "1.00", id="over-the-allowance"),
    ],
)
def test_allowance_shows_what_was_included_and_bills_the_overage(
    world: Callable[..., World], api_calls: int, included: str, overage: str, amount: str
) -> None:
    allowance = calls("allowance", included="1000", amount="0.002")
    w = world(plans=[plan("allowance", allowance)], start="2026-11-01T08:00:00Z", billing=NO_GRACE)
    w.customer("acme")
    w.subscribe("s1", "acme", "allowance", "2026-11-01")
    bill_november(w, api_calls)
    assert w.invoices("s1") == arrears_only(
        "INV-000001",
        (
            (
                "usage:calls:2026-11-01:included",
                "API calls — 1,000 included",
                included,
                "0",
                "0.00",
            ),
            (
                "usage:calls:2026-11-01:overage",
                "API calls — overage above 1,000 included",
                overage,
                "0.002",
                amount,
            ),
        ),
        amount,
    )


PER_MODEL = {
    "key": "tokens",
    "model": "per_dimension",
    "description": "LLM tokens",
    "meter": "llm_tokens",
    "dimension": "model",
    "prices": {"large": "0.00002"},
    "default_price": "0.000005",
}


def test_per_dimension_prices_each_value_and_uses_the_default_price_for_the_others(
    world: Callable[..., World],
) -> None:
    w = world(plans=[plan("ai", PER_MODEL)], start="2026-11-01T08:00:00Z", billing=NO_GRACE)
    w.customer("acme")
    w.subscribe("s1", "acme", "ai", "2026-11-01")
    w.at("2026-11-25T12:00:00Z")
    w.usage("t-acme", "llm.completion", "2026-11-03T10:00:00Z", tokens("large", tokens=100000))
    w.usage("t-acme", "llm.completion", "2026-11-04T10:00:00Z", tokens("large", tokens=50000))
    w.usage("t-acme", "llm.completion", "2026-11-05T10:00:00Z", tokens("small", tokens=400000))
    w.usage("t-acme", "llm.completion", "2026-11-06T10:00:00Z", tokens("", tokens=20000))
    # staging traffic is filtered out by the meter
    w.usage(
        "t-acme",
        "llm.completion",
        "2026-11-07T10:00:00Z",
        tokens("large", production=False, tokens=999999),
    )
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    assert w.invoices("s1") == arrears_only(
        "INV-000001",
        (
            # events without a model form the value "" and take the default price
            (
                "usage:tokens:2026-11-01:dim:",
                "LLM tokens — model (none)",
                "20000",
                "0.000005",
                "0.10",
            ),
            (
                "usage:tokens:2026-11-01:dim:large",
                "LLM tokens — model large",
                "150000",
                "0.00002",
                "3.00",
            ),
            (
                "usage:tokens:2026-11-01:dim:small",
                "LLM tokens — model small",
                "400000",
                "0.000005",
                "2.00",
            ),
        ),
        "5.10",
    )
    (invoice,) = w.raw_invoices("s1")
    counted = {line.key: line.lineage.events if line.lineage else None for line in invoice.lines}
    assert counted == {
        "usage:tokens:2026-11-01:dim:": 1,
        "usage:tokens:2026-11-01:dim:large": 2,
        "usage:tokens:2026-11-01:dim:small": 1,
    }


def test_per_dimension_value_without_a_price_is_an_error_and_no_arrears_invoice(
    world: Callable[..., World],
) -> None:
    priced_only = {**PER_MODEL, "default_price": None}
    w = world(
        plans=[plan("ai", platform("20.00"), priced_only)],
        start="2026-11-01T08:00:00Z",
        billing=NO_GRACE,
    )
    w.customer("acme")
    w.customer("beta")
    w.subscribe("s1", "acme", "ai", "2026-11-01")
    w.subscribe("s2", "beta", "ai", "2026-11-01")
    w.at("2026-11-25T12:00:00Z")
    w.usage("t-acme", "llm.completion", "2026-11-05T10:00:00Z", tokens("large", tokens=100000))
    w.usage("t-acme", "llm.completion", "2026-11-06T10:00:00Z", tokens("small", tokens=400000))
    w.usage("t-beta", "llm.completion", "2026-11-05T10:00:00Z", tokens("large", tokens=100000))
    report = w.at("2026-12-01T09:00:00Z").bill("2026-12-01")

    assert [e.subscription_id for e in report.errors] == ["s1"]
    reason = report.errors[0].reason
    assert "arrears" in reason and NOVEMBER in reason and "small" in reason and "no price" in reason

    fee = (("fee:platform", "Platform fee", "1", "20.00", "20.00"),)
    fee_totals = ("20.00", "0.00", "0.00", "20.00", "0.00", "20.00")
    # acme: its advance invoices, and no arrears invoice for November (the numbers stay gapless)
    assert w.invoices("s1") == [
        Rendered("advance", NOVEMBER, "finalized", "INV-000001", fee, totals=fee_totals),
        Rendered("advance", DECEMBER, "finalized", "INV-000003", fee, totals=fee_totals),
    ]
    # beta is billed as usual in the same run
    assert w.invoices("s2") == [
        Rendered("advance", NOVEMBER, "finalized", "INV-000002", fee, totals=fee_totals),
        Rendered(
            "arrears",
            NOVEMBER,
            "finalized",
            "INV-000005",
            (
                (
                    "usage:tokens:2026-11-01:dim:large",
                    "LLM tokens — model large",
                    "100000",
                    "0.00002",
                    "2.00",
                ),
            ),
            totals=("2.00", "0.00", "0.00", "2.00", "0.00", "2.00"),
        ),
        Rendered("advance", DECEMBER, "finalized", "INV-000004", fee, totals=fee_totals),
    ]


# --- minimum and maximum ----------------------------------------------------------------


def test_minimum_commitment_tops_up_usage_below_it(world: Callable[..., World]) -> None:
    committed = plan("committed", calls("per_unit", amount="0.01"), minimum="50.00")
    w = world(plans=[committed], start="2026-11-01T08:00:00Z", billing=NO_GRACE)
    w.customer("acme")
    w.subscribe("s1", "acme", "committed", "2026-11-01")
    bill_november(w, 1200)
    # usage 1,200 × 0.01 = 12.00; the shortfall to 50.00 is 38.00
    assert w.invoices("s1") == arrears_only(
        "INV-000001",
        (
            ("usage:calls:2026-11-01", "API calls", "1200", "0.01", "12.00"),
            ("minimum:2026-11-01", "Minimum commitment of 50 — shortfall", "1", "38.00", "38.00"),
        ),
        "50.00",
    )


def test_minimum_commitment_is_prorated_for_part_of_a_period(world: Callable[..., World]) -> None:
    committed = plan("committed", calls("per_unit", amount="0.01"), minimum="50.00")
    w = world(plans=[committed], start="2026-11-16T08:00:00Z", billing=NO_GRACE)
    w.customer("acme")
    w.subscribe("s1", "acme", "committed", "2026-11-16", anchor="2026-11-01")
    bill_november(w, 300)
    # 15 of 30 days: minimum 50.00 × 15/30 = 25.00; usage 300 × 0.01 = 3.00; shortfall 22.00
    assert w.invoices("s1") == arrears_only(
        "INV-000001",
        (
            ("usage:calls:2026-11-16", "API calls", "300", "0.01", "3.00"),
            (
                "minimum:2026-11-16",
                "Minimum commitment of 50 — shortfall (prorated 15/30 days)",
                "1",
                "22.00",
                "22.00",
            ),
        ),
        "25.00",
    )


def test_maximum_caps_usage_above_it(world: Callable[..., World]) -> None:
    capped = plan("capped", calls("per_unit", amount="0.01"), maximum="20.00")
    w = world(plans=[capped], start="2026-11-01T08:00:00Z", billing=NO_GRACE)
    w.customer("acme")
    w.subscribe("s1", "acme", "capped", "2026-11-01")
    bill_november(w, 2500)
    # usage 2,500 × 0.01 = 25.00, capped at 20.00: a line of −5.00
    assert w.invoices("s1") == arrears_only(
        "INV-000001",
        (
            ("usage:calls:2026-11-01", "API calls", "2500", "0.01", "25.00"),
            ("cap:2026-11-01", "Maximum of 20 — usage above the cap", "1", "-5.00", "-5.00"),
        ),
        "20.00",
    )


def test_zero_usage_shows_a_zero_line_per_model_and_none_per_dimension(
    world: Callable[..., World],
) -> None:
    every_model = plan(
        "everything",
        {
            "key": "unit",
            "model": "per_unit",
            "description": "API calls",
            "meter": "api_calls",
            "amount": "0.01",
        },
        {
            "key": "graduated",
            "model": "graduated",
            "description": "LLM tokens",
            "meter": "llm_tokens",
            "tiers": [
                {"up_to": "1000", "unit_amount": "0.001"},
                {"up_to": None, "unit_amount": "0.0005"},
            ],
        },
        {
            "key": "volume",
            "model": "volume",
            "description": "Active users",
            "meter": "active_users",
            "tiers": [
                {"up_to": "10", "unit_amount": "5.00"},
                {"up_to": None, "unit_amount": "4.00", "flat_amount": "10.00"},
            ],
        },
        {
            "key": "package",
            "model": "package",
            "description": "Storage",
            "meter": "storage_gb",
            "amount": "3.00",
            "package_size": "10",
        },
        {
            "key": "allowance",
            "model": "allowance",
            "description": "Reported seats",
            "meter": "seats",
            "included": "5",
            "amount": "8.00",
        },
        {**PER_MODEL, "key": "by_model"},
    )
    w = world(plans=[every_model], start="2026-11-01T08:00:00Z", billing=NO_GRACE)
    w.customer("acme")
    w.subscribe("s1", "acme", "everything", "2026-11-01")
    bill_november(w, 0)
    assert w.invoices("s1") == arrears_only(
        "INV-000001",
        (
            ("usage:unit:2026-11-01", "API calls", "0", "0.01", "0.00"),
            (
                "usage:graduated:2026-11-01:tier-1",
                "LLM tokens — tier 1 (up to 1,000)",
                "0",
                "0.001",
                "0.00",
            ),
            (
                "usage:volume:2026-11-01:tier-1",
                "Active users — tier 1 (up to 10), for all units",
                "0",
                "5.00",
                "0.00",
            ),
            ("usage:package:2026-11-01", "Storage — packages of 10", "0", "3.00", "0.00"),
            (
                "usage:allowance:2026-11-01:included",
                "Reported seats — 5 included",
                "0",
                "0",
                "0.00",
            ),
            (
                "usage:allowance:2026-11-01:overage",
                "Reported seats — overage above 5 included",
                "0",
                "8.00",
                "0.00",
            ),
            # per_dimension: no value had usage, so no line at all
        ),
        "0.00",
    )
