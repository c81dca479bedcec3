"""Entitlements over HTTP: a plan's boolean, quota and seats features; checks by customer or
product tenant, counting usage this process ingested at once and changes made elsewhere within
``entitlements.cache_seconds``; soft quotas; hostile bodies get a 422 naming the field."""

from __future__ import annotations

import copy
import re
import time
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from revsync.application.customers import PutCustomer
from revsync.application.ingestion import IngestContext
from revsync.application.subscriptions import AmendSubscription
from revsync.bootstrap import Container, apply_configuration, build
from revsync.config import Settings
from revsync.domain.identity import System
from revsync.domain.subscriptions import Change
from revsync.schemas.cloudevents_v1 import decode_body
from tests.conftest import NOW, issue_key, make_settings
from tests.scenarios.harness import PRO
from tests.support.clock import FrozenClock
from tests.support.events import encode, event

MEDIA = "application/cloudevents-batch+json"
BATCH = {"Content-Type": MEDIA}
ENTITLED: dict[str, Any] = {
    **copy.deepcopy(PRO),
    "features": [
        {"key": "sso", "kind": "boolean"},
        {"key": "api_calls", "kind": "quota", "meter": "api_calls", "limit": "1000"},
        {
            "key": "tokens",
            "kind": "quota",
            "meter": "llm_tokens",
            "limit": "500",
            "enforcement": "soft",
        },
        {"key": "seats", "kind": "seats", "meter": "active_users"},
    ],
}


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url, plans=[ENTITLED])


@pytest.fixture
def world(api: TestClient, container: Container, admin: dict[str, str]) -> dict[str, str]:
    """acme on the plan with 3 seats since the 1st; globex without a subscription."""
    apply_configuration(container, "test")
    for cid in ("acme", "globex"):
        body = {"name": cid.title(), "currency": "EUR", "external_refs": {"product": [f"t-{cid}"]}}
        assert api.put(f"/v1/customers/{cid}", json=body, headers=admin).status_code == 201
    sub = {"customer_id": "acme", "plan": "pro", "start": "2026-11-01", "seats": 3}
    assert api.put("/v1/subscriptions/s-acme", json=sub, headers=admin).status_code == 201
    return issue_key(container, "read", "ingest")


def calls(api: TestClient, key: dict[str, str], count: int, start: int = 0, **data: Any) -> None:
    batch = [
        event(f"c-{n}", subject="t-acme", time=NOW - timedelta(hours=1), data=data)
        for n in range(start, start + count)
    ]
    answer = api.post("/v1/events", content=encode(batch), headers={**key, **BATCH})
    assert answer.json()["accepted"] == count, answer.text


def check(api: TestClient, key: dict[str, str], **body: Any) -> dict[str, Any]:
    answer = api.post("/v1/entitlements/check", json=body, headers=key)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def test_the_customer_sees_each_feature_of_its_plan_with_its_usage(
    api: TestClient, world: dict[str, str]
) -> None:
    calls(api, world, 40)
    answer = api.get("/v1/customers/acme/entitlements", headers=world)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "customer_id": "acme",
        "as_of": NOW.isoformat(),
        "subscription_id": "s-acme",
        "plan": {"code": "pro", "version": 1},
        "period": {"start": "2026-11-01", "end": "2026-12-01"},
        "features": [
            {
                "feature": "sso",
                "kind": "boolean",
                "allowed": True,
                "reason": "included",
                "limit": None,
                "used": None,
                "remaining": None,
                "restriction": None,
            },
            {
                "feature": "api_calls",
                "kind": "quota",
                "allowed": True,
                "reason": "within_limit",
                "limit": "1000",
                "used": "40",
                "remaining": "960",
                "restriction": None,
            },
            {
                "feature": "tokens",
                "kind": "quota",
                "allowed": True,
                "reason": "within_limit",
                "limit": "500",
                "used": "0",
                "remaining": "500",
                "restriction": None,
            },
            {
                "feature": "seats",
                "kind": "seats",
                "allowed": True,
                "reason": "within_limit",
                "limit": "3",
                "used": "0",
                "remaining": "3",
                "restriction": None,
            },
        ],
    }


