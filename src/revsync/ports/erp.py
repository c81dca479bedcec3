"""The ERP port: what revsync needs from an ERP, whichever it is. Every adapter passes the
contract suite in ``tests/contract/test_erp_contract.py``."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from revsync.domain.deals import SaleLink
from revsync.domain.reconciliation import LedgerEntry


class ErpRefused(Exception):
    """The ERP refused the document (a business rule, a closed period, a total that differs):
    an operator must look. The message says why, in the ERP's words where it gave some."""


class ErpUnavailable(Exception):
    """The ERP could not be reached or did not answer; ``sent`` tells whether the request may
    have arrived (then the outcome is unknown until the document is looked up). ``outage``
    is False when the ERP answered with a failure of its own (a server error on this request):
    a retry may help, but it is not the ERP being away."""

    def __init__(self, message: str, *, sent: bool, outage: bool = True) -> None:
        super().__init__(message)
        self.sent = sent
        self.outage = outage


@dataclass(frozen=True, slots=True)
class ErpParty:
    """The customer as the ERP knows it: revsync creates it once under ``code`` and never
    changes it afterwards (the ERP owns its fields)."""

    code: str
    name: str
    country: str | None = None


@dataclass(frozen=True, slots=True)
class ErpLine:
    """One invoice line, ready for the ledger."""

    description: str
    product: str
    account: str
    quantity: Decimal
    unit_price: Decimal
    taxes: tuple[str, ...] = ()  # the ERP's tax names
    defer_from: date | None = None  # revenue recognised over [defer_from, defer_to]
    defer_to: date | None = None
    #: the ERP's sale order line this line invoices (``ErpSale.lines``), if it invoices one
    sale_line: str | None = None


@dataclass(frozen=True, slots=True)
class ErpDocument:
    """An invoice or credit note to post, with the totals the ERP must arrive at."""

    key: str  # the idempotency key, kept on the ERP document
    number: str  # revsync's number, shown on the ERP document
    party: ErpParty
    currency: str
    invoice_date: date
    lines: tuple[ErpLine, ...]
    untaxed: Decimal
    tax: Decimal
    total: Decimal
    #: an operator approved posting it in the next open period when its own is closed
    approved: bool = False


@dataclass(frozen=True, slots=True)
class ErpPosting:
    """A posted document in the ERP."""

    remote_id: str
    number: str
    party: str  # the party code
    invoice_date: date
    rolled_forward_from: date | None = None  # the date revsync asked for, when it was closed
    #: posted before this call: found by its idempotency key (the same posting all the same)
    found: bool = field(default=False, compare=False)


@dataclass(frozen=True, slots=True)
class ErpSaleLine:
    """One line of a sale order: what revsync sold under ``key`` (``"<plan>:<charge>"``)."""

    key: str
    description: str
    product: str  # the ERP's product code (the posting rules')
    quantity: Decimal
    unit_price: Decimal


@dataclass(frozen=True, slots=True)
class ErpSaleOrder:
    """A sale order to place: what a won deal sold, to be invoiced by revsync's billing (the
    ERP makes no invoice of its own for it)."""

    key: str  # the idempotency key, kept on the ERP's sale
    reference: str  # revsync's reference, shown on the sale (the CRM opportunity)
    party: ErpParty
    currency: str
    sale_date: date
    description: str
    lines: tuple[ErpSaleLine, ...]


@dataclass(frozen=True, slots=True)
class ErpSale:
    """A sale order placed in the ERP: its id, number and state, and its lines' ids by the
    key revsync gave each line."""

    remote_id: str
    number: str
    state: str  # the ERP's word (Tryton: quotation, confirmed, processing, done…)
    lines: tuple[tuple[str, str], ...]  # (line key, the ERP's line id), in the order's order
    #: placed before this call: found by its idempotency key (the same sale all the same)
    found: bool = field(default=False, compare=False)


@dataclass(frozen=True, slots=True)
class ErpInvoiceState:
    """Where a posted document stands in the ERP."""

    remote_id: str
    paid: bool
    amount_to_pay: Decimal
    overdue: bool
    due_date: date | None
    dunning_level: str | None = None
    number: str | None = None  # the ERP's number
    total: Decimal | None = None  # as the ERP holds it


@dataclass(frozen=True, slots=True)
class ErpPeriod:
    """A fiscal period of the ERP (``end`` inclusive)."""

    name: str
    start: date
    end: date
    state: str  # open, closed, locked


