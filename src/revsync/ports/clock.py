"""Time and identifiers are injected (ARCHITECTURE promise 10)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    """Tells the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class IdSource(Protocol):
    """Makes new identifiers and secrets."""

    def new_id(self, prefix: str) -> str:
        """A unique, sortable id such as ``key_01J…``."""
        ...

    def new_secret(self) -> str:
        """A URL-safe random secret with at least 256 bits of entropy."""
        ...