def test_a_hard_quota_counts_usage_ingested_here_at_once(
    api: TestClient, world: dict[str, str]
) -> None:
    calls(api, world, 998)
    assert check(api, world, tenant="t-acme", feature="api_calls", quantity=2) == {
        "customer_id": "acme",
        "as_of": NOW.isoformat(),
        "feature": "api_calls",
        "kind": "quota",
        "allowed": True,
        "reason": "within_limit",
        "limit": "1000",
        "used": "998",
        "remaining": "2",
        "restriction": None,
    }
    calls(api, world, 1, start=998)  # the snapshot is read again: 999 used
    over = check(api, world, customer_id="acme", feature="api_calls", quantity="2")
    assert (over["allowed"], over["reason"], over["used"], over["remaining"]) == (
        False,
        "over_limit",
        "999",
        "1",
    )
    state = check(api, world, customer_id="acme", feature="api_calls", quantity=0)
    assert (state["allowed"], state["remaining"]) == (True, "1")


def test_usage_stored_by_any_ingestion_of_this_process_counts_at_once(
    api: TestClient, container: Container, world: dict[str, str]
) -> None:
    assert check(api, world, customer_id="acme", feature="api_calls", quantity=0)["used"] == "0"
    items = decode_body(encode([event("file-1", subject="t-acme", time=NOW)]), MEDIA, 10)
    report = container.ingestion.ingest(items, IngestContext("file", "test"))
    assert report.accepted == 1
    assert check(api, world, customer_id="acme", feature="api_calls", quantity=0)["used"] == "1"


def test_usage_drops_only_the_snapshots_that_count_its_tenant(
    api: TestClient, container: Container, world: dict[str, str]
) -> None:
    acme = container.entitlements.snapshot("acme")
    globex = container.entitlements.snapshot("globex")
    calls(api, world, 1)
    assert container.entitlements.cached("acme") is None
    assert container.entitlements.cached("globex") is globex
    assert container.entitlements.snapshot("acme") is not acme


def test_a_soft_quota_allows_beyond_it_and_says_so(api: TestClient, world: dict[str, str]) -> None:
    batch = [
        event(
            f"t-{n}",
            subject="t-acme",
            type="llm.completion",
            time=NOW - timedelta(hours=1),
            data={"tokens": 200, "environment": "production", "model": "m"},
        )
        for n in range(3)
    ]
    assert (
        api.post("/v1/events", content=encode(batch), headers={**world, **BATCH}).status_code == 200
    )
    answer = check(api, world, customer_id="acme", feature="tokens", quantity=1)
    assert (answer["allowed"], answer["reason"], answer["used"], answer["remaining"]) == (
        True,
        "over_soft_limit",
        "600",
        "0",
    )


def test_seats_are_the_subscriptions_and_a_meter_counts_them(
    api: TestClient, world: dict[str, str]
) -> None:
    batch = [
        event(
            f"s-{n}",
            subject="t-acme",
            type="app.session",
            time=NOW - timedelta(hours=1),
            data={"user": f"u{n % 3}"},
        )
        for n in range(9)
    ]
    assert (
        api.post("/v1/events", content=encode(batch), headers={**world, **BATCH}).status_code == 200
    )
    full = check(api, world, customer_id="acme", feature="seats", quantity=1)
    assert (full["allowed"], full["limit"], full["used"], full["remaining"]) == (
        False,
        "3",
        "3",
        "0",
    )


def test_what_the_plan_lacks_or_a_customer_without_a_subscription_is_refused_with_why(
    api: TestClient, world: dict[str, str]
) -> None:
    missing = check(api, world, customer_id="acme", feature="audit_export")
    assert (missing["allowed"], missing["reason"], missing["kind"]) == (False, "not_in_plan", None)
    none = check(api, world, tenant="t-globex", feature="sso")
    assert (none["customer_id"], none["allowed"], none["reason"]) == (
        "globex",
        False,
        "no_subscription",
    )
    assert api.get("/v1/customers/globex/entitlements", headers=world).json()["features"] == []
    for body in ({"customer_id": "nobody", "feature": "sso"}, {"tenant": "t-x", "feature": "sso"}):
        assert api.post("/v1/entitlements/check", json=body, headers=world).status_code == 404


