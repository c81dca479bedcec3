"""``Idempotency-Key`` on every POST that changes state: a retry gets the first answer.

Routes read their body, then hand their work to :func:`idempotent`, which runs it in a thread
(never on the event loop) under the key's claim. See :mod:`revsync.application.idempotency`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from revsync.application.idempotency import Decision, Verdict, active_claim
from revsync.bootstrap import Container
from revsync.domain.apikeys import ApiKey
from revsync.entrypoints.api.errors import ApiError

HEADER = "Idempotency-Key"
_VALID = re.compile(r"[\x21-\x7e]{1,255}")


async def idempotent(
    request: Request,
    key: ApiKey,
    body: bytes,
    work: Callable[[], Response],
    *,
    stored: Callable[[bytes], bytes] | None = None,
) -> Response:
    """Run ``work`` once per ``Idempotency-Key`` of ``key`` (if the request has one).

    ``body`` is the request's body as received; ``stored`` turns an answer into what may be
    kept and replayed (e.g. without a secret shown once)."""
    given = request.headers.get(HEADER)
    if given is None:
        return await run_in_threadpool(work)
    if not _VALID.fullmatch(given):
        raise ApiError(400, "invalid", f"{HEADER}: 1 to 255 visible ASCII characters", field=HEADER)
    container: Container = request.app.state.container
    fingerprint = _fingerprint(request, body)
    decision = await run_in_threadpool(container.idempotency.claim, key.id, given, fingerprint)
    if decision.verdict is not Verdict.RUN:
        return _answer(decision)
    claim = decision.claim
    assert claim is not None
    token = active_claim.set(claim)
    try:
        response = await run_in_threadpool(work)
    except BaseException:
        active_claim.reset(token)
        await run_in_threadpool(container.idempotency.release, claim)
        raise
    active_claim.reset(token)
    answer = bytes(response.body)
    await run_in_threadpool(
        container.idempotency.complete,
        claim,
        response.status_code,
        stored(answer) if stored else answer,
        response.media_type or "application/json",
    )
    return response


def _fingerprint(request: Request, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.url.path, request.url.query):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(body)
    return digest.hexdigest()


def _answer(decision: Decision) -> Response:
    stored = decision.stored
    if decision.verdict is Verdict.REPLAY and stored is not None:
        return Response(
            stored.body or b"",
            status_code=stored.status_code or 200,
            media_type=stored.media_type,
            headers={"Idempotent-Replayed": "true"},
        )
    if decision.verdict is Verdict.MISMATCH:
        raise ApiError(
            422,
            "idempotency.mismatch",
            f"{HEADER}: already used with another request (method, path or body differ); "
            "use a new key for a new request",
            field=HEADER,
        )
    if decision.verdict is Verdict.LOST:
        raise ApiError(
            409,
            "idempotency.answer_lost",
            f"{HEADER}: the first request with this key took effect, but its answer was lost; "
            "read the result back instead of retrying",
            field=HEADER,
        )
    raise ApiError(
        409,
        "idempotency.in_progress",
        f"{HEADER}: the first request with this key is still running; retry in a moment",
        field=HEADER,
        headers={"Retry-After": "1"},
    )
