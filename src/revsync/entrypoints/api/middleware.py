"""Request context: a request id and correlation id on every request, log line and response."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import msgspec
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from revsync.observability.metrics import observe_request
from revsync.observability.tracing import attach_incoming, detach
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
        trace_token = attach_incoming(headers)
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
            seconds = time.perf_counter() - started
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status["code"],
                ms=round(seconds * 1000, 2),
            )
            observe_request(scope["method"], _route(scope), status["code"], seconds)
            structlog.contextvars.clear_contextvars()
            detach(trace_token)


def _route(scope: Scope) -> str:
    """The template of the route that answered (``unmatched`` for none), so that ids in paths
    make no new series."""
    return str(getattr(scope.get("route"), "path", None) or "unmatched")


class Announcements:
    """Pure ASGI middleware: adds to each answer the caller's ``RateLimit-*`` headers (set by
    the access check) and, for a route on its way out, ``Deprecation`` (RFC 9745), ``Sunset``
    (RFC 8594) and ``Link`` headers, from ``lifecycle``: (method, route path) → headers."""

    def __init__(
        self, app: ASGIApp, lifecycle: Mapping[tuple[str, str], list[tuple[bytes, bytes]]]
    ) -> None:
        self._app = app
        self._lifecycle = lifecycle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def send_announced(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra: list[tuple[bytes, bytes]] = []
                limited = scope.get("state", {}).get("rate_limit")
                if limited and message["status"] != 429:  # a 429 carries its own
                    extra.extend((k.lower().encode(), v.encode()) for k, v in limited.items())
                route = getattr(scope.get("route"), "path", None)
                if route is not None and self._lifecycle:
                    extra.extend(self._lifecycle.get((scope["method"], route), ()))
                if extra:
                    message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self._app(scope, receive, send_announced)


def lifecycle_headers(
    deprecated: datetime, sunset: datetime | None, link: str | None
) -> list[tuple[bytes, bytes]]:
    """The headers that announce a route's deprecation and end."""
    headers = [(b"deprecation", f"@{int(deprecated.timestamp())}".encode())]
    if sunset is not None:
        headers.append((b"sunset", format_datetime(sunset.astimezone(UTC), usegmt=True).encode()))
    if link is not None:
        headers.append((b"link", f'<{link}>; rel="deprecation"'.encode()))
    return headers


class BodyLimit:
    """Pure ASGI middleware: every request body but those of ``exempt`` paths (which bound
    their own, e.g. ``/v1/events``) is read up to ``limit`` bytes before the route runs; a
    longer one is answered 413 at once, so that no route reads an unbounded body."""

    def __init__(self, app: ASGIApp, limit: int, exempt: tuple[str, ...] = ()) -> None:
        self._app = app
        self._limit = limit
        self._exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self._exempt:
            await self._app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self._limit:
            await self._too_large(scope, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self._app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self._limit:
                await self._too_large(scope, send)
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = _replay([{"type": "http.request", "body": body}], receive)
        await self._app(scope, replayed, send)

    async def _too_large(self, scope: Scope, send: Send) -> None:
        request_id = scope.get("state", {}).get("request_id")
        await _error(
            send,
            413,
            {
                "code": "body_too_large",
                "message": f"request body exceeds {self._limit} bytes",
                "field": "body",
                "request_id": request_id,
            },
        )


def _replay(messages: list[Message], then: Receive) -> Receive:
    """A ``receive`` that hands out ``messages``, then what the client sends next."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await then()

    return replayed


async def _internal_error(send: Send, request_id: str) -> None:
    await _error(
        send,
        500,
        {
            "code": "internal",
            "message": "internal error; see the server log with this request_id",
            "request_id": request_id,
        },
    )


async def _error(send: Send, status: int, error: dict[str, Any]) -> None:
    body = _encode({"error": error})
    await send(
        {
            "type": "http.response.start",
            "status": status,
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