def test_a_change_made_elsewhere_counts_within_twice_the_cache_time(
    api: TestClient,
    container: Container,
    settings: Settings,
    clock: FrozenClock,
    world: dict[str, str],
) -> None:
    def seats() -> str:
        answer = check(api, world, customer_id="acme", feature="seats", quantity=0)
        return str(answer["limit"])

    def elsewhere(count: int) -> None:
        other = build(settings, clock=clock)  # another process on the same database
        try:
            other.subscriptions.amend(
                AmendSubscription("s-acme", Change.SEAT_CHANGE, NOW.date(), "test", seats=count)
            )
        finally:
            other.close()

    fresh_for = timedelta(seconds=container.settings.entitlements.cache_seconds)
    assert seats() == "3"
    elsewhere(10)
    assert seats() == "3"  # the snapshot is fresh
    clock.advance(fresh_for)
    assert seats() == "3"  # aged: still answered, and read again in the background
    deadline = time.monotonic() + 10
    while seats() != "10":
        assert time.monotonic() < deadline, "the snapshot was not read again"
        time.sleep(0.01)
    elsewhere(20)
    clock.advance(2 * fresh_for)
    assert seats() == "20"  # too old to answer: read before answering


def test_a_tenant_mapped_to_another_customer_elsewhere_counts_within_twice_the_cache_time(
    api: TestClient,
    container: Container,
    settings: Settings,
    clock: FrozenClock,
    world: dict[str, str],
) -> None:
    """A check by tenant finds its owner as read with the owner's snapshot (refreshed in the
    background once aged), so a tenant moved to another customer by another process is seen
    within twice ``cache_seconds``, like any other change."""

    def owner() -> str:
        answer = api.post(
            "/v1/entitlements/check", json={"tenant": "t-acme", "feature": "sso"}, headers=world
        )
        assert answer.status_code == 200, answer.text
        return "acme" if answer.json()["allowed"] else "globex"  # globex has no subscription

    fresh_for = timedelta(seconds=container.settings.entitlements.cache_seconds)
    assert owner() == "acme"
    other = build(settings, clock=clock)  # another process on the same database
    try:
        other.customers.put(PutCustomer("acme", "Acme", "EUR", "UTC", None, {}, "test"))
        other.customers.put(
            PutCustomer(
                "globex", "Globex", "EUR", "UTC", None, {System.PRODUCT: ["t-acme"]}, "test"
            )
        )
    finally:
        other.close()
    assert owner() == "acme"  # fresh
    clock.advance(fresh_for)
    assert owner() == "acme"  # aged: still answered; acme's snapshot is read again meanwhile
    time.sleep(0.2)
    clock.advance(fresh_for)
    assert owner() == "globex"  # past twice the cache time: looked up again


def test_an_amendment_made_here_counts_at_once(
    api: TestClient, world: dict[str, str], admin: dict[str, str]
) -> None:
    assert check(api, world, customer_id="acme", feature="seats", quantity=0)["limit"] == "3"
    change = {"change": "seat_change", "effective": NOW.date().isoformat(), "seats": 7}
    amended = api.post("/v1/subscriptions/s-acme/amendments", json=change, headers=admin)
    assert amended.status_code == 201, amended.text
    assert check(api, world, customer_id="acme", feature="seats", quantity=0)["limit"] == "7"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"customer_id": "acme", "tenant": "t-acme", "feature": "sso"}, "customer_id"),
        ({"feature": "sso"}, "customer_id"),
        ({"customer_id": "acme"}, "feature"),
        ({"customer_id": "acme", "feature": ""}, "feature"),
        ({"customer_id": "acme", "feature": "x" * 201}, "feature"),
        ({"customer_id": "acme", "feature": "sso", "quantity": "-1"}, "quantity"),
        ({"customer_id": "acme", "feature": "sso", "quantity": "lots"}, "quantity"),
        ({"customer_id": "acme", "feature": "sso", "quantity": "1e30"}, "quantity"),
        ({"customer_id": 7, "feature": "sso"}, "customer_id"),
        ({"customer_id": "acme", "feature": "sso", "extra": 1}, "extra"),
    ],
)
def test_hostile_checks_get_a_422_naming_the_field(
    api: TestClient, world: dict[str, str], body: dict[str, Any], field: str
) -> None:
    answer = api.post("/v1/entitlements/check", json=body, headers=world)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field


def test_a_key_limited_to_a_customer_checks_only_its_own(
    api: TestClient, world: dict[str, str], admin: dict[str, str]
) -> None:
    body = {"name": "acme app", "roles": ["read"], "customers": ["acme"]}
    limited = {
        "Authorization": f"Bearer {api.post('/v1/api-keys', json=body, headers=admin).json()['key']}"
    }
    assert check(api, limited, tenant="t-acme", feature="sso")["allowed"] is True
    for other in (
        {"tenant": "t-globex", "feature": "sso"},
        {"customer_id": "globex", "feature": "sso"},
    ):
        assert api.post("/v1/entitlements/check", json=other, headers=limited).status_code == 404


