"""What the business KPIs read from the database, and what the KPI job keeps there."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import date, datetime
from typing import Protocol

from revsync.domain.kpis import JobStat, LagHistogram, Measurement, Window


class KpiStore(Protocol):
    """The queries behind the KPIs, the event-lag histogram and the KPI job's measurements."""

    def billed_windows(self, since_us: int) -> Iterator[tuple[str, Window]]:
        """``(customer id, window)`` for every usage line of a finalized (or later) invoice
        whose window ends after ``since_us``."""
        ...

    def usage(self, types: Collection[str], since_us: int) -> Iterator[tuple[str | None, int, int]]:
        """``(customer id or None, time_us, seq)`` of each stored event of ``types`` dated from
        ``since_us`` on."""
        ...

    def unmapped_tenants(self) -> int:
        """Product tenants whose stored events reach no customer."""
        ...

    def oldest_unfinished(self, destination: str, kinds: Collection[str]) -> datetime | None:
        """When the oldest message of one of ``kinds`` still waiting for ``destination``
        (pending, in flight or held by a case) was written."""
        ...

    def finished_share(self, destination: str, since: datetime) -> tuple[int, int]:
        """Of the messages to ``destination`` written ``since``: ``(delivered or skipped, all)``."""
        ...

    def renewals_without_signals(self, first: date, last: date, destination: str) -> int:
        """CRM-linked customers with a subscription renewing between ``first`` and ``last``
        whose signals the CRM does not hold (never computed, or a message still waiting)."""
        ...

    def replays(self) -> dict[str, int]:
        """Audit action → how many times it was taken, for the replaying actions."""
        ...

    def job_stats(self) -> list[JobStat]: ...

    def lag_histogram(self) -> LagHistogram: ...

    def lags(self, after_seq: int, limit: int) -> list[tuple[int, int]]:
        """``(seq, received_us - time_us)`` of the stored events after ``after_seq``, in order."""
        ...

    def save_lag(self, histogram: LagHistogram, counted_from: int) -> bool:
        """Store ``histogram`` if the stored one was still counted up to ``counted_from``
        (False: another process counted meanwhile, nothing stored)."""
        ...

    def save_measurement(self, measurement: Measurement) -> None: ...

    def latest_measurement(self) -> Measurement | None: ...

    def measurements(self, since: datetime) -> list[Measurement]:
        """The measurements taken ``since``, oldest first."""
        ...

    def prune_measurements(self, before: datetime) -> int: ...
