"""The sandbox's moving parts besides its records: credentials and access tokens, the daily
request budget, scripted faults, and the count of requests received by kind."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from revsync.sandbox.crm import ids
from revsync.sandbox.scripting import ScriptedControl, ScriptedFault

#: the fault kinds: three error answers, an expired session, and a stall
FAULT_KINDS = (
    "REQUEST_LIMIT_EXCEEDED",
    "UNABLE_TO_LOCK_ROW",
    "SERVER_UNAVAILABLE",
    "INVALID_SESSION_ID",
    "STALL",
)


@dataclass(frozen=True, slots=True)
class Credentials:
    """The connected app and the user the token endpoint accepts (fixed test values)."""

    client_id: str = "revsync"
    client_secret: str = "revsync-secret"  # noqa: S105 - a sandbox's fixed test credential
    username: str = "admin@revsync.test"
    password: str = "revsync"  # noqa: S105 - a sandbox's fixed test credential
    admin_token: str = "revsync-sandbox-admin"  # noqa: S105 - guards /_sandbox/ only

    def as_json(self) -> dict[str, str]:
        """Every value, for the credentials file."""
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "username": self.username,
            "password": self.password,
            "admin_token": self.admin_token,
        }


@dataclass(frozen=True, slots=True)
class Fault(ScriptedFault):
    """A scripted failure for the next ``times`` REST requests that match ``method`` and
    ``path`` (a prefix of the path under ``/services/data/vXX.X/``, e.g. ``"sobjects/Account"``
    or ``"composite"``; one starting with ``/`` is matched against the whole path).

    ``kind``: REQUEST_LIMIT_EXCEEDED (403), UNABLE_TO_LOCK_ROW (400), SERVER_UNAVAILABLE (503),
    INVALID_SESSION_ID (401), or STALL: hold the request ``seconds``, then handle it normally
    (``after_commit=True``: handle it first, then hold the answer — the write is done even if
    the client gave up).
    """

    kinds: ClassVar[tuple[str, ...]] = FAULT_KINDS

    seconds: float = 5.0

    @classmethod
    def from_json(cls, item: Any) -> Fault:
        """A fault from the admin endpoint's JSON (same names as the fields)."""
        if not isinstance(item, dict):
            raise TypeError("a fault is a JSON object")
        unknown = sorted(set(item) - {"kind", "times", "method", "path", "seconds", "after_commit"})
        if unknown:
            raise ValueError(f"unknown fault fields {unknown}")
        return cls(**item)


@dataclass(frozen=True, slots=True)
class Usage:
    """Requests used today and the daily maximum."""

    used: int
    max: int

    @property
    def header(self) -> str:
        """The ``Sforce-Limit-Info`` value."""
        return f"api-usage={self.used}/{self.max}"


class Control(ScriptedControl[Fault]):
    """Tokens, budget, faults and counters; every method holds the lock."""

    def __init__(self, daily_limit: int, token_lifetime: float) -> None:
        if daily_limit < 0 or token_lifetime <= 0:
            raise ValueError("daily_limit must be >= 0 and token_lifetime > 0")
        super().__init__()
        self._tokens: dict[str, float] = {}
        self._lifetime = token_lifetime
        self._used = 0
        self._max = daily_limit

    # -- tokens ------------------------------------------------------------------------------

    def issue_token(self) -> str:
        """A new access token, valid for the token lifetime."""
        token = f"{ids.SANDBOX_ORG_ID[:15]}!{secrets.token_urlsafe(48)}"
        with self._lock:
            self._tokens[token] = time.monotonic() + self._lifetime
        return token

    def token_valid(self, token: str) -> bool:
        """Whether a token was issued and has neither expired nor been revoked."""
        with self._lock:
            expiry = self._tokens.get(token)
            if expiry is not None and expiry <= time.monotonic():
                del self._tokens[token]
                expiry = None
        return expiry is not None

    def revoke_tokens(self) -> None:
        """Forget every token (each client gets INVALID_SESSION_ID on its next call)."""
        with self._lock:
            self._tokens.clear()

    def set_token_lifetime(self, seconds: float) -> None:
        """The lifetime of tokens issued from now on."""
        if seconds <= 0:
            raise ValueError("a token lifetime is > 0 seconds")
        with self._lock:
            self._lifetime = seconds

    # -- budget ------------------------------------------------------------------------------

    def charge(self) -> tuple[bool, Usage]:
        """Count one request against the budget; (False, usage) when it is spent."""
        with self._lock:
            if self._used >= self._max:
                return False, Usage(self._used, self._max)
            self._used += 1
            return True, Usage(self._used, self._max)

    def usage(self) -> Usage:
        """Requests used and the maximum."""
        with self._lock:
            return Usage(self._used, self._max)

    def reset_usage(self, used: int = 0, daily_limit: int | None = None) -> Usage:
        """Set the requests used (0: a new day) and optionally the maximum."""
        if used < 0 or (daily_limit is not None and daily_limit < 0):
            raise ValueError("usage and limit are >= 0")
        with self._lock:
            self._used = used
            if daily_limit is not None:
                self._max = daily_limit
            return Usage(self._used, self._max)

    # -- counters ------------------------------------------------------------------------------

    def counts(self) -> dict[tuple[str, str], int]:
        """Requests received per (method, kind)."""
        with self._lock:
            return dict(self._counts)
