"""The collections ladder, as pure rules: a customer's rung is the highest ERP dunning level
among its overdue invoices; each rung of the configured ladder takes steps (a CRM task for the
account owner or the success manager, a flag on the customer's open tickets, an entitlement
restriction on named features) and each step is undone when the customer climbs back above
its rung — all of them when the ERP says every overdue invoice is paid.

:func:`climb` says what moving from one rung to another opens, closes, flags and restricts; it
is pure, and after any history of moves what is in force is what the rungs up to the last one
say (tests/domain/test_collections.py)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

#: the tag on the open tickets of a customer whose ladder flags them (revsync's own)
COLLECTIONS_TAG: Final = "revsync_collections"
_LEVEL = re.compile(r"^\s*level\s+(\d+)\s*$", re.IGNORECASE)


class Assignee(StrEnum):
    """Whom a rung's CRM task is for."""

    OWNER = "owner"  # the account's owner
    SUCCESS_MANAGER = "success_manager"  # the user the account's success-manager field names


class Policy(StrEnum):
    """What a restriction does to the features it names."""

    #: allowed within the plan's limits only: a soft quota is held to its limit
    SOFT_LIMIT = "soft_limit"
    SUSPEND = "suspend"  # refused


@dataclass(frozen=True, slots=True)
class Restriction:
    """Features restricted while a customer is on the ladder."""

    policy: Policy
    features: tuple[str, ...]

    def covers(self, feature: str) -> bool:
        return feature in self.features

    def as_dict(self) -> dict[str, object]:
        return {"policy": self.policy.value, "features": list(self.features)}

    @classmethod
    def of(cls, raw: object) -> Restriction | None:
        """From :meth:`as_dict`'s form (None stays None)."""
        if not isinstance(raw, dict):
            return None
        return cls(Policy(str(raw["policy"])), tuple(str(f) for f in raw["features"]))


@dataclass(frozen=True, slots=True)
class Rung:
    """What reaching a dunning level does."""

    level: int
    task: Assignee | None = None
    flag_tickets: bool = False
    restriction: Restriction | None = None


@dataclass(frozen=True, slots=True)
class Ladder:
    """The configured rungs, by level (a level without a rung does nothing)."""

    rungs: tuple[Rung, ...]

    def up_to(self, level: int) -> list[Rung]:
        """The rungs at or below ``level``, lowest first."""
        return sorted((r for r in self.rungs if r.level <= level), key=lambda r: r.level)


@dataclass(frozen=True, slots=True)
class Standing:
    """What is in force for a customer at a rung: the tasks opened (by rung), whether its
    tickets are flagged, and the restriction (the highest rung's that has one)."""

    level: int
    tasks: tuple[int, ...] = ()
    flagged: bool = False
    restriction: Restriction | None = None


@dataclass(frozen=True, slots=True)
class Climb:
    """A move on the ladder, as what was in force before it and what is after: the tasks to
    open and to close, the flag and the restriction when they change."""

    before: Standing
    after: Standing

    @property
    def moved(self) -> bool:
        return self.before != self.after

    @property
    def opened(self) -> tuple[int, ...]:
        """The rungs whose task is opened (lowest first)."""
        return tuple(t for t in self.after.tasks if t not in self.before.tasks)

    @property
    def closed(self) -> tuple[int, ...]:
        """The rungs whose task is closed (highest first)."""
        return tuple(
            sorted((t for t in self.before.tasks if t not in self.after.tasks), reverse=True)
        )

    @property
    def flag(self) -> bool | None:
        """True: flag the tickets; False: take the flag off; None: no change."""
        return None if self.before.flagged == self.after.flagged else self.after.flagged

    @property
    def restricted(self) -> bool:
        """Whether the restriction changes (set, changed or lifted)."""
        return self.before.restriction != self.after.restriction


def level_of(label: str | None) -> int:
    """A dunning level as a rung: ``level N`` (the levels revsync provisions) is N; another
    name of a level the ERP has is rung 1 (dunning began); none is 0."""
    if not label or not label.strip():
        return 0
    found = _LEVEL.match(label)
    return int(found.group(1)) if found else 1


def rung_of(levels: Iterable[str | None]) -> int:
    """The customer's rung: the highest dunning level among its overdue, unpaid invoices."""
    return max((level_of(label) for label in levels), default=0)


def standing(ladder: Ladder, level: int) -> Standing:
    """What the ladder keeps in force at ``level``."""
    rungs = ladder.up_to(level)
    restrictions = [r.restriction for r in rungs if r.restriction is not None]
    return Standing(
        level,
        tuple(r.level for r in rungs if r.task is not None),
        any(r.flag_tickets for r in rungs),
        restrictions[-1] if restrictions else None,
    )


def climb(ladder: Ladder, before: Standing, level: int) -> Climb:
    """Moving from ``before`` to ``level``: what the ladder keeps in force there, against what
    was in force (the steps of the rungs passed down are taken, those above the new level
    undone — whatever the ladder said when they were taken)."""
    return Climb(before, standing(ladder, level))


def check_ladder(rungs: Sequence[Rung]) -> Ladder:
    """A ladder from its rungs: one per level, levels from 1 (raises ValueError naming the
    level)."""
    seen: set[int] = set()
    for rung in rungs:
        if rung.level < 1:
            raise ValueError(f"level {rung.level}: levels start at 1")
        if rung.level in seen:
            raise ValueError(f"level {rung.level}: one rung per level")
        seen.add(rung.level)
        if rung.restriction is not None and not rung.restriction.features:
            raise ValueError(f"level {rung.level}: a restriction names its features")
    return Ladder(tuple(sorted(rungs, key=lambda r: r.level)))
