"""Run the API with uvicorn."""

from __future__ import annotations

from typing import Any

import structlog
import typer
import uvicorn
from fastapi import FastAPI

from revsync.adapters.db.engine import create_db_engine
from revsync.adapters.db.migrate import current_revision, head_revision
from revsync.bootstrap import apply_configuration, build
from revsync.config import Settings, config_path, load_settings
from revsync.entrypoints.api.app import create_app
from revsync.entrypoints.runtime import tune_gc
from revsync.observability.logging import configure_logging

log = structlog.get_logger("revsync.serve")


def run(
    settings: Settings, *, host: str | None, port: int | None, workers: int | None = None
) -> None:
    """Serve until interrupted; refuse to start on a database that is not migrated.

    With several workers, each process builds its own container from the same config file
    (``$REVSYNC_CONFIG``) and environment; writes from all of them meet in the database.
    """
    configure_logging(settings.logging.level, settings.logging.format)
    _check_schema(settings)
    _record_configuration(settings)
    bind_host = host or settings.server.host
    bind_port = port or settings.server.port
    processes = workers or settings.server.workers
    log.info("serving", host=bind_host, port=bind_port, workers=processes)
    options: dict[str, Any] = {
        "host": bind_host,
        "port": bind_port,
        "log_config": None,
        "access_log": False,
        "loop": "uvloop",
        "http": "httptools",
        "timeout_graceful_shutdown": 10,
    }
    if processes > 1:
        uvicorn.run(f"{__name__}:worker_app", factory=True, workers=processes, **options)
        return
    tune_gc()
    container = build(settings)
    try:
        uvicorn.run(create_app(container), **options)
    finally:
        container.close()


def worker_app() -> FastAPI:
    """The app of one worker process (uvicorn calls this in each of them)."""
    settings = load_settings(config_path(None))
    configure_logging(settings.logging.level, settings.logging.format)
    tune_gc()
    container = build(settings)
    app = create_app(container)
    app.router.on_shutdown.append(container.close)
    return app


def _record_configuration(settings: Settings) -> None:
    container = build(settings)
    try:
        apply_configuration(container, "system:serve")
    finally:
        container.close()


def _check_schema(settings: Settings) -> None:
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
