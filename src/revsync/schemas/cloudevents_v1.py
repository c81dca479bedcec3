"""CloudEvents 1.0 usage events on the wire: the HTTP binding's content modes (structured,
batched, binary) and revsync's plain JSON array and NDJSON bodies.

Decoding is done with msgspec, which validates types in C. A well-formed batch is decoded in
one pass; otherwise each item is decoded on its own so that one bad item is reported without
losing the others. ``data`` (or ``data_base64`` declared JSON, or a binary-mode body) is
decoded with JSON floats as ``Decimal`` (exact) and re-encoded canonically (sorted keys) for
storage and for the payload fingerprint. Extension attributes are checked (name and type)
and not stored. The rules, and which of the specification's SHOULDs revsync applies, are in
docs/governance.md.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, NamedTuple

import msgspec
from msgspec import UNSET, UnsetType

from revsync.domain.problems import Code, Problem, json_type
from revsync.domain.usage import UsageEvent
from revsync.schemas.cloudevents_types import (
    ATTRIBUTE_NAME,
    INTEGER_RANGE,
    VALID_SOURCES,
    dataschema_problem,
    media_kind,
    quoted,
    short,
    source_problem,
    string_problem,
)
from revsync.schemas.wire import json_problem

SPEC_VERSION: Final = "1.0"
MEDIA_BATCH: Final = "application/cloudevents-batch+json"
MEDIA_SINGLE: Final = "application/cloudevents+json"
MEDIA_JSON: Final = "application/json"
MEDIA_NDJSON: Final = "application/x-ndjson"
SUPPORTED_MEDIA: Final = (MEDIA_JSON, MEDIA_BATCH, MEDIA_SINGLE, MEDIA_NDJSON)
#: binary content mode: each attribute is a header named with this prefix
HEADER_PREFIX: Final = "ce-"
_FORMAT_PREFIX: Final = "application/cloudevents"

#: deepest nesting accepted inside ``data`` (objects and arrays)
MAX_DATA_DEPTH: Final = 32
#: an array body larger than this is cut into items by a scan that can stop early
SCAN_BYTES: Final = 1024 * 1024
#: digits a number in ``data`` may have before the point, and after it
MAX_NUMBER_DIGITS: Final = 40
_INT_LIMIT: Final = 10**MAX_NUMBER_DIGITS
#: longest payload kept verbatim in a dead letter
MAX_DEAD_LETTER_PAYLOAD: Final = 65_536


class _WireEvent(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """A CloudEvent with no extension attributes, as revsync reads it. ``specversion`` and
    ``data`` may be absent here so that revsync, not the decoder, says what is wrong."""

    id: str
    source: str
    type: str
    subject: str
    time: datetime
    specversion: str | UnsetType | None = UNSET
    datacontenttype: str | None = None
    dataschema: str | None = None
    data: dict[str, Any] | UnsetType = UNSET
    data_base64: str | None = None


class _OpenWireEvent(_WireEvent, forbid_unknown_fields=False):
    """The same with extension attributes, which are skipped once their names and types have
    been checked."""


_event_decoder = msgspec.json.Decoder(_WireEvent, float_hook=Decimal)
_any_decoder = msgspec.json.Decoder(float_hook=Decimal)
_raw_list_decoder = msgspec.json.Decoder(list[msgspec.Raw])
_batch_decoder = msgspec.json.Decoder(list[_WireEvent], float_hook=Decimal)
_wire_encoder = msgspec.json.Encoder(decimal_format="number")
_canonical = msgspec.json.Encoder(order="sorted", decimal_format="number")

#: members of a JSON-format event that are not extension attributes
_MEMBERS: Final = frozenset(_OpenWireEvent.__struct_fields__)
_REQUIRED: Final = ("id", "source", "type", "subject", "time")
_OPTIONAL_TEXT: Final = ("datacontenttype", "dataschema", "data_base64")
_JSON_ONLY: Final = "revsync meters read JSON data (application/json or a +json type)"
_TOO_DEEP: Final = Problem(Code.TOO_DEEP, f"data: nested deeper than {MAX_DATA_DEPTH} levels")


class BodyError(ValueError):
    """The body as a whole cannot be read; nothing in it is applied."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


