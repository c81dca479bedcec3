"""The migrations build exactly the schema the code describes, on both backends."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from revsync.adapters.db.engine import create_db_engine
from revsync.adapters.db.migrate import current_revision, head_revision
from revsync.adapters.db.tables import metadata


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
