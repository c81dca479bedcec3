"""Business KPIs on the wire (version 1): ``GET /v1/operations/kpis`` and ``revsync kpis
--json``. Amounts are decimal strings; ratios and seconds are numbers."""

from __future__ import annotations

from typing import Any

from revsync.domain.kpis import AGE_BUCKETS, KpiReport


def kpis_out(report: KpiReport) -> dict[str, Any]:
    """Every KPI; ``null`` where it does not apply (no ERP, no CRM, never measured)."""
    measured = report.measurement
    lag = report.event_lag
    buckets = lag.cumulative()
    return {
        "at": report.at.isoformat(),
        "unbilled_usage": {
            "measured_at": None if measured is None else measured.at.isoformat(),
            "events": (
                None
                if measured is None
                else {label: measured.unbilled_events.get(label, 0) for label, _ in AGE_BUCKETS}
            ),
            "amount": (
                None
                if measured is None
                else {c: str(a) for c, a in sorted(measured.unbilled_amount.items())}
            ),
        },
        "unmapped_tenants": report.unmapped_tenants,
        "erp_posting_delay_seconds": report.erp_posting_delay_seconds,
        "renewals_missing_adoption": report.renewals_missing_adoption,
        "sync_completeness": dict(sorted(report.sync_completeness.items())),
        "invoice_accuracy_ratio": report.invoice_accuracy_ratio,
        "replays": dict(sorted(report.replays.items())),
        "event_lag": {
            "count": buckets[-1][1],
            "sum_seconds": lag.sum_us / 1_000_000,
            "buckets": [
                {"le": "+Inf" if bound == float("inf") else bound, "count": count}
                for bound, count in buckets
            ],
        },
        "jobs": [
            {
                "name": job.name,
                "last_success_at": (
                    None if job.last_success_at is None else job.last_success_at.isoformat()
                ),
                "ok": job.ok,
                "failed": job.failed,
            }
            for job in report.jobs
        ],
        "billing_run": (
            None
            if report.billing_run is None
            else {
                "finished_at": report.billing_run[1].isoformat(),
                "duration_seconds": (report.billing_run[1] - report.billing_run[0]).total_seconds(),
            }
        ),
    }
