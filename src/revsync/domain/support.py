"""A customer's context as a support agent needs it on a ticket: the plan and contract, the
renewal, the entitlements and usage against them with where the period is heading, the open
and overdue invoices with their ERP numbers, the dunning level, the health score and revsync's
open cases. Pure: the support sync gathers the facts, this module says them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from revsync.domain.collections import COLLECTIONS_TAG, Policy, Standing

#: the tag on the tickets of a customer flagged as escalating (revsync's own)
ESCALATING_TAG = "revsync_escalating"
#: how much a ticket weighs in the support load, by priority (no priority: normal)
PRIORITY_WEIGHT = {"urgent": 4, "high": 2, "normal": 1, "low": 1}
#: the days a support load counts (and the days before, to tell whether it rises)
LOAD_DAYS = 30


@dataclass(frozen=True, slots=True)
class SupportLoad:
    """The tickets a customer opened in the last :data:`LOAD_DAYS` days, weighted by
    priority, beside the same days before them."""

    tickets: int
    severe: int  # urgent or high
    weight: int
    previous_weight: int

    @classmethod
    def of(cls, recent: Sequence[str | None], previous: Sequence[str | None]) -> SupportLoad:
        """From the priorities of the tickets opened in each window."""
        return cls(
            len(recent),
            sum(1 for p in recent if p in {"urgent", "high"}),
            sum(PRIORITY_WEIGHT.get(p or "normal", 1) for p in recent),
            sum(PRIORITY_WEIGHT.get(p or "normal", 1) for p in previous),
        )

    @property
    def rising(self) -> bool:
        return self.weight > self.previous_weight

    def summary(self) -> str:
        trend = (
            f"rising from {self.previous_weight}"
            if self.rising
            else f"{self.previous_weight} the {LOAD_DAYS} days before"
        )
        return (
            f"{self.tickets} tickets opened in {LOAD_DAYS} days ({self.severe} urgent or high), "
            f"weight {self.weight}, {trend}"
        )


@dataclass(frozen=True, slots=True)
class Allowance:
    """One entitlement with its usage this period: ``limit`` None for a boolean feature;
    ``projected`` is the usage at the period's end at the pace so far."""

    feature: str
    kind: str
    limit: Decimal | None
    used: Decimal | None
    projected: Decimal | None

    def summary(self) -> str:
        if self.limit is None or self.used is None:
            return f"{self.feature}: included"
        share = _percent(self.used, self.limit)
        text = f"{self.feature}: {_number(self.used)} of {_number(self.limit)} ({share})"
        if self.projected is not None and self.kind == "quota":
            over = " — over the limit" if self.projected > self.limit else ""
            text += f", on pace for {_number(self.projected)}{over}"
        return text


@dataclass(frozen=True, slots=True)
class OpenInvoice:
    """An invoice posted to the ERP and not paid."""

    number: str  # revsync's
    erp_number: str
    amount_due: Decimal
    currency: str
    due_date: date | None
    overdue: bool
    dunning_level: str | None

    def summary(self) -> str:
        due = f", due {self.due_date.isoformat()}" if self.due_date else ""
        state = " — OVERDUE" if self.overdue else ""
        level = f" (dunning {self.dunning_level})" if self.dunning_level else ""
        return (
            f"{self.number} / ERP {self.erp_number}: {self.amount_due} {self.currency}"
            f"{due}{state}{level}"
        )


@dataclass(frozen=True, slots=True)
class OpenCase:
    """One of revsync's exception cases about the customer or its invoices."""

    id: str
    kind: str
    title: str


