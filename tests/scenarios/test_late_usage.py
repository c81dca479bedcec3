"""Late usage scenarios: events that arrive after their period was invoiced.

During the grace period (72 h after the issue day starts) late events land in the draft. After
finalization the invoice never changes: the difference is billed, line by line, as adjustment
lines keyed ``adjustment:<invoice id>:<line key>`` — on the next arrears invoice by default, on
an adjustment invoice with ``late_usage: separate_invoice``. Never lost, never billed twice.

The plan: 99.00 a month in advance, API calls free up to 1,000 then 0.012 each. Every expected
figure is worked out by hand in the comments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal

from revsync.application.ingestion import IngestContext, IngestReport
from revsync.domain.invoicing import InvoiceKind, invoice_id
from revsync.domain.periods import Period
from revsync.schemas.cloudevents_v1 import decode_items
from tests.scenarios.harness import PRO, Rendered, World, invoice, moment
from tests.support.events import encode, event

NOV = "2026-11-01/2026-12-01"
DEC = "2026-12-01/2027-01-01"
JAN = "2027-01-01/2027-02-01"
PLATFORM = ("fee:platform", "Platform fee", "1", "99.00", "99.00")
TIER_1 = "API calls — tier 1 (up to 1,000)"
TIER_2 = "API calls — tier 2 (above 1,000)"


def november_arrears_id() -> str:
    return invoice_id("s1", Period(date(2026, 11, 1), date(2026, 12, 1)), InvoiceKind.ARREARS)


def send(w: World, ids: Sequence[str], tenant: str, when: str) -> IngestReport:
    """Ingest ``api.request`` events with these ids (the same ids again are duplicates)."""
    events = [
        event(i, subject=tenant, type="api.request", time=moment(when), source="app://late")
        for i in ids
    ]
    return w.container.ingestion.ingest(
        decode_items([encode(e) for e in events]), IngestContext("api", "scenario")
    )


def arrears_of(w: World, period: str) -> Rendered:
    [found] = [i for i in w.invoices("s1") if (i.kind, i.period) == ("arrears", period)]
    return found


def november_billed(world: Callable[..., World], calls: int, **options: object) -> World:
    """Acme on Pro from 1 November with ``calls`` calls on 20 November; on 4 December the
    November advance (INV-000001), the December advance (INV-000002) and the November arrears
    invoice (INV-000003) are finalized."""
    w = world(plans=[PRO], start="2026-11-01T08:00:00Z", **options)
    w.customer("acme")
    w.subscribe("s1", "acme", "pro", "2026-11-01")
    w.at("2026-11-04T00:00:00Z").bill("2026-11-04")
    w.at("2026-11-20T12:00:00Z").usage("t-acme", "api.request", "2026-11-20T10:00:00Z", times=calls)
    w.at("2026-12-04T00:00:00Z").bill("2026-12-04")
    return w


#: November as invoiced with 1,100 calls: 100 × 0.012 = 1.20
NOVEMBER_1100 = invoice(
    "arrears",
    NOV,
    "INV-000003",
    (
        ("usage:calls:2026-11-01:tier-1", TIER_1, "1000", "0", "0.00"),
        ("usage:calls:2026-11-01:tier-2", TIER_2, "100", "0.012", "1.20"),
    ),
    "1.20",
)


def late_200_on_the_december_invoice(december_calls: str) -> list[Rendered]:
    """1,100 calls invoiced for November, 200 more arrived on 10 December."""
    november = november_arrears_id()
    return [
        invoice("advance", NOV, "INV-000001", (PLATFORM,), "99.00"),
        NOVEMBER_1100,
        invoice("advance", DEC, "INV-000002", (PLATFORM,), "99.00"),
        invoice(
            "arrears",
            DEC,
            "INV-000005",
            (
                ("usage:calls:2026-12-01:tier-1", TIER_1, december_calls, "0", "0.00"),
                # November is now 1,300 calls: tier 2 holds 300, 200 more than invoiced,
                # 200 × 0.012 = 2.40
                (
                    f"adjustment:{november}:usage:calls:2026-11-01:tier-2",
                    f"Adjustment: {TIER_2}",
                    "200",
                    "0.012",
                    "2.40",
                ),
            ),
            "2.40",
        ),
        invoice("advance", JAN, "INV-000004", (PLATFORM,), "99.00"),
    ]


# --- before finalization -----------------------------------------------------------------


def test_late_events_in_the_grace_period_land_in_the_draft(world: Callable[..., World]) -> None:
    w = world(plans=[PRO], start="2026-11-01T08:00:00Z")
    w.customer("acme")
    w.subscribe("s1", "acme", "pro", "2026-11-01")
    w.at("2026-11-20T12:00:00Z").usage("t-acme", "api.request", "2026-11-20T10:00:00Z", times=1100)
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")  # November's arrears invoice: a draft
    w.at("2026-12-02T09:00:00Z").usage("t-acme", "api.request", "2026-11-28T10:00:00Z", times=300)
    assert november_arrears_id() in w.bill("2026-12-02").updated
    w.at("2026-12-04T00:00:00Z").bill("2026-12-04")
    w.at("2027-01-04T00:00:00Z").bill("2027-01-04")
    assert w.invoices("s1") == [
        invoice("advance", NOV, "INV-000001", (PLATFORM,), "99.00"),
        invoice(
            "arrears",
            NOV,
            "INV-000003",
            (
                # 1,400 calls: 400 × 0.012 = 4.80
                ("usage:calls:2026-11-01:tier-1", TIER_1, "1000", "0", "0.00"),
                ("usage:calls:2026-11-01:tier-2", TIER_2, "400", "0.012", "4.80"),
            ),
            "4.80",
        ),
        invoice("advance", DEC, "INV-000002", (PLATFORM,), "99.00"),
        # nothing more to bill for November
        invoice(
            "arrears",
            DEC,
            "INV-000005",
            (("usage:calls:2026-12-01:tier-1", TIER_1, "0", "0", "0.00"),),
            "0.00",
        ),
        invoice("advance", JAN, "INV-000004", (PLATFORM,), "99.00"),
    ]


# --- after finalization ------------------------------------------------------------------


def test_late_events_after_finalization_adjust_the_next_invoice_once(
    world: Callable[..., World],
) -> None:
    w = november_billed(world, 1100)
    w.at("2026-12-10T12:00:00Z").usage("t-acme", "api.request", "2026-11-25T10:00:00Z", times=200)
    w.at("2026-12-15T12:00:00Z").usage("t-acme", "api.request", "2026-12-15T10:00:00Z", times=300)
    report = w.at("2027-01-04T00:00:00Z").bill("2027-01-04")
    assert report.adjusted == [november_arrears_id()]
    assert w.invoices("s1") == late_200_on_the_december_invoice("300")
    # later runs bill nothing more for November
    w.at("2027-01-05T00:00:00Z").bill("2027-01-05")
    w.at("2027-02-04T00:00:00Z").bill("2027-02-04")
    assert arrears_of(w, JAN) == invoice(
        "arrears",
        JAN,
        "INV-000007",
        (("usage:calls:2027-01-01:tier-1", TIER_1, "0", "0", "0.00"),),
        "0.00",
    )


def test_late_events_are_not_lost_by_runs_before_the_next_invoice(
    world: Callable[..., World],
) -> None:
    """Billing runs daily: a run that finds late usage but nothing due yet to put the
    adjustment on must not forget it, and the runs over the next draft must keep it."""
    w = november_billed(world, 1100)
    w.at("2026-12-10T12:00:00Z").usage("t-acme", "api.request", "2026-11-25T10:00:00Z", times=200)
    w.at("2026-12-15T12:00:00Z").usage("t-acme", "api.request", "2026-12-15T10:00:00Z", times=300)
    for day in ("2026-12-10", "2026-12-15", "2027-01-01", "2027-01-02", "2027-01-04"):
        w.at(f"{day}T18:00:00Z").bill(day)
    assert w.invoices("s1") == late_200_on_the_december_invoice("300")


def test_late_usage_on_a_separate_adjustment_invoice(world: Callable[..., World]) -> None:
    w = november_billed(world, 1100, billing={"late_usage": "separate_invoice"})
    w.at("2026-12-10T12:00:00Z").usage("t-acme", "api.request", "2026-11-25T10:00:00Z", times=200)
    w.bill("2026-12-10")
    w.at("2027-01-04T00:00:00Z").bill("2027-01-04")
    november = november_arrears_id()
    assert w.invoices("s1") == [
        invoice("advance", NOV, "INV-000001", (PLATFORM,), "99.00"),
        NOVEMBER_1100,
        invoice("advance", DEC, "INV-000002", (PLATFORM,), "99.00"),
        # December's own arrears invoice carries no adjustment
        invoice(
            "arrears",
            DEC,
            "INV-000006",
            (("usage:calls:2026-12-01:tier-1", TIER_1, "0", "0", "0.00"),),
            "0.00",
        ),
        # the adjustment invoice raised by the run of 10 December: dated that day, finalized
        # after its grace period, numbered before the invoices of 1 January
        invoice(
            "adjustment",
            "2026-12-10/2026-12-11",
            "INV-000004",
            (
                (
                    f"adjustment:{november}:usage:calls:2026-11-01:tier-2",
                    f"Adjustment: {TIER_2}",
                    "200",
                    "0.012",
                    "2.40",
                ),
            ),
            "2.40",
        ),
        invoice("advance", JAN, "INV-000005", (PLATFORM,), "99.00"),
    ]


def test_late_events_pushing_usage_into_the_next_tier_bill_the_marginal_price(
    world: Callable[..., World],
) -> None:
    w = november_billed(world, 900)
    w.at("2026-12-10T12:00:00Z").usage("t-acme", "api.request", "2026-11-25T10:00:00Z", times=200)
    w.at("2027-01-04T00:00:00Z").bill("2027-01-04")
    november = november_arrears_id()
    assert w.invoices("s1") == [
        invoice("advance", NOV, "INV-000001", (PLATFORM,), "99.00"),
        invoice(
            "arrears",
            NOV,
            "INV-000003",
            (("usage:calls:2026-11-01:tier-1", TIER_1, "900", "0", "0.00"),),
            "0.00",
        ),
        invoice("advance", DEC, "INV-000002", (PLATFORM,), "99.00"),
        invoice(
            "arrears",
            DEC,
            "INV-000005",
            (
                ("usage:calls:2026-12-01:tier-1", TIER_1, "0", "0", "0.00"),
                # 1,100 calls now: 100 more in the free tier, 100 in tier 2 at 0.012 = 1.20
                (
                    f"adjustment:{november}:usage:calls:2026-11-01:tier-1",
                    f"Adjustment: {TIER_1}",
                    "100",
                    "0",
                    "0.00",
                ),
                (
                    f"adjustment:{november}:usage:calls:2026-11-01:tier-2",
                    f"Adjustment: {TIER_2}",
                    "100",
                    "0.012",
                    "1.20",
                ),
            ),
            "1.20",
        ),
        invoice("advance", JAN, "INV-000004", (PLATFORM,), "99.00"),
    ]


def test_an_unmapped_tenant_mapped_after_finalization_becomes_an_adjustment(
    world: Callable[..., World],
) -> None:
    w = world(plans=[PRO], start="2026-11-01T08:00:00Z")
    w.customer("acme")
    w.subscribe("s1", "acme", "pro", "2026-11-01")
    w.at("2026-11-15T12:00:00Z")
    w.usage("t-acme", "api.request", "2026-11-15T10:00:00Z", times=800)
    assert w.usage("t-acme-2", "api.request", "2026-11-15T10:00:00Z", times=500).unmapped == 500
    w.at("2026-12-04T00:00:00Z").bill("2026-12-04")
    # the second tenant is found to be Acme's on 10 December
    w.at("2026-12-10T12:00:00Z").customer("acme", tenants=["t-acme", "t-acme-2"])
    w.at("2027-01-04T00:00:00Z").bill("2027-01-04")
    w.at("2027-02-04T00:00:00Z").bill("2027-02-04")  # and once only
    november = november_arrears_id()
    assert w.invoices("s1") == [
        invoice("advance", NOV, "INV-000001", (PLATFORM,), "99.00"),
        invoice(
            "arrears",
            NOV,
            "INV-000003",
            (("usage:calls:2026-11-01:tier-1", TIER_1, "800", "0", "0.00"),),
            "0.00",
        ),
        invoice("advance", DEC, "INV-000002", (PLATFORM,), "99.00"),
        invoice(
            "arrears",
            DEC,
            "INV-000005",
            (
                ("usage:calls:2026-12-01:tier-1", TIER_1, "0", "0", "0.00"),
                # 1,300 calls in November: 200 more free, 300 × 0.012 = 3.60
                (
                    f"adjustment:{november}:usage:calls:2026-11-01:tier-1",
                    f"Adjustment: {TIER_1}",
                    "200",
                    "0",
                    "0.00",
                ),
                (
                    f"adjustment:{november}:usage:calls:2026-11-01:tier-2",
                    f"Adjustment: {TIER_2}",
                    "300",
                    "0.012",
                    "3.60",
                ),
            ),
            "3.60",
        ),
        invoice("advance", JAN, "INV-000004", (PLATFORM,), "99.00"),
        invoice(
            "arrears",
            JAN,
            "INV-000007",
            (("usage:calls:2027-01-01:tier-1", TIER_1, "0", "0", "0.00"),),
            "0.00",
        ),
        invoice("advance", "2027-02-01/2027-03-01", "INV-000006", (PLATFORM,), "99.00"),
    ]


def test_late_events_sent_again_are_not_billed_twice(world: Callable[..., World]) -> None:
    w = november_billed(world, 1100)
    late = [f"late-{n}" for n in range(200)]
    w.at("2026-12-10T12:00:00Z")
    assert send(w, late, "t-acme", "2026-11-25T10:00:00Z").accepted == 200
    assert send(w, late, "t-acme", "2026-11-25T10:00:00Z").duplicates == 200  # a retry
    w.at("2027-01-04T00:00:00Z").bill("2027-01-04")
    w.at("2027-01-05T00:00:00Z")
    again = send(w, late, "t-acme", "2026-11-25T10:00:00Z")  # replayed after billing
    assert (again.accepted, again.duplicates) == (0, 200)
    w.at("2027-01-06T00:00:00Z").bill("2027-01-06")
    assert w.invoices("s1") == late_200_on_the_december_invoice("0")
    w.at("2027-02-04T00:00:00Z").bill("2027-02-04")
    assert arrears_of(w, JAN) == invoice(
        "arrears",
        JAN,
        "INV-000007",
        (("usage:calls:2027-01-01:tier-1", TIER_1, "0", "0", "0.00"),),
        "0.00",
    )


def test_late_events_after_an_adjustment_was_final_adjust_only_the_period_they_belong_to(
    world: Callable[..., World],
) -> None:
    # December's invoice carries November's adjustment; a second late November call after it
    # is final makes December's invoice stale too (usage before its end arrived): rated again,
    # December has nothing to set against November's adjustment, so it adds nothing of its own
    w = november_billed(world, 1001)  # 1 call above 1,000: 0.012 → 0.01
    w.at("2026-12-10T12:00:00Z")
    assert send(w, ["late-1"], "t-acme", "2026-11-28T10:00:00Z").accepted == 1
    w.at("2027-01-04T00:00:00Z").bill("2027-01-04")
    w.at("2027-01-10T12:00:00Z")
    assert send(w, ["late-2"], "t-acme", "2026-11-28T10:00:00Z").accepted == 1
    w.at("2027-02-04T00:00:00Z").bill("2027-02-04")
    w.bill("2027-02-04")  # and once only
    november = november_arrears_id()
    tier_2 = f"adjustment:{november}:usage:calls:2026-11-01:tier-2"
    assert [i for i in w.invoices("s1") if i.kind == "arrears"] == [
        invoice(
            "arrears",
            NOV,
            "INV-000003",
            (
                ("usage:calls:2026-11-01:tier-1", TIER_1, "1000", "0", "0.00"),
                ("usage:calls:2026-11-01:tier-2", TIER_2, "1", "0.012", "0.01"),
            ),
            "0.01",
        ),
        invoice(
            "arrears",
            DEC,
            "INV-000005",
            (
                ("usage:calls:2026-12-01:tier-1", TIER_1, "0", "0", "0.00"),
                # 1,002 calls: 2 × 0.012 = 0.024 → 0.02, 0.01 billed: 0.01 more
                (tier_2, f"Adjustment: {TIER_2}", "1", "0.012", "0.01"),
            ),
            "0.01",
        ),
        invoice(
            "arrears",
            JAN,
            "INV-000007",
            (
                ("usage:calls:2027-01-01:tier-1", TIER_1, "0", "0", "0.00"),
                # 1,003 calls: 3 × 0.012 = 0.036 → 0.04, 0.02 billed: 0.02 more — and no
                # adjustment of December's adjustment line
                (tier_2, f"Adjustment: {TIER_2}", "1", "0.012", "0.02"),
            ),
            "0.02",
        ),
    ]


def test_late_usage_after_the_subscription_ended_comes_on_an_adjustment_invoice(
    world: Callable[..., World],
) -> None:
    w = world(plans=[PRO], start="2026-11-01T08:00:00Z")
    w.customer("acme")
    w.subscribe("s1", "acme", "pro", "2026-11-01")
    w.at("2026-11-04T00:00:00Z").bill("2026-11-04")
    w.at("2026-11-10T12:00:00Z").usage("t-acme", "api.request", "2026-11-10T10:00:00Z", times=1100)
    w.at("2026-11-14T09:00:00Z").amend("s1", "cancel", "2026-11-16")
    w.at("2026-11-19T00:00:00Z").bill("2026-11-19")  # the final invoice
    w.at("2026-12-10T12:00:00Z").usage("t-acme", "api.request", "2026-11-12T10:00:00Z", times=300)
    w.bill("2026-12-10")
    w.at("2027-01-04T00:00:00Z").bill("2027-01-04")
    w.at("2027-02-04T00:00:00Z").bill("2027-02-04")
    november = november_arrears_id()
    assert w.invoices("s1") == [
        invoice("advance", NOV, "INV-000001", (PLATFORM,), "99.00"),
        invoice(
            "arrears",
            NOV,
            "CN-000001",
            (
                ("usage:calls:2026-11-01:tier-1", TIER_1, "1000", "0", "0.00"),
                ("usage:calls:2026-11-01:tier-2", TIER_2, "100", "0.012", "1.20"),
                # 15 of 30 days unused: 99.00 / 2
                (
                    "proration:2026-11-16:v1:platform",
                    "Unused time on Platform fee (prorated 15/30 days)",
                    "1",
                    "99.00",
                    "-49.50",
                ),
            ),
            "-48.30",
        ),
        # no later arrears invoice to carry it: an adjustment invoice dated the run, billed once
        invoice(
            "adjustment",
            "2026-12-10/2026-12-11",
            "INV-000002",
            # 1,400 calls now: 300 more in tier 2, 300 × 0.012 = 3.60
            (
                (
                    f"adjustment:{november}:usage:calls:2026-11-01:tier-2",
                    f"Adjustment: {TIER_2}",
                    "300",
                    "0.012",
                    "3.60",
                ),
            ),
            "3.60",
        ),
    ]


def test_a_voided_invoice_is_not_adjusted(world: Callable[..., World]) -> None:
    w = november_billed(world, 1100)
    w.at("2026-12-05T09:00:00Z").container.billing.void(november_arrears_id(), "wrong", "x")
    w.at("2026-12-10T12:00:00Z").usage("t-acme", "api.request", "2026-11-25T10:00:00Z", times=200)
    w.at("2027-01-04T00:00:00Z").bill("2027-01-04")
    voided = replace(NOVEMBER_1100, status="void")
    assert w.invoices("s1") == [
        invoice("advance", NOV, "INV-000001", (PLATFORM,), "99.00"),
        voided,
        invoice("advance", DEC, "INV-000002", (PLATFORM,), "99.00"),
        invoice(
            "arrears",
            DEC,
            "INV-000005",
            (("usage:calls:2026-12-01:tier-1", TIER_1, "0", "0", "0.00"),),
            "0.00",
        ),
        invoice("advance", JAN, "INV-000004", (PLATFORM,), "99.00"),
    ]


def test_a_credit_note_does_not_count_as_billed(world: Callable[..., World]) -> None:
    w = november_billed(world, 1100)
    tier_2 = "usage:calls:2026-11-01:tier-2"
    note = w.at("2026-12-05T09:00:00Z").container.billing.credit(
        november_arrears_id(), {tier_2: Decimal("1.00")}, "goodwill", "x"
    )
    assert (note.number, note.totals.total) == ("CN-000001", Decimal("-1.00"))
    w.at("2026-12-10T12:00:00Z").usage("t-acme", "api.request", "2026-11-25T10:00:00Z", times=200)
    w.at("2027-01-04T00:00:00Z").bill("2027-01-04")
    # the adjustment compares with what November's invoice billed (1.20), not 1.20 − 1.00
    assert w.invoices("s1") == late_200_on_the_december_invoice("0")
