"""Builders for CloudEvents in tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

_encode = msgspec.json.Encoder(decimal_format="number").encode


def event(
    event_id: str,
    *,
    subject: str = "tenant-a",
    time: datetime | str = "2026-11-10T10:00:00Z",
    type: str = "api.request",
    source: str = "app://test",
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A valid CloudEvent as a dict."""
    stamp = time.isoformat() if isinstance(time, datetime) else time
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": type,
        "subject": subject,
        "time": stamp,
        "data": {} if data is None else data,
    }


def encode(value: Any) -> bytes:
    """JSON bytes with Decimals as numbers."""
    return _encode(value)


def ndjson(events: list[dict[str, Any]]) -> bytes:
    """Events as NDJSON."""
    return b"".join(_encode(e) + b"\n" for e in events)
