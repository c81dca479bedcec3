"""Block ``calendar``: interval × usage interval × anchor × phase × fee model × timing.

Each cell is a subscription to a plan with one recurring fee (the model, in advance or in
arrears) and a per-unit usage charge, billed on the interval with usage on the usage interval,
anchored on its start (anniversary), on the calendar (1 January, or a Monday for weeks) or on
the 31st of a month (clamped to short months), starting on the anchor's day, in the middle of
its period or on its last day. Service ends with the second period after the one it starts in,
and one run bills everything: every advance and arrears invoice is compared in full.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

from revsync.domain.periods import Interval
from revsync.domain.pricing import RECURRING_MODELS, ChargeModel, Timing
from tests.golden import oracle
from tests.golden.blocks.common import at, customer, day, meter_key, named, subscribe
from tests.golden.grid import Axis, Block, CellPlan, values_of
from tests.golden.scenario import Bill, Settings, Usage, instant

ANCHORS = ("start", "calendar", "month_end")
PHASES = ("on_anchor", "mid_period", "last_day")
#: where the calendars are anchored: 1 January 2026 (a Thursday), Monday 5 January, 31 January
_CALENDAR = {"week": day("2026-01-05")}
_FIRST, _MONTH_END = day("2026-01-01"), day("2026-01-31")
#: the day the anniversary subscriptions start, and the day the others' first period holds
_BASE = day("2026-03-10")
#: one run bills every cell, once every period has ended
_RUN = day("2029-03-01")
_FEES = {"flat": "120.00", "per_seat": "35.50"}


def _known(interval: str) -> bool:
    return interval == "week" or interval in ("month", "quarter", "half_year", "year")


def legal(c: Mapping[str, str]) -> bool:
    if c["fee"] not in {m.value for m in RECURRING_MODELS}:
        return False  # usage models: block `rating`
    interval, usage = c["interval"], c["usage_interval"]
    if _known(interval) and _known(usage) and not oracle.divides(usage, interval):
        return False  # docs: the usage interval divides the interval; a week only a week
    if c["anchor"] == "start" and c["phase"] != "on_anchor":
        return False  # an anniversary starts on its anchor
    # weeks have no day of the month
    return not (c["anchor"] == "month_end" and "week" in (interval, usage))


def build(c: Mapping[str, str], key: str) -> CellPlan | None:
    interval, usage = c["interval"], c["usage_interval"]
    if not (_known(interval) and _known(usage)) or c["fee"] not in _FEES:
        return None
    if c["timing"] not in ("in_advance", "in_arrears"):
        return None
    if c["anchor"] == "start":
        anchor = None
        start = _BASE
    else:
        anchor = _MONTH_END if c["anchor"] == "month_end" else _CALENDAR.get(interval, _FIRST)
        low, high = oracle.period_at(_BASE, anchor, interval)
        start = {
            "on_anchor": low,
            "mid_period": low + timedelta(days=(high - low).days // 2),
            "last_day": high - timedelta(days=1),
        }[c["phase"]]
    first = oracle.period_at(start, anchor or start, interval)
    second = oracle.period_at(first[1], anchor or start, interval)
    ends = second[1]
    plan = named(
        {
            "name": "Calendar",
            "currency": "EUR",
            "interval": interval,
            "usage_interval": usage,
            "charges": [
                {
                    "key": "fee",
                    "model": c["fee"],
                    "description": "Fee",
                    "timing": c["timing"],
                    "amount": _FEES[c["fee"]],
                },
                {
                    "key": "use",
                    "model": "per_unit",
                    "description": "Usage",
                    "meter": meter_key("sum"),
                    "amount": "0.07",
                },
            ],
        }
    )
    name = f"k-{key}"
    setup = instant(start - timedelta(days=1))
    actions: list[Any] = [
        customer(setup, name, "EUR"),
        subscribe(setup, name, plan["code"], start, seats=3, anchor=anchor, ends=ends),
    ]
    # usage on the first day, the middle and the last day of service, sent as it happens
    middle = start + timedelta(days=(ends - start).days // 2)
    for number, (when, value) in enumerate(
        ((start, "12.5"), (middle, "40"), (ends - timedelta(days=1), "7.25"))
    ):
        moment = instant(when, 10)
        actions.append(
            Usage(
                moment + timedelta(hours=1),
                f"{name}-{number}",
                f"t-{name}",
                "golden.sum",
                moment,
                {"v": Decimal(value)},
            )
        )
    actions.append(Bill(at(_RUN.isoformat()), _RUN))
    return CellPlan(Settings(), actions, (name,), plans=[plan])


BLOCK = Block(
    name="calendar",
    axes=(
        Axis("interval", values_of(Interval), "revsync.domain.periods.Interval"),
        Axis("usage_interval", values_of(Interval), "revsync.domain.periods.Interval"),
        Axis("anchor", ANCHORS, "the grid: anniversary, calendar, 31st of a month"),
        Axis("phase", PHASES, "the grid: where in its period the subscription starts"),
        Axis("fee", values_of(ChargeModel), "revsync.domain.pricing.ChargeModel"),
        Axis("timing", values_of(Timing), "revsync.domain.pricing.Timing"),
    ),
    legal=legal,
    build=build,
    chunks=2,
)
