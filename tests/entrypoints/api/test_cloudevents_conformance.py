"""CloudEvents 1.0 conformance of ``POST /v1/events``, with the official SDK as the client.

Events are built with the CloudEvents Python SDK (``cloudevents``, 2.x: ``cloudevents.core``)
and serialised by it in structured and binary content mode (the SDK writes no batch: the JSON
batch format is the JSON array of its structured bodies). Each is posted to the app and read
back through the usage repository, on SQLite and PostgreSQL: stored once, with its data
exactly. Then the edge cases of the specification (v1.0.2: spec.md, formats/json-format.md,
bindings/http-protocol-binding.md), each refused alone with a reason naming the field, or
accepted as docs/governance.md says.
"""

from __future__ import annotations

import base64
import itertools
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from cloudevents.core.bindings.http import HTTPMessage, to_binary_event, to_structured_event
from cloudevents.core.v03.event import CloudEvent as LegacyCloudEvent
from cloudevents.core.v1.event import CloudEvent
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from revsync.adapters.db.usage_reader import SqlUsageReader
from revsync.bootstrap import Container
from revsync.config import Settings
from revsync.domain.usage import to_micros
from revsync.schemas.cloudevents_v1 import Decoded, decode_body
from tests.conftest import make_settings
from tests.support.events import encode, event

TIME = datetime(2026, 11, 10, 10, 0, tzinfo=UTC)
#: an event type no meter reads, so that any data is stored as sent
PROBE = "conformance.probe"
BATCH = "application/cloudevents-batch+json"
STRUCTURED = "application/cloudevents+json"
_canonical = msgspec.json.Encoder(order="sorted", decimal_format="number")


@pytest.fixture
def settings(any_db_url: str) -> Settings:
    """Both backends: the data must come back exactly from SQLite and PostgreSQL alike."""
    return make_settings(any_db_url)


@pytest.fixture
def acme(api: TestClient, admin: dict[str, str]) -> str:
    """A customer owning ``tenant-a``, so that its events can be read back by customer."""
    body = {
        "name": "Acme",
        "currency": "EUR",
        "timezone": "UTC",
        "external_refs": {"product": ["tenant-a"]},
    }
    assert api.put("/v1/customers/acme", json=body, headers=admin).status_code == 201
    return "acme"


def sdk_event(event_id: str, data: Any = None, **attributes: Any) -> CloudEvent:
    """A CloudEvent built by the SDK, for tenant ``tenant-a``."""
    base: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id,
        "source": "https://example.com/app",
        "type": PROBE,
        "subject": "tenant-a",
        "time": TIME,
    }
    return CloudEvent({**base, **attributes}, data)


def send(api: TestClient, key: dict[str, str], message: HTTPMessage) -> dict[str, Any]:
    """POST an SDK message as it is (its headers and its body); the ingestion report."""
    response = api.post("/v1/events", content=message.body, headers={**key, **message.headers})
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def post(
    api: TestClient, key: dict[str, str], body: bytes, headers: dict[str, Any] | list[Any]
) -> dict[str, Any]:
    all_headers = [*key.items(), *(headers.items() if isinstance(headers, dict) else headers)]
    response = api.post("/v1/events", content=body, headers=all_headers)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def stored(container: Container, customer: str = "acme") -> dict[str, dict[str, Any]]:
    """Every event of ``PROBE`` stored for the customer, by id, read through the repository."""
    reader = SqlUsageReader(container.engine)
    start = to_micros(datetime(2026, 11, 1, tzinfo=UTC))
    end = to_micros(datetime(2026, 12, 1, tzinfo=UTC))
    return {r.event_id: dict(r.data) for r in reader.readings([customer], PROBE, start, end)}


