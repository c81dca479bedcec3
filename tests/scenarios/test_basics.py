"""Billing scenarios: a monthly plan with a fee in advance and graduated usage in arrears."""

from __future__ import annotations

from collections.abc import Callable

from tests.scenarios.harness import PRO, Rendered, World


def test_a_month_in_advance_and_usage_in_arrears(world: Callable[..., World]) -> None:
    w = world(plans=[PRO], start="2026-11-01T08:00:00Z")
    w.customer("acme", country=None)
    w.subscribe("s1", "acme", "pro", "2026-11-01")
    w.at("2026-11-01T09:00:00Z").bill("2026-11-01")
    w.at("2026-11-20T12:00:00Z").usage("t-acme", "api.request", "2026-11-20T11:00:00Z", times=1250)
    w.at("2026-12-04T00:00:00Z").bill("2026-12-04")
    assert w.invoices("s1") == [
        Rendered(
            kind="advance",
            period="2026-11-01/2026-12-01",
            status="finalized",
            number="INV-000001",
            lines=(("fee:platform", "Platform fee", "1", "99.00", "99.00"),),
            totals=("99.00", "0.00", "0.00", "99.00", "0.00", "99.00"),
        ),
        Rendered(
            kind="arrears",
            period="2026-11-01/2026-12-01",
            status="finalized",
            number="INV-000003",
            lines=(
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
                    "250",
                    "0.012",
                    "3.00",
                ),
            ),
            totals=("3.00", "0.00", "0.00", "3.00", "0.00", "3.00"),
        ),
        Rendered(
            kind="advance",
            period="2026-12-01/2027-01-01",
            status="finalized",
            number="INV-000002",
            lines=(("fee:platform", "Platform fee", "1", "99.00", "99.00"),),
            totals=("99.00", "0.00", "0.00", "99.00", "0.00", "99.00"),
        ),
    ]


def test_running_billing_again_changes_nothing(world: Callable[..., World]) -> None:
    w = world(plans=[PRO], start="2026-11-01T08:00:00Z")
    w.customer("acme")
    w.subscribe("s1", "acme", "pro", "2026-11-01")
    w.at("2026-12-01T09:00:00Z")
    first = w.bill("2026-12-01")
    before = w.invoices("s1")
    again = w.bill("2026-12-01")
    assert len(first.created) == 3
    assert (again.created, again.updated, again.finalized) == ([], [], [])
    assert w.invoices("s1") == before
