"""Block ``rating``: charge model × aggregation × surface × usage level × commitment.

Each cell is a customer on a monthly plan with one usage charge of the model on the meter of
the aggregation (and the plan option of the commitment axis), usage in November at the level
asked (none, inside the first tier, on its boundary, just above, far above), and what the
surface shows: the November invoice (every line and total, and the events behind each usage
line); the upcoming invoice on 25 November, which must be the invoice the run then makes; or
the usage API over November, whose figure must be what the invoice billed. The currency turns
with the cell (every number of minor units revsync knows, one currency each).

A percentage charge reads transactions (a ``sum`` meter only): the level is where they fall
against its free allowance (two transactions or 25 of amount) — inside it, using it up exactly,
crossing it by 0.5, or far beyond, with fees raised to the minimum and held to the maximum.
A plan minimum that counts the fees (``minimum_includes_fees``) is compared with the usage and
the fees' share of November, a platform fee in advance and seats in arrears, at the seats of each
day: on the invoice surface, the docs' own case — a 100.00 monthly fee counts 100.00 in a month —
with the seats changed twice (3, 4 from 11 November, 2 from 21 November); on the others, a
quarterly plan billing usage by the month (its fees count November's 30 of 92 days; 3 seats, 5
from 16 November).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

from revsync.domain.metering import Aggregation
from revsync.domain.pricing import RECURRING_MODELS, ChargeModel
from tests.golden import oracle
from tests.golden.blocks.common import (
    DIMENSION_AGGREGATIONS,
    WHOLE,
    at,
    can_meter,
    currencies,
    customer,
    day,
    meter_key,
    named,
    plan_options,
    readings,
    subscribe,
)
from tests.golden.grid import Axis, Block, CellPlan, CellRun, values_of
from tests.golden.scenario import Amend, Bill, Doc, LookUpcoming, LookUsage, Settings, Usage

SURFACES = ("invoice", "upcoming_invoice", "usage_api")
LEVELS = ("none", "inside", "boundary", "above", "far")
NOVEMBER = (day("2026-11-01"), day("2026-12-01"))

#: per model: the charge (without key, meter, description) and where its first boundary is
CHARGES: dict[str, tuple[dict[str, Any], Decimal]] = {
    "per_unit": ({"amount": "0.0125"}, Decimal(10)),
    "graduated": (
        {
            "tiers": [
                {"up_to": "10", "unit_amount": "0.5", "flat_amount": "2"},
                {"up_to": "25", "unit_amount": "0.35"},
                {"up_to": None, "unit_amount": "0.2", "flat_amount": "1"},
            ]
        },
        Decimal(10),
    ),
    "volume": (
        {
            "tiers": [
                {"up_to": "10", "unit_amount": "0.5"},
                {"up_to": "25", "unit_amount": "0.4", "flat_amount": "3"},
                {"up_to": None, "unit_amount": "0.3"},
            ]
        },
        Decimal(10),
    ),
    "package": ({"amount": "3.25", "package_size": "5", "included": "2"}, Decimal(12)),
    "allowance": ({"amount": "0.75", "included": "10"}, Decimal(10)),
    "per_dimension": (
        {
            "dimension": "region",
            "prices": {"eu": "0.5", "us": "0.65"},
            "default_price": "0.15",
        },
        Decimal(10),
    ),
    "percentage": (
        {
            "rate": "2.9",
            "fixed_amount": "0.30",
            "free_transactions": 2,
            "free_amount": "25",
            "min_per_transaction": "0.35",
            "max_per_transaction": "1.5",
        },
        Decimal(25),
    ),
}
#: per level, a percentage charge's transactions (in the order they happen)
TRANSACTIONS: dict[str, tuple[str, ...]] = {
    "none": (),
    "inside": ("4", "6.5"),
    "boundary": ("10", "15"),
    "above": ("10", "15.5"),
    "far": ("10", "3", "40", "120", "7.25", "1"),
}
#: the plan options the grid knows how to set, with the value it sets (and the plan's calendar)
COMMITMENTS: dict[str, dict[str, Any]] = {
    "none": {},
    "minimum": {"minimum": "5"},
    "maximum": {"maximum": "6"},
    "minimum_includes_fees": {"minimum_includes_fees": True},
}


def _fees(platform: str) -> list[dict[str, Any]]:
    return [
        {
            "key": "platform",
            "model": "flat",
            "description": "Platform",
            "timing": "in_advance",
            "amount": platform,
        },
        {
            "key": "seats",
            "model": "per_seat",
            "description": "Seats",
            "timing": "in_arrears",
            "amount": "4.00",
        },
    ]


#: a plan whose minimum counts the fees, per calendar: its options, its fees, and the seats from
#: each day of November
COUNTED: dict[str, tuple[dict[str, Any], list[dict[str, Any]], tuple[tuple[str, int], ...]]] = {
    "month": (
        {"minimum": "150", "interval": "month"},
        _fees("100.00"),
        (("2026-11-01", 3), ("2026-11-11", 4), ("2026-11-21", 2)),
    ),
    "quarter": (
        {"minimum": "40", "interval": "quarter", "usage_interval": "month"},
        _fees("45.00"),
        (("2026-11-01", 3), ("2026-11-16", 5)),
    ),
}


def quantity(model: str, level: str, aggregation: str) -> Decimal:
    """The meter value a level means for a model (whole for counting aggregations)."""
    boundary = CHARGES[model][1]
    whole = aggregation in WHOLE
    return {
        "none": Decimal(0),
        "inside": boundary - 6 if whole else boundary - Decimal("6.5"),
        "boundary": boundary,
        "above": boundary + 1 if whole else boundary + Decimal("0.5"),
        "far": 3 * boundary + 7 if whole else 3 * boundary + Decimal("6.25"),
    }[level]


def legal(c: Mapping[str, str]) -> bool:
    if c["model"] in {m.value for m in RECURRING_MODELS}:
        return False  # rated from seats and days, not usage: block `calendar`
    if c["model"] == "percentage":
        return c["aggregation"] == "sum"  # docs: its meter is a sum of transaction amounts
    # docs: per_dimension needs a sum or count meter
    return not (c["model"] == "per_dimension" and c["aggregation"] not in DIMENSION_AGGREGATIONS)


def build(c: Mapping[str, str], key: str) -> CellPlan | None:
    model, aggregation = c["model"], c["aggregation"]
    if model not in CHARGES or not can_meter(aggregation) or c["commitment"] not in COMMITMENTS:
        return None
    exponents = list(currencies().values())
    currency = exponents[
        (len(model) + len(aggregation) + len(c["commitment"]) + len(c["level"])) % len(exponents)
    ]
    charge = {
        "key": "use",
        "model": model,
        "description": "Usage",
        "meter": meter_key(aggregation),
        **CHARGES[model][0],
    }
    options = COMMITMENTS[c["commitment"]]
    fees: list[dict[str, Any]] = []
    seats: tuple[tuple[str, int], ...] = (("2026-11-01", 1),)
    if options.get("minimum_includes_fees"):
        counted, fees, seats = COUNTED["month" if c["surface"] == "invoice" else "quarter"]
        options = {**options, **counted}
    plan = named(
        {
            "name": "Rating",
            "currency": currency,
            "interval": "month",
            "charges": [charge, *fees],
            **options,
        }
    )
    name = f"r-{key}"
    setup = at("2026-10-31")
    actions: list[Any] = [
        customer(setup, name, currency),
        subscribe(setup, name, plan["code"], NOVEMBER[0], seats=seats[0][1]),
    ]
    for effective, count in seats[1:]:
        actions.append(Amend(setup, f"s-{name}", "seat_change", day(effective), seats=count))
    amount = quantity(model, c["level"], aggregation)
    if model == "percentage":
        actions += [
            Usage(
                at("2026-11-20"),
                f"{name}-{number}",
                f"t-{name}",
                "golden.sum",
                at("2026-11-10", 8) + timedelta(hours=number),
                {"v": Decimal(value)},
            )
            for number, value in enumerate(TRANSACTIONS[c["level"]])
        ]
    elif amount:
        regions = ("eu", "us", "ap", "") if model == "per_dimension" else ()
        actions += readings(
            aggregation,
            amount,
            f"t-{name}",
            name,
            ingested=at("2026-11-20"),
            first=at("2026-11-10", 8),
            regions=regions,
        )
    checks = []
    if c["surface"] == "upcoming_invoice":
        actions.append(LookUpcoming(at("2026-11-25"), name, f"{name}:upcoming"))
        checks.append(_predicts(f"{name}:upcoming", f"s-{name}"))
    if c["surface"] == "usage_api":
        actions.append(
            LookUsage(
                at("2026-12-01", 13), name, meter_key(aggregation), *NOVEMBER, f"{name}:usage"
            )
        )
        checks.append(_billed_as_measured(f"{name}:usage", f"s-{name}", charge))
    actions.append(Bill(at("2026-12-01"), NOVEMBER[1]))
    return CellPlan(Settings(), actions, (name,), plans=[plan], checks=checks)


def _predicts(tag: str, subscription: str) -> Any:
    """Invariant: the upcoming invoice equals the invoice it predicts (no usage came after)."""

    def check(run: CellRun) -> list[str]:
        looked = run.found.looks.get(tag)
        final = run.found.docs.get(f"{subscription}/arrears/2026-11-01")
        drafts = looked if isinstance(looked, tuple) else ()
        if final is None:
            return [] if not drafts else [f"the upcoming invoice {drafts} predicts no invoice"]
        if len(drafts) != 1:
            return [f"the upcoming invoice shows {len(drafts)} drafts, not the one invoice"]
        draft: Doc = drafts[0]
        same = (draft.lines, draft.taxes, draft.totals[:4]) == (
            final.lines,
            final.taxes,
            final.totals[:4],
        )
        return [] if same else [f"the upcoming invoice {draft} is not the invoice {final}"]

    return check


def _billed_as_measured(tag: str, subscription: str, charge: dict[str, Any]) -> Any:
    """Invariant: the usage at period end (the usage API's figure) is what the invoice billed:
    the charge rated on that figure gives the invoice's usage lines."""

    def check(run: CellRun) -> list[str]:
        measured = run.found.looks.get(tag)
        final = run.found.docs.get(f"{subscription}/arrears/2026-11-01")
        usage = [x for x in final.lines if x.key.startswith("usage:")] if final else []
        if charge["model"] in ("per_dimension", "percentage"):
            # a value's lines, or the free and charged parts of the transactions
            billed = sum((x.quantity for x in usage), Decimal(0))
            if billed != (measured or 0):
                return [f"the usage API says {measured}, the invoice billed {billed}"]
            return []
        plan = oracle.plan_of(
            {"code": "x", "currency": "EUR", "interval": "month", "charges": [charge]}
        )
        rated = oracle.rate_usage(plan.charges[0], oracle.num(measured or 0), {})
        want = sorted((part, oracle.as_decimal(q)) for part, q, _, _ in rated)
        got = sorted(
            (x.key.split(":", 3)[3] if x.key.count(":") >= 3 else "", x.quantity) for x in usage
        )
        return [] if want == got else [f"usage API {measured}: rated {want}, invoice billed {got}"]

    return check


def _number(value: Decimal) -> str:
    """A regular expression for a decimal as either side writes it (trailing zeros or not)."""
    text = format(value.normalize(), "f")
    return re.escape(text) + (r"0*" if "." in text else r"(\.0*)?")


BLOCK = Block(
    name="rating",
    axes=(
        Axis("model", values_of(ChargeModel), "revsync.domain.pricing.ChargeModel"),
        Axis("aggregation", values_of(Aggregation), "revsync.domain.metering.Aggregation"),
        Axis("surface", SURFACES, "the grid: invoice, upcoming invoice, usage API"),
        Axis("level", LEVELS, "the grid: where the usage falls"),
        Axis("commitment", ("none", *plan_options()), "revsync.domain.pricing.Plan's options"),
    ),
    legal=legal,
    build=build,
    chunks=3,
)
