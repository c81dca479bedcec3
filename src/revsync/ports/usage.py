"""The usage ledger: durable storage of accepted events, written in group transactions."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol, TypeVar

from revsync.domain.usage_months import Month
from revsync.ports.repositories import DeadLetter

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TenantOwner:
    """The customer a product tenant belongs to, with what ingestion needs of it."""

    customer_id: str
    timezone: str


class StoredKey(NamedTuple):
    """The dedup key and payload fingerprint held in a dedup slot."""

    source: str
    event_id: str
    fingerprint: bytes


class EventRow(NamedTuple):
    """One accepted event as it is stored (fields in the order of the stored columns)."""

    slot: int
    source: str
    event_id: str
    type: str
    subject: str
    time_us: int
    day: int
    customer_id: str | None
    data_json: str
    fingerprint: bytes
    received_us: int
    late: bool


class UsageTransaction(Protocol):
    """What an ingestion step may do inside the ledger's transaction."""

    def tenant_owners(self, tenants: Collection[str]) -> Mapping[str, TenantOwner]:
        """Owners of the given tenants as committed (unmapped tenants are absent)."""
        ...

    def stored_keys(self, slots: Collection[int]) -> Mapping[int, StoredKey]:
        """What each occupied slot holds (free slots are absent)."""
        ...

    def insert_events(self, rows: Sequence[EventRow]) -> Collection[int]:
        """Insert the rows whose slot is free; returns the slots inserted. A row whose slot is
        taken (stored earlier, voided, or claimed meanwhile by a concurrent writer) is left out
        of the result, not written, and must be classified again."""
        ...

    def insert_dead_letters(self, letters: Sequence[DeadLetter]) -> None: ...

    def open_unmapped_cases(self, tenants: Collection[str], at: datetime) -> None:
        """Open an exception case for each tenant whose usage arrived unmapped (one open case
        per tenant)."""
        ...


class UsageLedger(Protocol):
    """Runs ingestion steps in durable transactions, grouping concurrent ones."""

    def submit(self, step: Callable[[UsageTransaction], T]) -> Future[T]:
        """Run ``step`` in a transaction; the future resolves after the commit.

        A step may run more than once (a failed group is retried step by step), so it must
        derive everything it writes from what it reads in the transaction.
        """
        ...


@dataclass(frozen=True, slots=True)
class Reading:
    """A stored event as meters read it; ``data`` decoded with exact (Decimal) numbers."""

    time_us: int
    source: str
    event_id: str
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class UnmappedTenant:
    """Events waiting for a tenant to be mapped to a customer."""

    subject: str
    events: int
    first_time: datetime
    last_time: datetime


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An accepted event as stored, with its ingest sequence number."""

    seq: int
    source: str
    event_id: str
    type: str
    subject: str
    time_us: int
    customer_id: str | None
    data: Mapping[str, Any]


class UsageReader(Protocol):
    """Read side of the usage ledger."""

    def events(
        self,
        customer_ids: Sequence[str],
        event_type: str,
        start_us: int,
        end_us: int,
        *,
        upto_seq: int,
        after_seq: int,
    ) -> Iterator[StoredEvent]:
        """The events of the customers, type and window that a read cut off at ``upto_seq``
        counted, by ingest order after ``after_seq``: ingested up to the cutoff, attached to
        their customer by it (events stored unmapped count from their tenant's mapping on),
        and not voided by it (an event voided later is still listed)."""
        ...

    def readings(
        self, customer_ids: Sequence[str], event_type: str, start_us: int, end_us: int
    ) -> Iterator[Reading]:
        """Events of ``event_type`` for the customers with ``start_us <= time < end_us``."""
        ...

    def unmapped(self, *, after: str | None, limit: int) -> list[UnmappedTenant]:
        """Tenants with unmapped events, by subject."""
        ...

    def unmapped_total(self) -> int: ...

    def count_events(self) -> int: ...


@dataclass(frozen=True, slots=True)
class StoredMonths:
    """How usage is kept by month: the live months (PostgreSQL: with a table of their own in
    the live table; SQLite: holding events), those archived, and those whose events wait in
    the default table (PostgreSQL)."""

    live: frozenset[Month]
    archived: frozenset[Month]
    waiting: frozenset[Month]


class UsageStorage(Protocol):
    """Stored usage by month (docs/deploy.md#usage-storage): PostgreSQL's tables of months
    and archive schema, SQLite's Parquet files of archived months."""

    def months(self) -> StoredMonths: ...

    def add_month(self, month: Month) -> int:
        """Give ``month`` a table of its own, moving its events out of the default table in
        the same transaction; how many moved (SQLite: no tables of months, 0)."""
        ...

    def unsettled(self, month: Month) -> str | None:
        """Why billing may still read ``month``'s usage (a draft invoice, a recheck pending,
        an open billing case), or None when it never will."""
        ...

    def archive(self, month: Month) -> None:
        """Move ``month``'s events out of the live table into the archive (PostgreSQL: its
        table detached; SQLite: a Parquet file) — their dedup claims stay, lineage still reads
        them."""
        ...
