"""Request and response bodies that carry money: decoded and encoded exactly.

JSON numbers in money-carrying requests are read as ``Decimal`` (never through a float), and
responses write money as decimal strings (promise 6).
"""

from __future__ import annotations

from collections.abc import Collection
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


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes (a declared
    length over the limit is refused before anything is read)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "body_too_large", f"request body exceeds {limit} bytes", field="body")


def object_of(
    body: bytes, allowed: Collection[str] | None, *, optional: bool = False
) -> dict[str, Any]:
    """The body as a JSON object with exact decimals (400 otherwise); a field not in
    ``allowed`` is refused with 422 naming it (``None``: the caller checks the fields).
    With ``optional``, an empty body is ``{}``."""
    if optional and not body.strip():
        return {}
    try:
        value = _decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        problem = json_problem(body, "body")
        raise ApiError(400, "malformed_body", problem.message, field="body") from None
    if not isinstance(value, dict):
        raise ApiError(400, "malformed_body", "body: expected a JSON object", field="body")
    if allowed is not None:
        unknown = sorted(name for name in value if name not in allowed)
        if unknown:
            raise ApiError(
                422,
                "invalid",
                f"{unknown[0]}: unknown field (expected: {', '.join(sorted(allowed))})",
                field=unknown[0],
            )
    return value


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


#: the dates a request may name: usage starts in 1970 (a subscription from year 1 would bill
#: 24,000 periods in one run), and the period after the last one still ends before year 10000
FIRST_DATE = date(1970, 1, 1)
LAST_DATE = date(9998, 12, 31)


def optional_date(data: dict[str, Any], name: str) -> date | None:
    """An optional ISO date field, from :data:`FIRST_DATE` to :data:`LAST_DATE`."""
    value = data.get(name)
    if value is None:
        return None
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        raise ApiError(
            422, "invalid", f"{name}: {value!r} is not a date (YYYY-MM-DD)", field=name
        ) from None
    if not FIRST_DATE <= day <= LAST_DATE:
        raise ApiError(
            422, "invalid", f"{name}: must be from {FIRST_DATE} to {LAST_DATE}", field=name
        )
    return day


def plan_out(plan: Plan) -> dict[str, Any]:
    """A plan version on the wire."""
    return {"code": plan.code, "version": plan.version, **plan_to_mapping(plan)}
