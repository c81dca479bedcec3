"""CloudEvents 1.0 usage events on the wire (JSON batch, single event, NDJSON).

Decoding is done with msgspec, which validates types in C; each item of a batch is decoded
on its own so that one bad item is reported without losing the others. ``data`` is decoded
with JSON floats as ``Decimal`` (exact) and re-encoded canonically (sorted keys) for storage
and for the payload fingerprint.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, NamedTuple

import msgspec

from revsync.domain.problems import Code, Problem, json_type
from revsync.domain.usage import UsageEvent
from revsync.schemas.wire import json_problem

SPEC_VERSION: Final = "1.0"
MEDIA_BATCH: Final = "application/cloudevents-batch+json"
MEDIA_SINGLE: Final = "application/cloudevents+json"
MEDIA_JSON: Final = "application/json"
MEDIA_NDJSON: Final = "application/x-ndjson"
SUPPORTED_MEDIA: Final = (MEDIA_JSON, MEDIA_BATCH, MEDIA_SINGLE, MEDIA_NDJSON)

#: deepest nesting accepted inside ``data`` (objects and arrays)
MAX_DATA_DEPTH: Final = 32
#: an array body larger than this is cut into items by a scan that can stop early
SCAN_BYTES: Final = 1024 * 1024
#: digits a number in ``data`` may have before the point, and after it
MAX_NUMBER_DIGITS: Final = 40
_INT_LIMIT: Final = 10**MAX_NUMBER_DIGITS
#: longest payload kept verbatim in a dead letter
MAX_DEAD_LETTER_PAYLOAD: Final = 65_536


class _WireEvent(msgspec.Struct, forbid_unknown_fields=False):
    """The attributes revsync reads; CloudEvents extension attributes are ignored."""

    id: str
    source: str
    type: str
    subject: str
    time: datetime
    specversion: str = SPEC_VERSION
    datacontenttype: str | None = None
    data: dict[str, Any] = {}


_event_decoder = msgspec.json.Decoder(_WireEvent, float_hook=Decimal)
_any_decoder = msgspec.json.Decoder(float_hook=Decimal)
_raw_list_decoder = msgspec.json.Decoder(list[msgspec.Raw])
_batch_decoder = msgspec.json.Decoder(list[_WireEvent], float_hook=Decimal)
_wire_encoder = msgspec.json.Encoder(decimal_format="number")
_canonical = msgspec.json.Encoder(order="sorted", decimal_format="number")

_REQUIRED: Final = ("id", "source", "type", "subject", "time")
_OPTIONAL_TEXT: Final = ("specversion", "datacontenttype")
_TOO_DEEP: Final = Problem(Code.TOO_DEEP, f"data: nested deeper than {MAX_DATA_DEPTH} levels")


class BodyError(ValueError):
    """The body as a whole cannot be read; nothing in it is applied."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


class Decoded(NamedTuple):
    """An item that decoded into an event."""

    position: int
    event: UsageEvent


class Refused(NamedTuple):
    """An item that did not decode, with the reason and what could be read of it."""

    position: int
    problem: Problem
    payload: str
    event_id: str | None = None
    event_source: str | None = None


Item = Decoded | Refused


_data_decoder = msgspec.json.Decoder(dict[str, Any], float_hook=Decimal)


def decode_data(data_json: str) -> dict[str, Any]:
    """Stored event data (canonical JSON) back to a mapping, numbers as exact Decimals."""
    return _data_decoder.decode(data_json)


def media_type(content_type: str | None) -> str:
    """The bare media type of a Content-Type header (parameters such as charset dropped)."""
    if not content_type:
        return MEDIA_JSON
    return content_type.split(";", 1)[0].strip().lower()


def split_body(body: bytes, media: str, max_items: int | None = None) -> list[bytes]:
    """Cut a request body into the raw bytes of each item, by media type. A large array is
    cut by a scan that stops past ``max_items`` items (:class:`TooManyItems`), and that lets
    other threads run while it works; a small one in one pass of the decoder."""
    if media == MEDIA_NDJSON:
        return _ndjson_lines(body)
    if media == MEDIA_SINGLE:
        return [body]
    stripped = body.lstrip()
    if media == MEDIA_JSON and stripped.startswith(b"{"):
        return [body]
    if not stripped.startswith(b"["):
        raise BodyError(Problem(Code.NOT_AN_OBJECT, "body: expected a JSON array of CloudEvents"))
    if len(body) > SCAN_BYTES:
        return _split_deep_array(body, max_items)
    try:
        return [bytes(raw) for raw in _raw_list_decoder.decode(body)]
    except RecursionError:
        return _split_deep_array(body, max_items)
    except (msgspec.DecodeError, UnicodeDecodeError):
        pass  # a bad string (a lone surrogate, bad UTF-8) is one item's fault: cut by a scan
    try:
        return _split_deep_array(body, max_items)
    except BodyError:
        raise BodyError(json_problem(body, "body")) from None


