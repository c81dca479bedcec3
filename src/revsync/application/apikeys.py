"""API keys: create (shown once), list, revoke, and authenticate presented keys."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from revsync.domain.apikeys import (
    ApiKey,
    check_reach,
    format_key,
    hash_key,
    key_prefix,
    parse_roles,
)
from revsync.domain.audit import AuditRecord
from revsync.domain.errors import InvalidField, NotFound
from revsync.ports.clock import Clock, IdSource
from revsync.ports.repositories import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A new key and its secret, which is never shown again."""

    key: ApiKey
    secret: str


def key_snapshot(key: ApiKey) -> dict[str, object]:
    """What the audit log keeps of a key (never the secret or its hash)."""
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "roles": sorted(r.value for r in key.roles),
        "customers": sorted(key.customers),
        "revoked_at": None if key.revoked_at is None else key.revoked_at.isoformat(),
    }


class ApiKeys:
    """Key management and authentication, with a short positive cache."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        clock: Clock,
        ids: IdSource,
        cache_for: timedelta = timedelta(seconds=2),
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock
        self._ids = ids
        self._cache_for = cache_for
        self._cache: dict[str, tuple[ApiKey, datetime]] = {}
        self._reach: dict[str, tuple[frozenset[str], datetime]] = {}
        self._lock = threading.Lock()

    def create(
        self, name: str, roles: list[str], actor: str, customers: Iterable[str] = ()
    ) -> IssuedKey:
        """Issue a key with ``roles``, reaching every customer or only ``customers`` and
        their descendants; the returned secret is the only copy."""
        name = name.strip()
        if not name or len(name) > 200:
            raise InvalidField("name", "must be 1-200 characters")
        parsed = parse_roles(roles)
        reach = check_reach(parsed, customers)
        key_id = self._ids.new_id("key")
        prefix = self._ids.new_secret()[:12].replace("_", "x").replace("-", "y")
        secret = format_key(prefix, self._ids.new_secret())
        key = ApiKey(key_id, name, prefix, parsed, self._clock.now(), customers=reach)
        with self._uow() as uow:
            for customer_id in sorted(reach):
                if uow.customers.get(customer_id) is None:
                    raise InvalidField("customers", f"no customer {customer_id!r}")
            uow.api_keys.add(key, hash_key(secret))
            uow.audit.append(self._record(actor, "api_key.created", key, None, key_snapshot(key)))
            uow.commit()
        return IssuedKey(key, secret)

    def revoke(self, key_id: str, actor: str) -> ApiKey:
        """Revoke a key: at once in this process, within the auth cache time in others."""
        with self._uow() as uow:
            key = uow.api_keys.get(key_id)
            if key is None:
                raise NotFound("api key", key_id)
            if key.active:
                uow.api_keys.revoke(key_id, self._clock.now())
                revoked = uow.api_keys.get(key_id)
                assert revoked is not None
                uow.audit.append(
                    self._record(
                        actor, "api_key.revoked", key, key_snapshot(key), key_snapshot(revoked)
                    )
                )
                uow.commit()
                key = revoked
        with self._lock:
            self._cache.clear()
        return key

    def all(self) -> list[ApiKey]:
        """Every key, active or revoked."""
        with self._uow(write=False) as uow:
            return uow.api_keys.all()

    def remembered(self, presented: str) -> ApiKey | None:
        """The key matching ``presented`` if this process checked it within the cache time,
        else ``None`` (no I/O: callers on an event loop ask this first)."""
        if key_prefix(presented) is None:
            return None
        with self._lock:
            cached = self._cache.get(hash_key(presented))
        if cached is not None and self._clock.now() - cached[1] < self._cache_for:
            return cached[0]
        return None

    def authenticate(self, presented: str) -> ApiKey | None:
        """The active key matching ``presented``, else ``None``."""
        if key_prefix(presented) is None:
            return None
        digest = hash_key(presented)
        now = self._clock.now()
        with self._lock:
            cached = self._cache.get(digest)
        if cached is not None and now - cached[1] < self._cache_for:
            return cached[0]
        with self._uow(write=False) as uow:
            key = uow.api_keys.by_hash(digest)
        if key is None or not key.active:
            return None
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (key, now)
        return key

    def reach(self, key: ApiKey) -> frozenset[str] | None:
        """The customers ``key`` may see and act for: ``None`` for all, else its customers and
        their descendants as the hierarchy stands (recomputed after the cache time)."""
        if not key.limited:
            return None
        now = self._clock.now()
        with self._lock:
            cached = self._reach.get(key.id)
        if cached is not None and now - cached[1] < self._cache_for:
            return cached[0]
        with self._uow(write=False) as uow:
            found = set(key.customers)
            for customer_id in key.customers:
                found.update(uow.customers.descendants_of(customer_id))
        reach = frozenset(found)
        with self._lock:
            if len(self._reach) > 10_000:
                self._reach.clear()
            self._reach[key.id] = (reach, now)
        return reach

    def _record(
        self,
        actor: str,
        action: str,
        key: ApiKey,
        before: dict[str, object] | None,
        after: dict[str, object] | None,
    ) -> AuditRecord:
        return AuditRecord(self._clock.now(), actor, action, "api_key", key.id, before, after)
