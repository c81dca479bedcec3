"""Run the API with uvicorn."""

from __future__ import annotations

import gc

import structlog
import typer
import uvicorn

from revsync.adapters.db.migrate import current_revision, head_revision
from revsync.bootstrap import build
from revsync.config import Settings
from revsync.entrypoints.api.app import create_app
from revsync.observability.logging import configure_logging

log = structlog.get_logger("revsync.serve")


def tune_gc() -> None:
    """Collect cycles less often: ingestion allocates many short-lived objects per batch, and
    the default thresholds spent about half of the decoding time in the collector."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


def run(settings: Settings, *, host: str | None, port: int | None) -> None:
    """Serve until interrupted; refuse to start on a database that is not migrated."""
    configure_logging(settings.logging.level, settings.logging.format)
    tune_gc()
    container = build(settings)
    try:
        revision, head = current_revision(container.engine), head_revision()
        if revision != head:
            typer.echo(
                f"database is at revision {revision or 'none'}, revsync needs {head}: "
                "run 'revsync db upgrade' first",
                err=True,
            )
            raise typer.Exit(2)
        bind_host = host or settings.server.host
        bind_port = port or settings.server.port
        log.info("serving", host=bind_host, port=bind_port, database=container.engine.dialect.name)
        uvicorn.run(
            create_app(container),
            host=bind_host,
            port=bind_port,
            log_config=None,
            access_log=False,
            loop="uvloop",
            http="httptools",
            timeout_graceful_shutdown=10,
        )
    finally:
        container.close()
