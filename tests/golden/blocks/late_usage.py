"""Block ``late_usage``: arrival × grace × late-usage policy × service × charge model.

Each cell is a monthly subscription from 1 November 2026 with one usage charge of the model
(usage in November), and something that reaches November after its invoice was made: an event
that arrives during the grace period (it lands in the draft), one that arrives after the
invoice is final, events of a tenant mapped to the customer only then, or an event voided by a
usage correction then. The world's grace period (0, 24 or 72 h) and policy (the next invoice,
or an invoice of its own) are the cell's; the subscription goes on, or ended with November.
Runs on 1, 2, 4 and 6 December and 1 and 4 January bill it; every invoice is compared in full.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

from revsync.config import BillingSettings
from revsync.domain.pricing import RECURRING_MODELS, ChargeModel
from tests.golden.blocks.common import customer, day, meter_key, named, subscribe
from tests.golden.blocks.rating import CHARGES
from tests.golden.grid import Axis, Block, CellPlan, values_of
from tests.golden.scenario import Bill, PutCustomer, Settings, Usage, VoidEvents, instant

ARRIVALS = ("in_grace", "after_final", "mapped_later", "voided")
GRACES = ("0", "24", "72")
SERVICES = ("active", "ended")
START = day("2026-11-01")
RUNS = [
    day(d)
    for d in ("2026-12-01", "2026-12-02", "2026-12-04", "2026-12-06", "2027-01-01", "2027-01-04")
]
#: when a late arrival happens in each world: before finalization, and after it
_IN_GRACE = instant(day("2026-12-01"), 18)
_AFTER = {
    "0": instant(day("2026-12-01"), 18),
    "24": instant(day("2026-12-02"), 18),
    "72": instant(day("2026-12-04"), 18),
}


def policies() -> tuple[str, ...]:
    """The late-usage policies ``billing.late_usage`` accepts (revsync's configuration)."""
    return tuple(typing.get_args(BillingSettings.model_fields["late_usage"].annotation))


def legal(c: Mapping[str, str]) -> bool:
    if c["model"] in {m.value for m in RECURRING_MODELS}:
        return False  # fees have no usage to arrive late
    # no grace period: nothing arrives inside it
    return not (c["arrival"] == "in_grace" and c["grace"] == "0")


def build(c: Mapping[str, str], key: str) -> CellPlan | None:
    model = c["model"]
    if model not in CHARGES or c["policy"] not in ("next_invoice", "separate_invoice"):
        return None
    charge = {
        "key": "use",
        "model": model,
        "description": "Usage",
        "meter": meter_key("sum"),
        **CHARGES[model][0],
    }
    plan = named({"name": "Late", "currency": "EUR", "interval": "month", "charges": [charge]})
    name = f"l-{key}"
    setup = instant(START - timedelta(days=1))
    tenant = f"t-{name}"
    actions: list[Any] = [
        customer(setup, name, "EUR"),
        subscribe(
            setup,
            name,
            plan["code"],
            START,
            ends=day("2026-12-01") if c["service"] == "ended" else None,
        ),
    ]
    # November: 18 units in two regions, sent as they happen; December: 5 units
    for number, (when, value, region) in enumerate(
        (("2026-11-10", "11", "eu"), ("2026-11-12", "7", "us"), ("2026-12-10", "5", "eu"))
    ):
        moment = instant(day(when), 10)
        actions.append(
            Usage(
                moment,
                f"{name}-{number}",
                tenant,
                "golden.sum",
                moment,
                {"v": Decimal(value), "region": region},
            )
        )
    late_time = instant(day("2026-11-25"), 10)
    arrival = c["arrival"]
    when = _IN_GRACE if arrival == "in_grace" else _AFTER[c["grace"]]
    if arrival in ("in_grace", "after_final"):
        actions.append(
            Usage(
                when,
                f"{name}-late",
                tenant,
                "golden.sum",
                late_time,
                {"v": Decimal("9.5"), "region": "ap"},
            )
        )
    elif arrival == "mapped_later":
        other = f"t-{name}-other"
        sent = instant(day("2026-11-20"), 10)
        actions.append(
            Usage(
                sent,
                f"{name}-late",
                other,
                "golden.sum",
                sent - timedelta(days=2),
                {"v": Decimal("9.5"), "region": "ap"},
            )
        )
        actions.append(PutCustomer(when, name, "EUR", tenants=(tenant, other)))
    elif arrival == "voided":
        actions.append(VoidEvents(when, (f"{name}-1",)))
    else:
        return None
    actions += [Bill(instant(run), run) for run in RUNS]
    settings = Settings(grace_hours=int(c["grace"]), late_usage=c["policy"])
    return CellPlan(settings, actions, (name,), plans=[plan])


BLOCK = Block(
    name="late_usage",
    axes=(
        Axis("arrival", ARRIVALS, "the grid: in the grace period, after it, mapped later, voided"),
        Axis("grace", GRACES, "the grid: billing.grace_period_hours"),
        Axis("policy", policies(), "revsync.config.BillingSettings.late_usage"),
        Axis("service", SERVICES, "the grid: the subscription goes on, or ended with the period"),
        Axis("model", values_of(ChargeModel), "revsync.domain.pricing.ChargeModel"),
    ),
    legal=legal,
    build=build,
    chunks=2,
)
