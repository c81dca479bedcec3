"""The coverage ledger counts legal cells from revsync's constants: a value added to one of
them is a legal cell no block covers until someone writes its scenario."""

from __future__ import annotations

import dataclasses
import re

from tests.golden.blocks import BLOCKS, calendar, carried, rating
from tests.golden.grid import Axis, cell_id, ledger_of


def test_the_grid_has_at_least_1500_legal_cells_and_covers_at_least_1500() -> None:
    ledgers = [ledger_of(block) for block in BLOCKS]
    assert sum(ledger.legal for ledger in ledgers) >= 1500
    assert sum(len(ledger.covered) for ledger in ledgers) >= 1500
    names = [block.name for block in BLOCKS]
    assert len(names) == len(set(names))


def test_a_value_added_to_a_constant_is_a_legal_cell_no_scenario_covers() -> None:
    before = ledger_of(rating.BLOCK)
    axes = tuple(
        dataclasses.replace(axis, values=(*axis.values, "future_model"))
        if axis.name == "model"
        else axis
        for axis in rating.BLOCK.axes
    )
    after = ledger_of(dataclasses.replace(rating.BLOCK, axes=axes))
    new = [dict(c) for c in after.uncovered if dict(c)["model"] == "future_model"]
    aggregations, surfaces, levels, commitments = (len(a.values) for a in rating.BLOCK.axes[1:])
    assert len(new) == aggregations * surfaces * levels * commitments
    assert after.legal == before.legal + len(new)
    assert len(after.covered) == len(before.covered)


def test_illegal_combinations_are_not_cells() -> None:
    cells = [dict(c) for c in rating.BLOCK.cells()]
    # docs: per_dimension needs a sum or count meter; fees are not rated from usage
    assert {c["aggregation"] for c in cells if c["model"] == "per_dimension"} == {"sum", "count"}
    assert not [c for c in cells if c["model"] in ("flat", "per_seat")]
    # docs: a week goes only with a week; the usage interval divides the interval
    pairs = {(dict(c)["interval"], dict(c)["usage_interval"]) for c in calendar.BLOCK.cells()}
    assert ("month", "week") not in pairs and ("week", "month") not in pairs
    assert ("quarter", "half_year") not in pairs and ("year", "quarter") in pairs
    # docs: a percentage charge reads a sum of transaction amounts
    assert {c["aggregation"] for c in cells if c["model"] == "percentage"} == {"sum"}
    # docs: latest and sum meters carry a value; every usage model reads one but per_dimension
    # and percentage
    held = [dict(c) for c in carried.BLOCK.cells()]
    assert {c["aggregation"] for c in held} == {"latest", "sum"}
    assert {c["model"] for c in held} == {"per_unit", "graduated", "volume", "package", "allowance"}


def test_every_cell_has_a_name_unique_in_its_block_and_known_bugs_are_expressions() -> None:
    for block in BLOCKS:
        cells = list(block.cells())
        assert len({cell_id(block.name, c) for c in cells}) == len(cells)
        for coords in cells:
            mark = block.known_bug(dict(coords))
            if mark is not None:
                re.compile(mark)
                assert block.build(dict(coords), "x") is not None, "a known bug is a covered cell"


def test_axes_say_where_their_values_come_from() -> None:
    for block in BLOCKS:
        for axis in block.axes:
            assert isinstance(axis, Axis) and axis.values and axis.source
