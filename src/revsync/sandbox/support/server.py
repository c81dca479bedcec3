"""The HTTP face of the sandbox (FastAPI under uvicorn, as the CRM sandbox's).

Every request under ``/api/v2/`` is counted by (method, kind), its body read (at most 1 MiB:
413 beyond), checked for the API token (401), offered to the scripted faults, charged against
the per-minute budget (429 with ``Retry-After``), then handled in a worker thread; every answer
carries the rate-limit headers.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import secrets
from typing import Any

from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from revsync.sandbox.replies import Reply
from revsync.sandbox.support.control import Fault, Usage
from revsync.sandbox.support.errors import ApiError, unauthorized
from revsync.sandbox.support.routes import Call, SupportState, absolute, route

MAX_BODY = 1024 * 1024
_DRAINED = 16 * 1024 * 1024
_JSON = "application/json; charset=utf-8"
_PREFIX = "/api/v2/"
_RATE_LIMITED = {
    "error": "APIRateLimitExceeded",
    "description": "Number of allowed API requests per minute exceeded",
}
_NO_ENDPOINT = {"error": "InvalidEndpoint", "description": "Not found"}
_FAULT_BODIES: dict[str, dict[str, Any]] = {
    "429": _RATE_LIMITED,
    "500": {"error": "InternalServerError", "description": "Internal server error (injected)"},
    "503": {"error": "ServiceUnavailable", "description": "Service unavailable (injected)"},
}


def _response(reply: Reply, usage: Usage) -> Response:
    return reply.response(_JSON, usage.headers())


def _authorised(state: SupportState, header: str | None) -> bool:
    if not header or not header.lower().startswith("basic "):
        return False
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, ValueError):
        return False
    user, _, token = decoded.partition(":")
    email, _, marker = user.rpartition("/")
    expected = state.credentials
    return (
        marker == "token"
        and secrets.compare_digest(email.casefold().encode(), expected.email.casefold().encode())
        and secrets.compare_digest(token.encode(), expected.token.encode())
    )


async def _body(request: Request) -> bytes:
    """The body, at most ``MAX_BODY`` bytes; a larger one is read to its end (up to a bound, so
    that the client sees the answer) and refused with 413."""
    declared = request.headers.get("content-length", "")
    too_big = declared.isdigit() and int(declared) > MAX_BODY
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            too_big = True
        if size > _DRAINED:
            break
        if not too_big:
            chunks.append(chunk)
    if too_big:
        raise ApiError(413, {"error": "RequestTooLarge", "description": "The body exceeds 1 MiB"})
    return b"".join(chunks)


async def _drop(request: Request) -> None:
    """Close the connection without an answer (uvicorn's request cycle holds the transport)."""
    cycle = getattr(request.receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError("cannot reach the connection to drop it")
    transport.abort()
    await asyncio.sleep(0.05)  # let the server notice the connection is gone


async def _faulted(fault: Fault, request: Request, usage: Usage) -> Response | None:
    """The answer of an error fault; None once a stall has passed (the request goes on)."""
    if fault.kind in _FAULT_BODIES:
        retry = {"Retry-After": str(fault.retry_after)} if fault.kind != "500" else {}
        return _response(Reply(int(fault.kind), _FAULT_BODIES[fault.kind], retry), usage)
    if fault.after_commit:
        return None
    if fault.kind == "stall":
        await asyncio.sleep(fault.seconds)
        return None
    await _drop(request)
    return Response(status_code=500)  # never sent: the connection is gone


async def serve_api(state: SupportState, request: Request) -> Response:
    """Answer one request under ``/api/v2/``."""
    control = state.control
    method = request.method.upper()
    raw_path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
    relative = raw_path.split("?", 1)[0][len(_PREFIX) :]
    found = route(relative)
    kind, args, methods, handler = found or ("unknown", (), frozenset(), None)
    control.count(method, kind)
    usage = control.usage()
    try:
        raw_body = await _body(request)
    except ApiError as error:
        return _response(Reply(error.status, error.body), usage)
    if not _authorised(state, request.headers.get("authorization")):
        return _response(Reply(401, unauthorized().body), usage)
    fault = control.take_fault(method, request.url.path, relative)
    if fault is not None:
        answer = await _faulted(fault, request, usage)
        if answer is not None:
            return answer
    allowed, usage = control.charge()
    if not allowed:
        retry = {"Retry-After": str(usage.resets_in)}
        return _response(Reply(429, _RATE_LIMITED, retry), usage)
    if handler is None or method not in methods:
        return _response(Reply(404, _NO_ENDPOINT), usage)
    call = Call(state, method, args, dict(request.query_params), raw_body, state.base_url)
    reply = await run_in_threadpool(_dispatch, handler, call)
    if fault is not None and fault.after_commit:
        if fault.kind == "drop":
            await _drop(request)
        else:
            await asyncio.sleep(fault.seconds)
    return _response(reply, usage)


def _dispatch(handler: Any, call: Call) -> Reply:
    try:
        reply: Reply = handler(call)
    except ApiError as error:
        return Reply(error.status, error.body, error.headers)
    return Reply(reply.status, absolute(reply.payload, call.base), reply.headers)


def build_app(state: SupportState) -> FastAPI:
    """The sandbox's ASGI app over ``state``."""
    app = FastAPI(title="revsync support sandbox", openapi_url=None, docs_url=None, redoc_url=None)

    @app.api_route("/api/v2/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def api(request: Request) -> Response:
        return await serve_api(state, request)

    return app
