"""Ports of pricing and invoicing: plans, coupons, subscriptions, invoices, credits, tax, and
the usage snapshot a billing run reads."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

from revsync.domain.coupons import Coupon
from revsync.domain.invoicing import (
    CreditGrant,
    CreditUse,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    TaxRates,
)
from revsync.domain.pricing import Plan
from revsync.domain.subscriptions import CouponUse, Subscription, Terms
from revsync.domain.thresholds import Threshold


class PlanRepository(Protocol):
    """Plan versions (never changed once written)."""

    def latest(self, code: str) -> Plan | None: ...

    def get(self, code: str, version: int) -> Plan | None: ...

    def versions(self, code: str) -> list[Plan]: ...

    def all_latest(self) -> list[Plan]: ...

    def add(self, plan: Plan, source: str, at: datetime) -> None: ...


class CouponRepository(Protocol):
    """Coupon definitions."""

    def get(self, code: str) -> Coupon | None: ...

    def put(self, coupon: Coupon, at: datetime) -> None: ...


class SubscriptionRepository(Protocol):
    """Subscriptions and every version of their terms."""

    def get(self, subscription_id: str) -> Subscription | None: ...

    def lock(self, subscription_id: str) -> None:
        """Hold the subscription until the transaction ends (other writers of it wait)."""
        ...

    def add(self, subscription: Subscription, at: datetime, actor: str) -> None: ...

    def add_terms(self, subscription_id: str, terms: Terms, at: datetime, actor: str) -> None: ...

    def add_coupon(self, subscription_id: str, use: CouponUse) -> None: ...

    def set_thresholds(
        self, subscription_id: str, thresholds: Sequence[Threshold], at: datetime
    ) -> None:
        """Replace the subscription's own thresholds."""
        ...

    def billable(self, as_of: date) -> list[Subscription]:
        """Subscriptions started on or before ``as_of``."""
        ...

    def of_customer(self, customer_id: str) -> list[Subscription]: ...

    def of_customers(self, customer_ids: Collection[str]) -> list[Subscription]: ...

    def recheck_from(self, subscription_id: str) -> date | None: ...

    def recheck_dates(self) -> dict[str, date]:
        """Every subscription with a pending recheck date."""
        ...

    def set_recheck(self, subscription_id: str, day: date | None) -> None: ...

    def clear_recheck(self, subscription_id: str, day: date) -> None:
        """Forget the recheck date a billing run handled (unless it moved meanwhile)."""
        ...


@dataclass(frozen=True, slots=True)
class InvoiceFilter:
    """Which invoices to list."""

    customer_id: str | None = None
    status: InvoiceStatus | None = None
    period_start: date | None = None
    subscription_id: str | None = None
    kind: InvoiceKind | None = None
    #: only these customers' invoices (a key limited to them); ``None``: everyone's
    customer_ids: frozenset[str] | None = None


class InvoiceRepository(Protocol):
    """Invoices, their lines and taxes."""

    def lock(self) -> None:
        """Hold the invoice write lock until the transaction ends: billing runs, voids and
        credit notes change invoices one at a time."""

    def get(self, invoice_id: str) -> Invoice | None: ...

    def credit_notes_of(self, invoice_id: str) -> list[Invoice]:
        """The credit notes issued against an invoice."""
        ...

    def parts_of(self, invoice_id: str) -> list[Invoice]:
        """The subscriptions' invoices a consolidated invoice bills."""
        ...

    def of_subscriptions(self, subscription_ids: Collection[str]) -> dict[str, list[Invoice]]:
        """Every invoice of these subscriptions, by subscription id."""
        ...

    def statuses(self, invoice_ids: Collection[str]) -> dict[str, InvoiceStatus]: ...

    def interims_of(self, subscription_ids: Collection[str]) -> set[str]:
        """The ids of these subscriptions' interim invoices."""
        ...

    def save_many(self, batch: Sequence[Invoice], existing: Collection[str], at: datetime) -> None:
        """Insert new drafts and replace the drafts whose ids are in ``existing``."""
        ...

    def finalize_many(self, batch: Sequence[Invoice], at: datetime) -> None:
        """Finalize drafts whose numbers and credits are set."""
        ...

    def reserve_numbers(self, series: str, count: int) -> int:
        """Reserve consecutive numbers; returns the first."""
        ...

    def set_recheck(self, invoice_ids: Collection[str], flag: bool) -> None: ...

    def save(self, invoice: Invoice, at: datetime) -> None:
        """Insert or replace a draft (lines replaced by key); a finalized invoice is refused."""
        ...

    def finalize(self, invoice: Invoice, number: str, at: datetime) -> None: ...

    def set_status(self, invoice_id: str, status: InvoiceStatus, at: datetime) -> None: ...

    def next_number(self, series: str) -> int: ...

    def page(self, where: InvoiceFilter, *, after: str | None, limit: int) -> list[Invoice]: ...

    def adjusted(self, invoice_id: str) -> dict[str, tuple[Decimal, Decimal]]:
        """(quantity, amount) already added to each line of an invoice by adjustment lines of
        finalized (not void) invoices."""
        ...


