"""Request context: a request id and correlation id on every request, log line and response."""

from __future__ import annotations

import re
import time
from typing import Any

import msgspec
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from revsync.ports.clock import IdSource

log = structlog.get_logger("revsync.http")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_encode = msgspec.json.Encoder().encode


class RequestContext:
    """Pure ASGI middleware: binds ``request_id``/``correlation_id`` and logs each request."""

    def __init__(self, app: ASGIApp, ids: IdSource) -> None:
        self._app = app
        self._ids = ids

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = _accepted(headers.get("x-request-id")) or self._ids.new_id("req")
        correlation_id = _accepted(headers.get("x-correlation-id")) or request_id
        scope.setdefault("state", {})
        scope["state"]["request_id"] = request_id
        scope["state"]["correlation_id"] = correlation_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id, correlation_id=correlation_id)
        started = time.perf_counter()
        status: dict[str, Any] = {"code": 500}

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["started"] = True
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                    (b"x-correlation-id", correlation_id.encode()),
                ]
            await send(message)

        try:
            await self._app(scope, receive, send_with_ids)
        except Exception:
            # a bug: logged here with the request id bound, answered with that id, and not
            # raised further, so that the server keeps the connection (a raise would close it)
            log.exception("unhandled error", method=scope["method"], path=scope["path"])
            if "started" in status:
                raise  # part of an answer is out: nothing sensible can follow it
            await _internal_error(send_with_ids, request_id)
        finally:
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status["code"],
                ms=round((time.perf_counter() - started) * 1000, 2),
            )
            structlog.contextvars.clear_contextvars()


async def _internal_error(send: Send, request_id: str) -> None:
    body = _encode(
        {
            "error": {
                "code": "internal",
                "message": "internal error; see the server log with this request_id",
                "request_id": request_id,
            }
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _accepted(value: str | None) -> str | None:
    """A caller-supplied id, if it is safe to echo and log."""
    return value if value is not None and _SAFE_ID.match(value) else None
