"""The delivery worker: runs the outbox relay until SIGTERM or SIGINT, then finishes the
attempts under way and records them."""

from __future__ import annotations

import asyncio
import contextlib
import signal

import structlog

from revsync.bootstrap import Container, build, destination_names
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
    """Run a relay for the configured destinations until ``stop`` is set; with an ERP, the
    payment sync every ``erp.sync_interval_seconds``; with a CRM, the CRM sync every
    ``crm.sync_interval_seconds``."""
    relay = container.relay(owner)
    log.info("worker.started", destinations=destination_names(container.settings))
    syncing = []
    if container.settings.erp.url is not None:
        syncing.append(asyncio.create_task(_sync_payments(container, stop)))
    if container.settings.crm.url is not None:
        syncing.append(asyncio.create_task(_sync_crm(container, stop)))
    try:
        await relay.run(stop)
    finally:
        await relay.aclose()
        for task in syncing:
            await task
        log.info("worker.stopped", delivered=relay.delivered)


async def _sync_crm(container: Container, stop: asyncio.Event) -> None:
    """The scheduled CRM sync: pull accounts and contracts, then queue the signals that
    changed (a failed pass is logged and tried next time)."""
    interval = container.settings.crm.sync_interval_seconds
    pull, signals = container.crm_pull(), container.crm_signals()
    while not stop.is_set():
        client = container.crm()
        try:
            pulled = await pull.run(client)
            pushed = await asyncio.to_thread(signals.run)
            log.info(
                "crm.synced",
                accounts=pulled.accounts,
                contracts=pulled.contracts,
                refused=len(pulled.refused),
                signals=len(pushed.accounts),
                tasks=len(pushed.tasks),
                opportunities=len(pushed.opportunities),
            )
        except Exception:  # the CRM or the database failed: try again next time
            log.exception("crm.sync_failed")
        finally:
            await client.aclose()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


async def _sync_payments(container: Container, stop: asyncio.Event) -> None:
    """The scheduled pull of payment states (a failed pass is logged and tried next time)."""
    interval = container.settings.erp.sync_interval_seconds
    sync = container.erp_sync()
    while not stop.is_set():
        client = container.erp()
        try:
            report = await sync.run(client)
            log.info(
                "erp.synced",
                checked=report.checked,
                paid=len(report.paid),
                overdue=len(report.overdue),
                deferrals=report.deferrals,
            )
        except Exception:  # the ERP or the database failed: try again next time
            log.exception("erp.sync_failed")
        finally:
            await client.aclose()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
