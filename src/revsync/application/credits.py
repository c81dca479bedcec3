"""Prepaid credits: a wallet per customer, granted here, consumed when invoices are finalized.

A grant may be limited to plans and meters (``applies_to``): it then pays only the part of an
invoice its lines in scope come to (``revsync.domain.invoicing.shares``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from revsync.domain.audit import AuditRecord
from revsync.domain.errors import InvalidField, NotFound
from revsync.domain.invoicing import ZERO, CreditGrant
from revsync.domain.money import Rounding, is_currency, plain, round_money
from revsync.domain.scopes import EVERYTHING, Scope, check_scope, scope_to_data
from revsync.ports.clock import Clock, IdSource
from revsync.ports.repositories import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class Wallet:
    """A customer's prepaid credit: usable balance per currency, and every grant."""

    balances: dict[str, Decimal]
    grants: list[CreditGrant]


class Credits:
    """Grants and balances."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        clock: Clock,
        ids: IdSource,
        meters: Collection[str] = (),
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock
        self._ids = ids
        self._meters = frozenset(meters)  # the meters a grant may be limited to

    def grant(
        self,
        customer_id: str,
        amount: Decimal,
        currency: str,
        *,
        granted_on: date | None,
        expires_on: date | None,
        reason: str,
        actor: str,
        applies_to: Scope = EVERYTHING,
        given: Mapping[str, object] | None = None,
    ) -> CreditGrant:
        """Add prepaid credit to a customer's wallet, limited to ``applies_to`` (every plan it
        names must exist, every meter be configured; ``given``: the scope as sent, so that an
        error names the item's position)."""
        if not is_currency(currency):
            raise InvalidField("currency", f"{currency!r} is not an ISO 4217 currency code")
        if amount <= 0:
            raise InvalidField("amount", "must be positive")
        if amount != round_money(amount, currency, Rounding.DOWN):  # wide context: no overflow
            raise InvalidField(
                "amount", f"{plain(amount)} has more decimals than {currency} allows"
            )
        today = self._clock.now().date()
        granted = granted_on or today
        if expires_on is not None and expires_on <= granted:
            raise InvalidField("expires_on", "must be after the grant date")
        grant = CreditGrant(
            self._ids.new_id("credit"), currency, amount, granted, expires_on, applies_to
        )
        with self._uow() as uow:
            if uow.customers.get(customer_id) is None:
                raise NotFound("customer", customer_id)
            check_scope(
                applies_to,
                given,
                plan_exists=lambda code: uow.plans.latest(code) is not None,
                meters=self._meters,
            )
            uow.credits.add(customer_id, grant, reason, self._clock.now())
            uow.audit.append(
                AuditRecord(
                    self._clock.now(),
                    actor,
                    "credit.granted",
                    "customer",
                    customer_id,
                    None,
                    {
                        "grant": grant.id,
                        "amount": plain(amount),
                        "currency": currency,
                        "expires_on": expires_on.isoformat() if expires_on else None,
                        "reason": reason,
                        "applies_to": scope_to_data(applies_to),
                    },
                )
            )
            uow.commit()
        return grant

    def wallet(self, customer_id: str) -> Wallet:
        """Every grant of the customer with what is left of it, and the balance usable today
        (in the customer's time zone) per currency — limited grants included: each grant says
        what it is limited to."""
        with self._uow(write=False) as uow:
            customer = uow.customers.get(customer_id)
            if customer is None:
                raise NotFound("customer", customer_id)
            grants = uow.credits.grants(customer_id)
        today = self._clock.now().astimezone(ZoneInfo(customer.timezone)).date()
        balances: dict[str, Decimal] = {}
        for grant in grants:
            if grant.expires_on is None or today < grant.expires_on:
                balances[grant.currency] = balances.get(grant.currency, ZERO) + grant.remaining
        return Wallet(balances, grants)
