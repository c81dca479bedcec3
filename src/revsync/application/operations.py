"""What operators watch: the outbox per destination, the circuits, open exception cases,
refused inputs and the latest reconciliation of each check — read in one transaction, for the
metrics endpoint and the dashboard."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from revsync.domain.delivery import Circuit, MessageStatus
from revsync.domain.reconciliation import ReconciliationRun
from revsync.ports.clock import Clock
from revsync.ports.delivery import DestinationStats
from revsync.ports.repositories import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class DestinationHealth:
    """One destination: its messages by status, the age of its oldest waiting message and its
    circuit."""

    name: str
    by_status: dict[str, int]
    oldest_pending_seconds: float
    circuit: Circuit
    attempts: dict[str, int]  # outcome → attempts that ended so
    #: case id → messages waiting behind a failed message that case holds (order keeps them)
    held: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Health:
    """Everything the operations views show."""

    at: datetime
    destinations: list[DestinationHealth]
    open_cases: dict[str, int]
    dead_letters: dict[str, int]
    #: check → the latest reconciliation run that made it
    reconciliations: dict[str, ReconciliationRun] = field(default_factory=dict)


#: reconciliation runs read to find the latest of each check
_RECENT_RUNS = 20


class Operations:
    """Reads the state operators watch."""

    def __init__(
        self, unit_of_work: UnitOfWorkFactory, clock: Clock, destinations: Sequence[str]
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock
        self._configured = tuple(destinations)

    def health(self) -> Health:
        """The outbox, circuits, cases and dead letters now. Every configured destination is
        listed (with zeros when it has no messages), and so is any destination that still has
        messages after it was removed from the configuration."""
        now = self._clock.now()
        with self._uow(write=False) as uow:
            stats = uow.outbox.stats()
            attempts = uow.outbox.attempt_counts()
            held = uow.outbox.held()
            circuits = uow.circuits.all()
            cases = uow.cases.open_counts()
            letters = uow.dead_letters.counts()
            recent = uow.reconciliations.page(before=None, limit=_RECENT_RUNS)
        names = sorted({*self._configured, *stats, *(d for d, _ in attempts)})
        return Health(
            now,
            [
                _destination(
                    n,
                    stats.get(n),
                    circuits.get(n) or Circuit(n),
                    {o: c for (d, o), c in attempts.items() if d == n},
                    {c or "": k for (d, c), k in held.items() if d == n},
                    now,
                )
                for n in names
            ],
            cases,
            letters,
            _latest_per_check(recent),
        )


def _latest_per_check(runs: Sequence[ReconciliationRun]) -> dict[str, ReconciliationRun]:
    """Check → the newest of ``runs`` (newest first) that made it."""
    latest: dict[str, ReconciliationRun] = {}
    for run in runs:
        for check in run.checks:
            latest.setdefault(check.value, run)
    return latest


def _destination(
    name: str,
    stats: DestinationStats | None,
    circuit: Circuit,
    attempts: dict[str, int],
    held: dict[str, int],
    now: datetime,
) -> DestinationHealth:
    by_status = dict.fromkeys((s.value for s in MessageStatus), 0)
    oldest = 0.0
    if stats is not None:
        by_status.update(stats.by_status)
        if stats.oldest_pending_at is not None:
            oldest = max(0.0, (now - stats.oldest_pending_at).total_seconds())
    outcomes = dict.fromkeys(
        ("delivered", "found", "unavailable", "retriable", "fatal", "skippable"), 0
    )
    return DestinationHealth(name, by_status, oldest, circuit, {**outcomes, **attempts}, held)