class Decoded(NamedTuple):
    """An item that decoded into an event, with the schema its data declares, if any."""

    position: int
    event: UsageEvent
    dataschema: str | None = None


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


def is_binary(media: str, header_names: Iterable[str]) -> bool:
    """True if a request is one event in binary content mode: it has ``ce-`` headers and its
    media type is not a CloudEvents format (whose body holds the attributes itself)."""
    if media.startswith(_FORMAT_PREFIX):
        return False
    return any(name.lower().startswith(HEADER_PREFIX) for name in header_names)


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
    """Decode a structured-mode body into items, by media type (raises :class:`BodyError`, or
    :class:`TooManyItems` before decoding more than ``max_items`` items one by one).

    A well-formed batch without extension attributes is decoded in one pass (the common
    case, and about four times faster); otherwise the body is cut into items and each is
    decoded on its own, so that the bad ones are reported by position and the others kept.
    """
    try:
        wires = _decode_whole(body, media)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        wires = None
    if wires is not None:
        if len(wires) > max_items:
            raise TooManyItems(len(wires))
        plain = _plain(body)
        return [_item(index, wire, None, True, plain) for index, wire in enumerate(wires)]
    raws = split_body(body, media, max_items)
    if len(raws) > max_items:
        raise TooManyItems(len(raws))
    return decode_items(raws)


def _decode_whole(body: bytes, media: str) -> Sequence[_WireEvent] | None:
    """Every item of a body in one pass, or None when some item needs a closer look (or a
    decode error for the same). Extension attributes cost two more passes: one to read
    their names and types, one to convert."""
    if media == MEDIA_NDJSON:
        # blank lines would shift positions: such bodies take the line-by-line path
        if body.startswith(b"\n") or b"\n\n" in body or b"\r" in body:
            return None
        try:
            return _event_decoder.decode_lines(body)
        except msgspec.ValidationError:
            pass  # a bad line, or extension attributes
        values: Any = _any_decoder.decode_lines(body)
    elif media == MEDIA_SINGLE or body.lstrip().startswith(b"{"):
        return None
    else:
        try:
            return _batch_decoder.decode(body)
        except msgspec.ValidationError:
            pass  # a bad item, or extension attributes
        values = _any_decoder.decode(body)
        if not isinstance(values, list):
            return None
    if not _extensions_valid(values, _plain(body)):
        return None
    wires: list[_OpenWireEvent] = msgspec.convert(values, list[_OpenWireEvent])
    return wires


#: the types of extension attribute values that need no look at each value (strings when
#: the body is plain, see :func:`_plain`)
_PLAIN_KINDS: Final = frozenset((str, bool, type(None)))


def _extensions_valid(values: list[Any], plain: bool) -> bool:
    """True if every extension attribute of the decoded items has a valid name and a value
    of a CloudEvents type: each name is checked once, and the values by their types."""
    try:
        names = set().union(*values)
        for name in names - _MEMBERS:
            if not ATTRIBUTE_NAME.fullmatch(name):
                return False
            kinds = {type(value.get(name)) for value in values}
            if kinds <= _PLAIN_KINDS and (plain or str not in kinds):
                continue
            if any(_extension_problem(name, value.get(name)) for value in values):
                return False
    except (TypeError, AttributeError):
        return False  # an item that is not an object: it is read on its own
    return True


def decode_items(raws: list[bytes]) -> list[Item]:
    """Decode each raw CloudEvent; a failure is a :class:`Refused` naming the field and why."""
    return [decode_item(index, raw, require_specversion=True) for index, raw in enumerate(raws)]


