"""Ports of the delivery backbone: destinations (one connector each), the outbox, the circuits
and the exception cases."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from revsync.domain.delivery import (
    Attempt,
    CaseKind,
    CaseStatus,
    Circuit,
    Decision,
    MessageStatus,
    OutboundMessage,
)


class Destination(Protocol):
    """An external system revsync delivers to. Implementations classify every failure
    (retriable, fatal, skippable) and say when a response was lost (ambiguous)."""

    async def send(self, message: OutboundMessage) -> Attempt:
        """Deliver one message; never raises for a failure of the destination."""
        ...

    async def find_by_key(self, key: str) -> Attempt | None:
        """The document delivered earlier under ``key`` (an ``Attempt.ok`` with its remote id),
        None when the destination has none, or a failed ``Attempt`` when it cannot tell."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class BatchDestination(Destination, Protocol):
    """A destination that takes several messages of one aggregate in one call."""

    async def send_many(self, messages: Sequence[OutboundMessage]) -> list[Attempt]:
        """Deliver ``messages`` in order: one attempt per message for a prefix of them — each
        delivered or skipped up to the first that failed, which ends it; the rest are not
        tried. Every key is looked up by the destination itself (a resend is safe). Never
        raises for a failure of the destination."""
        ...


class ReceiptHandler(Protocol):
    """Records in revsync what a destination made of a delivered message (called by the relay
    in the transaction that marks the message delivered)."""

    def apply(
        self, uow: Any, message: OutboundMessage, receipt: Mapping[str, str], at: datetime
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to add to the outbox (in the transaction of the change it announces)."""

    destination: str
    aggregate: str  # messages of one aggregate are delivered in order
    kind: str
    object_type: str
    object_id: str
    key: str
    payload: Mapping[str, Any]
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class Finished:
    """An attempt as a relay records it."""

    message: OutboundMessage
    started_at: datetime
    finished_at: datetime
    attempt: Attempt
    unsure: bool  # after this attempt, the destination may hold the document


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message with its delivery state, for operators."""

    message: OutboundMessage
    status: MessageStatus
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: datetime | None
    remote_id: str | None


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One recorded attempt."""

    number: int
    started_at: datetime
    finished_at: datetime
    outcome: str
    status_code: int | None
    error: str | None
    relay: str


@dataclass(frozen=True, slots=True)
class DestinationStats:
    """What the outbox holds for one destination."""

    by_status: dict[str, int] = field(default_factory=dict)
    oldest_pending_at: datetime | None = None


class OutboxRepository(Protocol):
    """The outbox table, inside a unit of work."""

    def add(self, messages: Sequence[NewMessage], now: datetime) -> int:
        """Add messages; one already there (same destination and key) is left as it is.
        Returns how many were added."""
        ...

    def claim(
        self,
        now: datetime,
        owner: str,
        lease_until: datetime,
        limits: Mapping[str, int],
        batches: Mapping[str, int] | None = None,
    ) -> list[OutboundMessage]:
        """Lease due messages, at most ``limits[destination]`` per destination, each the
        oldest unfinished message of its (destination, aggregate) — with, where
        ``batches[destination]`` is more than one, the due messages right behind it, up to that
        many in all (in order: a batch)."""
        ...

    def release(self, message_ids: Sequence[int], owner: str) -> None:
        """Give back leased messages that were not attempted (behind a refusal in a batch, or
        too late to start under their destination's rate limit): pending again, their attempt
        not counted."""
        ...

    def finish(self, done: Sequence[tuple[Finished, Decision]], owner: str) -> list[int]:
        """Record attempts and the messages' new state. Only messages still leased by
        ``owner`` change (a lease that ran out belongs to another relay now); returns their
        ids."""
        ...

    def get(self, message_id: int) -> StoredMessage | None: ...

    def attempts_of(self, message_id: int) -> list[AttemptRecord]: ...

    def requeue(
        self, message_ids: Sequence[int], now: datetime, *, approved_by: str | None = None
    ) -> int:
        """Queue messages again for a new round of attempts now (``approved_by``: an operator
        lets them past the destination's hold)."""
        ...

    def close(self, message_ids: Sequence[int], status: MessageStatus) -> None:
        """End messages without delivering them (resolved or ignored by an operator)."""
        ...

    def stats(self) -> dict[str, DestinationStats]: ...

    def attempt_counts(self) -> dict[tuple[str, str], int]:
        """How many attempts ended how: (destination, outcome) → count, since the start."""
        ...

    def delivered_between(
        self, destination: str | None, since: datetime | None, until: datetime | None
    ) -> list[int]:
        """Ids of delivered messages (of a destination, created in a time range)."""
        ...

    def of_case(self, case_id: str) -> list[int]:
        """Ids of the messages a case holds that are not done yet."""
        ...

    def held(self) -> dict[tuple[str, str | None], int]:
        """Messages waiting behind a failed message of their (destination, aggregate):
        (destination, id of the case holding that message) → count."""
        ...


class CircuitRepository(Protocol):
    """The destinations' circuits."""

    def all(self) -> dict[str, Circuit]: ...

    def locked(self, destinations: Collection[str], now: datetime) -> dict[str, Circuit]:
        """Every circuit, locked until the transaction ends (a row is made for each of
        ``destinations`` that has none), so that relays change them one at a time."""
        ...

    def save(self, circuits: Sequence[Circuit], now: datetime) -> None: ...


@dataclass(frozen=True, slots=True)
class Case:
    """An exception case: a failure with an address."""

    id: str
    kind: CaseKind
    status: CaseStatus
    object_type: str
    object_id: str
    opened_at: datetime
    updated_at: datetime
    correlation_id: str | None = None
    destination: str | None = None
    message_id: int | None = None
    last_error: str | None = None
    details: Mapping[str, Any] | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class CaseFilter:
    """Which cases to list."""

    status: CaseStatus | None = None
    kind: CaseKind | None = None
    destination: str | None = None
    object_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    #: about one of these objects (a customer and its invoices, in the console)
    object_ids: frozenset[str] | None = None


class CaseNews(Protocol):
    """What a case opening or closing announces (``case.opened``, ``case.resolved``): written
    by the case repository in the transaction that opens or closes it."""

    def case_opened(self, case: Case) -> list[NewMessage]: ...

    def case_closed(self, case: Case) -> list[NewMessage]: ...


class CaseRepository(Protocol):
    """Exception cases."""

    def open_for_message(self, case: Case) -> Case:
        """Open the case of a failed message, or reopen the one it already has."""
        ...

    def get(self, case_id: str) -> Case | None: ...

    def of_message(self, message_id: int) -> Case | None: ...

    def open_outage(self, case: Case, message_ids: Sequence[int]) -> Case:
        """Open the destination's outage case (or add to the one open) and let it hold the
        messages."""
        ...

    def settle_held(self, message_ids: Sequence[int], now: datetime, by: str) -> list[str]:
        """Resolve the retrying cases holding these messages once none of their messages is
        left to deliver; returns their ids."""
        ...

    def page(self, where: CaseFilter, *, after: str | None, limit: int) -> list[Case]: ...

    def set_status(
        self,
        case_id: str,
        status: CaseStatus,
        now: datetime,
        *,
        by: str | None = None,
        reason: str | None = None,
    ) -> None: ...

    def close_unmapped(self, subject: str, now: datetime, by: str, reason: str) -> str | None:
        """Resolve the open unmapped-usage case of a product tenant; returns its id."""
        ...

    def open_billing(self, case: Case) -> str:
        """Open the billing case of a subscription (``case.object_id``), or bring the one it
        has open up to date with the new error; returns the case id."""
        ...

    def settle_billing(
        self, subscription_ids: Collection[str], now: datetime, by: str, reason: str
    ) -> list[str]:
        """Resolve the open billing cases of these subscriptions; returns their ids."""
        ...

    def open_approval(self, case: Case) -> str:
        """Open the approval case of ``case.object_id`` (a service credit's ticket), or bring
        the one open up to date; returns the case id."""
        ...

    def open_deal(self, case: Case) -> str:
        """Open the case of a refused deal (``case.object_id``: the opportunity), or bring the
        one open up to date with the new reason; returns the case id."""
        ...

    def settle_deal(self, opportunity_id: str, now: datetime, by: str, reason: str) -> str | None:
        """Resolve the open case of a deal once it is taken; returns its id."""
        ...

    def open_reconciliation(self, case: Case, key: str) -> str:
        """Open the reconciliation case of the discrepancy ``key``, or bring the one open up to
        date; returns the case id."""
        ...

    def settle_reconciliation(
        self,
        kinds: Collection[str],
        compared: Collection[str],
        found: Collection[str],
        now: datetime,
        by: str,
        reason: str,
    ) -> list[str]:
        """Resolve the open reconciliation cases of these finding kinds, about an object the
        run compared (``"<object type>:<object id>"``), whose discrepancy is not among
        ``found`` (keys); returns their ids."""
        ...

    def open_counts(self) -> dict[str, int]:
        """Open (and retrying) cases per kind."""
        ...
