"""Run the API with uvicorn."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog
import uvicorn
from fastapi import FastAPI

from revsync.bootstrap import Container, apply_configuration, build
from revsync.config import Settings, config_path, load_settings
from revsync.entrypoints.api.app import create_app
from revsync.entrypoints.runtime import check_schema, tune_gc
from revsync.entrypoints.workers.relay import deliver
from revsync.observability.logging import configure_logging
from revsync.observability.metrics import MULTIPROCESS_ENV

log = structlog.get_logger("revsync.serve")

#: tells the processes of ``serve --workers N --with-worker`` to run a relay each
WITH_WORKER_ENV = "REVSYNC_WITH_WORKER"


def run(
    settings: Settings,
    *,
    host: str | None,
    port: int | None,
    workers: int | None = None,
    with_worker: bool = False,
) -> None:
    """Serve until interrupted; refuse to start on a database that is not migrated.

    With several workers, each process builds its own container from the same config file
    (``$REVSYNC_CONFIG``) and environment; writes from all of them meet in the database.
    """
    configure_logging(settings.logging.level, settings.logging.format)
    check_schema(settings)
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
        if with_worker:
            os.environ[WITH_WORKER_ENV] = "1"
        with _shared_metrics():
            uvicorn.run(f"{__name__}:worker_app", factory=True, workers=processes, **options)
        return
    tune_gc()
    container = build(settings)
    try:
        app = create_app(container)
        if with_worker:
            run_relay_with(app, container)
        uvicorn.run(app, **options)
    finally:
        container.close()


@contextmanager
def _shared_metrics() -> Iterator[None]:
    """Let the server's processes add up their request and ingest counts: a directory of their
    own for ``PROMETHEUS_MULTIPROC_DIR`` (removed afterwards), unless one is already set."""
    if os.environ.get(MULTIPROCESS_ENV):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="revsync-metrics-") as directory:
        os.environ[MULTIPROCESS_ENV] = directory
        try:
            yield
        finally:
            del os.environ[MULTIPROCESS_ENV]


def run_relay_with(app: FastAPI, container: Container) -> None:
    """Run the outbox relay in the server's event loop while the app runs."""
    stop = asyncio.Event()
    running: list[asyncio.Task[None]] = []

    async def start() -> None:
        task = asyncio.create_task(deliver(container, stop))
        task.add_done_callback(_report_relay_end)
        running.append(task)

    async def finish() -> None:
        stop.set()
        await asyncio.gather(*running, return_exceptions=True)

    app.router.on_startup.append(start)
    app.router.on_shutdown.append(finish)


def _report_relay_end(task: asyncio.Task[None]) -> None:
    """A relay that stops before the server does must not go unnoticed."""
    if not task.cancelled() and task.exception() is not None:
        log.error("relay.crashed", error=repr(task.exception()))


def worker_app() -> FastAPI:
    """The app of one worker process (uvicorn calls this in each of them)."""
    settings = load_settings(config_path(None))
    configure_logging(settings.logging.level, settings.logging.format)
    tune_gc()
    container = build(settings)
    app = create_app(container)
    if os.environ.get(WITH_WORKER_ENV):
        run_relay_with(app, container)
    app.router.on_shutdown.append(container.close)
    return app


def _record_configuration(settings: Settings) -> None:
    container = build(settings)
    try:
        apply_configuration(container, "system:serve")
    finally:
        container.close()
