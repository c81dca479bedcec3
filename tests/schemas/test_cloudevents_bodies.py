"""Large array bodies are cut by a scan that stops past the item limit, and positions stay
exact (the decoder's one-pass split is kept for small bodies)."""

from __future__ import annotations

import pytest

from revsync.schemas.cloudevents_v1 import (
    MEDIA_JSON,
    SCAN_BYTES,
    Decoded,
    Refused,
    TooManyItems,
    decode_body,
)
from tests.support.events import encode, event


def test_a_large_array_of_numbers_stops_past_the_limit() -> None:
    body = b"[" + b"1," * (SCAN_BYTES // 2) + b"1]"
    with pytest.raises(TooManyItems) as caught:
        decode_body(body, MEDIA_JSON, 50)
    assert caught.value.count is None


def test_a_large_batch_with_one_bad_item_keeps_every_position() -> None:
    pad = "x" * 500
    items = [encode(event(f"e{n}", data={"pad": pad, "n": n})) for n in range(2500)]
    items[1234] = b'{"specversion": "1.0", "id": 1}'
    body = b"[" + b",".join(items) + b"]"
    assert len(body) > SCAN_BYTES
    decoded = decode_body(body, MEDIA_JSON, 10_000)
    assert len(decoded) == 2500
    refused = [item for item in decoded if isinstance(item, Refused)]
    assert [(r.position, r.problem.message) for r in refused] == [(1234, "source: required")]
    assert all(
        item.event.id == f"e{item.position}" for item in decoded if isinstance(item, Decoded)
    )
