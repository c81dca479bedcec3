"""Business KPIs: which stored usage no finalized invoice has billed yet (by age), and the
buckets of the event-lag histogram. Pure: the figures come in, the counts go out."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import Final

#: ages of unbilled usage (of the event's time, against now): label → upper bound
AGE_BUCKETS: tuple[tuple[str, timedelta | None], ...] = (
    ("0-1d", timedelta(days=1)),
    ("1-7d", timedelta(days=7)),
    ("7-30d", timedelta(days=30)),
    ("30-90d", timedelta(days=90)),
    ("over_90d", None),
)
_AGE_BOUNDS_US = [int(b.total_seconds() * 1_000_000) for _, b in AGE_BUCKETS if b is not None]

#: upper bounds (seconds) of the event-lag histogram: event time to receipt
LAG_BOUNDS: tuple[float, ...] = (
    1.0,
    5.0,
    30.0,
    60.0,
    300.0,
    900.0,
    3600.0,
    6 * 3600.0,
    86400.0,
    3 * 86400.0,
    7 * 86400.0,
)
_LAG_BOUNDS_US = [int(b * 1_000_000) for b in LAG_BOUNDS]


@dataclass(frozen=True, slots=True)
class Window:
    """What a finalized usage line billed: the events of ``customer_ids`` dated in
    ``[start_us, end_us)`` and stored up to ``cutoff_seq``."""

    start_us: int
    end_us: int
    cutoff_seq: int


class BilledWindows:
    """Every window finalized invoices billed, per customer, to ask whether an event is on one."""

    def __init__(self, windows: Iterable[tuple[str, Window]]) -> None:
        by_customer: dict[str, set[Window]] = {}
        for customer_id, window in windows:  # the lines of one tiered charge share a window
            by_customer.setdefault(customer_id, set()).add(window)
        self._starts: dict[str, list[int]] = {}
        self._windows: dict[str, list[Window]] = {}
        #: per customer, the latest end among the windows up to each one (by start)
        self._reach: dict[str, list[int]] = {}
        for customer_id, found in by_customer.items():
            ordered = sorted(found, key=lambda w: (w.start_us, w.end_us, w.cutoff_seq))
            self._windows[customer_id] = ordered
            self._starts[customer_id] = [w.start_us for w in ordered]
            self._reach[customer_id] = list(accumulate((w.end_us for w in ordered), max))

    def billed(self, customer_id: str | None, time_us: int, seq: int) -> bool:
        """Whether a window of the customer holds the event (dated inside it, stored by its
        cutoff). An unmapped event (no customer) is on no invoice."""
        if customer_id is None or customer_id not in self._windows:
            return False
        windows, reach = self._windows[customer_id], self._reach[customer_id]
        # windows may overlap (a late-usage adjustment bills a period again with a later
        # cutoff): look back from the last window starting at or before the event, and stop
        # where no earlier window reaches it
        index = bisect_right(self._starts[customer_id], time_us) - 1
        while index >= 0 and reach[index] > time_us:
            window = windows[index]
            if time_us < window.end_us and seq <= window.cutoff_seq:
                return True
            index -= 1
        return False


def age_bucket(now_us: int, time_us: int) -> str:
    """The age bucket of an event dated ``time_us`` (an event dated ahead is of age 0)."""
    return AGE_BUCKETS[bisect_right(_AGE_BOUNDS_US, max(0, now_us - time_us))][0]


def unbilled_by_age(
    windows: BilledWindows, events: Iterable[tuple[str | None, int, int]], now: datetime
) -> dict[str, int]:
    """Age bucket → events (``(customer_id, time_us, seq)``) on no finalized invoice; every
    bucket is present."""
    now_us = int(now.timestamp() * 1_000_000)
    counts = dict.fromkeys((label for label, _ in AGE_BUCKETS), 0)
    for customer_id, time_us, seq in events:
        if not windows.billed(customer_id, time_us, seq):
            counts[age_bucket(now_us, time_us)] += 1
    return counts


def lag_bucket(lag_us: int) -> int:
    """The index in :data:`LAG_BOUNDS` (``len(LAG_BOUNDS)`` for +Inf) of a lag: the first bound
    at or above it (a negative lag, an event dated after its receipt, is 0)."""
    return bisect_left(_LAG_BOUNDS_US, max(0, lag_us))


@dataclass(slots=True)
class LagHistogram:
    """The event-lag histogram: events per bucket (not cumulative; the last is +Inf), the
    summed lag, and the ingest sequence number counted up to."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(LAG_BOUNDS) + 1))
    sum_us: int = 0
    cursor_seq: int = 0

    def add(self, seq: int, lag_us: int) -> None:
        """Count one event stored under ``seq``."""
        self.counts[lag_bucket(lag_us)] += 1
        self.sum_us += max(0, lag_us)
        self.cursor_seq = max(self.cursor_seq, seq)

    def cumulative(self) -> list[tuple[float, int]]:
        """``(upper bound, events at or under it)`` in order, ending with ``(inf, total)``."""
        bounds = [*LAG_BOUNDS, float("inf")]
        running = 0
        out = []
        for bound, count in zip(bounds, self.counts, strict=True):
            running += count
            out.append((bound, running))
        return out


