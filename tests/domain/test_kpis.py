"""Which usage is on no finalized invoice, by age, and the event-lag buckets: boundaries, and a
property against a plain reading of the rule over random windows and events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from revsync.domain.kpis import (
    AGE_BUCKETS,
    LAG_BOUNDS,
    BilledWindows,
    KpiReport,
    LagHistogram,
    Window,
    age_bucket,
    lag_bucket,
    trend_of,
    unbilled_by_age,
)

DAY_US = 86_400_000_000
NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)
NOW_US = int(NOW.timestamp() * 1_000_000)


def test_an_age_on_a_bound_belongs_to_the_older_bucket() -> None:
    assert age_bucket(NOW_US, NOW_US) == "0-1d"
    assert age_bucket(NOW_US, NOW_US + DAY_US) == "0-1d"  # dated ahead: age 0
    assert age_bucket(NOW_US, NOW_US - DAY_US + 1) == "0-1d"
    assert age_bucket(NOW_US, NOW_US - DAY_US) == "1-7d"
    assert age_bucket(NOW_US, NOW_US - 7 * DAY_US) == "7-30d"
    assert age_bucket(NOW_US, NOW_US - 30 * DAY_US) == "30-90d"
    assert age_bucket(NOW_US, NOW_US - 90 * DAY_US) == "over_90d"


def test_a_lag_on_a_bound_is_counted_under_it_as_prometheus_le_says() -> None:
    assert lag_bucket(-5) == 0  # dated after its receipt
    assert lag_bucket(1_000_000) == 0  # le="1.0"
    assert lag_bucket(1_000_001) == 1
    assert lag_bucket(int(LAG_BOUNDS[-1] * 1_000_000) + 1) == len(LAG_BOUNDS)  # +Inf
    histogram = LagHistogram()
    for seq, lag in enumerate((0, 3_000_000, 3_600_000_000, 10 * DAY_US), start=1):
        histogram.add(seq, lag)
    cumulative = dict(histogram.cumulative())
    assert (cumulative[1.0], cumulative[5.0], cumulative[3600.0], cumulative[float("inf")]) == (
        1,
        2,
        3,
        4,
    )
    assert (histogram.sum_us, histogram.cursor_seq) == (3_000_000 + 3_600_000_000 + 10 * DAY_US, 4)


windows = st.lists(
    st.tuples(
        st.sampled_from(["a", "b"]),
        st.integers(-120, 5),  # start, in days from now
        st.integers(1, 40),  # length in days
        st.integers(0, 60),  # cutoff seq
    ),
    max_size=6,
)
events = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", None]),
        st.integers(-130 * 24, 5 * 24),  # time, in hours from now
        st.integers(1, 60),  # seq
    ),
    max_size=40,
)


@given(windows, events)
def test_unbilled_usage_is_what_no_window_holds(
    found_windows: list[tuple[str, int, int, int]], found_events: list[tuple[str | None, int, int]]
) -> None:
    billed = [
        (c, Window(NOW_US + start * DAY_US, NOW_US + (start + length) * DAY_US, cutoff))
        for c, start, length, cutoff in found_windows
    ]
    stored = [(c, NOW_US + hours * 3_600_000_000, seq) for c, hours, seq in found_events]
    counts = unbilled_by_age(BilledWindows(billed), stored, NOW)
    expected = dict.fromkeys((label for label, _ in AGE_BUCKETS), 0)
    for customer, time_us, seq in stored:
        held = any(
            c == customer and w.start_us <= time_us < w.end_us and seq <= w.cutoff_seq
            for c, w in billed
        )
        if not held:
            age = timedelta(microseconds=max(0, NOW_US - time_us))
            label = next(lb for lb, bound in AGE_BUCKETS if bound is None or age < bound)
            expected[label] += 1
    assert counts == expected


def test_the_trend_keeps_the_kpis_that_apply_and_one_completeness_per_connector() -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    bare = KpiReport(at, None, 3, None, None, {}, None, {}, LagHistogram())
    assert trend_of(bare) == {"unmapped_tenants": 3.0}
    full = KpiReport(at, None, 0, 42.5, 2, {"erp": 1.0, "books": 0.5}, 0.9, {}, LagHistogram())
    assert trend_of(full) == {
        "unmapped_tenants": 0.0,
        "erp_posting_delay_seconds": 42.5,
        "renewals_missing_adoption": 2.0,
        "invoice_accuracy_ratio": 0.9,
        "sync_completeness:erp": 1.0,
        "sync_completeness:books": 0.5,
    }
