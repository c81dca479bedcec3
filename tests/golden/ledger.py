"""The coverage ledger printed at the end of a run that played the golden grid.

Per block: the legal cells (counted from revsync's constants, see ``grid.py``), how many the
grid covers (has a scenario for) and which it does not, and what this run found of the covered
ones: agreeing with the oracle, failing as a known revsync bug, disagreeing. The counts of the
run come from the tests' reports (``record_property("golden", …)``), so the ledger is right
with ``-n 2`` too: the controller prints it from what the workers played.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.golden.blocks import BLOCKS
from tests.golden.grid import cell_id, ledger_of

_PLAYED: dict[str, dict[str, int]] = {}
_SHOWN = 3


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call":
        return
    for name, value in report.user_properties:
        if name != "golden":
            continue
        data: dict[str, Any] = json.loads(str(value))
        played = _PLAYED.setdefault(
            data["block"], {"checked": 0, "passed": 0, "known": 0, "failed": 0}
        )
        played["checked"] += data["checked"]
        played["passed"] += data["passed"]
        played["known"] += len(data["known"])
        played["failed"] += len(data["failed"])


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _PLAYED:
        return  # the grid was not played in this run
    write = terminalreporter.write_line
    terminalreporter.section("golden grid: coverage ledger")
    header = f"{'block':<14}{'legal':>7}{'covered':>9}{'uncovered':>11}{'agree':>8}{'known bug':>11}{'disagree':>10}"
    write(header)
    totals = [0] * 6
    missing: list[str] = []
    for block in BLOCKS:
        ledger = ledger_of(block)
        played = _PLAYED.get(block.name, {"passed": 0, "known": 0, "failed": 0})
        row = [
            ledger.legal,
            len(ledger.covered),
            len(ledger.uncovered),
            played["passed"],
            played["known"],
            played["failed"],
        ]
        totals = [a + b for a, b in zip(totals, row, strict=True)]
        write(
            f"{block.name:<14}"
            + "".join(f"{v:>{w}}" for v, w in zip(row, (7, 9, 11, 8, 11, 10), strict=True))
        )
        if ledger.uncovered:
            names = [cell_id(block.name, c) for c in ledger.uncovered[:_SHOWN]]
            more = len(ledger.uncovered) - len(names)
            missing.append(
                f"  {block.name}: " + ", ".join(names) + (f" … and {more} more" if more else "")
            )
    write(
        f"{'total':<14}"
        + "".join(f"{v:>{w}}" for v, w in zip(totals, (7, 9, 11, 8, 11, 10), strict=True))
    )
    write(f"golden ledger: cells {totals[0]}, covered {totals[1]}, uncovered {totals[2]}")
    if missing:
        write("uncovered (legal cells no scenario plays yet):")
        for line in missing:
            write(line)
