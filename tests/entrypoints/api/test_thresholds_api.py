"""Thresholds over HTTP: a subscription's own thresholds (a hostile or wrong one gets a 422
naming the field), and the alerts, paged newest first, each key seeing only its customers."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from revsync.bootstrap import Container, apply_configuration
from revsync.config import Settings
from tests.conftest import NOW, issue_key, make_settings
from tests.scenarios.harness import PRO
from tests.support.events import encode, event

BATCH = {"Content-Type": "application/cloudevents-batch+json"}
PLAN: dict[str, Any] = {
    **copy.deepcopy(PRO),
    "features": [{"key": "api_calls", "kind": "quota", "meter": "api_calls", "limit": "1000"}],
}


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url, plans=[PLAN])


@pytest.fixture
def world(api: TestClient, container: Container, admin: dict[str, str]) -> None:
    """acme and globex on the plan since the 1st."""
    apply_configuration(container, "test")
    for cid in ("acme", "globex"):
        body = {"name": cid.title(), "currency": "EUR", "external_refs": {"product": [f"t-{cid}"]}}
        assert api.put(f"/v1/customers/{cid}", json=body, headers=admin).status_code == 201
        sub = {"customer_id": cid, "plan": "pro", "start": "2026-11-01"}
        assert api.put(f"/v1/subscriptions/s-{cid}", json=sub, headers=admin).status_code == 201


def put(api: TestClient, key: dict[str, str], subscription: str, body: Any) -> Any:
    return api.put(f"/v1/subscriptions/{subscription}/thresholds", json=body, headers=key)


def calls(api: TestClient, key: dict[str, str], tenant: str, count: int, start: int = 0) -> None:
    batch = [
        event(f"{tenant}-{n}", subject=tenant, time=NOW - timedelta(hours=1))
        for n in range(start, start + count)
    ]
    answer = api.post("/v1/events", content=encode(batch), headers={**key, **BATCH})
    assert answer.json()["accepted"] == count, answer.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "thresholds"),
        ({"thresholds": "spend"}, "thresholds"),
        ({"thresholds": [{"key": "a", "kind": "usage", "value": 1}]}, "thresholds.0.meter"),
        (
            {"thresholds": [{"key": "a", "kind": "usage", "meter": "nope", "value": 1}]},
            "thresholds.0.meter",
        ),
        (
            {"thresholds": [{"key": "a", "kind": "percent", "meter": "llm_tokens", "value": 50}]},
            "thresholds.0.meter",
        ),
        ({"thresholds": [{"key": "a", "kind": "spend", "value": -5}]}, "thresholds.0.value"),
        (
            {"thresholds": [{"key": "a", "kind": "spend", "value": "1" * 5000}]},
            "thresholds.0.value",
        ),
        ({"thresholds": [{"key": "a", "kind": "spend", "value": 1}] * 2}, "thresholds.1.key"),
        ({"thresholds": [], "extra": 1}, "extra"),
    ],
)
def test_a_threshold_refused_names_its_field(
    api: TestClient, admin: dict[str, str], world: None, body: Any, field: str
) -> None:
    answer = put(api, admin, "s-acme", body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field


def test_thresholds_set_are_shown_and_an_unknown_subscription_is_404(
    api: TestClient, admin: dict[str, str], world: None
) -> None:
    body = {
        "thresholds": [{"key": "calls-80", "kind": "percent", "meter": "api_calls", "value": 80}]
    }
    assert put(api, admin, "s-acme", body).json()["thresholds"] == [
        {"key": "calls-80", "kind": "percent", "value": "80", "meter": "api_calls"}
    ]
    shown = api.get("/v1/subscriptions/s-acme", headers=admin).json()
    assert [t["key"] for t in shown["thresholds"]] == ["calls-80"]
    assert put(api, admin, "s-nobody", body).status_code == 404
    reader = issue_key(api.app.state.container, "read")  # type: ignore[attr-defined]
    assert put(api, reader, "s-acme", body).status_code == 403


def test_alerts_page_newest_first_and_a_limited_key_sees_only_its_own(
    api: TestClient, container: Container, admin: dict[str, str], world: None
) -> None:
    ingest = issue_key(container, "ingest")
    for cid in ("acme", "globex"):
        thresholds = [
            {"key": f"calls-{n}", "kind": "usage", "meter": "api_calls", "value": n}
            for n in (10, 20, 30)
        ]
        assert put(api, admin, f"s-{cid}", {"thresholds": thresholds}).status_code == 200
    calls(api, ingest, "t-acme", 25)
    container.thresholds.sweep()
    calls(api, ingest, "t-globex", 40)
    container.thresholds.sweep()

    first = api.get("/v1/alerts", params={"limit": 4}, headers=admin).json()
    rest = api.get(
        "/v1/alerts", params={"limit": 4, "cursor": first["next_cursor"]}, headers=admin
    ).json()
    seen = [(a["customer_id"], a["threshold"]) for a in first["items"] + rest["items"]]
    assert len(seen) == len(set(seen)) == 5 and rest["next_cursor"] is None
    assert seen[-2:] == [
        ("acme", "calls-20"),
        ("acme", "calls-10"),
    ]  # one instant: by subscription then key

    body = {"name": "acme app", "roles": ["read"], "customers": ["acme"]}
    limited = {
        "Authorization": f"Bearer {api.post('/v1/api-keys', json=body, headers=admin).json()['key']}"
    }
    mine = api.get("/v1/alerts", headers=limited).json()["items"]
    assert {(a["customer_id"], a["observed"]) for a in mine} == {("acme", "25")}
    assert (
        api.get("/v1/alerts", params={"customer_id": "globex"}, headers=limited).status_code == 404
    )
    for cursor in ("x", "W10=", "WyIxIiwgMiwgMywgNF0="):
        answer = api.get("/v1/alerts", params={"cursor": cursor}, headers=admin)
        assert answer.status_code == 422 and answer.json()["error"]["field"] == "cursor"


def test_without_thresholds_declared_a_look_only_moves_on(
    api: TestClient, container: Container, admin: dict[str, str], world: None
) -> None:
    calls(api, issue_key(container, "ingest"), "t-acme", 30)
    idle = container.thresholds.sweep()
    assert (idle.customers, idle.watched, idle.crossings) == (0, 0, [])
    assert container.thresholds.sweep().after_seq == idle.cutoff_seq > 0
    # declared later: the usage read before is not looked at again, the next is
    body = {"thresholds": [{"key": "calls-20", "kind": "usage", "meter": "api_calls", "value": 20}]}
    assert put(api, admin, "s-acme", body).status_code == 200
    assert container.thresholds.sweep().crossings == []
    calls(api, issue_key(container, "ingest"), "t-acme", 1, start=30)
    [crossed] = container.thresholds.sweep().crossings
    assert (crossed.threshold_key, crossed.observed) == ("calls-20", 31)
