"""PostgreSQL keeps usage in one table per month: made ahead by the worker, filled from the
default table when made late, archived after a configurable age — with every dedup claim kept
in ``usage_slots``, and lineage still reading the archive. Large batches go in with COPY and
store exactly what small ones would (that part runs on SQLite too)."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event as sa_event

from revsync.adapters.db.engine import create_db_engine
from revsync.adapters.db.tables import archived_slots, usage_events
from revsync.adapters.db.usage_ledger import COPY_ROWS
from revsync.adapters.db.usage_storage import SqlUsageStorage
from revsync.application.corrections import CorrectUsage
from revsync.application.ingestion import IngestContext
from revsync.application.usage_storage import StoragePolicy, UsageStorageKeeping
from revsync.bootstrap import Container, build
from revsync.domain.errors import InvalidField
from revsync.domain.usage_months import Month
from revsync.entrypoints.workers.relay import worker_jobs
from revsync.schemas.cloudevents_v1 import decode_items
from tests.adapters.db.test_usage_ledger import CONTEXT, Writer, items, stored
from tests.conftest import NOW, make_settings
from tests.scenarios.harness import ACTOR, PRO, World, make_world, moment
from tests.scenarios.test_lineage import behind as events_behind
from tests.support.clock import FrozenClock, utc
from tests.support.events import encode, event


def tables_of(url: str) -> dict[str, str]:
    """Each stored event's id → the table that holds it."""
    engine = create_db_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT event_id, tableoid::regclass::text FROM usage_events"
            ).all()
    finally:
        engine.dispose()
    return dict(rows)  # type: ignore[arg-type]


def keeping(engine: sa.Engine, at: str, **policy: Any) -> UsageStorageKeeping:
    return UsageStorageKeeping(
        SqlUsageStorage(engine), FrozenClock(moment(at)), StoragePolicy(**policy)
    )


@pytest.fixture
def engine(pg_url: str) -> Iterator[sa.Engine]:
    made = create_db_engine(pg_url, pool_size=2)
    yield made
    made.dispose()


# --- months made ahead, events in their month's table -------------------------------------


@pytest.mark.postgres
def test_events_land_in_their_months_table_and_the_default_one_is_emptied_later(
    pg_url: str, engine: sa.Engine
) -> None:
    first = keeping(engine, "2026-11-15T12:00:00Z", ahead=2).run()
    assert first.created == [Month(2026, 11), Month(2026, 12), Month(2027, 1)]
    writer = Writer(pg_url)
    try:
        report = writer.ingest(
            [
                event("nov", time=utc(2026, 11, 15, 9)),
                event("oct", time=utc(2026, 10, 31, 23, 59, 59)),  # late: no table yet
                event("old", time=utc(2025, 2, 1)),
            ]
        )
    finally:
        writer.close()
    assert report.accepted == 3
    assert tables_of(pg_url) == {
        "nov": "usage_events_2026_11",
        "oct": "usage_events_default",
        "old": "usage_events_default",
    }
    again = keeping(engine, "2026-11-16T12:00:00Z", ahead=2).run()
    assert again.created == [Month(2025, 2), Month(2026, 10)]
    assert again.moved == 2
    assert tables_of(pg_url) == {
        "nov": "usage_events_2026_11",
        "oct": "usage_events_2026_10",
        "old": "usage_events_2025_02",
    }
    assert keeping(engine, "2026-11-16T12:00:00Z", ahead=2).run().created == []  # idempotent
    # the moved events are still found, counted and deduplicated
    writer = Writer(pg_url)
    try:
        assert writer.ingest([event("oct", time=utc(2026, 10, 31, 23, 59, 59))]).duplicates == 1
    finally:
        writer.close()