def rejected(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [(r["code"], r["reason"]) for r in report["rejected"]]


def exact(value: Any) -> Any:
    """``value`` as revsync keeps it: numbers exact (a float as the decimal its JSON text
    reads), then canonical JSON, so that 1 and 1.0 and True stay apart."""

    def to_decimal(item: Any) -> Any:
        if isinstance(item, float):
            return Decimal(repr(item))
        if isinstance(item, dict):
            return {k: to_decimal(v) for k, v in item.items()}
        if isinstance(item, list):
            return [to_decimal(v) for v in item]
        return item

    return _canonical.encode(to_decimal(value))


DATA = {
    "tokens": 1234,
    "price": 0.000125,
    "model": "large",
    "streamed": True,
    "note": None,
    "caf\u00e9": "\u20ac 5 \U0001f600",
    "usage": {"rows": [1, 2.5, {"deep": "x"}]},
}


# --- the SDK as the client ---------------------------------------------------------------


def test_a_structured_event_from_the_sdk_is_stored_with_its_data(
    api: TestClient, admin: dict[str, str], container: Container, acme: str
) -> None:
    message = to_structured_event(sdk_event("s-1", DATA))
    assert message.headers["content-type"] == STRUCTURED
    report = send(api, admin, message)
    assert (report["accepted"], report["rejected"]) == (1, [])
    assert exact(stored(container)["s-1"]) == exact(DATA)
    assert send(api, admin, message)["duplicates"] == 1


def test_a_binary_event_from_the_sdk_is_stored_with_its_data(
    api: TestClient, admin: dict[str, str], container: Container, acme: str
) -> None:
    event = sdk_event(
        "order 42/\u20ac",  # percent-encoded by the SDK: space and the euro sign
        DATA,
        datacontenttype="application/json; charset=utf-8",
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        comment='caf\u00e9 "quoted" 100%',
    )
    message = to_binary_event(event)
    assert message.headers["ce-id"] == "order%2042/%E2%82%AC"
    assert message.headers["ce-comment"] == "caf%C3%A9%20%22quoted%22%20100%25"
    report = send(api, admin, message)
    assert (report["accepted"], report["rejected"]) == (1, [])
    assert exact(stored(container)["order 42/\u20ac"]) == exact(DATA)
    # the same event in structured mode is the same event: a duplicate, never a conflict
    assert send(api, admin, to_structured_event(event))["duplicates"] == 1


def test_a_binary_event_without_a_content_type_is_read_as_json(
    api: TestClient, admin: dict[str, str], container: Container, acme: str
) -> None:
    message = to_binary_event(sdk_event("b-plain", {"n": 1}))
    assert "content-type" not in message.headers  # the SDK leaves it out for dict data
    assert send(api, admin, message)["accepted"] == 1
    assert stored(container)["b-plain"] == {"n": 1}


def test_bytes_from_the_sdk_travel_as_data_base64_and_are_stored_as_their_json(
    api: TestClient, admin: dict[str, str], container: Container, acme: str
) -> None:
    raw = b'{"tokens": 7, "model": "small"}'
    event = sdk_event("b64-1", raw, datacontenttype="application/vnd.example.usage+json")
    message = to_structured_event(event)
    assert b'"data_base64"' in message.body
    assert send(api, admin, message)["accepted"] == 1
    assert stored(container)["b64-1"] == {"tokens": 7, "model": "small"}
    # in binary mode the same bytes are the body, and the same event
    assert send(api, admin, to_binary_event(event))["duplicates"] == 1


def test_a_batch_of_sdk_events_is_stored_item_by_item(
    api: TestClient, admin: dict[str, str], container: Container, acme: str
) -> None:
    older = LegacyCloudEvent(
        {
            "specversion": "0.3",
            "id": "batch-4",
            "source": "https://example.com/app",
            "type": PROBE,
            "subject": "tenant-a",
            "time": TIME,
        },
        {"n": 4},
    )
    events = [
        sdk_event("batch-1", {"n": 1}),
        sdk_event("batch-2", b'{"n": 2}', datacontenttype="application/json"),
        sdk_event("batch-3", {"n": 3}, region="eu", priority=5, sampled=False),
        older,
    ]
    bodies = [to_structured_event(e).body for e in events]
    report = post(api, admin, b"[" + b",".join(bodies) + b"]", {"Content-Type": BATCH})
    assert report["accepted"] == 3
    assert [(r["index"], r["id"], r["code"]) for r in report["rejected"]] == [
        (3, "batch-4", "unsupported_specversion")
    ]
    assert {k: v["n"] for k, v in stored(container).items()} == {
        "batch-1": 1,
        "batch-2": 2,
        "batch-3": 3,
    }
    # an event of 0.3 in binary mode too
    assert rejected(send(api, admin, to_binary_event(older))) == [
        ("unsupported_specversion", "specversion: expected '1.0', got '0.3'")
    ]


def test_ndjson_and_plain_json_arrays_keep_working_with_extension_attributes(
    api: TestClient, admin: dict[str, str], container: Container, acme: str
) -> None:
    lines = [{**event(f"nd-{n}", type=PROBE, data={"n": n}), "region": "eu"} for n in range(3)]
    body = b"".join(encode(line) + b"\n" for line in lines)
    assert post(api, admin, body, {"Content-Type": "application/x-ndjson"})["accepted"] == 3
    array = [{**event(f"arr-{n}", type=PROBE, data={"n": n}), "seq": n} for n in range(3)]
    assert post(api, admin, encode(array), {"Content-Type": "application/json"})["accepted"] == 3
    assert len(stored(container)) == 6


def test_an_empty_batch_is_accepted(api: TestClient, admin: dict[str, str]) -> None:
    report = post(api, admin, b"[]", {"Content-Type": BATCH})
    assert (report["accepted"], report["rejected"]) == (0, [])


# --- the JSON format: per-item rules -----------------------------------------------------


def ce(event_id: str, **changes: Any) -> dict[str, Any]:
    """A valid JSON-format event of ``PROBE``, changed; a change to ``...`` removes it."""
    item = {**event(event_id, type=PROBE, data={"n": 1}), **changes}
    return {k: v for k, v in item.items() if v is not ...}


def b64(text: bytes) -> str:
    return base64.b64encode(text).decode()


REFUSED: list[tuple[str, dict[str, Any], str, str]] = [
    ("missing specversion", ce("r1", specversion=...), "missing_field", "specversion: required"),
    ("null specversion", ce("r2", specversion=None), "missing_field", "specversion: required"),
    (
        "specversion 0.3",
        ce("r3", specversion="0.3"),
        "unsupported_specversion",
        "specversion: expected '1.0', got '0.3'",
    ),
    (
        "data_base64 of text",
        ce("r4", data=..., datacontenttype="text/plain", data_base64=b64(b"hello")),
        "unsupported_data",
        "data_base64: datacontenttype 'text/plain' is not JSON; revsync meters read JSON data "
        "(application/json or a +json type)",
    ),
    (
        "data_base64 of bytes that are not JSON",
        ce("r5", data=..., data_base64=b64(b"\x00\x01")),
        "malformed_json",
        "data_base64: decodes to malformed JSON at line 1, column 1",
    ),
    (
        "data_base64 not base64",
        ce("r6", data=..., data_base64="not base64!"),
        "invalid_value",
        "data_base64: not valid base64 (RFC 4648)",
    ),
    (
        "data_base64 of a JSON array",
        ce("r7", data=..., data_base64=b64(b"[1]")),
        "wrong_type",
        "data_base64: expected object, got array",
    ),
    (
        "data and data_base64",
        ce("r8", data_base64=b64(b"{}")),
        "ambiguous_data",
        "data_base64: not allowed beside data; send one or the other",
    ),
    (
        "uppercase attribute",
        ce("r9", ID="x"),
        "invalid_attribute_name",
        "ID: not a CloudEvents attribute name (lowercase letters a-z and digits 0-9 only); "
        "did you mean 'id'?",
    ),
    (
        "uppercase core attribute instead of the lowercase one",
        {**ce("r10", type=...), "Type": PROBE},
        "invalid_attribute_name",
        "Type: not a CloudEvents attribute name (lowercase letters a-z and digits 0-9 only); "
        "did you mean 'type'?",
    ),
    (
        "underscore in an extension name",
        ce("r11", my_ext="x"),
        "invalid_attribute_name",
        "my_ext: not a CloudEvents attribute name (lowercase letters a-z and digits 0-9 only)",
    ),
    (
        "extension of no CloudEvents type",
        ce("r12", tags=["a"]),
        "wrong_type",
        "tags: expected a string, an integer or a boolean, got array",
    ),
    (
        "extension integer out of range",
        ce("r13", count=2**31),
        "invalid_value",
        "count: an integer attribute must lie in -2147483648..2147483647",
    ),
    (
        "source not a URI-reference",
        ce("r14", source="my app"),
        "invalid_value",
        "source: not a URI-reference (RFC 3986): ' ' at position 2 must be percent-encoded",
    ),
    (
        "source with a stray percent",
        ce("r15", source="app://x/100%"),
        "invalid_value",
        "source: not a URI-reference (RFC 3986): '%' at position 11 is not followed by two "
        "hexadecimal digits",
    ),
    (
        "dataschema relative",
        ce("r16", dataschema="/schemas/usage.json"),
        "invalid_value",
        "dataschema: not a URI with a scheme (RFC 3986), got '/schemas/usage.json'",
    ),
    ("empty id", ce("", id=""), "empty_field", "id: must not be empty"),
    (
        "control character in id",
        ce("r17", id="a\nb"),
        "invalid_value",
        "id: contains the control character U+000A",
    ),
    (
        "noncharacter in type",
        ce("r18", type="probe\ufffe"),
        "invalid_value",
        "type: contains the Unicode noncharacter U+FFFE",
    ),
    (
        "time not RFC 3339",
        ce("r19", time="10/11/2026"),
        "invalid_time",
        "time: not an RFC 3339 timestamp",
    ),
    ("null time", ce("r20", time=None), "missing_field", "time: required"),
    (
        "data of another media type",
        ce("r21", datacontenttype="application/xml", data={"x": 1}),
        "unsupported_data",
        "datacontenttype: 'application/xml' is not JSON; revsync meters read JSON data "
        "(application/json or a +json type)",
    ),
    (
        "datacontenttype not a media type",
        ce("r22", datacontenttype="json"),
        "invalid_value",
        "datacontenttype: not a media type (RFC 2046 type/subtype), got 'json'",
    ),
    (
        "data a JSON string (never parsed again)",
        ce("r23", data='{"n": 1}'),
        "wrong_type",
        "data: expected object, got string",
    ),
]


@pytest.mark.parametrize(("label", "item", "code", "reason"), REFUSED, ids=[r[0] for r in REFUSED])
def test_an_item_breaking_a_rule_is_refused_alone_naming_the_field(
    api: TestClient,
    admin: dict[str, str],
    container: Container,
    acme: str,
    label: str,
    item: dict[str, Any],
    code: str,
    reason: str,
) -> None:
    body = encode([ce("ok-1"), item, ce("ok-2")])
    report = post(api, admin, body, {"Content-Type": BATCH})
    assert report["accepted"] == 2
    assert [(r["index"], r["code"], r["reason"]) for r in report["rejected"]] == [(1, code, reason)]
    letters = api.get("/v1/dead-letters", headers=admin).json()["items"]
    assert [(d["position"], d["code"], d["reason"]) for d in letters] == [(1, code, reason)]
    assert set(stored(container)) == {"ok-1", "ok-2"}
    # alone, as one structured event, it is refused the same way
    single = post(api, admin, encode(item), {"Content-Type": STRUCTURED})
    assert rejected(single) == [(code, reason)]


ACCEPTED: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("data_base64 of JSON", ce("a1", data=..., data_base64=b64(b'{"n": 2}')), {"n": 2}),
    (
        "data_base64 of +json",
        ce(
            "a2",
            data=...,
            datacontenttype="application/vnd.example+json; charset=utf-8",
            data_base64=b64(b'{"n": 3}'),
        ),
        {"n": 3},
    ),
    ("data_base64 null, data given", ce("a3", data_base64=None), {"n": 1}),
    ("data of a +json type", ce("a4", datacontenttype="text/json"), {"n": 1}),
    ("no data", ce("a5", data=...), {}),
    ("another media type and no data", ce("a6", data=..., datacontenttype="text/plain"), {}),
    (
        "extension attributes, kept out of the stored event",
        ce("a7", region="eu", priority=-3, sampled=True, unset=None, traceparent="00-ab"),
        {"n": 1},
    ),
    (
        "an attribute name past 20 characters (a SHOULD)",
        ce("a8", averyveryverylongextension="x"),
        {"n": 1},
    ),
    (
        "dataschema a URI",
        ce("a9", dataschema="https://schemas.example.com/usage/v2.json#"),
        {"n": 1},
    ),
    ("source relative", ce("a10", source="/sensors/tn-1234567/alerts"), {"n": 1}),
    ("source a URN", ce("a11", source="urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66"), {"n": 1}),
    ("source a mailto URI", ce("a12", source="mailto:cncf-wg-serverless@lists.cncf.io"), {"n": 1}),
    ("null optional attributes", ce("a13", datacontenttype=None, dataschema=None), {"n": 1}),
    ("non-ASCII id", ce("caf\u00e9 \U0001f600"), {"n": 1}),
]