@dataclass(frozen=True, slots=True)
class TicketContext:
    """What revsync tells the support tool about a ticket's customer."""

    customer_id: str
    customer_name: str
    subscription_id: str | None
    plan: str | None  # the plan's name and code
    seats: int
    renewal_date: date | None
    allowances: tuple[Allowance, ...]
    invoices: tuple[OpenInvoice, ...]
    currency: str
    health_score: int
    risks: tuple[str, ...]
    cases: tuple[OpenCase, ...]
    as_of: datetime  # when the usage was read
    support: SupportLoad | None = None
    #: where the customer stands on the collections ladder (None: not on it), and since when
    collections: Standing | None = None
    collections_since: date | None = None

    @property
    def escalating(self) -> bool:
        """Flagged: tickets rising while payments slip or the contract changed."""
        return "escalating" in self.risks

    @property
    def flagged(self) -> bool:
        """Flagged by the collections ladder."""
        return self.collections is not None and self.collections.flagged

    def tags(self) -> tuple[list[str], list[str]]:
        """revsync's tags to add to the ticket and to take off it."""
        add: list[str] = []
        remove: list[str] = []
        for tag, on in ((ESCALATING_TAG, self.escalating), (COLLECTIONS_TAG, self.flagged)):
            (add if on else remove).append(tag)
        return add, remove

    @property
    def overdue_amount(self) -> Decimal:
        return sum((i.amount_due for i in self.invoices if i.overdue), Decimal(0))

    @property
    def dunning_level(self) -> str | None:
        levels = [i.dunning_level for i in self.invoices if i.overdue and i.dunning_level]
        return max(levels) if levels else None

    def fields(self) -> dict[str, Any]:
        """The values of revsync's ticket fields, by role (None clears a field)."""
        return {
            "plan": self.plan,
            "renewal_date": self.renewal_date,
            "overdue_amount": self.overdue_amount,
            "dunning_level": self.dunning_level,
            "health_score": self.health_score,
        }

    def note(self) -> str:
        """The internal note: the context in a few lines an agent reads at a glance."""
        lines = [f"revsync context for {self.customer_name} ({self.customer_id})"]
        if self.subscription_id is None:
            lines.append("Plan: no subscription in service")
        else:
            seats = f", {self.seats} seats" if self.seats else ""
            lines.append(f"Plan: {self.plan} — subscription {self.subscription_id}{seats}")
        renewal = self.renewal_date.isoformat() if self.renewal_date else "none"
        lines.append(f"Renewal: {renewal}")
        lines.append(f"Entitlements this period (usage as of {self.as_of:%Y-%m-%d %H:%M %Z}):")
        lines += [f"  - {a.summary()}" for a in self.allowances] or ["  - none"]
        if self.invoices:
            overdue = self.overdue_amount
            head = (
                f"Open invoices ({overdue} {self.currency} overdue):"
                if overdue
                else ("Open invoices:")
            )
            lines.append(head)
            lines += [f"  - {i.summary()}" for i in self.invoices]
        else:
            lines.append("Open invoices: none")
        risks = f" (risks: {', '.join(self.risks)})" if self.risks else ""
        lines.append(f"Health score: {self.health_score}/100{risks}")
        if self.support is not None:
            lines.append(f"Support: {self.support.summary()}")
        if self.collections is not None and self.collections.level > 0:
            lines.append(f"Collections: {_standing_text(self.collections, self.collections_since)}")
        if self.cases:
            lines.append("Open revsync cases:")
            lines += [f"  - {c.id} {c.kind}: {c.title}" for c in self.cases]
        else:
            lines.append("Open revsync cases: none")
        return "\n".join(lines)

    def digest(self) -> str:
        """Changes when what the ticket is told materially changes — the fields, the plan,
        the allowances, the open invoices, the cases — not with each event of usage or as the
        period goes on (the note's usage figures are as of when it was written)."""
        facts = {
            "fields": self.fields(),
            "subscription": self.subscription_id,
            "seats": self.seats,
            "allowances": [(a.feature, a.kind, a.limit) for a in self.allowances],
            "invoices": [i.summary() for i in self.invoices],
            "cases": [(c.id, c.kind) for c in self.cases],
            "risks": self.risks,
            "tags": self.tags(),
        }
        return hashlib.sha256(json.dumps(facts, default=str).encode()).hexdigest()


def _standing_text(standing: Standing, since: date | None) -> str:
    """Where a customer stands on the collections ladder, in words."""
    text = f"dunning level {standing.level}"
    if since is not None:
        text += f" since {since.isoformat()}"
    restriction = standing.restriction
    if restriction is not None:
        verb = "suspended" if restriction.policy is Policy.SUSPEND else "held to the plan's limits"
        text += f"; {', '.join(restriction.features)} {verb} until paid"
    return text


def projected(used: Decimal, elapsed_days: Decimal, period_days: Decimal) -> Decimal | None:
    """The usage at the period's end at the pace so far (None before a day has passed)."""
    if elapsed_days < 1 or period_days <= 0:
        return None
    return (used * period_days / elapsed_days).quantize(Decimal(1), ROUND_HALF_UP)


def _number(value: Decimal) -> str:
    return f"{value.normalize():,f}"


