"""The CRM side of revsync, as pure rules: which fields each system owns, how a CRM contract
reads as subscription terms and which amendments a changed contract makes, and the signals
revsync pushes back (adoption against entitlement, billing status, health and risk, renewal
readiness, expansion) — read over every subscription of the customer in service, and the
usage of its subsidiaries where a subscription bills them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from revsync.domain.errors import InvalidField
from revsync.domain.pricing import ChargeModel, Plan
from revsync.domain.subscriptions import Amendment, Change, Subscription, Terms
from revsync.domain.support import SupportLoad

#: contract statuses that bill
ACTIVE_CONTRACT = "Activated"


class Owner(StrEnum):
    """Which system owns a CRM field: the CRM's fields are read, revsync's are written."""

    CRM = "crm"
    REVSYNC = "revsync"


@dataclass(frozen=True, slots=True)
class FieldMap:
    """Every CRM field revsync reads or writes, with its owner. revsync writes a field only if
    it owns it; it reads the CRM's."""

    owners: Mapping[str, Owner]  # "Account.Name" → owner

    def writable(self, sobject: str) -> frozenset[str]:
        """The fields of ``sobject`` revsync may write."""
        prefix = f"{sobject}."
        return frozenset(
            name.removeprefix(prefix)
            for name, owner in self.owners.items()
            if owner is Owner.REVSYNC and name.startswith(prefix)
        )

    def check_write(self, sobject: str, fields: Iterable[str]) -> None:
        """Raise naming the first field revsync does not own."""
        allowed = self.writable(sobject)
        for name in fields:
            if name not in allowed:
                owner = self.owners.get(f"{sobject}.{name}")
                why = "the CRM owns it" if owner is Owner.CRM else "it is not in the field map"
                raise InvalidField(f"{sobject}.{name}", f"revsync may not write it: {why}")


@dataclass(frozen=True, slots=True)
class ContractTerms:
    """A CRM contract as revsync reads it."""

    contract_id: str
    account_id: str
    status: str
    plan: str | None
    seats: int | None
    start: date | None
    term_months: int | None
    end: date | None
    renewal_date: date | None
    owner_id: str | None
    amendment_date: date | None

    @property
    def active(self) -> bool:
        return self.status == ACTIVE_CONTRACT


def parse_date(value: Any, name: str) -> date | None:
    """A CRM date field (ISO text, a date, or empty)."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise InvalidField(name, f"is not a date (got {value!r})") from None


def parse_number(value: Any, name: str) -> Decimal | None:
    """A number the CRM may send as 12.5 or "12.5", exactly as written (None when empty)."""
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise InvalidField(name, f"is not a number (got {value!r})") from None
    if not number.is_finite():
        raise InvalidField(name, f"is not a number (got {value!r})")
    return number


def parse_count(value: Any, name: str) -> int | None:
    """A whole, non-negative number the CRM may send as 12, 12.0 or "12"."""
    number = parse_number(value, name)
    if number is None:
        return None
    if number != number.to_integral_value() or number < 0:
        raise InvalidField(name, f"must be a whole number of at least 0 (got {value!r})")
    return int(number)


def subscription_id(contract_id: str) -> str:
    """The subscription revsync keeps for a CRM contract."""
    return f"crm-{contract_id}"


@dataclass(frozen=True, slots=True)
class ContractSeen:
    """A contract's plan and seats as the last pull read them."""

    plan: str | None
    seats: int | None


def contract_amendments(
    subscription: Subscription,
    terms: ContractTerms,
    plan: Plan | None,
    effective: date,
    seen: ContractSeen | None = None,
) -> list[Amendment]:
    """What a changed contract asks of its subscription, from ``effective`` on: a plan change,
    a seat change, and a cancellation when the contract is no longer active (the contract's end
    date does not end the subscription: renewals are the CRM's business and arrive as changes).
    Nothing when the subscription already matches. With ``seen`` (the contract as last read),
    the plan and seats count only when the contract changed them: the subscription may have
    moved since without the contract (an add-on deal adding seats), and an edit of something
    else on the contract does not take it back."""
    current = subscription.current
    found: list[Amendment] = []
    plan_changed = seen is None or terms.plan != seen.plan
    seats_changed = seen is None or terms.seats != seen.seats
    if plan is not None and plan.code != current.plan_code and plan_changed:
        found.append(Amendment(Change.PLAN_CHANGE, effective, plan=(plan.code, plan.version)))
    if terms.seats is not None and terms.seats != current.seats and seats_changed:
        found.append(Amendment(Change.SEAT_CHANGE, effective, seats=terms.seats))
    if not terms.active and current.ends is None:
        found.append(Amendment(Change.CANCEL, effective, ends=effective))
    return found


# --- signals ---------------------------------------------------------------------------


class Trend(StrEnum):
    UP = "up"
    FLAT = "flat"
    DOWN = "down"
    NEW = "new"  # no usage in the period before


#: a change of less than this share between periods is flat
_FLAT_BAND = Decimal("0.10")


