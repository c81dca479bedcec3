"""Block ``amendments``: amendment kind × timing × billing × fee model.

Each cell is a subscription (3 seats, from 1 November 2026) to a plan with a recurring fee in
advance (the model), usage at 0.05 a unit and a minimum of 20 per usage period, amended once
in its second recurring period: ahead of that period's start, mid-period, on its last day,
backdated into a period already invoiced, on its first day but recorded after its advance
invoice was final, or twice on one day (a seat change, then the kind). Billing is monthly, or
quarterly with monthly usage. Runs on the first of every month (and a few days after) bill
everything through June 2027; every invoice is compared in full.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from revsync.domain.pricing import RECURRING_MODELS, ChargeModel
from revsync.domain.subscriptions import Change
from tests.golden import oracle
from tests.golden.blocks.common import customer, day, meter_key, named, subscribe
from tests.golden.grid import Axis, Block, CellPlan, values_of
from tests.golden.scenario import Amend, Bill, Settings, Usage, instant

TIMINGS = (
    "ahead_period_start",
    "mid_period",
    "last_day",
    "backdated",
    "late_period_start",
    "same_day",
)
BILLINGS = {"monthly": ("month", "month"), "quarterly": ("quarter", "month")}
START = day("2026-11-01")
#: runs: the first of every month, and the 4th (after amendments recorded late)
RUNS = [
    d
    for month in range(11, 11 + 9)
    for d in (
        date(2026 + (month - 1) // 12, (month - 1) % 12 + 1, 1),
        date(2026 + (month - 1) // 12, (month - 1) % 12 + 1, 4),
    )
]
#: fee per plan and model; A is the plan subscribed to
_FEES = {
    "a": {"flat": "90.00", "per_seat": "30.00"},
    "up": {"flat": "150.00", "per_seat": "45.00"},
    "down": {"flat": "60.00", "per_seat": "20.00"},
    "other": {"flat": "75.00", "per_seat": "25.00"},
}
_USAGE = {"a": "0.05", "up": "0.08", "down": "0.03", "other": "0.06"}
_TARGET = {"upgrade": "up", "downgrade": "down", "plan_change": "other"}


def plan_for(which: str, fee: str, billing: str) -> dict[str, Any]:
    interval, usage = BILLINGS[billing]
    return named(
        {
            "name": f"Amend {which}",
            "currency": "EUR",
            "interval": interval,
            "usage_interval": usage,
            "charges": [
                {
                    "key": "fee",
                    "model": fee,
                    "description": "Fee",
                    "timing": "in_advance",
                    "amount": _FEES[which][fee],
                },
                {
                    "key": "use",
                    "model": "per_unit",
                    "description": "Usage",
                    "meter": meter_key("sum"),
                    "amount": _USAGE[which],
                },
            ],
            "minimum": "20",
        }
    )


def legal(c: Mapping[str, str]) -> bool:
    if c["change"] == Change.CREATED.value:
        return False  # a subscription is created once; not an amendment
    return c["fee"] in {m.value for m in RECURRING_MODELS}


def _amendment(
    change: str, name: str, recorded: Any, effective: date, plans: dict[str, str]
) -> Amend | None:
    sub = f"s-{name}"
    if change in _TARGET:
        return Amend(recorded, sub, change, effective, plan=plans[_TARGET[change]])
    if change == "seat_change":
        return Amend(recorded, sub, change, effective, seats=7)
    if change == "cancel":
        return Amend(recorded, sub, change, effective)
    if change == "trial_change":
        return Amend(recorded, sub, change, effective, trial_end=effective + timedelta(days=6))
    if change == "renewal":
        return Amend(recorded, sub, change, effective, ends=day("2027-06-01"))
    return None


def build(c: Mapping[str, str], key: str) -> CellPlan | None:
    change, timing, billing, fee = c["change"], c["timing"], c["billing"], c["fee"]
    if fee not in ("flat", "per_seat") or change not in (
        *_TARGET,
        "seat_change",
        "cancel",
        "trial_change",
        "renewal",
    ):
        return None
    interval, _ = BILLINGS[billing]
    plans = {w: plan_for(w, fee, billing) for w in _FEES}
    codes = {w: p["code"] for w, p in plans.items()}
    name = f"a-{key}"
    setup = instant(START - timedelta(days=1))
    options: dict[str, Any] = {"seats": 3}
    if change == "trial_change":
        options["trial_end"] = day("2026-11-08")
    if change == "renewal":
        options["ends"] = day("2027-03-01")
    actions: list[Any] = [
        customer(setup, name, "EUR"),
        subscribe(setup, name, codes["a"], START, **options),
    ]
    second = oracle.period_at(oracle.period_at(START, START, interval)[1], START, interval)
    usage_end = oracle.period_at(second[0] + timedelta(days=10), START, "month")[1]
    effective, recorded = {
        "ahead_period_start": (second[0], instant(second[0] - timedelta(days=5), 8)),
        "mid_period": (second[0] + timedelta(days=10), instant(second[0] + timedelta(days=10), 8)),
        "last_day": (second[1] - timedelta(days=1), instant(second[1] - timedelta(days=1), 8)),
        "backdated": (second[0] + timedelta(days=10), instant(usage_end + timedelta(days=2), 8)),
        "late_period_start": (second[0], instant(second[0] + timedelta(days=2), 8)),
        "same_day": (second[0] + timedelta(days=10), instant(second[0] + timedelta(days=10), 8)),
    }[timing]
    if timing == "same_day":
        actions.append(Amend(recorded, f"s-{name}", "seat_change", effective, seats=5))
    amendment = _amendment(change, name, recorded, effective, codes)
    if amendment is None:
        return None
    actions.append(amendment)
    # usage on the 5th, 15th and 25th of every month, sent as it happens
    for month in range(11, 11 + 8):
        year, number = 2026 + (month - 1) // 12, (month - 1) % 12 + 1
        for index, (dom, value) in enumerate(((5, "100"), (15, "150.5"), (25, "50"))):
            moment = instant(date(year, number, dom), 10)
            actions.append(
                Usage(
                    moment + timedelta(minutes=30),
                    f"{name}-{month}-{index}",
                    f"t-{name}",
                    "golden.sum",
                    moment,
                    {"v": Decimal(value)},
                )
            )
    actions += [Bill(instant(run), run) for run in RUNS]
    return CellPlan(Settings(), actions, (name,), plans=list(plans.values()))


BLOCK = Block(
    name="amendments",
    axes=(
        Axis("change", values_of(Change), "revsync.domain.subscriptions.Change"),
        Axis("timing", TIMINGS, "the grid: when the change is effective and recorded"),
        Axis("billing", tuple(BILLINGS), "the grid: monthly; quarterly with monthly usage"),
        Axis("fee", values_of(ChargeModel), "revsync.domain.pricing.ChargeModel"),
    ),
    legal=legal,
    build=build,
    chunks=2,
)
