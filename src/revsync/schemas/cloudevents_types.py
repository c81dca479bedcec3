"""The CloudEvents 1.0 type system, as revsync checks it on the wire: String (no control
characters or noncharacters), URI and URI-reference (RFC 3986), media types (RFC 2046) and
attribute names. Each check answers a :class:`Problem` naming the attribute, or None.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from revsync.domain.problems import Code, Problem
from revsync.domain.usage import MAX_ATTRIBUTE_LENGTH

#: an attribute name: lowercase ASCII letters and digits (a MUST; at most 20 is a SHOULD)
ATTRIBUTE_NAME: Final = re.compile(r"[a-z0-9]+")
#: the longest ``dataschema`` accepted
MAX_URI_LENGTH: Final = 2048
#: the range of the CloudEvents ``Integer`` type
INTEGER_RANGE: Final = range(-(2**31), 2**31)

#: the longest piece of a refused value quoted in a reason
_QUOTED_CHARS: Final = 64


def short(text: str) -> str:
    """``text`` cut for a reason, so that a huge value makes no huge message."""
    return text if len(text) <= _QUOTED_CHARS else f"{text[:_QUOTED_CHARS]}…"


def quoted(text: str) -> str:
    """``text`` quoted (and cut) for a reason."""
    return repr(short(text))


#: characters a CloudEvents String may not hold: controls, and Unicode noncharacters
_DISALLOWED = re.compile(
    "[\x00-\x1f\x7f-\x9f\ufdd0-\ufdef"
    + "".join(chr(plane * 0x10000 + 0xFFFE) + chr(plane * 0x10000 + 0xFFFF) for plane in range(17))
    + "]"
)


def string_problem(name: str, value: str) -> Problem | None:
    """Why ``value`` is not a CloudEvents String, if it is not."""
    if value.isascii() and value.isprintable():
        return None  # the usual case, checked in C
    found = _DISALLOWED.search(value)
    if found is None:
        return None
    point = ord(found.group())
    if point == 0:
        return Problem(Code.INVALID_VALUE, f"{name}: contains a NUL character")
    what = "control character" if point <= 0x9F else "Unicode noncharacter"
    return Problem(Code.INVALID_VALUE, f"{name}: contains the {what} U+{point:04X}")


_HEX = "[0-9A-Fa-f]"
_PCT = f"%{_HEX}{_HEX}"
_UNRESERVED_SUB = r"A-Za-z0-9\-._~!$&'()*+,;="
_PCHAR = rf"(?:[{_UNRESERVED_SUB}:@]|{_PCT})"
_SEGMENT = f"{_PCHAR}*"
_SEGMENT_NZ = f"{_PCHAR}+"
_SEGMENT_NZ_NC = rf"(?:[{_UNRESERVED_SUB}@]|{_PCT})+"
_AUTHORITY = (
    rf"(?:(?:[{_UNRESERVED_SUB}:]|{_PCT})*@)?"  # userinfo
    rf"(?:\[[0-9A-Fa-f:.vV{_UNRESERVED_SUB}]+\]|(?:[{_UNRESERVED_SUB}]|{_PCT})*)"  # host
    r"(?::[0-9]*)?"  # port
)
_TAIL = rf"(?:\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?"
_SCHEME = r"[A-Za-z][A-Za-z0-9+\-.]*:"
_ABEMPTY = f"(?:/{_SEGMENT})*"
_ABSOLUTE = f"/(?:{_SEGMENT_NZ}{_ABEMPTY})?"
#: hier-part (after a scheme) and relative-part: a rootless first segment may hold a colon
#: only after a scheme
_HIER = f"(?://{_AUTHORITY}{_ABEMPTY}|{_ABSOLUTE}|{_SEGMENT_NZ}{_ABEMPTY}|)"
_RELATIVE = f"(?://{_AUTHORITY}{_ABEMPTY}|{_ABSOLUTE}|{_SEGMENT_NZ_NC}{_ABEMPTY}|)"
#: RFC 3986: a URI (with a scheme) and a URI-reference (a URI or a relative reference)
_URI = re.compile(f"{_SCHEME}{_HIER}{_TAIL}")
_URI_REFERENCE = re.compile(f"(?:{_SCHEME}{_HIER}|{_RELATIVE}){_TAIL}")
_URI_CHAR = re.compile(rf"[{_UNRESERVED_SUB}:@/?#\[\]]|{_PCT}")
#: sources seen valid lately (a batch usually carries a few sources, each many times)
VALID_SOURCES: set[str] = set()
_SOURCES_KEPT: Final = 4096


def source_problem(source: str) -> Problem | None:
    """Why ``source`` is not a URI-reference, if it is not (a valid one is remembered in
    :data:`VALID_SOURCES`, which callers look in first)."""
    if len(source) > MAX_ATTRIBUTE_LENGTH:
        return Problem(Code.TOO_LONG, f"source: longer than {MAX_ATTRIBUTE_LENGTH} characters")
    if _URI_REFERENCE.fullmatch(source):
        if len(VALID_SOURCES) >= _SOURCES_KEPT:
            VALID_SOURCES.clear()
        VALID_SOURCES.add(source)
        return None
    return _uri_problem("source", source, "a URI-reference")


def dataschema_problem(schema: str) -> Problem | None:
    """Why ``schema`` is not a non-empty URI, if it is not."""
    if not schema:
        return Problem(Code.EMPTY_FIELD, "dataschema: must not be empty")
    if len(schema) > MAX_URI_LENGTH:
        return Problem(Code.TOO_LONG, f"dataschema: longer than {MAX_URI_LENGTH} characters")
    if _URI.fullmatch(schema):
        return None
    return _uri_problem("dataschema", schema, "a URI with a scheme")


def _uri_problem(name: str, value: str, what: str) -> Problem:
    """Where ``value`` stops being a URI, in words: the first character RFC 3986 does not
    allow unencoded, or the whole value when its parts are out of place."""
    position = 0
    while position < len(value):
        found = _URI_CHAR.match(value, position)
        if found is None:
            char = value[position]
            if char == "%":
                return Problem(
                    Code.INVALID_VALUE,
                    f"{name}: not {what} (RFC 3986): '%' at position {position} is not followed "
                    "by two hexadecimal digits",
                )
            shown = repr(char) if char.isprintable() else f"U+{ord(char):04X}"
            return Problem(
                Code.INVALID_VALUE,
                f"{name}: not {what} (RFC 3986): {shown} at position {position} must be "
                "percent-encoded",
            )
        position = found.end()
    return Problem(Code.INVALID_VALUE, f"{name}: not {what} (RFC 3986), got {quoted(value)}")


#: RFC 7230 ``token``: a media type's type, subtype and parameter names
_TCHARS = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_PARAMETER = rf"[ \t]*;[ \t]*{_TCHARS}=(?:{_TCHARS}|\"(?:[^\"\\]|\\.)*\")"
_MEDIA_TYPE = re.compile(rf"[ \t]*{_TCHARS}/{_TCHARS}(?:{_PARAMETER})*[ \t]*")


def _media_kind(content_type: str) -> str:
    if not _MEDIA_TYPE.fullmatch(content_type):
        return "malformed"
    subtype = content_type.split(";", 1)[0].strip().lower().split("/", 1)[1]
    return "json" if subtype == "json" or subtype.endswith("+json") else "other"


_known_media_kind = lru_cache(maxsize=256)(_media_kind)


def media_kind(content_type: str) -> str:
    """``json`` for a JSON media type (``*/json``, ``*/*+json``, parameters aside), ``other``
    for another, ``malformed`` for what is not a media type (RFC 2046)."""
    if len(content_type) > MAX_ATTRIBUTE_LENGTH:
        return _media_kind(content_type)  # not kept: the cache holds short values only
    return _known_media_kind(content_type)