class Erp(Protocol):
    """An ERP revsync posts to."""

    async def post(self, document: ErpDocument) -> ErpPosting:
        """Post the document once: posting the same key again returns the first posting.
        Raises :class:`ErpRefused` or :class:`ErpUnavailable`: ``post_many([document])``, its
        refusal raised."""
        ...

    async def post_many(self, documents: Sequence[ErpDocument]) -> list[ErpPosting | ErpRefused]:
        """Post ``documents`` in the given order: the ERP numbers them in that order. Each one
        is idempotent by its key as with :meth:`post` (one posted already comes back as its
        posting, a draft an earlier attempt left is finished, a cancelled one is refused), and
        its totals and period are checked as :meth:`post` checks them.

        The result is aligned with a prefix of ``documents``: a posting for each document up to
        the first refused one, which comes back as its :class:`ErpRefused` and ends the list.
        The documents after it are not posted (drafts made for them may be left, to be finished
        by key later). Raises :class:`ErpUnavailable` when the ERP does not answer, ``sent``
        when any request may have changed it (some of the documents may then be posted)."""
        ...

    async def find(self, key: str) -> ErpPosting | None:
        """The posted document with this idempotency key, if any."""
        ...

    async def place_sale(self, order: ErpSaleOrder) -> ErpSale:
        """Place the sale order once, confirmed and ready to be invoiced by revsync (the ERP
        invoices none of it itself; invoices posted with a line's ``sale_line`` are linked to
        it): placing the same key again returns the first sale, finishing one an interrupted
        attempt left unconfirmed. Raises :class:`ErpRefused` or :class:`ErpUnavailable`."""
        ...

    async def find_sale(self, key: str) -> ErpSale | None:
        """The placed sale order with this idempotency key, if any."""
        ...

    async def states(self, remote_ids: Sequence[str], today: date) -> dict[str, ErpInvoiceState]:
        """Payment state of posted documents (unknown ids are left out)."""
        ...

    async def settle(self, invoice_id: str, credit_note_ids: Sequence[str]) -> Decimal:
        """Apply posted credit notes to the invoice they credit, so that the ERP neither asks
        the customer for the credited amount nor dunns it; when they cover the invoice, both
        are closed. Idempotent; returns what is left to pay on the invoice."""
        ...

    async def ledger(self, since: date) -> list[LedgerEntry]:
        """Every customer invoice and credit note dated ``since`` or later, and every draft,
        as the ERP holds it (for reconciliation)."""
        ...

    async def periods(self, since: date) -> list[ErpPeriod]:
        """The standard fiscal periods ending on or after ``since``, in date order, with their
        state (the open ones take postings)."""
        ...

    async def run_collections(self, today: date) -> int:
        """Raise the dunnings that are due (reminders for overdue invoices); returns how many
        new ones there are."""
        ...

    async def run_deferrals(self) -> int:
        """Post the revenue recognition that is due; returns how many deferrals ran."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class PostingRecord:
    """What revsync knows of an invoice's life in the ERP."""

    invoice_id: str
    remote_id: str
    number: str
    party: str
    invoice_date: date
    rolled_forward_from: date | None
    paid: bool = False
    amount_to_pay: Decimal | None = None
    due_date: date | None = None
    overdue: bool = False
    dunning_level: str | None = None


class PostingRepository(Protocol):
    """ERP postings, inside a unit of work."""

    def record(self, posting: PostingRecord, at: datetime) -> bool:
        """Record a posting; False when the invoice already has one (kept as it is)."""
        ...

    def get(self, invoice_id: str) -> PostingRecord | None: ...

    def many(self, invoice_ids: Sequence[str]) -> dict[str, PostingRecord]:
        """The postings of these invoices, by invoice id (those not posted are left out)."""
        ...

    def unpaid(self) -> list[PostingRecord]:
        """Postings not known to be paid, to ask the ERP about."""
        ...

    def credits_to_settle(self) -> list[tuple[PostingRecord, list[str]]]:
        """Each unpaid posted invoice that has posted credit notes, with the notes' ERP ids."""
        ...

    def overdue_by_customer(self) -> dict[str, list[PostingRecord]]:
        """The overdue, unpaid postings of invoices that bill (not credit notes, not voided),
        by customer id."""
        ...

    def update(self, posting: PostingRecord, at: datetime) -> None:
        """Store what a payment sync read back."""
        ...


class SaleLinks(Protocol):
    """The sale orders placed for deals, for the ERP destination to link invoices to them."""

    def of(self, subscription_ids: Collection[str]) -> dict[str, list[SaleLink]]:
        """The sale lines placed for these subscriptions' deals, by subscription id (those
        without are left out)."""
        ...