@pytest.mark.postgres
def test_the_worker_runs_the_usage_storage_job_on_postgresql_only(
    pg_url: str, sqlite_url: str, engine: sa.Engine
) -> None:
    on_sqlite = container_on(sqlite_url)
    try:
        assert on_sqlite.usage_storage is None
        assert "usage_storage" not in [j.name for j in worker_jobs(on_sqlite)]
    finally:
        on_sqlite.close()
    container = container_on(pg_url, usage_storage={"months_ahead": 1, "schedule": "5 0 * * *"})
    try:
        [job] = [j for j in worker_jobs(container) if j.name == "usage_storage"]
        assert job.schedule.describe() == "cron 5 0 * * * (UTC)"
        summary = asyncio.run(job.work())
    finally:
        container.close()
    assert summary.startswith("months made 2026_11, 2026_12 (0 events moved), archived none")
    assert SqlUsageStorage(engine).months().live == {Month(2026, 11), Month(2026, 12)}


def container_on(url: str, **sections: Any) -> Container:
    return build(make_settings(url, **sections), clock=FrozenClock(NOW))


# --- COPY ---------------------------------------------------------------------------------


def test_a_copied_batch_stores_exactly_what_is_new(any_db_url: str) -> None:
    """Over the COPY threshold: duplicates inside the batch, of stored events and of voided
    events are duplicates; each new event is stored once."""
    container = container_on(any_db_url)
    statements: list[str] = []
    sa_event.listen(container.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    try:
        ingest = container.ingestion.ingest
        assert ingest(items([event(f"s{n}") for n in range(200)]), CONTEXT).accepted == 200
        voided = tuple(("app://test", f"s{n}") for n in range(100))
        container.corrections.correct(CorrectUsage("sent twice", voided, (), ACTOR))
        fresh = [event(f"n{n}") for n in range(COPY_ROWS)]
        batch = [
            *fresh,
            *fresh[:150],  # twice in the batch
            *[event(f"s{n}") for n in range(200)],  # 100 voided, 100 stored
        ]
        report = ingest(items(batch), CONTEXT)
    finally:
        container.close()
    assert (report.accepted, report.duplicates, report.rejected) == (COPY_ROWS, 350, [])
    assert sorted(e for _, e, _ in stored(any_db_url)) == sorted(
        [f"n{n}" for n in range(COPY_ROWS)] + [f"s{n}" for n in range(100, 200)]
    )
    if container.engine.dialect.name == "postgresql":
        assert any("FROM usage_batch" in s for s in statements)  # the COPY path was taken


def tight_slot(source: str, event_id: str, probe: int) -> int:
    """4,096 slots: a batch of a thousand events collides a hundred times (open addressing)."""
    digest = hashlib.sha256(f"{source}\x00{event_id}".encode()).digest()
    return (int.from_bytes(digest[:4], "big") + probe) % 4096


def test_copied_batches_from_several_writers_at_once_are_stored_once(any_db_url: str) -> None:
    writers = [Writer(any_db_url, slot_of=tight_slot) for _ in range(3)]
    batch = [event(f"e{n}") for n in range(COPY_ROWS + 300)]
    barrier = threading.Barrier(len(writers))

    def send(writer: Writer) -> Any:
        barrier.wait()
        return writer.ingest(batch)

    try:
        with ThreadPoolExecutor(len(writers)) as pool:
            reports = list(pool.map(send, writers))
        later = writers[0].ingest(batch[::2] + [event("last")] * 2)
    finally:
        for writer in writers:
            writer.close()
    assert sum(r.accepted for r in reports) == len(batch)
    assert sum(r.duplicates for r in reports) == 2 * len(batch)
    assert (later.accepted, later.duplicates) == (1, len(batch[::2]) + 1)
    assert len(stored(any_db_url)) == len(batch) + 1


# --- archive ------------------------------------------------------------------------------

JULY_TIER_1 = "usage:calls:2026-07-01:tier-1"
JULY_TIER_2 = "usage:calls:2026-07-01:tier-2"


@pytest.fixture
def world(any_db_url: str) -> Iterator[World]:
    with july_billed(any_db_url) as w:
        yield w


@contextmanager
def july_billed(url: str) -> Iterator[World]:
    """July's 1,200 events billed in a draft, archiving on after three months (PostgreSQL:
    to the archive schema; SQLite: to a Parquet file beside the database)."""
    extra = {"usage_storage": {"archive_after_months": 3, "months_ahead": 1}}
    with make_world(url, plans=[PRO], start="2026-07-01T08:00:00Z", extra=extra) as w:
        w.customer("acme")
        w.subscribe("s1", "acme", "pro", "2026-07-01")
        w.at("2026-07-20T12:00:00Z")
        w.usage("t-acme", "api.request", "2026-07-15T10:00:00Z", times=1200)  # ev-1 … ev-1200
        w.at("2026-08-02T12:00:00Z").bill("2026-08-02")  # July's usage: a draft
        yield w


def july_arrears(w: World) -> str:
    [found] = [
        i.id
        for i in w.raw_invoices("s1")
        if i.kind.value == "arrears" and i.period.start == date(2026, 7, 1)
    ]
    return found


def behind(w: World, invoice_id: str, key: str) -> list[str]:
    """The ids of the events listed behind a line, every page."""
    return [e.event_id for e in events_behind(w, invoice_id, key)]


def test_an_archived_month_is_still_behind_its_lines_and_closed_to_new_usage(
    world: World, any_db_url: str
) -> None:
    w = world
    keeper = w.container.usage_storage
    assert keeper is not None
    w.at("2026-11-15T12:00:00Z")
    held = keeper.run()  # July's invoice is still a draft: billing may read July again
    assert held.archived == []
    assert list(held.held) == [Month(2026, 7)]
    assert held.held[Month(2026, 7)].endswith("is a draft")
    w.bill("2026-11-15")  # July, August, September, October final
    invoices_before = w.invoices("s1")
    july = july_arrears(w)
    lineage_before = (behind(w, july, JULY_TIER_1), behind(w, july, JULY_TIER_2))
    # (a tier's line lists the events of its window: both tiers list all 1,200)
    assert (len(lineage_before[0]), len(set(lineage_before[1]))) == (1200, 1200)

    done = keeper.run()
    assert done.archived == [Month(2026, 7)]
    engine = w.container.engine
    with engine.connect() as conn:  # nothing left in the live table
        assert conn.execute(sa.select(sa.func.count()).select_from(usage_events)).scalar() == 0
    if any_db_url.startswith("postgresql"):
        months = SqlUsageStorage(engine).months()
        assert Month(2026, 7) in months.archived and Month(2026, 7) not in months.live
        assert tables_of(any_db_url) == {}
    else:  # SQLite: the month's file, and the events' claims kept apart
        folder = w.container.settings.usage_archive_dir()
        assert folder is not None and (folder / "usage-2026-07.parquet").is_file()
        with engine.connect() as conn:
            claims = conn.execute(sa.select(sa.func.count()).select_from(archived_slots))
            assert claims.scalar_one() == 1200
    # lineage reads the archive: the lines list the same events, and count them again alike
    assert (behind(w, july, JULY_TIER_1), behind(w, july, JULY_TIER_2)) == lineage_before
    line = w.container.billing.invoice(july).line(JULY_TIER_2)
    assert line is not None and line.lineage is not None
    assert w.container.billing.recount(line.lineage) == (
        line.lineage.events,
        line.lineage.events_hash,
    )

    # a retry of an archived event is a duplicate; a new event of July is refused
    scenario = {"subject": "t-acme", "source": "app://scenario"}
    retry = event("ev-7", time=moment("2026-07-15T10:00:00Z"), **scenario)
    new = event("late-1", time=moment("2026-07-31T10:00:00Z"), **scenario)
    report = w.container.ingestion.ingest(
        decode_items([encode(retry), encode(new)]), IngestContext("api", ACTOR)
    )
    assert (report.accepted, report.duplicates) == (0, 1)
    [refused] = report.rejected
    assert (refused.event_id, refused.code) == ("late-1", "time_out_of_range")
    assert "archived" in refused.reason
    # so is an amendment that would rate July again
    with pytest.raises(InvalidField, match="archived"):
        w.amend("s1", "seat_change", "2026-07-20", seats=2)

    # billing goes on: the archive changes no invoice, and the next month bills as before
    w.at("2026-11-20T12:00:00Z").usage("t-acme", "api.request", "2026-11-20T10:00:00Z", times=3)
    w.at("2026-12-04T00:00:00Z").bill("2026-12-04")
    after = w.invoices("s1")
    assert after[: len(invoices_before)] == invoices_before
    assert not any(line[0].startswith("adjustment:") for i in after for line in i.lines)
