"""Usage thresholds: points in a usage period at which revsync tells someone, once.

A plan, or one subscription, declares thresholds of three kinds:

- ``usage`` — a meter's value in the period reaches ``value`` (``api_calls`` reaches 150000);
- ``percent`` — a meter's value reaches ``value`` percent of what the plan includes of it: the
  limit of the plan's quota feature on that meter, else the ``included`` units of its
  allowance charge (a plan that includes nothing of the meter cannot have one);
- ``spend`` — what the period's usage charges come to so far (rated as the period's invoice
  would rate them, before discounts and tax, in the plan's currency) reaches ``value``. A
  spend threshold with ``invoice: true`` bills that usage at once on an *interim* invoice
  (progressive billing); the period's invoice then deducts what interim invoices billed.

A threshold fires once per subscription and usage period: :func:`crossed` says which are
reached; the caller records each crossing under (subscription, key, period) so that a
restart or a replay finds it recorded. A subscription's threshold replaces the plan's of the
same key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from revsync.domain.declared import declared_decimal, declared_list, declared_object
from revsync.domain.errors import InvalidField
from revsync.domain.money import plain

_FIELDS: Final = frozenset({"key", "kind", "meter", "value", "invoice"})
#: the largest value taken
MAX_VALUE: Final = Decimal("1e18")
#: a percent threshold may be set up to ten times what is included
MAX_PERCENT: Final = Decimal(1000)


class ThresholdKind(StrEnum):
    """What a threshold watches."""

    USAGE = "usage"  # a meter's value
    PERCENT = "percent"  # a meter's value against what the plan includes
    SPEND = "spend"  # the usage charges so far, in the plan's currency


@dataclass(frozen=True, slots=True)
class Threshold:
    """One threshold of a plan or a subscription."""

    key: str
    kind: ThresholdKind
    value: Decimal
    meter: str | None = None
    #: a spend threshold that bills the usage so far on an interim invoice when reached
    invoice: bool = False


@dataclass(frozen=True, slots=True)
class Crossing:
    """A threshold reached: what it watches stood at ``observed`` against ``limit`` (the
    value in the meter's units or the currency; for ``percent``, ``value`` percent of what
    is included)."""

    threshold: Threshold
    limit: Decimal
    observed: Decimal


def check_thresholds(raw: object, field: str = "thresholds") -> tuple[Threshold, ...]:
    """Thresholds read from JSON-like data: a list of objects with a unique ``key``, a
    ``kind``, a ``value`` (a decimal string or an integer above 0), a ``meter`` for ``usage``
    and ``percent`` and none for ``spend``, ``invoice`` only on ``spend``; ``InvalidField``
    names what is wrong."""
    return declared_list(raw, field, "threshold", Threshold, _threshold)


def _threshold(raw: object, path: str) -> Threshold:
    item, key, kind = declared_object(raw, path, _FIELDS, ThresholdKind)
    value = declared_decimal(item.get("value"), f"{path}.value")
    top = MAX_PERCENT if kind is ThresholdKind.PERCENT else MAX_VALUE
    if not value.is_finite() or value <= 0 or value > top:
        raise InvalidField(f"{path}.value", f"must be above 0 and at most {top:f}")
    meter = item.get("meter")
    if kind is ThresholdKind.SPEND:
        if meter is not None:
            raise InvalidField(f"{path}.meter", "a spend threshold counts every usage charge")
    elif not isinstance(meter, str) or not meter:
        raise InvalidField(f"{path}.meter", f"a {kind.value} threshold watches a meter: name it")
    invoice = item.get("invoice", False)
    if not isinstance(invoice, bool):
        raise InvalidField(f"{path}.invoice", "expected true or false")
    if invoice and kind is not ThresholdKind.SPEND:
        raise InvalidField(f"{path}.invoice", "only a spend threshold issues an interim invoice")
    return Threshold(key, kind, value, meter, invoice)


def threshold_to_mapping(threshold: Threshold) -> dict[str, Any]:
    """Plain JSON-ready data for a threshold (read back by :func:`check_thresholds`)."""
    data: dict[str, Any] = {
        "key": threshold.key,
        "kind": threshold.kind.value,
        "value": plain(threshold.value),
    }
    if threshold.meter is not None:
        data["meter"] = threshold.meter
    if threshold.invoice:
        data["invoice"] = True
    return data


def effective(
    plan: Sequence[Threshold], subscription: Sequence[Threshold]
) -> tuple[Threshold, ...]:
    """The thresholds a subscription watches: the plan's, each replaced by the
    subscription's of the same key, then the subscription's own."""
    own = {t.key: t for t in subscription}
    merged = [own.pop(t.key, t) for t in plan]
    return (*merged, *own.values())


def limit_of(threshold: Threshold, included: Mapping[str, Decimal]) -> Decimal | None:
    """What reaching the threshold means in the meter's units or the currency; ``None`` for
    a percent threshold of a meter the plan includes nothing of."""
    if threshold.kind is not ThresholdKind.PERCENT:
        return threshold.value
    assert threshold.meter is not None
    base = included.get(threshold.meter)
    if base is None:
        return None
    return base * threshold.value / 100


def crossed(
    thresholds: Sequence[Threshold],
    included: Mapping[str, Decimal],
    usage: Mapping[str, Decimal],
    spend: Decimal | None,
) -> list[Crossing]:
    """The thresholds reached by ``usage`` (meter → value in the period so far) and
    ``spend`` (``None`` when it was not rated); ``included``: meter → what the plan includes.
    A threshold of a meter that is not in ``usage`` is not reached."""
    found: list[Crossing] = []
    for threshold in thresholds:
        limit = limit_of(threshold, included)
        if limit is None:
            continue
        if threshold.kind is ThresholdKind.SPEND:
            observed = spend
        else:
            assert threshold.meter is not None
            observed = usage.get(threshold.meter)
        if observed is not None and observed >= limit:
            found.append(Crossing(threshold, limit, observed))
    return found
