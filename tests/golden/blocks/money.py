"""Block ``money``: coupon × duration × tax × prepaid credit × rounding rule.

Each cell is a monthly subscription (from 1 November 2026) with a fee in advance (49.99) and
usage at 0.0333 a unit (1,234.5 units a month), a coupon applied at its start (percent off,
amount off, or both: the percentage applied first, the amount off the next day), tax by one code, by two (usage at a reduced rate),
none (no tax table) or an exempt customer, and prepaid credit (none, some, more than enough,
or a grant that expires on 1 December). Runs on the first of each month bill November to
January; the world's rounding rule is the cell's. The currency turns with the cell.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

from revsync.domain.coupons import Coupon, Duration
from revsync.domain.money import Rounding
from tests.golden.blocks.common import at, currencies, customer, day, meter_key, named, subscribe
from tests.golden.grid import Axis, Block, CellPlan, values_of
from tests.golden.scenario import Bill, Grant, Settings, Usage, instant

TAXES = ("none", "one_code", "two_codes", "exempt")
PREPAID = ("none", "partial", "covering", "expiring")
START = day("2026-11-01")
RUNS = [day("2026-11-01"), day("2026-12-01"), day("2027-01-01"), day("2027-02-01")]
#: the tax table of the worlds that have one
TABLE = (
    ("DE", (("standard", "19"), ("reduced", "7"))),
    ("FR", (("standard", "20"), ("reduced", "5.5"))),
)
_GRANTS = {
    "partial": ("30", None),
    "covering": ("10000", None),
    "expiring": ("100", day("2026-12-01")),
}


def coupon_kinds() -> tuple[str, ...]:
    """What a coupon takes off, from revsync's ``Coupon`` (``percent_off``, ``amount_off``), and
    both on one subscription."""
    kinds = tuple(f.name for f in dataclasses.fields(Coupon) if f.name.endswith("_off"))
    return (*kinds, "both")


def coupon(kind: str, duration: str, currency: str) -> dict[str, Any]:
    data: dict[str, Any] = {"code": f"{kind}-{duration}-{currency}".upper(), "duration": duration}
    if kind == "percent_off":
        data |= {"description": "12.5% off", "percent_off": "12.5"}
    else:
        data |= {"description": "15 off", "amount_off": "15", "currency": currency}
    if duration == "repeating":
        data["periods"] = 2
    return data


def legal(c: Mapping[str, str]) -> bool:
    return True


def build(c: Mapping[str, str], key: str) -> CellPlan | None:
    kind, duration = c["coupon"], c["duration"]
    if kind not in ("percent_off", "amount_off", "both") or duration not in (
        "once",
        "repeating",
        "forever",
    ):
        return None
    exponents = list(currencies().values())
    currency = exponents[(len(key) + len(c["tax"])) % len(exponents)]
    kinds = ("percent_off", "amount_off") if kind == "both" else (kind,)
    coupons = [coupon(k, duration, currency) for k in kinds]
    usage_code = "reduced" if c["tax"] == "two_codes" else "standard"
    plan = named(
        {
            "name": "Money",
            "currency": currency,
            "interval": "month",
            "charges": [
                {
                    "key": "fee",
                    "model": "flat",
                    "description": "Fee",
                    "timing": "in_advance",
                    "amount": "49.99",
                },
                {
                    "key": "use",
                    "model": "per_unit",
                    "description": "Usage",
                    "meter": meter_key("sum"),
                    "amount": "0.0333",
                    "tax_code": usage_code,
                },
            ],
        }
    )
    name = f"m-{key}"
    setup = instant(START - timedelta(days=31))
    country = "FR" if len(key) % 2 else "DE"
    actions: list[Any] = [
        customer(setup, name, currency, country=country, exempt=c["tax"] == "exempt"),
        subscribe(
            setup,
            name,
            plan["code"],
            START,
            # both: the percentage applied first, the amount off the next day (same period)
            coupons=tuple(
                (x["code"], START + timedelta(days=number)) for number, x in enumerate(coupons)
            ),
        ),
    ]
    if c["prepaid"] != "none":
        amount, expires = _GRANTS[c["prepaid"]]
        actions.append(
            Grant(setup, name, Decimal(amount), currency, START - timedelta(days=31), expires)
        )
    for month, first in enumerate((day("2026-11-10"), day("2026-12-10"), day("2027-01-10"))):
        moment = instant(first, 9)
        for part, value in enumerate(("1000", "234.5")):
            actions.append(
                Usage(
                    moment,
                    f"{name}-{month}-{part}",
                    f"t-{name}",
                    "golden.sum",
                    moment - timedelta(hours=1 + part),
                    {"v": Decimal(value)},
                )
            )
    actions += [Bill(at(run.isoformat()), run) for run in RUNS]
    settings = Settings(rounding=c["rounding"], tax=() if c["tax"] == "none" else TABLE)
    return CellPlan(settings, actions, (name,), plans=[plan], coupons=coupons)


BLOCK = Block(
    name="money",
    axes=(
        Axis("coupon", coupon_kinds(), "revsync.domain.coupons.Coupon (*_off), and both"),
        Axis("duration", values_of(Duration), "revsync.domain.coupons.Duration"),
        Axis("tax", TAXES, "the grid: no table, one code, two codes, exempt"),
        Axis("prepaid", PREPAID, "the grid: prepaid credit granted"),
        Axis("rounding", values_of(Rounding), "revsync.domain.money.Rounding"),
    ),
    legal=legal,
    build=build,
    chunks=3,
)
