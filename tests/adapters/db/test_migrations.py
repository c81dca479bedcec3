"""The migrations build exactly the schema the code describes, on both backends, and keep
the answers of the data they find."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from revsync.adapters.db.engine import create_db_engine
from revsync.adapters.db.migrate import alembic_config, current_revision, head_revision, upgrade
from revsync.adapters.db.tables import metadata, usage_events, usage_marks, voided_events
from revsync.adapters.db.usage_ledger import SqlUsageLedger
from revsync.adapters.db.usage_snapshot import SqlUsageSnapshots
from revsync.application.ingestion import IngestContext, Ingestion, IngestPolicy
from revsync.schemas.cloudevents_v1 import decode_items
from tests.conftest import NOW
from tests.support.clock import FrozenClock
from tests.support.events import encode, event


def test_migrated_schema_matches_the_tables(any_db_url: str) -> None:
    engine = create_db_engine(any_db_url, pool_size=1)
    try:
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
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