@dataclass(frozen=True, slots=True)
class KpiPolicy:
    """How the KPIs are measured (``kpis`` in the configuration)."""

    #: unbilled usage is looked for among the events dated this far back
    horizon: timedelta = timedelta(days=400)
    #: sync completeness counts the messages written this far back
    window: timedelta = timedelta(hours=24)
    #: renewals this close are expected to carry adoption signals in the CRM
    renewal_window: timedelta = timedelta(days=90)
    #: measurements are kept this long
    keep: timedelta = timedelta(days=35)


@dataclass(frozen=True, slots=True)
class Measurement:
    """What the KPI job measured at ``at``: unbilled usage events by age bucket and what the
    next invoices will bill for it, by currency; and the KPIs a query answers at once, as they
    stood then (:func:`trend_of`), so that they too can be charted over time."""

    at: datetime
    unbilled_events: Mapping[str, int]
    unbilled_amount: Mapping[str, Decimal]
    #: meters whose events were counted (the event types some meter reads)
    event_types: Sequence[str] = ()
    #: KPI name → value when measured (those that apply; see :func:`trend_of`)
    trend: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class JobStat:
    """A job's runs: the latest that ended well, and how many ended each way."""

    name: str
    last_success_at: datetime | None
    ok: int
    failed: int


@dataclass(frozen=True, slots=True)
class KpiReport:
    """Every KPI at ``at``. ``None``: not applicable (no ERP, no CRM, never measured)."""

    at: datetime
    measurement: Measurement | None
    unmapped_tenants: int
    erp_posting_delay_seconds: float | None
    renewals_missing_adoption: int | None
    sync_completeness: dict[str, float]
    invoice_accuracy_ratio: float | None
    replays: dict[str, int]
    event_lag: LagHistogram
    jobs: list[JobStat] = field(default_factory=list)
    #: the latest billing run: when it started and finished
    billing_run: tuple[datetime, datetime] | None = None


#: the KPIs charted over time besides unbilled usage, by the name :func:`trend_of` gives them
#: (``sync_completeness:<connector>`` per connector)
TRENDS: Final = {
    "unmapped_tenants": "Unmapped tenants",
    "erp_posting_delay_seconds": "ERP posting delay (seconds)",
    "renewals_missing_adoption": "Renewals missing adoption",
    "invoice_accuracy_ratio": "Invoice accuracy (share)",
    "sync_completeness": "Sync completeness (share)",
}


def trend_of(report: KpiReport) -> dict[str, float]:
    """The KPIs of ``report`` a query answers at once, by name, where they apply."""
    found = {"unmapped_tenants": float(report.unmapped_tenants)}
    if report.erp_posting_delay_seconds is not None:
        found["erp_posting_delay_seconds"] = report.erp_posting_delay_seconds
    if report.renewals_missing_adoption is not None:
        found["renewals_missing_adoption"] = float(report.renewals_missing_adoption)
    if report.invoice_accuracy_ratio is not None:
        found["invoice_accuracy_ratio"] = report.invoice_accuracy_ratio
    for connector, ratio in report.sync_completeness.items():
        found[f"sync_completeness:{connector}"] = ratio
    return found
