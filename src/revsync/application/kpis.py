"""Business KPIs, read from the database so that every process reports the same: the ones a
query answers at once, and the ones the KPI job measures (unbilled usage by age and amount,
the event-lag histogram it counts as events arrive)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from decimal import Decimal

from revsync.domain.kpis import (
    BilledWindows,
    KpiPolicy,
    KpiReport,
    Measurement,
    trend_of,
    unbilled_by_age,
)
from revsync.domain.reconciliation import Check, accuracy
from revsync.domain.usage import to_micros
from revsync.ports.billing import BillingRunRecord
from revsync.ports.clock import Clock
from revsync.ports.repositories import UnitOfWorkFactory

#: events counted into the lag histogram per transaction
_LAG_CHUNK = 50_000
#: reconciliation runs read to find the latest ERP one
_RECENT_RUNS = 20


class Kpis:
    """Reads the KPIs, and measures the ones a query cannot answer at once."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        clock: Clock,
        policy: KpiPolicy,
        unbilled_amounts: Callable[[], dict[str, Decimal]],
        event_types: Collection[str],
        destinations: Collection[str],
        erp_destination: str | None = None,
        crm_destination: str | None = None,
        posted_kinds: Collection[str] = (),
    ) -> None:
        self._uow = unit_of_work
        self._clock = clock
        self._policy = policy
        self._unbilled_amounts = unbilled_amounts
        self._types = tuple(sorted(set(event_types)))
        self._destinations = tuple(sorted(destinations))
        self._erp = erp_destination
        self._crm = crm_destination
        self._posted = tuple(posted_kinds)  # the messages that post a document in the ERP

    def read(self) -> KpiReport:
        """Every KPI, from one read transaction."""
        now = self._clock.now()
        today = now.date()
        with self._uow(write=False) as uow:
            kpis = uow.kpis
            delay = None
            if self._erp is not None:
                oldest = kpis.oldest_unfinished(self._erp, self._posted)
                delay = 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())
            renewals = None
            if self._crm is not None:
                last = today + self._policy.renewal_window
                renewals = kpis.renewals_without_signals(today, last, self._crm)
            completeness = {}
            for destination in self._destinations:
                finished, every = kpis.finished_share(destination, now - self._policy.window)
                completeness[destination] = finished / every if every else 1.0
            runs = uow.reconciliations.page(before=None, limit=_RECENT_RUNS)
            erp_run = next((r for r in runs if Check.ERP in r.checks), None)
            return KpiReport(
                at=now,
                measurement=kpis.latest_measurement(),
                unmapped_tenants=kpis.unmapped_tenants(),
                erp_posting_delay_seconds=delay,
                renewals_missing_adoption=renewals,
                sync_completeness=completeness,
                invoice_accuracy_ratio=None if erp_run is None else accuracy(erp_run),
                replays=kpis.replays(),
                event_lag=kpis.lag_histogram(),
                jobs=kpis.job_stats(),
                billing_run=_timed(uow.billing_runs.last()),
            )

    def measure(self) -> Measurement:
        """Count the events that arrived since the last time into the lag histogram, then
        measure unbilled usage (by age of the events, and what it will bill by currency) and
        keep the measurement, with the other KPIs as they stand (for their charts);
        measurements older than the policy's ``keep`` are dropped."""
        self.count_lag()
        now = self._clock.now()
        since_us = to_micros(now - self._policy.horizon)
        with self._uow(write=False) as uow:
            windows = BilledWindows(uow.kpis.billed_windows(since_us))
            events = unbilled_by_age(windows, uow.kpis.usage(self._types, since_us), now)
        trend = trend_of(self.read())
        measurement = Measurement(now, events, self._unbilled_amounts(), self._types, trend)
        with self._uow() as uow:
            uow.kpis.save_measurement(measurement)
            uow.kpis.prune_measurements(now - self._policy.keep)
            uow.commit()
        return measurement

    def count_lag(self) -> int:
        """Add the events stored since the histogram's cursor to it; returns how many. A
        process that finds another counted meanwhile stops (each event is counted once)."""
        counted = 0
        while True:
            with self._uow(write=False) as uow:
                histogram = uow.kpis.lag_histogram()
                lags = uow.kpis.lags(histogram.cursor_seq, _LAG_CHUNK)
            if not lags:
                return counted
            start = histogram.cursor_seq
            for seq, lag_us in lags:
                histogram.add(seq, lag_us)
            with self._uow() as uow:
                if not uow.kpis.save_lag(histogram, start):
                    return counted
                uow.commit()
            counted += len(lags)

    def measurements(self, since: datetime) -> list[Measurement]:
        """The measurements taken ``since``, oldest first (for charts)."""
        with self._uow(write=False) as uow:
            return uow.kpis.measurements(since)


def _timed(run: BillingRunRecord | None) -> tuple[datetime, datetime] | None:
    if run is None or run.finished_at is None:
        return None
    return run.started_at, run.finished_at
