"""Rate limits at the API's door, counted by the ``limits`` library.

Counts live in the process (``memory://``) or in Redis (``redis://host:port/db``), where every
API process shares them. The strategy is ``limits``' sliding window counter: two counters per
key and window, so memory stays flat however many keys and tenants there are, and a burst is
held to the limit over any window-long stretch within a small error.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string


@dataclass(frozen=True, slots=True)
class Verdict:
    """One counted request: allowed or not, the limit, what is left, and when it refills."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int
    window_seconds: int

    def headers(self) -> dict[str, str]:
        """``RateLimit-*`` headers (IETF draft), with ``Retry-After`` when refused."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
            "RateLimit-Policy": f"{self.limit};w={self.window_seconds}",
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, self.reset_seconds))
        return headers


def parse_limit(text: str, field: str) -> RateLimitItem:
    """A limit such as ``100/second`` or ``5000 per minute``, refused with the field named."""
    try:
        return parse(text)
    except ValueError:
        raise ValueError(f"{field}: {text!r} is not a rate limit such as '100/second'") from None


class RateLimits:
    """Per-key request limits and per-tenant event limits, shared through ``storage``."""

    def __init__(
        self,
        storage: str,
        per_key: str | None,
        per_tenant: str | None = None,
        keys: Mapping[str, str] | None = None,
    ) -> None:
        built = storage_from_string(_async_uri(storage))
        assert isinstance(built, Storage)
        self._storage = built
        self._limiter = SlidingWindowCounterRateLimiter(self._storage)
        self._per_key = None if per_key is None else parse_limit(per_key, "per_key")
        self._per_tenant = None if per_tenant is None else parse_limit(per_tenant, "per_tenant")
        self._keys = {k: parse_limit(v, f"keys.{k}") for k, v in (keys or {}).items()}

    async def admit_key(self, key_id: str) -> Verdict | None:
        """Count one request of ``key_id``; ``None`` when no limit applies to it."""
        item = self._keys.get(key_id, self._per_key)
        if item is None:
            return None
        return await self._count(item, "key", key_id, 1)

    async def admit_events(self, tenant: str, count: int) -> Verdict | None:
        """Count ``count`` usage events of one product tenant (all or none of them)."""
        if self._per_tenant is None:
            return None
        return await self._count(self._per_tenant, "tenant", tenant, count)

    async def _count(self, item: RateLimitItem, kind: str, name: str, cost: int) -> Verdict:
        allowed = await self._limiter.hit(item, "revsync", kind, name, cost=cost)
        stats = await self._limiter.get_window_stats(item, "revsync", kind, name)
        return Verdict(
            allowed=allowed,
            limit=item.amount,
            remaining=max(0, stats.remaining),
            reset_seconds=max(0, math.ceil(stats.reset_time - time.time())),
            window_seconds=item.get_expiry(),
        )

    async def reset(self) -> None:
        """Forget every count (tests, and an operator after changing the limits)."""
        await self._storage.reset()


def _async_uri(uri: str) -> str:
    """The ``limits`` asyncio form of a storage URI (``memory://`` → ``async+memory://``)."""
    return uri if uri.startswith("async+") else f"async+{uri}"
