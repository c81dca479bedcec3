"""One error shape for every failure: ``{"error": {"code", "message", "field"?, "request_id"}}``.

A bug (any other exception) is answered 500 in that shape by
:class:`~revsync.entrypoints.api.middleware.RequestContext`, which logs it with the request id."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from revsync.domain.errors import Conflict, DomainError, InvalidField, NotFound
from revsync.schemas import validation


class ApiError(Exception):
    """An error answered with ``status`` and a JSON body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers


def error_body(request: Request, code: str, message: str, **extra: Any) -> dict[str, Any]:
    """The JSON error body, carrying the request id."""
    error: dict[str, Any] = {"code": code, "message": message}
    error.update({k: v for k, v in extra.items() if v is not None})
    error["request_id"] = getattr(request.state, "request_id", None)
    return {"error": error}


def install_error_handlers(app: FastAPI) -> None:
    """Map domain errors, validation errors and HTTP errors to the one error shape."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, error: ApiError) -> JSONResponse:
        body = error_body(request, error.code, error.message, field=error.field)
        return JSONResponse(body, status_code=error.status, headers=error.headers)

    @app.exception_handler(InvalidField)
    async def _invalid(request: Request, error: InvalidField) -> JSONResponse:
        body = error_body(request, "invalid", str(error), field=error.field)
        return JSONResponse(body, status_code=422)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, error: NotFound) -> JSONResponse:
        return JSONResponse(error_body(request, "not_found", str(error)), status_code=404)

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, error: Conflict) -> JSONResponse:
        return JSONResponse(error_body(request, "conflict", str(error)), status_code=409)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, error: DomainError) -> JSONResponse:
        return JSONResponse(error_body(request, "refused", str(error)), status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            {
                "field": ".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]),
                "reason": validation.reason(e),
            }
            for e in error.errors()
        ]
        message = "; ".join(f"{p['field']}: {p['reason']}" for p in problems)
        body = error_body(request, "invalid", message, problems=problems)
        return JSONResponse(body, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return JSONResponse(
            error_body(request, code, str(error.detail)),
            status_code=error.status_code,
            headers=getattr(error, "headers", None),
        )
