"""Port of the jobs that one process runs at a time: their leases and their runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class JobLease:
    """Who holds a job, until when, and when its last run started."""

    name: str
    owner: str | None
    lease_until: datetime | None
    last_started_at: datetime | None


@dataclass(frozen=True, slots=True)
class JobRun:
    """One run of a job."""

    id: int
    name: str
    owner: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None  # ok, failed; None while it runs (or when its process died)
    summary: str | None


class JobRepository(Protocol):
    """The job leases and runs, inside a unit of work."""

    def lease(self, name: str) -> JobLease | None: ...

    def leases(self) -> list[JobLease]: ...

    def claim(
        self, name: str, owner: str, now: datetime, until: datetime, seen: datetime | None
    ) -> int | None:
        """Take the job for ``owner`` until ``until`` when nobody holds it (or the holder's
        lease ran out) and its last run still started at ``seen`` (no other process took this
        turn meanwhile); returns the new run's id, or None."""
        ...

    def renew(self, name: str, owner: str, until: datetime) -> bool:
        """Extend ``owner``'s lease; False when it is no longer ``owner``'s."""
        ...

    def release(
        self, run_id: int, name: str, owner: str, now: datetime, outcome: str, summary: str
    ) -> None:
        """End a run and give the job up."""
        ...

    def runs(self, name: str | None, limit: int) -> list[JobRun]:
        """The latest runs (of one job, or all), newest first."""
        ...
