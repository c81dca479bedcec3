"""Plan changes across billing intervals: monthly ↔ yearly.

A change of interval effective on D starts a new calendar on D. The period in service keeps its
dates (its advance invoice bills it whole, as issued) and serves until D: its usage is billed
on the old plan by an arrears invoice issued on D, with the "unused time" of the old in-advance
fees from D to the old period's end. The new calendar's periods run from D, their fees billed
in advance — from D on the anniversary, or, when the subscription billed on the calendar (from
the 1st of a month), to the next calendar boundary first, prorated by day over the whole
calendar period.

Every expected figure is worked out by hand in the comments.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from revsync.domain.errors import InvalidField
from revsync.domain.invoicing import InvoiceKind, invoice_id
from revsync.domain.periods import Period
from tests.scenarios.harness import PRO, Line, Rendered, World, invoice
from tests.scenarios.test_periods import COMMITTED, annual

#: 1,200.00 a year in advance, API calls at 0.01 billed monthly
ANNUAL = annual("annual", "Annual platform fee", "1200.00", "0.01")
ANNUAL_PLUS = annual("annual-plus", "Annual platform fee (Plus)", "2400.00", "0.008")
#: the annual fee, with the usage billed once a year too
ANNUAL_USAGE: dict[str, Any] = {
    **annual("annual-y", "Annual platform fee", "1200.00", "0.01"),
    "usage_interval": "year",
}
#: a yearly fee with a monthly commitment of 50 on usage
ANNUAL_COMMITTED = {**annual("annual-c", "Annual platform fee", "1200.00", "0.01"), "minimum": "50"}

PLATFORM: Line = ("fee:platform", "Platform fee", "1", "99.00", "99.00")


def tier_1(start: str, quantity: int) -> Line:
    return (
        f"usage:calls:{start}:tier-1",
        "API calls — tier 1 (up to 1,000)",
        str(quantity),
        "0",
        "0.00",
    )


def calls(start: str, quantity: int, price: str, amount: str) -> Line:
    return (f"usage:calls:{start}", "API calls", str(quantity), price, amount)


def unused(day: str, version: int, fee: str, days: str, unit: str, amount: str) -> Line:
    return (
        f"proration:{day}:v{version}:platform",
        f"Unused time on {fee} (prorated {days} days)",
        "1",
        unit,
        amount,
    )


def _june_upgrade(w: World) -> None:
    """Monthly Pro from 1 June (on the calendar), upgraded to the annual plan on 16 June."""
    w.customer("acme")
    w.subscribe("s1", "acme", "pro", "2026-06-01")
    w.at("2026-06-10T12:00:00Z").usage("t-acme", "api.request", "2026-06-10T10:00:00Z", times=1500)
    w.at("2026-06-12T09:00:00Z").amend("s1", "upgrade", "2026-06-16", plan="annual")


#: 16 June – 1 January: 15 + 31 + 31 + 30 + 31 + 30 + 31 = 199 of 2026's 365 days:
#: 1200.00 × 199/365 = 654.246… → 654.25
YEAR_FROM_JUNE_16 = (
    "fee:platform",
    "Annual platform fee (prorated 199/365 days)",
    "1",
    "1200.00",
    "654.25",
)


def test_monthly_to_yearly_on_the_16th_of_a_30_day_month(world: Callable[..., World]) -> None:
    w = world(plans=[PRO, ANNUAL], start="2026-06-01T08:00:00Z")
    _june_upgrade(w)
    w.at("2026-06-20T12:00:00Z").usage("t-acme", "api.request", "2026-06-20T10:00:00Z", times=300)
    w.at("2026-07-04T00:00:00Z").bill("2026-07-04")
    assert w.invoices("s1") == [
        # June, billed whole on 1 June as the month's fee in advance
        invoice("advance", "2026-06-01/2026-07-01", "INV-000001", (PLATFORM,), "99.00"),
        # issued on 16 June: June's usage until the change, on Pro, and the unused 15 of June's
        # 30 days: 99.00 × 15/30 = 49.50 back; 6.00 − 49.50 < 0: a credit note
        invoice(
            "arrears",
            "2026-06-01/2026-07-01",
            "CN-000001",
            (
                tier_1("2026-06-01", 1000),
                (
                    "usage:calls:2026-06-01:tier-2",
                    "API calls — tier 2 (above 1,000)",
                    "500",
                    "0.012",
                    "6.00",
                ),
                unused("2026-06-16", 1, "Platform fee", "15/30", "99.00", "-49.50"),
            ),
            "-43.50",
        ),
        # the new calendar keeps to the calendar: its first year runs to 1 January
        invoice("advance", "2026-06-16/2027-01-01", "INV-000002", (YEAR_FROM_JUNE_16,), "654.25"),
        # usage from the change, on the annual plan, billed monthly: 16 June – 1 July
        invoice(
            "arrears",
            "2026-06-16/2026-07-01",
            "INV-000003",
            (calls("2026-06-16", 300, "0.01", "3.00"),),
            "3.00",
        ),
    ]


def test_yearly_to_monthly_mid_year_credits_the_unused_days_of_the_year(
    world: Callable[..., World],
) -> None:
    w = world(plans=[PRO, ANNUAL_USAGE], start="2026-03-10T08:00:00Z")
    w.customer("acme")
    w.subscribe("s1", "acme", "annual-y", "2026-03-10")  # the anniversary: 10 March
    w.at("2026-05-05T12:00:00Z").usage("t-acme", "api.request", "2026-05-05T10:00:00Z", times=2000)
    w.at("2026-08-20T09:00:00Z").amend("s1", "downgrade", "2026-08-20", plan="pro")
    w.at("2026-08-25T12:00:00Z").usage("t-acme", "api.request", "2026-08-25T10:00:00Z", times=400)
    w.at("2026-09-23T00:00:00Z").bill("2026-09-23")
    assert w.invoices("s1") == [
        invoice(
            "advance",
            "2026-03-10/2027-03-10",
            "INV-000001",
            (("fee:platform", "Annual platform fee", "1", "1200.00", "1200.00"),),
            "1200.00",
        ),
        # the year's usage until the change, issued on 20 August with the unused days of the
        # year: 20 August 2026 – 10 March 2027: 12 + 30 + 31 + 30 + 31 + 31 + 28 + 9 = 202 of
        # 365 days: 1200.00 × 202/365 = 664.109… → 664.11 back
        invoice(
            "arrears",
            "2026-03-10/2027-03-10",
            "CN-000001",
            (
                calls("2026-03-10", 2000, "0.01", "20.00"),
                unused("2026-08-20", 1, "Annual platform fee", "202/365", "1200.00", "-664.11"),
            ),
            "-644.11",
        ),
        # monthly from the change, on its anniversary: the 20th
        invoice("advance", "2026-08-20/2026-09-20", "INV-000002", (PLATFORM,), "99.00"),
        invoice(
            "arrears",
            "2026-08-20/2026-09-20",
            "INV-000004",
            (tier_1("2026-08-20", 400),),
            "0.00",
        ),
        invoice("advance", "2026-09-20/2026-10-20", "INV-000003", (PLATFORM,), "99.00"),
    ]
    calendars = w.container.subscriptions.get("s1").calendars
    assert [
        (str(c.start), str(c.anchor), c.interval.value, c.usage_interval.value) for c in calendars
    ] == [
        ("2026-03-10", "2026-03-10", "year", "year"),
        ("2026-08-20", "2026-08-20", "month", "month"),
    ]


def test_upgrade_then_another_plan_the_same_day_then_back_to_monthly(
    world: Callable[..., World],
) -> None:
    w = world(plans=[PRO, ANNUAL, ANNUAL_PLUS], start="2026-06-01T08:00:00Z")
    w.customer("acme")
    w.subscribe("s1", "acme", "pro", "2026-06-01")
    w.at("2026-06-12T09:00:00Z").amend("s1", "upgrade", "2026-06-16", plan="annual")
    # the same day: only the last one was ever in force
    w.at("2026-06-14T09:00:00Z").amend("s1", "plan_change", "2026-06-16", plan="annual-plus")
    w.at("2026-09-10T09:00:00Z").amend("s1", "downgrade", "2026-09-10", plan="pro")
    w.at("2026-10-04T00:00:00Z").bill("2026-10-04")

    def month(start: str, end: str, number: str, *extra: Line, total: str = "0.00") -> Rendered:
        return invoice(
            "arrears", f"{start}/{end}", number, (calls(start, 0, "0.008", "0.00"), *extra), total
        )

    assert w.invoices("s1") == [
        invoice("advance", "2026-06-01/2026-07-01", "INV-000001", (PLATFORM,), "99.00"),
        invoice(
            "arrears",
            "2026-06-01/2026-07-01",
            "CN-000001",
            # the unused 15 of June's 30 days of Pro's fee
            (
                tier_1("2026-06-01", 0),
                unused("2026-06-16", 1, "Platform fee", "15/30", "99.00", "-49.50"),
            ),
            "-49.50",
        ),
        # on Plus (the day's last terms, version 3): 2400.00 × 199/365 = 1308.493… → 1308.49
        invoice(
            "advance",
            "2026-06-16/2027-01-01",
            "INV-000002",
            (
                (
                    "fee:platform",
                    "Annual platform fee (Plus) (prorated 199/365 days)",
                    "1",
                    "2400.00",
                    "1308.49",
                ),
            ),
            "1308.49",
        ),
        month("2026-06-16", "2026-07-01", "INV-000003"),
        month("2026-07-01", "2026-08-01", "INV-000004"),
        month("2026-08-01", "2026-09-01", "INV-000005"),
        # September until the change, issued on 10 September, with Plus's unused days: 10
        # September – 1 January: 21 + 31 + 30 + 31 = 113 of 365: 2400.00 × 113/365 = 743.013…
        month(
            "2026-09-01",
            "2026-10-01",
            "CN-000002",
            unused("2026-09-10", 3, "Annual platform fee (Plus)", "113/365", "2400.00", "-743.01"),
            total="-743.01",
        ),
        # back on calendar months: 10 September – 1 October is 21 of September's 30 days:
        # 99.00 × 21/30 = 69.30
        invoice(
            "advance",
            "2026-09-10/2026-10-01",
            "INV-000006",
            (("fee:platform", "Platform fee (prorated 21/30 days)", "1", "99.00", "69.30"),),
            "69.30",
        ),
        invoice(
            "arrears", "2026-09-10/2026-10-01", "INV-000008", (tier_1("2026-09-10", 0),), "0.00"
        ),
        invoice("advance", "2026-10-01/2026-11-01", "INV-000007", (PLATFORM,), "99.00"),
    ]


def test_an_interval_change_in_a_trial(world: Callable[..., World]) -> None:
    w = world(plans=[PRO, ANNUAL], start="2026-06-01T08:00:00Z")
    w.customer("acme")
    w.subscribe("s1", "acme", "pro", "2026-06-01", trial_end="2026-06-20")
    w.at("2026-06-02T09:00:00Z").amend("s1", "upgrade", "2026-06-16", plan="annual")
    w.at("2026-06-25T12:00:00Z").usage("t-acme", "api.request", "2026-06-25T10:00:00Z", times=300)
    w.at("2026-07-04T00:00:00Z").bill("2026-07-04")
    assert w.invoices("s1") == [
        # billable from the trial's end: 20 – 30 June, 11 of 30 days: 99.00 × 11/30 = 36.30
        invoice(
            "advance",
            "2026-06-01/2026-07-01",
            "INV-000001",
            (("fee:platform", "Platform fee (prorated 11/30 days)", "1", "99.00", "36.30"),),
            "36.30",
        ),
        # no usage billed in the trial; the 11 billed days come back
        invoice(
            "arrears",
            "2026-06-01/2026-07-01",
            "CN-000001",
            (unused("2026-06-16", 1, "Platform fee", "11/30", "99.00", "-36.30"),),
            "-36.30",
        ),
        # the trial goes on: billable 20 June – 1 January, 195 of 365 days:
        # 1200.00 × 195/365 = 641.095… → 641.10
        invoice(
            "advance",
            "2026-06-16/2027-01-01",
            "INV-000002",
            (
                (
                    "fee:platform",
                    "Annual platform fee (prorated 195/365 days)",
                    "1",
                    "1200.00",
                    "641.10",
                ),
            ),
            "641.10",
        ),
        invoice(
            "arrears",
            "2026-06-16/2026-07-01",
            "INV-000003",
            (calls("2026-06-20", 300, "0.01", "3.00"),),
            "3.00",
        ),
    ]


def test_cancelled_the_day_of_the_change_no_new_calendar_is_billed(
    world: Callable[..., World],
) -> None:
    w = world(plans=[PRO, ANNUAL], start="2026-06-01T08:00:00Z")
    _june_upgrade(w)
    w.at("2026-06-13T09:00:00Z").amend("s1", "cancel", "2026-06-16")
    w.at("2026-07-04T00:00:00Z").bill("2026-07-04")
    june_usage = (
        tier_1("2026-06-01", 1000),
        (
            "usage:calls:2026-06-01:tier-2",
            "API calls — tier 2 (above 1,000)",
            "500",
            "0.012",
            "6.00",
        ),
        unused("2026-06-16", 1, "Platform fee", "15/30", "99.00", "-49.50"),
    )
    assert w.invoices("s1") == [
        invoice("advance", "2026-06-01/2026-07-01", "INV-000001", (PLATFORM,), "99.00"),
        # the unused time once (the change and the end of service fall on one day)
        invoice("arrears", "2026-06-01/2026-07-01", "CN-000001", june_usage, "-43.50"),
    ]


def test_cancelled_later_in_the_new_calendar(world: Callable[..., World]) -> None:
    w = world(plans=[PRO, ANNUAL], start="2026-06-01T08:00:00Z")
    _june_upgrade(w)
    w.at("2026-08-20T09:00:00Z").amend("s1", "cancel", "2026-09-01")
    w.at("2026-09-04T00:00:00Z").bill("2026-09-04")
    assert [(i.period, i.number, i.lines[-1], i.totals[3]) for i in w.invoices("s1")] == [
        ("2026-06-01/2026-07-01", "INV-000001", PLATFORM, "99.00"),
        (
            "2026-06-01/2026-07-01",
            "CN-000001",
            unused("2026-06-16", 1, "Platform fee", "15/30", "99.00", "-49.50"),
            "-43.50",
        ),
        ("2026-06-16/2027-01-01", "INV-000002", YEAR_FROM_JUNE_16, "654.25"),
        ("2026-06-16/2026-07-01", "INV-000003", calls("2026-06-16", 0, "0.01", "0.00"), "0.00"),
        ("2026-07-01/2026-08-01", "INV-000004", calls("2026-07-01", 0, "0.01", "0.00"), "0.00"),
        # prorated over the whole calendar year, as the first year was billed: 1 September –
        # 1 January, 30 + 31 + 30 + 31 = 122 of 365 days: 1200.00 × 122/365 = 401.095… → 401.10
        (
            "2026-08-01/2026-09-01",
            "CN-000002",
            unused("2026-09-01", 2, "Annual platform fee", "122/365", "1200.00", "-401.10"),
            "-401.10",
        ),
    ]
    assert w.invoices("s1")[-1].lines == (
        calls("2026-08-01", 0, "0.01", "0.00"),
        unused("2026-09-01", 2, "Annual platform fee", "122/365", "1200.00", "-401.10"),
    )


def test_a_commitment_in_the_new_calendars_first_short_month_is_prorated(
    world: Callable[..., World],
) -> None:
    w = world(plans=[COMMITTED, ANNUAL_COMMITTED], start="2026-06-01T08:00:00Z")
    w.customer("acme")
    w.subscribe("s1", "acme", "committed", "2026-06-01")
    w.at("2026-06-12T09:00:00Z").amend("s1", "upgrade", "2026-06-16", plan="annual-c")
    w.at("2026-07-04T00:00:00Z").bill("2026-07-04")
    # both commitments of 50 are prorated 15/30 days: 25.00 each; on 16 June the advance
    # invoice is numbered before the arrears one
    assert w.invoices("s1") == [
        invoice(
            "arrears",
            "2026-06-01/2026-07-01",
            "INV-000002",
            (
                calls("2026-06-01", 0, "0.10", "0.00"),
                (
                    "minimum:2026-06-01",
                    "Minimum commitment of 50 — shortfall (prorated 15/30 days)",
                    "1",
                    "25.00",
                    "25.00",
                ),
            ),
            "25.00",
        ),
        invoice("advance", "2026-06-16/2027-01-01", "INV-000001", (YEAR_FROM_JUNE_16,), "654.25"),
        invoice(
            "arrears",
            "2026-06-16/2026-07-01",
            "INV-000003",
            (
                calls("2026-06-16", 0, "0.01", "0.00"),
                (
                    "minimum:2026-06-16",
                    "Minimum commitment of 50 — shortfall (prorated 15/30 days)",
                    "1",
                    "25.00",
                    "25.00",
                ),
            ),
            "25.00",
        ),
    ]


def test_a_change_of_interval_cannot_recut_periods_already_invoiced(
    world: Callable[..., World],
) -> None:
    w = world(plans=[PRO, ANNUAL], start="2026-06-01T08:00:00Z")
    w.customer("acme")
    w.subscribe("s1", "acme", "pro", "2026-06-01")
    w.at("2026-07-04T00:00:00Z").bill("2026-07-04")  # July's advance invoice is out
    with pytest.raises(InvalidField) as refused:
        w.amend("s1", "upgrade", "2026-06-20", plan="annual")
    assert refused.value.field == "effective"
    assert "2026-07-01/2026-08-01" in str(refused.value)
    # from after the last period invoiced, it is taken
    w.amend("s1", "upgrade", "2026-07-02", plan="annual")
    assert [c.start.isoformat() for c in w.container.subscriptions.get("s1").calendars] == [
        "2026-06-01",
        "2026-07-02",
    ]


def test_a_cancellation_on_the_1st_recorded_after_the_last_invoice_is_final(
    world: Callable[..., World],
) -> None:
    """The unused time of a change on the day service ends goes on the usage period that ends
    then; recorded after that invoice is final, it is adjusted (here on an invoice of its own:
    no invoice follows the end of service)."""
    w = world(plans=[PRO, ANNUAL], start="2026-06-01T08:00:00Z")
    _june_upgrade(w)
    w.at("2026-09-05T00:00:00Z").bill("2026-09-05")  # August's invoice is final
    w.at("2026-09-06T09:00:00Z").amend("s1", "cancel", "2026-09-01")
    w.at("2026-09-10T00:00:00Z").bill("2026-09-10")
    w.at("2026-09-14T00:00:00Z").bill("2026-09-14")  # after its grace period
    august = invoice_id("s1", Period(date(2026, 8, 1), date(2026, 9, 1)), InvoiceKind.ARREARS)
    assert w.invoices("s1")[-2:] == [
        invoice(
            "arrears",
            "2026-08-01/2026-09-01",
            "INV-000005",
            (calls("2026-08-01", 0, "0.01", "0.00"),),
            "0.00",
        ),
        # 1 September – 1 January of the first year: 1200.00 × 122/365 = 401.095… → 401.10
        invoice(
            "adjustment",
            "2026-09-10/2026-09-11",
            "CN-000002",
            (
                (
                    f"adjustment:{august}:proration:2026-09-01:v2:platform",
                    "Adjustment: Unused time on Annual platform fee (prorated 122/365 days)",
                    "1",
                    "1200.00",
                    "-401.10",
                ),
            ),
            "-401.10",
        ),
    ]
