"""The sandbox's moving parts besides its records: the API token, the per-minute request budget,
scripted faults, and the count of requests received by kind."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from revsync.sandbox.scripting import ScriptedControl, ScriptedFault

#: the fault kinds: error answers (429 with Retry-After, 500, 503), a stall, a dropped connection
FAULT_KINDS = ("429", "500", "503", "stall", "drop")
_WINDOW = 60.0


@dataclass(frozen=True, slots=True)
class Credentials:
    """The agent the API token belongs to (fixed test values), sent as HTTP Basic
    ``{email}/token:{token}``."""

    email: str = "admin@revsync.test"
    token: str = "revsyncSandboxApiToken000000000000000001"  # noqa: S105 - a fixed test value
    name: str = "Sandbox Admin"

    def as_json(self) -> dict[str, str]:
        """Every value, for the credentials file."""
        return {"email": self.email, "token": self.token, "name": self.name}


@dataclass(frozen=True, slots=True)
class Fault(ScriptedFault):
    """A scripted failure for the next ``times`` API requests matching ``method`` and ``path`` (a
    prefix of the path under ``/api/v2/``, e.g. ``"tickets"``; one starting with ``/`` is matched
    against the whole path).

    ``kind``: "429" (with ``Retry-After: ceil(seconds)``), "500", "503" (``Retry-After`` too),
    "stall" (hold the request ``seconds``, then handle it), "drop" (close the connection without
    an answer). ``after_commit=True`` (stall, drop): handle the request first — the change is
    made even though the client sees a stall or a dropped connection.
    """

    kinds: ClassVar[tuple[str, ...]] = FAULT_KINDS

    seconds: float = 1.0

    @property
    def retry_after(self) -> int:
        """The ``Retry-After`` header's whole seconds."""
        return math.ceil(self.seconds)


@dataclass(frozen=True, slots=True)
class Usage:
    """The request budget of the current minute, and the requests received per (method, kind)."""

    used: int
    limit: int
    resets_in: int
    counts: dict[tuple[str, str], int]

    @property
    def remaining(self) -> int:
        """Requests left in this minute."""
        return max(self.limit - self.used, 0)

    def headers(self) -> dict[str, str]:
        """The rate-limit headers every answer carries (Zendesk's and the IETF draft's)."""
        return {
            "X-Rate-Limit": str(self.limit),
            "X-Rate-Limit-Remaining": str(self.remaining),
            "ratelimit-limit": str(self.limit),
            "ratelimit-remaining": str(self.remaining),
            "ratelimit-reset": str(self.resets_in),
        }


class Control(ScriptedControl[Fault]):
    """Budget, faults and counters; every method holds the lock."""

    def __init__(self, rate_limit: int, monotonic: Callable[[], float] = time.monotonic) -> None:
        if rate_limit < 0:
            raise ValueError("rate_limit (requests per minute) is >= 0")
        super().__init__()
        self._monotonic = monotonic
        self._limit = rate_limit
        self._used = 0
        self._window_start = monotonic()

    # -- budget --------------------------------------------------------------------------------

    def _roll(self) -> float:
        now = self._monotonic()
        if now - self._window_start >= _WINDOW:
            self._window_start, self._used = now, 0
        return now

    def _usage(self, now: float) -> Usage:
        resets_in = max(math.ceil(self._window_start + _WINDOW - now), 1)
        return Usage(self._used, self._limit, resets_in, dict(self._counts))

    def charge(self) -> tuple[bool, Usage]:
        """Count one request against this minute's budget; (False, usage) when it is spent."""
        with self._lock:
            now = self._roll()
            if self._used >= self._limit:
                return False, self._usage(now)
            self._used += 1
            return True, self._usage(now)

    def usage(self) -> Usage:
        """The budget and the counts, now."""
        with self._lock:
            return self._usage(self._roll())

    def set_rate_limit(self, limit: int | None = None, *, used: int = 0) -> Usage:
        """Start a new minute with ``used`` requests spent, optionally with a new budget."""
        if used < 0 or (limit is not None and limit < 0):
            raise ValueError("usage and limit are >= 0")
        with self._lock:
            self._window_start, self._used = self._monotonic(), used
            if limit is not None:
                self._limit = limit
            return self._usage(self._window_start)
