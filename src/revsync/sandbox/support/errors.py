"""The errors Zendesk answers with: ``{"error": ..., "description": ...}``, plus ``details`` (per
field, a list of ``{"description", "error"}``) for 422 RecordInvalid."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A refused request: HTTP ``status`` and the JSON ``body`` Zendesk sends for it."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}


def not_found() -> ApiError:
    """404 RecordNotFound."""
    return ApiError(404, {"error": "RecordNotFound", "description": "Not found"})


def invalid(field: str, description: str, error: str = "InvalidValue", **extra: Any) -> ApiError:
    """422 RecordInvalid naming ``field`` (``base`` for custom fields, with ``field_key``)."""
    item = {"description": description, "error": error, **extra}
    return ApiError(
        422,
        {
            "error": "RecordInvalid",
            "description": "Record validation errors",
            "details": {field: [item]},
        },
    )


def bad_request(description: str, error: str = "InvalidValue") -> ApiError:
    """400: a body or parameter that cannot be read."""
    return ApiError(400, {"error": error, "description": description})


def unauthorized() -> ApiError:
    """401: wrong or missing credentials."""
    return ApiError(401, {"error": "Couldn't authenticate you"})


def webhook_error(status: int, code: str, detail: str, pointer: str | None = None) -> ApiError:
    """The webhooks API's JSON:API-style error (``{"errors": [{code, title, detail, source}]}``)."""
    item: dict[str, Any] = {"code": code, "title": code, "detail": detail}
    if pointer is not None:
        item["source"] = {"pointer": pointer}
    return ApiError(status, {"errors": [item]})
