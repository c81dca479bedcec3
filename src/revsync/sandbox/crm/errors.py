"""The error Salesforce answers with: a status and ``[{"message", "errorCode", "fields"}]``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class ApiError(Exception):
    """A refused request: HTTP ``status``, an ``error_code`` such as ``INVALID_FIELD``.

    ``fields`` is None for the errors Salesforce sends without a ``fields`` member
    (INVALID_SESSION_ID, REQUEST_LIMIT_EXCEEDED).
    """

    def __init__(
        self,
        status: int,
        error_code: str,
        message: str,
        fields: Sequence[str] | None = (),
    ) -> None:
        super().__init__(f"{error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = None if fields is None else list(fields)

    def item(self) -> dict[str, Any]:
        """One entry of the error array."""
        entry: dict[str, Any] = {"message": self.message, "errorCode": self.error_code}
        if self.fields is not None:
            entry["fields"] = self.fields
        return entry

    def body(self) -> list[dict[str, Any]]:
        """The whole error body (a JSON array of one)."""
        return [self.item()]

    def composite_item(self) -> dict[str, Any]:
        """The error as a composite result item (``statusCode`` instead of ``errorCode``)."""
        return {"statusCode": self.error_code, "message": self.message, "fields": self.fields or []}


def not_found(message: str = "The requested resource does not exist") -> ApiError:
    """404 NOT_FOUND."""
    return ApiError(404, "NOT_FOUND", message)


def malformed_query(message: str) -> ApiError:
    """400 MALFORMED_QUERY."""
    return ApiError(400, "MALFORMED_QUERY", message)


def invalid_field(message: str, fields: Sequence[str] = ()) -> ApiError:
    """400 INVALID_FIELD."""
    return ApiError(400, "INVALID_FIELD", message, fields)
