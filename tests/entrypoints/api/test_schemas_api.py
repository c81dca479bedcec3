"""The schema registry over HTTP and at ingestion: register (idempotent, 409 naming the
breaking change), list, validate with the failing pointer in the dead letter, dataschema,
upcasts that meters read, retries that stay duplicates, and the unknown-type policy.
Storage is touched: runs on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from revsync.bootstrap import Container, apply_configuration
from revsync.config import ConfigError, Settings
from tests.conftest import make_settings
from tests.support.events import encode, event

BATCH = "application/cloudevents-batch+json"
V1 = {
    "type": "object",
    "properties": {
        "total": {"type": "integer", "minimum": 0},
        "model": {"type": "string", "enum": ["small", "large"]},
        "environment": {"type": "string"},
    },
    "required": ["total", "model"],
    "additionalProperties": False,
}
V2 = {
    "type": "object",
    "properties": {
        "tokens": {"type": "integer", "minimum": 0},
        "model": {"type": "string", "enum": ["small", "large"]},
        "environment": {"type": "string"},
    },
    "required": ["tokens", "model"],
    "additionalProperties": False,
}
RENAME = {"rename": {"total": "tokens"}}


@pytest.fixture
def settings(any_db_url: str) -> Settings:
    return make_settings(
        any_db_url,
        schemas={
            "sources": [
                {"source_prefix": "app://strict/", "unknown_types": "reject"},
                {"source": "app://partner", "unknown_types": "quarantine"},
            ]
        },
    )


def put(api: TestClient, key: dict[str, str], kind: str, n: int, body: dict[str, Any]) -> Any:
    return api.put(f"/v1/schemas/{kind}/versions/{n}", json=body, headers=key)


def ingest(api: TestClient, key: dict[str, str], events: list[dict[str, Any]]) -> Any:
    response = api.post(
        "/v1/events", content=encode(events), headers={**key, "Content-Type": BATCH}
    )
    assert response.status_code == 200, response.text
    return response.json()


def letters(api: TestClient, admin: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get("/v1/dead-letters", headers=admin).json()["items"]
    return items


def tokens(api: TestClient, admin: dict[str, str]) -> list[str]:
    query = {"meter": "llm_tokens", "from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}
    response = api.get("/v1/customers/acme/usage", params=query, headers=admin)
    assert response.status_code == 200, response.text
    return [b["value"] for b in response.json()["buckets"]]


def llm(event_id: str, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body = event(event_id, type="llm.completion", data=data)
    body.update(extra)
    return body


@pytest.fixture
def acme(api: TestClient, admin: dict[str, str]) -> None:
    body = {
        "name": "Acme",
        "currency": "EUR",
        "timezone": "UTC",
        "external_refs": {"product": ["tenant-a"]},
    }
    assert api.put("/v1/customers/acme", json=body, headers=admin).status_code in (200, 201)


def test_register_list_read_and_put_again(
    api: TestClient, admin: dict[str, str], reader: dict[str, str]
) -> None:
    first = put(api, admin, "llm.completion", 1, {"schema": V1})
    assert first.status_code == 201, first.text
    assert first.json()["uri"] == "urn:revsync:schema:llm.completion:1"
    again = put(api, admin, "llm.completion", 1, {"schema": V1})
    assert (
        again.status_code == 200 and again.json()["registered_at"] == first.json()["registered_at"]
    )
    assert put(api, reader, "llm.completion", 2, {"schema": V2}).status_code == 403
    listed = api.get("/v1/schemas", headers=reader).json()
    assert listed["unknown_types"] == "accept"
    assert {"source": "app://strict/", "match": "prefix", "unknown_types": "reject"} in listed[
        "sources"
    ]
    [kind] = listed["types"]
    assert (kind["type"], kind["compatibility"], kind["latest"], kind["metered"]) == (
        "llm.completion",
        "backward",
        1,
        True,
    )
    shown = api.get("/v1/schemas/llm.completion/versions/1", headers=reader).json()
    assert shown["schema"] == V1
    assert api.get("/v1/schemas/llm.completion/versions/2", headers=reader).status_code == 404


def test_another_schema_under_a_registered_number_is_409(
    api: TestClient, admin: dict[str, str]
) -> None:
    assert put(api, admin, "llm.completion", 1, {"schema": V1}).status_code == 201
    response = put(api, admin, "llm.completion", 1, {"schema": V2})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_an_incompatible_version_is_409_naming_the_change(
    api: TestClient, admin: dict[str, str]
) -> None:
    assert put(api, admin, "llm.completion", 1, {"schema": V1}).status_code == 201
    typed = {**V1, "properties": {**V1["properties"], "total": {"type": "string"}}}
    response = put(api, admin, "llm.completion", 2, {"schema": typed})
    assert response.status_code == 409
    assert (
        "data.properties.total: type changed from integer to string"
        in response.json()["error"]["message"]
    )
    required = {
        **V1,
        "properties": {**V1["properties"], "region": {"type": "string"}},
        "required": ["total", "model", "region"],
    }
    response = put(api, admin, "llm.completion", 2, {"schema": required})
    assert response.status_code == 409
    assert 'required field "region" added' in response.json()["error"]["message"]
    # a rename is not backward compatible alone, and is with its upcast
    assert put(api, admin, "llm.completion", 2, {"schema": V2}).status_code == 409
    assert put(api, admin, "llm.completion", 2, {"schema": V2, "upcast": RENAME}).status_code == 201


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        ({"$ref": "https://example.com/evil.json"}, "schema.$ref"),
        ({"type": "string", "pattern": "^(a+)+$"}, "schema.pattern"),
        ({"type": "object", "properties": {"a": {"type": "nonsense"}}}, "schema.properties.a.type"),
    ],
)
def test_hostile_or_unsupported_schemas_are_422(
    api: TestClient, admin: dict[str, str], schema: Any, field: str
) -> None:
    response = put(api, admin, "x.y", 1, {"schema": schema})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


def test_deep_and_huge_schemas_are_refused(api: TestClient, admin: dict[str, str]) -> None:
    deep: dict[str, Any] = {"type": "object"}
    for _ in range(40):
        deep = {"type": "object", "properties": {"a": deep}}
    assert put(api, admin, "x.y", 1, {"schema": deep}).status_code == 422
    huge = {
        "type": "object",
        "properties": {f"f{i}": {"type": "string", "description": "x" * 200} for i in range(400)},
    }
    response = put(api, admin, "x.y", 1, {"schema": huge})
    assert response.status_code == 422 and response.json()["error"]["field"] == "schema"
    # with compatibility none, a pattern runs in linear time (no catastrophic backtracking)
    regex = {"type": "object", "properties": {"s": {"type": "string", "pattern": "^(a+)+$"}}}
    assert put(api, admin, "x.y", 1, {"schema": regex, "compatibility": "none"}).status_code == 201


def test_valid_events_are_kept_and_invalid_ones_dead_lettered_with_the_pointer(
    api: TestClient, admin: dict[str, str], acme: None
) -> None:
    assert put(api, admin, "llm.completion", 1, {"schema": V2}).status_code == 201
    report = ingest(
        api,
        admin,
        [
            llm("ok", {"tokens": 7, "model": "small", "environment": "production"}),
            llm("bad", {"tokens": "7", "model": "small"}),
            llm("extra", {"tokens": 1, "model": "small", "colour": "red"}),
        ],
    )
    assert report["accepted"] == 1
    refused = {r["id"]: (r["code"], r["reason"]) for r in report["rejected"]}
    assert refused["bad"] == ("schema_violation", "data/tokens: must be an integer")
    assert refused["extra"][1].startswith("data/colour: not allowed")
    kept = {d["event_id"]: d["code"] for d in letters(api, admin)}
    assert kept == {"bad": "schema_violation", "extra": "schema_violation"}
    assert tokens(api, admin) == ["7"]


def test_upcast_data_is_what_meters_read(
    api: TestClient, admin: dict[str, str], acme: None
) -> None:
    assert put(api, admin, "llm.completion", 1, {"schema": V1}).status_code == 201
    assert put(api, admin, "llm.completion", 2, {"schema": V2, "upcast": RENAME}).status_code == 201
    pinned = llm("e1", {"total": 3, "model": "small", "environment": "production"})
    pinned["dataschema"] = "urn:revsync:schema:llm.completion:1"
    unpinned = llm("e2", {"total": 2, "model": "small", "environment": "production"})
    latest = llm("e3", {"tokens": 4, "model": "small", "environment": "production"})
    report = ingest(api, admin, [pinned, unpinned, latest])
    assert (report["accepted"], report["rejected"]) == (3, [])
    # v1 data ("total") is stored upcast ("tokens"), and the meter sums it
    assert tokens(api, admin) == ["9"]
    wrong = llm("e4", {"tokens": 1, "model": "small"})
    wrong["dataschema"] = "urn:revsync:schema:llm.completion:1"
    unknown = llm("e5", {"tokens": 1, "model": "small"})
    unknown["dataschema"] = "https://example.com/v1/schemas/llm.completion/versions/9"
    by_url = llm("e6", {"tokens": 1, "model": "small"})
    by_url["dataschema"] = "https://revsync.example.com/v1/schemas/llm.completion/versions/2"
    report = ingest(api, admin, [wrong, unknown, by_url])
    codes = {r["id"]: (r["code"], r["reason"]) for r in report["rejected"]}
    assert codes["e4"] == ("schema_violation", "data/total: required (version 1)")
    assert codes["e5"][0] == "unknown_schema"
    assert report["accepted"] == 1


def test_a_retry_after_a_new_version_is_still_a_duplicate(
    api: TestClient, admin: dict[str, str], acme: None
) -> None:
    closed = {
        "type": "object",
        "properties": {"endpoint": {"type": "string"}, "env": {"type": "string"}},
        "additionalProperties": False,
    }
    renamed = {
        "type": "object",
        "properties": {"endpoint": {"type": "string"}, "environment": {"type": "string"}},
        "additionalProperties": False,
    }
    assert put(api, admin, "api.request", 1, {"schema": closed}).status_code == 201
    first = event("r1", data={"endpoint": "/x", "env": "production"})
    assert ingest(api, admin, [first])["accepted"] == 1
    upcast = {"rename": {"env": "environment"}}
    assert (
        put(api, admin, "api.request", 2, {"schema": renamed, "upcast": upcast}).status_code == 201
    )
    retry = ingest(api, admin, [first])
    assert (retry["accepted"], retry["duplicates"], retry["rejected"]) == (0, 1, [])
    changed = event("r1", data={"endpoint": "/y", "env": "production"})
    assert ingest(api, admin, [changed])["rejected"][0]["code"] == "conflict"


def test_unknown_type_policies(
    api: TestClient, admin: dict[str, str], container: Container, acme: None
) -> None:
    strict = event("s1", type="signup.done", source="app://strict/eu")
    partner = event("p1", type="signup.done", source="app://partner")
    other = event("o1", type="signup.done", source="app://other")
    report = ingest(api, admin, [strict, partner, other])
    assert report["accepted"] == 1 and report["quarantined"] == 1
    assert [(r["id"], r["code"]) for r in report["rejected"]] == [("s1", "unknown_type")]
    assert {d["event_id"]: d["code"] for d in letters(api, admin)} == {
        "s1": "unknown_type",
        "p1": "quarantined",
    }
    # nothing to release while the type is unknown; once declared, the event is ingested
    idem = {**admin, "Idempotency-Key": "release-1"}
    waiting = api.post("/v1/schemas/quarantine/release", headers=idem).json()
    assert (waiting["released"], waiting["waiting"]) == (0, 1)
    assert put(api, admin, "signup.done", 1, {"schema": {"type": "object"}}).status_code == 201
    done = api.post(
        "/v1/schemas/quarantine/release", headers={**admin, "Idempotency-Key": "r2"}
    ).json()
    assert (done["released"], done["accepted"], done["waiting"]) == (1, 1, 0)
    assert {d["event_id"]: d["code"] for d in letters(api, admin)}["p1"] == "released"
    again = api.post(
        "/v1/schemas/quarantine/release", headers={**admin, "Idempotency-Key": "r3"}
    ).json()
    assert again["released"] == 0


def test_config_declared_schemas_are_registered_at_start(any_db_url: str, clock: Any) -> None:
    from revsync.bootstrap import build

    declared = {
        "types": {
            "llm.completion": {
                "versions": [
                    {"version": 1, "schema": V1},
                    {"version": 2, "schema": V2, "upcast": RENAME},
                ]
            }
        }
    }
    wired = build(make_settings(any_db_url, schemas=declared), clock=clock)
    try:
        apply_configuration(wired, "test")
        apply_configuration(wired, "test")  # again: no change
        assert [(s.version.version, s.source) for s in wired.schemas.versions()] == [
            (1, "config"),
            (2, "config"),
        ]
    finally:
        wired.close()
    broken = {
        "types": {
            "signup.done": {
                "versions": [{"version": 1, "schema": V1}, {"version": 2, "schema": V2}]
            }
        }
    }
    wired = build(make_settings(any_db_url, schemas=broken), clock=clock)
    try:
        with pytest.raises(ConfigError, match=r"type changed|required field"):
            apply_configuration(wired, "test")
    finally:
        wired.close()
