"""Retention: how long finished records are kept, and what a prune at a given moment may
delete (docs/operations.md, "Retention"). Pure: the moment is passed in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

#: kinds announced once per key for ever: announcing one again (a customer's next subscription,
#: an expansion streak still running) is dropped by the outbox's unique (destination, key), so
#: their messages are the record that they were sent, and are never pruned
ANNOUNCED_ONCE = frozenset({"customer.activated", "expansion.detected"})


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """What a prune deletes: finished outbox messages (with their attempts) that finished
    before ``messages_before``, save those about a document issued (or dated in the ERP) on or
    after ``documents_since``; dead letters received before ``dead_letters_before``;
    idempotency keys created before ``keys_before``. None: that kind is kept."""

    messages_before: datetime | None
    documents_since: date
    dead_letters_before: datetime | None
    keys_before: datetime


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long each kind is kept (None: for ever), the reconciliation window whose documents'
    messages stay, and how many rows one transaction deletes."""

    messages: timedelta | None
    dead_letters: timedelta | None
    keys: timedelta
    documents: timedelta
    batch: int = 1000

    def __post_init__(self) -> None:
        if self.batch < 1:
            raise ValueError("a batch deletes at least one row")

    def cutoffs(self, now: datetime) -> Cutoffs:
        """The cut-offs of a prune at ``now``."""
        return Cutoffs(
            messages_before=None if self.messages is None else now - self.messages,
            documents_since=now.date() - self.documents,
            dead_letters_before=None if self.dead_letters is None else now - self.dead_letters,
            keys_before=now - self.keys,
        )


@dataclass(frozen=True, slots=True)
class Pruned:
    """Rows a prune deleted (or, dry, would delete)."""

    messages: int = 0
    attempts: int = 0
    dead_letters: int = 0
    idempotency_keys: int = 0

    def __add__(self, other: Pruned) -> Pruned:
        return Pruned(
            self.messages + other.messages,
            self.attempts + other.attempts,
            self.dead_letters + other.dead_letters,
            self.idempotency_keys + other.idempotency_keys,
        )

    @property
    def rows(self) -> int:
        """The rows a batch counts against its size (attempts go with their messages)."""
        return self.messages + self.dead_letters + self.idempotency_keys
