"""What a golden cell does and what it is compared on, as plain data both sides read.

A cell is a list of timed actions (a customer put, a subscription made, usage sent, an
amendment, a grant, a billing run, a look at the upcoming invoice…). The world plays them on
the real revsync (``tests/golden/world.py``); the oracle plays them on its own model
(``tests/golden/oracle.py``). Both answer in the same terms: documents (invoices and credit
notes, with every line, tax and total) and probes (what a surface said at a moment). This
module imports nothing from revsync, so the oracle can use it and stay independent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

# --- actions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """Something done at a clock instant; same-instant actions run in ``RANK`` order, then in
    the order the cell lists them."""

    at: datetime


@dataclass(frozen=True)
class PutCustomer(Action):
    customer: str
    currency: str
    timezone: str = "UTC"
    country: str | None = None
    exempt: bool = False
    tenants: tuple[str, ...] = ()
    parent: str | None = None


@dataclass(frozen=True)
class Subscribe(Action):
    subscription: str
    customer: str
    plan: str
    start: date
    seats: int = 1
    anchor: date | None = None
    trial_end: date | None = None
    ends: date | None = None
    coupons: tuple[tuple[str, date], ...] = ()
    include_children: bool = False


@dataclass(frozen=True)
class Usage(Action):
    """One event; ``event_id`` is unique in its world."""

    event_id: str
    tenant: str
    type: str
    time: datetime
    data: Mapping[str, Any] = field(default_factory=dict)
    source: str = "app://golden"


@dataclass(frozen=True)
class Amend(Action):
    subscription: str
    change: str
    effective: date
    plan: str | None = None
    seats: int | None = None
    trial_end: date | None = None
    ends: date | None = None


@dataclass(frozen=True)
class Grant(Action):
    customer: str
    amount: Decimal
    currency: str
    granted_on: date | None = None
    expires_on: date | None = None
    #: the scope (``applies_to``) as (target, names) pairs: ``(("meters", ("g_sum",)),)``;
    #: empty: the whole invoice
    applies_to: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class VoidEvents(Action):
    """A usage correction voiding events of the cell (by id, source ``app://golden``)."""

    event_ids: tuple[str, ...]


@dataclass(frozen=True)
class Bill(Action):
    """A billing run as of a date (every subscription of the world)."""

    as_of: date


@dataclass(frozen=True)
class Sweep(Action):
    """The thresholds watcher looks at the usage ingested since its last look."""


@dataclass(frozen=True)
class Pick:
    """An invoice of a subscription by kind and period start."""

    subscription: str
    kind: str
    start: date


@dataclass(frozen=True)
class Post(Action):
    """The ERP took the invoice (its receipt recorded): ``posted``."""

    pick: Pick


@dataclass(frozen=True)
class Pay(Action):
    """The ERP's payment sync found the invoice paid."""

    pick: Pick


@dataclass(frozen=True)
class VoidInvoice(Action):
    pick: Pick
    tag: str


@dataclass(frozen=True)
class CreditLines(Action):
    """A credit note on the invoice's charged lines (amount above 0): the first of them by key,
    or all. Each is credited ``share`` of what the invoice billed on it, rounded down to the
    minor unit, or — ``share`` None — what is left of it after earlier notes."""

    pick: Pick
    which: str  # "first" or "all"
    share: Decimal | None
    tag: str


@dataclass(frozen=True)
class LookUpcoming(Action):
    """``GET /v1/customers/{id}/upcoming-invoice``."""

    customer: str
    tag: str


@dataclass(frozen=True)
class LookUsage(Action):
    """``GET /v1/customers/{id}/usage`` over local days ``[start, end)``, one total."""

    customer: str
    meter: str
    start: date
    end: date
    tag: str


#: same-instant order: set-up first, then what changes usage and terms, then runs, then looks
RANK: dict[type[Action], int] = {
    PutCustomer: 0,
    Subscribe: 1,
    Grant: 2,
    Usage: 3,
    VoidEvents: 4,
    Amend: 5,
    Bill: 6,
    Sweep: 7,
    Post: 8,
    Pay: 9,
    LookUpcoming: 10,
    LookUsage: 10,
    CreditLines: 11,
    VoidInvoice: 11,
}


def handler_name(action: Action) -> str:
    """The name of the method that plays an action: ``_do_put_customer`` for ``PutCustomer``."""
    return "_do_" + re.sub(r"(?<!^)(?=[A-Z])", "_", type(action).__name__).lower()


def timeline(actions: list[Action]) -> list[Action]:
    """The actions in the order they happen (stable for same-instant, same-rank actions)."""
    indexed = sorted(
        enumerate(actions), key=lambda pair: (pair[1].at, RANK[type(pair[1])], pair[0])
    )
    return [action for _, action in indexed]


def noon(day: date) -> datetime:
    """12:00 UTC on ``day``."""
    return datetime.combine(day, time(12), UTC)


def instant(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), UTC)


