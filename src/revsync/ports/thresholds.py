"""Port of usage thresholds: the crossings recorded and how far the watcher has read."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from revsync.domain.thresholds import ThresholdKind


@dataclass(frozen=True, slots=True)
class CrossingRecord:
    """A threshold reached by a subscription in one usage period (recorded once)."""

    subscription_id: str
    threshold_key: str
    period_start: date
    period_end: date
    customer_id: str
    kind: ThresholdKind
    meter: str | None
    limit: Decimal
    observed: Decimal
    currency: str | None
    cutoff_seq: int
    crossed_at: datetime
    interim_invoice_id: str | None = None


class ThresholdStore(Protocol):
    """Crossings and the watcher's watermark."""

    def any_declared(self) -> bool:
        """Whether any plan version or subscription declares thresholds (when none does, a
        sweep only moves its watermark)."""
        ...

    def rechecks(self) -> set[str]:
        """Customers whose usage became theirs without being ingested anew (a tenant mapped
        late), to look at whatever the watermark says."""
        ...

    def clear_rechecks(self, customer_ids: Collection[str]) -> None: ...

    def watermark(self, name: str) -> int:
        """The ingest sequence number ``name`` has read up to (0 at first)."""
        ...

    def set_watermark(self, name: str, seq: int, at: datetime) -> None: ...

    def recorded(
        self, subscription_ids: Collection[str], since: date
    ) -> set[tuple[str, str, date]]:
        """(subscription, threshold key, period start) of the crossings recorded for periods
        that start on or after ``since``."""
        ...

    def record(self, crossings: Sequence[CrossingRecord]) -> list[CrossingRecord]:
        """Record crossings; returns those this call recorded (one recorded before, by another
        process or an earlier sweep, is left out)."""
        ...

    def page(
        self,
        *,
        customer_ids: Collection[str] | None,
        after: tuple[datetime, str, str, date] | None,
        limit: int,
    ) -> list[CrossingRecord]:
        """Crossings newest first (``customer_ids``: only theirs; ``after``: the last one of
        the previous page as (crossed_at, subscription, key, period start))."""
        ...
