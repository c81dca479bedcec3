"""Business KPIs over the API and in /metrics, from one billed month and what came after it:
Acme's November (1,250 calls) is billed on 4 December; then 1,100 December calls, 50 late
November calls and 3 calls of a tenant nobody owns arrive. The KPI job measures unbilled usage
by age and what it will bill, and counts every stored event into the lag histogram once."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi.testclient import TestClient

from revsync.bootstrap import Container
from revsync.entrypoints.workers.relay import worker_jobs
from revsync.observability.metrics import FAMILIES
from tests.conftest import issue_key
from tests.entrypoints.api.test_billing_api import (  # noqa: F401 - fixtures
    billed_november,
    calls,
    clock,
    configured,
    settings,
)
from tests.support.clock import FrozenClock, utc


def kpis(api: TestClient, key: dict[str, str]) -> dict[str, Any]:
    response = api.get("/v1/operations/kpis", headers=key)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_unbilled_usage_by_age_and_amount_unmapped_tenants_and_event_lag(
    api: TestClient,
    container: Container,
    admin: dict[str, str],
    reader: dict[str, str],
    ingest: dict[str, str],
    clock: FrozenClock,  # noqa: F811
) -> None:
    billed_november(api, admin, ingest, clock)  # 1,250 calls at 11:00 received at 12:00
    before = kpis(api, reader)
    assert before["unbilled_usage"] == {"measured_at": None, "events": None, "amount": None}
    assert before["event_lag"]["count"] == 0  # nothing counted before the job runs

    clock.set(utc(2026, 12, 4, 6))
    calls(api, ingest, "t-acme", "2026-12-02T10:00:00Z", 1100, "dec")  # the open period
    calls(api, ingest, "t-acme", "2026-11-25T06:00:00Z", 50, "late")  # after November's bill
    calls(api, ingest, "t-ghost", "2026-12-03T18:00:00Z", 3, "ghost")  # no customer
    clock.set(utc(2026, 12, 4, 12))

    (job,) = [j for j in worker_jobs(container) if j.name == "kpis"]
    assert asyncio.run(job.work()) == "1153 unbilled events (1.80 EUR)"

    found = kpis(api, reader)
    assert found["unbilled_usage"] == {
        "measured_at": "2026-12-04T12:00:00+00:00",
        # by age of the event's time at 12:00 on 4 December
        "events": {"0-1d": 3, "1-7d": 1100, "7-30d": 50, "30-90d": 0, "over_90d": 0},
        # December so far: 100 calls over the free 1,000 at 0.012; November's 50 late calls
        # adjust its bill by 0.60; the ghost's calls bill nobody
        "amount": {"EUR": "1.80"},
    }
    assert found["unmapped_tenants"] == 1
    # lags: 1,250 of 1 h, 1,100 of 44 h, 50 of 9 days, 3 of 12 h
    lag = found["event_lag"]
    assert (lag["count"], lag["sum_seconds"]) == (
        2403,
        1250 * 3600 + 1100 * 44 * 3600 + 50 * 9 * 86400 + 3 * 12 * 3600,
    )
    cumulative = {str(b["le"]): b["count"] for b in lag["buckets"]}
    assert cumulative == {
        "1.0": 0,
        "5.0": 0,
        "30.0": 0,
        "60.0": 0,
        "300.0": 0,
        "900.0": 0,
        "3600.0": 1250,
        "21600.0": 1250,
        "86400.0": 1253,
        "259200.0": 2353,
        "604800.0": 2353,
        "+Inf": 2403,
    }
    assert (found["erp_posting_delay_seconds"], found["renewals_missing_adoption"]) == (None, None)
    assert (found["sync_completeness"], found["invoice_accuracy_ratio"]) == ({}, None)
    assert found["replays"] == {"delivery": 0, "quarantine": 0}
    assert found["billing_run"] == {
        "finished_at": "2026-12-04T00:00:00+00:00",
        "duration_seconds": 0.0,
    }

    # the job again: nothing new arrived, so the histogram counts nobody twice
    clock.set(utc(2026, 12, 4, 13))
    assert container.kpis.count_lag() == 0
    assert kpis(api, reader)["event_lag"] == lag
    scraped = api.get("/metrics", headers=issue_key(container, "metrics")).text
    for line in [
        'revsync_unbilled_usage_events{age="1-7d"} 1100.0',
        'revsync_unbilled_usage_events{age="over_90d"} 0.0',
        'revsync_unbilled_usage_amount{currency="EUR"} 1.8',
        "revsync_unbilled_usage_measured_timestamp_seconds 1.7963856e+09",
        "revsync_unmapped_tenants 1.0",
        'revsync_event_lag_seconds_bucket{le="3600.0"} 1250.0',
        'revsync_event_lag_seconds_bucket{le="+Inf"} 2403.0',
        "revsync_event_lag_seconds_count 2403.0",
        'revsync_replays_total{kind="delivery"} 0.0',
        "revsync_billing_run_last_duration_seconds 0.0",
        'revsync_http_request_duration_seconds_count{method="GET",route="/v1/operations/kpis",'
        'status="200"}',
        'revsync_ingest_events_total{outcome="accepted"}',
    ]:
        assert line in scraped, line
    assert 'revsync_build_info{python="' in scraped
    # every family the scrape carries is in the catalogue the dashboard and alerts are checked
    # against, with its type
    exposed = dict(
        line.split()[2:4] for line in scraped.splitlines() if line.startswith("# TYPE revsync_")
    )
    assert len(exposed) >= 20
    assert {name: kind for name, kind in exposed.items() if FAMILIES.get(name) != kind} == {}


def test_kpis_need_a_read_key(api: TestClient, ingest: dict[str, str]) -> None:
    assert api.get("/v1/operations/kpis").status_code == 401
    assert api.get("/v1/operations/kpis", headers=ingest).status_code == 403
