"""Traces (OpenTelemetry): W3C ``traceparent`` taken from requests, kept with each outbox
message and sent on with its delivery, so that one trace runs from the request that caused a
message to the call that delivered it (a webhook, the ERP, the CRM).

Propagation always works: an incoming ``traceparent`` is attached to the request's context
(``attach_incoming``), the outbox stores the current one with each message
(``current_traceparent``), the relay delivers a message inside a span under it
(``delivery_span``) and outgoing HTTP calls (httpx and requests, instrumented once per
process) carry it on. Spans are recorded and exported only when ``tracing.otlp_endpoint`` is
set (or a test hands in an exporter): then the API (FastAPI) and the database (SQLAlchemy) are
instrumented too. Off, the tracer is OpenTelemetry's no-op one, which passes the parent's
context through without recording anything."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context, metrics, propagate, trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Link, SpanKind
from sqlalchemy.engine import Engine

import revsync

_TRACER = "revsync"
#: the provider this process records with (None: tracing off)
_provider: TracerProvider | None = None


def configure_tracing(
    endpoint: str | None,
    *,
    service: str = "revsync",
    sample_ratio: float = 1.0,
    exporter: SpanExporter | None = None,
) -> TracerProvider | None:
    """Set up tracing for this process: outgoing HTTP calls carry the current trace context
    always; with an OTLP ``endpoint`` (or an ``exporter``, for tests) spans are recorded and
    exported. Returns the provider when recording. Call it before building the engine and the
    app; a second call changes nothing while one records (``stop_tracing`` ends it)."""
    global _provider
    if exporter is None and endpoint is not None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=endpoint)
    if exporter is not None and _provider is None:
        provider = TracerProvider(
            resource=Resource.create(
                {"service.name": service, "service.version": revsync.__version__}
            ),
            sampler=ParentBased(TraceIdRatioBased(sample_ratio)),
        )
        provider.add_span_processor(
            BatchSpanProcessor(exporter) if endpoint is not None else SimpleSpanProcessor(exporter)
        )
        _provider = provider
        _instrument_clients(again=True)
    else:
        _instrument_clients(again=False)
    return _provider


def stop_tracing() -> None:
    """Flush and stop recording (propagation goes on)."""
    global _provider
    if _provider is None:
        return
    _provider.shutdown()
    _provider = None
    EngineTracer.remove_all_event_listeners()  # type: ignore[no-untyped-call]
    _instrument_clients(again=True)


def _instrument_clients(*, again: bool) -> None:
    """httpx and requests carry the trace context on every call (and record client spans
    when this process records)."""
    for instrumentor in (HTTPXClientInstrumentor(), RequestsInstrumentor()):
        if instrumentor.is_instrumented_by_opentelemetry:
            if not again:
                continue
            instrumentor.uninstrument()
        instrumentor.instrument(tracer_provider=_provider)


def _tracer() -> trace.Tracer:
    return (_provider or trace.get_tracer_provider()).get_tracer(_TRACER, revsync.__version__)


def recording() -> bool:
    """Whether this process records spans."""
    return _provider is not None


def instrument_app(app: Any) -> None:
    """Server spans for every request of a FastAPI app (when recording)."""
    if _provider is not None:
        FastAPIInstrumentor.instrument_app(app, tracer_provider=_provider)


def instrument_engine(engine: Engine) -> None:
    """A span per statement on ``engine`` (when recording). The instrumentation's engine
    listener is used alone: its instrumentor patches ``create_engine`` process-wide, imports
    the asyncio extension (greenlet) and declares SQLAlchemy < 2.1, whose engine events 2.1
    keeps (tests/entrypoints/api/test_tracing.py sees the statements' spans)."""
    if _provider is not None:
        # connection-pool figures go to OpenTelemetry's metrics API, a no-op here (revsync's
        # metrics are Prometheus's)
        usage = metrics.get_meter(_TRACER).create_up_down_counter("db.client.connections.usage")
        tracer = _provider.get_tracer(_TRACER, revsync.__version__)
        EngineTracer(tracer, engine, usage)  # type: ignore[no-untyped-call]


def attach_incoming(headers: Mapping[str, str]) -> object | None:
    """Make a request's ``traceparent`` the current context, unless a server span already
    is (the FastAPI instrumentation took it); returns the token to detach, or None."""
    if "traceparent" not in headers or trace.get_current_span().get_span_context().is_valid:
        return None
    return context.attach(propagate.extract(headers))


def detach(token: object | None) -> None:
    if token is not None:
        context.detach(token)  # type: ignore[arg-type]


def current_traceparent() -> str | None:
    """The current trace context as a W3C ``traceparent`` (None outside any trace)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def trace_ids() -> dict[str, str]:
    """``trace_id`` and ``span_id`` of the current span, for log lines (empty outside one)."""
    found = trace.get_current_span().get_span_context()
    if not found.is_valid:
        return {}
    return {"trace_id": format(found.trace_id, "032x"), "span_id": format(found.span_id, "016x")}


@contextmanager
def delivery_span(
    destination: str, kind: str, parents: Sequence[str | None]
) -> Iterator[trace.Span]:
    """The relay's attempt to deliver messages to ``destination``: a span under the trace of
    the first message's ``traceparent``, linked to the others' (a batch joins several)."""
    contexts = [propagate.extract({"traceparent": p}) for p in parents if p]
    parent = contexts[0] if contexts else None
    links = [
        Link(trace.get_current_span(c).get_span_context())
        for c in contexts[1:]
        if trace.get_current_span(c).get_span_context().is_valid
    ]
    token = context.attach(parent) if parent is not None else None
    try:
        with _tracer().start_as_current_span(
            f"deliver {destination}",
            kind=SpanKind.PRODUCER,
            links=links,
            attributes={
                "messaging.destination.name": destination,
                "messaging.operation.type": "send",
                "messaging.batch.message_count": max(1, len(parents)),
                "revsync.message.kind": kind,
            },
        ) as span:
            yield span
    finally:
        detach(token)


@contextmanager
def job_span(name: str) -> Iterator[None]:
    """A job the worker runs (a root span: nothing asked for it)."""
    with _tracer().start_as_current_span(f"job {name}", context=context.Context()):
        yield
