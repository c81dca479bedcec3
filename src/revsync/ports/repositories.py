"""Repositories and the unit of work for customers, API keys, the audit log and dead letters."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self

from revsync.domain.apikeys import ApiKey
from revsync.domain.audit import AuditEntry, AuditHead, AuditRecord
from revsync.domain.identity import Customer, ExternalRef, System
from revsync.ports.billing import (
    BillingRunRepository,
    CouponRepository,
    CreditRepository,
    InvoiceRepository,
    PlanRepository,
    SubscriptionRepository,
)
from revsync.ports.collections import CollectionsRepository
from revsync.ports.console import ConsoleSessionStore
from revsync.ports.crm import CrmStateRepository
from revsync.ports.deals import DealRepository
from revsync.ports.delivery import CaseRepository, CircuitRepository, OutboxRepository
from revsync.ports.erp import PostingRepository
from revsync.ports.idempotency import IdempotencyRepository
from revsync.ports.jobs import JobRepository
from revsync.ports.kpis import KpiStore
from revsync.ports.reconciliation import ReconciliationStore
from revsync.ports.renewals import RenewalRepository
from revsync.ports.retention import RetentionStore
from revsync.ports.support import SupportStateRepository
from revsync.ports.thresholds import ThresholdStore

if TYPE_CHECKING:
    from revsync.ports.schemas import SchemaStore


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An input revsync refused, kept with the reason so that nothing vanishes."""

    received_at: datetime
    channel: str
    code: str | None  # a revsync.domain.problems.Code; None for letters stored before 0007
    reason: str
    payload: str
    position: int | None = None
    event_source: str | None = None
    event_id: str | None = None
    correlation_id: str | None = None
    actor: str | None = None


@dataclass(frozen=True, slots=True)
class StoredDeadLetter:
    """A dead letter with its id."""

    id: int
    letter: DeadLetter


class CustomerRepository(Protocol):
    """Canonical customers and their external references."""

    def lock_identity(self) -> None:
        """Serialise identity changes with each other and with ingestion, until commit."""
        ...

    def get(self, customer_id: str) -> Customer | None: ...

    def save(self, customer: Customer) -> None:
        """Insert or replace the customer and exactly its references."""
        ...

    def many(self, customer_ids: Collection[str]) -> list[Customer]:
        """The customers with these ids (unknown ids are left out)."""
        ...

    def find_by_ref(self, ref: ExternalRef) -> Customer | None: ...

    def with_system(self, system: System) -> list[Customer]:
        """The customers known in ``system`` (with a reference there), by id."""
        ...

    def owners_of(self, refs: Collection[ExternalRef]) -> dict[ExternalRef, str]:
        """The current owner of each reference that is mapped."""
        ...

    def parent_of(self, customer_id: str) -> str | None: ...

    def descendants_of(self, customer_id: str) -> list[str]:
        """Every customer below ``customer_id`` in the hierarchy."""
        ...

    def page(self, *, after: str | None, limit: int) -> list[Customer]:
        """Customers ordered by id, after the cursor ``after``."""
        ...


class ApiKeyRepository(Protocol):
    """Stored API keys (hashed)."""

    def add(self, key: ApiKey, key_hash: str) -> None: ...

    def by_hash(self, key_hash: str) -> ApiKey | None: ...

    def get(self, key_id: str) -> ApiKey | None: ...

    def all(self) -> list[ApiKey]: ...

    def revoke(self, key_id: str, at: datetime) -> None: ...


class AuditLog(Protocol):
    """The append-only, hash-chained audit log."""

    def append(self, record: AuditRecord) -> AuditEntry: ...

    def append_many(self, records: Sequence[AuditRecord]) -> None:
        """Append several records, chained in order."""
        ...

    def entries(self, after: int | None = None) -> Iterator[AuditEntry]:
        """Entries in chain order, after sequence number ``after``."""
        ...

    def latest(self, object_type: str, object_id: str) -> AuditEntry | None:
        """The newest entry about one object."""
        ...

    def head(self) -> AuditHead:
        """The writer's note of the chain's end (seq 0 and the genesis hash when empty)."""
        ...

    def get(self, seq: int) -> AuditEntry | None:
        """One entry by its sequence number."""
        ...


