"""Playing a block's cells: worlds of many cells, one oracle per cell, and the comparison of
every document, look and wallet, plus the invariants the grid holds everywhere."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.golden import oracle
from tests.golden.grid import Block, CellPlan, CellRun, Coords, cell_id, cell_key
from tests.golden.scenario import (
    Action,
    Bill,
    CreditLines,
    Doc,
    LookUpcoming,
    LookUsage,
    Outcome,
    Settings,
    Subscribe,
    Sweep,
    VoidInvoice,
)
from tests.golden.world import open_world, outcome_of
from tests.support.databases import sqlite_copy

#: what every world bills from: one meter per aggregation (see blocks/common.py)
WORLD_LEVEL = (Bill, Sweep)


@dataclass
class CellResult:
    """One cell's verdict."""

    name: str
    coords: Coords
    problems: list[str] = field(default_factory=list)


def chunk_of(block: Block, index: int) -> list[tuple[Coords, CellPlan]]:
    """The built cells of one of the block's chunks (cells dealt round-robin)."""
    cells = []
    for position, coords in enumerate(block.cells()):
        if position % block.chunks != index:
            continue
        plan = block.build(dict(coords), cell_key(coords))
        if plan is not None:
            cells.append((coords, plan))
    return cells


def run_chunk(
    block: Block,
    index: int,
    template: Path,
    directory: Path,
    meters: Sequence[Mapping[str, Any]],
) -> list[CellResult]:
    """Play one chunk of a block: a world per distinct settings, every cell compared."""
    results: list[CellResult] = []
    worlds: dict[Settings, list[tuple[Coords, CellPlan]]] = {}
    for coords, plan in chunk_of(block, index):
        worlds.setdefault(plan.settings, []).append((coords, plan))
    for settings, cells in worlds.items():
        results += _run_world(block, settings, cells, template, directory, meters)
    return results


def _merged(items: Sequence[Mapping[str, Any]], what: str) -> list[dict[str, Any]]:
    by_code: dict[str, dict[str, Any]] = {}
    for item in items:
        known = by_code.setdefault(item["code"], dict(item))
        assert known == dict(item), f"two different {what} named {item['code']}"
    return list(by_code.values())


