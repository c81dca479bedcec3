"""Process-wide settings for revsync's long-running and batch commands."""

from __future__ import annotations

import gc

import typer

from revsync.adapters.db.engine import create_db_engine
from revsync.adapters.db.migrate import current_revision, head_revision
from revsync.config import Settings


def tune_gc() -> None:
    """Collect cycles less often. Ingestion and billing allocate many short-lived objects;
    with the default thresholds the collector took about half of the decoding time of a
    batch and a seventh of a billing run (docs/benchmarks.md)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


def check_schema(settings: Settings) -> None:
    """Exit with status 2 unless the database is at the newest revision."""
    engine = create_db_engine(settings.database.url, pool_size=1)
    try:
        revision, head = current_revision(engine), head_revision()
    finally:
        engine.dispose()
    if revision != head:
        typer.echo(
            f"database is at revision {revision or 'none'}, revsync needs {head}: "
            "run 'revsync db upgrade' first",
            err=True,
        )
        raise typer.Exit(2)
