"""Who may call what: the one table of roles covers every route, each role opens what the
table says and nothing more, a key limited to some customers reaches nothing of the others,
rate limits answer 429 with their headers (in process and shared through Redis), and routes
on their way out announce it.

The clock starts on 1 November 2026; Acme on Pro with a subsidiary, and a stranger, Globex,
each with a subscription, usage and invoices.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from revsync.bootstrap import Container, apply_configuration, build
from revsync.config import ConfigError, Settings
from revsync.domain.apikeys import GRANTS, Role
from revsync.entrypoints.api.access import PUBLIC, RULES, Reach
from revsync.entrypoints.api.app import create_app
from revsync.entrypoints.console import pages as console_pages
from tests.conftest import issue_key, make_settings
from tests.scenarios.harness import PRO
from tests.support.clock import FrozenClock, utc
from tests.support.events import encode, event
from tests.support.services import require_redis

BATCH = {"Content-Type": "application/cloudevents-batch+json"}
#: the API's routes (the console's, signed in with a session, are tested in tests/entrypoints/
#: console: each role's pages and actions, and limited keys refused at sign-in)
API_RULES = {k: v for k, v in RULES.items() if not k[1].startswith("/console/")}
REDIS = os.environ.get("REVSYNC_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(utc(2026, 11, 1, 8))


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url, plans=[PRO])


@pytest.fixture(autouse=True)
def configured(container: Container) -> None:
    apply_configuration(container, "test")


def _fill(path: str, **values: str) -> str:
    return re.sub(r"{(\w+)}", lambda m: values.get(m.group(1), "x"), path)


# --- the table --------------------------------------------------------------------------------


def test_every_route_has_one_rule_and_every_rule_a_route(container: Container) -> None:
    """Every documented operation (and the document itself) is in the table; a route missing
    from it would be refused to every key (``rule_for``), not opened."""
    app = create_app(container)
    paths = app.openapi()["paths"]
    routes = {(method.upper(), path) for path, ops in paths.items() for method in ops}
    routes |= {("GET", "/v1/openapi.json"), ("GET", "/docs")}  # served beside the document
    routes |= {  # the console's pages, not in the API's document
        (method, route.path)
        for route in console_pages.router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    assert routes >= PUBLIC
    assert routes - PUBLIC == set(RULES)


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
def test_each_role_opens_what_the_table_says_and_nothing_more(
    api: TestClient, container: Container, role: Role
) -> None:
    key = issue_key(container, role.value)
    for (method, path), rule in API_RULES.items():
        response = api.request(method, _fill(path), headers=key, content=b"{}")
        refused = response.status_code == 403
        assert refused == (rule.role not in GRANTS[role]), (method, path, response.text)
        if refused:
            assert response.json()["error"]["message"] == (
                f"this API key lacks the '{rule.role.value}' role"
            )


def test_a_key_limited_to_customers_carries_only_ingest_and_read(
    api: TestClient, admin: dict[str, str]
) -> None:
    api.put("/v1/customers/acme", json={"name": "Acme", "currency": "EUR"}, headers=admin)
    for roles in (["finance"], ["read", "ops"], ["admin"], ["metrics"]):
        body = {"name": "partner", "roles": roles, "customers": ["acme"]}
        refused = api.post("/v1/api-keys", json=body, headers=admin)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["field"] == "customers"
    unknown = {"name": "partner", "roles": ["read"], "customers": ["nobody"]}
    refused = api.post("/v1/api-keys", json=unknown, headers=admin)
    assert (refused.status_code, refused.json()["error"]["field"]) == (422, "customers")
    assert "no customer 'nobody'" in refused.json()["error"]["message"]


# --- a key limited to some customers ------------------------------------------------------------


class World:
    """Two customer trees with subscriptions, usage and invoices; ids of the other one."""

    def __init__(self, api: TestClient, admin: dict[str, str], clock: FrozenClock) -> None:
        ingest = {"Authorization": admin["Authorization"], **BATCH}
        clock.set(utc(2026, 11, 20, 12))
        for cid, parent in (("acme", None), ("acme-eu", "acme"), ("globex", None)):
            body: dict[str, Any] = {
                "name": cid.title(),
                "currency": "EUR",
                "external_refs": {"product": [f"t-{cid}"]},
            }
            if parent:
                body["parent_id"] = parent
            assert api.put(f"/v1/customers/{cid}", json=body, headers=admin).status_code == 201
            sub = {"customer_id": cid, "plan": "pro", "start": "2026-11-01"}
            assert api.put(f"/v1/subscriptions/s-{cid}", json=sub, headers=admin).status_code == 201
            batch = [
                event(
                    f"{cid}-{n}",
                    subject=f"t-{cid}",
                    time="2026-11-20T11:00:00Z",
                    type="api.request",
                )
                for n in range(3)
            ]
            assert (
                api.post("/v1/events", content=encode(batch), headers=ingest).json()["accepted"]
                == 3
            )
            grant = {"amount": "10.00", "currency": "EUR", "reason": "welcome"}
            assert (
                api.post(f"/v1/customers/{cid}/credits", json=grant, headers=admin).status_code
                == 201
            )
        clock.set(utc(2026, 12, 4, 0))
        run = api.post("/v1/billing-runs", json={"as_of": "2026-12-04"}, headers=admin)
        assert run.status_code == 201, run.text
        every = api.get("/v1/invoices", params={"limit": 500}, headers=admin).json()["items"]
        self.invoices = {i["customer_id"]: i for i in every}
        self.globex_invoice = self.invoices["globex"]["id"]
        #: what a key limited to Acme must never see
        self.foreign = ["globex", "Globex", "t-globex", "s-globex"] + [
            i["id"] for i in every if i["customer_id"] == "globex"
        ]


def test_a_key_limited_to_a_customer_reaches_nothing_of_the_others(
    api: TestClient, container: Container, admin: dict[str, str], clock: FrozenClock
) -> None:
    world = World(api, admin, clock)
    body = {"name": "acme group", "roles": ["read", "ingest"], "customers": ["acme"]}
    created = api.post("/v1/api-keys", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["customers"] == ["acme"]
    partner = {"Authorization": f"Bearer {created.json()['key']}"}

    # every route, aimed at the stranger's objects: refused, not found, or its own data only
    answers: dict[tuple[str, str], int] = {}
    for (method, path), rule in API_RULES.items():
        url = _fill(
            path,
            customer_id="globex",
            subscription_id="s-globex",
            invoice_id=world.globex_invoice,
            code="pro",
            case_id="x",
            key_id="x",
        )
        params = {"customer": "globex"} if path == "/v1/invoices" else None
        response = api.request(method, url, headers=partner, content=b"{}", params=params)
        answers[(method, path)] = response.status_code
        text = response.text
        for asked in url.split("/"):  # "invoice 'x' not found" only echoes what was asked
            text = text.replace(f"'{asked}' not found", "not found")
        leaked = [word for word in world.foreign if word in text]
        assert not leaked, (method, path, leaked, text[:300])
        if rule.reach is Reach.ALL or rule.role not in GRANTS[Role.READ] | {Role.INGEST}:
            assert response.status_code == 403, (method, path, response.text)
        elif rule.reach is Reach.CHECKED and "{" in path:
            assert response.status_code in (404, 422), (method, path, response.text)
    assert answers[("GET", "/v1/invoices/{invoice_id}")] == 404
    assert answers[("GET", "/v1/customers/{customer_id}")] == 404

    # and its own tree, the subsidiary included, is open to it
    assert api.get("/v1/customers/acme-eu", headers=partner).status_code == 200
    listed = api.get("/v1/customers", headers=partner).json()["items"]
    assert [c["id"] for c in listed] == ["acme", "acme-eu"]
    found = api.get("/v1/customers", params={"external_ref": "product:t-globex"}, headers=partner)
    assert found.json()["items"] == []
    mine = api.get("/v1/invoices", params={"limit": 500}, headers=partner).json()["items"]
    assert {i["customer_id"] for i in mine} == {"acme", "acme-eu"}
    assert (
        api.get(f"/v1/invoices/{world.invoices['acme-eu']['id']}", headers=partner).status_code
        == 200
    )
    usage = api.get(
        "/v1/customers/acme/usage",
        params={
            "meter": "api_calls",
            "from": "2026-11-01T00:00:00Z",
            "to": "2026-12-01T00:00:00Z",
            "include_descendants": "true",
        },
        headers=partner,
    )
    assert usage.status_code == 200, usage.text
    assert usage.json()["customer_ids"] == ["acme", "acme-eu"]

    # usage: its own tenants are taken; another customer's, or nobody's, refused per item
    batch = [
        event(f"p-{tenant}", subject=tenant, time="2026-12-03T11:00:00Z", type="api.request")
        for tenant in ("t-acme-eu", "t-globex", "t-nobody")
    ]
    sent = api.post("/v1/events", content=encode(batch), headers={**partner, **BATCH})
    assert sent.status_code == 200, sent.text
    report = sent.json()
    assert (report["accepted"], report["unmapped"]) == (1, 0)
    assert [(r["index"], r["code"]) for r in report["rejected"]] == [
        (1, "forbidden_customer"),
        (2, "forbidden_customer"),
    ]
    assert report["rejected"][0]["reason"] == (
        "subject: tenant 't-globex' is not mapped to a customer this key may send usage for"
    )
    december = {"meter": "api_calls", "from": "2026-12-01T00:00:00Z", "to": "2027-01-01T00:00:00Z"}
    for cid, expected in (("acme-eu", "1"), ("globex", "0")):
        counted = api.get(f"/v1/customers/{cid}/usage", params=december, headers=admin).json()
        assert sum(int(b["value"]) for b in counted["buckets"]) == int(expected), cid
    assert api.get("/v1/usage/unmapped", headers=admin).json()["items"] == []


# --- rate limits --------------------------------------------------------------------------------


@contextmanager
def limited_app(
    db_url: str, clock: FrozenClock, **limits: Any
) -> Iterator[tuple[TestClient, Container]]:
    settings = make_settings(db_url, server={"rate_limits": limits})
    container = build(settings, clock=clock)
    try:
        with TestClient(create_app(container)) as client:
            yield client, container
    finally:
        container.close()


def test_a_key_over_its_limit_is_answered_429_with_its_headers(
    db_url: str, clock: FrozenClock
) -> None:
    with limited_app(db_url, clock, per_key="3/minute") as (client, container):
        reader = issue_key(container, "read")
        other = issue_key(container, "read")
        first = client.get("/v1/plans", headers=reader)
        assert first.status_code == 200
        assert (first.headers["ratelimit-limit"], first.headers["ratelimit-remaining"]) == (
            "3",
            "2",
        )
        assert first.headers["ratelimit-policy"] == "3;w=60"
        for _ in range(2):
            assert client.get("/v1/plans", headers=reader).status_code == 200
        refused = client.get("/v1/plans", headers=reader)
        assert refused.status_code == 429
        error = refused.json()["error"]
        assert error["code"] == "rate_limited"
        assert "3 requests per 60 s" in error["message"]
        assert refused.headers["ratelimit-remaining"] == "0"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        # another key has its own count
        assert client.get("/v1/plans", headers=other).status_code == 200


def test_a_tenant_over_its_limit_has_its_events_refused_and_the_rest_kept(
    db_url: str, clock: FrozenClock
) -> None:
    with limited_app(db_url, clock, per_tenant="5/minute") as (client, container):
        ingest = {**issue_key(container, "ingest"), **BATCH}

        def send(*tenants: str) -> dict[str, Any]:
            batch = [
                event(
                    f"{tenant}-{secrets.token_hex(4)}", subject=tenant, time="2026-11-01T07:00:00Z"
                )
                for tenant in tenants
            ]
            response = client.post("/v1/events", content=encode(batch), headers=ingest)
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        first = send(*["t-a"] * 3, *["t-b"] * 4)
        assert (first["accepted"], first["rejected"]) == (7, [])
        second = send("t-b", "t-a", "t-a", "t-a", "t-c")
        assert second["accepted"] == 2  # t-b's fifth and t-c's first
        assert [(r["index"], r["code"]) for r in second["rejected"]] == [
            (1, "rate_limited"),
            (2, "rate_limited"),
            (3, "rate_limited"),
        ]
        reason = second["rejected"][0]["reason"]
        assert reason.startswith("subject: tenant 't-a' is over its limit of 5 events per 60 s")


def test_a_key_of_its_own_limit_and_no_limit_at_all(db_url: str, clock: FrozenClock) -> None:
    with limited_app(db_url, clock, per_key=None) as (client, container):
        reader = issue_key(container, "read")
        for _ in range(20):
            response = client.get("/v1/plans", headers=reader)
            assert response.status_code == 200
            assert "ratelimit-limit" not in response.headers


def test_api_processes_share_a_limit_through_redis(db_url: str, clock: FrozenClock) -> None:
    """Two apps (as two API processes) count one key's requests together in Redis."""
    require_redis(REDIS)
    with ExitStack() as stack:
        one, container = stack.enter_context(
            limited_app(db_url, clock, per_key="4/minute", storage=REDIS)
        )
        two, _ = stack.enter_context(limited_app(db_url, clock, per_key="4/minute", storage=REDIS))
        key = issue_key(container, "read")
        assert [one.get("/v1/plans", headers=key).status_code for _ in range(2)] == [200, 200]
        assert [two.get("/v1/plans", headers=key).status_code for _ in range(2)] == [200, 200]
        assert one.get("/v1/plans", headers=key).status_code == 429
        assert two.get("/v1/plans", headers=key).status_code == 429


