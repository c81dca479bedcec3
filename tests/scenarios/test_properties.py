"""Properties of billing runs, checked on generated usage (hypothesis, a fresh world per example).

- monotone models bill no less for more usage;
- how usage is split into events does not change the money, only the lineage counts;
- re-rating is idempotent, and a finalized invoice never changes;
- credit notes never credit more than the invoice, and a void credits exactly the rest.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import event as statistic
from hypothesis import strategies as st

from revsync.application.ingestion import IngestContext
from revsync.domain.errors import InvalidField
from revsync.domain.invoicing import Invoice
from revsync.ports.billing import InvoiceFilter
from revsync.schemas.cloudevents_v1 import decode_items
from tests.scenarios.harness import ACTOR, Rendered, World, make_world, render
from tests.support.databases import sqlite_copy
from tests.support.events import encode, event

PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
NO_GRACE = {"grace_period_hours": 0}
NOVEMBER = date(2026, 11, 1)


def tokens_charge(key: str, model: str, **fields: Any) -> dict[str, Any]:
    """A usage charge on ``llm_tokens`` (sum of ``tokens`` of production ``llm.completion``)."""
    return {
        "key": key,
        "model": model,
        "description": f"Tokens ({key})",
        "meter": "llm_tokens",
        **fields,
    }


def plan(code: str, *charges: dict[str, Any]) -> dict[str, Any]:
    return {
        "code": code,
        "name": code.title(),
        "currency": "EUR",
        "interval": "month",
        "charges": list(charges),
    }


#: one plan per monotone model (volume with unit and flat amounts that never decrease)
MONOTONE_PLANS = {
    "per_unit": plan("unit", tokens_charge("tokens", "per_unit", amount="0.0015")),
    "graduated": plan(
        "graduated",
        tokens_charge(
            "tokens",
            "graduated",
            tiers=[
                {"up_to": "1000", "unit_amount": "0.004", "flat_amount": "1.00"},
                {"up_to": "5000", "unit_amount": "0.002", "flat_amount": "3.00"},
                {"up_to": None, "unit_amount": "0.0007"},
            ],
        ),
    ),
    "package": plan(
        "package", tokens_charge("tokens", "package", amount="2.50", package_size="1000")
    ),
    "allowance": plan(
        "allowance", tokens_charge("tokens", "allowance", included="2000", amount="0.0043")
    ),
    "volume": plan(
        "volume",
        tokens_charge(
            "tokens",
            "volume",
            tiers=[
                {"up_to": "1000", "unit_amount": "0.001"},
                {"up_to": "5000", "unit_amount": "0.002", "flat_amount": "1.00"},
                {"up_to": None, "unit_amount": "0.003", "flat_amount": "2.00"},
            ],
        ),
    ),
}


@contextmanager
def fresh_world(
    template: Path,
    factory: pytest.TempPathFactory,
    *,
    plans: Sequence[dict[str, Any]],
    **options: Any,
) -> Iterator[World]:
    url = sqlite_copy(template, factory.mktemp("example"))
    with make_world(url, plans=plans, start="2026-11-01T00:00:00Z", **options) as w:
        yield w


class Events:
    """Ingests many events with different data in one batch (the harness sends one kind)."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def send(self, w: World, items: Sequence[tuple[str, datetime, dict[str, Any]]]) -> None:
        """(tenant, time, data) of ``llm.completion`` events."""
        if not items:
            return
        batch = [
            encode(
                event(
                    f"prop-{next(self._ids)}",
                    subject=tenant,
                    type="llm.completion",
                    time=when,
                    data=data,
                )
            )
            for tenant, when, data in items
        ]
        report = w.container.ingestion.ingest(decode_items(batch), IngestContext("api", ACTOR))
        assert report.rejected == [], report.rejected


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def completion(tokens: int, model: str = "") -> dict[str, Any]:
    data: dict[str, Any] = {"tokens": tokens, "environment": "production"}
    if model:
        data["model"] = model
    return data


