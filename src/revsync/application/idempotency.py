"""Idempotency keys with Stripe's semantics: a retried request never repeats its effect.

A request sent with an ``Idempotency-Key`` claims the key (per API key) with the fingerprint
of the request. The unit of work that commits the request's effect also marks the key
committed, in the same transaction (the claim travels in :data:`active_claim`); the answer is
stored right after. A retry with the same request gets the stored answer; with another
request, a mismatch; while the first still runs, a conflict. A request that committed nothing
(it was refused, or failed) releases its key, so that a corrected retry runs. Should the
process die between the commit and storing the answer, the key stays committed and a retry is
told the outcome is known but its answer lost: never a second effect.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from revsync.ports.clock import Clock
from revsync.ports.idempotency import KeyState, StoredKey
from revsync.ports.repositories import UnitOfWorkFactory


@dataclass(slots=True)
class ActiveClaim:
    """The key the running request holds; units of work mark it when they commit."""

    scope: str
    key: str
    committed: bool = False


#: the claim of the request running in this context (None outside idempotent requests)
active_claim: ContextVar[ActiveClaim | None] = ContextVar("revsync_active_claim", default=None)


class Verdict(StrEnum):
    """What to do with a request that carries an idempotency key."""

    RUN = "run"  # the key is claimed: run the request
    REPLAY = "replay"  # answer with the stored answer
    MISMATCH = "mismatch"  # the key was used for another request
    IN_PROGRESS = "in_progress"  # the first request with this key is still running
    LOST = "lost"  # the first request's effect is committed, its answer was lost


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict on a claim, with the claim to run under or the stored answer."""

    verdict: Verdict
    claim: ActiveClaim | None = None
    stored: StoredKey | None = None


@dataclass(frozen=True, slots=True)
class IdempotencyPolicy:
    """How long keys are kept, and after how long a claim nothing committed is abandoned."""

    keep: timedelta = timedelta(hours=24)
    lease: timedelta = timedelta(minutes=10)
    prune_every: timedelta = timedelta(minutes=5)


class Idempotency:
    """Claims keys, stores answers, forgets keys after ``policy.keep``."""

    def __init__(
        self, unit_of_work: UnitOfWorkFactory, clock: Clock, policy: IdempotencyPolicy
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock
        self._policy = policy
        self._pruned_at: datetime | None = None
        self._lock = threading.Lock()

    def claim(self, scope: str, key: str, fingerprint: str) -> Decision:
        """Claim ``key`` for the request with ``fingerprint``, or say why it cannot run."""
        now = self._clock.now()
        self._prune(now)
        record = StoredKey(scope, key, fingerprint, KeyState.RUNNING, now)
        with self._uow() as uow:
            found = uow.idempotency.get(scope, key)
            if found is not None and self._abandoned(found, now):
                uow.idempotency.delete(scope, key)
                found = None
            if found is None:
                if uow.idempotency.insert(record):
                    uow.commit()
                    return Decision(Verdict.RUN, ActiveClaim(scope, key))
                found = uow.idempotency.get(scope, key)  # its twin claimed it just now
        if found is None:  # the twin released it meanwhile: it committed nothing
            return Decision(Verdict.IN_PROGRESS)
        if found.fingerprint != fingerprint:
            return Decision(Verdict.MISMATCH, stored=found)
        if found.state is KeyState.DONE:
            return Decision(Verdict.REPLAY, stored=found)
        if found.state is KeyState.COMMITTED:
            return Decision(Verdict.LOST, stored=found)
        return Decision(Verdict.IN_PROGRESS, stored=found)

    def complete(self, claim: ActiveClaim, status_code: int, body: bytes, media: str) -> None:
        """Store the answer of a request that ran; a request that committed nothing and was
        refused releases its key instead (a corrected retry runs)."""
        with self._uow() as uow:
            if claim.committed or status_code < 400:
                uow.idempotency.complete(claim.scope, claim.key, status_code, body, media)
            else:
                uow.idempotency.delete(claim.scope, claim.key)
            uow.commit()

    def release(self, claim: ActiveClaim) -> None:
        """Give the key up after a failure, unless the effect was committed (then it stays
        committed: a retry learns its answer was lost rather than doing it twice)."""
        if claim.committed:
            return
        with self._uow() as uow:
            uow.idempotency.delete(claim.scope, claim.key)
            uow.commit()

    def _abandoned(self, found: StoredKey, now: datetime) -> bool:
        """Expired, or claimed so long ago with nothing committed that its request is gone."""
        if found.created_at <= now - self._policy.keep:
            return True
        return found.state is KeyState.RUNNING and found.created_at <= now - self._policy.lease

    def _prune(self, now: datetime) -> None:
        with self._lock:
            if self._pruned_at is not None and now - self._pruned_at < self._policy.prune_every:
                return
            self._pruned_at = now
        with self._uow() as uow:
            uow.idempotency.prune(now - self._policy.keep)
            uow.commit()