class TooManyItems(ValueError):
    """The body holds more items than a request may; nothing in it is applied. ``count`` is
    how many it holds, or None when reading stopped past the limit."""

    def __init__(self, count: int | None) -> None:
        super().__init__(f"{count} items")
        self.count = count


def decode_body(body: bytes, media: str, max_items: int) -> list[Item]:
    """Decode a request body into items, by media type (raises :class:`BodyError`, or
    :class:`TooManyItems` before decoding more than ``max_items`` items one by one).

    A well-formed batch is decoded in one pass (the common case, and about four times
    faster); if any item is invalid, the body is cut into items and each is decoded on its
    own so that the bad ones are reported by position and the others kept.
    """
    try:
        wires = _decode_whole(body, media)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        wires = None
    if wires is not None:
        if len(wires) > max_items:
            raise TooManyItems(len(wires))
        return [_item(index, wire, None) for index, wire in enumerate(wires)]
    raws = split_body(body, media, max_items)
    if len(raws) > max_items:
        raise TooManyItems(len(raws))
    return decode_items(raws)


def _decode_whole(body: bytes, media: str) -> list[_WireEvent] | None:
    if media == MEDIA_NDJSON:
        # blank lines would shift positions: such bodies take the line-by-line path
        if body.startswith(b"\n") or b"\n\n" in body or b"\r" in body:
            return None
        return _event_decoder.decode_lines(body)
    if media == MEDIA_SINGLE or body.lstrip().startswith(b"{"):
        return None
    return _batch_decoder.decode(body)


def decode_items(raws: list[bytes]) -> list[Item]:
    """Decode each raw item; a failure is a :class:`Refused` naming the field and reason."""
    return [decode_item(index, raw) for index, raw in enumerate(raws)]


def decode_item(index: int, raw: bytes) -> Item:
    """Decode one CloudEvent into a domain event, or say why not."""
    try:
        wire = _event_decoder.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return _refused(index, raw, _diagnose(raw))
    except RecursionError:
        return _refused(index, raw, _TOO_DEEP)
    return _item(index, wire, raw)


def _diagnose(raw: bytes) -> Problem:
    """Why the decoder refused an item, found by revsync's own reading of it, so that the
    reason never depends on the decoder's wording."""
    try:
        value = _any_decoder.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return json_problem(raw, "event")
    except RecursionError:
        return _TOO_DEEP
    if not isinstance(value, dict):
        return Problem(Code.NOT_AN_OBJECT, f"event: expected object, got {json_type(value)}")
    for name in _REQUIRED:
        if name not in value:
            return Problem(Code.MISSING_FIELD, f"{name}: required")
    for name in (*_REQUIRED, *_OPTIONAL_TEXT):
        given = value.get(name)
        if not isinstance(given, str) and (name in _REQUIRED or given is not None):
            return Problem(Code.WRONG_TYPE, f"{name}: expected string, got {json_type(given)}")
    try:
        msgspec.convert(value["time"], datetime)
    except msgspec.ValidationError:
        return Problem(Code.INVALID_TIME, "time: not an RFC 3339 timestamp")
    data = value.get("data", {})
    if not isinstance(data, dict):
        return Problem(Code.WRONG_TYPE, f"data: expected object, got {json_type(data)}")
    return Problem(Code.INVALID_EVENT, "event: not a CloudEvent revsync can read")


def _item(index: int, wire: _WireEvent, raw: bytes | None) -> Item:
    problem = _wire_problem(wire)
    if problem is not None:
        text = payload_text(raw if raw is not None else _wire_encoder.encode(wire))
        return Refused(index, problem, text, wire.id, wire.source)
    data_json = _canonical.encode(wire.data).decode()
    event = UsageEvent(
        wire.source, wire.id, wire.type, wire.subject, wire.time, wire.data, data_json
    )
    return Decoded(index, event)


