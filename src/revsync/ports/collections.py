"""Where each customer stands on the collections ladder, as revsync keeps it."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from revsync.domain.collections import Standing


@dataclass(frozen=True, slots=True)
class CollectionsRecord:
    """A customer's place on the ladder: what is in force, since when it has been on it (the
    day its episode began, in the keys of its tasks), and when it last moved. A customer back
    at rung 0 keeps its record (``since`` None), so that what it was told can be undone."""

    customer_id: str
    standing: Standing
    since: date | None
    updated_at: datetime


class CollectionsRepository(Protocol):
    """The ladder's state inside a unit of work."""

    def get(self, customer_id: str) -> CollectionsRecord | None: ...

    def on_ladder(self) -> list[CollectionsRecord]:
        """The customers above rung 0, by id."""
        ...

    def put(self, record: CollectionsRecord) -> None:
        """Insert or replace the customer's record."""
        ...

    def page(self, after: str | None, limit: int) -> list[CollectionsRecord]:
        """The customers on the ladder, by id after ``after``."""
        ...

    def moved_since(self, at: datetime | None) -> list[CollectionsRecord]:
        """The records that moved after ``at`` (all of them for None), oldest move first."""
        ...

    def restrictions(self, customer_ids: Collection[str]) -> dict[str, Standing]:
        """The standing of those of the customers that have a restriction in force."""
        ...
