"""Request and response bodies that carry money: decoded and encoded exactly.

JSON numbers in money-carrying requests are read as ``Decimal`` (never through a float), and
responses write money as decimal strings (promise 6).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import msgspec
from fastapi import Request, Response

from revsync.domain.pricing import Plan, plan_to_mapping
from revsync.entrypoints.api.errors import ApiError
from revsync.schemas.wire import json_problem, plain_decimals

MAX_BODY = 1024 * 1024
_decode = msgspec.json.Decoder(float_hook=Decimal).decode
_encode = msgspec.json.Encoder().encode


async def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object with exact decimals (400 / 413 otherwise)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise ApiError(413, "body_too_large", f"request body exceeds {MAX_BODY} bytes")
    try:
        value = _decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError):
        problem = json_problem(body, "body")
        raise ApiError(400, "malformed_body", problem.message, field="body") from None
    if not isinstance(value, dict):
        raise ApiError(400, "malformed_body", "body: expected a JSON object")
    return value


async def optional_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or {} when the request has no body."""
    has_body = int(request.headers.get("content-length") or 0) or request.headers.get(
        "transfer-encoding"
    )
    return await json_object(request) if has_body else {}


def json_response(content: Any, status: int = 200) -> Response:
    """A JSON response; Decimals become plain decimal strings."""
    return Response(
        _encode(plain_decimals(content)), status_code=status, media_type="application/json"
    )


def required_date(data: dict[str, Any], name: str) -> date:
    """A required ISO date field."""
    value = optional_date(data, name)
    if value is None:
        raise ApiError(422, "invalid", f"{name}: required (YYYY-MM-DD)", field=name)
    return value


def optional_date(data: dict[str, Any], name: str) -> date | None:
    """An optional ISO date field."""
    value = data.get(name)
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ApiError(
            422, "invalid", f"{name}: {value!r} is not a date (YYYY-MM-DD)", field=name
        ) from None


def plan_out(plan: Plan) -> dict[str, Any]:
    """A plan version on the wire."""
    return {"code": plan.code, "version": plan.version, **plan_to_mapping(plan)}
