"""Shadow re-rating scenarios: a plan version (or a plan not stored) run over periods already
billed, compared with the invoices issued — per customer, period and line, before tax.

Unless a scenario says otherwise: ``metered`` version 1 charges a platform fee of 20.00 a month
in advance and 0.002 per API call in arrears; acme and globex (EUR, UTC) are on it from
1 October 2026; the runs of 1 November and 1 December (grace period 0 h) bill October and
November. Version 2 keeps the fee and prices calls in tiers: the first 500 free, then 0.003
each. Every expected figure is worked out by hand in the comments.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from revsync.adapters.db.engine import BILLING_LOCK, IDENTITY_LOCK, WRITE, is_sqlite
from revsync.application.rerates import RerateRequest
from revsync.domain.errors import InvalidField
from revsync.domain.invoicing import Invoice
from revsync.domain.rerating import Rerate
from revsync.ports.billing import InvoiceFilter
from revsync.schemas.rerates_v1 import rerate_out
from tests.scenarios.harness import World, render

NO_GRACE = {"grace_period_hours": 0}
OCT = ("2026-10-01", "2026-11-01")
NOV = ("2026-11-01", "2026-12-01")
PLATFORM = {
    "key": "platform",
    "model": "flat",
    "description": "Platform fee",
    "timing": "in_advance",
    "amount": "20.00",
}
PER_CALL = {
    "key": "calls",
    "model": "per_unit",
    "description": "API calls",
    "meter": "api_calls",
    "amount": "0.002",
}
TIERED = {
    "key": "calls",
    "model": "graduated",
    "description": "API calls",
    "meter": "api_calls",
    "tiers": [{"up_to": "500", "unit_amount": "0"}, {"up_to": None, "unit_amount": "0.003"}],
}
METERED = {
    "code": "metered",
    "name": "Metered",
    "currency": "EUR",
    "interval": "month",
    "charges": [PLATFORM, PER_CALL],
}
#: version 2 of metered (put after October and November were billed)
TIERED_VERSION = {"name": "Metered", "currency": "EUR", "interval": "month"} | {
    "charges": [PLATFORM, TIERED]
}
BASIC = {
    "code": "basic",
    "name": "Basic",
    "currency": "EUR",
    "interval": "month",
    "charges": [
        {
            "key": "base",
            "model": "flat",
            "description": "Base fee",
            "timing": "in_advance",
            "amount": "10.00",
        }
    ],
}
TIER_1 = "API calls — tier 1 (up to 500)"
TIER_2 = "API calls — tier 2 (above 500)"


def rerate(w: World, **given: Any) -> Rerate:
    """A re-rate of October and November (unless the request says otherwise)."""
    fields: dict[str, Any] = {"start": date(2026, 10, 1), "end": date(2026, 11, 30)} | given
    return w.container.rerates().run(RerateRequest(**fields))


def customers(report: Rerate) -> list[tuple[Any, ...]]:
    """Each customer: id, issued, re-rated, difference, percent."""
    return [
        (c["customer_id"], c["issued"], c["rerated"], c["difference"], c["difference_percent"])
        for c in rerate_out(report)["customers"]
    ]


def periods(report: Rerate, customer_id: str) -> list[tuple[Any, ...]]:
    """A customer's periods: subscription, kind, dates, number, issued, re-rated, difference,
    and each line (key, description, issued quantity and amount, re-rated quantity and
    amount, difference)."""
    [found] = [c for c in rerate_out(report)["customers"] if c["customer_id"] == customer_id]
    return [
        (
            p["subscription_id"],
            p["kind"],
            (p["period"]["start"], p["period"]["end"]),
            p["number"],
            p["issued"],
            p["rerated"],
            p["difference"],
            [
                (
                    x["key"],
                    x["description"],
                    x["issued_quantity"],
                    x["issued"],
                    x["rerated_quantity"],
                    x["rerated"],
                    x["difference"],
                )
                for x in p["lines"]
            ],
        )
        for p in found["periods"]
    ]


def fee(number: str, period: tuple[str, str], subscription: str = "s1") -> tuple[Any, ...]:
    """An advance period whose fee is the same on both sides."""
    line = ("fee:platform", "Platform fee", "1", "20.00", "1", "20.00", "0.00")
    return (subscription, "advance", period, number, "20.00", "20.00", "0.00", [line])


def two_customers(world: Callable[..., World], **options: Any) -> World:
    """acme: 1,200 calls in October, 300 in November; globex: 200 and 2,000. Both months
    billed on version 1; then version 2 is put."""
    w = world(plans=[METERED], start="2026-10-01T08:00:00Z", billing=NO_GRACE, **options)
    w.customer("acme")
    w.customer("globex")
    w.subscribe("s1", "acme", "metered", "2026-10-01")
    w.subscribe("s2", "globex", "metered", "2026-10-01")
    w.at("2026-10-20T12:00:00Z").usage("t-acme", "api.request", "2026-10-20T11:00:00Z", times=1200)
    w.usage("t-globex", "api.request", "2026-10-20T11:00:00Z", times=200)
    w.at("2026-11-01T09:00:00Z").bill("2026-11-01")
    w.at("2026-11-20T12:00:00Z").usage("t-acme", "api.request", "2026-11-20T11:00:00Z", times=300)
    w.usage("t-globex", "api.request", "2026-11-20T11:00:00Z", times=2000)
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    w.container.catalog.put_plan("metered", TIERED_VERSION, "scenario")
    return w


def test_a_per_unit_price_rerated_on_graduated_tiers_per_customer_and_line(
    world: Callable[..., World],
) -> None:
    w = two_customers(world)
    issued_before = [render(i) for i in _all_invoices(w)]
    report = rerate(w, plan="metered@2")
    assert (report.plan, report.stored, report.replaces, report.currency) == (
        "metered@2",
        True,
        "metered",
        "EUR",
    )
    # acme, October: 1,200 × 0.002 = 2.40 issued; re-rated 500 free + 700 × 0.003 = 2.10
    # November: 300 × 0.002 = 0.60 issued; re-rated 300 in the free tier = 0.00
    assert periods(report, "acme") == [
        fee("INV-000001", OCT),
        (
            "s1",
            "arrears",
            OCT,
            "INV-000004",
            "2.40",
            "2.10",
            "-0.30",
            [
                ("usage:calls:2026-10-01", "API calls", "1200", "2.40", "0", "0.00", "-2.40"),
                ("usage:calls:2026-10-01:tier-1", TIER_1, "0", "0.00", "500", "0.00", "0.00"),
                ("usage:calls:2026-10-01:tier-2", TIER_2, "0", "0.00", "700", "2.10", "2.10"),
            ],
        ),
        fee("INV-000003", NOV),
        (
            "s1",
            "arrears",
            NOV,
            "INV-000008",
            "0.60",
            "0.00",
            "-0.60",
            [
                ("usage:calls:2026-11-01", "API calls", "300", "0.60", "0", "0.00", "-0.60"),
                ("usage:calls:2026-11-01:tier-1", TIER_1, "0", "0.00", "300", "0.00", "0.00"),
            ],
        ),
    ]
    # globex, October: 200 × 0.002 = 0.40 issued, 0.00 re-rated; November: 2,000 × 0.002 =
    # 4.00 issued; re-rated 500 free + 1,500 × 0.003 = 4.50
    assert periods(report, "globex") == [
        fee("INV-000002", OCT, "s2"),
        (
            "s2",
            "arrears",
            OCT,
            "INV-000006",
            "0.40",
            "0.00",
            "-0.40",
            [
                ("usage:calls:2026-10-01", "API calls", "200", "0.40", "0", "0.00", "-0.40"),
                ("usage:calls:2026-10-01:tier-1", TIER_1, "0", "0.00", "200", "0.00", "0.00"),
            ],
        ),
        fee("INV-000005", NOV, "s2"),
        (
            "s2",
            "arrears",
            NOV,
            "INV-000010",
            "4.00",
            "4.50",
            "0.50",
            [
                ("usage:calls:2026-11-01", "API calls", "2000", "4.00", "0", "0.00", "-4.00"),
                ("usage:calls:2026-11-01:tier-1", TIER_1, "0", "0.00", "500", "0.00", "0.00"),
                ("usage:calls:2026-11-01:tier-2", TIER_2, "0", "0.00", "1500", "4.50", "4.50"),
            ],
        ),
    ]
    # acme: 43.00 issued, 42.10 re-rated: -0.90, -0.90 / 43.00 = -2.093 %
    # globex: 44.40 issued, 44.50 re-rated: +0.10, 0.10 / 44.40 = 0.225 %
    assert customers(report) == [
        ("acme", "43.00", "42.10", "-0.90", "-2.09"),
        ("globex", "44.40", "44.50", "0.10", "0.23"),
    ]
    out = rerate_out(report)
    # overall: 87.40 issued, 86.60 re-rated: -0.80, -0.80 / 87.40 = -0.915 %
    assert out["totals"] == {
        "customers": 2,
        "periods": 8,
        "issued": "87.40",
        "rerated": "86.60",
        "difference": "-0.80",
        "difference_percent": "-0.92",
    }
    assert [c["customer_id"] for c in out["top"]["by_amount"]] == ["acme", "globex"]
    assert [c["customer_id"] for c in out["top"]["by_percent"]] == ["acme", "globex"]
    assert out["errors"] == []
    # nothing was written: the invoices are as they were, and the catalogue too
    assert [render(i) for i in _all_invoices(w)] == issued_before
    assert [p.version for p in w.container.catalog.versions("metered")] == [1, 2]


def test_the_customers_named_only_and_a_ranking_cut_to_top(
    world: Callable[..., World],
) -> None:
    w = two_customers(world)
    only = rerate(w, plan="metered", customers=["globex", "globex"], top=1)
    assert only.plan == "metered@2"  # the newest version
    assert customers(only) == [("globex", "44.40", "44.50", "0.10", "0.23")]
    both = rerate(w, plan="metered@2", top=1)
    assert [c.customer_id for c in both.by_amount] == ["acme"]
    assert [c.customer_id for c in both.by_share] == ["acme"]
    # the periods of a range: November only
    november = rerate(w, plan="metered@2", start=date(2026, 11, 1), end=date(2026, 11, 30))
    assert customers(november) == [
        ("acme", "20.60", "20.00", "-0.60", "-2.91"),
        ("globex", "24.00", "24.50", "0.50", "2.08"),
    ]


def test_rerating_on_the_version_billed_moves_nothing_even_after_late_usage_and_a_coupon(
    world: Callable[..., World],
) -> None:
    coupons = [
        {"code": "TEN", "description": "10% off", "duration": "forever", "percent_off": "10"}
    ]
    w = world(plans=[METERED], coupons=coupons, start="2026-10-01T08:00:00Z", billing=NO_GRACE)
    w.customer("acme")
    w.subscribe("s1", "acme", "metered", "2026-10-01", coupons=[("TEN", "2026-10-01")])
    w.at("2026-10-20T12:00:00Z").usage("t-acme", "api.request", "2026-10-20T11:00:00Z", times=1000)
    w.at("2026-11-01T09:00:00Z").bill("2026-11-01")
    # 500 more October calls arrive after October was finalized: adjusted on November's invoice
    w.at("2026-11-10T12:00:00Z").usage("t-acme", "api.request", "2026-10-21T11:00:00Z", times=500)
    w.at("2026-11-20T12:00:00Z").usage("t-acme", "api.request", "2026-11-20T11:00:00Z", times=100)
    w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    [november] = [
        i for i in _all_invoices(w) if i.kind.value == "arrears" and i.number == "INV-000005"
    ]
    assert sorted(x.key.split(":", 2)[0] for x in november.lines) == [
        "adjustment",
        "adjustment",
        "discount",
        "usage",
    ]
    same = rerate(w, plan="metered@1")
    # October as issued: 1,000 × 0.002 = 2.00 less 10% (0.20), plus the adjustment of 500 ×
    # 0.002 = 1.00 less 10% (0.10) folded in: 3.00 and -0.30 — as re-rated from 1,500 calls
    [october_fee, october, november_fee, november_usage] = periods(same, "acme")
    assert october == (
        "s1",
        "arrears",
        OCT,
        "INV-000003",
        "2.70",
        "2.70",
        "0.00",
        [
            ("usage:calls:2026-10-01", "API calls", "1500", "3.00", "1500", "3.00", "0.00"),
            ("discount:TEN:standard", "10% off", "1", "-0.30", "1", "-0.30", "0.00"),
        ],
    )
    # November without the adjustment it carries for October: 100 × 0.002 = 0.20 less 0.02
    assert november_usage == (
        "s1",
        "arrears",
        NOV,
        "INV-000005",
        "0.18",
        "0.18",
        "0.00",
        [
            ("usage:calls:2026-11-01", "API calls", "100", "0.20", "100", "0.20", "0.00"),
            ("discount:TEN:standard", "10% off", "1", "-0.02", "1", "-0.02", "0.00"),
        ],
    )
    # the fees, 20.00 less 10% each month
    assert [p[4:7] for p in (october_fee, november_fee)] == [("18.00",) * 2 + ("0.00",)] * 2
    assert customers(same) == [("acme", "38.88", "38.88", "0.00", "0.00")]
    assert same.by_amount == [] and same.by_share == []


def test_a_plan_not_stored_may_price_a_meter_the_old_plan_did_not(
    world: Callable[..., World],
) -> None:
    w = two_customers(world)
    w.at("2026-12-02T09:00:00Z").usage(
        "t-acme",
        "llm.completion",
        "2026-10-05T10:00:00Z",
        {"tokens": 4000, "environment": "production"},
    )
    w.usage(
        "t-acme",
        "llm.completion",
        "2026-10-06T10:00:00Z",
        {"tokens": 9000, "environment": "staging"},
    )
    tokens = {
        "key": "tokens",
        "model": "per_unit",
        "description": "LLM tokens",
        "meter": "llm_tokens",
        "amount": "0.0005",
    }
    candidate = {
        "code": "metered-ai",
        "name": "Metered with AI",
        "currency": "EUR",
        "interval": "month",
        "charges": [PLATFORM, PER_CALL, tokens],
    }
    report = rerate(
        w, definition=candidate, replaces="metered", customers=["acme"], end=date(2026, 10, 31)
    )
    assert (report.plan, report.stored, report.replaces) == ("metered-ai@1", False, "metered")
    # the production tokens only (the meter filters staging out): 4,000 × 0.0005 = 2.00
    assert periods(report, "acme") == [
        fee("INV-000001", OCT),
        (
            "s1",
            "arrears",
            OCT,
            "INV-000004",
            "2.40",
            "4.40",
            "2.00",
            [
                ("usage:calls:2026-10-01", "API calls", "1200", "2.40", "1200", "2.40", "0.00"),
                ("usage:tokens:2026-10-01", "LLM tokens", "0", "0.00", "4000", "2.00", "2.00"),
            ],
        ),
    ]
    assert customers(report) == [("acme", "22.40", "24.40", "2.00", "8.93")]
    # not stored by the re-rate
    assert "metered-ai" not in {p.code for p in w.container.catalog.plans()}
    # a definition the same as a stored version is that version
    again = rerate(w, definition={"code": "metered"} | TIERED_VERSION, customers=["acme"])
    assert (again.plan, again.stored) == ("metered@2", True)


def test_the_candidate_replaces_the_plan_of_every_stretch(world: Callable[..., World]) -> None:
    w = world(plans=[BASIC, METERED], start="2026-10-01T08:00:00Z", billing=NO_GRACE)
    w.customer("acme")
    w.subscribe("s1", "acme", "basic", "2026-10-01")
    w.at("2026-10-05T12:00:00Z").usage("t-acme", "api.request", "2026-10-05T11:00:00Z", times=300)
    w.at("2026-10-10T12:00:00Z").amend("s1", "upgrade", "2026-10-16", plan="metered")
    w.at("2026-10-20T12:00:00Z").usage("t-acme", "api.request", "2026-10-20T11:00:00Z", times=400)
    w.at("2026-11-01T09:00:00Z").bill("2026-11-01")
    w.container.catalog.put_plan("metered", TIERED_VERSION, "scenario")
    report = rerate(w, plan="metered@2", end=date(2026, 10, 31))
    # issued: the base fee of basic in advance; in arrears, the calls from the upgrade on
    # (400 × 0.002 = 0.80), 16 of 31 days of the base fee back (10.00 × 16/31 = 5.16) and of
    # the platform fee (20.00 × 16/31 = 10.32). Re-rated: metered@2 all month, so no change of
    # plan and no proration; 700 calls: 500 free, 200 × 0.003 = 0.60
    assert periods(report, "acme") == [
        (
            "s1",
            "advance",
            OCT,
            "INV-000001",
            "10.00",
            "20.00",
            "10.00",
            [
                ("fee:base", "Base fee", "1", "10.00", "0", "0.00", "-10.00"),
                ("fee:platform", "Platform fee", "0", "0.00", "1", "20.00", "20.00"),
            ],
        ),
        (
            "s1",
            "arrears",
            OCT,
            "INV-000003",
            "5.96",
            "0.60",
            "-5.36",
            [
                ("usage:calls:2026-10-16", "API calls", "400", "0.80", "0", "0.00", "-0.80"),
                (
                    "proration:2026-10-16:v1:base",
                    "Unused time on Base fee (prorated 16/31 days)",
                    "1",
                    "-5.16",
                    "0",
                    "0.00",
                    "5.16",
                ),
                (
                    "proration:2026-10-16:v2:platform",
                    "Remaining time on Platform fee (prorated 16/31 days)",
                    "1",
                    "10.32",
                    "0",
                    "0.00",
                    "-10.32",
                ),
                ("usage:calls:2026-10-01:tier-1", TIER_1, "0", "0.00", "500", "0.00", "0.00"),
                ("usage:calls:2026-10-01:tier-2", TIER_2, "0", "0.00", "200", "0.60", "0.60"),
            ],
        ),
    ]
    assert customers(report) == [("acme", "15.96", "20.60", "4.64", "29.07")]


def test_what_a_rerate_refuses_names_the_field(world: Callable[..., World]) -> None:
    w = two_customers(world)

    def refused(**given: Any) -> tuple[str, str]:
        with pytest.raises(InvalidField) as caught:
            rerate(w, **given)
        return caught.value.field, caught.value.reason

    assert refused(plan="metered", start=date(2026, 12, 1))[0] == "to"
    assert refused(plan="metered", end=date(2027, 10, 2)) == (
        "to",
        "a re-rate covers at most 366 days (2026-10-01 to 2027-10-02)",
    )
    assert refused(plan="metered@9") == ("plan", "no plan 'metered@9' is stored")
    assert refused(plan="Metered@x")[0] == "plan"
    assert refused()[0] == "plan"
    assert refused(plan="metered", definition=METERED)[0] == "plan"
    bad_amount = METERED | {"charges": [PLATFORM, PER_CALL | {"amount": "cheap"}]}
    assert refused(definition=bad_amount)[0] == "plan.charges.1.amount"
    no_meter = METERED | {"charges": [PLATFORM, PER_CALL | {"meter": "minutes"}]}
    assert refused(definition=no_meter) == (
        "plan.charges.1.meter",
        "no meter 'minutes' is declared",
    )
    dollars = METERED | {"currency": "USD"}
    assert refused(definition=dollars) == (
        "plan.currency",
        "the plan bills in USD; customer 'acme' (subscription 's1') is billed in EUR",
    )
    assert refused(definition=METERED | {"interval": "year"})[0] == "plan.interval"
    assert refused(definition={k: v for k, v in METERED.items() if k != "code"})[0] == "plan.code"
    assert refused(plan="metered", customers=["acme", "nobody"]) == (
        "customers.1",
        "no customer 'nobody'",
    )
    assert refused(plan="metered", replaces="gold")[0] == "replaces"
    assert refused(definition=METERED | {"code": "metered-ai"})[0] == "replaces"
    assert refused(plan="metered", top=1001)[0] == "top"
    # a limited caller knows no customer beyond its reach
    assert refused(plan="metered", customers=["globex"], within=frozenset({"acme"})) == (
        "customers.0",
        "no customer 'globex'",
    )
    mine = rerate(w, plan="metered@2", within=frozenset({"acme"}))
    assert [c.customer_id for c in mine.customers] == ["acme"]


def test_a_rerate_waits_for_no_lock_of_billing_or_ingestion(world: Callable[..., World]) -> None:
    w = two_customers(world)
    engine = w.container.engine
    with engine.connect() as holder:
        if is_sqlite(engine):  # a billing run's write transaction holds the database
            held = holder.execution_options(**WRITE).begin()
        else:  # billing's invoice lock, and the identity lock ingestion shares, held exclusively
            held = holder.begin()
            holder.execute(sa.select(sa.func.pg_advisory_xact_lock(BILLING_LOCK)))
            holder.execute(sa.select(sa.func.pg_advisory_xact_lock(IDENTITY_LOCK)))
        started = time.monotonic()
        report = rerate(w, plan="metered@2")
        waited = time.monotonic() - started
        held.rollback()
    assert waited < 5  # SQLite would wait 30 s for the lock, PostgreSQL for ever
    assert customers(report)[0] == ("acme", "43.00", "42.10", "-0.90", "-2.09")


def _all_invoices(w: World) -> list[Invoice]:
    return w.container.billing.invoices(InvoiceFilter(), after=None, limit=1000)
