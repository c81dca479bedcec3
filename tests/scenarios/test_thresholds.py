"""Usage thresholds and progressive billing: each threshold fires once per period (across a
restart and a replay), a spend threshold bills the usage so far on an interim invoice, and
the period's invoice bills the whole period less what the interim invoices billed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from revsync.bootstrap import build
from revsync.domain.invoicing import InvoiceKind, interim_invoice_id
from tests.scenarios.harness import Rendered, World

NOVEMBER = "2026-11-01/2026-12-01"
#: 10.00 a month in advance, 0.10 per API call in arrears, 1,000 calls a month included as a
#: soft quota; two alerts on calls, two spend thresholds that bill at once and one that only
#: alerts
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
            "model": "per_unit",
            "description": "API calls",
            "meter": "api_calls",
            "amount": "0.10",
        },
    ],
    "features": [
        {
            "key": "calls",
            "kind": "quota",
            "meter": "api_calls",
            "limit": "1000",
            "enforcement": "soft",
        }
    ],
    "thresholds": [
        {"key": "calls-300", "kind": "usage", "meter": "api_calls", "value": "300"},
        {"key": "calls-half", "kind": "percent", "meter": "api_calls", "value": "50"},
        {"key": "spend-50", "kind": "spend", "value": "50", "invoice": True},
        {"key": "spend-100", "kind": "spend", "value": "100", "invoice": True},
        {"key": "spend-120", "kind": "spend", "value": "120"},
    ],
}
PARTNER5 = {
    "code": "PARTNER5",
    "description": "Partner 5% off",
    "duration": "forever",
    "percent_off": "5",
}


def calls(w: World, day: str, count: int) -> None:
    w.at(f"{day}T13:00:00Z").usage("t-acme", "api.request", f"{day}T12:00:00Z", times=count)


def crossed(w: World) -> list[tuple[str, str, str]]:
    """(threshold, limit, observed) of every crossing, oldest first."""
    found = w.container.thresholds.crossings(None, None, 100)
    return sorted(
        ((c.threshold_key, str(c.limit), str(c.observed)) for c in found),
        key=lambda c: c[0],
    )


def fee(amount: str = "10.00") -> tuple[str, str, str, str, str]:
    return ("fee:platform", "Platform fee", "1", amount, amount)


def discount(amount: str) -> tuple[str, str, str, str, str]:
    return ("discount:PARTNER5:standard", "Partner 5% off", "1", amount, amount)


def test_progressive_billing_bills_interim_and_final_invoices_exactly(
    world: Callable[..., World],
) -> None:
    w = world(
        plans=[METERED],
        coupons=[PARTNER5],
        tax={"DE": {"standard": "19"}},
        billing={"grace_period_hours": 0},
        start="2026-11-01T08:00:00Z",
    )
    w.customer("acme", country="DE")
    w.subscribe("s1", "acme", "metered", "2026-11-01", coupons=[("PARTNER5", None)])
    w.at("2026-11-01T09:00:00Z").bill("2026-11-01")
    watch = w.container.thresholds

    calls(w, "2026-11-05", 400)  # 40.00 so far
    first = watch.sweep()
    assert [c.threshold_key for c in first.crossings] == ["calls-300"]
    assert first.interim_invoices == []

    calls(w, "2026-11-10", 200)  # 600 calls: half the quota, 60.00 spent
    second = watch.sweep()
    assert sorted(c.threshold_key for c in second.crossings) == ["calls-half", "spend-50"]
    november = w.raw_invoices("s1")[0].period
    first_interim = interim_invoice_id("s1", november, "spend-50")
    assert second.interim_invoices == [first_interim]

    # looked at again, by a restarted process, and over all the usage again: nothing more
    assert watch.sweep().crossings == []
    restarted = build(w.container.settings, clock=w.clock)
    try:
        assert restarted.thresholds.sweep().crossings == []
        replay = restarted.thresholds.sweep(after_seq=0)
        assert (replay.customers, replay.crossings, replay.interim_invoices) == (1, [], [])
    finally:
        restarted.close()

    calls(w, "2026-11-20", 700)  # 1,300 calls: 130.00 spent, past 100 and 120
    third = watch.sweep()
    assert sorted(c.threshold_key for c in third.crossings) == ["spend-100", "spend-120"]
    second_interim = interim_invoice_id("s1", november, "spend-100")
    assert third.interim_invoices == [second_interim]

    calls(w, "2026-11-25", 100)  # 1,400 calls in all: no threshold left to reach
    assert watch.sweep().crossings == []

    w.at("2026-12-04T09:00:00Z").bill("2026-12-04")
    usage_key = "usage:calls:2026-11-01"
    assert w.invoices("s1") == [
        Rendered(
            kind="advance",
            period=NOVEMBER,
            status="finalized",
            number="INV-000001",
            lines=(fee(), discount("-0.50")),
            taxes=(("standard", "19", "9.50", "1.80"),),
            totals=("10.00", "-0.50", "1.80", "11.30", "0.00", "11.30"),
        ),
        Rendered(
            kind="arrears",
            period=NOVEMBER,
            status="finalized",
            number="INV-000005",
            lines=(
                (usage_key, "API calls", "1400", "0.10", "140.00"),
                (
                    f"interim:{second_interim}:{usage_key}",
                    "Billed on interim invoices through INV-000003: API calls",
                    "-1300",
                    "0.10",
                    "-130.00",
                ),
                discount("-0.50"),
            ),
            taxes=(("standard", "19", "9.50", "1.80"),),
            totals=("10.00", "-0.50", "1.80", "11.30", "0.00", "11.30"),
        ),
        Rendered(
            kind="interim",
            period=NOVEMBER,
            status="finalized",
            number="INV-000002",
            lines=((usage_key, "API calls", "600", "0.10", "60.00"), discount("-3.00")),
            taxes=(("standard", "19", "57.00", "10.83"),),
            totals=("60.00", "-3.00", "10.83", "67.83", "0.00", "67.83"),
        ),
        Rendered(
            kind="interim",
            period=NOVEMBER,
            status="finalized",
            number="INV-000003",
            lines=(
                (usage_key, "API calls", "1300", "0.10", "130.00"),
                (
                    f"interim:{first_interim}:{usage_key}",
                    "Billed on interim invoices through INV-000002: API calls",
                    "-600",
                    "0.10",
                    "-60.00",
                ),
                discount("-3.50"),
            ),
            taxes=(("standard", "19", "66.50", "12.64"),),
            totals=("70.00", "-3.50", "12.64", "79.14", "0.00", "79.14"),
        ),
        Rendered(
            kind="advance",
            period="2026-12-01/2027-01-01",
            status="finalized",
            number="INV-000004",
            lines=(fee(), discount("-0.50")),
            taxes=(("standard", "19", "9.50", "1.80"),),
            totals=("10.00", "-0.50", "1.80", "11.30", "0.00", "11.30"),
        ),
    ]
    # what November's usage came to, before tax: 1,400 calls at 0.10, 5% off
    billed = [i for i in w.raw_invoices("s1") if i.kind is not InvoiceKind.ADVANCE]
    assert sum(i.totals.subtotal + i.totals.discount for i in billed) == 133
    assert crossed(w) == [
        ("calls-300", "300", "400"),
        ("calls-half", "500", "600"),
        ("spend-100", "100", "130.00"),
        ("spend-120", "120", "130.00"),
        ("spend-50", "50", "60.00"),
    ]


def test_late_usage_after_an_interim_invoice_is_adjusted_by_itself_alone(
    world: Callable[..., World],
) -> None:
    """A period's invoice that deducted an interim invoice, made wrong by late usage: rated
    again, it deducts the same interim invoice, so the adjustment is the late usage alone (it
    took the deduction off once more: -60.00 billed back)."""
    w = world(
        plans=[METERED],
        billing={"grace_period_hours": 0, "late_usage": "separate_invoice"},
        start="2026-11-01T08:00:00Z",
    )
    w.customer("acme")
    w.subscribe("s1", "acme", "metered", "2026-11-01")
    calls(w, "2026-11-10", 600)  # 60.00: past spend-50
    november = w.container.thresholds.sweep().interim_invoices
    assert len(november) == 1
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    w.at("2026-12-02T08:00:00Z").usage("t-acme", "api.request", "2026-11-15T12:00:00Z", times=10)
    w.at("2026-12-02T09:00:00Z").bill("2026-12-02")
    arrears = next(i for i in w.raw_invoices("s1") if i.kind is InvoiceKind.ARREARS)
    adjustment = [i for i in w.invoices("s1") if i.kind == "adjustment"]
    assert adjustment == [
        Rendered(
            kind="adjustment",
            period="2026-12-02/2026-12-03",
            status="finalized",
            number="INV-000005",
            lines=(
                (
                    f"adjustment:{arrears.id}:usage:calls:2026-11-01",
                    "Adjustment: API calls",
                    "10",
                    "0.10",
                    "1.00",
                ),
            ),
            totals=("1.00", "0.00", "0.00", "1.00", "0.00", "1.00"),
        )
    ]


def test_usage_that_becomes_a_customers_when_its_tenant_is_mapped_is_looked_at(
    world: Callable[..., World],
) -> None:
    w = world(plans=[METERED], start="2026-11-01T08:00:00Z")
    w.customer("acme", tenants=[])
    w.subscribe("s1", "acme", "metered", "2026-11-01")
    calls(w, "2026-11-05", 400)  # t-acme is no one's yet: kept unmapped
    assert w.container.thresholds.sweep().crossings == []
    w.customer("acme", tenants=["t-acme"])  # mapped: its 400 calls keep their sequence numbers
    looked = w.container.thresholds.sweep()
    assert looked.rechecked == {"acme"}
    assert [(c.threshold_key, c.observed) for c in looked.crossings] == [("calls-300", 400)]
    again = w.container.thresholds.sweep()
    assert (again.rechecked, again.crossings) == (set(), [])