def _wire_problem(wire: _WireEvent) -> Problem | None:
    if wire.specversion != SPEC_VERSION:
        return Problem(
            Code.UNSUPPORTED_SPECVERSION,
            f"specversion: expected '{SPEC_VERSION}', got {wire.specversion!r}",
        )
    if wire.time.tzinfo is None:
        return Problem(
            Code.INVALID_TIME,
            "time: must carry a UTC offset (RFC 3339), e.g. 2024-05-01T12:00:00Z",
        )
    if wire.datacontenttype is not None and media_type(wire.datacontenttype) != MEDIA_JSON:
        return Problem(
            Code.UNSUPPORTED_DATA,
            "datacontenttype: only application/json data is accepted, "
            f"got {wire.datacontenttype!r}",
        )
    if _nested(wire.data):
        if _depth(wire.data) > MAX_DATA_DEPTH:
            return _TOO_DEEP
        return _number_problem(_leaves(wire.data))
    return _number_problem(wire.data.items())


def _number_problem(values: Iterable[tuple[str, Any]]) -> Problem | None:
    """A number in ``data`` beyond what revsync stores and shows exactly, if any."""
    for path, value in values:
        kind = type(value)
        if kind is Decimal:
            exponent = value.as_tuple().exponent
            digits_after = -exponent if isinstance(exponent, int) else 0
            if value.adjusted() >= MAX_NUMBER_DIGITS or digits_after > MAX_NUMBER_DIGITS:
                return _out_of_range(path)
        elif kind is int and not -_INT_LIMIT < value < _INT_LIMIT:
            return _out_of_range(path)
    return None


def _out_of_range(path: str) -> Problem:
    return Problem(
        Code.INVALID_VALUE,
        f"data.{path}: number out of range (at most {MAX_NUMBER_DIGITS} digits before the "
        f"point and {MAX_NUMBER_DIGITS} after)",
    )


def _leaves(data: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Every scalar in nested ``data`` with its dotted path, without recursion."""
    stack: list[tuple[str, Any]] = list(data.items())
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((f"{path}.{k}", v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((f"{path}.{i}", v) for i, v in enumerate(value))
        else:
            yield path, value


def _nested(data: dict[str, Any]) -> bool:
    """True if any value is an object or array (flat data, the usual case, needs no walk)."""
    return any(isinstance(value, dict | list) for value in data.values())


def _depth(value: object) -> int:
    """Nesting depth of objects and arrays, computed without recursion."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        children: Any
        if isinstance(current, dict):
            children = current.values()
        elif isinstance(current, list):
            children = current
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _refused(index: int, raw: bytes, problem: Problem) -> Refused:
    event_id, source = _best_effort_key(raw)
    return Refused(index, problem, payload_text(raw), event_id, source)


def _best_effort_key(raw: bytes) -> tuple[str | None, str | None]:
    try:
        value = _any_decoder.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None, None
    if not isinstance(value, dict):
        return None, None
    event_id, source = value.get("id"), value.get("source")
    return (
        event_id if isinstance(event_id, str) else None,
        source if isinstance(source, str) else None,
    )


def payload_text(raw: bytes) -> str:
    """Raw input as text for a dead letter (invalid UTF-8 replaced, long input cut)."""
    text = raw[:MAX_DEAD_LETTER_PAYLOAD].decode("utf-8", errors="replace")
    if len(raw) > MAX_DEAD_LETTER_PAYLOAD:
        text += f"… [{len(raw) - MAX_DEAD_LETTER_PAYLOAD} more bytes]"
    return text


def _ndjson_lines(body: bytes) -> list[bytes]:
    lines = body.split(b"\n")
    if lines and not lines[-1].strip():
        lines.pop()
    return [line.rstrip(b"\r") for line in lines]


_STRUCTURAL = re.compile(rb'["\[\]{},\\]')


def _split_deep_array(body: bytes, max_items: int | None = None) -> list[bytes]:
    """Split a top-level JSON array into items without recursion (for pathological nesting
    and large bodies), stopping past ``max_items`` items."""
    items: list[bytes] = []
    depth = 0
    in_string = False
    escaped_at = -1
    start = -1
    for match in _STRUCTURAL.finditer(body):
        char, pos = match.group(), match.start()
        if in_string:
            if char == b"\\" and escaped_at != pos:
                escaped_at = pos + 1
            elif char == b'"' and escaped_at != pos:
                in_string = False
            continue
        if char == b'"':
            in_string = True
        elif char in (b"[", b"{"):
            depth += 1
            if depth == 1:
                start = pos + 1
        elif char in (b"]", b"}"):
            depth -= 1
            if depth == 0:
                _append_item(items, body[start:pos])
                return items
        elif char == b"," and depth == 1:
            _append_item(items, body[start:pos])
            start = pos + 1
            if max_items is not None and len(items) > max_items:
                raise TooManyItems(None)
    raise BodyError(Problem(Code.MALFORMED_JSON, "body: malformed JSON (unterminated array)"))


def _append_item(items: list[bytes], raw: bytes) -> None:
    stripped = raw.strip()
    if stripped or items:
        items.append(stripped)
