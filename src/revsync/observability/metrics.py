"""Prometheus metrics, read from the database when scraped (so every API and worker process
reports the same figures): the outbox per destination and status, the oldest waiting message,
circuit states, open exception cases, refused inputs and the latest reconciliations."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from revsync.application.operations import Health
from revsync.domain.delivery import CircuitState
from revsync.domain.reconciliation import KINDS, Check, summary

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class HealthCollector(Collector):
    """Turns :class:`~revsync.application.operations.Health` into metric families."""

    def __init__(self, read: Callable[[], Health]) -> None:
        self._read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
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
        attempts = GaugeMetricFamily(
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
        letters = GaugeMetricFamily(
            "revsync_dead_letters", "Refused inputs kept with their reason.", labels=["channel"]
        )
        for channel, count in sorted(health.dead_letters.items()):
            letters.add_metric([channel], count)
        yield from (messages, attempts, oldest, circuit, failures, held, cases, letters)
        yield from _reconciliation(health)


def _reconciliation(health: Health) -> Iterator[GaugeMetricFamily]:
    """The latest reconciliation of each check, and the share of invoices it found right."""
    when = GaugeMetricFamily(
        "revsync_reconciliation_last_run_timestamp_seconds",
        "When the latest reconciliation making this check finished (Unix time).",
        labels=["check"],
    )
    checked = GaugeMetricFamily(
        "revsync_reconciliation_checked",
        "Usage lines, ERP documents or CRM accounts the latest run of the check compared.",
        labels=["check"],
    )
    found = GaugeMetricFamily(
        "revsync_reconciliation_discrepancies",
        "Discrepancies the latest run of the check found, by kind.",
        labels=["check", "kind"],
    )
    accuracy = GaugeMetricFamily(
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
        if check is Check.ERP:
            compared = run.checked.get(name, 0)
            wrong = {f.object_id for f in run.findings if f.object_type == "invoice"}
            accuracy.add_metric([], (compared - len(wrong)) / compared if compared else 1.0)
    yield from (when, checked, found)
    if Check.ERP.value in health.reconciliations:
        yield accuracy


def render(read: Callable[[], Health]) -> bytes:
    """The metrics in the Prometheus text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HealthCollector(read))
    return generate_latest(registry)
