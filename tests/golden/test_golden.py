"""The golden grid: every legal cell of every block played on the real revsync and compared
with the oracle, line by line, with the invariants (tests/golden/README.md).

Each test plays one chunk of a block (a few hundred cells in one or a few worlds); the
coverage ledger is printed at the end of the run (conftest.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.golden.blocks import BLOCKS
from tests.golden.blocks.common import meters
from tests.golden.grid import Block
from tests.golden.runner import run_chunk

CHUNKS = [(block, index) for block in BLOCKS for index in range(block.chunks)]


@pytest.mark.parametrize(
    ("block", "index"), CHUNKS, ids=[f"{b.name}-{i + 1}of{b.chunks}" for b, i in CHUNKS]
)
def test_every_cell_agrees_with_the_oracle(
    block: Block,
    index: int,
    sqlite_template: Path,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
) -> None:
    results = run_chunk(block, index, sqlite_template, tmp_path, meters())
    marks = {r.name: block.known_bug(dict(r.coords)) for r in results}
    known = {name: re.compile(mark) for name, mark in marks.items() if mark}

    def as_known(name: str, problems: list[str]) -> bool:
        return name in known and all(known[name].search(p) for p in problems)

    failed = {
        r.name: r.problems for r in results if r.problems and not as_known(r.name, r.problems)
    }
    still = sorted(r.name for r in results if r.problems and as_known(r.name, r.problems))
    fixed = sorted(r.name for r in results if not r.problems and r.name in known)
    record_property(
        "golden",
        json.dumps(
            {
                "block": block.name,
                "checked": len(results),
                "passed": sum(1 for r in results if not r.problems),
                "failed": sorted(failed),
                "known": still,
            }
        ),
    )
    report = "\n".join(
        f"{name}:\n  " + "\n  ".join(problems[:12])
        for name, problems in sorted(failed.items())[:15]
    )
    assert not failed, f"{len(failed)} of {len(results)} cells disagree with the oracle:\n{report}"
    assert not fixed, (
        f"known bugs that no longer fail (take them off the block's known_bug): {fixed}"
    )
