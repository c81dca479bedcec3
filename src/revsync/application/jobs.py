"""What operators read about the jobs the workers run once (ERP sync, CRM sync, scheduled
billing): who holds each, and the latest runs. The runner is
:mod:`revsync.entrypoints.workers.jobs`."""

from __future__ import annotations

from revsync.ports.jobs import JobLease, JobRun
from revsync.ports.repositories import UnitOfWorkFactory


class Jobs:
    """What operators read about jobs: who holds each, and the latest runs."""

    def __init__(self, unit_of_work: UnitOfWorkFactory) -> None:
        self._uow = unit_of_work

    def leases(self) -> list[JobLease]:
        with self._uow(write=False) as uow:
            return uow.jobs.leases()

    def runs(self, name: str | None = None, limit: int = 50) -> list[JobRun]:
        with self._uow(write=False) as uow:
            return uow.jobs.runs(name, limit)
