"""Ports of the schema registry: where versions are kept, and how a schema becomes a check."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from revsync.domain.problems import Problem
from revsync.domain.schemas import SchemaVersion
from revsync.ports.repositories import StoredDeadLetter

#: a compiled schema: the first problem of an event's data (pointer and reason), or ``None``
DataCheck = Callable[[Mapping[str, Any]], Problem | None]


class SchemaCompiler(Protocol):
    """Turns a registered schema into a :data:`DataCheck` (raises
    :class:`~revsync.domain.errors.InvalidField` for a schema it cannot run)."""

    def __call__(self, schema: Mapping[str, Any] | bool) -> DataCheck: ...


@dataclass(frozen=True, slots=True)
class StoredSchema:
    """A version as stored: when, by whom, from where (``config`` or ``api``)."""

    version: SchemaVersion
    registered_at: datetime
    actor: str
    source: str


class SchemaStore(Protocol):
    """The registered versions, and the quarantined events waiting for their type."""

    def all(self) -> list[StoredSchema]:
        """Every version, by type and version."""
        ...

    def add(self, version: SchemaVersion, at: datetime, actor: str, source: str) -> bool:
        """Store a version unless one with its number exists; ``True`` when stored."""
        ...

    def latest_change(self) -> tuple[int, datetime | None]:
        """How many versions there are and when the newest was registered (to see change)."""
        ...

    def quarantined(self, after_id: int | None, limit: int) -> Sequence[StoredDeadLetter]:
        """Quarantined events in arrival order."""
        ...

    def mark_released(self, ids: Sequence[int]) -> None:
        """Mark quarantined events as released (they stay as dead letters, coded so)."""
        ...
