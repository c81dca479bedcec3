"""Jobs run once: several runners (as several worker processes would) offer to run the same
job; each turn is taken by exactly one of them, runs never overlap, a failed run is recorded,
a run whose process died is taken over once its lease runs out, and a cron job waits for its
time. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from revsync.adapters.schedules import Schedule
from revsync.bootstrap import Container, build
from revsync.entrypoints.workers.jobs import Job, JobRunner
from tests.conftest import make_settings


@pytest.fixture
def container(any_db_url: str) -> Iterator[Container]:
    built = build(make_settings(any_db_url))
    yield built
    built.close()


def runner(container: Container, owner: str, lease: float = 5.0) -> JobRunner:
    return JobRunner(
        container.unit_of_work,
        container.clock,
        owner,
        lease=timedelta(seconds=lease),
        poll=0.05,
    )


def keep_for(seconds: float, runners: list[JobRunner], job: Job) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(r.keep(job, stop)) for r in runners]
        await asyncio.sleep(seconds)
        stop.set()
        await asyncio.gather(*tasks)

    asyncio.run(main())


def test_three_runners_take_each_turn_once_and_never_overlap(container: Container) -> None:
    spans: list[tuple[float, float]] = []

    async def work() -> str:
        began = time.monotonic()
        await asyncio.sleep(0.1)
        spans.append((began, time.monotonic()))
        return "done"

    every = 0.5
    job = Job("sync", Schedule(every=timedelta(seconds=every)), work)
    runners = [runner(container, f"worker-{n}") for n in range(3)]
    keep_for(3.2, runners, job)
    # one run per interval across the three: 3.2 s holds 6 or 7 turns (the first at once)
    assert 6 <= len(spans) <= 7, spans
    ordered = sorted(spans)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in pairwise(ordered))
    runs = container.jobs.runs("sync", limit=50)
    assert len(runs) == len(spans)
    # one turn per interval, as the runs record their starts (the work itself may begin a
    # little after its claim on a loaded machine, so its own start is not the measure)
    starts = sorted(r.started_at for r in runs)
    gap = timedelta(seconds=every - 0.02)
    assert all(later - earlier >= gap for earlier, later in pairwise(starts)), starts
    assert {r.outcome for r in runs} == {"ok"} and {r.summary for r in runs} == {"done"}
    assert sum(r.ran for r in runners) == len(spans)
    [lease] = container.jobs.leases()
    assert (lease.name, lease.owner) == ("sync", None)  # released after each run


def test_a_failed_run_is_recorded_and_the_job_runs_again_at_its_next_turn(
    container: Container,
) -> None:
    calls = []

    async def work() -> str:
        calls.append(time.monotonic())
        raise RuntimeError("the CRM said no")

    job = Job("crm_sync", Schedule(every=timedelta(seconds=0.4)), work)
    keep_for(1.0, [runner(container, "w")], job)
    runs = container.jobs.runs("crm_sync", limit=10)
    assert len(runs) == len(calls) >= 2
    assert {(r.outcome, r.summary) for r in runs} == {("failed", "RuntimeError: the CRM said no")}


def test_a_run_whose_process_died_is_taken_over_when_its_lease_runs_out(
    container: Container,
) -> None:
    now = container.clock.now()
    with container.unit_of_work() as uow:  # a worker took the turn, then died
        assert uow.jobs.claim("erp_sync", "dead", now, now + timedelta(seconds=1), None)
        uow.commit()
    ran: list[float] = []

    async def work() -> str:
        ran.append(time.monotonic())
        return "ok"

    job = Job("erp_sync", Schedule(every=timedelta(hours=1)), work)
    started = time.monotonic()
    keep_for(2.0, [runner(container, "alive")], job)
    # not before the dead worker's lease ran out, then at once (not an hour later)
    assert len(ran) == 1 and ran[0] - started >= 0.9
    [latest, dead] = container.jobs.runs("erp_sync", limit=10)
    assert (latest.owner, latest.outcome) == ("alive", "ok")
    assert (dead.owner, dead.outcome, dead.finished_at) == ("dead", None, None)


def test_a_cron_job_runs_at_its_time_and_not_before(container: Container) -> None:
    now = container.clock.now()
    with container.unit_of_work() as uow:  # it ran a moment ago: next at the next minute
        run_id = uow.jobs.claim("billing", "w0", now, now + timedelta(seconds=60), None)
        assert run_id is not None
        uow.jobs.release(run_id, "billing", "w0", now, "ok", "")
        uow.commit()
    ran: list[str] = []

    async def work() -> str:
        ran.append("billed")
        return ""

    job = Job("billing", Schedule(cron="0 0 1 1 *"), work)  # next: New Year
    keep_for(0.5, [runner(container, "w1"), runner(container, "w2")], job)
    assert ran == []
    with container.unit_of_work() as uow:  # as if its last run was a year ago
        uow.jobs.release(run_id, "billing", "w0", now, "ok", "")
        lease = uow.jobs.lease("billing")
        assert lease is not None and lease.last_started_at is not None
        taken = uow.jobs.claim(
            "billing", "w0", now - timedelta(days=400), now, lease.last_started_at
        )
        assert taken is not None
        uow.jobs.release(taken, "billing", "w0", now, "ok", "")
        uow.commit()
    keep_for(0.5, [runner(container, "w1"), runner(container, "w2")], job)
    assert ran == ["billed"]  # several New Years missed: one run, not one per year


def test_schedules_say_when_the_next_run_is_due() -> None:
    at = datetime(2026, 12, 3, 10, 7, 30, tzinfo=UTC)
    hourly = Schedule(every=timedelta(hours=1))
    assert hourly.due_at(None, at) == at
    assert hourly.due_at(at, at) == at + timedelta(hours=1)
    nightly = Schedule(cron="15 0 * * *")
    assert nightly.due_at(at, at) == datetime(2026, 12, 4, 0, 15, tzinfo=UTC)
    assert nightly.describe() == "cron 15 0 * * * (UTC)"
    for wrong in ("* * * *", "61 * * * *", "every day"):
        with pytest.raises(ValueError, match="not a cron expression of five fields"):
            Schedule(cron=wrong)