def arrears(w: World, subscription_id: str) -> Invoice:
    (invoice,) = [i for i in w.raw_invoices(subscription_id) if i.kind.value == "arrears"]
    return invoice


def all_invoices(w: World) -> dict[str, tuple[str, Rendered]]:
    """Every invoice of the world by id: (issue date, rendering)."""
    found = w.container.billing.invoices(InvoiceFilter(), after=None, limit=1000)
    return {i.id: (i.issue_date.isoformat(), render(i)) for i in found}


# --- more usage never bills less -----------------------------------------------------------

usage_events = st.lists(
    st.tuples(st.integers(0, 29), st.integers(1, 4000)),  # (day of November, tokens)
    min_size=0,
    max_size=6,
)


@PROPERTY
@given(base=usage_events, extra=usage_events.filter(bool))
def test_more_events_never_lower_the_arrears_total_of_a_monotone_model(
    sqlite_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
    base: list[tuple[int, int]],
    extra: list[tuple[int, int]],
) -> None:
    with fresh_world(
        sqlite_template, tmp_path_factory, plans=list(MONOTONE_PLANS.values()), billing=NO_GRACE
    ) as w:
        items = []
        for model, data in MONOTONE_PLANS.items():
            for who, events in (("less", base), ("more", base + extra)):
                customer = f"{who}-{model}"
                w.customer(customer)
                w.subscribe(f"s-{customer}", customer, data["code"], "2026-11-01")
                items += [
                    (f"t-{customer}", at(NOVEMBER + timedelta(days=d)), completion(n))
                    for d, n in events
                ]
        w.at("2026-11-30T23:00:00Z")
        Events().send(w, items)
        report = w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
        assert report.errors == []
        for model in MONOTONE_PLANS:
            less = arrears(w, f"s-less-{model}").totals.total
            more = arrears(w, f"s-more-{model}").totals.total
            assert more >= less, (model, base, extra, less, more)


# --- splitting usage across events -----------------------------------------------------

SPLIT_PLAN = plan(
    "split",
    tokens_charge(
        "by_model",
        "per_dimension",
        dimension="model",
        prices={"a": "0.00002", "b": "0.0000033"},
        default_price="0.0000071",
    ),
    tokens_charge(
        "tiered",
        "graduated",
        tiers=[
            {"up_to": "100000", "unit_amount": "0.00001"},
            {"up_to": None, "unit_amount": "0.0000045"},
        ],
    ),
    tokens_charge("allowed", "allowance", included="50000", amount="0.0000125"),
)


@PROPERTY
@given(
    parts=st.dictionaries(
        st.sampled_from(["a", "b", "c", ""]),  # "" = events without a model
        st.lists(st.integers(1, 250000), min_size=1, max_size=6),
        min_size=1,
    )
)
def test_splitting_the_same_usage_across_more_events_does_not_change_the_money(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory, parts: dict[str, list[int]]
) -> None:
    with fresh_world(sqlite_template, tmp_path_factory, plans=[SPLIT_PLAN], billing=NO_GRACE) as w:
        for customer in ("whole", "split"):
            w.customer(customer)
            w.subscribe(f"s-{customer}", customer, "split", "2026-11-01")
        items = []
        for index, (model, amounts) in enumerate(sorted(parts.items())):
            day = NOVEMBER + timedelta(days=index)
            items.append(("t-whole", at(day), completion(sum(amounts), model)))
            items += [
                ("t-split", at(day, 1 + k), completion(n, model)) for k, n in enumerate(amounts)
            ]
        w.at("2026-11-30T23:00:00Z")
        Events().send(w, items)
        report = w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
        assert report.errors == []

        whole, split = arrears(w, "s-whole"), arrears(w, "s-split")
        money = lambda i: (  # noqa: E731
            [
                (x.key, x.description, x.quantity, x.unit_amount, x.amount, x.tax_code)
                for x in i.lines
            ],
            i.taxes,
            i.totals,
        )
        assert money(split) == money(whole)

        # only the lineage differs: how many events are behind each line
        def counted(invoice: Invoice) -> dict[str, int]:
            return {x.key: x.lineage.events for x in invoice.lines if x.lineage is not None}

        by_model = {f"usage:by_model:2026-11-01:dim:{m}": len(a) for m, a in parts.items()}
        every = sum(len(a) for a in parts.values())
        expect_split = {
            **by_model,
            **{x.key: every for x in split.lines if not x.key.startswith("usage:by_model:")},
        }
        expect_whole = {key: 1 for key in by_model} | {
            x.key: len(parts) for x in whole.lines if not x.key.startswith("usage:by_model:")
        }
        assert counted(split) == expect_split
        assert counted(whole) == expect_whole


