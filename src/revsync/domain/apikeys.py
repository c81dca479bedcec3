"""API keys: scopes, the key format and how keys are stored (hashed, never in clear).

A key looks like ``rsk_<prefix>_<secret>``. Only the SHA-256 of the whole key is stored,
with the prefix kept in clear so that operators can tell keys apart. Keys carry 256 bits
of randomness, so a fast hash is the right tool here (slow password hashes protect
guessable secrets).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from revsync.domain.errors import InvalidField

KEY_PREFIX = "rsk"


class Scope(StrEnum):
    """What a key may do. ``admin`` implies every other scope."""

    INGEST = "ingest"
    READ = "read"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key: its id, name, scopes and state; the secret itself is never kept."""

    id: str
    name: str
    prefix: str
    scopes: frozenset[Scope]
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        """False once revoked."""
        return self.revoked_at is None

    def allows(self, scope: Scope) -> bool:
        """True if the key carries ``scope`` (or ``admin``)."""
        return scope in self.scopes or Scope.ADMIN in self.scopes


def parse_scopes(values: Iterable[str]) -> frozenset[Scope]:
    """Read scope names, refusing unknown ones and an empty set."""
    scopes: set[Scope] = set()
    for value in values:
        try:
            scopes.add(Scope(value))
        except ValueError:
            known = ", ".join(s.value for s in Scope)
            raise InvalidField("scope", f"unknown scope {value!r} (known: {known})") from None
    if not scopes:
        raise InvalidField("scope", "at least one scope is required")
    return frozenset(scopes)


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
