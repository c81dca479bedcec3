"""The CloudEvents type system as revsync checks it (RFC 3986 URIs, RFC 2046 media types,
Strings), and the fast path's shortcuts: they must agree with the slow path."""

from __future__ import annotations

import pytest

from revsync.domain.problems import Code
from revsync.schemas.cloudevents_types import (
    VALID_SOURCES,
    dataschema_problem,
    media_kind,
    source_problem,
    string_problem,
)
from revsync.schemas.cloudevents_v1 import MEDIA_BATCH, Decoded, Refused, decode_body, decode_item
from tests.support.events import encode, event

#: the examples of spec.md (source) and RFC 3986 section 4.1 / 5.4
URI_REFERENCES = [
    "https://github.com/cloudevents",
    "mailto:cncf-wg-serverless@lists.cncf.io",
    "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
    "/cloudevents/spec/pull/123",
    "/sensors/tn-1234567/alerts",
    "1-555-123-4567",
    "cloudevents/spec/pull/123",
    "app://test",
    "//example.com/a?b#c",
    "http://[2001:db8::7]:8080/c=GB?objectClass?one",
    "../g;x?y#s",
    "g%20h",
    "s",
]
NOT_URI_REFERENCES = [
    ("my app", "' ' at position 2 must be percent-encoded"),
    ("app://caf\u00e9", "'é' at position 9 must be percent-encoded"),
    ("a%zz", "'%' at position 1 is not followed by two hexadecimal digits"),
    ("1a:b", "got '1a:b'"),  # a first segment with a colon needs a scheme
    ("a\tb", "U+0009 at position 1 must be percent-encoded"),
    ('x"y', "'\"' at position 1 must be percent-encoded"),
]


@pytest.mark.parametrize("source", URI_REFERENCES)
def test_uri_references_are_valid_sources(source: str) -> None:
    assert source_problem(source) is None
    assert source in VALID_SOURCES


@pytest.mark.parametrize(("source", "says"), NOT_URI_REFERENCES)
def test_other_sources_are_refused_saying_where(source: str, says: str) -> None:
    problem = source_problem(source)
    assert problem is not None
    assert problem.code is Code.INVALID_VALUE
    assert problem.message.startswith("source: not a URI-reference (RFC 3986)")
    assert problem.message.endswith(says)
    assert source not in VALID_SOURCES


def test_a_long_source_is_refused_before_it_is_parsed() -> None:
    problem = source_problem("a" * 257)
    assert problem is not None
    assert (problem.code, problem.message) == (
        Code.TOO_LONG,
        "source: longer than 256 characters",
    )


@pytest.mark.parametrize(
    ("schema", "ok"),
    [
        ("https://example.com/schemas/usage.json", True),
        ("urn:example:usage:v2", True),
        ("https://example.com/s.json#/definitions/x", True),
        ("/schemas/usage.json", False),
        ("usage.json", False),
        ("", False),
        ("https://example.com/" + "a" * 2100, False),
    ],
)
def test_a_dataschema_is_a_uri_with_a_scheme(schema: str, ok: bool) -> None:
    assert (dataschema_problem(schema) is None) is ok


@pytest.mark.parametrize(
    ("content_type", "kind"),
    [
        ("application/json", "json"),
        ("application/json; charset=utf-8", "json"),
        ("Application/JSON", "json"),
        ("text/json", "json"),
        ("application/vnd.example.usage+json", "json"),
        ('application/ld+json; profile="https://example.com/p"', "json"),
        ("application/cloudevents+json", "json"),
        ("application/xml", "other"),
        ("application/jsonx", "other"),
        ("text/plain; charset=utf-8", "other"),
        ("application/vnd.apache.thrift.binary", "other"),
        ("json", "malformed"),
        ("application/", "malformed"),
        ("application/json; charset", "malformed"),
        ("a b/c", "malformed"),
    ],
)
def test_media_kinds(content_type: str, kind: str) -> None:
    assert media_kind(content_type) == kind


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("plain", None),
        ("caf\u00e9 \u20ac \U0001f600 \u200d", None),
        ("a\x00b", "x: contains a NUL character"),
        ("a\x1fb", "x: contains the control character U+001F"),
        ("a\x7fb", "x: contains the control character U+007F"),
        ("a\x85b", "x: contains the control character U+0085"),
        ("a\ufdd0b", "x: contains the Unicode noncharacter U+FDD0"),
        ("a\U0010ffffb", "x: contains the Unicode noncharacter U+10FFFF"),
    ],
)
def test_strings(value: str, message: str | None) -> None:
    problem = string_problem("x", value)
    assert (problem.message if problem else None) == message


@pytest.mark.parametrize(
    "subject",
    ["tenant\u007fa", "tenant\u0085a", "tenant\\\\a\u0001", "caf\u00e9\u0000"],
)
def test_the_one_pass_path_and_the_item_path_agree_on_strings(subject: str) -> None:
    """The one-pass path skips the String check for bodies that cannot need it (ASCII, no
    escape, no DEL); every other body is checked, and both paths say the same."""
    raw = encode(event("s1", subject=subject))
    whole = decode_body(b"[" + raw + b"]", MEDIA_BATCH, 10)
    alone = decode_item(0, raw, require_specversion=True)
    assert isinstance(alone, Refused)
    assert [item._replace(payload="") for item in whole] == [alone._replace(payload="")]
    assert alone.problem.code is Code.INVALID_VALUE


def test_a_plain_body_decodes_in_one_pass_with_extension_attributes() -> None:
    items = [
        {**event(f"e{n}"), "traceparent": f"00-{n:032x}-{n:016x}-01", "priority": n}
        for n in range(50)
    ]
    decoded = decode_body(encode(items), MEDIA_BATCH, 100)
    assert all(isinstance(item, Decoded) for item in decoded)
    assert [item.position for item in decoded] == list(range(50))