def decode_item(index: int, raw: bytes, *, require_specversion: bool = False) -> Item:
    """Decode one CloudEvent into a domain event, or say why not.

    Without ``require_specversion`` (a line of a usage file: CSV rows have no such column) an
    absent ``specversion`` means 1.0; every other rule is the same.
    """
    try:
        wire: _WireEvent = _event_decoder.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return _decode_open(index, raw, require_specversion)
    except RecursionError:
        return _refused(index, raw, _TOO_DEEP)
    return _item(index, wire, raw, require_specversion, _plain(raw))


def _decode_open(index: int, raw: bytes, require_specversion: bool) -> Item:
    """The slower path: an item with extension attributes, or one that is wrong. revsync's
    own reading says what is wrong, so the reason never depends on the decoder's wording."""
    try:
        value = _any_decoder.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return _refused(index, raw, json_problem(raw, "event"))
    except RecursionError:
        return _refused(index, raw, _TOO_DEEP)
    problem = _diagnose(value, require_specversion)
    if problem is not None:
        return _refused(index, raw, problem, value)
    try:
        wire: _WireEvent = msgspec.convert(value, _OpenWireEvent)
    except msgspec.ValidationError:
        problem = Problem(Code.INVALID_EVENT, "event: not a CloudEvent revsync can read")
        return _refused(index, raw, problem, value)
    return _item(index, wire, raw, require_specversion, _plain(raw))


def _diagnose(value: object, require_specversion: bool) -> Problem | None:
    """What in a decoded item keeps it from being read as a CloudEvent (structure, names and
    types); None if nothing does. A ``null`` attribute is an absent one."""
    if not isinstance(value, dict):
        return Problem(Code.NOT_AN_OBJECT, f"event: expected object, got {json_type(value)}")
    version = value.get("specversion")
    if version is None:
        if require_specversion:
            return Problem(Code.MISSING_FIELD, "specversion: required")
    elif not isinstance(version, str):
        return Problem(Code.WRONG_TYPE, f"specversion: expected string, got {json_type(version)}")
    elif version != SPEC_VERSION:
        return _unsupported_version(version)
    for name, given in value.items():
        if name not in _MEMBERS:
            problem = _extension_problem(name, given)
            if problem is not None:
                return problem
    for name in _REQUIRED:
        if value.get(name) is None:
            return Problem(Code.MISSING_FIELD, f"{name}: required")
    for name in (*_REQUIRED, *_OPTIONAL_TEXT):
        given = value.get(name)
        if given is not None and not isinstance(given, str):
            return Problem(Code.WRONG_TYPE, f"{name}: expected string, got {json_type(given)}")
    try:
        msgspec.convert(value["time"], datetime)
    except msgspec.ValidationError:
        return Problem(Code.INVALID_TIME, "time: not an RFC 3339 timestamp")
    if "data" in value and not isinstance(value["data"], dict):
        return Problem(Code.WRONG_TYPE, f"data: expected object, got {json_type(value['data'])}")
    return None


def _extension_problem(name: str, value: object) -> Problem | None:
    """Why an extension attribute breaks the CloudEvents rules, if it does: a name of
    lowercase letters and digits, a value of a CloudEvents type (string, integer, boolean)."""
    if not ATTRIBUTE_NAME.fullmatch(name):
        return _bad_name(name, "")
    name = short(name)
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return string_problem(name, value)
    if isinstance(value, int):
        if value in INTEGER_RANGE:
            return None
        return Problem(
            Code.INVALID_VALUE,
            f"{name}: an integer attribute must lie in -2147483648..2147483647",
        )
    kind = "a number with a fraction" if isinstance(value, Decimal) else json_type(value)
    return Problem(
        Code.WRONG_TYPE, f"{name}: expected a string, an integer or a boolean, got {kind}"
    )