# --- re-rating is idempotent; finalized invoices never change -------------------------

IDEMPOTENT_PLAN = plan(
    "rerate",
    {
        "key": "platform",
        "model": "flat",
        "description": "Platform fee",
        "timing": "in_advance",
        "amount": "49.00",
    },
    tokens_charge(
        "by_model",
        "per_dimension",
        dimension="model",
        prices={"a": "0.00002"},
        default_price="0.000005",
    ),
    tokens_charge(
        "tiered",
        "graduated",
        tiers=[
            {"up_to": "100000", "unit_amount": "0.00001"},
            {"up_to": None, "unit_amount": "0.000004"},
        ],
    ),
)
timed_usage = st.lists(
    # (days after 1 November, tokens, model); November is drawn more often, to make late usage
    st.tuples(
        st.integers(0, 29) | st.integers(0, 74), st.integers(1, 300000), st.sampled_from(["a", "b"])
    ),
    max_size=6,
)


@PROPERTY
@given(
    # days after 1 November; the listed ones are period ends and the ends of their grace periods
    first_day=st.sampled_from([0, 30, 33, 34, 45, 61, 64]) | st.integers(0, 70),
    later_by=st.sampled_from([1, 3, 28, 31]) | st.integers(1, 40),
    early=timed_usage,
    late=timed_usage,
)
# November finalized on 4 December, then late November usage adjusted on December's invoice
@example(
    first_day=34, later_by=28, early=[(5, 1000, "a")], late=[(10, 200000, "b"), (40, 5000, "a")]
)
# the same with the late run before December's invoice is due: the adjustment waits
@example(first_day=34, later_by=3, early=[(5, 1000, "a")], late=[(10, 200000, "b")])
def test_billing_again_changes_nothing_and_a_later_run_never_changes_a_finalized_invoice(
    sqlite_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
    first_day: int,
    later_by: int,
    early: list[tuple[int, int, str]],
    late: list[tuple[int, int, str]],
) -> None:
    first = NOVEMBER + timedelta(days=first_day)
    second = first + timedelta(days=later_by)
    # default grace period (72 h): the first run leaves some invoices as drafts
    with fresh_world(sqlite_template, tmp_path_factory, plans=[IDEMPOTENT_PLAN]) as w:
        events = Events()
        w.customer("acme")
        w.subscribe("s1", "acme", "rerate", "2026-11-01")
        w.at(f"{first.isoformat()}T12:00:00Z")
        events.send(
            w,
            [
                ("t-acme", at(NOVEMBER + timedelta(days=d), 6), completion(n, m))
                for d, n, m in early
                if NOVEMBER + timedelta(days=d) < first
            ],
        )
        assert w.bill(first.isoformat()).errors == []
        before = all_invoices(w)
        again = w.bill(first.isoformat())
        assert (again.created, again.updated, again.finalized, again.errors) == ([], [], [], [])
        assert all_invoices(w) == before

        # later: more usage (some of it late, in periods already finalized), then a later run
        w.at(f"{second.isoformat()}T12:00:00Z")
        events.send(
            w,
            [
                ("t-acme", at(NOVEMBER + timedelta(days=d), 6), completion(n, m))
                for d, n, m in late
                if NOVEMBER + timedelta(days=d) < second
            ],
        )
        later = w.bill(second.isoformat())
        after = all_invoices(w)
        finalized = sum(r.status != "draft" for _, r in before.values())
        statistic(f"finalized by the first run: {min(finalized, 3)}{'+' if finalized >= 3 else ''}")
        adjusting = any(k.startswith("adjustment:") for _, r in after.values() for k, *_ in r.lines)
        statistic(f"late usage adjusted: {adjusting}")
        for invoice_id, (issued, rendered) in before.items():
            if rendered.status != "draft":
                assert after[invoice_id] == (issued, rendered), invoice_id
        # and billing that date again changes nothing either
        repeat = w.bill(second.isoformat())
        assert (repeat.created, repeat.updated, repeat.finalized) == ([], [], [])
        assert all_invoices(w) == after
        # every finalized invoice is numbered, every draft is not
        for _, rendered in after.values():
            assert (rendered.number is None) == (rendered.status == "draft")
        # and the later runs billed everything they found: late usage is adjusted, not refused
        assert (later.errors, repeat.errors) == ([], [])


