"""Blocks, axes, cells and the coverage ledger of the golden grid.

A *block* is an axis product with a legality rule: every combination of its axes' values that
the rule admits is a *legal cell*. The axes are read from revsync's own constants where they
exist (``ChargeModel``, ``Aggregation``, ``Interval``, ``Change``, ``InvoiceKind``…), so a value
someone adds there is a new legal cell at once. A block *covers* a cell when its builder can
make the cell's scenario (``build`` returns a ``CellPlan``); a legal cell it cannot build —
a new model, option or enum value nobody wrote a scenario for yet — is *uncovered*, and the
ledger names it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.golden.scenario import Action, Outcome, Settings

#: a cell's coordinates: (axis name, value) in the block's axis order
Coords = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Axis:
    """One dimension of a block: its values, and where they come from (a revsync constant,
    or the grid's own list where revsync has none)."""

    name: str
    values: tuple[str, ...]
    source: str


@dataclass
class CellRun:
    """What a check sees of a played cell: both sides' outcomes and the world it ran in."""

    coords: Mapping[str, str]
    expected: Outcome
    found: Outcome
    world: Any  # tests.golden.world.GoldenWorld (not imported: the oracle side stays apart)


#: an extra check of a cell: the problems it finds (empty: fine)
Check = Callable[[CellRun], list[str]]


@dataclass
class CellPlan:
    """A cell's scenario: its actions, its customers, its world's settings, the plans and
    coupons it needs in the world's catalog, and checks beyond the documents."""

    settings: Settings
    actions: list[Action]
    customers: tuple[str, ...]
    plans: list[dict[str, Any]] = field(default_factory=list)
    coupons: list[dict[str, Any]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)


@dataclass(frozen=True)
class Block:
    """An axis product, its legality rule and its builder."""

    name: str
    axes: tuple[Axis, ...]
    legal: Callable[[Mapping[str, str]], bool]
    build: Callable[[Mapping[str, str], str], CellPlan | None]
    #: how many test items the block is split into (for xdist)
    chunks: int = 1
    #: which cells fail because of a revsync bug (found by the grid, reported, not fixed here):
    #: a regular expression every problem of the cell matches, or None. Such a cell must keep
    #: failing, and only so: a problem the expression does not match is a failure
    known_bug: Callable[[Mapping[str, str]], str | None] = lambda coords: None

    def cells(self) -> Iterator[Coords]:
        """Every legal cell, in axis order."""
        names = [axis.name for axis in self.axes]
        for values in itertools.product(*(axis.values for axis in self.axes)):
            coords = tuple(zip(names, values, strict=True))
            if self.legal(dict(coords)):
                yield coords


def cell_id(block: str, coords: Coords) -> str:
    """A cell's name: ``rating[per_unit,sum,invoice,boundary,none]``."""
    return f"{block}[{','.join(value for _, value in coords)}]"


def cell_key(coords: Coords) -> str:
    """A short key unique in its block, safe in ids: ``per_unit-sum-invoice…``."""
    return "-".join(value for _, value in coords).replace("_", "")


@dataclass
class Ledger:
    """Legal, covered and uncovered cells of a block (covered: a scenario exists)."""

    block: str
    legal: int
    covered: list[Coords]
    uncovered: list[Coords]


def ledger_of(block: Block) -> Ledger:
    covered: list[Coords] = []
    uncovered: list[Coords] = []
    for coords in block.cells():
        if block.build(dict(coords), cell_key(coords)) is None:
            uncovered.append(coords)
        else:
            covered.append(coords)
    return Ledger(block.name, len(covered) + len(uncovered), covered, uncovered)


def values_of(enum: Any, *, leave_out: Sequence[str] = ()) -> tuple[str, ...]:
    """The values of an enum (or any iterable of str-like members), in order."""
    return tuple(
        str(getattr(m, "value", m)) for m in enum if str(getattr(m, "value", m)) not in leave_out
    )
