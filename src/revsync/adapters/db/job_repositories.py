"""The job leases and runs, in SQL: a lease is taken by one conditional UPDATE (compare and
set on the holder's expiry and the last start), so two processes never take the same turn."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from revsync.adapters.db.tables import job_leases, job_runs
from revsync.ports.jobs import JobLease, JobRun


class SqlJobRepository:
    """:class:`~revsync.ports.jobs.JobRepository` on a connection."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn

    def lease(self, name: str) -> JobLease | None:
        row = self._conn.execute(sa.select(job_leases).where(job_leases.c.name == name)).first()
        return None if row is None else _lease(row)

    def leases(self) -> list[JobLease]:
        rows = self._conn.execute(sa.select(job_leases).order_by(job_leases.c.name))
        return [_lease(row) for row in rows]

    def claim(
        self, name: str, owner: str, now: datetime, until: datetime, seen: datetime | None
    ) -> int | None:
        j = job_leases.c
        dialect = postgresql if self._conn.dialect.name == "postgresql" else sqlite
        self._conn.execute(dialect.insert(job_leases).values(name=name).on_conflict_do_nothing())
        same_turn = j.last_started_at.is_(None) if seen is None else j.last_started_at == seen
        taken = self._conn.execute(
            job_leases.update()
            .where(
                j.name == name,
                sa.or_(j.owner.is_(None), j.lease_until.is_(None), j.lease_until < now),
                same_turn,
            )
            .values(owner=owner, lease_until=until, last_started_at=now)
        ).rowcount
        if taken != 1:
            return None
        run_id = self._conn.execute(
            job_runs.insert()
            .values(name=name, owner=owner, started_at=now)
            .returning(job_runs.c.id)
        ).scalar_one()
        return int(run_id)

    def renew(self, name: str, owner: str, until: datetime) -> bool:
        j = job_leases.c
        renewed = self._conn.execute(
            job_leases.update().where(j.name == name, j.owner == owner).values(lease_until=until)
        ).rowcount
        return bool(renewed == 1)

    def release(
        self, run_id: int, name: str, owner: str, now: datetime, outcome: str, summary: str
    ) -> None:
        j = job_leases.c
        self._conn.execute(
            job_leases.update()
            .where(j.name == name, j.owner == owner)
            .values(owner=None, lease_until=None)
        )
        self._conn.execute(
            job_runs.update()
            .where(job_runs.c.id == run_id)
            .values(finished_at=now, outcome=outcome, summary=summary)
        )

    def runs(self, name: str | None, limit: int) -> list[JobRun]:
        r = job_runs.c
        query = sa.select(job_runs).order_by(r.started_at.desc(), r.id.desc()).limit(limit)
        if name is not None:
            query = query.where(r.name == name)
        return [_run(row) for row in self._conn.execute(query)]


def _lease(row: sa.Row[Any]) -> JobLease:
    return JobLease(row.name, row.owner, row.lease_until, row.last_started_at)


def _run(row: sa.Row[Any]) -> JobRun:
    return JobRun(
        int(row.id),
        row.name,
        row.owner,
        row.started_at,
        row.finished_at,
        row.outcome,
        row.summary,
    )
