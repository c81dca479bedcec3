"""Stored answers of requests sent with an ``Idempotency-Key`` (ARCHITECTURE promise 11)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class KeyState(StrEnum):
    """Where the request of an idempotency key is."""

    RUNNING = "running"  # claimed; nothing committed yet
    COMMITTED = "committed"  # its effect is committed; its answer is not stored yet
    DONE = "done"  # its answer is stored and is replayed to every retry


@dataclass(frozen=True, slots=True)
class StoredKey:
    """An idempotency key of one API key, the fingerprint of its request, and its answer."""

    scope: str
    key: str
    fingerprint: str
    state: KeyState
    created_at: datetime
    status_code: int | None = None
    body: bytes | None = None
    media_type: str | None = None


class IdempotencyRepository(Protocol):
    """Idempotency keys, written in the transactions of the requests they guard."""

    def get(self, scope: str, key: str) -> StoredKey | None: ...

    def insert(self, record: StoredKey) -> bool:
        """Claim a key; False if it is held already (by this request's twin)."""
        ...

    def delete(self, scope: str, key: str) -> None: ...

    def mark_committed(self, scope: str, key: str) -> None:
        """Record, in the transaction of the effect, that the effect is committed."""
        ...

    def complete(self, scope: str, key: str, status_code: int, body: bytes, media: str) -> None:
        """Store the answer to replay."""
        ...

    def prune(self, before: datetime) -> int:
        """Forget keys created before ``before``; returns how many."""
        ...
