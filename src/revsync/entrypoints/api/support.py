"""The support tool's webhook: a ticket changed, so revsync takes it now instead of at the next
sync. Signed by the tool (HMAC-SHA256 of the timestamp and the body with the webhook's signing
secret, ``support.webhook_secret_env``), not by an API key."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from revsync.adapters.connectors.support.zendesk import webhook_signed
from revsync.bootstrap import Container
from revsync.entrypoints.api.bodies import json_response, read_body
from revsync.entrypoints.api.contract import answers
from revsync.entrypoints.api.errors import ApiError
from revsync.ports.support import SupportRefused, SupportUnavailable

router = APIRouter(tags=["support"])


class WebhookOut(BaseModel):
    """What became of a webhook post: the ticket taken and whether its context was queued
    (unchanged context is not), or why the post was ignored."""

    ticket_id: int | None = None
    context_queued: bool | None = None
    ignored: str | None = None


#: the largest webhook body taken (the tool's ticket events are a few kilobytes)
MAX_WEBHOOK = 256 * 1024
#: how far a signature's timestamp may be from revsync's clock
MAX_SKEW = timedelta(minutes=5)
_SIGNATURE = "X-Zendesk-Webhook-Signature"
_TIMESTAMP = "X-Zendesk-Webhook-Signature-Timestamp"
_TICKET_EVENT = "zen:event-type:ticket."


@router.post(
    "/v1/support/webhook",
    status_code=202,
    response_model=WebhookOut,
    summary="Take a ticket the support tool says changed",
    response_description="Taken, or ignored with the reason.",
    responses=answers(
        {
            401: "The signature or its timestamp is missing, stale or wrong.",
            404: "No support webhook is configured.",
            503: "The support tool could not be reached; the tool retries.",
        }
    ),
)
async def support_webhook(request: Request) -> Response:
    """401 for a missing, stale or wrong signature; 404 when no webhook is configured."""
    container: Container = request.app.state.container
    settings = container.settings.support
    secret = os.environ.get(settings.webhook_secret_env or "") if settings.url else None
    if not secret:
        raise ApiError(404, "not_found", "no support webhook is configured")
    body = await read_body(request, MAX_WEBHOOK)
    _check_signature(request, body, secret, container.clock.now())
    try:
        event = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise ApiError(400, "invalid_json", "the body is not JSON", field="body") from None
    ticket_id = _ticket_of(event)
    if ticket_id is None:
        return json_response({"ignored": "not a ticket event"}, 202)
    correlation = request.headers.get("X-Zendesk-Webhook-Invocation-Id")
    try:
        report = await container.support_ticket(ticket_id, correlation)
    except SupportUnavailable as error:
        retry = str(int(error.retry_after or 30))
        raise ApiError(
            503, "support_unavailable", str(error), headers={"Retry-After": retry}
        ) from None
    except SupportRefused as error:  # e.g. deleted since: nothing to enrich
        return json_response({"ticket_id": ticket_id, "ignored": str(error)[:300]}, 202)
    queued = bool(report.contexts_queued)
    return json_response({"ticket_id": ticket_id, "context_queued": queued}, 202)


def _check_signature(request: Request, body: bytes, secret: str, now: datetime) -> None:
    signature = request.headers.get(_SIGNATURE)
    stamp = request.headers.get(_TIMESTAMP)
    if not signature or not stamp:
        missing = _SIGNATURE if not signature else _TIMESTAMP
        raise ApiError(401, "unsigned", f"{missing}: required", field=missing)
    try:
        at = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(401, "unsigned", f"{_TIMESTAMP}: not a time", field=_TIMESTAMP) from None
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    if abs(now - at) > MAX_SKEW:
        raise ApiError(
            401, "unsigned", f"{_TIMESTAMP}: more than 5 minutes from now", field=_TIMESTAMP
        )
    if not webhook_signed(secret, stamp, body, signature):
        raise ApiError(401, "unsigned", f"{_SIGNATURE}: does not match", field=_SIGNATURE)


def _ticket_of(event: Any) -> int | None:
    """The ticket a ticket event is about (None for any other event)."""
    if not isinstance(event, dict):
        raise ApiError(400, "invalid_body", "a JSON object is expected", field="body")
    kind = event.get("type")
    if not isinstance(kind, str) or not kind.startswith(_TICKET_EVENT):
        return None
    detail = event.get("detail")
    raw = detail.get("id") if isinstance(detail, dict) else None
    try:
        ticket_id = int(str(raw))
    except ValueError:
        raise ApiError(400, "invalid_body", "detail.id: a ticket id", field="detail.id") from None
    if not 0 < ticket_id < 2**63:
        raise ApiError(400, "invalid_body", "detail.id: a ticket id", field="detail.id")
    return ticket_id