# --- lifecycle ----------------------------------------------------------------------------------


def test_a_route_on_its_way_out_says_so(db_url: str, clock: FrozenClock) -> None:
    lifecycle = [
        {
            "route": "GET /v1/plans",
            "deprecated": "2026-10-01T00:00:00Z",
            "sunset": "2027-06-30T00:00:00Z",
            "link": "https://docs.example.com/migrate-plans",
        }
    ]
    settings = make_settings(db_url, server={"lifecycle": lifecycle})
    container = build(settings, clock=clock)
    try:
        with TestClient(create_app(container)) as client:
            key = issue_key(container, "read")
            old = client.get("/v1/plans", headers=key)
            assert old.headers["deprecation"] == "@1790812800"
            assert old.headers["sunset"] == "Wed, 30 Jun 2027 00:00:00 GMT"
            assert (
                old.headers["link"] == '<https://docs.example.com/migrate-plans>; rel="deprecation"'
            )
            assert "deprecation" not in client.get("/v1/plans/pro", headers=key).headers
    finally:
        container.close()


def test_a_deprecation_of_no_route_stops_the_start(db_url: str, clock: FrozenClock) -> None:
    lifecycle = [{"route": "GET /v1/nothing", "deprecated": "2026-10-01T00:00:00Z"}]
    container = build(make_settings(db_url, server={"lifecycle": lifecycle}), clock=clock)
    try:
        with pytest.raises(ConfigError, match="no route 'GET /v1/nothing'"):
            create_app(container)
    finally:
        container.close()
