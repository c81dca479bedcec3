"""Canonical customers and the identity map: create, replace, look up."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from revsync.domain.audit import AuditRecord
from revsync.domain.errors import InvalidField, NotFound
from revsync.domain.identity import (
    Customer,
    ExternalRef,
    System,
    ensure_no_cycle,
    ensure_refs_free,
    new_customer,
)
from revsync.ports.clock import Clock
from revsync.ports.repositories import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class PutCustomer:
    """Create or replace a customer with exactly these fields and references."""

    customer_id: str
    name: str
    currency: str
    timezone: str
    parent_id: str | None
    refs: Mapping[System, Sequence[str]]
    actor: str
    country: str | None = None
    tax_exempt: bool = False


@dataclass(frozen=True, slots=True)
class PutOutcome:
    """What a put did: the stored customer, whether it was new, how many unmapped events it took."""

    customer: Customer
    created: bool
    changed: bool
    attached_events: int


def customer_snapshot(customer: Customer) -> dict[str, Any]:
    """A plain-data view of a customer, as the audit log keeps it."""
    return {
        "id": customer.id,
        "name": customer.name,
        "currency": customer.currency,
        "timezone": customer.timezone,
        "parent_id": customer.parent_id,
        "refs": [str(ref) for ref in customer.refs],
        "country": customer.country,
        "tax_exempt": customer.tax_exempt,
    }


class Customers:
    """Handlers for customer commands and queries."""

    def __init__(self, unit_of_work: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = unit_of_work
        self._clock = clock

    def put(self, command: PutCustomer) -> PutOutcome:
        """Validate and store; refuse references owned by another customer (Conflict)."""
        customer = new_customer(
            customer_id=command.customer_id,
            name=command.name,
            currency=command.currency,
            timezone=command.timezone,
            parent_id=command.parent_id,
            refs=command.refs,
            country=command.country,
            tax_exempt=command.tax_exempt,
        )
        with self._uow() as uow:
            uow.customers.lock_identity()
            before = uow.customers.get(customer.id)
            if before == customer:
                return PutOutcome(customer, created=False, changed=False, attached_events=0)
            if customer.parent_id is not None:
                if uow.customers.get(customer.parent_id) is None:
                    raise InvalidField("parent_id", f"no customer {customer.parent_id!r}")
                ensure_no_cycle(customer.id, customer.parent_id, uow.customers.parent_of)
            ensure_refs_free(customer.id, uow.customers.owners_of(customer.refs))
            uow.customers.save(customer)
            known = set(before.refs_in(System.PRODUCT)) if before else set()
            new_tenants = [t for t in customer.refs_in(System.PRODUCT) if t not in known]
            attached = uow.usage.attach_unmapped(new_tenants, customer.id)
            now = self._clock.now()
            for tenant in new_tenants:
                uow.cases.close_unmapped(
                    tenant, now, command.actor, f"tenant mapped to customer {customer.id}"
                )
            uow.audit.append(
                AuditRecord(
                    at=self._clock.now(),
                    actor=command.actor,
                    action="customer.created" if before is None else "customer.updated",
                    object_type="customer",
                    object_id=customer.id,
                    before=None if before is None else customer_snapshot(before),
                    after={**customer_snapshot(customer), "attached_unmapped_events": attached},
                )
            )
            uow.commit()
        return PutOutcome(customer, created=before is None, changed=True, attached_events=attached)

    def get(self, customer_id: str) -> Customer:
        """The customer, or :class:`NotFound`."""
        with self._uow(write=False) as uow:
            customer = uow.customers.get(customer_id)
        if customer is None:
            raise NotFound("customer", customer_id)
        return customer

    def find_by_ref(self, ref: ExternalRef) -> Customer | None:
        """The customer holding ``ref``, if any."""
        with self._uow(write=False) as uow:
            return uow.customers.find_by_ref(ref)

    def page(self, *, after: str | None, limit: int) -> list[Customer]:
        """Customers ordered by id, after the cursor ``after``."""
        with self._uow(write=False) as uow:
            return uow.customers.page(after=after, limit=limit)

    def many(self, customer_ids: Collection[str]) -> list[Customer]:
        """The customers with these ids, by id (unknown ids are left out), in one read."""
        with self._uow(write=False) as uow:
            return sorted(uow.customers.many(customer_ids), key=lambda c: c.id)

    def with_descendants(self, customer_id: str) -> list[str]:
        """The customer's id and the ids of every customer below it."""
        with self._uow(write=False) as uow:
            if uow.customers.get(customer_id) is None:
                raise NotFound("customer", customer_id)
            return [customer_id, *uow.customers.descendants_of(customer_id)]
