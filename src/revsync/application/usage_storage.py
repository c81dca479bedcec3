"""Keeping stored usage by month: the worker's ``usage_storage`` job.

Each run gives a table of its own (PostgreSQL) to the month of now and the ``ahead`` months
after it, and to every month whose events wait in the default table (moving them); then, with
archiving on, archives each month before :func:`~revsync.domain.usage_months.first_kept` once
billing can no longer read it (``UsageStorage.unsettled``), oldest first — on PostgreSQL to
the archive schema, on SQLite (no months' tables: ``ahead`` None) to Parquet files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from revsync.domain.usage_months import Month, first_kept, months_ahead
from revsync.ports.clock import Clock
from revsync.ports.usage import UsageStorage


@dataclass(frozen=True, slots=True)
class StoragePolicy:
    """How many months ahead get their table (None: the storage has no months' tables), and
    after how many months one is archived (None: never)."""

    ahead: int | None = 3
    archive_after: int | None = None


@dataclass(slots=True)
class StorageReport:
    """What a run did: months given a table, events moved out of the default table, months
    archived, and months held back from the archive with the reason."""

    created: list[Month] = field(default_factory=list)
    moved: int = 0
    archived: list[Month] = field(default_factory=list)
    held: dict[Month, str] = field(default_factory=dict)

    def summary(self) -> str:
        made = ", ".join(m.name for m in self.created) or "none"
        archived = ", ".join(m.name for m in self.archived) or "none"
        held = "".join(f"; {m.name} held: {why}" for m, why in sorted(self.held.items()))
        return f"months made {made} ({self.moved} events moved), archived {archived}{held}"


class UsageStorageKeeping:
    """Makes the months' tables ahead and archives old ones (see the module docstring)."""

    def __init__(self, storage: UsageStorage, clock: Clock, policy: StoragePolicy) -> None:
        self._storage = storage
        self._clock = clock
        self._policy = policy

    def run(self) -> StorageReport:
        now = self._clock.now()
        report = StorageReport()
        stored = self._storage.months()
        live = set(stored.live)
        # a month archived keeps its late events in the default table (none are accepted)
        ahead = self._policy.ahead
        wanted = set(months_ahead(now, ahead)) if ahead is not None else set()
        wanted |= stored.waiting - stored.archived
        for month in sorted(wanted - live):
            report.moved += self._storage.add_month(month)
            report.created.append(month)
            live.add(month)
        if self._policy.archive_after is not None:
            kept = first_kept(now, self._policy.archive_after)
            for month in sorted(m for m in live if m < kept):
                reason = self._storage.unsettled(month)
                if reason is not None:
                    report.held[month] = reason
                    break  # the months after it wait for it: archived oldest first
                self._storage.archive(month)
                report.archived.append(month)
        return report
