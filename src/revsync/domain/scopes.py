"""Scopes: the part of an invoice a coupon or a prepaid credit grant reaches.

A scope (``applies_to``) names plans (by code, every version) and meters. A line is in it
when it belongs to one of the plans or bills one of the meters — the union of the targets:

* ``plans`` reaches every line rated on the plan: its fees, prorations (the unused time on
  it as well as the remaining time on it), usage lines, minimum and cap, and the adjustments
  and interim deductions of those lines;
* ``meters`` reaches the usage lines of the meter, on whatever plan, and their adjustments
  and interim deductions — not fees, and not a plan's minimum or cap, which are over the
  usage charges' total rather than one meter's.

No scope (``None`` on the wire, :data:`EVERYTHING` here) reaches the whole invoice. Which
plans and meters exist is the application's to check; this module checks the shape.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from revsync.domain.errors import InvalidField


class ScopeTarget(StrEnum):
    """What a scope may name (the keys of ``applies_to``)."""

    PLANS = "plans"
    METERS = "meters"


#: every key ``applies_to`` accepts, in the order they are shown
SCOPE_TARGETS: Final = tuple(ScopeTarget)
#: at most this many plans, and this many meters, in one scope
MAX_SCOPE_ITEMS: Final = 100
#: the longest plan code or meter key a scope may name
MAX_SCOPE_NAME: Final = 64


@dataclass(frozen=True, slots=True)
class Scope:
    """Plans and meters a coupon or grant is limited to (both empty: not limited)."""

    plans: frozenset[str] = frozenset()
    meters: frozenset[str] = frozenset()

    @property
    def limited(self) -> bool:
        """True when the scope names anything (else it reaches the whole invoice)."""
        return bool(self.plans or self.meters)

    def reaches(self, plan: str | None, meter: str | None) -> bool:
        """True when a line of ``plan`` billing ``meter`` (either may be unknown) is in scope."""
        if not self.limited:
            return True
        return (plan is not None and plan in self.plans) or (
            meter is not None and meter in self.meters
        )


#: the scope of an unlimited coupon or grant
EVERYTHING: Final = Scope()


def scope_from_data(value: object, field: str = "applies_to") -> Scope:
    """A scope from plain data: ``None`` (everything) or ``{"plans": [...], "meters": [...]}``
    with at least one name; errors name the field (``applies_to.meters.0``)."""
    if value is None:
        return EVERYTHING
    if not isinstance(value, Mapping):
        raise InvalidField(field, "expected an object with plans and/or meters, or null")
    unknown = sorted(str(k) for k in value if k not in SCOPE_TARGETS)
    if unknown:
        raise InvalidField(f"{field}.{unknown[0]}", "unknown field (plans or meters)")
    names = {
        target: _names(value.get(target.value), f"{field}.{target.value}")
        for target in SCOPE_TARGETS
    }
    scope = Scope(names[ScopeTarget.PLANS], names[ScopeTarget.METERS])
    if not scope.limited:
        raise InvalidField(field, "name at least one plan or meter (or leave applies_to out)")
    return scope


def _names(value: object, field: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        raise InvalidField(field, "expected a list of names")
    if len(value) > MAX_SCOPE_ITEMS:
        raise InvalidField(field, f"at most {MAX_SCOPE_ITEMS} names")
    seen: set[str] = set()
    for index, name in enumerate(value):
        if not isinstance(name, str) or not 0 < len(name) <= MAX_SCOPE_NAME:
            raise InvalidField(
                f"{field}.{index}", f"expected a name of 1-{MAX_SCOPE_NAME} characters"
            )
        if name in seen:
            raise InvalidField(f"{field}.{index}", f"{name!r} is named twice")
        seen.add(name)
    return frozenset(seen)


def scope_to_data(scope: Scope) -> dict[str, list[str]] | None:
    """The inverse of :func:`scope_from_data` (names sorted; targets left out when empty)."""
    if not scope.limited:
        return None
    data: dict[str, list[str]] = {}
    if scope.plans:
        data[ScopeTarget.PLANS.value] = sorted(scope.plans)
    if scope.meters:
        data[ScopeTarget.METERS.value] = sorted(scope.meters)
    return data


def check_scope(
    scope: Scope,
    data: Mapping[str, Any] | None,
    *,
    plan_exists: Callable[[str], bool],
    meters: Collection[str],
    field: str = "applies_to",
) -> None:
    """Refuse a scope naming a plan or meter that does not exist, naming the item by its
    position in ``data`` (what the caller sent) when it is there."""
    given = data if isinstance(data, Mapping) else {}
    for target, known in (
        (ScopeTarget.PLANS, plan_exists),
        (ScopeTarget.METERS, lambda name: name in meters),
    ):
        names = getattr(scope, target.value)
        listed = given.get(target.value)
        order = [n for n in listed if n in names] if isinstance(listed, list) else sorted(names)
        for index, name in enumerate(order):
            if not known(name):
                what = "plan" if target is ScopeTarget.PLANS else "meter"
                raise InvalidField(f"{field}.{target.value}.{index}", f"no {what} {name!r}")
