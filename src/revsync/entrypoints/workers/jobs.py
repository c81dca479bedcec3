"""Jobs that exactly one process runs at a time — the ERP payment sync, the CRM sync, the
scheduled billing run. Every worker offers to run each job when it is due; the one that takes
the job's lease in the database runs it (the others see the turn taken), renews the lease
while it works, and records the run. A process that dies holding a lease lets it run out;
the job is then due at once for the others."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from revsync.adapters.schedules import Schedule
from revsync.observability.tracing import job_span
from revsync.ports.clock import Clock
from revsync.ports.jobs import JobLease
from revsync.ports.repositories import UnitOfWorkFactory

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Job:
    """A job: its name, when it is due, and its work (which returns a one-line summary)."""

    name: str
    schedule: Schedule
    work: Callable[[], Awaitable[str]]


class JobRunner:
    """Runs jobs when they are due and this process holds their lease (see the module
    docstring)."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        clock: Clock,
        owner: str,
        *,
        lease: timedelta = timedelta(seconds=60),
        poll: float = 5.0,
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock
        self._owner = owner
        self._lease = lease
        self._poll = poll
        self.ran = 0  # runs this process made (for logs and tests)

    async def keep(self, job: Job, stop: asyncio.Event) -> None:
        """Offer to run ``job`` each time it is due, until ``stop`` is set."""
        while not stop.is_set():
            try:
                wait = await self._turn(job)
            except Exception:  # the database failed: try again shortly
                log.exception("job.turn_failed", job=job.name)
                wait = self._poll
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.01, wait))

    async def _turn(self, job: Job) -> float:
        """Run the job if it is due and its lease is ours; the seconds to wait before the
        next look."""
        lease = await asyncio.to_thread(self._read, job.name)
        now = self._clock.now()
        seen = lease.last_started_at if lease else None
        until = lease.lease_until if lease and lease.owner is not None else None
        if until is not None and until >= now:  # held: its holder runs it
            return min(self._poll, (until - now).total_seconds() + 0.01)
        abandoned = until is not None  # its holder's lease ran out: the run died with it
        due = now if abandoned else job.schedule.due_at(seen, now)
        if due > now:
            return min(self._poll, (due - now).total_seconds())
        run_id = await asyncio.to_thread(self._claim, job.name, seen)
        if run_id is None:
            return 0.05  # another process took this turn: look again in a moment
        await self._run(job, run_id)
        return 0.0

    async def _run(self, job: Job, run_id: int) -> None:
        log.info("job.started", job=job.name, run=run_id, owner=self._owner)
        renewing = asyncio.create_task(self._renew(job.name))
        outcome, summary = "ok", ""
        try:
            with job_span(job.name):
                summary = await job.work()
        except Exception as error:  # the job failed: recorded, and tried at its next turn
            log.exception("job.failed", job=job.name, run=run_id)
            outcome, summary = "failed", f"{type(error).__name__}: {error}"[:2000]
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            await asyncio.to_thread(self._release, run_id, job.name, outcome, summary)
        self.ran += 1
        log.info("job.finished", job=job.name, run=run_id, outcome=outcome, summary=summary)

    async def _renew(self, name: str) -> None:
        """Keep the lease while the work goes on (a third of the lease at a time)."""
        while True:
            await asyncio.sleep(self._lease.total_seconds() / 3)
            if not await asyncio.to_thread(self._extend, name):
                log.warning("job.lease_lost", job=name, owner=self._owner)
                return

    def _read(self, name: str) -> JobLease | None:
        with self._uow(write=False) as uow:
            return uow.jobs.lease(name)

    def _claim(self, name: str, seen: datetime | None) -> int | None:
        with self._uow() as uow:
            now = self._clock.now()
            run_id = uow.jobs.claim(name, self._owner, now, now + self._lease, seen)
            uow.commit()
            return run_id

    def _extend(self, name: str) -> bool:
        with self._uow() as uow:
            renewed = uow.jobs.renew(name, self._owner, self._clock.now() + self._lease)
            uow.commit()
            return renewed

    def _release(self, run_id: int, name: str, outcome: str, summary: str) -> None:
        with self._uow() as uow:
            uow.jobs.release(run_id, name, self._owner, self._clock.now(), outcome, summary)
            uow.commit()