def _bad_name(name: str, where: str) -> Problem:
    hint = f"; did you mean '{name.lower()}'?" if name.lower() in _MEMBERS else ""
    return Problem(
        Code.INVALID_ATTRIBUTE_NAME,
        f"{short(name)}: not a CloudEvents attribute name{where} (lowercase letters a-z and digits "
        f"0-9 only){hint}",
    )


def _unsupported_version(version: str) -> Problem:
    expected = f"specversion: expected '{SPEC_VERSION}'"
    return Problem(Code.UNSUPPORTED_SPECVERSION, f"{expected}, got {quoted(version)}")


def _plain(raw: bytes) -> bool:
    """True if no string in ``raw`` can hold a character a CloudEvents String may not: it is
    ASCII, without escapes or DEL (JSON strings hold no raw control characters)."""
    return raw.isascii() and _BACKSLASH not in raw and _DEL not in raw


_BACKSLASH: Final = ord("\\")
_DEL: Final = 0x7F


def _item(
    index: int, wire: _WireEvent, raw: bytes | None, require_specversion: bool, plain: bool
) -> Item:
    """An event from its decoded struct, or why not. ``plain``: see :func:`_plain`."""
    problem = _wire_problem(wire, require_specversion, plain)
    if problem is not None:
        return _refused_wire(index, wire, raw, problem)
    data = wire.data
    if data is UNSET or wire.data_base64 is not None:
        data, problem = _other_data(wire)
        if problem is not None:
            return _refused_wire(index, wire, raw, problem)
    if _nested(data):
        problem = _TOO_DEEP if _depth(data) > MAX_DATA_DEPTH else _number_problem(_leaves(data))
    else:
        problem = _number_problem(data.items())
    if problem is not None:
        return _refused_wire(index, wire, raw, problem)
    data_json = _canonical.encode(data).decode()
    event = UsageEvent(wire.source, wire.id, wire.type, wire.subject, wire.time, data, data_json)
    return Decoded(index, event, wire.dataschema)


def _refused_wire(index: int, wire: _WireEvent, raw: bytes | None, problem: Problem) -> Refused:
    text = payload_text(raw if raw is not None else _wire_encoder.encode(wire))
    return Refused(index, problem, text, wire.id, wire.source)


def _wire_problem(wire: _WireEvent, require_specversion: bool, plain: bool) -> Problem | None:
    """The rules on the attributes' values, in the order a reader would check them (this
    runs for every event: the usual case is decided by a few checks in C)."""
    version = wire.specversion
    if version != SPEC_VERSION:
        if version is not UNSET and version is not None:
            return _unsupported_version(version)
        if require_specversion:
            return Problem(Code.MISSING_FIELD, "specversion: required")
    if wire.time.tzinfo is None:
        return Problem(
            Code.INVALID_TIME,
            "time: must carry a UTC offset (RFC 3339), e.g. 2024-05-01T12:00:00Z",
        )
    if not plain:
        problem = (
            string_problem("id", wire.id)
            or string_problem("type", wire.type)
            or string_problem("subject", wire.subject)
        )
        if problem is not None:
            return problem
    if wire.source not in VALID_SOURCES:
        problem = source_problem(wire.source)
        if problem is not None:
            return problem
    declared = wire.datacontenttype
    if declared is not None and declared != MEDIA_JSON:
        problem = _declared_type_problem(declared, wire)
        if problem is not None:
            return problem
    if wire.dataschema is not None:
        return dataschema_problem(wire.dataschema)
    return None


def _declared_type_problem(declared: str, wire: _WireEvent) -> Problem | None:
    kind = media_kind(declared)
    if kind == "malformed":
        return Problem(
            Code.INVALID_VALUE,
            f"datacontenttype: not a media type (RFC 2046 type/subtype), got {quoted(declared)}",
        )
    if kind == "json" or wire.data_base64 is not None or wire.data is UNSET:
        return None  # data_base64 is judged with its data; no data, no type to judge
    return Problem(
        Code.UNSUPPORTED_DATA,
        f"datacontenttype: {quoted(declared)} is not JSON; {_JSON_ONLY}",
    )


