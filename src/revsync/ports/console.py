"""The operations console's sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """A signed-in browser: the hash of its cookie's token, the key that signed in, the token
    its forms carry, and when it ends."""

    token_hash: str
    key_id: str
    csrf: str
    created_at: datetime
    expires_at: datetime


class ConsoleSessionStore(Protocol):
    """Console sessions, inside a unit of work."""

    def add(self, session: ConsoleSession) -> None: ...

    def get(self, token_hash: str) -> ConsoleSession | None: ...

    def drop(self, token_hash: str) -> bool:
        """Forget a session; False when there was none."""
        ...

    def drop_expired(self, now: datetime) -> int:
        """Forget the sessions that ended before ``now``; how many."""
        ...
