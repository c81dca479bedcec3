"""Bearer API keys with scopes. Every endpoint but ``/healthz`` depends on :func:`require`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from revsync.bootstrap import Container
from revsync.domain.apikeys import ApiKey, Scope
from revsync.entrypoints.api.errors import ApiError

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="revsync"'}


def require(scope: Scope) -> Callable[[Request], Awaitable[ApiKey]]:
    """A dependency that admits an active key carrying ``scope`` (401 / 403 otherwise)."""

    async def authorised(request: Request) -> ApiKey:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(
                401,
                "unauthorized",
                "missing API key: send 'Authorization: Bearer <key>'",
                headers=_CHALLENGE,
            )
        container: Container = request.app.state.container
        presented = token.strip()
        key = container.api_keys.remembered(presented)
        if key is None:  # the database, off the event loop
            key = await run_in_threadpool(container.api_keys.authenticate, presented)
        if key is None:
            raise ApiError(401, "unauthorized", "invalid or revoked API key", headers=_CHALLENGE)
        if not key.allows(scope):
            raise ApiError(403, "forbidden", f"this API key lacks the '{scope.value}' scope")
        request.state.actor = f"api_key:{key.id}"
        structlog.contextvars.bind_contextvars(api_key=key.id)
        return key

    return authorised
