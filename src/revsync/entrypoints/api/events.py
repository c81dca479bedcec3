"""``POST /v1/events``: CloudEvents in (batch, structured or binary mode, NDJSON), exactly once."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from revsync.application.ingestion import IngestContext, IngestReport, PreparedBatch
from revsync.bootstrap import Container
from revsync.domain.problems import Problem
from revsync.entrypoints.api.access import Key, admit_tenants, reach_of
from revsync.entrypoints.api.decoders import Decoders
from revsync.entrypoints.api.errors import ApiError
from revsync.observability.metrics import count_ingested
from revsync.ports.repositories import DeadLetter
from revsync.schemas.cloudevents_v1 import (
    MEDIA_NDJSON,
    SUPPORTED_MEDIA,
    BodyError,
    Item,
    TooManyItems,
    decode_binary,
    decode_body,
    is_binary,
    media_type,
    payload_text,
)

router = APIRouter(tags=["usage"])
_encode = msgspec.json.Encoder().encode

_REQUEST_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": (
            "A JSON array of CloudEvents 1.0, one CloudEvent, or NDJSON (one CloudEvent per "
            "line); or one event in binary mode: its attributes in ce- headers, its data the "
            "body, Content-Type its datacontenttype. Required attributes: specversion (1.0), "
            "id, source, type, subject (the product tenant id), time (RFC 3339 with offset); "
            "data is an object (data_base64 is read when its datacontenttype is JSON)."
        ),
        "content": {
            media: {
                "schema": {
                    "type": "array" if "batch" in media or media.endswith("/json") else "object"
                }
            }
            for media in SUPPORTED_MEDIA
        },
    },
    "responses": {
        "200": {
            "description": "Each item is accepted, a duplicate, or rejected (with its index).",
            "content": {
                "application/json": {
                    "example": {
                        "accepted": 2,
                        "duplicates": 1,
                        "unmapped": 0,
                        "late": 0,
                        "rejected": [
                            {
                                "index": 3,
                                "id": "e-4",
                                "code": "missing_field",
                                "reason": "time: required",
                            }
                        ],
                    }
                }
            },
        },
        "413": {"description": "Too many events or too large a body; nothing was applied."},
        "415": {"description": "Unsupported Content-Type."},
    },
}


@router.post("/v1/events", openapi_extra=_REQUEST_DOC, summary="Ingest usage events")
async def ingest_events(request: Request, key: Key) -> Response:
    """Store every valid event once; report duplicates and rejected items by index."""
    container: Container = request.app.state.container
    limits = container.settings.ingestion
    media = media_type(request.headers.get("content-type"))
    binary = is_binary(media, request.headers.keys())
    if not binary and media not in SUPPORTED_MEDIA:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Content-Type must be one of: {', '.join(SUPPORTED_MEDIA)}; or send one event in "
            "binary mode (its attributes in ce- headers)",
        )
    most = limits.max_batch_events
    lines = most if media == MEDIA_NDJSON and not binary else None
    body = await _read_limited(request, limits.max_body_bytes, lines)
    context = IngestContext(
        "api", request.state.actor, request.state.correlation_id, reach_of(request)
    )
    if container.schemas.stale():  # versions registered by other processes, read off the loop
        await run_in_threadpool(container.schemas.refresh)

    def prepare() -> PreparedBatch:
        items: list[Item] = (
            decode_binary(request.headers.items(), body)
            if binary
            else decode_body(body, media, most)
        )
        return container.ingestion.prepare(items, context)

    decoders: Decoders | None = request.app.state.decoders
    try:
        # a small body is decoded here; a large one in a decoding process when there are
        # some (ingestion.decoders), else in a thread, so the loop never waits
        if len(body) <= INLINE_BYTES:
            prepared = prepare()
        elif decoders is not None and not binary:
            prepared = await decoders.prepare(
                body,
                media,
                most,
                context,
                container.ingestion.intake,
                container.clock.now(),
                container.schemas.state(),
            )
        else:
            prepared = await run_in_threadpool(prepare)
    except BodyError as error:
        await _dead_letter_body(container, context, body, error.problem)
        raise ApiError(
            400, "malformed_body", f"{error.problem.message}; nothing was stored", field="body"
        ) from None
    except TooManyItems as error:
        found = f"more than {most} events" if error.count is None else f"{error.count} events"
        raise _too_many(found, most) from None
    prepared = await admit_tenants(container, prepared)
    report = await asyncio.wrap_future(container.ingestion.submit(prepared))
    count_ingested(report.accepted, report.duplicates, len(report.rejected))
    return Response(_encode(ingest_report(report)), media_type="application/json")


#: bodies up to this size are decoded on the event loop (cheaper than a thread hop)
INLINE_BYTES = 64 * 1024


async def _read_limited(request: Request, limit: int, lines: int | None) -> bytes:
    """The body, refused as soon as it passes ``limit`` bytes or, for NDJSON, ``lines``
    lines (blank lines count)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = newlines = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        if lines is not None:
            newlines += chunk.count(b"\n")
            if newlines > lines:
                raise _too_many(f"more than {lines} lines", lines)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_many(found: str, limit: int) -> ApiError:
    return ApiError(
        413,
        "too_many_events",
        f"{found} in one request; the limit is {limit}. Split the batch; nothing was applied.",
    )


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "body_too_large",
        f"request body exceeds {limit} bytes; split the batch; nothing was applied",
    )


async def _dead_letter_body(
    container: Container, context: IngestContext, body: bytes, problem: Problem
) -> None:
    letter = DeadLetter(
        received_at=container.clock.now(),
        channel=context.channel,
        code=problem.code,
        reason=problem.message,
        payload=payload_text(body),
        correlation_id=context.correlation_id,
        actor=context.actor,
    )
    await asyncio.to_thread(container.dead_letters.record, [letter])


def ingest_report(report: IngestReport) -> dict[str, Any]:
    """An ingestion report on the wire (``quarantined`` only when some were)."""
    answer: dict[str, Any] = {
        "accepted": report.accepted,
        "duplicates": report.duplicates,
        "unmapped": report.unmapped,
        "late": report.late,
        "rejected": [
            {"index": r.position, "id": r.event_id, "code": r.code, "reason": r.reason}
            for r in report.rejected
        ],
    }
    if report.quarantined:
        answer["quarantined"] = report.quarantined
    return answer