class CreditRepository(Protocol):
    """Prepaid credit grants and their use."""

    def grants(self, customer_id: str) -> list[CreditGrant]: ...

    def grants_of(self, customer_ids: Collection[str]) -> dict[str, list[CreditGrant]]: ...

    def add(self, customer_id: str, grant: CreditGrant, reason: str, at: datetime) -> None: ...

    def use(self, invoice_id: str, uses: Sequence[CreditUse]) -> None: ...

    def uses_of(self, invoice_id: str) -> list[CreditUse]: ...

    def restore(self, invoice_id: str) -> None:
        """Give back the credit an invoice took (when it is voided)."""
        ...


@dataclass(frozen=True, slots=True)
class BillingRunRecord:
    """A billing run as stored."""

    id: str
    as_of: date
    started_at: datetime
    usage_cutoff_seq: int
    finished_at: datetime | None = None
    summary: Mapping[str, Any] | None = None
    actor: str = ""
    #: runs are numbered in the order they committed (given when recorded)
    number: int = 0


class BillingRunRepository(Protocol):
    """Billing runs and the usage cutoff each one read up to."""

    def last(self) -> BillingRunRecord | None: ...

    def add(self, run: BillingRunRecord) -> int: ...

    def get(self, run_id: str) -> BillingRunRecord | None: ...


class TaxEngine(Protocol):
    """Tax rates for an invoice (built-in table, or an external engine later)."""

    def rates(
        self, *, country: str | None, exempt: bool, codes: Collection[str], on: date
    ) -> TaxRates: ...


class UsageRow(NamedTuple):
    """An event as a billing run reads it: its customer, time and dedup slot (a 64-bit hash of
    its key), and — only when asked for — its data (canonical JSON) and key."""

    customer_id: str
    time_us: int
    slot: int
    data_json: str | None
    source: str | None
    event_id: str | None


class AggregateSpec(NamedTuple):
    """A meter's aggregate as the database can take it: ``count``, ``sum``, ``max`` or
    ``latest`` of the integer at ``value`` (a path of object keys), over the events whose
    ``filters`` paths hold one of the listed strings, per string at ``dimension`` when there is
    one."""

    aggregation: str
    value: tuple[str, ...] | None
    filters: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]
    dimension: tuple[str, ...] | None


class UsageAggregate(NamedTuple):
    """One customer's (and dimension value's) aggregate over the events the database could
    read exactly: how many, their digest, the aggregate; and ``unread``, how many events the
    meter may count that it could not read (their values or dimension not small integers and
    strings): a customer with any needs its events read one by one. For a ``latest`` meter,
    ``order`` is the time and (source, id) of the event whose value it is — the one latest by
    that order."""

    customer_id: str
    group: str | None
    events: int
    digest: int
    value: int | None
    unread: int
    order: tuple[int, tuple[str, str]] | None = None


class UsageSnapshot(Protocol):
    """A consistent read of the usage: every event up to ingest sequence ``cutoff_seq`` and
    none after (no write is in flight when the snapshot is taken)."""

    cutoff_seq: int

    def rows(
        self,
        customer_ids: Collection[str],
        event_type: str,
        start_us: int,
        end_us: int,
        *,
        with_data: bool,
        with_key: bool,
    ) -> Iterator[UsageRow]:
        """Events of these customers and this type with ``start_us <= time < end_us``."""
        ...

    def counts(
        self, customer_ids: Collection[str], event_type: str, start_us: int, end_us: int
    ) -> dict[str, tuple[int, int]]:
        """Per customer: how many events of the type fall in the window, and the sum of their
        dedup slots modulo 2^64 (the digest of the set)."""
        ...

    def aggregates(
        self,
        customer_ids: Collection[str],
        event_type: str,
        start_us: int,
        end_us: int,
        spec: AggregateSpec,
    ) -> Iterator[UsageAggregate]:
        """Per customer and dimension value: the meter's aggregate over the events of the type
        in the window, computed by the database (see :class:`UsageAggregate`)."""
        ...

    def late_customers(self, after_seq: int) -> dict[str, int]:
        """Customers with events ingested after ``after_seq``: the earliest event time of each."""
        ...

    def rechecks(self) -> dict[str, int]:
        """Customers whose usage changed otherwise (unmapped events attached): from when."""
        ...


class UsageSnapshots(Protocol):
    """Opens usage snapshots."""

    def snapshot(self) -> AbstractContextManager[UsageSnapshot]: ...
