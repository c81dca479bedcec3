"""POST /v1/events: exactly once, every bad item reported by index and dead-lettered,
nothing else lost. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from revsync.config import Settings
from tests.conftest import make_settings
from tests.support.events import encode, event, ndjson

BATCH = "application/cloudevents-batch+json"


@pytest.fixture
def settings(any_db_url: str) -> Settings:
    return make_settings(
        any_db_url, ingestion={"max_batch_events": 50, "max_body_bytes": 64 * 1024}
    )


def post(api: TestClient, key: dict[str, str], body: bytes, media: str = BATCH) -> Any:
    return api.post("/v1/events", content=body, headers={**key, "Content-Type": media})


def put_customer(api: TestClient, admin: dict[str, str], cid: str, tenants: list[str]) -> Any:
    body = {
        "name": cid.title(),
        "currency": "EUR",
        "timezone": "UTC",
        "external_refs": {"product": tenants},
    }
    return api.put(f"/v1/customers/{cid}", json=body, headers=admin)


def calls(api: TestClient, key: dict[str, str], cid: str, **params: str) -> list[dict[str, Any]]:
    query = {
        "meter": "api_calls",
        "from": "2026-11-01T00:00:00Z",
        "to": "2026-12-01T00:00:00Z",
        **params,
    }
    response = api.get(f"/v1/customers/{cid}/usage", params=query, headers=key)
    assert response.status_code == 200, response.text
    buckets: list[dict[str, Any]] = response.json()["buckets"]
    return buckets


def dead_letters(api: TestClient, key: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get("/v1/dead-letters", headers=key).json()["items"]
    return items


def test_a_batch_is_stored_and_metered_at_once(api: TestClient, admin: dict[str, str]) -> None:
    put_customer(api, admin, "acme", ["tenant-a"])
    events = [
        event(f"e{i}", data={"endpoint": "/x", "environment": "production"}) for i in range(3)
    ]
    response = post(api, admin, encode(events))
    assert response.status_code == 200
    assert response.json() == {
        "accepted": 3,
        "duplicates": 0,
        "unmapped": 0,
        "late": 0,
        "rejected": [],
    }
    assert [(b["value"], b["events"]) for b in calls(api, admin, "acme")] == [("3", 3)]


def test_the_same_batch_twice_counts_once(api: TestClient, admin: dict[str, str]) -> None:
    put_customer(api, admin, "acme", ["tenant-a"])
    body = encode([event(f"e{i}") for i in range(5)])
    first, second = post(api, admin, body).json(), post(api, admin, body).json()
    assert (first["accepted"], first["duplicates"]) == (5, 0)
    assert (second["accepted"], second["duplicates"]) == (0, 5)
    assert calls(api, admin, "acme")[0]["value"] == "5"


def test_a_duplicate_within_one_batch_counts_once(api: TestClient, admin: dict[str, str]) -> None:
    put_customer(api, admin, "acme", ["tenant-a"])
    result = post(api, admin, encode([event("e1"), event("e2"), event("e1")])).json()
    assert (result["accepted"], result["duplicates"], result["rejected"]) == (2, 1, [])


def test_key_order_in_data_does_not_make_a_conflict(api: TestClient, admin: dict[str, str]) -> None:
    first = b'[{"specversion":"1.0","id":"k","source":"s","type":"t","subject":"x","time":"2026-11-10T10:00:00Z","data":{"a":1,"b":2}}]'
    again = b'[{"specversion":"1.0","id":"k","source":"s","type":"t","subject":"x","time":"2026-11-10T10:00:00+00:00","data":{"b":2,"a":1}}]'
    assert post(api, admin, first).json()["accepted"] == 1
    assert post(api, admin, again).json()["duplicates"] == 1


def test_same_key_with_another_payload_is_a_conflict_and_recorded(
    api: TestClient, admin: dict[str, str]
) -> None:
    put_customer(api, admin, "acme", ["tenant-a"])
    post(api, admin, encode([event("e1", data={"endpoint": "/a"})]))
    result = post(api, admin, encode([event("e2"), event("e1", data={"endpoint": "/b"})])).json()
    assert result["accepted"] == 1
    assert result["duplicates"] == 0
    assert len(result["rejected"]) == 1
    rejected = result["rejected"][0]
    assert (rejected["index"], rejected["id"]) == (1, "e1")
    assert rejected["reason"].startswith("conflict:")
    assert rejected["code"] == "conflict"
    letters = dead_letters(api, admin)
    assert [(d["event_id"], d["code"], d["reason"][:9]) for d in letters] == [
        ("e1", "conflict", "conflict:")
    ]
    assert '"endpoint": "/b"' in letters[0]["payload"] or '"endpoint":"/b"' in letters[0]["payload"]
    by_endpoint = calls(api, admin, "acme", group_by="endpoint")
    assert [(b["group"]["endpoint"], b["value"]) for b in by_endpoint] == [(None, "1"), ("/a", "1")]


def test_ids_are_namespaced_by_source(api: TestClient, admin: dict[str, str]) -> None:
    put_customer(api, admin, "acme", ["tenant-a"])
    result = post(
        api, admin, encode([event("same", source="app://one"), event("same", source="app://two")])
    )
    assert result.json()["accepted"] == 2
    assert calls(api, admin, "acme")[0]["value"] == "2"


def test_single_event_and_ndjson_media_types(api: TestClient, admin: dict[str, str]) -> None:
    put_customer(api, admin, "acme", ["tenant-a"])
    single = post(api, admin, encode(event("s1")), "application/cloudevents+json")
    assert single.json()["accepted"] == 1
    lines = ndjson([event("n1"), event("n2")]) + b"{not json\n" + ndjson([event("n3")])
    result = post(api, admin, lines, "application/x-ndjson").json()
    assert result["accepted"] == 3
    assert [(r["index"], r["id"], r["code"], r["reason"]) for r in result["rejected"]] == [
        (2, None, "malformed_json", "event: malformed JSON at line 1, column 2")
    ]
    plain = post(api, admin, encode([event("j1")]), "application/json; charset=utf-8")
    assert plain.json()["accepted"] == 1
    assert calls(api, admin, "acme")[0]["value"] == "5"


def test_unsupported_media_type_is_415(api: TestClient, admin: dict[str, str]) -> None:
    response = post(api, admin, b"id,source\n", "text/csv")
    assert response.status_code == 415
    assert "application/cloudevents-batch+json" in response.json()["error"]["message"]


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


BAD_ITEMS: list[tuple[str, Any, str, str]] = [
    ("wrong type", {**event("b1"), "id": 7}, "wrong_type", "id: expected string, got number"),
    (
        "missing field",
        {k: v for k, v in event("b2").items() if k != "subject"},
        "missing_field",
        "subject: required",
    ),
    (
        "data not an object",
        {**event("b3"), "data": [1, 2]},
        "wrong_type",
        "data: expected object, got array",
    ),
    (
        "data null",
        {**event("b3n"), "data": None},
        "wrong_type",
        "data: expected object, got null",
    ),
    (
        "bad timestamp",
        {**event("b4"), "time": "yesterday"},
        "invalid_time",
        "time: not an RFC 3339 timestamp",
    ),
    (
        "no UTC offset",
        {**event("b5"), "time": "2026-11-10T10:00:00"},
        "invalid_time",
        "time: must carry a UTC offset (RFC 3339), e.g. 2024-05-01T12:00:00Z",
    ),
    (
        "far future",
        {**event("b6"), "time": "2026-11-16T12:00:01Z"},
        "time_out_of_range",
        "time: more than 24 h in the future (now is 2026-11-15T12:00:00+00:00)",
    ),
    ("empty id", {**event("b7"), "id": ""}, "empty_field", "id: must not be empty"),
    (
        "NUL in the subject",
        {**event("b7n"), "subject": "tenant\u0000a"},
        "invalid_value",
        "subject: contains a NUL character",
    ),
    (
        "lone surrogate",
        b'{"id": "b7s\\ud800", "source": "s", "type": "t", "subject": "x", "time": "2026-11-10T10:00:00Z"}',
        "malformed_json",
        "event: malformed JSON",
    ),
    (
        "spec version",
        {**event("b8"), "specversion": "0.3"},
        "unsupported_specversion",
        "specversion: expected '1.0', got '0.3'",
    ),
    (
        "spec version a number",
        {**event("b8n"), "specversion": 1.0},
        "wrong_type",
        "specversion: expected string, got number",
    ),
    ("not an object", "just a string", "not_an_object", "event: expected object, got string"),
    (
        "nested too deep",
        {**event("b9"), "data": {"x": nested(40)}},
        "too_deep",
        "data: nested deeper than 32 levels",
    ),
    (
        "huge exponent",
        {**event("b11"), "data": {"x": Decimal("1e200000000")}},
        "invalid_value",
        "data.x: number out of range (at most 40 digits before the point and 40 after)",
    ),
    (
        "tiny exponent",
        {**event("b12"), "data": {"x": Decimal("1e-41")}},
        "invalid_value",
        "data.x: number out of range (at most 40 digits before the point and 40 after)",
    ),
    (
        "huge integer, nested",
        {**event("b13"), "data": {"usage": {"rows": [1, 10**40]}}},
        "invalid_value",
        "data.usage.rows.1: number out of range (at most 40 digits before the point and 40 after)",
    ),
    (
        "meter value missing",
        event("b10", type="llm.completion", data={"environment": "production", "model": "m"}),
        "meter_value",
        "data.tokens: missing, required by meter 'llm_tokens' (sum)",
    ),
]


@pytest.mark.parametrize(
    ("label", "item", "code", "reason"), BAD_ITEMS, ids=[b[0] for b in BAD_ITEMS]
)
def test_a_bad_item_is_rejected_by_index_and_the_rest_kept(
    api: TestClient, admin: dict[str, str], label: str, item: Any, code: str, reason: str
) -> None:
    put_customer(api, admin, "acme", ["tenant-a"])
    raw = item if isinstance(item, bytes) else encode(item)  # bytes: JSON as sent
    response = post(
        api, admin, b"[" + encode(event("ok1")) + b"," + raw + b"," + encode(event("ok2")) + b"]"
    )
    assert response.status_code == 200
    result = response.json()
    assert result["accepted"] == 2
    assert [(r["index"], r["code"], r["reason"]) for r in result["rejected"]] == [(1, code, reason)]
    letters = dead_letters(api, admin)
    assert [(d["position"], d["code"], d["reason"]) for d in letters] == [(1, code, reason)]
    assert letters[0]["payload"]
    assert calls(api, admin, "acme")[0]["value"] == "2"


def test_a_meter_ignores_events_its_filters_exclude(api: TestClient, admin: dict[str, str]) -> None:
    staging = event("st", type="llm.completion", data={"environment": "staging", "model": "m"})
    assert post(api, admin, encode([staging])).json()["accepted"] == 1


def test_pathological_nesting_rejects_only_that_item(
    api: TestClient, admin: dict[str, str]
) -> None:
    put_customer(api, admin, "acme", ["tenant-a"])
    deep = (
        b'{"specversion":"1.0","id":"deep","source":"s","type":"t","subject":"tenant-a","time":"2026-11-10T10:00:00Z","data":{"x":'
        + b"[" * 5000
        + b"]" * 5000
        + b"}}"
    )
    body = b"[" + encode(event("ok1")) + b"," + deep + b"," + encode(event("ok2")) + b"]"
    result = post(api, admin, body).json()
    assert result["accepted"] == 2
    assert [(r["index"], r["reason"]) for r in result["rejected"]] == [
        (1, "data: nested deeper than 32 levels")
    ]


def test_invalid_utf8_in_an_array_item_rejects_that_item(
    api: TestClient, admin: dict[str, str]
) -> None:
    put_customer(api, admin, "acme", ["tenant-a"])
    bad = encode(event("u1")).replace(b'"u1"', b'"u\xff1"')
    body = b"[" + encode(event("ok1")) + b"," + bad + b"," + encode(event("ok2")) + b"]"
    result = post(api, admin, body).json()
    assert result["accepted"] == 2
    assert [(r["index"], r["code"], r["reason"]) for r in result["rejected"]] == [
        (1, "invalid_utf8", f"event: invalid UTF-8 at byte {bad.index(0xFF)}")
    ]
    letter = dead_letters(api, admin)[0]
    assert "\ufffd" in letter["payload"]


def test_invalid_utf8_in_an_ndjson_line_rejects_that_line(
    api: TestClient, admin: dict[str, str]
) -> None:
    put_customer(api, admin, "acme", ["tenant-a"])
    bad = encode(event("u1")).replace(b'"u1"', b'"u\xff1"')
    result = post(api, admin, ndjson([event("ok1")]) + bad + b"\n", "application/x-ndjson").json()
    assert result["accepted"] == 1
    assert [(r["index"], r["code"], r["reason"]) for r in result["rejected"]] == [
        (1, "invalid_utf8", f"event: invalid UTF-8 at byte {bad.index(0xFF)}")
    ]


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (b'[{"id": "x",', "malformed_json", "body: malformed JSON at line 1, column 13"),
        (b'{"not": "an array"}', "not_an_object", "body: expected a JSON array of CloudEvents"),
        (b"[\xff\xfe", "invalid_utf8", "body: invalid UTF-8 at byte 1"),
    ],
    ids=["truncated", "object for a batch", "binary"],
)
def test_an_unreadable_body_is_400_dead_lettered_and_stores_nothing(
    api: TestClient, admin: dict[str, str], body: bytes, code: str, message: str
) -> None:
    response = post(api, admin, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("malformed_body", "body")
    assert error["message"] == f"{message}; nothing was stored"
    letters = dead_letters(api, admin)
    assert [(d["code"], d["reason"]) for d in letters] == [(code, message)]


def test_an_array_item_of_bytes_that_are_not_utf8_is_rejected_alone(
    api: TestClient, admin: dict[str, str]
) -> None:
    put_customer(api, admin, "acme", ["tenant-a"])
    result = post(api, admin, b"[" + encode(event("ok1")) + b",\xff\xfe]").json()
    assert result["accepted"] == 1
    assert [(r["index"], r["code"], r["reason"]) for r in result["rejected"]] == [
        (1, "invalid_utf8", "event: invalid UTF-8 at byte 0")
    ]


def test_too_many_events_is_413_and_nothing_is_applied(
    api: TestClient, admin: dict[str, str]
) -> None:
    put_customer(api, admin, "acme", ["tenant-a"])
    response = post(api, admin, encode([event(f"e{i}") for i in range(51)]))
    assert response.status_code == 413
    assert "limit is 50" in response.json()["error"]["message"]
    assert calls(api, admin, "acme") == []
    assert dead_letters(api, admin) == []


def test_too_large_a_body_is_413_and_nothing_is_applied(
    api: TestClient, admin: dict[str, str]
) -> None:
    put_customer(api, admin, "acme", ["tenant-a"])
    big = [event(f"e{i}", data={"pad": "x" * 3000}) for i in range(30)]
    response = post(api, admin, encode(big))
    assert response.status_code == 413
    assert "exceeds 65536 bytes" in response.json()["error"]["message"]
    assert calls(api, admin, "acme") == []


def test_late_events_are_accepted_and_flagged(api: TestClient, admin: dict[str, str]) -> None:
    put_customer(api, admin, "acme", ["tenant-a"])
    result = post(
        api, admin, encode([event("old", time="2026-10-31T23:59:59Z"), event("new")])
    ).json()
    assert (result["accepted"], result["late"]) == (2, 1)


def test_late_is_judged_in_the_customers_time_zone(api: TestClient, admin: dict[str, str]) -> None:
    body = {
        "name": "Tokyo",
        "currency": "JPY",
        "timezone": "Asia/Tokyo",
        "external_refs": {"product": ["t-jp"]},
    }
    api.put("/v1/customers/jp", json=body, headers=admin)
    # 2026-10-31T15:00Z is already November 1st (00:00 JST) in Tokyo: not late there; 14:59:59Z is.
    result = post(
        api,
        admin,
        encode(
            [
                event("in", subject="t-jp", time="2026-10-31T15:00:00Z"),
                event("out", subject="t-jp", time="2026-10-31T14:59:59Z"),
            ]
        ),
    ).json()
    assert (result["accepted"], result["late"]) == (2, 1)


def test_unmapped_usage_is_kept_listed_and_attached_once(
    api: TestClient, admin: dict[str, str]
) -> None:
    result = post(
        api, admin, encode([event("u1", subject="t-new"), event("u2", subject="t-new")])
    ).json()
    assert (result["accepted"], result["unmapped"]) == (2, 2)
    unmapped = api.get("/v1/usage/unmapped", headers=admin).json()
    assert unmapped["total_events"] == 2
    assert [(i["subject"], i["events"]) for i in unmapped["items"]] == [("t-new", 2)]
    mapped = put_customer(api, admin, "newco", ["t-new"])
    assert mapped.status_code == 201
    assert mapped.json()["attached_unmapped_events"] == 2
    # retried after the mapping: duplicates, still counted once
    again = post(
        api, admin, encode([event("u1", subject="t-new"), event("u3", subject="t-new")])
    ).json()
    assert (again["accepted"], again["duplicates"], again["unmapped"]) == (1, 1, 0)
    assert calls(api, admin, "newco")[0]["value"] == "3"
    assert api.get("/v1/usage/unmapped", headers=admin).json() == {
        "total_events": 0,
        "items": [],
        "next_cursor": None,
    }
    # putting the same customer again attaches nothing more
    assert put_customer(api, admin, "newco", ["t-new"]).json()["attached_unmapped_events"] == 0


def test_an_ndjson_body_of_more_lines_than_events_allowed_is_413_as_it_is_read(
    api: TestClient, admin: dict[str, str]
) -> None:
    """Blank lines count: a body of newlines is refused before anything is decoded."""
    response = post(api, admin, b"\n" * 60_000, "application/x-ndjson")
    assert response.status_code == 413
    assert response.json()["error"] == {
        "code": "too_many_events",
        "message": "more than 50 lines in one request; the limit is 50. Split the batch; "
        "nothing was applied.",
        "request_id": response.headers["x-request-id"],
    }
    assert dead_letters(api, admin) == []


def test_a_large_array_of_non_events_is_413_before_it_is_decoded_item_by_item(
    api: TestClient, admin: dict[str, str]
) -> None:
    response = post(api, admin, b"[" + b",".join([b"1"] * 30_000) + b"]")
    assert response.status_code == 413
    assert response.json()["error"]["message"].startswith("30000 events in one request")