class DeadLetterStore(Protocol):
    """Refused inputs with their reasons."""

    def add(self, letters: Sequence[DeadLetter]) -> None: ...

    def counts(self) -> dict[str, int]:
        """Refused inputs per channel, ever (those retention pruned included: a counter)."""
        ...

    def page(
        self, *, channel: str | None, after_id: int | None, limit: int
    ) -> list[StoredDeadLetter]: ...

    def quarantined(self, after_id: int | None, limit: int) -> Sequence[StoredDeadLetter]:
        """Quarantined events (code ``quarantined``) in arrival order."""
        ...

    def mark_released(self, ids: Sequence[int]) -> None:
        """Mark quarantined events as released (they stay as dead letters, coded so)."""
        ...


@dataclass(frozen=True, slots=True)
class VoidOutcome:
    """What voiding a set of event keys ``(source, id)`` found."""

    voided: tuple[tuple[str, str], ...]
    already_voided: tuple[tuple[str, str], ...]
    missing: tuple[tuple[str, str], ...]


class UsageMaintenance(Protocol):
    """Changes to stored usage caused by identity changes and usage corrections."""

    def attach_unmapped(self, tenants: Collection[str], customer_id: str) -> int:
        """Give unmapped events of ``tenants`` to ``customer_id``; returns how many moved.
        They count for the customer from now on: a read cut off earlier did not count them."""
        ...

    def clear_recheck(self, customer_id: str, from_us: int) -> None:
        """Forget a recheck marker a billing run handled (unless it moved meanwhile)."""
        ...

    def void_events(
        self, keys: Collection[tuple[str, str]], correction_id: str, now: datetime
    ) -> VoidOutcome:
        """Move the stored events of ``keys`` out of the usage (their dedup claims stay) and
        mark their customers' usage for a billing recheck from the earliest of them. A read
        cut off before the void still counted them: they stay behind its lines."""
        ...

    def record_correction(
        self, correction_id: str, reason: str, actor: str, voided: int, now: datetime
    ) -> None: ...


class UnitOfWork(Protocol):
    """One database transaction across the repositories. Leaving without commit rolls back."""

    @property
    def customers(self) -> CustomerRepository: ...

    @property
    def api_keys(self) -> ApiKeyRepository: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def dead_letters(self) -> DeadLetterStore: ...

    @property
    def usage(self) -> UsageMaintenance: ...

    @property
    def plans(self) -> PlanRepository: ...

    @property
    def coupons(self) -> CouponRepository: ...

    @property
    def subscriptions(self) -> SubscriptionRepository: ...

    @property
    def invoices(self) -> InvoiceRepository: ...

    @property
    def credits(self) -> CreditRepository: ...

    @property
    def billing_runs(self) -> BillingRunRepository: ...

    @property
    def reconciliations(self) -> ReconciliationStore: ...

    @property
    def kpis(self) -> KpiStore: ...

    @property
    def outbox(self) -> OutboxRepository: ...

    @property
    def circuits(self) -> CircuitRepository: ...

    @property
    def cases(self) -> CaseRepository: ...

    @property
    def thresholds(self) -> ThresholdStore: ...

    @property
    def postings(self) -> PostingRepository: ...

    @property
    def crm(self) -> CrmStateRepository: ...

    @property
    def support(self) -> SupportStateRepository: ...

    @property
    def collections(self) -> CollectionsRepository: ...

    @property
    def renewals(self) -> RenewalRepository: ...

    @property
    def deals(self) -> DealRepository: ...

    @property
    def idempotency(self) -> IdempotencyRepository: ...

    @property
    def jobs(self) -> JobRepository: ...

    @property
    def schemas(self) -> SchemaStore: ...

    @property
    def console_sessions(self) -> ConsoleSessionStore: ...

    @property
    def retention(self) -> RetentionStore: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    """Opens a unit of work; ``write=False`` for read-only use."""

    def __call__(self, *, write: bool = True) -> UnitOfWork: ...
