"""Canonical customers and the identity map.

A customer has one canonical id and references in each outside system: product tenant ids
(any number), at most one CRM account id and at most one ERP customer id. A reference
belongs to exactly one customer; moving it is an explicit two-step change, never a side
effect of mapping it somewhere else.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from revsync.domain.errors import Conflict, InvalidField
from revsync.domain.money import is_currency

_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_MAX_NAME = 300
_MAX_REF = 255


class System(StrEnum):
    """Outside systems a customer can be known in."""

    PRODUCT = "product"
    CRM = "crm"
    ERP = "erp"
    SUPPORT = "support"  # the support tool's organization id


#: systems in which a customer may have several references
MULTI_VALUED = frozenset({System.PRODUCT})


@dataclass(frozen=True, slots=True)
class ExternalRef:
    """One reference of a customer in an outside system, e.g. ``product:tenant-42``."""

    system: System
    value: str

    @classmethod
    def parse(cls, text: str) -> ExternalRef:
        """Read ``system:value``; the value may itself contain colons."""
        system, sep, value = text.partition(":")
        if not sep or not value:
            raise InvalidField("external_ref", "expected 'system:value', e.g. 'product:tenant-1'")
        try:
            parsed = System(system)
        except ValueError:
            known = ", ".join(s.value for s in System)
            raise InvalidField(
                "external_ref", f"unknown system {system!r} (known: {known})"
            ) from None
        return cls(parsed, value)

    def __str__(self) -> str:
        return f"{self.system.value}:{self.value}"


@dataclass(frozen=True, slots=True)
class Customer:
    """A canonical customer. Build it with :func:`new_customer` to validate it."""

    id: str
    name: str
    currency: str
    timezone: str
    parent_id: str | None = None
    refs: tuple[ExternalRef, ...] = field(default=())
    country: str | None = None
    tax_exempt: bool = False

    def refs_in(self, system: System) -> tuple[str, ...]:
        """The values this customer has in ``system``."""
        return tuple(ref.value for ref in self.refs if ref.system is system)


#: the longest IANA time zone name taken (the longest in tzdata has 32 characters)
_MAX_ZONE = 64


def validate_customer_id(value: str, field_name: str = "id") -> str:
    """Check a canonical id: letters, digits and ``._:@-``, at most 128 characters."""
    if not _ID_PATTERN.match(value):
        raise InvalidField(
            field_name,
            "must be 1-128 characters of letters, digits and '._:@-', not starting with a symbol",
        )
    return value


def validate_timezone(value: str, field_name: str = "timezone") -> ZoneInfo:
    """Return the zone for an IANA name such as ``Europe/Paris``."""
    if len(value) > _MAX_ZONE:
        raise InvalidField(field_name, f"longer than {_MAX_ZONE} characters")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name the system refuses
        raise InvalidField(field_name, f"unknown IANA time zone {value!r}") from None


def new_customer(
    *,
    customer_id: str,
    name: str,
    currency: str,
    timezone: str,
    parent_id: str | None,
    refs: Mapping[System, Iterable[str]],
    country: str | None = None,
    tax_exempt: bool = False,
) -> Customer:
    """Validate every field of a customer and return it with its references sorted."""
    validate_customer_id(customer_id)
    name = name.strip()
    if not name:
        raise InvalidField("name", "must not be empty")
    if len(name) > _MAX_NAME:
        raise InvalidField("name", f"must be at most {_MAX_NAME} characters")
    if "\x00" in name:  # PostgreSQL stores no NUL in text
        raise InvalidField("name", "contains a NUL character")
    if not is_currency(currency):
        raise InvalidField("currency", f"{currency!r} is not an ISO 4217 currency code")
    validate_timezone(timezone)
    if parent_id is not None:
        validate_customer_id(parent_id, "parent_id")
        if parent_id == customer_id:
            raise InvalidField("parent_id", "a customer cannot be its own parent")
    if country is not None and not _COUNTRY.match(country):
        raise InvalidField("country", f"{country!r} is not an ISO 3166-1 alpha-2 code (e.g. FR)")
    return Customer(
        id=customer_id,
        name=name,
        currency=currency,
        timezone=timezone,
        parent_id=parent_id,
        refs=_validated_refs(refs),
        country=country,
        tax_exempt=tax_exempt,
    )


def _validated_refs(refs: Mapping[System, Iterable[str]]) -> tuple[ExternalRef, ...]:
    result: list[ExternalRef] = []
    for system, values in refs.items():
        unique = sorted(set(values))
        label = f"external_refs.{system.value}"
        if system not in MULTI_VALUED and len(unique) > 1:
            raise InvalidField(label, "at most one reference in this system")
        for value in unique:
            if not value or len(value) > _MAX_REF or value != value.strip() or "\x00" in value:
                raise InvalidField(
                    label,
                    f"{value!r}: must be 1-{_MAX_REF} characters, no outer spaces, no NUL",
                )
            result.append(ExternalRef(system, value))
    return tuple(sorted(result, key=lambda ref: (ref.system.value, ref.value)))


def ensure_no_cycle(
    customer_id: str, parent_id: str | None, parent_of: Callable[[str], str | None]
) -> None:
    """Refuse a parent link that would make the hierarchy loop back to ``customer_id``."""
    seen = {customer_id}
    current = parent_id
    while current is not None:
        if current in seen:
            raise InvalidField(
                "parent_id", f"{parent_id!r} would make the account hierarchy a cycle"
            )
        seen.add(current)
        current = parent_of(current)


def ensure_refs_free(customer_id: str, owners: Mapping[ExternalRef, str]) -> None:
    """Refuse references that already belong to another customer (``owners``: ref → owner)."""
    taken = sorted(
        f"{ref} (customer {owner!r})" for ref, owner in owners.items() if owner != customer_id
    )
    if taken:
        raise Conflict(f"already mapped to another customer: {', '.join(taken)}")
