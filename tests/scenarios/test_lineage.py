"""A line's lineage never changes: the events listed behind a finalized usage line
(``Billing.line_events``, ``GET /v1/invoices/{id}/lines/{key}/events``) and re-counted by the
usage reconciliation (``Billing.recount``) are exactly those it counted, whatever happens to the
usage later — events of an unmapped tenant attached to the customer after it was rated are not
behind it, events voided after it was rated still are. The adjustment that later bills the
difference lists the usage as rated again. SQLite and PostgreSQL.

The plan is Pro (99.00 a month in advance, API calls free up to 1,000 then 0.012 each).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from revsync.application.corrections import CorrectUsage
from revsync.domain.invoicing import Invoice, InvoiceStatus, Line
from revsync.domain.reconciliation import Check, ReconciliationRun
from revsync.ports.billing import InvoiceFilter
from revsync.ports.usage import StoredEvent
from tests.scenarios.harness import ACTOR, PRO, World, invoice, make_world
from tests.scenarios.test_late_usage import (
    DEC,
    JAN,
    NOV,
    PLATFORM,
    TIER_1,
    TIER_2,
    november_arrears_id,
    november_billed,
)
from tests.support.databases import pg_copy, pg_drop, sqlite_copy

SOURCE = "app://scenario"
TIER_1_KEY = "usage:calls:2026-11-01:tier-1"
TIER_2_KEY = "usage:calls:2026-11-01:tier-2"


def behind(w: World, invoice_id: str, key: str) -> list[StoredEvent]:
    """Every event listed behind a line, a page at a time (as the API pages them)."""
    found: list[StoredEvent] = []
    cursor: int | None = None
    while True:
        _, page, cursor = w.container.billing.line_events(
            invoice_id, key, after_seq=cursor, limit=250
        )
        found += page
        if cursor is None:
            return found


def ids_behind(w: World, invoice_id: str, key: str) -> set[str]:
    return {e.event_id for e in behind(w, invoice_id, key)}


def evs(numbers: range) -> set[str]:
    """The harness's event ids ``ev-<n>`` for these numbers."""
    return {f"ev-{n}" for n in numbers}


def line_of(w: World, invoice_id: str, key: str) -> Line:
    line = w.container.billing.invoice(invoice_id).line(key)
    assert line is not None and line.lineage is not None, key
    return line


def counted_again(w: World, line: Line) -> tuple[int, str] | None:
    assert line.lineage is not None
    return w.container.billing.recount(line.lineage)


def reconcile(w: World) -> ReconciliationRun:
    """The usage reconciliation over everything issued from November on."""
    run = w.container.reconciliation.run({Check.USAGE}, date(2026, 11, 1), ACTOR)
    return asyncio.run(run)


def arrears_of(w: World, period_start: str) -> Invoice:
    [found] = [
        i
        for i in w.raw_invoices("s1")
        if i.kind.value == "arrears" and i.period.start.isoformat() == period_start
    ]
    return found


def void(w: World, ids: set[str]) -> None:
    keys = tuple(sorted((SOURCE, event_id) for event_id in ids))
    w.container.corrections.correct(CorrectUsage("sent twice", keys, (), "ops@example.com"))


# --- a tenant mapped after the invoice was final ------------------------------------------


