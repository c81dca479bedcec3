"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from revsync import __version__
from revsync.bootstrap import Container
from revsync.config import ConfigError
from revsync.entrypoints.api import (
    admin,
    billing,
    cases,
    collections,
    contract,
    customers,
    entitlements,
    events,
    operations,
    reconciliations,
    renewals,
    reports,
    rerates,
    schemas,
    support,
    thresholds,
    usage,
)
from revsync.entrypoints.api.access import RULES
from revsync.entrypoints.api.bodies import MAX_BODY
from revsync.entrypoints.api.decoders import Decoders, DecoderSetup
from revsync.entrypoints.api.errors import install_error_handlers
from revsync.entrypoints.api.middleware import (
    Announcements,
    BodyLimit,
    RequestContext,
    lifecycle_headers,
)
from revsync.entrypoints.console import pages as console_pages
from revsync.observability.tracing import instrument_app


def create_app(container: Container) -> FastAPI:
    """The HTTP API and the operations console over a wired container. Every route but those
    of ``access.PUBLIC`` requires a key (the console's, a session signed in with one)."""
    app = FastAPI(
        openapi_url=None,  # served by contract.install, behind a key
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=contract.operation_id,
        title="revsync",
        version=__version__,
        summary="Usage in, invoices to the ERP, signals to the CRM.",
        description=(
            "Authenticate with `Authorization: Bearer <key>` (create one with "
            '`revsync apikey create`). Errors are `{"error": {"code", "message", …}}` '
            "(the `Error` schema). Money and usage quantities are decimal strings."
        ),
    )
    app.state.container = container
    processes = container.settings.ingestion.decoders
    decoders = Decoders(DecoderSetup.of(container.settings), processes) if processes else None
    app.state.decoders = decoders
    if decoders is not None:
        app.router.on_startup.append(decoders.start)
        app.router.on_shutdown.append(decoders.close)
    install_error_handlers(app)
    for module in (
        events,
        customers,
        entitlements,
        thresholds,
        usage,
        billing,
        rerates,
        cases,
        reports,
        schemas,
        reconciliations,
        operations,
        admin,
        support,
        collections,
        renewals,
    ):
        app.include_router(module.router)
    app.include_router(console_pages.router)
    # inner first: the body limit runs inside the request context (it has the request id)
    app.add_middleware(BodyLimit, limit=MAX_BODY, exempt=("/v1/events",))
    app.add_middleware(Announcements, lifecycle=_lifecycle(container))
    app.add_middleware(RequestContext, ids=container.ids)
    instrument_app(app)  # server spans, outermost (when this process records traces)
    # POST /v1/events documents its body and answer loosely (events.py); described here
    ingest = contract.Described(item=usage.CloudEventIn, answer=usage.IngestReportOut)
    contract.install(app, {"ingest_events": ingest})
    return app


def _lifecycle(container: Container) -> dict[tuple[str, str], list[tuple[bytes, bytes]]]:
    """The configured deprecations, refused at start when they name no route."""
    announced: dict[tuple[str, str], list[tuple[bytes, bytes]]] = {}
    for entry in container.settings.server.lifecycle:
        method, path = entry.route.split(" ", 1)
        if (method, path) not in RULES:
            raise ConfigError(f"server.lifecycle: no route {entry.route!r}")
        announced[(method, path)] = lifecycle_headers(entry.deprecated, entry.sunset, entry.link)
    return announced