def test_the_money_of_a_split_is_exact_for_a_known_example(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """One worked example of the split property, so its invoice is stated in full."""
    with fresh_world(sqlite_template, tmp_path_factory, plans=[SPLIT_PLAN], billing=NO_GRACE) as w:
        w.customer("acme")
        w.subscribe("s1", "acme", "split", "2026-11-01")
        w.at("2026-11-30T23:00:00Z")
        Events().send(
            w,
            [
                ("t-acme", at(date(2026, 11, 2)), completion(30000, "a")),
                ("t-acme", at(date(2026, 11, 3)), completion(45000, "a")),
                ("t-acme", at(date(2026, 11, 4)), completion(60000, "c")),
            ],
        )
        w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
        # by model: a 75,000 × 0.00002 = 1.50; c 60,000 × 0.0000071 = 0.426 → 0.43
        # graduated on 135,000: 100,000 × 0.00001 = 1.00; 35,000 × 0.0000045 = 0.1575 → 0.16
        # allowance: 50,000 included; 85,000 × 0.0000125 = 1.0625 → 1.06
        assert w.invoices("s1") == [
            Rendered(
                "arrears",
                "2026-11-01/2026-12-01",
                "finalized",
                "INV-000001",
                (
                    (
                        "usage:by_model:2026-11-01:dim:a",
                        "Tokens (by_model) — model a",
                        "75000",
                        "0.00002",
                        "1.50",
                    ),
                    (
                        "usage:by_model:2026-11-01:dim:c",
                        "Tokens (by_model) — model c",
                        "60000",
                        "0.0000071",
                        "0.43",
                    ),
                    (
                        "usage:tiered:2026-11-01:tier-1",
                        "Tokens (tiered) — tier 1 (up to 100,000)",
                        "100000",
                        "0.00001",
                        "1.00",
                    ),
                    (
                        "usage:tiered:2026-11-01:tier-2",
                        "Tokens (tiered) — tier 2 (above 100,000)",
                        "35000",
                        "0.0000045",
                        "0.16",
                    ),
                    (
                        "usage:allowed:2026-11-01:included",
                        "Tokens (allowed) — 50,000 included",
                        "50000",
                        "0",
                        "0.00",
                    ),
                    (
                        "usage:allowed:2026-11-01:overage",
                        "Tokens (allowed) — overage above 50,000 included",
                        "85000",
                        "0.0000125",
                        "1.06",
                    ),
                ),
                totals=("4.15", "0.00", "0.00", "4.15", "0.00", "4.15"),
            )
        ]


# --- credit notes ----------------------------------------------------------------------------

TWO_RATES_PLAN = {
    **plan("fees"),
    "charges": [
        {
            "key": "platform",
            "model": "flat",
            "description": "Platform fee",
            "timing": "in_advance",
            "amount": "99.99",
        },
        {
            "key": "books",
            "model": "flat",
            "description": "Books",
            "timing": "in_advance",
            "amount": "10.07",
            "tax_code": "reduced",
        },
    ],
}


#: a coupon the invoice may carry: the notes credit what the lines are worth after it
DISCOUNTS = [
    {"code": "PCT", "description": "12.5% off", "duration": "once", "percent_off": "12.5"},
    {
        "code": "OFF",
        "description": "3.33 off",
        "duration": "once",
        "amount_off": "3.33",
        "currency": "EUR",
    },
]


@PROPERTY
@given(
    rounding=st.sampled_from(["half_even", "half_up", "half_down", "up", "down"]),
    credits=st.lists(
        st.tuples(st.sampled_from(["fee:platform", "fee:books"]), st.integers(1, 3000)),
        max_size=12,
    ),
    coupon=st.sampled_from([None, "PCT", "OFF"]),
)
# rounding up the tax of 10.06 and of 0.01 separately would credit 0.01 more than the 0.56 billed
@example(rounding="up", credits=[("fee:books", 1006), ("fee:books", 1)], coupon=None)
@example(rounding="half_up", credits=[("fee:platform", 3), ("fee:platform", 2)] * 2, coupon=None)
# the golden grid's case: a discounted line credited in two parts
@example(
    rounding="half_even", credits=[("fee:platform", 4000), ("fee:platform", 5999)], coupon="PCT"
)
def test_credit_notes_never_credit_more_than_the_invoice_and_a_void_credits_exactly_the_rest(
    sqlite_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
    rounding: str,
    credits: list[tuple[str, int]],
    coupon: str | None,
) -> None:
    with fresh_world(
        sqlite_template,
        tmp_path_factory,
        plans=[TWO_RATES_PLAN],
        coupons=DISCOUNTS,
        tax={"FR": {"standard": "20", "reduced": "5.5"}},
        billing={**NO_GRACE, "rounding": rounding},
    ) as w:
        w.customer("acme", country="FR")
        w.subscribe(
            "s1", "acme", "fees", "2026-11-01", coupons=[(coupon, "2026-11-01")] if coupon else []
        )
        w.at("2026-11-01T09:00:00Z").bill("2026-11-01")
        (invoice,) = w.raw_invoices("s1")
        billing = w.container.billing
        # what is left of each line before its discount, and of all lines after it
        left = {line.key: line.amount for line in invoice.lines if line.kind != "discount"}
        worth = sum(left.values(), Decimal(0)) + invoice.totals.discount
        notes = []
        for key, cents in credits:
            amount = Decimal(cents) / 100
            try:
                notes.append(billing.credit(invoice.id, {key: amount}, "part", ACTOR))
            except InvalidField:
                assert coupon is not None or amount > left[key]
                continue
            assert coupon is not None or amount <= left[key]
            left[key] -= amount
            worth -= amount
            # never more than the lines are worth after the discount, nor than the total
            assert worth >= 0
            assert -sum(n.totals.total for n in notes) <= invoice.totals.total
        statistic(f"partial notes: {len(notes)}")
        notes.append(billing.void(invoice.id, "the rest", ACTOR))
        # every line, every tax code and the total are credited exactly, never more
        for line in invoice.lines:
            credited = [-x.amount for n in notes for x in n.lines if x.key == f"credit:{line.key}"]
            assert sum(credited) == line.amount
        for tax in invoice.taxes:
            credited = [-t.amount for n in notes for t in n.taxes if t.tax_code == tax.tax_code]
            assert all(c >= 0 for c in credited)
            assert sum(credited) == tax.amount
        assert sum(n.totals.total for n in notes) == -invoice.totals.total
