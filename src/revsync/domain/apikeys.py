"""API keys: roles, reach, the key format and how keys are stored (hashed, never in clear).

A key looks like ``rsk_<prefix>_<secret>``. Only the SHA-256 of the whole key is stored,
with the prefix kept in clear so that operators can tell keys apart. Keys carry 256 bits
of randomness, so a fast hash is the right tool here (slow password hashes protect
guessable secrets).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from revsync.domain.errors import InvalidField
from revsync.domain.identity import validate_customer_id

KEY_PREFIX = "rsk"


class Role(StrEnum):
    """What a key may do. A route names the role it needs (``entrypoints/api/access.py``)."""

    INGEST = "ingest"
    READ = "read"
    FINANCE = "finance"
    OPS = "ops"
    METRICS = "metrics"
    ADMIN = "admin"


#: each role as the set of roles it grants: finance and ops people read, admin does all
GRANTS: Final[Mapping[Role, frozenset[Role]]] = {
    Role.INGEST: frozenset({Role.INGEST}),
    Role.READ: frozenset({Role.READ}),
    Role.FINANCE: frozenset({Role.FINANCE, Role.READ}),
    Role.OPS: frozenset({Role.OPS, Role.READ}),
    Role.METRICS: frozenset({Role.METRICS}),
    Role.ADMIN: frozenset(Role),
}

#: the roles a key limited to some customers may carry (the rest act on everyone's data)
LIMITABLE: Final = frozenset({Role.INGEST, Role.READ})

#: the most customers one key may be limited to (their descendants come with them)
MAX_KEY_CUSTOMERS: Final = 100


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key: its id, name, roles, reach and state; the secret itself is never kept.

    ``customers`` empty: the key reaches every customer. Otherwise it reaches those customers
    and their descendants only.
    """

    id: str
    name: str
    prefix: str
    roles: frozenset[Role]
    created_at: datetime
    revoked_at: datetime | None = None
    customers: frozenset[str] = frozenset()

    @property
    def active(self) -> bool:
        """False once revoked."""
        return self.revoked_at is None

    @property
    def limited(self) -> bool:
        """True if the key reaches only some customers."""
        return bool(self.customers)

    def allows(self, role: Role) -> bool:
        """True if one of the key's roles grants ``role``."""
        return any(role in GRANTS[held] for held in self.roles)


def parse_roles(values: Iterable[str]) -> frozenset[Role]:
    """Read role names, refusing unknown ones and an empty set."""
    roles: set[Role] = set()
    for value in values:
        try:
            roles.add(Role(value))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise InvalidField("roles", f"unknown role {value!r} (known: {known})") from None
    if not roles:
        raise InvalidField("roles", "at least one role is required")
    return frozenset(roles)


def check_reach(roles: frozenset[Role], customers: Iterable[str]) -> frozenset[str]:
    """The customers a new key is limited to, refused if its roles act beyond customers."""
    reach = frozenset(validate_customer_id(c, "customers") for c in customers)
    if len(reach) > MAX_KEY_CUSTOMERS:
        raise InvalidField("customers", f"at most {MAX_KEY_CUSTOMERS} customers per key")
    if reach and not roles <= LIMITABLE:
        beyond = ", ".join(sorted(r.value for r in roles - LIMITABLE))
        raise InvalidField(
            "customers",
            f"a key limited to customers may carry only ingest and read, not {beyond}",
        )
    return reach


def format_key(prefix: str, secret: str) -> str:
    """The full key as shown to its owner once."""
    return f"{KEY_PREFIX}_{prefix}_{secret}"


def key_prefix(key: str) -> str | None:
    """The prefix of a well-formed key, else ``None``."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1]


def hash_key(key: str) -> str:
    """The stored form of a key: hex SHA-256."""
    return hashlib.sha256(key.encode()).hexdigest()
