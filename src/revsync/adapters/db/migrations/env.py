"""Alembic environment: runs migrations on the connection or URL that revsync gives it."""

from __future__ import annotations

from alembic import context

from revsync.adapters.db.engine import create_db_engine
from revsync.adapters.db.tables import compared_metadata, include_name, include_object

config = context.config


def run_migrations() -> None:
    """Migrate the database named by the ``sqlalchemy.url`` option or the given connection."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = create_db_engine(config.get_main_option("sqlalchemy.url") or "", pool_size=1)
    try:
        with engine.connect() as conn:
            _migrate(conn)
            conn.commit()
    finally:
        engine.dispose()


def _migrate(connection: object) -> None:
    dialect = connection.dialect.name  # type: ignore[attr-defined]
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=compared_metadata(dialect),
        render_as_batch=True,
        compare_type=True,
        include_schemas=True,
        include_name=include_name,
        include_object=include_object(dialect),
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