@pytest.mark.parametrize(("label", "item", "data"), ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_an_item_within_the_rules_is_stored_with_its_data(
    api: TestClient,
    admin: dict[str, str],
    container: Container,
    acme: str,
    label: str,
    item: dict[str, Any],
    data: dict[str, Any],
) -> None:
    report = post(api, admin, encode([item]), {"Content-Type": BATCH})
    assert (report["accepted"], report["rejected"]) == (1, [])
    assert stored(container)[item["id"]] == data
    # the same event alone (structured mode, the per-item path) is the same event
    assert post(api, admin, encode(item), {"Content-Type": STRUCTURED})["duplicates"] == 1


def test_extension_attributes_are_not_part_of_the_stored_event(
    api: TestClient, admin: dict[str, str], container: Container, acme: str
) -> None:
    first = post(api, admin, encode([ce("x1", region="eu")]), {"Content-Type": BATCH})
    again = post(api, admin, encode([ce("x1", region="us", tier=2)]), {"Content-Type": BATCH})
    assert (first["accepted"], again["duplicates"], again["rejected"]) == (1, 1, [])
    assert stored(container) == {"x1": {"n": 1}}


def test_the_dataschema_is_on_the_decoded_event() -> None:
    schema = "https://schemas.example.com/usage/v2.json"
    (item,) = decode_body(encode([ce("d1", dataschema=schema)]), BATCH, 10)
    assert isinstance(item, Decoded)
    assert item.dataschema == schema


# --- the HTTP binding: binary content mode ----------------------------------------------


def binary_headers(event_id: str | None = "bin-1", **more: str | bytes) -> dict[str, str | bytes]:
    headers = {
        "ce-specversion": "1.0",
        "ce-id": event_id,
        "ce-source": "https://example.com/app",
        "ce-type": PROBE,
        "ce-subject": "tenant-a",
        "ce-time": "2026-11-10T10:00:00Z",
        "Content-Type": "application/json",
        **more,
    }
    return {k: v for k, v in headers.items() if v is not None}


def test_percent_encoded_header_values_are_decoded_once(
    api: TestClient, admin: dict[str, str], container: Container, acme: str
) -> None:
    # lower-case hexadecimal is accepted, and %25 gives a percent that is not decoded again
    headers = binary_headers("caf%c3%a9%20%E2%82%AC%2541")
    assert post(api, admin, b'{"n": 1}', headers)["accepted"] == 1
    assert stored(container) == {"caf\u00e9 \u20ac%41": {"n": 1}}


def test_quoted_header_values_of_older_senders_are_unquoted(
    api: TestClient, admin: dict[str, str], container: Container, acme: str
) -> None:
    headers = binary_headers('"order \\"7\\""')
    assert post(api, admin, b'{"n": 1}', headers)["accepted"] == 1
    assert list(stored(container)) == ['order "7"']


def test_header_names_are_case_insensitive(
    api: TestClient, admin: dict[str, str], container: Container, acme: str
) -> None:
    headers = {k.upper(): v for k, v in binary_headers("upper-1").items()}
    assert post(api, admin, b'{"n": 1}', headers)["accepted"] == 1
    assert stored(container) == {"upper-1": {"n": 1}}


def test_an_empty_body_is_an_event_without_data(
    api: TestClient, admin: dict[str, str], container: Container, acme: str
) -> None:
    headers = {k: v for k, v in binary_headers("empty-1").items() if k != "Content-Type"}
    assert post(api, admin, b"", headers)["accepted"] == 1
    assert (
        post(api, admin, b"", binary_headers("empty-2", **{"Content-Type": "text/plain"}))[
            "accepted"
        ]
        == 1
    )
    assert stored(container) == {"empty-1": {}, "empty-2": {}}


def test_a_structured_body_with_ce_headers_is_read_from_the_body(
    api: TestClient, admin: dict[str, str], container: Container, acme: str
) -> None:
    """Structured mode may carry the headers of binary mode too; the body is what counts."""
    headers = binary_headers("from-headers", **{"Content-Type": STRUCTURED})
    assert post(api, admin, encode(ce("from-body")), headers)["accepted"] == 1
    assert list(stored(container)) == ["from-body"]


BINARY_REFUSED: list[tuple[str, Any, bytes, str, str]] = [
    ("no ce-id", binary_headers(None), b"{}", "missing_field", "id: required (the ce-id header)"),
    (
        "no ce-specversion",
        {k: v for k, v in binary_headers().items() if k != "ce-specversion"},
        b"{}",
        "missing_field",
        "specversion: required (the ce-specversion header)",
    ),
    (
        "specversion 0.3",
        binary_headers(**{"ce-specversion": "0.3"}),
        b"{}",
        "unsupported_specversion",
        "specversion: expected '1.0', got '0.3'",
    ),
    (
        "data not JSON",
        binary_headers(**{"Content-Type": "text/plain"}),
        b"hello",
        "unsupported_data",
        "datacontenttype: 'text/plain' (the Content-Type) is not JSON; revsync meters read JSON "
        "data (application/json or a +json type)",
    ),
    (
        "NDJSON with ce- headers is binary mode",
        binary_headers(**{"Content-Type": "application/x-ndjson"}),
        b'{"n": 1}\n',
        "unsupported_data",
        "datacontenttype: 'application/x-ndjson' (the Content-Type) is not JSON; revsync "
        "meters read JSON data (application/json or a +json type)",
    ),
    (
        "malformed JSON body",
        binary_headers(),
        b'{"n": ',
        "malformed_json",
        "data: malformed JSON at line 1, column 7",
    ),
    ("a JSON array", binary_headers(), b"[1, 2]", "wrong_type", "data: expected object, got array"),
    (
        "ce-datacontenttype",
        binary_headers(**{"ce-datacontenttype": "application/json"}),
        b"{}",
        "invalid_value",
        "datacontenttype: in binary mode it is the Content-Type header; the ce-datacontenttype "
        "header must not be sent",
    ),
    (
        "malformed percent-encoding",
        binary_headers("a%G1"),
        b"{}",
        "invalid_value",
        "id: malformed percent-encoding in the ce-id header ('%' must be followed by two "
        "hexadecimal digits)",
    ),
    (
        "overlong UTF-8",
        binary_headers("a%C0%A0"),
        b"{}",
        "invalid_utf8",
        "id: the ce-id header percent-decodes to invalid UTF-8 at byte 1",
    ),
    (
        "raw non-ASCII header value",
        binary_headers(**{"ce-subject": "caf\u00e9".encode()}),  # raw UTF-8, not encoded
        b"{}",
        "invalid_value",
        "subject: the ce-subject header holds a character outside printable ASCII; "
        "percent-encode it as UTF-8",
    ),
    (
        "header name not an attribute name",
        binary_headers(**{"ce-my_ext": "x"}),
        b"{}",
        "invalid_attribute_name",
        "my_ext: not a CloudEvents attribute name (header ce-my_ext) (lowercase letters a-z "
        "and digits 0-9 only)",
    ),
    (
        "a header given twice",
        [*binary_headers().items(), ("ce-id", "other")],
        b"{}",
        "invalid_value",
        "id: the ce-id header is given more than once",
    ),
    (
        "a bad time",
        binary_headers(**{"ce-time": "yesterday"}),
        b"{}",
        "invalid_time",
        "time: not an RFC 3339 timestamp",
    ),
    (
        "a control character, percent-encoded",
        binary_headers("a%0Ab"),
        b"{}",
        "invalid_value",
        "id: contains the control character U+000A",
    ),
]


@pytest.mark.parametrize(
    ("label", "headers", "body", "code", "reason"),
    BINARY_REFUSED,
    ids=[b[0] for b in BINARY_REFUSED],
)
def test_a_binary_event_breaking_a_rule_is_refused_and_dead_lettered(
    api: TestClient,
    admin: dict[str, str],
    container: Container,
    label: str,
    headers: Any,
    body: bytes,
    code: str,
    reason: str,
) -> None:
    report = post(api, admin, body, headers)
    assert report["accepted"] == 0
    assert [(r["index"], r["code"], r["reason"]) for r in report["rejected"]] == [(0, code, reason)]
    (letter,) = api.get("/v1/dead-letters", headers=admin).json()["items"]
    assert (letter["code"], letter["reason"]) == (code, reason)
    # the letter holds the message as received: its ce- headers and body, never the key
    assert "ce-type: conformance.probe" in letter["payload"]
    assert "Bearer" not in letter["payload"] and "authorization" not in letter["payload"]


def test_a_content_type_revsync_does_not_read_is_still_415_without_ce_headers(
    api: TestClient, admin: dict[str, str]
) -> None:
    response = api.post(
        "/v1/events", content=b"id,source\n", headers={**admin, "Content-Type": "text/csv"}
    )
    assert response.status_code == 415
    assert "binary mode" in response.json()["error"]["message"]
    avro = {**admin, "Content-Type": "application/cloudevents+avro", "ce-id": "x"}
    assert api.post("/v1/events", content=b"\x00", headers=avro).status_code == 415


# --- any JSON object round-trips -----------------------------------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False, allow_infinity=False, min_value=-1e30, max_value=1e30).filter(
        lambda f: f == 0 or abs(f) > 1e-20
    )
    | st.text(max_size=20)
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
_objects = st.dictionaries(st.text(max_size=8), _values, max_size=6)
_ids = itertools.count()


@examples(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=_objects, binary=st.booleans())
def test_any_json_object_round_trips_in_either_mode(
    api: TestClient,
    admin: dict[str, str],
    container: Container,
    acme: str,
    data: dict[str, Any],
    binary: bool,
) -> None:
    event_id = f"prop-{next(_ids)}"
    event = sdk_event(event_id, data)
    message = to_binary_event(event) if binary else to_structured_event(event)
    report = send(api, admin, message)
    assert (report["accepted"], report["rejected"]) == (1, []), report
    assert exact(stored(container)[event_id]) == exact(data)