def test_a_feature_must_count_a_declared_meter(
    api: TestClient, admin: dict[str, str], world: dict[str, str]
) -> None:
    plan = copy.deepcopy(ENTITLED)
    plan.pop("code")
    plan["features"] = [{"key": "q", "kind": "quota", "meter": "nope", "limit": "5"}]
    answer = api.put("/v1/plans/other", json=plan, headers=admin)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "features.0.meter"
    shown = api.get("/v1/plans/pro", headers=admin).json()
    assert shown["features"][1] == {
        "key": "api_calls",
        "kind": "quota",
        "meter": "api_calls",
        "limit": "1000",
        "enforcement": "hard",
    }


class TestRefusedAtIngestion:
    """``entitlements.refuse_over_quota: [api_calls]``: events past the hard quota are refused
    one by one, after deduplication, in the open period only."""

    @pytest.fixture
    def settings(self, db_url: str) -> Settings:
        return make_settings(
            db_url, plans=[ENTITLED], entitlements={"refuse_over_quota": ["api_calls"]}
        )

    def test_events_past_the_hard_quota_are_refused_and_the_rest_kept(
        self, api: TestClient, world: dict[str, str]
    ) -> None:
        calls(api, world, 998)
        batch = [
            event(f"c-{n}", subject="t-acme", time=NOW - timedelta(hours=1))
            for n in range(998, 1003)
        ]
        answer = api.post("/v1/events", content=encode(batch), headers={**world, **BATCH})
        assert answer.status_code == 200, answer.text
        report = answer.json()
        assert (report["accepted"], report["duplicates"]) == (2, 0)
        assert [(r["index"], r["id"], r["code"]) for r in report["rejected"]] == [
            (2, "c-1000", "quota_exceeded"),
            (3, "c-1001", "quota_exceeded"),
            (4, "c-1002", "quota_exceeded"),
        ]
        assert report["rejected"][0]["reason"] == (
            "subject: customer 'acme' has used 1000 of its 'api_calls' quota of 1000 this "
            "period; this event would add 1"
        )
        state = check(api, world, customer_id="acme", feature="api_calls", quantity=0)
        assert (state["used"], state["remaining"]) == ("1000", "0")
        # the same batch again: the stored two are duplicates, the rest still refused
        again = api.post("/v1/events", content=encode(batch), headers={**world, **BATCH}).json()
        assert (again["accepted"], again["duplicates"], len(again["rejected"])) == (0, 2, 3)
        # usage of the last period counts against its own period, not this one
        late = [event("old-1", subject="t-acme", time="2026-10-20T10:00:00Z")]
        old = api.post("/v1/events", content=encode(late), headers={**world, **BATCH}).json()
        assert old["accepted"] == 1
        # other meters are not refused
        tokens = [
            event(
                "tok-1",
                subject="t-acme",
                type="llm.completion",
                time=NOW - timedelta(hours=1),
                data={"tokens": 10_000, "environment": "production", "model": "m"},
            )
        ]
        kept = api.post("/v1/events", content=encode(tokens), headers={**world, **BATCH}).json()
        assert kept["accepted"] == 1

    def test_a_customer_without_the_quota_is_not_refused(
        self, api: TestClient, world: dict[str, str], admin: dict[str, str]
    ) -> None:
        batch = [
            event(f"g-{n}", subject="t-globex", time=NOW - timedelta(hours=1)) for n in range(1200)
        ]
        answer = api.post("/v1/events", content=encode(batch), headers={**world, **BATCH}).json()
        assert (answer["accepted"], answer["rejected"]) == (1200, [])


@pytest.mark.parametrize(
    ("meters", "message"),
    [
        (["nope"], "entitlements.refuse_over_quota.0: no meter 'nope'"),
        (["storage_gb"], "meter 'storage_gb' is max; only count and sum meters"),
    ],
)
def test_only_declared_count_or_sum_meters_are_refused_at_ingestion(
    db_url: str, meters: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        make_settings(db_url, plans=[ENTITLED], entitlements={"refuse_over_quota": meters})
