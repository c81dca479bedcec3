"""The FastAPI application factory."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse

from revsync import __version__
from revsync.bootstrap import Container
from revsync.domain.apikeys import ApiKey, Scope
from revsync.entrypoints.api import admin, billing, cases, customers, events, reports, usage
from revsync.entrypoints.api.auth import require
from revsync.entrypoints.api.bodies import MAX_BODY
from revsync.entrypoints.api.errors import install_error_handlers
from revsync.entrypoints.api.middleware import BodyLimit, RequestContext


def create_app(container: Container) -> FastAPI:
    """The HTTP API over a wired container. Every route but ``/healthz`` requires a key."""
    app = FastAPI(
        openapi_url=None,  # served below, behind a key like every endpoint but /healthz
        docs_url=None,
        redoc_url=None,
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
    for module in (events, customers, usage, billing, cases, reports, admin):
        app.include_router(module.router)
    # inner first: the body limit runs inside the request context (it has the request id)
    app.add_middleware(BodyLimit, limit=MAX_BODY, exempt=("/v1/events",))
    app.add_middleware(RequestContext, ids=container.ids)

    @app.get("/v1/openapi.json", include_in_schema=False)
    async def openapi(key: Annotated[ApiKey, Depends(require(Scope.READ))]) -> JSONResponse:
        return JSONResponse(app.openapi())

    return app
