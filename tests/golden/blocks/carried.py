"""Block ``carried``: aggregation × charge model × history × surface, on carried meters.

A carried meter (``carried: true``, docs/billing.md "Carried meters") holds a value from event to
event and across periods; billing charges the value held each local day (its peak that day, below
zero as zero) and the usage charge rates the average over the usage period: value-days / the
period's days, to 18 places. Each cell is a customer on a monthly plan from 1 November 2026 with
one usage charge of the model (the grid's charge, as in ``rating``) on the grid's carried meter of
the aggregation, and a history of the value held, set by ``latest`` events or reached by ``sum``
deltas, each sent as it happens:

- ``carried_in``: set in October, no event in November (billed every day);
- ``mid_period``: carried in, raised on 11 November, lowered on 21 November (each of those days
  counts its peak);
- ``peak_in_day``: carried in, raised and lowered again on 14 November;
- ``at_midnight``: carried in, set at midnight on 1 and 16 November (each day starts with it);
- ``below_zero``: carried in, held below zero for two days (they count zero), then raised;
- ``mid_start``: the subscription starts on 11 November on the calendar (anchored on the 1st:
  its first period is prorated), with a value set before it starts carried into it and one
  change after; its 20 days' value-days are averaged over November's 30.

The customer's zone turns with the cell (UTC, or New York, where 1 November 2026 has 25 hours).
The surfaces are ``rating``'s: the November invoice (and the lineage of its lines: the period's
own events, which with the value carried in hold the average it billed), the upcoming invoice on
25 November (the value counted as held to the period's end: the invoice the run then makes), and
the usage API, which shows November's events as for any meter: what they did to the value held
(a ``sum`` meter's change, a ``latest`` meter's last value), while the invoice bills the average.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from revsync.domain.metering import Aggregation
from revsync.domain.pricing import RECURRING_MODELS, ChargeModel
from tests.golden import oracle
from tests.golden.blocks.common import (
    CARRIED,
    at,
    carried_type,
    customer,
    day,
    meter_key,
    named,
    subscribe,
)
from tests.golden.blocks.rating import CHARGES, NOVEMBER, SURFACES, _predicts
from tests.golden.grid import Axis, Block, CellPlan, CellRun, values_of
from tests.golden.scenario import Bill, LookUpcoming, LookUsage, Settings, Usage

ZONES = ("UTC", "America/New_York")
#: per history: the value held from each local moment on (the events make it so)
HISTORIES: dict[str, tuple[tuple[str, str], ...]] = {
    "carried_in": (("2026-10-05T10:00", "8"), ("2026-10-20T15:00", "14.5")),
    "mid_period": (
        ("2026-10-20T15:00", "6"),
        ("2026-11-11T09:00", "13"),
        ("2026-11-21T18:00", "9.25"),
    ),
    "peak_in_day": (
        ("2026-10-20T15:00", "7"),
        ("2026-11-14T08:00", "31"),
        ("2026-11-14T17:00", "7.5"),
    ),
    "at_midnight": (
        ("2026-10-20T15:00", "10"),
        ("2026-11-01T00:00", "12"),
        ("2026-11-16T00:00", "4"),
    ),
    "below_zero": (
        ("2026-10-20T15:00", "5"),
        ("2026-11-06T10:00", "-3"),
        ("2026-11-09T10:00", "2"),
    ),
    "mid_start": (
        ("2026-10-20T15:00", "10"),
        ("2026-11-05T10:00", "16"),
        ("2026-11-20T09:00", "7"),
    ),
}
#: histories whose subscription starts after the period does (on a calendar anchor)
STARTS = {"mid_start": day("2026-11-11")}


def legal(c: Mapping[str, str]) -> bool:
    if c["aggregation"] not in CARRIED:
        return False  # docs: only latest and sum meters carry a value
    # docs: any usage model may read a carried meter except per_dimension and percentage
    return c["model"] not in {m.value for m in RECURRING_MODELS} | {"per_dimension", "percentage"}


def _events(name: str, aggregation: str, history: str, zone: str) -> list[Usage]:
    """The events that make the history: a ``latest`` event sets the value, a ``sum`` event
    adds the change; each sent at the moment it happens."""
    events = []
    held = Decimal(0)
    for number, (moment, value) in enumerate(HISTORIES[history]):
        when = datetime.fromisoformat(moment).replace(tzinfo=ZoneInfo(zone))
        reading = Decimal(value) if aggregation == "latest" else Decimal(value) - held
        held = Decimal(value)
        events.append(
            Usage(
                when,
                f"{name}-{number}",
                f"t-{name}",
                carried_type(aggregation),
                when,
                {"v": reading},
            )
        )
    return events


def build(c: Mapping[str, str], key: str) -> CellPlan | None:
    aggregation, model, history = c["aggregation"], c["model"], c["history"]
    if model not in CHARGES or history not in HISTORIES or c["surface"] not in SURFACES:
        return None
    zone = ZONES[sum(map(ord, key)) % len(ZONES)]
    meter = meter_key(aggregation, carried=True)
    charge = {"key": "use", "model": model, "description": "Held", "meter": meter}
    charge |= CHARGES[model][0]
    plan = named({"name": "Carried", "currency": "EUR", "interval": "month", "charges": [charge]})
    name = f"c-{key}"
    setup = at("2026-10-01")
    start = STARTS.get(history, NOVEMBER[0])
    actions: list[Any] = [
        customer(setup, name, "EUR", timezone=zone),
        subscribe(setup, name, plan["code"], start, anchor=NOVEMBER[0]),
        *_events(name, aggregation, history, zone),
    ]
    checks = []
    if c["surface"] == "upcoming_invoice":
        actions.append(LookUpcoming(at("2026-11-25"), name, f"{name}:upcoming"))
        checks.append(_predicts(f"{name}:upcoming", f"s-{name}"))
    if c["surface"] == "usage_api":
        # the days the line bills: from the start of service
        actions.append(
            LookUsage(at("2026-12-01", 13), name, meter, start, NOVEMBER[1], f"{name}:usage")
        )
        checks.append(_billed_as_held(f"{name}:usage", f"s-{name}", charge, aggregation))
    actions.append(Bill(at("2026-12-01"), NOVEMBER[1]))
    return CellPlan(Settings(), actions, (name,), plans=[plan], checks=checks)


def _billed_as_held(tag: str, subscription: str, charge: dict[str, Any], aggregation: str) -> Any:
    """Invariant: for a carried meter, the usage at period end is the average held — the invoice
    bills the charge rated on value-days / the period's days (to 18 places), not the usage API's
    figure; and that figure (November's events, as for any meter) is what they did to the value
    held: a ``sum`` meter's change over the period, a ``latest`` meter's value at its end."""

    def check(run: CellRun) -> list[str]:
        ref = f"{subscription}/arrears/{NOVEMBER[0].isoformat()}"
        final = run.found.docs.get(ref)
        held = next((h for (r, _), h in run.expected.held.items() if r == ref), None)
        average = next((v for (r, _), (v, _) in run.expected.lineage.items() if r == ref), None)
        if final is None or held is None or average is None:
            return [f"no finalized November invoice with a carried line ({final}, {held})"]
        problems = []
        measured = run.found.looks.get(tag)
        if measured is not None:
            change = held.end_value - (held.carried_in if aggregation == "sum" else 0)
            if measured != change:
                problems.append(
                    f"the usage API says {measured}; the value held went from "
                    f"{held.carried_in} to {held.end_value}"
                )
        plan = oracle.plan_of(
            {"code": "x", "currency": "EUR", "interval": "month", "charges": [charge]}
        )
        rated = oracle.rate_usage(plan.charges[0], oracle.num(average), {})
        want = sorted((part, oracle.as_decimal(q)) for part, q, _, _ in rated)
        got = sorted(
            (x.key.split(":", 3)[3] if x.key.count(":") >= 3 else "", x.quantity)
            for x in final.lines
            if x.key.startswith("usage:")
        )
        if want != got:
            problems.append(f"held on average {average}: rated {want}, the invoice billed {got}")
        return problems

    return check


BLOCK = Block(
    name="carried",
    axes=(
        Axis(
            "aggregation",
            values_of(Aggregation),
            "revsync.domain.metering.Aggregation (carried: latest, sum)",
        ),
        Axis("model", values_of(ChargeModel), "revsync.domain.pricing.ChargeModel"),
        Axis("history", tuple(HISTORIES), "the grid: how the value held moves"),
        Axis("surface", SURFACES, "the grid: invoice, upcoming invoice, usage API"),
    ),
    legal=legal,
    build=build,
)
