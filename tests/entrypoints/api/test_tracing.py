"""One trace from a request to the deliveries it caused: a billing run asked for inside a
caller's trace finalizes invoices; their outbox messages keep the trace context and the relay
sends each on to the webhook inside it. Recorded (an in-memory exporter): the server span, the
SQL statements, the delivery span and the HTTP call share the caller's trace and chain up; a
log line written inside a trace carries its ids. Not recorded (the default): the caller's own
``traceparent`` reaches the destination unchanged."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
import structlog
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from revsync.bootstrap import Container, apply_configuration, build
from revsync.config import Settings
from revsync.entrypoints.api.app import create_app
from revsync.observability.logging import configure_logging
from revsync.observability.tracing import attach_incoming, configure_tracing, detach, stop_tracing
from revsync.sandbox.faults import FaultServer
from tests.conftest import issue_key, make_settings
from tests.entrypoints.api.test_billing_api import NOV_ADVANCE, customer, subscribe
from tests.scenarios.harness import PRO
from tests.support.clock import FrozenClock, utc
from tests.support.delivery import deliver_until, destination, outbox_settings

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(utc(2026, 11, 1, 8))


@pytest.fixture
def target() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


@pytest.fixture
def settings(db_url: str, target: FaultServer) -> Settings:
    return make_settings(db_url, plans=[PRO], **outbox_settings(destination(target)))


def bill_in_a_trace(api: TestClient, admin: dict[str, str], clock: FrozenClock) -> None:
    """Acme on Pro from 1 November, billed on 4 December inside the caller's trace."""
    customer(api, admin, "acme")
    assert subscribe(api, admin, "s1", "acme").status_code == 201
    clock.set(utc(2026, 12, 4, 0))
    answer = api.post(
        "/v1/billing-runs", json={"as_of": "2026-12-04"}, headers={**admin, "traceparent": CALLER}
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["finalized"]


def test_a_recorded_trace_runs_from_the_request_to_the_webhook(
    settings: Settings, clock: FrozenClock, target: FaultServer
) -> None:
    exporter = InMemorySpanExporter()
    configure_tracing(None, exporter=exporter)
    container: Container | None = None
    try:
        container = build(settings, clock=clock)
        apply_configuration(container, "test")
        with TestClient(create_app(container)) as api:
            bill_in_a_trace(api, issue_key(container, "admin"), clock)
        deliver_until(container, lambda: len(target.documents()) == 3)
        documents = target.documents()
    finally:
        stop_tracing()
        if container is not None:
            container.close()

    spans = [s for s in exporter.get_finished_spans() if s.context.trace_id == int(TRACE_ID, 16)]
    (server,) = [s for s in spans if s.kind is SpanKind.SERVER]
    assert server.name == "POST /v1/billing-runs"
    assert server.parent is not None and server.parent.span_id == 0x00F067AA0BA902B7
    deliveries = [s for s in spans if s.name == "deliver books"]
    assert len(deliveries) == 3  # one call per invoice, each under the request's span
    assert {d.parent.span_id for d in deliveries if d.parent} == {server.context.span_id}
    sql = [s for s in spans if s.kind is SpanKind.CLIENT and "db.system" in (s.attributes or {})]
    assert any(s.parent and s.parent.span_id == server.context.span_id for s in sql)
    calls = [s for s in spans if s.kind is SpanKind.CLIENT and s not in sql]  # HTTP
    assert {c.parent.span_id for c in calls if c.parent} == {d.context.span_id for d in deliveries}
    # what the destination received: the trace, at the HTTP call's span
    sent = {d["headers"]["traceparent"] for d in documents}
    assert sent == {f"00-{TRACE_ID}-{c.context.span_id:016x}-01" for c in calls}


def test_without_recording_the_callers_trace_context_reaches_the_destination(
    api: TestClient,
    container: Container,
    admin: dict[str, str],
    clock: FrozenClock,
    target: FaultServer,
) -> None:
    apply_configuration(container, "test")
    bill_in_a_trace(api, admin, clock)
    deliver_until(container, lambda: len(target.documents()) == 3)
    assert {d["headers"].get("traceparent") for d in target.documents()} == {CALLER}
    # what a request outside any trace causes goes out without one
    voided = api.post(f"/v1/invoices/{NOV_ADVANCE}/void", json={"reason": "dup"}, headers=admin)
    assert voided.status_code == 201, voided.text
    deliver_until(container, lambda: len(target.documents()) == 5)  # the void, its credit note
    assert [d["headers"].get("traceparent") for d in target.documents()[3:]] == [None, None]


def test_a_log_line_written_inside_a_trace_carries_its_ids(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", "json")
    log = structlog.get_logger("revsync.test")
    token = attach_incoming({"traceparent": CALLER})
    try:
        log.info("inside")
    finally:
        detach(token)
    log.info("outside")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    inside, outside = (next(x for x in lines if x["event"] == e) for e in ("inside", "outside"))
    assert (inside["trace_id"], inside["span_id"]) == (TRACE_ID, "00f067aa0ba902b7")
    assert "trace_id" not in outside


def test_the_crms_client_library_carries_the_trace_context_too(target: FaultServer) -> None:
    """The CRM is called through simple-salesforce, on requests: its calls carry the current
    trace context as httpx's do (here to the fault server, which keeps request headers)."""
    configure_tracing(None)
    token = attach_incoming({"traceparent": CALLER})
    try:
        sent = requests.post(
            f"{target.url}/documents", json={}, headers={"Idempotency-Key": "k1"}, timeout=5
        )
    finally:
        detach(token)
    assert sent.status_code == 201
    (document,) = target.documents()
    assert document["headers"]["traceparent"] == CALLER