def entitlement(plan: Plan, meter: str) -> Decimal | None:
    """The usage a plan includes for a meter: an allowance's included units (or a package's
    free units), or a first tier that costs nothing. None when the plan prices every unit (or
    does not use the meter)."""
    for charge in plan.charges:
        if charge.meter != meter:
            continue
        free = charge.model in (ChargeModel.ALLOWANCE, ChargeModel.PACKAGE)
        if free and charge.included is not None:
            return charge.included
        if charge.model in (ChargeModel.GRADUATED, ChargeModel.VOLUME) and charge.tiers:
            first = charge.tiers[0]
            if first.unit_amount == 0 and first.flat_amount == 0 and first.up_to is not None:
                return first.up_to
    return None


def in_service(
    subscriptions: Iterable[Subscription], today: date
) -> list[tuple[Subscription, Terms]]:
    """The subscriptions in service on ``today`` (started, not ended; a trial counts), each with
    the terms in force that day, in the order they started (then by id). A subscription that
    ended or has not started yet brings neither adoption nor a renewal."""
    found = []
    for subscription in subscriptions:
        terms = subscription.terms_on(today)
        if terms is not None and (terms.ends is None or today < terms.ends):
            found.append((subscription, terms))
    return sorted(found, key=lambda pair: (pair[0].start, pair[0].id))


@dataclass(frozen=True, slots=True)
class MeterScope:
    """What the adoption of one meter reads: whose usage counts, and what the plans include."""

    meter: str
    customer_ids: tuple[str, ...]
    included: Decimal | None


def metered(plan: Plan) -> list[str]:
    """The meters a plan prices, in the order of its charges, each once."""
    return list(dict.fromkeys(c.meter for c in plan.charges if c.meter is not None))


def adoption_scopes(
    customer_id: str,
    covered: Sequence[tuple[Subscription, Plan]],
    descendants: Sequence[str],
) -> list[MeterScope]:
    """One scope per meter that the plan of any subscription in ``covered`` prices (in the order
    of ``covered``, then of each plan's charges).

    Whose usage counts: the customer's, and its ``descendants``' when a subscription whose plan
    prices the meter bills them (``include_children``) — as billing counts it; each account
    once, so an event is never counted twice. What is included: the sum over the subscriptions
    of what each plan includes for the meter (``entitlement``); None when no plan includes any
    (every unit is priced): the meter then shows usage without a share."""
    children: dict[str, bool] = {}
    included: dict[str, Decimal | None] = {}
    for subscription, plan in covered:
        for meter in metered(plan):
            children[meter] = children.get(meter, False) or subscription.include_children
            more, total = entitlement(plan, meter), included.get(meter)
            included[meter] = total if more is None else more + (total or Decimal(0))
    return [
        MeterScope(
            meter,
            (customer_id, *descendants) if bills_children else (customer_id,),
            included[meter],
        )
        for meter, bills_children in children.items()
    ]


def first_renewal(subscriptions: Iterable[Subscription], today: date) -> date | None:
    """The renewal that comes first, on or after ``today``, among ``subscriptions`` (the
    customer's in service): readiness is about the next contract to renew."""
    upcoming = [
        s.renewal_date
        for s in subscriptions
        if s.renewal_date is not None and s.renewal_date >= today
    ]
    return min(upcoming, default=None)


def trend(current: Decimal, previous: Decimal) -> Trend:
    """How usage moved from the previous period to this one."""
    if previous == 0:
        return Trend.NEW if current > 0 else Trend.FLAT
    change = (current - previous) / previous
    if change > _FLAT_BAND:
        return Trend.UP
    if change < -_FLAT_BAND:
        return Trend.DOWN
    return Trend.FLAT


@dataclass(frozen=True, slots=True)
class MeterAdoption:
    """Usage of one meter in the last complete period against what the plans include (the sum
    over the customer's subscriptions in service, see ``adoption_scopes``)."""

    meter: str
    used: Decimal
    previous: Decimal
    entitlement: Decimal | None

    @property
    def share(self) -> Decimal | None:
        """used / entitlement, to two decimals (None without an entitlement)."""
        if not self.entitlement:
            return None
        return (self.used / self.entitlement).quantize(Decimal("0.01"))

    @property
    def trend(self) -> Trend:
        return trend(self.used, self.previous)

    def summary(self) -> str:
        """``api_calls 1,250 of 1,000 (125%, up)`` — for a CRM text field."""
        used = f"{self.used.normalize():,f}"
        if self.entitlement:
            share = self.share or Decimal(0)
            of = f"{self.entitlement.normalize():,f}"
            return f"{self.meter} {used} of {of} ({share * 100:.0f}%, {self.trend.value})"
        return f"{self.meter} {used} ({self.trend.value})"


@dataclass(frozen=True, slots=True)
class BillingStatus:
    """The customer's last invoice and whether anything is overdue."""

    last_number: str | None
    last_total: Decimal | None
    currency: str | None
    last_status: str | None
    overdue: bool
    dunning_level: str | None

    def summary(self) -> str:
        if self.last_number is None:
            return "no invoice yet"
        last = f"{self.last_number} {self.last_total} {self.currency} {self.last_status or ''}"
        if not self.overdue:
            return last.strip()
        level = f" (dunning {self.dunning_level})" if self.dunning_level else ""
        return f"{last.strip()}; an invoice is overdue{level}"


