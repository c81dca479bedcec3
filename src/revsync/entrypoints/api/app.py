"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from revsync import __version__
from revsync.bootstrap import Container
from revsync.entrypoints.api import admin, customers, events, usage
from revsync.entrypoints.api.errors import install_error_handlers
from revsync.entrypoints.api.middleware import RequestContext


def create_app(container: Container) -> FastAPI:
    """The HTTP API over a wired container. Every route but ``/healthz`` requires a key."""
    app = FastAPI(
        title="revsync",
        version=__version__,
        summary="Usage in, invoices to the ERP, signals to the CRM.",
        description=(
            "Authenticate with `Authorization: Bearer <key>` (create one with "
            '`revsync apikey create`). Errors are `{"error": {"code", "message", …}}`. '
            "Money and usage quantities are decimal strings."
        ),
    )
    app.state.container = container
    install_error_handlers(app)
    for module in (events, customers, usage, admin):
        app.include_router(module.router)
    app.add_middleware(RequestContext, ids=container.ids)
    return app
