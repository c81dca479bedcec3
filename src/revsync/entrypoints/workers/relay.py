"""The delivery worker: runs the outbox relay until SIGTERM or SIGINT, then finishes the
attempts under way and records them."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from datetime import timedelta

import structlog

from revsync.adapters.schedules import Schedule
from revsync.bootstrap import Container, build, destination_names
from revsync.config import Settings
from revsync.entrypoints.runtime import check_schema, tune_gc
from revsync.entrypoints.workers.jobs import Job
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
    """Run a relay for the configured destinations until ``stop`` is set, and offer to run the
    jobs (with an ERP, the payment sync every ``erp.sync_interval_seconds``; with a CRM, the
    CRM sync every ``crm.sync_interval_seconds``; with a support tool, the support sync every
    ``support.sync_interval_seconds``; with ``billing.schedule``, billing; with
    ``retention.schedule``, the prune): of all the processes doing so, the one holding a job's
    lease runs it."""
    relay = container.relay(owner)
    runner = container.job_runner(owner)
    jobs = worker_jobs(container, stop)
    log.info(
        "worker.started",
        destinations=destination_names(container.settings),
        jobs={job.name: job.schedule.describe() for job in jobs},
    )
    kept = [asyncio.create_task(runner.keep(job, stop)) for job in jobs]
    source = container.usage_source()
    if source is not None:  # usage in from NATS JetStream, beside the deliveries
        kept.append(asyncio.create_task(source.run(stop)))
    try:
        await relay.run(stop)
    finally:
        await relay.aclose()
        for task in kept:
            await task
        log.info(
            "worker.stopped",
            delivered=relay.delivered,
            jobs_run=runner.ran,
            usage_messages=source.messages if source is not None else 0,
        )


def worker_jobs(container: Container, stop: asyncio.Event | None = None) -> list[Job]:
    """The jobs the configuration asks for (``stop`` ends the long-running ones early)."""
    settings = container.settings
    jobs = []
    if settings.thresholds.poll_seconds > 0:
        # one process watches at a time, in turns of a minute (one job run each), each due as
        # soon as the one before ended: a worker stopped mid-turn is taken over at once
        watch = lambda: _watch(container, stop or asyncio.Event())  # noqa: E731
        every = timedelta(seconds=settings.thresholds.poll_seconds)
        jobs.append(Job("thresholds", Schedule(every=every), watch))
    if settings.erp.url is not None:
        every = timedelta(seconds=settings.erp.sync_interval_seconds)
        jobs.append(Job("erp_sync", Schedule(every=every), lambda: _sync_payments(container)))
    if settings.crm.url is not None:
        every = timedelta(seconds=settings.crm.sync_interval_seconds)
        jobs.append(Job("crm_sync", Schedule(every=every), lambda: _sync_crm(container)))
    if settings.support.url is not None:
        every = timedelta(seconds=settings.support.sync_interval_seconds)
        jobs.append(Job("support_sync", Schedule(every=every), lambda: _sync_support(container)))
    if settings.renewals.horizons_days or settings.renewals.milestones:
        every = timedelta(seconds=settings.renewals.interval_seconds)
        jobs.append(Job("renewals", Schedule(every=every), lambda: _renewals(container)))
    if settings.billing.schedule is not None:
        jobs.append(
            Job("billing", Schedule(cron=settings.billing.schedule), lambda: _bill(container))
        )
    if settings.reconciliation.schedule is not None:
        schedule = Schedule(cron=settings.reconciliation.schedule)
        jobs.append(Job("reconciliation", schedule, lambda: _reconcile(container)))
    if settings.kpis.schedule is not None:
        jobs.append(Job("kpis", Schedule(cron=settings.kpis.schedule), lambda: _measure(container)))
    if container.usage_storage is not None and settings.usage_storage.schedule is not None:
        schedule = Schedule(cron=settings.usage_storage.schedule)
        jobs.append(Job("usage_storage", schedule, lambda: _keep_usage(container)))
    if settings.retention.schedule is not None:
        prune = lambda: _prune(container, stop or asyncio.Event())  # noqa: E731
        jobs.append(Job("retention", Schedule(cron=settings.retention.schedule), prune))
    return jobs


#: how long one turn of the threshold watcher lasts (its lease is renewed meanwhile)
WATCH_TURN = timedelta(seconds=60)


async def _watch(container: Container, stop: asyncio.Event) -> str:
    """Look for thresholds reached every ``thresholds.poll_seconds`` for one turn."""
    loop = asyncio.get_running_loop()
    ends = loop.time() + WATCH_TURN.total_seconds()
    sweeps = crossings = interim = 0
    while not stop.is_set() and loop.time() < ends:
        try:
            sweep = await asyncio.to_thread(container.thresholds.sweep)
        except Exception:  # the database failed, say: look again at the next poll
            log.exception("thresholds.sweep_failed")
        else:
            sweeps += 1
            crossings += len(sweep.crossings)
            interim += len(sweep.interim_invoices)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), container.settings.thresholds.poll_seconds)
    return f"{sweeps} looks, {crossings} thresholds reached, {interim} interim invoices"


async def _measure(container: Container) -> str:
    """The KPI measurement: the event-lag histogram brought up to date, unbilled usage."""
    measured = await asyncio.to_thread(container.kpis.measure)
    events = sum(measured.unbilled_events.values())
    amounts = ", ".join(f"{a} {c}" for c, a in sorted(measured.unbilled_amount.items()))
    return f"{events} unbilled events ({amounts or 'nothing to bill'})"


async def _prune(container: Container, stop: asyncio.Event) -> str:
    """Retention: what is past its age pruned, a batch per transaction (a worker that stops
    ends it between two batches; the next run goes on)."""
    report = await asyncio.to_thread(container.retention.prune, stop=stop.is_set)
    pruned = report.pruned
    log.info(
        "retention.pruned",
        messages=pruned.messages,
        attempts=pruned.attempts,
        dead_letters=pruned.dead_letters,
        idempotency_keys=pruned.idempotency_keys,
        batches=report.batches,
        stopped=report.stopped,
    )
    return (
        f"{pruned.messages} messages ({pruned.attempts} attempts), {pruned.dead_letters} dead "
        f"letters, {pruned.idempotency_keys} idempotency keys pruned in {report.batches} "
        f"batches{' (stopped)' if report.stopped else ''}"
    )


async def _keep_usage(container: Container) -> str:
    """The months' tables of usage made ahead (PostgreSQL), old months archived (PostgreSQL:
    to the archive schema; SQLite: to Parquet files)."""
    keeping = container.usage_storage
    assert keeping is not None  # the job exists only then
    report = await asyncio.to_thread(keeping.run)
    return report.summary()


async def _reconcile(container: Container) -> str:
    """The scheduled reconciliation: the default checks over the configured days."""
    days = container.settings.reconciliation.days
    since = container.clock.now().date() - timedelta(days=days)
    run = await container.reconcile(None, since, "scheduler")
    return f"run {run.id}: {len(run.findings)} discrepancies, {len(run.closed)} cases closed"


async def _bill(container: Container) -> str:
    """The scheduled billing run: every period due today (UTC)."""
    report = await asyncio.to_thread(container.billing.run, None, "scheduler")
    return f"run {report.id}: {len(report.finalized)} invoices finalized"


async def _sync_crm(container: Container) -> str:
    """One CRM sync: pull accounts and contracts, then queue the signals that changed."""
    client = container.crm()
    try:
        pulled = await container.pull_crm_with(client)
        pushed = await asyncio.to_thread(container.crm_signals().run)
    finally:
        await client.aclose()
    deals = pulled.deals
    won = f"; {len(deals.taken)} deals taken, {len(deals.refused)} refused" if deals else ""
    return (
        f"{pulled.accounts} accounts, {pulled.contracts} contracts, {len(pulled.refused)} "
        f"refused{won}; {len(pushed.accounts)} signals, {len(pushed.tasks)} tasks, "
        f"{len(pushed.opportunities)} opportunities"
    )


async def _sync_support(container: Container) -> str:
    """One support sync: organizations mapped, tickets read, contexts queued."""
    report = await container.sync_support()
    return (
        f"{len(report.organizations_mapped)} organizations mapped, {report.tickets_read} "
        f"tickets read ({report.tickets_unmapped} unmapped), {len(report.contexts_queued)} "
        f"contexts queued"
    )


async def _renewals(container: Container) -> str:
    """Renewals that reached a horizon, and onboarding milestones reached or missed: each
    assessed and announced once."""
    report = await asyncio.to_thread(container.renewals().run)
    milestones = await asyncio.to_thread(container.onboarding().run)
    verdicts = [a.verdict.value for a in report.announced]
    counted = ", ".join(f"{verdicts.count(v)} {v}" for v in sorted(set(verdicts)))
    return (
        f"{len(verdicts)} renewals assessed ({counted or 'none due'}), "
        f"{len(milestones)} onboarding milestones decided"
    )


async def _sync_payments(container: Container) -> str:
    """One pull of payment states from the ERP."""
    client = container.erp()
    try:
        report = await container.erp_sync().run(client)
    finally:
        await client.aclose()
    return (
        f"{report.checked} checked, {len(report.paid)} paid, {len(report.overdue)} overdue, "
        f"{report.deferrals} deferrals"
    )
