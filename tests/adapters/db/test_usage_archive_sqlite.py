"""SQLite archives old months of usage to Parquet files: exactly the settled months move, every
value kept, their dedup claims in ``archived_slots``; a crash between the file and the commit
is redone by the next run; lineage reads the files. Real SQLite files, real pyarrow."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from revsync.adapters.db.engine import WRITE, create_db_engine
from revsync.adapters.db.migrate import alembic_config
from revsync.adapters.db.repositories import SqlUsageMaintenance
from revsync.adapters.db.tables import archived_slots, usage_events, usage_marks
from revsync.adapters.db.usage_parquet import COLUMNS, ArchiveUnavailable, ParquetMonths
from revsync.adapters.db.usage_reader import SqlUsageReader
from revsync.adapters.db.usage_storage_sqlite import SqliteUsageStorage
from revsync.adapters.failpoints import FailpointError, Failpoints
from revsync.application.ingestion import IngestContext
from revsync.application.usage_storage import StoragePolicy, UsageStorageKeeping
from revsync.bootstrap import build
from revsync.config import ConfigError, Settings, load_settings
from revsync.domain.usage import to_micros
from revsync.domain.usage_months import Month
from revsync.entrypoints.workers.relay import worker_jobs
from revsync.ports.usage import StoredEvent
from revsync.schemas.cloudevents_v1 import decode_items
from tests.adapters.db.test_usage_ledger import Writer
from tests.adapters.db.test_usage_storage import july_billed
from tests.conftest import NOW, make_settings
from tests.scenarios.harness import ACTOR, World, moment
from tests.support.clock import FrozenClock, utc
from tests.support.events import encode, event

JUNE, JULY, AUGUST, NOVEMBER = Month(2026, 6), Month(2026, 7), Month(2026, 8), Month(2026, 11)
#: the world's events: ev-1 … ev-1200 of tenant t-acme from this source
SCENARIO = {"subject": "t-acme", "source": "app://scenario"}


def rows_of(engine: sa.Engine, *months: Month) -> set[tuple[Any, ...]]:
    """Every stored column of the rows of ``months`` (all rows when none is named)."""
    query = sa.select(*(usage_events.c[name] for name in COLUMNS))
    if months:
        query = query.where(
            sa.or_(*(usage_events.c.day.between(m.start_day, m.end_day - 1) for m in months))
        )
    with engine.connect() as conn:
        return {tuple(row) for row in conn.execute(query)}


def in_file(files: ParquetMonths, month: Month) -> list[tuple[Any, ...]]:
    return [row for batch in files.batches(month) for row in batch]


def claims(engine: sa.Engine) -> set[tuple[Any, ...]]:
    with engine.connect() as conn:
        return {tuple(row) for row in conn.execute(sa.select(archived_slots))}


def claims_of(rows: set[tuple[Any, ...]]) -> set[tuple[Any, ...]]:
    """The claims ``archived_slots`` keeps of ``rows``: slot, seq, day, key, fingerprint."""
    at = {name: COLUMNS.index(name) for name in COLUMNS}
    names = ("dedup_slot", "seq", "day", "source", "event_id", "fingerprint")
    return {tuple(row[at[n]] for n in names) for row in rows}


def lineage(engine: sa.Engine, files: ParquetMonths, customer: str) -> list[StoredEvent]:
    """The events a read cut off now counted for ``customer`` in June to August."""
    with engine.connect() as conn:
        top = conn.execute(sa.select(sa.func.max(usage_events.c.seq))).scalar()
        mark = conn.execute(sa.select(usage_marks.c.seq)).scalar()
    reader = SqlUsageReader(engine, files)
    window = (to_micros(utc(2026, 6, 1)), to_micros(utc(2026, 9, 1)))
    cutoff = max(top or 0, mark or 0)
    return list(reader.events([customer], "api.request", *window, upto_seq=cutoff, after_seq=0))


class Archive:
    """A SQLite database with usage from June to November 2026, its archive folder, and the
    keeping of its usage at NOW (2026-11-15) with archiving after 3 months (June, July)."""

    def __init__(self, url: str, folder: Path) -> None:
        self.url = url
        self.engine = create_db_engine(url, pool_size=2)
        self.files = ParquetMonths(folder)
        self.failpoints = Failpoints()
        storage = SqliteUsageStorage(self.engine, self.files, failpoints=self.failpoints)
        self.storage = storage
        self.keeping = UsageStorageKeeping(storage, FrozenClock(NOW), StoragePolicy(None, 3))

    def fill(self) -> None:
        """Events of November first, then July and August; July's tenants t-0 and t-1 are
        attached to ``acme`` (an attach mark); then June's, late (after their period) and
        numbered above every other event and the mark."""
        writer = Writer(self.url)
        try:
            writer.ingest([event(f"nov-{n}", time=utc(2026, 11, 10, n)) for n in range(3)])
            july = [
                event(
                    f"jul-{n}",
                    subject=f"t-{n % 4}",
                    time=utc(2026, 7, 1 + n % 31, n % 24, 30),
                    data={"n": n, "tokens": "1.50", "deep": {"k": [1, None, True]}},
                )
                for n in range(400)
            ]
            assert writer.ingest(july).accepted == 400
            august = [event("aug-1", time=utc(2026, 8, 1)), event("aug-2", subject="t-1")]
            august[1]["time"] = "2026-08-02T00:00:00Z"
            assert writer.ingest(august).accepted == 2
            with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
                assert SqlUsageMaintenance(conn).attach_unmapped(["t-0", "t-1"], "acme") == 201
            jun = event("jun-30", time=utc(2026, 6, 30, 23, 59, 59), subject="t-0")
            assert writer.ingest([jun]).accepted == 1
        finally:
            writer.close()

    def settle(self) -> None:
        """Billing has rated acme again since the attach."""
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            conn.execute(sa.text("DELETE FROM usage_rechecks"))

    def close(self) -> None:
        self.engine.dispose()


@pytest.fixture
def archive(sqlite_url: str, tmp_path: Path) -> Iterator[Archive]:
    made = Archive(sqlite_url, tmp_path / "archive")
    made.fill()
    yield made
    made.close()


def test_archiving_moves_exactly_the_settled_months_with_every_value(archive: Archive) -> None:
    engine, files = archive.engine, archive.files
    june_july = rows_of(engine, JUNE, JULY)
    kept = rows_of(engine, AUGUST, NOVEMBER)
    assert len(june_july) == 401 and len(kept) == 5
    before = lineage(engine, files, "acme")
    assert len(before) == 201

    held = archive.keeping.run()  # acme's usage changed (the attach): billing may read it again
    assert (held.archived, held.created) == ([], [])
    assert held.held == {JUNE: "the usage of customer acme is to be rated again"}
    assert rows_of(engine) == june_july | kept and not files.folder.exists()

    archive.settle()
    done = archive.keeping.run()
    assert done.archived == [JUNE, JULY] and done.held == {}
    assert done.summary() == "months made none (0 events moved), archived 2026_06, 2026_07"
    # the rows left the table and are in their month's file, every column as it was stored
    assert rows_of(engine) == kept
    for month in (JUNE, JULY):
        written = in_file(files, month)
        assert len(written) == len(set(written))
        assert set(written) == {r for r in june_july if Month.of_micros(r[6]) == month}
    assert sorted(p.name for p in files.folder.iterdir()) == [
        "usage-2026-06.parquet",
        "usage-2026-07.parquet",
    ]
    assert claims(engine) == claims_of(june_july)
    months = archive.storage.months()
    assert (months.live, months.archived) == ({AUGUST, NOVEMBER}, {JUNE, JULY})
    # lineage lists the same events, read from the files
    assert lineage(engine, files, "acme") == before
    # nothing more to do; and the next event is numbered above every archived one
    assert archive.keeping.run().archived == []
    writer = Writer(archive.url)
    try:
        assert writer.ingest([event("after", time=utc(2026, 11, 14))]).accepted == 1
    finally:
        writer.close()
    [after] = [r for r in rows_of(engine) if r[3] == "after"]
    assert after[0] > max(r[0] for r in june_july)


def test_a_crash_before_the_commit_is_redone_by_the_next_run(archive: Archive) -> None:
    engine, files = archive.engine, archive.files
    archive.settle()
    everything = rows_of(engine)
    june, july = rows_of(engine, JUNE), rows_of(engine, JULY)
    before = lineage(engine, files, "acme")
    # June is archived; July's file is in place when its transaction fails
    archive.failpoints.arm("usage_archive.before_commit", skip=1, times=1)
    with pytest.raises(FailpointError):
        archive.keeping.run()
    assert files.path(JULY).is_file() and set(in_file(files, JULY)) == july
    assert rows_of(engine, JULY) == july  # nothing left the table
    assert archive.storage.months().archived == {JUNE}
    assert claims(engine) == claims_of(june)
    assert lineage(engine, files, "acme") == before  # each event once

    done = archive.keeping.run()
    assert done.archived == [JULY]
    written = in_file(files, JULY)
    assert sorted(written) == sorted(july)  # no row twice, none lost
    assert claims(engine) == claims_of(everything - rows_of(engine))
    assert rows_of(engine) | set(written) | set(in_file(files, JUNE)) == everything
    assert lineage(engine, files, "acme") == before


def test_a_crash_before_the_file_is_renamed_leaves_no_file_under_its_name(
    archive: Archive,
) -> None:
    engine, files = archive.engine, archive.files
    archive.settle()
    june_july = rows_of(engine, JUNE, JULY)
    archive.failpoints.arm("usage_archive.before_publish", times=1)
    with pytest.raises(FailpointError):
        archive.keeping.run()
    assert not files.path(JUNE).exists()
    assert rows_of(engine, JUNE, JULY) == june_july and claims(engine) == set()
    assert archive.keeping.run().archived == [JUNE, JULY]
    assert set(in_file(files, JUNE)) | set(in_file(files, JULY)) == june_july
    assert [p.name for p in files.folder.iterdir() if p.suffix == ".tmp"] == []


class VoidingWhileStaged(ParquetMonths):
    """The archive folder, with a correction voiding ``key`` from another connection right
    after July's file is first written (before the archive's transaction)."""

    def __init__(self, folder: Path, engine: sa.Engine, key: tuple[str, str]) -> None:
        super().__init__(folder)
        self._engine, self._key, self.staged = engine, key, 0

    def stage(self, month: Month, batches: Any) -> int:
        written = super().stage(month, batches)
        self.staged += 1
        if month == JULY and self.staged == 2:  # June first, then July
            with self._engine.connect().execution_options(**WRITE) as conn, conn.begin():
                outcome = SqlUsageMaintenance(conn).void_events([self._key], "corr-1", NOW)
                assert outcome.voided == (self._key,)
        return written


def test_a_month_changed_while_its_file_is_written_is_read_again(archive: Archive) -> None:
    engine = archive.engine
    archive.settle()
    july = rows_of(engine, JULY)
    files = VoidingWhileStaged(archive.files.folder, engine, ("app://test", "jul-5"))
    storage = SqliteUsageStorage(engine, files)
    assert UsageStorageKeeping(
        storage, FrozenClock(NOW), StoragePolicy(None, 3)
    ).run().archived == [
        JUNE,
        JULY,
    ]
    assert files.staged == 3  # July twice
    assert sorted(in_file(files, JULY)) == sorted(r for r in july if r[3] != "jul-5")
    assert rows_of(engine, JULY) == set()


def test_a_month_archived_again_keeps_its_earlier_events_in_its_file(archive: Archive) -> None:
    """Archiving switched off and on again: an event stored meanwhile in an archived month is
    archived with the others, into the same file."""
    engine, files = archive.engine, archive.files
    archive.settle()
    july = rows_of(engine, JULY)
    archive.keeping.run()
    writer = Writer(archive.url)
    try:
        assert writer.ingest([event("jul-late", time=utc(2026, 7, 31, 23))]).accepted == 1
    finally:
        writer.close()
    late = rows_of(engine, JULY)
    assert archive.storage.months().live >= {JULY}
    assert archive.keeping.run().archived == [JULY]
    assert sorted(in_file(files, JULY)) == sorted(july | late)
    assert rows_of(engine, JULY) == set()
    assert claims_of(july | late) <= claims(engine)


def test_lineage_of_an_archived_month_whose_file_is_gone_says_so(archive: Archive) -> None:
    archive.settle()
    archive.keeping.run()
    archive.files.path(JULY).unlink()
    with pytest.raises(ArchiveUnavailable, match=r"usage-2026-07\.parquet.*missing"):
        lineage(archive.engine, archive.files, "acme")


def test_a_downgrade_never_drops_the_claims_of_archived_usage(archive: Archive) -> None:
    archive.settle()
    archive.keeping.run()
    config = alembic_config(archive.url)
    with archive.engine.begin() as conn:
        config.attributes["connection"] = conn
        with pytest.raises(RuntimeError, match="archived_slots holds the dedup claims"):
            command.downgrade(config, "0029")
    assert len(claims(archive.engine)) == 401


# --- configuration and wiring -------------------------------------------------------------


def test_archiving_is_wired_on_sqlite_only_when_asked(sqlite_url: str, tmp_path: Path) -> None:
    plain = build(make_settings(sqlite_url), clock=FrozenClock(NOW))
    try:
        assert plain.usage_storage is None
        assert "usage_storage" not in [j.name for j in worker_jobs(plain)]
    finally:
        plain.close()
    settings = make_settings(sqlite_url, usage_storage={"archive_after_months": 3})
    assert settings.usage_archive_dir() == tmp_path / "usage-archive"  # beside the database
    container = build(settings, clock=FrozenClock(NOW))
    try:
        assert container.usage_storage is not None
        [job] = [j for j in worker_jobs(container) if j.name == "usage_storage"]
        assert asyncio.run(job.work()) == "months made none (0 events moved), archived none"
    finally:
        container.close()


def test_a_relative_archive_folder_is_beside_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "etc" / "revsync.yaml"
    config.parent.mkdir()
    config.write_text(
        "database:\n  url: sqlite:///data/revsync.db\n"
        "usage_storage:\n  archive_after_months: 12\n  archive_dir: cold/usage\n"
    )
    settings = load_settings(config)
    assert settings.usage_archive_dir() == tmp_path / "etc" / "cold" / "usage"
    config.write_text("database:\n  url: sqlite:///data/revsync.db\n")
    assert load_settings(config).usage_archive_dir() == tmp_path / "etc" / "data" / "usage-archive"


def test_archiving_on_sqlite_without_pyarrow_is_refused_at_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "revsync.yaml"
    config.write_text("usage_storage:\n  archive_after_months: 12\n")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # not importable, as when not installed
    with pytest.raises(ConfigError, match=r"archive_after_months.*revsync\[archive\]"):
        load_settings(config)
    # on PostgreSQL the setting needs no pyarrow; off, nothing needs it
    Settings(database={"url": "postgresql://h/db"}, usage_storage={"archive_after_months": 12})
    Settings(database={"url": f"sqlite:///{tmp_path}/x.db"})


def test_an_archive_folder_that_is_a_file_or_missing_in_memory_is_refused(tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.write_text("")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        Settings(usage_storage={"archive_dir": str(taken)})
    with pytest.raises(ValueError, match=r"usage_storage\.archive_dir: needed"):
        Settings(database={"url": "sqlite://"}, usage_storage={"archive_after_months": 12})


# --- lineage and the closed month, end to end -----------------------------------------------


@pytest.fixture
def world(sqlite_url: str) -> Iterator[World]:
    with july_billed(sqlite_url) as w:
        yield w


def archive_july(w: World) -> None:
    keeper = w.container.usage_storage
    assert keeper is not None
    w.at("2026-11-15T12:00:00Z")
    w.bill("2026-11-15")  # July, August, September, October final
    assert keeper.run().archived == [JULY]


def test_a_retry_of_an_archived_event_is_a_duplicate_not_stored_again(
    world: World, sqlite_url: str
) -> None:
    """The ledger reads ``archived_slots`` as claims: a retry of an archived event is a
    duplicate and another payload under its key a conflict, whether or not the month is
    closed to new events."""
    w = world
    archive_july(w)
    retry = event("ev-7", time=moment("2026-07-15T10:00:00Z"), **SCENARIO)
    changed = event("ev-8", time=moment("2026-07-15T10:00:00Z"), data={"x": 1}, **SCENARIO)
    report = w.container.ingestion.ingest(
        decode_items([encode(retry), encode(changed)]), IngestContext("api", ACTOR)
    )
    assert (report.accepted, report.duplicates) == (0, 1)
    [conflict] = report.rejected
    assert (conflict.event_id, conflict.code) == ("ev-8", "conflict")
    # also where ingestion does not close the month (its rows are written before any read)
    writer = Writer(sqlite_url)
    try:
        again = writer.ingest([retry, retry | {"id": "ev-9"}])
    finally:
        writer.close()
    assert (again.accepted, again.duplicates, again.rejected) == (0, 2, [])
    assert rows_of(w.container.engine) == set()
