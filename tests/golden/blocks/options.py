"""Block ``options``: charge model × charge option.

The options are the fields of revsync's ``Charge`` that a plan may set or leave out (every
field with a default, less the ones each model is made of: timing, amount, meter, tiers,
package size, dimension, prices), so a field someone adds to ``Charge`` is a new column here at
once. A (model, option) pair is legal when revsync's own plan validation accepts a charge of
the model with the option set (probed with a value of the field's type on the grid's charge of
the model; for a model the grid has no charge for, the fields revsync says the model uses, and
the options every usage model accepts). A cell bills November with the option set to a value
other than the default, and compares the invoice in full.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from revsync.domain import pricing
from revsync.domain.errors import InvalidField
from revsync.domain.pricing import RECURRING_MODELS, Charge, ChargeModel, plan_from_mapping
from tests.golden.blocks.common import at, customer, day, meter_key, named, readings, subscribe
from tests.golden.blocks.rating import CHARGES
from tests.golden.grid import Axis, Block, CellPlan, values_of
from tests.golden.scenario import Bill, Settings

#: what each model is made of (not an option of it)
STRUCTURE = (
    "key",
    "model",
    "description",
    "timing",
    "amount",
    "meter",
    "tiers",
    "package_size",
    "dimension",
    "prices",
)
FEES: dict[str, dict[str, Any]] = {
    "flat": {"amount": "40.00", "timing": "in_advance"},
    "per_seat": {"amount": "12.50", "timing": "in_advance"},
}
#: the value each option the grid has a scenario for is set to (a percentage charge's fields
#: against the grid's: rate 2.9, fixed 0.30, 2 free transactions, 25 free, bounds 0.35–1.5)
VALUES: dict[str, Any] = {
    "included": "3",
    "default_price": "0.25",
    "tax_code": "reduced",
    "flat_fee_at_zero": True,
    "rate": "4.5",
    "fixed_amount": "0.45",
    "free_transactions": 1,
    "free_amount": "6",
    "min_per_transaction": "0.5",
    "max_per_transaction": "0.4",
    "minimum": "9",
}
TABLE = (("DE", (("standard", "19"), ("reduced", "7"))),)
NOVEMBER = (day("2026-11-01"), day("2026-12-01"))


def options() -> tuple[str, ...]:
    """The optional fields of ``Charge``."""
    return tuple(
        f.name
        for f in dataclasses.fields(Charge)
        if f.name not in STRUCTURE
        and (f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING)
    )


def _sample(option: str) -> Any:
    """A value of the option's type other than its default."""
    if option in VALUES:
        return VALUES[option]
    kind = str(next(f.type for f in dataclasses.fields(Charge) if f.name == option))
    if "bool" in kind:
        return True
    if "Decimal" in kind:
        return "3"
    if "int" in kind:
        return 2
    if "str" in kind:
        return "other"
    return None


def base(model: str) -> dict[str, Any] | None:
    """The grid's charge of a model (None: it has none)."""
    if model in FEES:
        return {"key": "x", "model": model, "description": "X", **FEES[model]}
    if model in CHARGES:
        return {
            "key": "x",
            "model": model,
            "description": "X",
            "meter": meter_key("sum"),
            **CHARGES[model][0],
        }
    return None


def _accepts(charge: dict[str, Any]) -> bool:
    try:
        plan_from_mapping(
            {"name": "Probe", "currency": "EUR", "interval": "month", "charges": [charge]},
            code="probe",
            version=1,
        )
    except InvalidField:
        return False
    return True


@functools.cache
def _legal(model: str, option: str) -> bool:
    value = _sample(option)
    if value is None:
        return False
    charge = base(model)
    if charge is not None:
        return _accepts({**charge, option: value})
    # a model the grid has no charge for: the fields revsync's own table says it uses, and the
    # options every usage model of the grid takes
    uses = getattr(pricing, "_USES", {}).get(ChargeModel(model), frozenset())
    generic = all(_accepts({**(base(m) or {}), option: value}) for m in CHARGES) and model not in {
        m.value for m in RECURRING_MODELS
    }
    return option in uses or generic


def legal(c: Mapping[str, str]) -> bool:
    return _legal(c["model"], c["option"])


def build(c: Mapping[str, str], key: str) -> CellPlan | None:
    model, option = c["model"], c["option"]
    charge = base(model)
    if charge is None or option not in VALUES:
        return None
    charge = {**charge, "key": "x", option: VALUES[option]}
    plan = named({"name": "Options", "currency": "EUR", "interval": "month", "charges": [charge]})
    name = f"o-{key}"
    setup = at("2026-10-31")
    actions: list[Any] = [
        customer(setup, name, "EUR", country="DE"),
        subscribe(setup, name, plan["code"], NOVEMBER[0], seats=2),
    ]
    if model in CHARGES and option != "flat_fee_at_zero":
        # three values (4, 4, 5.5): a per-dimension charge's regions, a percentage's transactions
        regions = ("eu", "ap", "") if model in ("per_dimension", "percentage") else ()
        actions += readings(
            "sum",
            Decimal("13.5"),
            f"t-{name}",
            name,
            ingested=at("2026-11-20"),
            first=at("2026-11-10", 8),
            regions=regions,
        )
    actions.append(Bill(at("2026-11-01"), NOVEMBER[0]))
    actions.append(Bill(at("2026-12-01"), NOVEMBER[1]))
    return CellPlan(Settings(tax=TABLE), actions, (name,), plans=[plan])


BLOCK = Block(
    name="options",
    axes=(
        Axis("model", values_of(ChargeModel), "revsync.domain.pricing.ChargeModel"),
        Axis("option", options(), "revsync.domain.pricing.Charge's optional fields"),
    ),
    legal=legal,
    build=build,
)