def test_events_mapped_after_finalization_are_not_behind_the_line_that_never_counted_them(
    world: Callable[..., World],
) -> None:
    w = world(plans=[PRO], start="2026-11-01T08:00:00Z")
    w.customer("acme")
    w.subscribe("s1", "acme", "pro", "2026-11-01")
    w.at("2026-11-15T12:00:00Z")
    w.usage("t-acme", "api.request", "2026-11-15T10:00:00Z", times=800)  # ev-1 … ev-800
    # ev-801 … ev-1300: a tenant nobody has mapped yet
    assert w.usage("t-acme-2", "api.request", "2026-11-15T10:00:00Z", times=500).unmapped == 500
    w.at("2026-12-04T00:00:00Z").bill("2026-12-04")  # November final: 800 calls
    november = november_arrears_id()
    before = line_of(w, november, TIER_1_KEY)
    assert ids_behind(w, november, TIER_1_KEY) == evs(range(1, 801))

    # the second tenant is found to be Acme's on 10 December; the next run bills it
    w.at("2026-12-10T12:00:00Z").customer("acme", tenants=["t-acme", "t-acme-2"])
    w.at("2027-01-04T00:00:00Z").bill("2027-01-04")
    assert w.invoices("s1")[:4] == [
        invoice("advance", NOV, "INV-000001", (PLATFORM,), "99.00"),
        invoice(
            "arrears",
            NOV,
            "INV-000003",
            ((TIER_1_KEY, TIER_1, "800", "0", "0.00"),),
            "0.00",
        ),
        invoice("advance", DEC, "INV-000002", (PLATFORM,), "99.00"),
        invoice(
            "arrears",
            DEC,
            "INV-000005",
            (
                ("usage:calls:2026-12-01:tier-1", TIER_1, "0", "0", "0.00"),
                # 1,300 calls in November: 200 more free, 300 × 0.012 = 3.60
                (
                    f"adjustment:{november}:{TIER_1_KEY}",
                    f"Adjustment: {TIER_1}",
                    "200",
                    "0",
                    "0.00",
                ),
                (
                    f"adjustment:{november}:{TIER_2_KEY}",
                    f"Adjustment: {TIER_2}",
                    "300",
                    "0.012",
                    "3.60",
                ),
            ),
            "3.60",
        ),
    ]
    # November's line still rests on the 800 events it counted, and nothing else
    line = line_of(w, november, TIER_1_KEY)
    assert line == before
    assert ids_behind(w, november, TIER_1_KEY) == evs(range(1, 801))
    assert line.lineage is not None and line.lineage.events == 800
    assert counted_again(w, line) == (800, line.lineage.events_hash)
    # the reconciliation finds nothing wrong with it, nor with December's usage line
    run = reconcile(w)
    assert (run.findings, run.checked) == ([], {"usage": 2})

    # the adjustment lists November as rated again: the 800 and the 500 mapped since
    december = arrears_of(w, "2026-12-01").id
    for key in (TIER_1_KEY, TIER_2_KEY):
        adjustment = line_of(w, december, f"adjustment:{november}:{key}")
        assert adjustment.lineage is not None and adjustment.lineage.events == 1300
        assert ids_behind(w, december, adjustment.key) == evs(range(1, 1301))
        assert counted_again(w, adjustment) == (1300, adjustment.lineage.events_hash)


# --- events voided after the invoice was final ----------------------------------------------


def test_a_voided_event_stays_behind_the_line_that_counted_it(
    world: Callable[..., World],
) -> None:
    # November: 1,300 calls invoiced (300 above the 1,000 free: 3.60), then 200 are voided
    w = november_billed(world, 1300)
    november = november_arrears_id()
    before = line_of(w, november, TIER_2_KEY)
    w.at("2026-12-10T09:00:00Z")
    void(w, evs(range(1, 201)))
    w.at("2027-01-04T00:00:00Z").bill("2027-01-04")
    assert w.invoices("s1") == [
        invoice("advance", NOV, "INV-000001", (PLATFORM,), "99.00"),
        invoice(
            "arrears",
            NOV,
            "INV-000003",
            (
                (TIER_1_KEY, TIER_1, "1000", "0", "0.00"),
                (TIER_2_KEY, TIER_2, "300", "0.012", "3.60"),
            ),
            "3.60",
        ),
        invoice("advance", DEC, "INV-000002", (PLATFORM,), "99.00"),
        invoice(
            "arrears",
            DEC,
            "CN-000001",
            (
                ("usage:calls:2026-12-01:tier-1", TIER_1, "0", "0", "0.00"),
                # November is now 1,100 calls: 200 × 0.012 = 2.40 back
                (
                    f"adjustment:{november}:{TIER_2_KEY}",
                    f"Adjustment: {TIER_2}",
                    "-200",
                    "0.012",
                    "-2.40",
                ),
            ),
            "-2.40",
        ),
        invoice("advance", JAN, "INV-000004", (PLATFORM,), "99.00"),
    ]
    # both of November's lines still list the 1,300 events they counted, the voided ones too
    for key in (TIER_1_KEY, TIER_2_KEY):
        line = line_of(w, november, key)
        assert line.lineage is not None and line.lineage == before.lineage
        assert ids_behind(w, november, key) == evs(range(1, 1301))
        assert counted_again(w, line) == (1300, line.lineage.events_hash)
    assert reconcile(w).findings == []

    # the adjustment lists November as rated again: without the voided events
    december = arrears_of(w, "2026-12-01").id
    adjustment = line_of(w, december, f"adjustment:{november}:{TIER_2_KEY}")
    assert adjustment.lineage is not None and adjustment.lineage.events == 1100
    assert ids_behind(w, december, adjustment.key) == evs(range(201, 1301))
    assert counted_again(w, adjustment) == (1100, adjustment.lineage.events_hash)


