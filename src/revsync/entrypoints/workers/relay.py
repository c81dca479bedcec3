"""The delivery worker: runs the outbox relay until SIGTERM or SIGINT, then finishes the
attempts under way and records them."""

from __future__ import annotations

import asyncio
import signal

import structlog

from revsync.bootstrap import Container, build
from revsync.config import Settings
from revsync.entrypoints.runtime import check_schema, tune_gc
from revsync.observability.logging import configure_logging

log = structlog.get_logger("revsync.worker")


def run_worker(settings: Settings, owner: str | None = None) -> None:
    """Deliver the outbox until stopped (``revsync worker``)."""
    configure_logging(settings.logging.level, settings.logging.format)
    check_schema(settings)
    tune_gc()
    container = build(settings)
    try:
        asyncio.run(_deliver_until_signalled(container, owner))
    finally:
        container.close()


async def _deliver_until_signalled(container: Container, owner: str | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await deliver(container, stop, owner)


async def deliver(container: Container, stop: asyncio.Event, owner: str | None = None) -> None:
    """Run a relay for the configured destinations until ``stop`` is set."""
    relay = container.relay(owner)
    names = [d.name for d in container.settings.outbox.destinations]
    log.info("worker.started", destinations=names)
    try:
        await relay.run(stop)
    finally:
        await relay.aclose()
        log.info("worker.stopped", delivered=relay.delivered)
