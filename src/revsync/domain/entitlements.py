"""Entitlements: what a plan lets a customer do, and the answer to "may it, now?".

A plan declares features of three kinds:

- ``boolean`` — the plan has it (``sso``);
- ``quota`` — up to ``limit`` of a meter's value per usage period (``api_calls``: 200000 a
  month); ``hard`` refuses beyond it, ``soft`` allows it and says so;
- ``seats`` — up to the subscription's seats; with a ``meter``, its value in the period is
  what is used (active users, say).

:func:`decide` answers a check from the feature, the seats and what is used; it is pure.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from revsync.domain.collections import Policy, Restriction
from revsync.domain.declared import declared_decimal, declared_list, declared_object
from revsync.domain.errors import InvalidField
from revsync.domain.money import plain

#: the largest limit taken (a quantity beyond it is not a quota)
MAX_LIMIT: Final = Decimal("1e18")
_FEATURE_KEYS: Final = frozenset({"key", "kind", "meter", "limit", "enforcement"})


class FeatureKind(StrEnum):
    """What a feature grants."""

    BOOLEAN = "boolean"
    QUOTA = "quota"
    SEATS = "seats"


class Enforcement(StrEnum):
    """What happens beyond a quota."""

    HARD = "hard"  # refused
    SOFT = "soft"  # allowed, and the answer says it is over


class EntitlementReason(StrEnum):
    """Why a check was answered so."""

    INCLUDED = "included"  # a boolean feature of the plan
    WITHIN_LIMIT = "within_limit"
    OVER_LIMIT = "over_limit"  # refused: a hard quota or the seats would be exceeded
    OVER_SOFT_LIMIT = "over_soft_limit"  # allowed, but beyond a soft quota
    NOT_IN_PLAN = "not_in_plan"
    NO_SUBSCRIPTION = "no_subscription"  # no subscription in service today
    SUSPENDED = "suspended"  # refused: the collections ladder suspended it (unpaid invoices)


@dataclass(frozen=True, slots=True)
class Feature:
    """One feature of a plan."""

    key: str
    kind: FeatureKind
    meter: str | None = None
    limit: Decimal | None = None
    enforcement: Enforcement = Enforcement.HARD


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to a check (``limit``, ``used`` and ``remaining`` where they apply)."""

    feature: str
    allowed: bool
    reason: EntitlementReason
    kind: FeatureKind | None = None
    limit: Decimal | None = None
    used: Decimal | None = None
    remaining: Decimal | None = None
    #: the collections restriction in force on it (``soft_limit``, ``suspend``), if any
    restriction: Policy | None = None


def decide(
    feature: Feature | None,
    quantity: Decimal,
    *,
    seats: int = 0,
    used: Decimal | None = None,
    key: str = "",
) -> Decision:
    """May ``quantity`` more of ``feature`` be used, with ``used`` so far this period and
    ``seats`` on the subscription? ``None``: the plan does not have the feature."""
    if feature is None:
        return Decision(key, False, EntitlementReason.NOT_IN_PLAN)
    if feature.kind is FeatureKind.BOOLEAN:
        return Decision(feature.key, True, EntitlementReason.INCLUDED, feature.kind)
    limit = Decimal(seats) if feature.kind is FeatureKind.SEATS else feature.limit
    assert limit is not None  # a quota has one (checked by check_features)
    so_far = used if used is not None else Decimal(0)
    remaining = max(limit - so_far, Decimal(0))
    soft = feature.kind is FeatureKind.QUOTA and feature.enforcement is Enforcement.SOFT
    if so_far + quantity <= limit:
        allowed, reason = True, EntitlementReason.WITHIN_LIMIT
    else:
        allowed, reason = (
            soft,
            EntitlementReason.OVER_SOFT_LIMIT if soft else EntitlementReason.OVER_LIMIT,
        )
    return Decision(feature.key, allowed, reason, feature.kind, limit, used, remaining)


def restrict(decision: Decision, restriction: Restriction | None) -> Decision:
    """The decision under a collections restriction: a suspended feature is refused; a soft
    limit holds a soft quota to its limit (beyond it, refused); either way the answer names
    the restriction. A feature the plan does not have is left as it is."""
    if (
        restriction is None
        or not restriction.covers(decision.feature)
        or decision.reason in (EntitlementReason.NOT_IN_PLAN, EntitlementReason.NO_SUBSCRIPTION)
    ):
        return decision
    refused = {
        Policy.SUSPEND: EntitlementReason.SUSPENDED,
        Policy.SOFT_LIMIT: EntitlementReason.OVER_LIMIT
        if decision.reason is EntitlementReason.OVER_SOFT_LIMIT
        else None,
    }[restriction.policy]
    if refused is None:
        return replace(decision, restriction=restriction.policy)
    return replace(decision, allowed=False, reason=refused, restriction=restriction.policy)


def check_features(raw: object) -> tuple[Feature, ...]:
    """A plan's ``features`` read from JSON-like data: a list of objects, each with a unique
    ``key`` and a ``kind``; ``quota`` needs a ``meter`` and a ``limit`` (a decimal string or an
    integer, at least 0), ``seats`` may name a meter; ``InvalidField`` names what is wrong."""
    return declared_list(raw, "features", "feature", Feature, _feature)


def _feature(raw: object, path: str) -> Feature:
    item, key, kind = declared_object(raw, path, _FEATURE_KEYS, FeatureKind)
    meter = item.get("meter")
    if meter is not None and not isinstance(meter, str):
        raise InvalidField(f"{path}.meter", "expected a meter's key")
    try:
        enforcement = Enforcement(item.get("enforcement") or Enforcement.HARD)
    except ValueError:
        raise InvalidField(f"{path}.enforcement", "expected hard or soft") from None
    limit = _limit(item.get("limit"), f"{path}.limit")
    if kind is FeatureKind.QUOTA:
        if meter is None:
            raise InvalidField(f"{path}.meter", "a quota counts a meter: name it")
        if limit is None:
            raise InvalidField(f"{path}.limit", "a quota needs a limit")
    elif limit is not None:
        raise InvalidField(f"{path}.limit", f"a {kind.value} feature has no limit of its own")
    if kind is FeatureKind.BOOLEAN and meter is not None:
        raise InvalidField(f"{path}.meter", "a boolean feature counts no meter")
    if kind is not FeatureKind.QUOTA and "enforcement" in item:
        raise InvalidField(f"{path}.enforcement", "only a quota is hard or soft")
    return Feature(key, kind, meter, limit, enforcement)


def _limit(value: Any, path: str) -> Decimal | None:
    if value is None:
        return None
    limit = declared_decimal(value, path)
    if not limit.is_finite() or limit < 0 or limit > MAX_LIMIT:
        raise InvalidField(path, f"must be between 0 and {MAX_LIMIT:f}")
    return limit


def feature_to_mapping(feature: Feature) -> dict[str, Any]:
    """Plain JSON-ready data for a feature (read back by :func:`check_features`)."""
    data: dict[str, Any] = {"key": feature.key, "kind": feature.kind.value}
    if feature.meter is not None:
        data["meter"] = feature.meter
    if feature.limit is not None:
        data["limit"] = plain(feature.limit)
    if feature.kind is FeatureKind.QUOTA:
        data["enforcement"] = feature.enforcement.value
    return data