def _other_data(wire: _WireEvent) -> tuple[dict[str, Any], Problem | None]:
    """The data of an event without a ``data`` member: none, or ``data_base64`` decoded."""
    encoded = wire.data_base64
    if encoded is None:
        return {}, None
    if wire.data is not UNSET:
        return {}, Problem(
            Code.AMBIGUOUS_DATA, "data_base64: not allowed beside data; send one or the other"
        )
    declared = wire.datacontenttype
    if declared is not None and media_kind(declared) != "json":
        return {}, Problem(
            Code.UNSUPPORTED_DATA,
            f"data_base64: datacontenttype {quoted(declared)} is not JSON; {_JSON_ONLY}",
        )
    try:
        decoded = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return {}, Problem(Code.INVALID_VALUE, "data_base64: not valid base64 (RFC 4648)")
    data, problem = _json_object(decoded, "data_base64")
    if problem is not None and problem.code in (Code.MALFORMED_JSON, Code.INVALID_UTF8):
        problem = problem._replace(message=problem.message.replace(": ", ": decodes to ", 1))
    return data, problem


def _json_object(raw: bytes, where: str) -> tuple[dict[str, Any], Problem | None]:
    """Bytes declared JSON as the data object meters read, or why they are not one."""
    try:
        value = _any_decoder.decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return {}, json_problem(raw, where)
    except RecursionError:
        return {}, Problem(Code.TOO_DEEP, f"{where}: nested deeper than {MAX_DATA_DEPTH} levels")
    if not isinstance(value, dict):
        return {}, Problem(Code.WRONG_TYPE, f"{where}: expected object, got {json_type(value)}")
    return value, None


# -- binary content mode -----------------------------------------------------------------


def decode_binary(headers: Iterable[tuple[str, str]], body: bytes) -> list[Item]:
    """One event in binary content mode: its attributes in ``ce-`` headers (quoted strings
    unquoted, then percent-decoded as UTF-8), ``datacontenttype`` in ``Content-Type`` and its
    data the body, which must be JSON to be read; an empty body is an event without data."""
    attributes: dict[str, Any] = {}
    shown: list[str] = []  # the message as received, for a dead letter (never other headers)
    content_type: str | None = None
    problem: Problem | None = None
    for name, value in headers:
        name = name.lower()
        if name == "content-type" and content_type is None:
            content_type = value
            shown.append(f"{name}: {value}")
        elif name.startswith(HEADER_PREFIX):
            shown.append(f"{name}: {value}")
            if problem is None:
                decoded = _header_attribute(name[len(HEADER_PREFIX) :], value, attributes)
                if isinstance(decoded, Problem):
                    problem = decoded
    payload = payload_text("\n".join(shown).encode() + b"\n\n" + body)
    if problem is None and body.strip():
        if content_type is not None and media_kind(content_type) != "json":
            problem = _binary_type_problem(content_type)
        else:
            problem = _json_object(body, "data")[1]
            attributes["data"] = msgspec.Raw(body)
    if problem is None:
        if content_type is not None:
            attributes["datacontenttype"] = content_type
        item = decode_item(0, _wire_encoder.encode(attributes), require_specversion=True)
        if isinstance(item, Decoded):
            return [item]
        problem = _header_named(item.problem)
    event_id, source = attributes.get("id"), attributes.get("source")
    return [
        Refused(
            0,
            problem,
            payload,
            event_id if isinstance(event_id, str) else None,
            source if isinstance(source, str) else None,
        )
    ]