def test_a_run_right_after_a_void_and_the_events_that_come_after_it(
    world: Callable[..., World],
) -> None:
    # the newest event is voided and a run follows with nothing ingested between: the run's
    # lines do not count it, and the late event ingested next is billed, once
    w = november_billed(world, 1001)  # ev-1 … ev-1001: 1 call in tier 2 (0.012 → 0.01)
    november = november_arrears_id()
    w.at("2026-12-10T09:00:00Z")
    void(w, {"ev-1001"})
    w.at("2027-01-04T00:00:00Z").bill("2027-01-04")
    december = arrears_of(w, "2026-12-01").id
    adjustment = f"adjustment:{november}:{TIER_2_KEY}"
    assert ids_behind(w, november, TIER_2_KEY) == evs(range(1, 1002))
    # tier 2 is empty now: its adjustment lists what tier 1 (rated again) counts
    assert ids_behind(w, december, adjustment) == evs(range(1, 1001))

    w.at("2027-01-10T09:00:00Z")
    w.usage("t-acme", "api.request", "2026-11-28T10:00:00Z")  # ev-1002
    w.at("2027-02-04T00:00:00Z").bill("2027-02-04")
    assert [i for i in w.invoices("s1") if i.kind == "arrears"][1:] == [
        invoice(
            "arrears",
            DEC,
            "CN-000001",
            (
                ("usage:calls:2026-12-01:tier-1", TIER_1, "0", "0", "0.00"),
                (
                    f"adjustment:{november}:{TIER_2_KEY}",
                    f"Adjustment: {TIER_2}",
                    "-1",
                    "0.012",
                    "-0.01",
                ),
            ),
            "-0.01",
        ),
        invoice(
            "arrears",
            JAN,
            "INV-000006",
            (
                ("usage:calls:2027-01-01:tier-1", TIER_1, "0", "0", "0.00"),
                # the late call puts November back at 1,001 calls: 1 × 0.012 = 0.01
                (
                    f"adjustment:{november}:{TIER_2_KEY}",
                    f"Adjustment: {TIER_2}",
                    "1",
                    "0.012",
                    "0.01",
                ),
            ),
            "0.01",
        ),
    ]
    # each line lists what its run counted: the late call only behind January's adjustment
    january = arrears_of(w, "2027-01-01").id
    assert ids_behind(w, january, adjustment) == evs(range(1, 1001)) | {"ev-1002"}
    assert ids_behind(w, december, adjustment) == evs(range(1, 1001))
    assert ids_behind(w, november, TIER_2_KEY) == evs(range(1, 1002))
    assert reconcile(w).findings == []


# --- any order of usage, mappings, voids and runs (hypothesis) ---------------------------

STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("use"), st.sampled_from(["t-a", "t-b"]), st.integers(1, 29)),
        st.tuples(st.just("map"), st.just(""), st.just(0)),
        st.tuples(st.just("void"), st.just(""), st.integers(0, 40)),
        st.tuples(st.just("bill"), st.just(""), st.just(0)),
    ),
    min_size=1,
    max_size=12,
)


@contextmanager
def fresh(
    backend: str, request: pytest.FixtureRequest, factory: pytest.TempPathFactory
) -> Iterator[World]:
    """A new world per example on ``backend``."""
    if backend == "sqlite":
        url = sqlite_copy(request.getfixturevalue("sqlite_template"), factory.mktemp("lineage"))
        with make_world(url, plans=[PRO], start="2026-11-01T08:00:00Z") as w:
            yield w
        return
    name, url = pg_copy(request.getfixturevalue("pg_template"))
    try:
        with make_world(url, plans=[PRO], start="2026-11-01T08:00:00Z") as w:
            yield w
    finally:
        pg_drop(name)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=STEPS)
# November final on 4 December, then its second tenant mapped; then one of its events voided
@example(steps=[("use", "t-a", 5), ("use", "t-b", 6), ("bill", "", 0), ("map", "", 0)])
@example(steps=[("use", "t-a", 5), ("use", "t-a", 6), ("bill", "", 0), ("void", "", 1)])
def test_every_billed_usage_line_lists_and_recounts_what_it_counted(
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    steps: list[tuple[str, str, int]],
) -> None:
    """Usage of a mapped and an unmapped tenant arrives, the second tenant is mapped, events
    are voided, runs bill — one step a day from 28 November on; then, after every run: each
    usage line of a final invoice lists exactly the events of its lineage, and after the last
    run November is billed on exactly the events that count for it now."""
    with fresh(backend, request, tmp_path_factory) as w:
        w.customer("acme", tenants=["t-a"])
        w.subscribe("s1", "acme", "pro", "2026-11-01")
        numbers = itertools.count(1)  # the harness names the events it sends ev-1, ev-2, …
        stored: list[str] = []
        mapped = {"t-a"}
        voided: set[str] = set()
        owner: dict[str, str] = {}
        day = date(2026, 11, 28)
        for action, tenant, value in [*steps, ("bill", "", 0)]:
            w.at(f"{day.isoformat()}T12:00:00Z")
            if action == "use":
                event_id = f"ev-{next(numbers)}"
                w.usage(tenant, "api.request", f"2026-11-{value:02d}T10:00:00Z", source=SOURCE)
                stored.append(event_id)
                owner[event_id] = tenant
            elif action == "map" and "t-b" not in mapped:
                w.customer("acme", tenants=["t-a", "t-b"])
                mapped.add("t-b")
            elif action == "void" and stored:
                event_id = stored[value % len(stored)]
                if event_id not in voided:
                    void(w, {event_id})
                    voided.add(event_id)
            elif action == "bill":
                assert w.bill(day.isoformat()).errors == []
            _check_lines(w)
            day += timedelta(days=3)
        w.at("2027-03-04T00:00:00Z").bill("2027-03-04")  # every adjustment final
        _check_lines(w)
        counts = sum(1 for e in stored if owner[e] in mapped and e not in voided)
        billed = sum(
            line.quantity
            for i in w.raw_invoices("s1")
            for line in i.lines
            if line.key in (TIER_1_KEY, TIER_2_KEY)
            or line.key.endswith((f":{TIER_1_KEY}", f":{TIER_2_KEY}"))
        )
        assert billed == counts, (steps, billed, counts)
        assert reconcile(w).findings == []


def _check_lines(w: World) -> None:
    for invoice_ in w.container.billing.invoices(InvoiceFilter(), after=None, limit=1000):
        if invoice_.status is InvoiceStatus.DRAFT:
            continue
        for line in invoice_.lines:
            if line.lineage is None:
                continue
            listed = behind(w, invoice_.id, line.key)
            assert len(listed) == line.lineage.events, (invoice_.id, line.key)
            assert counted_again(w, line) == (line.lineage.events, line.lineage.events_hash)
