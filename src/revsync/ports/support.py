"""The support port: what revsync needs from a support tool, whichever it is. Every adapter
passes the contract suite in ``tests/contract/test_support_contract.py``.

revsync reads organizations and tickets incrementally, and writes only what it owns: the
ticket fields mapped to its roles, comments it makes under its own keys (internal notes, or
public replies), and tags that begin with its prefix. What the support tool and its agents own
— subject, status, assignee, their tags, the fields revsync only reads — is never written.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from revsync.ports.remote import Unavailable

#: a ticket's context as announced through the outbox: ``ticket_id``, ``customer_id``,
#: ``fields`` (by role), ``note`` and ``note_key`` (the support destination writes them)
TICKET_CONTEXT = "ticket.context"
#: a comment revsync makes on a ticket: ``ticket_id``, ``key``, ``body``, ``public``
TICKET_COMMENT = "ticket.comment"


class SupportRefused(Exception):
    """The support tool refused the request (a closed ticket, an invalid value, an unknown
    record, wrong credentials): an operator must look. The message says why, in the tool's
    words."""


class SupportUnavailable(Unavailable):
    """The support tool could not be reached, is busy or rate-limited this client; retry
    later (see :class:`~revsync.ports.remote.Unavailable`)."""


class SupportGone(SupportRefused):
    """The record asked for is not there (deleted, or never was)."""


class OwnershipViolation(SupportRefused):
    """revsync was asked to write a field or tag it does not own (refused before any
    request)."""


@dataclass(frozen=True, slots=True, order=True)
class TicketMark:
    """Where an incremental read of tickets stopped: the last change seen, by update time then
    ticket id (tickets updated in the same second are told apart by id)."""

    updated_at: datetime
    ticket_id: int


@dataclass(frozen=True, slots=True)
class Ticket:
    """One ticket as read: what revsync needs of it, and the values of the mapped fields by
    role (only roles whose field has a value)."""

    id: int
    organization_id: int | None
    subject: str
    status: str  # new, open, pending, hold, solved, closed
    priority: str | None  # low, normal, high, urgent
    tags: frozenset[str]
    fields: Mapping[str, Any]
    created_at: datetime
    updated_at: datetime

    @property
    def mark(self) -> TicketMark:
        return TicketMark(self.updated_at, self.id)

    @property
    def open(self) -> bool:
        """Not yet solved or closed."""
        return self.status not in {"solved", "closed"}


@dataclass(frozen=True, slots=True)
class TicketsRead:
    """The tickets changed since a mark, oldest first, each once, and the mark to go on from
    (the one given when nothing changed)."""

    tickets: list[Ticket]
    mark: TicketMark | None


@dataclass(frozen=True, slots=True)
class Organization:
    """One organization: revsync maps it to a customer by ``external_id`` or by its id."""

    id: int
    name: str
    external_id: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Comment:
    """A comment on a ticket: ``key`` when revsync made it (its marker is in the body)."""

    id: int
    public: bool
    body: str
    key: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CommentResult:
    """What became of a keyed comment: its id, and whether this call made it."""

    key: str
    comment_id: int
    created: bool


@dataclass(frozen=True, slots=True)
class RateBudget:
    """The request budget of the current window as last reported."""

    remaining: int
    limit: int


class Support(Protocol):
    """A support tool revsync works with. Calls raise :class:`SupportRefused` or
    :class:`SupportUnavailable`."""

    async def tickets(self, since: TicketMark | None, *, overlap_seconds: float = 0) -> TicketsRead:
        """Every ticket changed since ``since`` (all when None), oldest first, each in its
        latest state once. A tool whose change times are whole seconds gives the tickets of
        the mark's own second again (one changed later in that second would be missed
        otherwise); ``overlap_seconds`` reads that much before the mark again (changes
        committed late). Callers act idempotently by ticket."""
        ...

    async def ticket(self, ticket_id: int) -> Ticket:
        """One ticket as the tool holds it."""
        ...

    async def organizations(self, since: datetime | None) -> list[Organization]:
        """Every organization changed at or after ``since`` (all when None), oldest first."""
        ...

    async def write_fields(self, ticket_id: int, values: Mapping[str, Any]) -> None:
        """Write revsync-owned fields (by role) on a ticket. Raises
        :class:`OwnershipViolation` before any request for a role revsync does not own."""
        ...

    async def put_comment(
        self, ticket_id: int, key: str, body: str, *, public: bool
    ) -> CommentResult:
        """Add the comment with ``key`` once: when the ticket has one with that key already
        (a retry after a lost answer), return it. An internal note unless ``public``."""
        ...

    async def comments(self, ticket_id: int) -> list[Comment]:
        """The ticket's comments, oldest first."""
        ...

    async def tag(
        self, ticket_id: int, *, add: Collection[str] = (), remove: Collection[str] = ()
    ) -> None:
        """Add and remove revsync's tags on a ticket, leaving the others. Raises
        :class:`OwnershipViolation` before any request for a tag without revsync's prefix."""
        ...

    def budget(self) -> RateBudget | None:
        """The request budget as of the last response (None before any call)."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class TicketRecord:
    """What revsync keeps of a ticket it read: whose it is, its state, and the digest of the
    context it last queued for it (None: none yet)."""

    ticket_id: int
    organization_id: int | None
    customer_id: str | None
    status: str
    priority: str | None
    created_at: datetime
    updated_at: datetime
    context_digest: str | None = None


@dataclass(frozen=True, slots=True)
class CreditRecord:
    """A service credit asked on a ticket: ``requested`` (its approval case open),
    ``refused`` (``explanation`` says why) or ``issued`` (``credit_note_id``; ``announced`` once
    the ticket was told the ERP's number)."""

    ticket_id: int
    customer_id: str
    status: str
    reason: str
    requested_at: datetime
    invoice_id: str | None = None
    lines: Mapping[str, Decimal] | None = None  # line key → amount credited
    total: Decimal | None = None
    currency: str | None = None
    case_id: str | None = None
    credit_note_id: str | None = None
    explanation: str | None = None
    announced: bool = False
    decided_at: datetime | None = None
    decided_by: str | None = None


class SupportStateRepository(Protocol):
    """Where the support sync stands, inside a unit of work."""

    def mark(self, name: str) -> TicketMark | None:
        """Where the named incremental read (``tickets``, ``organizations``) stopped."""
        ...

    def set_mark(self, name: str, mark: TicketMark, at: datetime) -> None: ...

    def tickets(self, ticket_ids: Collection[int]) -> dict[int, TicketRecord]: ...

    def put_ticket(self, record: TicketRecord, at: datetime) -> None:
        """Insert or replace what revsync keeps of the ticket."""
        ...

    def open_tickets(self, customer_id: str) -> list[int]:
        """The customer's tickets not solved or closed, as last read."""
        ...

    def billing_changed(self, since: datetime | None) -> dict[str, datetime]:
        """The customers with open tickets whose billing changed after ``since`` (all of them
        for None) — an ERP posting recorded or its payment state changed, a move on the
        collections ladder — with when it last did."""
        ...

    def priorities(self, customer_id: str, start: datetime, end: datetime) -> list[str | None]:
        """The priorities of the customer's tickets created after ``start``, up to ``end``."""
        ...

    def credits(self, ticket_ids: Collection[int]) -> dict[int, CreditRecord]: ...

    def add_credit(self, record: CreditRecord) -> None:
        """Record a credit asked on a ticket (one per ticket)."""
        ...

    def credit_of_case(self, case_id: str) -> CreditRecord | None: ...

    def decide_credit(self, record: CreditRecord) -> bool:
        """Store the decision on a requested credit (its status, note, explanation, who and
        when); False when it was decided already (nothing changed)."""
        ...

    def credits_to_announce(self) -> list[CreditRecord]:
        """Issued credits whose ticket was not told yet."""
        ...

    def set_announced(self, ticket_id: int) -> None: ...
