"""The migrations build exactly the schema the code describes, on both backends, and keep
the answers of the data they find."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from revsync.adapters.db.engine import create_db_engine
from revsync.adapters.db.migrate import alembic_config, current_revision, head_revision, upgrade
from revsync.adapters.db.tables import (
    compared_metadata,
    include_name,
    include_object,
    usage_events,
    usage_marks,
    voided_events,
)
from revsync.adapters.db.usage_ledger import SqlUsageLedger
from revsync.adapters.db.usage_snapshot import SqlUsageSnapshots
from revsync.application.ingestion import IngestContext, Ingestion, IngestPolicy
from revsync.domain.usage import dedup_slot, fingerprint, from_micros, to_micros, utc_day
from revsync.schemas.cloudevents_v1 import Decoded, decode_items
from tests.conftest import NOW
from tests.support.clock import FrozenClock, utc
from tests.support.events import encode, event

CONTEXT = IngestContext("api", "test")


def test_migrated_schema_matches_the_tables(any_db_url: str) -> None:
    engine = create_db_engine(any_db_url, pool_size=1)
    try:
        assert current_revision(engine) == head_revision()
        dialect = engine.dialect.name
        with engine.connect() as conn:
            # PostgreSQL: usage_events partitioned by month, usage_slots, the archive schema
            options = {
                "include_schemas": True,
                "include_name": include_name,
                "include_object": include_object(dialect),
            }
            context = MigrationContext.configure(conn, opts=options)
            differences = compare_metadata(context, compared_metadata(dialect))
    finally:
        engine.dispose()
    assert differences == []


def test_seed_rows_exist(any_db_url: str) -> None:
    engine = create_db_engine(any_db_url, pool_size=1)
    try:
        with engine.connect() as conn:
            series = dict(conn.execute(sa.text("SELECT name, next FROM number_series")).all())
            version = conn.execute(sa.text("SELECT version FROM identity_state")).scalar_one()
    finally:
        engine.dispose()
    assert series == {"INV": 1, "CN": 1}
    assert version == 0


def test_0025_keeps_the_answers_of_stored_usage_and_numbers_new_events_above_voided_ones(
    any_db_url: str,
) -> None:
    # a database before 0025 whose newest event was voided (moved out, its seq free again on
    # SQLite); after the migration every event keeps its answer and a new one is numbered above
    engine = create_db_engine(any_db_url, pool_size=2)
    config = alembic_config(any_db_url)
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0024")
        with engine.begin() as conn:
            for n in (1, 2, 3):
                conn.execute(
                    sa.text(
                        "INSERT INTO usage_events (dedup_slot, source, event_id, type, subject,"
                        " time_us, day, customer_id, data, fingerprint, received_us, late)"
                        " VALUES (:n, 'app://x', :id, 'api.request', 't-acme', 0, 0, 'acme',"
                        " '{}', :fp, 0, false)"
                    ),
                    {"n": n, "id": f"e-{n}", "fp": bytes(16)},
                )
            newest = conn.execute(sa.text("SELECT max(seq) FROM usage_events")).scalar_one()
            conn.execute(
                sa.text(
                    "INSERT INTO voided_events SELECT seq, dedup_slot, source, event_id, type,"
                    " subject, time_us, customer_id, data, fingerprint, received_us, 'corr_1',"
                    " :at FROM usage_events WHERE seq = :seq"
                ),
                {"seq": newest, "at": NOW},
            )
            conn.execute(sa.text("DELETE FROM usage_events WHERE seq = :seq"), {"seq": newest})
        upgrade(engine)
        with engine.connect() as conn:
            marks = conn.execute(sa.select(usage_marks.c.id, usage_marks.c.seq)).all()
            attached = conn.execute(sa.select(usage_events.c.attached_seq)).scalars().all()
            voided = conn.execute(
                sa.select(voided_events.c.attached_seq, voided_events.c.voided_seq)
            ).all()
        assert marks == [(1, newest)]
        assert attached == [None, None]  # counted from their seq on, as before
        assert voided == [(None, None)]  # no mark kept before 0025: behind no line, as before
        with SqlUsageSnapshots(engine).snapshot() as snapshot:
            assert snapshot.cutoff_seq == newest
        ledger = SqlUsageLedger(engine)
        try:
            report = Ingestion(ledger, FrozenClock(NOW), [], IngestPolicy()).ingest(
                decode_items([encode(event("after"))]), IngestContext("api", "test")
            )
        finally:
            ledger.close()
        assert report.accepted == 1
        with engine.connect() as conn:
            seq = conn.execute(
                sa.select(usage_events.c.seq).where(usage_events.c.event_id == "after")
            ).scalar_one()
        assert seq > newest
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_0027_partitions_stored_usage_by_month_and_keeps_every_claim(pg_url: str) -> None:
    # a PostgreSQL database before 0027 with events of two months and a voided one: after the
    # migration each event is in its month's table, every slot is claimed in usage_slots, the
    # sequence goes on above them, and the events and the voided one are duplicates when sent
    # again
    engine = create_db_engine(pg_url, pool_size=2)
    config = alembic_config(pg_url)
    nov, dec = to_micros(utc(2026, 11, 30, 23, 59, 59)), to_micros(utc(2026, 12, 1))
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0026")
        sent = [event(f"e-{n}", time=from_micros(t)) for n, t in enumerate((nov, dec, dec))]
        with engine.begin() as conn:
            for item in decode_items([encode(e) for e in sent]):
                assert isinstance(item, Decoded)
                e, time_us = item.event, to_micros(item.event.time)
                conn.execute(
                    sa.text(
                        "INSERT INTO usage_events (dedup_slot, source, event_id, type, subject,"
                        " time_us, day, customer_id, data, fingerprint, received_us, late)"
                        " VALUES (:slot, :source, :id, :type, :subject, :time_us, :day, NULL,"
                        " :data, :fp, 0, false)"
                    ),
                    {
                        "slot": dedup_slot(e.source, e.id),
                        "source": e.source,
                        "id": e.id,
                        "type": e.type,
                        "subject": e.subject,
                        "time_us": time_us,
                        "day": utc_day(time_us),
                        "data": e.data_json,
                        "fp": fingerprint(e, time_us),
                    },
                )
            conn.execute(
                sa.text(
                    "INSERT INTO voided_events SELECT seq, dedup_slot, source, event_id, type,"
                    " subject, time_us, customer_id, data, fingerprint, received_us, 'corr_1',"
                    " :at FROM usage_events WHERE event_id = 'e-2'"
                ),
                {"at": NOW},
            )
            conn.execute(sa.text("DELETE FROM usage_events WHERE event_id = 'e-2'"))
            top = conn.execute(sa.text("SELECT last_value FROM usage_events_seq_seq")).scalar()
        upgrade(engine)
        with engine.connect() as conn:
            where = conn.execute(
                sa.text("SELECT event_id, tableoid::regclass::text FROM usage_events")
            ).all()
            claimed = conn.execute(sa.text("SELECT count(*) FROM usage_slots")).scalar()
        assert sorted(where) == [("e-0", "usage_events_2026_11"), ("e-1", "usage_events_2026_12")]
        assert claimed == 3
        ledger = SqlUsageLedger(engine)
        try:
            again = Ingestion(ledger, FrozenClock(utc(2026, 12, 1, 12)), [], IngestPolicy())
            report = again.ingest(
                decode_items([encode(e) for e in [*sent, event("new", time=from_micros(dec))]]),
                CONTEXT,
            )
        finally:
            ledger.close()
        assert (report.accepted, report.duplicates) == (1, 3)
        with engine.connect() as conn:
            seq, table = conn.execute(
                sa.text(
                    "SELECT seq, tableoid::regclass::text FROM usage_events WHERE event_id = 'new'"
                )
            ).one()
        assert seq > top
        assert table == "usage_events_2026_12"
    finally:
        engine.dispose()
