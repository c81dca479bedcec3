"""A subscription that cannot be billed stops only itself: the run bills the others, opens one
``billing`` case for it with the error, and a later run that bills it resolves the case."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from datetime import date
from decimal import Decimal

from revsync.application.ingestion import IngestContext
from revsync.domain.delivery import CaseKind, CaseStatus
from revsync.domain.invoicing import TaxRates
from revsync.ports.delivery import Case, CaseFilter
from revsync.schemas.cloudevents_v1 import decode_items
from tests.conftest import TEST_METERS
from tests.scenarios.harness import Rendered, World
from tests.scenarios.test_money import FLAT, NO_GRACE, NOVEMBER, platform_fee, totals
from tests.support.events import encode, event

FEE_TOTALS = totals("99.00", "0.00", "0.00", "99.00", "0.00", "99.00")


class FlakyTaxService:
    """A tax engine (the port's fake) that fails for one country until it is mended."""

    def __init__(self, failing: str) -> None:
        self.failing: str | None = failing

    def rates(
        self, *, country: str | None, exempt: bool, codes: Collection[str], on: date
    ) -> TaxRates:
        if country == self.failing:
            raise RuntimeError("the tax service timed out")
        return TaxRates(exempt=True)


def billing_cases(w: World) -> list[Case]:
    return w.container.cases.find(CaseFilter(kind=CaseKind.BILLING), after=None, limit=10)


def test_one_failing_subscription_is_left_out_with_a_case_and_billed_once_mended(
    world: Callable[..., World],
) -> None:
    tax = FlakyTaxService(failing="DE")
    w = world(plans=[FLAT], start="2026-11-01T08:00:00Z", billing=NO_GRACE, tax_engine=tax)
    w.customer("acme", country="FR")
    w.customer("beta", country="DE")
    w.customer("gamma", country="FR")
    for sid, customer in (("s1", "acme"), ("s2", "beta"), ("s3", "gamma")):
        w.subscribe(sid, customer, "flat", "2026-11-01")

    report = w.at("2026-11-01T09:00:00Z").bill("2026-11-01")

    (error,) = report.errors
    assert (error.subscription_id, error.customer_id, str(error.period)) == (
        "s2",
        "beta",
        NOVEMBER,
    )
    assert error.reason == (
        f"advance {NOVEMBER}: internal error (RuntimeError); see the server log"
    )
    fee = (platform_fee(),)
    assert w.invoices("s1") == [
        Rendered("advance", NOVEMBER, "finalized", "INV-000001", fee, (), FEE_TOTALS)
    ]
    assert w.invoices("s3") == [
        Rendered("advance", NOVEMBER, "finalized", "INV-000002", fee, (), FEE_TOTALS)
    ]
    assert w.invoices("s2") == []
    (case,) = billing_cases(w)
    assert case.id == error.case_id
    assert (case.status, case.object_type, case.object_id, case.last_error) == (
        CaseStatus.OPEN,
        "subscription",
        "s2",
        error.reason,
    )
    assert case.details is not None
    assert (case.details["customer_id"], case.details["period"], case.details["run_id"]) == (
        "beta",
        NOVEMBER,
        report.id,
    )

    # still failing: the same case is brought up to date, not a second one
    again = w.at("2026-11-01T10:00:00Z").bill("2026-11-01")
    assert [e.case_id for e in again.errors] == [case.id]
    assert [c.id for c in billing_cases(w)] == [case.id]

    # mended and retried from the case: the next run bills it and resolves the case
    tax.failing = None
    retried = w.container.cases.retry(case.id, "ops@example.com", "the tax service is back")
    assert retried.status is CaseStatus.RETRYING
    mended = w.at("2026-11-01T11:00:00Z").bill("2026-11-01")
    assert mended.errors == []
    assert w.invoices("s2") == [
        Rendered("advance", NOVEMBER, "finalized", "INV-000003", fee, (), FEE_TOTALS)
    ]
    (closed,) = billing_cases(w)
    assert (closed.id, closed.status, closed.reason) == (
        case.id,
        CaseStatus.RESOLVED,
        f"billed by run {mended.id}",
    )


def test_a_subscription_that_fails_again_after_its_case_closed_opens_a_new_case(
    world: Callable[..., World],
) -> None:
    tax = FlakyTaxService(failing="DE")
    w = world(plans=[FLAT], start="2026-11-01T08:00:00Z", billing=NO_GRACE, tax_engine=tax)
    w.customer("beta", country="DE")
    w.subscribe("s2", "beta", "flat", "2026-11-01")
    first = w.at("2026-11-01T09:00:00Z").bill("2026-11-01").errors[0].case_id
    assert first is not None
    w.container.cases.ignore(first, "ops@example.com", "looked at it")
    second = w.at("2026-11-01T10:00:00Z").bill("2026-11-01").errors[0].case_id
    assert second not in (None, first)
    assert sorted((c.id, c.status) for c in billing_cases(w)) == sorted(
        [(first, CaseStatus.IGNORED), (second, CaseStatus.OPEN)]
    )


# --- negative usage --------------------------------------------------------------------------

TOKENS = {
    "code": "tokens",
    "name": "Tokens",
    "currency": "EUR",
    "interval": "month",
    "charges": [
        {
            "key": "tokens",
            "model": "per_unit",
            "description": "Tokens",
            "meter": "llm_tokens",
            "amount": "0.001",
        }
    ],
}
PRODUCTION = {"environment": "production", "model": "m"}


def test_a_negative_value_is_refused_at_ingest_unless_the_meter_takes_corrections(
    world: Callable[..., World],
) -> None:
    w = world(plans=[TOKENS], start="2026-11-01T08:00:00Z")
    w.customer("acme")
    refused = w.container.ingestion.ingest(
        decode_items(
            [
                encode(
                    event(
                        "neg-1",
                        subject="t-acme",
                        type="llm.completion",
                        time="2026-11-01T07:00:00Z",
                        data={**PRODUCTION, "tokens": -50000000},
                    )
                )
            ]
        ),
        IngestContext("api", "test"),
    )
    assert (refused.accepted, [(r.code, r.reason) for r in refused.rejected]) == (
        0,
        [
            (
                "meter_value",
                "data.tokens: -50000000 is negative, and meter 'llm_tokens' (sum) takes no "
                "negative values (allow_negative: true accepts corrections sent as negative "
                "events)",
            )
        ],
    )


def test_corrections_that_outweigh_the_usage_bill_zero_never_an_error(
    world: Callable[..., World],
) -> None:
    meters = [{**m, "allow_negative": True} if m["key"] == "llm_tokens" else m for m in TEST_METERS]
    w = world(plans=[TOKENS], start="2026-11-01T08:00:00Z", billing=NO_GRACE, meters=meters)
    for name in ("acme", "beta"):
        w.customer(name)
        w.subscribe(f"s-{name}", name, "tokens", "2026-11-01")
    w.at("2026-11-05T12:00:00Z").usage(
        "t-acme", "llm.completion", "2026-11-05T10:00:00Z", {**PRODUCTION, "tokens": 1000}
    )
    w.usage("t-acme", "llm.completion", "2026-11-05T11:00:00Z", {**PRODUCTION, "tokens": -1500})
    w.usage("t-beta", "llm.completion", "2026-11-05T10:00:00Z", {**PRODUCTION, "tokens": 1000})
    w.usage("t-beta", "llm.completion", "2026-11-05T11:00:00Z", {**PRODUCTION, "tokens": -300})
    report = w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    assert report.errors == []
    zero = totals("0.00", "0.00", "0.00", "0.00", "0.00", "0.00")
    assert w.invoices("s-acme") == [
        Rendered(
            "arrears",
            NOVEMBER,
            "finalized",
            "INV-000001",
            (("usage:tokens:2026-11-01", "Tokens", "0", "0.001", "0.00"),),
            (),
            zero,
        )
    ]
    seven = totals("0.70", "0.00", "0.00", "0.70", "0.00", "0.70")
    assert w.invoices("s-beta") == [
        Rendered(
            "arrears",
            NOVEMBER,
            "finalized",
            "INV-000002",
            (("usage:tokens:2026-11-01", "Tokens", "700", "0.001", "0.70"),),
            (),
            seven,
        )
    ]


PER_MODEL_PLAN = {
    "code": "models",
    "name": "Models",
    "currency": "EUR",
    "interval": "month",
    "charges": [
        {
            "key": "tokens",
            "model": "per_dimension",
            "description": "LLM tokens",
            "meter": "llm_tokens",
            "dimension": "model",
            "prices": {"large": "0.001"},
            "default_price": "0.0001",
        }
    ],
}


def per_model_world(world: Callable[..., World], *usage: tuple[str, int]) -> World:
    meters = [{**m, "allow_negative": True} if m["key"] == "llm_tokens" else m for m in TEST_METERS]
    w = world(plans=[PER_MODEL_PLAN], start="2026-11-01T08:00:00Z", billing=NO_GRACE, meters=meters)
    w.customer("acme")
    w.subscribe("s1", "acme", "models", "2026-11-01")
    w.at("2026-11-05T12:00:00Z")
    for model, tokens in usage:
        data = {"environment": "production", "model": model, "tokens": tokens}
        w.usage("t-acme", "llm.completion", "2026-11-05T10:00:00Z", data)
    report = w.at("2026-12-01T09:00:00Z").bill("2026-12-01")
    assert report.errors == []
    return w


def lines(w: World) -> list[tuple[str, Decimal, Decimal]]:
    ((invoice),) = w.raw_invoices("s1")
    return [(line.key, line.quantity, line.amount) for line in invoice.lines]


def test_a_long_dimension_value_keys_its_line_by_a_digest(world: Callable[..., World]) -> None:
    """A 5,000-character model name (the key column holds 300 characters on PostgreSQL: the
    whole run failed there, for every customer)."""
    long_name = "m" * 5000
    w = per_model_world(world, (long_name, 20000), ("small", 300))
    digest = hashlib.sha256(long_name.encode()).hexdigest()[:32]
    assert lines(w) == [
        (f"usage:tokens:2026-11-01:dim:#{digest}", Decimal(20000), Decimal("2.00")),
        ("usage:tokens:2026-11-01:dim:small", Decimal(300), Decimal("0.03")),
    ]


def test_a_value_whose_corrections_outweigh_its_usage_bills_zero(
    world: Callable[..., World],
) -> None:
    """The others bill as usual (the values no longer disagree with the total)."""
    w = per_model_world(world, ("large", 1000), ("large", -1500), ("small", 300))
    assert lines(w) == [("usage:tokens:2026-11-01:dim:small", Decimal(300), Decimal("0.03"))]