# --- world settings --------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """What every cell of one world shares (revsync's configuration)."""

    rounding: str = "half_even"
    grace_hours: int = 0
    late_usage: str = "next_invoice"
    #: ``billing.consolidate``: a customer's invoices a run finalizes with one issue date and
    #: currency are finalized as one consolidated invoice
    consolidate: bool = False
    #: country → tax code → percent
    tax: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()
    #: cells with the same settings but another partition play in another world (worlds stay
    #: small where a surface reads every subscription of the database)
    partition: str = ""

    def tax_table(self) -> dict[str, dict[str, str]]:
        return {country: dict(codes) for country, codes in self.tax}


# --- what is compared ------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """A line as compared: key, quantity, unit amount, amount (rounded), tax code, and the
    proration fraction its description must show (``None``: none shown)."""

    key: str
    quantity: Decimal
    unit: Decimal
    amount: Decimal
    tax_code: str
    prorated: tuple[int, int] | None = None


@dataclass(frozen=True)
class Doc:
    """An invoice or credit note as compared. ``ref`` names it apart from revsync's ids:
    ``<subscription>/<kind>/<period start>`` (an interim one adds its threshold), a credit
    note ``<ref of the invoice>/note-<n>``, a consolidated invoice
    ``<its first part's subscription>/consolidated/<period start>/<issue date>`` — its lines
    keyed ``<the part's ref>:<the part's line key>``."""

    ref: str
    kind: str
    period: tuple[date, date]
    status: str
    issue_date: date
    lines: tuple[Line, ...]
    taxes: tuple[tuple[str, Decimal, Decimal], ...]  # code, base, amount (nonzero ones)
    totals: tuple[
        Decimal, Decimal, Decimal, Decimal, Decimal
    ]  # subtotal, discount, tax, total, credits
    series: str | None  # "INV", "CN", or None while a draft (or billed on a consolidated one)
    #: the ref of the consolidated invoice it is billed on (``billing.consolidate``), if any
    consolidated_into: str | None = None


def doc_ref(subscription: str, kind: str, start: date, extra: str = "") -> str:
    return f"{subscription}/{kind}/{start.isoformat()}" + (f"/{extra}" if extra else "")


@dataclass
class Outcome:
    """What one side found for a cell: its documents by ref, and what each look saw."""

    docs: dict[str, Doc] = field(default_factory=dict)
    #: tag → upcoming drafts, a usage figure, a credit note's ref, or a refusal ("refused")
    looks: dict[str, Any] = field(default_factory=dict)
    #: what prepaid credit is left per customer and currency at the end
    wallets: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    #: (document ref, usage line key) → the meter's value behind the line and the ids of the
    #: events that make it (the oracle's side only: the world checks its lineage against it)
    lineage: dict[tuple[str, str], tuple[Decimal, frozenset[str]]] = field(default_factory=dict)
    #: the lines of a carried meter among those: what the value behind them is made of
    held: dict[tuple[str, str], Held] = field(default_factory=dict)


@dataclass(frozen=True)
class Held:
    """A carried meter's line: the value carried into its days (from earlier events), the value
    held at their end, the customer's zone, the days and the usage period's length. Its figure
    is the average: value-days / ``period_days``; its lineage the days' own events."""

    carried_in: Decimal
    end_value: Decimal
    zone: str
    days: tuple[date, date]
    period_days: int
