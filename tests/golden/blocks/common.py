"""What the blocks share: the grid's meters (one per aggregation), usage that makes a given
meter value, plans named by their content, and the constants read from revsync."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from revsync.domain.metering import Aggregation
from revsync.domain.money import MINOR_UNITS
from revsync.domain.pricing import Plan
from tests.golden.grid import values_of
from tests.golden.oracle import MINOR_UNITS as ORACLE_MINOR_UNITS
from tests.golden.scenario import PutCustomer, Subscribe, Usage, instant

#: the aggregations the grid has a meter and readings for (a new one is uncovered until added)
_VALUE_PATHS = {"sum": "v", "max": "v", "latest": "v", "unique_count": "user", "count": None}
#: aggregations whose meters group by a dimension (per_dimension charges need sum or count)
DIMENSION_AGGREGATIONS = ("sum", "count")
#: aggregations whose value is a whole number of events or values
WHOLE = ("count", "unique_count")
#: docs (Carried meters): the aggregations a meter may carry — a level set (latest) or a running
#: total of changes (sum)
CARRIED = ("latest", "sum")


def meter_key(aggregation: str, *, carried: bool = False) -> str:
    return f"g_{aggregation}_carried" if carried else f"g_{aggregation}"


def carried_type(aggregation: str) -> str:
    """The event type a carried meter of the aggregation reads."""
    return f"golden.{aggregation}_carried"


def meters() -> list[dict[str, Any]]:
    """The meters of every golden world: ``g_<aggregation>`` on events ``golden.<aggregation>``,
    and the carried ``g_<aggregation>_carried`` (``latest``, ``sum``; negative values accepted)
    on events ``golden.<aggregation>_carried``."""
    found = []
    for aggregation in values_of(Aggregation):
        if aggregation not in _VALUE_PATHS:
            continue
        meter: dict[str, Any] = {
            "key": meter_key(aggregation),
            "event_type": f"golden.{aggregation}",
            "aggregation": aggregation,
        }
        if _VALUE_PATHS[aggregation] is not None:
            meter["value"] = _VALUE_PATHS[aggregation]
        if aggregation in DIMENSION_AGGREGATIONS:
            meter["group_by"] = ["region"]
        found.append(meter)
    for aggregation in CARRIED:
        found.append(
            {
                "key": meter_key(aggregation, carried=True),
                "event_type": carried_type(aggregation),
                "aggregation": aggregation,
                "value": "v",
                "allow_negative": True,
                "carried": True,
            }
        )
    return found


def can_meter(aggregation: str) -> bool:
    return aggregation in _VALUE_PATHS


def readings(
    aggregation: str,
    quantity: Decimal,
    tenant: str,
    prefix: str,
    *,
    ingested: datetime,
    first: datetime,
    regions: tuple[str, ...] = (),
) -> list[Usage]:
    """Events whose meter value is ``quantity``, one hour apart from ``first``, sent at
    ``ingested``. With ``regions``, the value is spread over them (``""``: no region)."""
    values: list[tuple[Any, str]] = []  # (the value read, region)
    spread = regions or ("eu",)
    if aggregation == "count":
        whole = int(quantity)
        values = [(None, spread[i % len(spread)]) for i in range(whole)]
    elif aggregation == "sum":
        parts = _split(quantity, len(spread))
        values = [(part, region) for part, region in zip(parts, spread, strict=True)]
    elif aggregation == "max":
        if quantity:
            values = [(quantity / 2, "eu"), (quantity, "eu"), (quantity / 4, "eu")]
    elif aggregation == "latest":
        if quantity:
            values = [(quantity + 5, "eu"), (Decimal(3), "eu"), (quantity, "eu")]
    elif aggregation == "unique_count":
        whole = int(quantity)
        users = [f"u{i}" for i in range(whole)]
        values = [(user, "eu") for user in users + users[:2]]
    else:
        raise ValueError(aggregation)
    events = []
    for number, (value, region) in enumerate(values):
        data: dict[str, Any] = {}
        if region:
            data["region"] = region
        path = _VALUE_PATHS[aggregation]
        if path is not None:
            data[path] = value
        events.append(
            Usage(
                ingested,
                f"{prefix}-{number}",
                tenant,
                f"golden.{aggregation}",
                first + timedelta(hours=number),
                data,
            )
        )
    return events


def _split(quantity: Decimal, parts: int) -> list[Decimal]:
    """``quantity`` as ``parts`` non-negative parts (whole ones, the rest on the last)."""
    if parts == 1:
        return [quantity]
    share = Decimal(int(quantity) // parts)
    return [share] * (parts - 1) + [quantity - share * (parts - 1)]


def named(plan: dict[str, Any]) -> dict[str, Any]:
    """The plan with a code derived from its content (identical plans share one)."""
    body = {k: v for k, v in plan.items() if k != "code"}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
    return {"code": f"g-{digest[:12]}", **body}


def plan_options() -> tuple[str, ...]:
    """revsync's optional plan-level fields (commitments and the like), from ``Plan``."""
    return tuple(
        f.name for f in dataclasses.fields(Plan) if f.default is None or f.default is False
    )


def currencies() -> dict[int, str]:
    """One currency per number of minor units revsync knows (ISO 4217), the first the oracle
    knows too; an exponent the oracle has no currency for is left out."""
    found: dict[int, str] = {}
    for code in sorted(MINOR_UNITS):
        exponent = MINOR_UNITS[code]
        if exponent not in found and code in ORACLE_MINOR_UNITS:
            found[exponent] = code
    return found


def customer(at: datetime, name: str, currency: str, **extra: Any) -> PutCustomer:
    return PutCustomer(at, name, currency, tenants=(f"t-{name}",), **extra)


def subscribe(at: datetime, name: str, plan: str, start: date, **extra: Any) -> Subscribe:
    return Subscribe(at, f"s-{name}", name, plan, start, **extra)


def day(text: str) -> date:
    return date.fromisoformat(text)


def at(text: str, hour: int = 12) -> datetime:
    return instant(date.fromisoformat(text), hour)


def utc(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