def _header_attribute(name: str, value: str, attributes: dict[str, Any]) -> Problem | None:
    """Read one ``ce-`` header into ``attributes``, or say why it cannot be."""
    header = f"{HEADER_PREFIX}{name}"
    if not ATTRIBUTE_NAME.fullmatch(name):
        return _bad_name(name, f" (header {header})")
    if name == "datacontenttype":
        return Problem(
            Code.INVALID_VALUE,
            "datacontenttype: in binary mode it is the Content-Type header; "
            "the ce-datacontenttype header must not be sent",
        )
    if name == "data":
        return Problem(
            Code.INVALID_ATTRIBUTE_NAME, "data: in binary mode the data is the body, not a header"
        )
    if name in attributes:
        return Problem(Code.INVALID_VALUE, f"{name}: the {header} header is given more than once")
    decoded = _header_value(name, header, value)
    if isinstance(decoded, Problem):
        return decoded
    attributes[name] = decoded
    return None


_QUOTED_PAIR = re.compile(r"\\(.)")
_TWO_HEX = re.compile("[0-9A-Fa-f]{2}")


def _header_value(name: str, header: str, value: str) -> str | Problem:
    """An attribute from its header value: a quoted string unquoted (RFC 7230 3.2.6), then one
    round of percent-decoding, which must give UTF-8."""
    if not (value.isascii() and value.isprintable()):
        return Problem(
            Code.INVALID_VALUE,
            f"{name}: the {header} header holds a character outside printable ASCII; "
            "percent-encode it as UTF-8",
        )
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        value = _QUOTED_PAIR.sub(r"\1", value[1:-1])
    if "%" not in value:
        return value
    pieces = value.split("%")
    octets = bytearray(pieces[0].encode("ascii"))
    for piece in pieces[1:]:
        if not _TWO_HEX.match(piece):
            return Problem(
                Code.INVALID_VALUE,
                f"{name}: malformed percent-encoding in the {header} header "
                "('%' must be followed by two hexadecimal digits)",
            )
        octets.append(int(piece[:2], 16))
        octets += piece[2:].encode("ascii")
    try:
        return octets.decode("utf-8")
    except UnicodeDecodeError as error:
        return Problem(
            Code.INVALID_UTF8,
            f"{name}: the {header} header percent-decodes to invalid UTF-8 at byte {error.start}",
        )


def _binary_type_problem(content_type: str) -> Problem:
    if media_kind(content_type) == "malformed":
        return Problem(
            Code.INVALID_VALUE,
            "datacontenttype: Content-Type is not a media type (RFC 2046), got "
            f"{quoted(content_type)}",
        )
    return Problem(
        Code.UNSUPPORTED_DATA,
        f"datacontenttype: {quoted(content_type)} (the Content-Type) is not JSON; {_JSON_ONLY}",
    )


def _header_named(problem: Problem) -> Problem:
    """A missing attribute of a binary-mode event, with the header that would carry it."""
    if problem.code is not Code.MISSING_FIELD:
        return problem
    name = problem.message.split(":", 1)[0]
    return Problem(problem.code, f"{name}: required (the {HEADER_PREFIX}{name} header)")


# -- limits on data ----------------------------------------------------------------------


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


# -- refusals ----------------------------------------------------------------------------


def _refused(index: int, raw: bytes, problem: Problem, value: object = None) -> Refused:
    if value is None:
        try:
            value = _any_decoder.decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            value = None
    event_id = source = None
    if isinstance(value, dict):
        event_id, source = value.get("id"), value.get("source")
    return Refused(
        index,
        problem,
        payload_text(raw),
        event_id if isinstance(event_id, str) else None,
        source if isinstance(source, str) else None,
    )


def payload_text(raw: bytes) -> str:
    """Raw input as text for a dead letter (invalid UTF-8 replaced, long input cut)."""
    text = raw[:MAX_DEAD_LETTER_PAYLOAD].decode("utf-8", errors="replace")
    if len(raw) > MAX_DEAD_LETTER_PAYLOAD:
        text += f"… [{len(raw) - MAX_DEAD_LETTER_PAYLOAD} more bytes]"
    return text


# -- cutting bodies into items -----------------------------------------------------------


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
