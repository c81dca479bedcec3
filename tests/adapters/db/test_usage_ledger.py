"""The usage ledger: exactly once under retries, concurrency, hash collisions and crashes.
Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revsync.adapters.db.engine import create_db_engine
from revsync.adapters.db.tables import usage_events, usage_marks, voided_events
from revsync.adapters.db.usage_ledger import SqlUsageLedger
from revsync.adapters.failpoints import FailpointError, Failpoints
from revsync.application.ingestion import IngestContext, Ingestion, IngestPolicy, IngestReport
from revsync.domain.usage import dedup_slot
from revsync.ports.usage import EventRow, UsageTransaction
from revsync.schemas.cloudevents_v1 import decode_items
from tests.conftest import NOW
from tests.support.clock import FrozenClock
from tests.support.databases import sqlite_copy
from tests.support.events import encode, event

CONTEXT = IngestContext("api", "test")


def weak_slot(source: str, event_id: str, probe: int) -> int:
    """Eight slots only: nearly every key collides, so open addressing is exercised."""
    digest = hashlib.sha256(f"{source}\x00{event_id}".encode()).digest()
    return (digest[0] + probe) % 8 if probe < 8 else 1000 + probe


def items(events: list[dict[str, Any]]) -> list[Any]:
    return decode_items([encode(e) for e in events])


def stored(url: str) -> list[tuple[str, str, str]]:
    engine = create_db_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    usage_events.c.source, usage_events.c.event_id, usage_events.c.data
                ).order_by(usage_events.c.source, usage_events.c.event_id)
            )
            return [tuple(row) for row in rows]  # type: ignore[misc]
    finally:
        engine.dispose()


class Writer:
    """An independent writer (own engine and ledger), as another process would be."""

    def __init__(
        self, url: str, failpoints: Failpoints | None = None, slot_of: Any = dedup_slot
    ) -> None:
        self.engine = create_db_engine(url, pool_size=2)
        self.ledger = SqlUsageLedger(self.engine, failpoints=failpoints or Failpoints())
        self.ingestion = Ingestion(
            self.ledger, FrozenClock(NOW), [], IngestPolicy(), slot_of=slot_of
        )

    def ingest(self, events: list[dict[str, Any]]) -> IngestReport:
        return self.ingestion.ingest(items(events), CONTEXT)

    def close(self) -> None:
        self.ledger.close()
        self.engine.dispose()


@pytest.fixture
def writers(any_db_url: str) -> Iterator[list[Writer]]:
    made = [Writer(any_db_url) for _ in range(4)]
    yield made
    for writer in made:
        writer.close()


def test_the_same_batch_from_several_writers_at_once_is_stored_once(
    any_db_url: str, writers: list[Writer]
) -> None:
    batch = [event(f"e{i}", subject=f"t{i % 7}") for i in range(300)]
    barrier = threading.Barrier(len(writers))

    def send(writer: Writer) -> IngestReport:
        barrier.wait()
        return writer.ingest(batch)

    with ThreadPoolExecutor(len(writers)) as pool:
        reports = list(pool.map(send, writers))
    assert sum(r.accepted for r in reports) == 300
    assert sum(r.duplicates for r in reports) == 300 * (len(writers) - 1)
    assert all(r.rejected == [] for r in reports)
    assert len(stored(any_db_url)) == 300


def test_overlapping_batches_from_several_threads_of_one_writer(any_db_url: str) -> None:
    writer = Writer(any_db_url)
    try:
        batches = [
            [event(f"e{i}") for i in range(start, start + 100)] for start in range(0, 400, 50)
        ]
        with ThreadPoolExecutor(8) as pool:
            reports = list(pool.map(writer.ingest, batches))
    finally:
        writer.close()
    assert sum(r.accepted for r in reports) == 450
    assert sum(r.duplicates for r in reports) == 800 - 450
    assert len(stored(any_db_url)) == 450


def test_a_crash_before_commit_leaves_the_batch_retryable(any_db_url: str) -> None:
    failpoints = Failpoints()
    writer = Writer(any_db_url, failpoints)
    try:
        batch = [event(f"e{i}") for i in range(10)]
        failpoints.arm("ledger.before_commit", times=1)
        with pytest.raises(FailpointError):
            writer.ingest(batch)
        assert stored(any_db_url) == []  # not counted, and the dedup claims went with it
        retried = writer.ingest(batch)
        assert (retried.accepted, retried.duplicates) == (10, 0)
        again = writer.ingest(batch)
        assert (again.accepted, again.duplicates) == (0, 10)
    finally:
        writer.close()
    assert len(stored(any_db_url)) == 10


def test_one_failing_step_does_not_fail_the_others_in_its_group(any_db_url: str) -> None:
    engine = create_db_engine(any_db_url, pool_size=2)
    ledger = SqlUsageLedger(engine)
    ingestion = Ingestion(ledger, FrozenClock(NOW), [], IngestPolicy())
    gate = threading.Event()
    try:
        blocker = ledger.submit(lambda tx: gate.wait(5))  # holds the writer so the next ones group

        def explode(tx: object) -> None:
            raise RuntimeError("boom")

        failing = ledger.submit(explode)
        good = ingestion.submit(ingestion.prepare(items([event("ok")]), CONTEXT))
        gate.set()
        assert blocker.result(5) is True
        with pytest.raises(RuntimeError, match="boom"):
            failing.result(5)
        assert good.result(5).accepted == 1
    finally:
        ledger.close()
        engine.dispose()
    assert [row[1] for row in stored(any_db_url)] == ["ok"]


keys = st.tuples(
    st.sampled_from(["app://a", "app://b"]), st.sampled_from([f"id{i}" for i in range(12)])
)
payloads = st.sampled_from([{"v": 1}, {"v": 2}])


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sequence=st.lists(st.tuples(keys, payloads), min_size=1, max_size=40),
    cut=st.lists(st.integers(1, 10), min_size=1, max_size=8),
)
def test_dedup_with_colliding_slots_matches_a_model(
    sqlite_template: Any, tmp_path_factory: Any, sequence: list[Any], cut: list[int]
) -> None:
    """Whatever the batching and however keys collide: first payload wins, same payload is a
    duplicate, another payload is a conflict; each key is stored once."""
    url = sqlite_copy(sqlite_template, tmp_path_factory.mktemp("dedup"))
    writer = Writer(url, slot_of=weak_slot)
    first_payload: dict[tuple[str, str], dict[str, int]] = {}
    expected = {"accepted": 0, "duplicates": 0, "conflicts": 0}
    for key, data in sequence:
        if key not in first_payload:
            first_payload[key] = data
            expected["accepted"] += 1
        elif first_payload[key] == data:
            expected["duplicates"] += 1
        else:
            expected["conflicts"] += 1
    got = {"accepted": 0, "duplicates": 0, "conflicts": 0}
    try:
        position = 0
        for size in itertools.cycle(cut):
            chunk = sequence[position : position + size]
            if not chunk:
                break
            position += size
            report = writer.ingest([event(i, source=s, data=d) for (s, i), d in chunk])
            got["accepted"] += report.accepted
            got["duplicates"] += report.duplicates
            got["conflicts"] += len(report.rejected)
            assert all(r.reason.startswith("conflict:") for r in report.rejected)
    finally:
        writer.close()
    assert got == expected
    rows = stored(url)
    assert len(rows) == len(first_payload)
    assert {(s, i): d for s, i, d in rows} == {
        k: encode(v).decode() for k, v in first_payload.items()
    }


def test_voided_claims_and_a_mark_above_every_event_hold_when_new_events_are_written_first(
    sqlite_url: str,
) -> None:
    """SQLite writes a batch's new-looking events before reading any slot: a voided event sent
    again is still a duplicate (its claim is in ``voided_events``, beyond the unique slot), a
    repeat stored in the table is one too, and after a usage mark above every event the first
    event actually written is numbered above the mark, whatever came before it in the batch."""
    writer = Writer(sqlite_url)
    try:
        assert writer.ingest([event("e1"), event("e2"), event("e3")]).accepted == 3
        with writer.engine.begin() as conn:  # void e2 as a correction does, and take a mark
            found = conn.execute(sa.select(usage_events).where(usage_events.c.event_id == "e2"))
            voided = dict(found.one()._mapping)
            conn.execute(usage_events.delete().where(usage_events.c.event_id == "e2"))
            del voided["day"], voided["late"]
            conn.execute(voided_events.insert().values(**voided, correction_id="c1", voided_at=NOW))
            top = conn.execute(sa.select(sa.func.max(usage_events.c.seq))).scalar_one()
            conn.execute(usage_marks.update().where(usage_marks.c.id == 1).values(seq=top + 10))
        report = writer.ingest([event("e2"), event("e1"), event("e4"), event("e3"), event("e5")])
        assert (report.accepted, report.duplicates, report.rejected) == (2, 3, [])
        with writer.engine.connect() as conn:
            rows = conn.execute(sa.select(usage_events.c.event_id, usage_events.c.seq))
            numbered = {event_id: seq for event_id, seq in rows}
    finally:
        writer.close()
    assert set(numbered) == {"e1", "e3", "e4", "e5"}
    assert numbered["e4"] == top + 11
    assert numbered["e5"] == top + 12


def row(n: int) -> EventRow:
    """A stored event of its own slot (the ledger's write, below ingestion's classification)."""
    return EventRow(
        dedup_slot("deadlock", f"d{n}"), "deadlock", f"d{n}", "api.request", "t", 0, 0,
        None, "{}", n.to_bytes(16, "big"), 0, False,
    )  # fmt: skip


@pytest.mark.postgres
def test_two_writers_claiming_slots_in_opposite_orders_both_finish(pg_url: str) -> None:
    """Each writer's step claims one slot, waits for the other's, then claims the other's slot
    (as a step does when it stores the events a concurrent writer's claims left over): the
    two wait on each other. A first try gives up on a lock after 50 ms; the step is tried
    again in turn, finds the other's claim committed and finishes. Before, PostgreSQL broke
    the deadlock after a second by failing one, and its caller got the error (an API request
    answered 500)."""
    first, second = Writer(pg_url), Writer(pg_url)
    barrier = threading.Barrier(2)

    def claiming(mine: EventRow, theirs: EventRow) -> Any:
        waited = [False]

        def step(tx: UsageTransaction) -> Collection[int]:
            claimed = set(tx.insert_events([mine]))
            if not waited[0]:  # the first try only: a try again claims without waiting
                waited[0] = True
                barrier.wait(10)
            return claimed | set(tx.insert_events([theirs]))

        return step

    try:
        one = first.ledger.submit(claiming(row(1), row(2)))
        two = second.ledger.submit(claiming(row(2), row(1)))
        results = [one.result(30), two.result(30)]
    finally:
        first.close()
        second.close()
    assert sorted(len(r) for r in results) == [0, 2]  # the one tried again found both taken
    assert [eid for _, eid, _ in stored(pg_url)] == ["d1", "d2"]
