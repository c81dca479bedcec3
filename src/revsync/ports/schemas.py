"""Ports of the schema registry: where versions are kept, and how a schema becomes a check."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from revsync.domain.problems import Problem
from revsync.domain.schemas import SchemaVersion

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
    """The registered versions."""

    def all(self) -> list[StoredSchema]:
        """Every version, by type and version."""
        ...

    def add(self, version: SchemaVersion, at: datetime, actor: str, source: str) -> bool:
        """Store a version unless one with its number exists; ``True`` when stored."""
        ...

    def latest_change(self) -> tuple[int, datetime | None]:
        """How many versions there are and when the newest was registered (to see change)."""
        ...