def _percent(used: Decimal, limit: Decimal) -> str:
    if limit <= 0:
        return "no allowance"
    return f"{(used * 100 / limit).quantize(Decimal(1), ROUND_HALF_UP)}%"


# --- service credits ------------------------------------------------------------------------

#: the ticket fields a service credit is asked with (the agents' fields: revsync reads them)
CREDIT_ROLES = ("credit_amount", "credit_percent", "credit_invoice", "credit_reason")
_MAX_REASON = 500


class CreditRefused(Exception):
    """A service credit that cannot be made; the message says why, for the ticket."""


@dataclass(frozen=True, slots=True)
class CreditAsk:
    """What a ticket asks to credit: an amount, or a percent of the invoice's net total, on
    an invoice named by revsync's number or the ERP's, with a reason."""

    invoice: str
    reason: str
    amount: Decimal | None = None
    percent: Decimal | None = None


def credit_ask(fields: Mapping[str, Any]) -> CreditAsk:
    """Read a credit from a ticket's fields (by role), refusing what is missing or malformed."""
    invoice = str(fields.get("credit_invoice") or "").strip()
    reason = str(fields.get("credit_reason") or "").strip()
    if not invoice:
        raise CreditRefused("name the invoice to credit (its revsync or ERP number)")
    if not reason:
        raise CreditRefused("give the reason for the credit")
    if len(reason) > _MAX_REASON:
        raise CreditRefused(f"the reason is over {_MAX_REASON} characters")
    amount = _decimal(fields.get("credit_amount"), "amount")
    percent = _decimal(fields.get("credit_percent"), "percent")
    if (amount is None) == (percent is None):
        raise CreditRefused("give either an amount or a percent of the invoice, not both")
    if amount is not None and amount <= 0:
        raise CreditRefused("the amount must be more than 0")
    if percent is not None and not 0 < percent <= 100:
        raise CreditRefused("the percent must be more than 0 and at most 100")
    return CreditAsk(invoice, reason, amount, percent)


def credit_lines(
    ask: CreditAsk,
    net_total: Decimal,
    left: Mapping[str, Decimal],
    quantum: Decimal,
    limit: Decimal,
) -> dict[str, Decimal]:
    """The amount of each invoice line to credit: the amount asked, or the percent of the
    invoice's net total (rounded to the currency), spread over the lines in proportion to
    what is left to credit on each (the rounding remainder, a unit at a time, to the lines
    with the largest shares). Refused over what is left on the invoice or over ``limit``."""
    open_lines = {key: value for key, value in left.items() if value > 0}
    available = sum(open_lines.values(), Decimal(0))
    if ask.amount is not None:
        if ask.amount > limit:  # first: a huge amount cannot even be rounded to the currency
            shown = _rounded(ask.amount, quantum)
            raise CreditRefused(f"{shown} is over the limit of {limit} for one service credit")
        if ask.amount != ask.amount.quantize(quantum):
            raise CreditRefused(f"the amount {ask.amount} has more decimals than the currency")
        total = ask.amount.quantize(quantum)
    else:
        assert ask.percent is not None
        total = (net_total * ask.percent / 100).quantize(quantum, ROUND_HALF_UP)
        if total <= 0:
            raise CreditRefused(f"{ask.percent}% of the invoice is nothing to credit")
    if total > limit:
        raise CreditRefused(f"{total} is over the limit of {limit} for one service credit")
    if total > available:
        raise CreditRefused(f"{total} is more than the {available} left to credit on the invoice")
    units = int(total / quantum)
    exact = {key: Decimal(units) * value / available for key, value in open_lines.items()}
    shares = {key: int(value) for key, value in exact.items()}
    by_remainder = sorted(open_lines, key=lambda k: (-(exact[k] - shares[k]), k))
    for key in by_remainder[: units - sum(shares.values())]:
        shares[key] += 1
    return {key: count * quantum for key, count in sorted(shares.items()) if count}


def _rounded(value: Decimal, quantum: Decimal) -> str:
    """The amount in the currency's decimals, or as given when it is too large for that."""
    try:
        return str(value.quantize(quantum))
    except ArithmeticError:
        return str(value)


def _decimal(value: Any, name: str) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        found = Decimal(str(value).strip())
    except ArithmeticError:
        raise CreditRefused(f"the {name} {value!r} is not a number") from None
    if not found.is_finite():
        raise CreditRefused(f"the {name} {value!r} is not a number")
    return found
