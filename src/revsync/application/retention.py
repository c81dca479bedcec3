"""Retention: finished outbox messages (with their attempts), dead letters and idempotency
keys pruned once past their age, a bounded batch per transaction (docs/operations.md,
"Retention"). What is still needed stays: see :class:`~revsync.ports.retention.RetentionStore`.
The worker's ``retention`` job runs it on ``retention.schedule``; ``revsync prune`` when
asked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from revsync.domain.retention import Cutoffs, Pruned, RetentionPolicy
from revsync.ports.clock import Clock
from revsync.ports.repositories import UnitOfWorkFactory
from revsync.ports.retention import RetentionStore


@dataclass(slots=True)
class PruneReport:
    """What a prune deleted (dry: would delete), in how many transactions, and whether it
    was stopped before the end (the next run goes on)."""

    cutoffs: Cutoffs
    dry_run: bool
    pruned: Pruned = field(default_factory=Pruned)
    batches: int = 0
    stopped: bool = False


def _never() -> bool:
    return False


class Retention:
    """Prunes what is kept no longer."""

    def __init__(
        self, unit_of_work: UnitOfWorkFactory, clock: Clock, policy: RetentionPolicy
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock
        self._policy = policy

    def prune(self, *, dry_run: bool = False, stop: Callable[[], bool] = _never) -> PruneReport:
        """Delete, oldest first, what is past its age: a batch of at most ``policy.batch``
        rows per transaction (a SQLite writer never waits long behind it), until none is left
        or ``stop()`` says so. ``dry_run``: count them, delete nothing."""
        cutoffs = self._policy.cutoffs(self._clock.now())
        report = PruneReport(cutoffs, dry_run)
        if dry_run:
            with self._uow(write=False) as uow:
                report.pruned = uow.retention.count(cutoffs)
            return report
        batch = self._policy.batch
        steps: list[Callable[[RetentionStore], Pruned]] = []
        if cutoffs.messages_before is not None:
            steps.append(lambda store: store.prune_messages(cutoffs, batch))
        if (letters := cutoffs.dead_letters_before) is not None:
            steps.append(lambda store: store.prune_dead_letters(letters, batch))
        steps.append(lambda store: store.prune_keys(cutoffs.keys_before, batch))
        for step in steps:
            while True:
                if stop():
                    report.stopped = True
                    return report
                with self._uow() as uow:
                    pruned = step(uow.retention)
                    uow.commit()
                report.pruned += pruned
                report.batches += 1
                if pruned.rows < batch:
                    break
        return report
