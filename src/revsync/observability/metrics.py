"""Prometheus metrics. Most are read from the database when scraped, so every API and worker
process reports the same figures: the outbox per destination and status, circuits, exception
cases, refused inputs, reconciliations, jobs and the business KPIs. The rest are counted by the
process that served the request (request durations, ingest outcomes); with several server
processes (``PROMETHEUS_MULTIPROC_DIR``, set by ``revsync serve --workers N``) a scrape adds
up every process's counts. Every family revsync exposes is in :data:`FAMILIES`."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

import revsync
from revsync.application.operations import Health
from revsync.domain.delivery import CircuitState
from revsync.domain.kpis import AGE_BUCKETS, KpiReport
from revsync.domain.reconciliation import KINDS, Check, accuracy, summary

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: every metric family revsync exposes (counters by their exposed name, ending in _total)
FAMILIES: dict[str, str] = {
    # business KPIs (docs/operations.md)
    "revsync_unbilled_usage_events": "gauge",
    "revsync_unbilled_usage_amount": "gauge",
    "revsync_unbilled_usage_measured_timestamp_seconds": "gauge",
    "revsync_unmapped_tenants": "gauge",
    "revsync_erp_posting_delay_seconds": "gauge",
    "revsync_renewals_missing_adoption": "gauge",
    "revsync_sync_completeness_ratio": "gauge",
    "revsync_invoice_accuracy_ratio": "gauge",
    "revsync_replays_total": "counter",
    "revsync_event_lag_seconds": "histogram",
    # flow health
    "revsync_outbox_messages": "gauge",
    "revsync_outbox_oldest_pending_seconds": "gauge",
    "revsync_outbox_circuit_state": "gauge",
    "revsync_outbox_circuit_failures": "gauge",
    "revsync_outbox_attempts_total": "counter",
    "revsync_outbox_held_messages": "gauge",
    "revsync_cases_open": "gauge",
    "revsync_dead_letters_total": "counter",
    "revsync_reconciliation_last_run_timestamp_seconds": "gauge",
    "revsync_reconciliation_checked": "gauge",
    "revsync_reconciliation_discrepancies": "gauge",
    "revsync_job_last_success_timestamp_seconds": "gauge",
    "revsync_job_runs_total": "counter",
    "revsync_billing_run_last_duration_seconds": "gauge",
    "revsync_billing_run_last_finished_timestamp_seconds": "gauge",
    # this process (added up across the server's processes)
    "revsync_http_request_duration_seconds": "histogram",
    "revsync_ingest_events_total": "counter",
    "revsync_build_info": "gauge",
}

disable_created_metrics()  # type: ignore[no-untyped-call]  # no *_created series

#: the request and ingest counts of this process (or of every server process, see above)
PROCESS = CollectorRegistry(auto_describe=True)
REQUEST_DURATION = Histogram(
    "revsync_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route template and status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=PROCESS,
)
INGESTED = Counter(
    "revsync_ingest_events",
    "Events taken in over HTTP, by outcome (accepted, duplicate, refused).",
    ["outcome"],
    registry=PROCESS,
)


class HealthCollector(Collector):
    """Turns :class:`~revsync.application.operations.Health` into metric families."""

    def __init__(self, read: Callable[[], Health]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        health = self._read()
        messages = GaugeMetricFamily(
            "revsync_outbox_messages",
            "Outbox messages by destination and status (failed: held by an exception case).",
            labels=["destination", "status"],
        )
        oldest = GaugeMetricFamily(
            "revsync_outbox_oldest_pending_seconds",
            "Age of the oldest message waiting for delivery (0 when none waits).",
            labels=["destination"],
        )
        circuit = GaugeMetricFamily(
            "revsync_outbox_circuit_state",
            "1 for the destination's current circuit state, 0 for the others.",
            labels=["destination", "state"],
        )
        failures = GaugeMetricFamily(
            "revsync_outbox_circuit_failures",
            "Consecutive retriable or unavailable failures counted by the destination's circuit.",
            labels=["destination"],
        )
        attempts = CounterMetricFamily(
            "revsync_outbox_attempts",
            "Delivery attempts by how they ended (delivered, found by key, unavailable, "
            "retriable, fatal, skippable), since the database was created.",
            labels=["destination", "outcome"],
        )
        held = GaugeMetricFamily(
            "revsync_outbox_held_messages",
            "Messages waiting behind a failed message of their aggregate, by the exception case "
            "holding it (order keeps them until the case is settled).",
            labels=["destination", "case"],
        )
        for destination in health.destinations:
            for outcome, count in sorted(destination.attempts.items()):
                attempts.add_metric([destination.name, outcome], count)
            for status, count in sorted(destination.by_status.items()):
                messages.add_metric([destination.name, status], count)
            oldest.add_metric([destination.name], destination.oldest_pending_seconds)
            for state in CircuitState:
                current = 1.0 if destination.circuit.state is state else 0.0
                circuit.add_metric([destination.name, state.value], current)
            failures.add_metric([destination.name], destination.circuit.failures)
            for case_id, count in sorted(destination.held.items()):
                held.add_metric([destination.name, case_id], count)
        cases = GaugeMetricFamily(
            "revsync_cases_open", "Open (or retrying) exception cases by kind.", labels=["kind"]
        )
        for kind, count in sorted(health.open_cases.items()):
            cases.add_metric([kind], count)
        letters = CounterMetricFamily(
            "revsync_dead_letters",
            "Refused inputs kept with their reason, by channel.",
            labels=["channel"],
        )
        for channel, count in sorted(health.dead_letters.items()):
            letters.add_metric([channel], count)
        yield from (messages, attempts, oldest, circuit, failures, held, cases, letters)
        yield from _reconciliation(health)


def _reconciliation(health: Health) -> Iterator[Metric]:
    """The latest reconciliation of each check, and the share of invoices it found right."""
    when = GaugeMetricFamily(
        "revsync_reconciliation_last_run_timestamp_seconds",
        "When the latest reconciliation making this check finished (Unix time).",
        labels=["check"],
    )
    checked = GaugeMetricFamily(
        "revsync_reconciliation_checked",
        "Usage lines, ERP documents or CRM accounts and contracts the latest run of the check "
        "compared.",
        labels=["check"],
    )
    found = GaugeMetricFamily(
        "revsync_reconciliation_discrepancies",
        "Discrepancies the latest run of the check found, by kind.",
        labels=["check", "kind"],
    )
    accuracy_ratio = GaugeMetricFamily(
        "revsync_invoice_accuracy_ratio",
        "Of the invoices and credit notes the latest ERP reconciliation compared, the share "
        "it found in the ERP as revsync has them (1 when it compared none).",
    )
    for name, run in sorted(health.reconciliations.items()):
        check = Check(name)
        when.add_metric([name], run.finished_at.timestamp())
        checked.add_metric([name], run.checked.get(name, 0))
        counts = summary([f for f in run.findings if f.kind in KINDS[check]])
        for kind in sorted(KINDS[check]):
            found.add_metric([name, kind.value], counts.get(kind.value, 0))
    yield from (when, checked, found)
    latest = health.reconciliations.get(Check.ERP.value)
    if latest is not None:
        accuracy_ratio.add_metric([], accuracy(latest))
        yield accuracy_ratio


class KpiCollector(Collector):
    """Turns :class:`~revsync.application.kpis.KpiReport` into metric families."""

    def __init__(self, read: Callable[[], KpiReport]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        kpis = self._read()
        yield from _unbilled(kpis)
        yield _gauge(
            "revsync_unmapped_tenants",
            "Product tenants whose stored events reach no customer.",
            kpis.unmapped_tenants,
        )
        if kpis.erp_posting_delay_seconds is not None:
            yield _gauge(
                "revsync_erp_posting_delay_seconds",
                "Age of the oldest invoice or credit note announced to the ERP and not yet in "
                "it (0 when none waits).",
                kpis.erp_posting_delay_seconds,
            )
        if kpis.renewals_missing_adoption is not None:
            yield _gauge(
                "revsync_renewals_missing_adoption",
                "CRM customers renewing within the renewal window whose adoption signals the "
                "CRM does not hold.",
                kpis.renewals_missing_adoption,
            )
        completeness = GaugeMetricFamily(
            "revsync_sync_completeness_ratio",
            "Of the messages written for a connector in the KPI window, the share it has "
            "(delivered, or nothing to do); 1 when none was written.",
            labels=["connector"],
        )
        for connector, ratio in sorted(kpis.sync_completeness.items()):
            completeness.add_metric([connector], ratio)
        yield completeness
        replays = CounterMetricFamily(
            "revsync_replays", "Replays taken, by kind (delivery, quarantine).", labels=["kind"]
        )
        for kind, count in sorted(kpis.replays.items()):
            replays.add_metric([kind], count)
        yield replays
        lag = kpis.event_lag
        buckets = [(_le(bound), float(count)) for bound, count in lag.cumulative()]
        yield HistogramMetricFamily(
            "revsync_event_lag_seconds",
            "Time from an event's own time to its receipt, over the stored events (counted by "
            "the KPI job).",
            buckets=buckets,
            sum_value=lag.sum_us / 1_000_000,
        )
        yield from _jobs(kpis)


def _unbilled(kpis: KpiReport) -> Iterator[Metric]:
    measured = kpis.measurement
    if measured is None:
        return
    events = GaugeMetricFamily(
        "revsync_unbilled_usage_events",
        "Stored usage events on no finalized invoice, by age of the event's time.",
        labels=["age"],
    )
    for label, _ in AGE_BUCKETS:
        events.add_metric([label], measured.unbilled_events.get(label, 0))
    amount = GaugeMetricFamily(
        "revsync_unbilled_usage_amount",
        "What the next invoices will bill for the usage no finalized invoice holds, by "
        "currency (before discounts and tax).",
        labels=["currency"],
    )
    for currency, value in sorted(measured.unbilled_amount.items()):
        amount.add_metric([currency], float(value))
    yield from (events, amount)
    yield _gauge(
        "revsync_unbilled_usage_measured_timestamp_seconds",
        "When the KPI job measured unbilled usage (Unix time).",
        measured.at.timestamp(),
    )


def _jobs(kpis: KpiReport) -> Iterator[Metric]:
    last = GaugeMetricFamily(
        "revsync_job_last_success_timestamp_seconds",
        "When the latest run of the job that ended well finished (Unix time); the label is "
        "task, as Prometheus keeps job for the scrape.",
        labels=["task"],
    )
    runs = CounterMetricFamily(
        "revsync_job_runs", "Runs of each job, by how they ended.", labels=["task", "outcome"]
    )
    for job in kpis.jobs:
        if job.last_success_at is not None:
            last.add_metric([job.name], job.last_success_at.timestamp())
        runs.add_metric([job.name, "ok"], job.ok)
        runs.add_metric([job.name, "failed"], job.failed)
    yield from (last, runs)
    if kpis.billing_run is not None:
        started, finished = kpis.billing_run
        yield _gauge(
            "revsync_billing_run_last_duration_seconds",
            "How long the latest billing run took.",
            (finished - started).total_seconds(),
        )
        yield _gauge(
            "revsync_billing_run_last_finished_timestamp_seconds",
            "When the latest billing run finished (Unix time).",
            finished.timestamp(),
        )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


class BuildInfo(Collector):
    """``revsync_build_info``: 1, labelled with the version and the Python running it."""

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            "revsync_build_info",
            "Always 1: the revsync version and the Python running it.",
            labels=["version", "python"],
        )
        info.add_metric([revsync.__version__, platform.python_version()], 1)
        yield info


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered request (``route``: its template, so that ids make no new series)."""
    REQUEST_DURATION.labels(method, route, str(status)).observe(seconds)


def count_ingested(accepted: int, duplicates: int, refused: int) -> None:
    """Count the outcome of the events of one ingest request."""
    for outcome, count in (("accepted", accepted), ("duplicate", duplicates), ("refused", refused)):
        if count:
            INGESTED.labels(outcome).inc(count)


def render(health: Callable[[], Health], kpis: Callable[[], KpiReport] | None = None) -> bytes:
    """The metrics in the Prometheus text format: what the database holds, and the request and
    ingest counts of this process (of every server process when they share a directory)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HealthCollector(health))
    if kpis is not None:
        registry.register(KpiCollector(kpis))
    registry.register(BuildInfo())
    if os.environ.get(MULTIPROCESS_ENV):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(registry) + generate_latest(PROCESS)


#: where the server's processes keep their counts, to be added up by a scrape
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
