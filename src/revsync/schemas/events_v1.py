"""revsync's own events as they leave it on the event stream: CloudEvents 1.0 in structured
JSON (https://github.com/cloudevents/spec, JSON format), one per outbox message.

``id`` is the message's idempotency key (the same for every attempt, and the JetStream message
id that deduplicates them); ``type`` is revsync's event name (``invoice.posted``), the same as
in webhooks; ``subject`` is ``<object type>/<object id>``; ``time`` is when revsync wrote the
message, in the transaction of the change; ``data`` is the payload webhooks carry. Two
extensions: ``correlationid`` (what caused it: a billing run, a sync, a request) and
``traceparent`` (W3C trace context of the writer, the Distributed Tracing extension).
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from revsync.domain.delivery import OutboundMessage

SPEC_VERSION = "1.0"
#: the media type of a CloudEvent in structured JSON mode
CONTENT_TYPE = "application/cloudevents+json"


def cloud_event(message: OutboundMessage, source: str) -> dict[str, Any]:
    """The CloudEvent of an outbox message."""
    event: dict[str, Any] = {
        "specversion": SPEC_VERSION,
        "id": message.key,
        "source": source,
        "type": message.kind,
        "subject": f"{message.object_type}/{message.object_id}",
        "time": message.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "data": message.payload,
    }
    if message.correlation_id:
        event["correlationid"] = message.correlation_id
    if message.traceparent:
        event["traceparent"] = message.traceparent
    return event


def subject_of(prefix: str, event_type: str) -> str:
    """The NATS subject an event type is published on."""
    return f"{prefix}.{event_type}"