def _run_world(
    block: Block,
    settings: Settings,
    cells: list[tuple[Coords, CellPlan]],
    template: Path,
    directory: Path,
    meters: Sequence[Mapping[str, Any]],
) -> list[CellResult]:
    plans = _merged([p for _, c in cells for p in c.plans], "plans")
    coupons = _merged([p for _, c in cells for p in c.coupons], "coupons")
    shared: list[Action] = []
    for _, cell in cells:
        for action in cell.actions:
            if isinstance(action, WORLD_LEVEL) and action not in shared:
                shared.append(action)
    everything = [a for _, c in cells for a in c.actions if not isinstance(a, WORLD_LEVEL)]
    everything += shared
    start = min(a.at for a in everything)
    scratch = Path(tempfile.mkdtemp(dir=_scratch(directory)))
    results = []
    try:
        results = _play_world(
            block,
            settings,
            cells,
            shared,
            everything,
            start,
            plans,
            coupons,
            template,
            scratch,
            meters,
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return results


def _scratch(directory: Path) -> Path:
    """Where a world's database goes: memory-backed ``/dev/shm`` when there is one (a run
    commits thousands of times; a disk would sync each), else ``directory``."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return shm
    return directory


def _play_world(
    block: Block,
    settings: Settings,
    cells: list[tuple[Coords, CellPlan]],
    shared: list[Action],
    everything: list[Action],
    start: Any,
    plans: list[dict[str, Any]],
    coupons: list[dict[str, Any]],
    template: Path,
    scratch: Path,
    meters: Sequence[Mapping[str, Any]],
) -> list[CellResult]:
    results = []
    url = sqlite_copy(template, scratch)
    with open_world(
        url, settings, plans=plans, coupons=coupons, meters=meters, start=start
    ) as world:
        looks = world.play(everything)
        docs, refs, by_id = world.documents()
        ids = {ref: invoice_id for invoice_id, ref in refs.items()}
        for coords, cell in cells:
            name = cell_id(block.name, coords)
            result = CellResult(name, coords)
            mine = [a for a in cell.actions if not isinstance(a, WORLD_LEVEL)] + shared
            try:
                expected = oracle.expect(settings, cell.plans, cell.coupons, meters, mine)
            except (oracle.Unpriced, oracle.Refused) as error:
                result.problems.append(f"the oracle cannot play the cell: {error}")
                results.append(result)
                continue
            subs = [a.subscription for a in cell.actions if isinstance(a, Subscribe)]
            tags = [
                a.tag
                for a in cell.actions
                if isinstance(a, LookUpcoming | LookUsage | CreditLines | VoidInvoice)
            ]
            found = outcome_of(world, looks, docs, refs, subs, cell.customers, tags)
            result.problems += compare(expected, found)
            result.problems += lineage(world, expected, found, ids, by_id, meters)
            result.problems += notes_within(found)
            run = CellRun(dict(coords), expected, found, world)
            for check in cell.checks:
                result.problems += check(run)
            results.append(result)
    return results


# --- comparing -------------------------------------------------------------------------------


def _plain(value: Any) -> str:
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def compare_docs(ref: str, want: Doc, got: Doc) -> list[str]:
    """Every difference between two documents, named."""
    problems = []
    for name in ("kind", "period", "status", "issue_date", "series", "consolidated_into"):
        if getattr(want, name) != getattr(got, name):
            problems.append(f"{ref}: {name} {getattr(got, name)} ≠ expected {getattr(want, name)}")
    wanted = {x.key: x for x in want.lines}
    have = {x.key: x for x in got.lines}
    for key in sorted(set(wanted) | set(have)):
        w, g = wanted.get(key), have.get(key)
        if w is None:
            problems.append(f"{ref}: unexpected line {key} ({_plain(g.amount) if g else ''})")
            continue
        if g is None:
            problems.append(f"{ref}: missing line {key} ({_plain(w.amount)})")
            continue
        for name in ("quantity", "unit", "amount", "tax_code", "prorated"):
            a, b = getattr(g, name), getattr(w, name)
            if a != b:
                problems.append(f"{ref}: line {key}: {name} {_plain(a)} ≠ expected {_plain(b)}")
    if want.taxes != got.taxes:
        problems.append(f"{ref}: taxes {got.taxes} ≠ expected {want.taxes}")
    names = ("subtotal", "discount", "tax", "total", "credits")
    for name, a, b in zip(names, got.totals, want.totals, strict=True):
        if a != b:
            problems.append(f"{ref}: {name} {_plain(a)} ≠ expected {_plain(b)}")
    return problems


def compare(expected: Outcome, found: Outcome) -> list[str]:
    """Documents, looks and wallets, each difference named."""
    problems = []
    for ref in sorted(set(expected.docs) | set(found.docs)):
        want, got = expected.docs.get(ref), found.docs.get(ref)
        if want is None:
            assert got is not None
            problems.append(f"{ref}: unexpected {got.kind} ({_plain(got.totals[3])})")
        elif got is None:
            problems.append(f"{ref}: missing {want.kind} ({_plain(want.totals[3])})")
        else:
            problems += compare_docs(ref, want, got)
    for tag in sorted(set(expected.looks) | set(found.looks)):
        want_look, got_look = expected.looks.get(tag), found.looks.get(tag)
        if isinstance(want_look, tuple) and isinstance(got_look, tuple):
            want_refs = [d.ref for d in want_look]
            got_refs = [d.ref for d in got_look]
            if want_refs != got_refs:
                problems.append(f"look {tag}: drafts {got_refs} ≠ expected {want_refs}")
            for w, g in zip(want_look, got_look, strict=False):
                if w.ref == g.ref:
                    problems += compare_docs(f"look {tag} {w.ref}", w, g)
        elif want_look != got_look:
            problems.append(f"look {tag}: {_plain(got_look)} ≠ expected {_plain(want_look)}")
    if expected.wallets != found.wallets:
        problems.append(f"wallets {found.wallets} ≠ expected {expected.wallets}")
    return problems


def lineage(
    world: Any,
    expected: Outcome,
    found: Outcome,
    ids: Mapping[str, str],
    by_id: Mapping[str, Any],
    meters: Sequence[Mapping[str, Any]],
) -> list[str]:
    """Invariant: the events revsync lists behind each finalized usage line re-aggregate (by the
    oracle's meter) to the figure the line was rated from, and are exactly the events of it.
    A carried meter's line lists the events of its own days only (docs: the value carried in
    comes from earlier ones): with the value carried in, their value-days over the period's
    days are the average it billed."""
    problems = []
    for (ref, key), (value, event_ids) in sorted(expected.lineage.items()):
        doc = found.docs.get(ref)
        if doc is None or not any(x.key == key for x in doc.lines) or ref not in ids:
            continue  # already reported as a difference of the documents
        raw = _raw_key(key, ids)
        behind = world.behind(ids[ref], raw)
        got_ids = frozenset(event_id for _, event_id, _ in behind)
        if got_ids != event_ids:
            line = by_id[ids[ref]].line(raw)
            counted = line.lineage.events if line is not None and line.lineage else "?"
            problems.append(
                f"{ref}: line {key}: lists {len(got_ids)} events behind it, its lineage counted "
                f"{counted}, the oracle {len(event_ids)}"
                + (f" (more: {sorted(got_ids - event_ids)})" if got_ids - event_ids else "")
                + (f" (missing: {sorted(event_ids - got_ids)})" if event_ids - got_ids else "")
            )
            continue
        meter = _meter_of_line(by_id[ids[ref]], raw, meters)
        held = expected.held.get((ref, key))
        if meter is not None and meter.carried and held is not None:
            value_days, end = oracle.held_days(
                meter, oracle.num(held.carried_in), behind, held.zone, held.days
            )
            average = oracle.held_average(value_days, held.period_days)
            if oracle.as_decimal(average) != value or oracle.as_decimal(end) != held.end_value:
                problems.append(
                    f"{ref}: line {key}: its events, from {held.carried_in} carried in, hold "
                    f"{oracle.as_decimal(value_days)} value-days (an average of "
                    f"{oracle.as_decimal(average)}, not {value}) and end at "
                    f"{oracle.as_decimal(end)}, not {held.end_value}"
                )
            continue
        again = oracle.aggregate(meter, behind) if meter is not None else None
        if again is not None and oracle.as_decimal(again) != value:
            problems.append(f"{ref}: line {key}: its events re-aggregate to {again}, not {value}")
    return problems


def _raw_key(key: str, ids: Mapping[str, str]) -> str:
    """A line key as revsync holds it: a consolidated invoice's ``<part ref>:<key>`` is
    ``<part id>:<key>`` (refs hold no ``:``)."""
    head, colon, rest = key.partition(":")
    return f"{ids[head]}:{rest}" if colon and head in ids else key


def _meter_of_line(
    invoice: Any, key: str, meters: Sequence[Mapping[str, Any]]
) -> oracle.Meter | None:
    """The meter a line's lineage names, as the grid declared it."""
    line = invoice.line(key)
    if line is None or line.lineage is None:
        return None
    found = next((m for m in meters if m["key"] == line.lineage.meter), None)
    return None if found is None else oracle.meter_of(found)


def notes_within(found: Outcome) -> list[str]:
    """Invariant: the credit notes of an invoice never credit more than it billed — per line,
    and in total."""
    problems = []
    for ref, doc in found.docs.items():
        if doc.kind == "credit_note":
            continue
        notes = [d for r, d in found.docs.items() if r.startswith(f"{ref}/note-")]
        if not notes:
            continue
        credited = -sum((n.totals[3] for n in notes), Decimal(0))
        if doc.totals[3] >= 0 and credited > doc.totals[3]:
            problems.append(
                f"{ref}: its notes credit {credited}, more than its total {doc.totals[3]}"
            )
        billed = {x.key: x.amount for x in doc.lines}
        per_line: dict[str, Decimal] = {}
        for note in notes:
            for line in note.lines:
                key = line.key.removeprefix("credit:")
                per_line[key] = per_line.get(key, Decimal(0)) - line.amount
        for key, amount in per_line.items():
            if key in billed and billed[key] > 0 and amount > billed[key]:
                problems.append(f"{ref}: line {key} credited {amount}, more than its {billed[key]}")
    return problems