class Readiness(StrEnum):
    NOT_DUE = "not_due"  # renewal beyond the window (or none)
    READY = "ready"
    AT_RISK = "at_risk"


class Risk(StrEnum):
    OVERDUE = "overdue"
    DUNNING = "dunning"
    LOW_ADOPTION = "low_adoption"
    DECLINING_USAGE = "declining_usage"
    RENEWAL_AT_RISK = "renewal_at_risk"
    SUPPORT_LOAD = "support_load"  # many or severe tickets lately
    ESCALATING = "escalating"  # tickets rising while payments slip or the contract changed


#: adoption below this share of the entitlement is low
LOW_ADOPTION = Decimal("0.30")
#: how much each risk takes off a health score of 100
_PENALTY = {
    Risk.OVERDUE: 30,
    Risk.DUNNING: 15,
    Risk.LOW_ADOPTION: 25,
    Risk.DECLINING_USAGE: 15,
    Risk.RENEWAL_AT_RISK: 15,
    Risk.SUPPORT_LOAD: 10,
    Risk.ESCALATING: 20,
}
#: a support load this heavy is a risk (e.g. two urgent tickets, or eight normal ones)
HEAVY_SUPPORT = 8
#: a rising load flags a customer whose payments slip or contract changed from this weight
ESCALATION_WEIGHT = 3


@dataclass(frozen=True, slots=True)
class Signals:
    """What revsync tells the CRM about one customer."""

    customer_id: str
    account_id: str
    adoption: tuple[MeterAdoption, ...]
    billing: BillingStatus
    renewal_date: date | None
    readiness: Readiness
    risks: tuple[Risk, ...]

    @property
    def health_score(self) -> int:
        """100 less a penalty per risk, at least 0."""
        return max(0, 100 - sum(_PENALTY[r] for r in self.risks))

    def account_values(self, fields: Mapping[str, str]) -> dict[str, Any]:
        """The values of the revsync-owned account fields (``fields``: signal → CRM field)."""
        values: dict[str, Any] = {
            "adoption": "; ".join(a.summary() for a in self.adoption) or "no metered usage",
            "billing_status": self.billing.summary(),
            "last_invoice_amount": self.billing.last_total,
            "overdue": self.billing.overdue,
            "health_score": self.health_score,
            "risk_flags": ";".join(r.value for r in self.risks) or None,  # empty is null there
            "renewal_readiness": self.readiness.value,
        }
        return {fields[name]: value for name, value in values.items() if name in fields}


def assess(
    adoption: Sequence[MeterAdoption],
    billing: BillingStatus,
    renewal_date: date | None,
    today: date,
    renewal_window_days: int,
    support: SupportLoad | None = None,
    contract_changed: bool = False,
) -> tuple[Readiness, tuple[Risk, ...]]:
    """Renewal readiness and risk flags from adoption, billing, the renewal date and, where a
    support tool is connected, the support load: a heavy one is a risk, and one rising while an
    invoice is overdue or the contract changed lately flags the customer as escalating."""
    risks: list[Risk] = []
    if billing.overdue:
        risks.append(Risk.OVERDUE)
    if billing.dunning_level:
        risks.append(Risk.DUNNING)
    shares = [a.share for a in adoption if a.share is not None]
    if shares and max(shares) < LOW_ADOPTION:
        risks.append(Risk.LOW_ADOPTION)
    if adoption and all(a.trend is Trend.DOWN for a in adoption):
        risks.append(Risk.DECLINING_USAGE)
    if support is not None:
        if support.weight >= HEAVY_SUPPORT:
            risks.append(Risk.SUPPORT_LOAD)
        slipping = billing.overdue or contract_changed
        if support.rising and support.weight >= ESCALATION_WEIGHT and slipping:
            risks.append(Risk.ESCALATING)
    due = renewal_date is not None and 0 <= (renewal_date - today).days <= renewal_window_days
    if not due:
        return Readiness.NOT_DUE, tuple(risks)
    if risks:
        return Readiness.AT_RISK, (*risks, Risk.RENEWAL_AT_RISK)
    return Readiness.READY, tuple(risks)


def meter_adoption(
    scope: MeterScope, history: Sequence[tuple[date, Decimal]]
) -> tuple[MeterAdoption, list[date]]:
    """A meter's adoption from its monthly ``history`` (oldest first, the last complete month
    last), and the run of months above what the plans include (empty without an entitlement)."""
    used = history[-1][1] if history else Decimal(0)
    previous = history[-2][1] if len(history) > 1 else Decimal(0)
    adoption = MeterAdoption(scope.meter, used, previous, scope.included)
    streak = expansion_streak(history, scope.included) if scope.included is not None else []
    return adoption, streak


def expansion_streak(history: Sequence[tuple[date, Decimal]], entitlement: Decimal) -> list[date]:
    """The periods, most recent last, of the unbroken run of periods at the end of ``history``
    (oldest first) whose usage exceeded ``entitlement``."""
    streak: list[date] = []
    for start, used in history:
        streak = [*streak, start] if used > entitlement else []
    return streak
