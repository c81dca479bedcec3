"""Hostile bodies and parameters get a 4xx naming the field, never a 500 (one test per cause
found). Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from revsync.bootstrap import Container, apply_configuration
from revsync.config import Settings
from tests.conftest import make_settings
from tests.entrypoints.api.test_billing_api import PRO, customer, subscribe
from tests.scenarios.harness import PRO as SCENARIO_PRO
from tests.support.clock import FrozenClock, utc


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(utc(2026, 11, 1, 8))


@pytest.fixture
def settings(any_db_url: str) -> Settings:
    return make_settings(any_db_url, plans=[SCENARIO_PRO])


@pytest.fixture(autouse=True)
def acme(container: Container, api: TestClient, admin: dict[str, str]) -> None:
    apply_configuration(container, "test")
    customer(api, admin, "acme")


def refused(response: Any, status: int, field: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["field"] == field, error
    message: str = error["message"]
    return message


def test_an_unknown_subscription_field_is_refused_not_dropped(
    api: TestClient, admin: dict[str, str]
) -> None:
    response = subscribe(api, admin, "s1", "acme", seat=50)
    assert refused(response, 422, "seat").startswith("seat: unknown field")
    assert api.get("/v1/subscriptions/s1", headers=admin).status_code == 404


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"seats": 2**63}, "seats"),
        ({"seats": -1}, "seats"),
        ({"plan_version": 2**64}, "plan_version"),
        ({"coupons": "WELCOME"}, "coupons"),
        ({"coupons": ["WELCOME"]}, "coupons.0"),
        ({"coupons": [{"code": "X", "start": "2026-11-01", "extra": 1}]}, "coupons.0.extra"),
    ],
)
def test_bad_subscription_numbers_and_coupons_are_422(
    api: TestClient, admin: dict[str, str], fields: dict[str, Any], field: str
) -> None:
    refused(subscribe(api, admin, "s1", "acme", **fields), 422, field)


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "-Infinity", "1e100", "1e400", 10**40])
def test_absurd_credit_amounts_are_422(
    api: TestClient, admin: dict[str, str], amount: object
) -> None:
    body = {"amount": amount, "currency": "EUR"}
    refused(api.post("/v1/customers/acme/credits", json=body, headers=admin), 422, "amount")
    assert api.get("/v1/customers/acme/credits", headers=admin).json()["balances"] == {}


@pytest.mark.parametrize(
    ("coupon", "field"),
    [
        ({"amount_off": "1e300000000", "currency": "EUR"}, "amount_off"),
        ({"amount_off": "5.00", "currency": ["EUR"]}, "currency"),
        ({"percent_off": "10", "description": {"a": 1}}, "description"),
        ({"percent_off": "10", "duration": "repeating", "periods": 10**20}, "periods"),
    ],
)
def test_absurd_coupons_are_422(
    api: TestClient, admin: dict[str, str], coupon: dict[str, Any], field: str
) -> None:
    body = {"description": "Offer", "duration": "once", **coupon}
    refused(api.put("/v1/coupons/offer", json=body, headers=admin), 422, field)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/dead-letters", {"cursor": str(2**63)}),
        ("/v1/audit", {"cursor": str(2**64)}),
        ("/v1/plans/pro", {"version": str(2**63)}),
    ],
)
def test_numbers_in_parameters_are_range_checked(
    api: TestClient, admin: dict[str, str], path: str, params: dict[str, str]
) -> None:
    response = api.get(path, params=params, headers=admin)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid"


def test_a_usage_query_in_a_time_zone_of_300_characters_is_422(
    api: TestClient, admin: dict[str, str]
) -> None:
    params = {"meter": "api_calls", "tz": "x" * 300}
    response = api.get("/v1/customers/acme/usage", params=params, headers=admin)
    assert refused(response, 422, "tz") == "tz: longer than 64 characters"


def test_a_time_zone_of_a_thousand_characters_is_422(
    api: TestClient, admin: dict[str, str]
) -> None:
    body = {"name": "Beta", "currency": "EUR", "timezone": "Europe/" + "x" * 1000}
    response = api.put("/v1/customers/beta", json=body, headers=admin)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["problems"] == [
        {"field": "timezone", "reason": "at most 64 characters"}
    ]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": "Be\u0000ta"}, "name"),
        ({"external_refs": {"product": ["t-\u0000"]}}, "external_refs.product"),
        ({"timezone": "Europe/\u0000Paris"}, "timezone"),
    ],
)
def test_a_nul_character_is_refused_on_both_databases(
    api: TestClient, admin: dict[str, str], fields: dict[str, Any], field: str
) -> None:
    body = {"name": "Beta", "currency": "EUR", **fields}
    refused(api.put("/v1/customers/beta", json=body, headers=admin), 422, field)


def test_unknown_fields_in_post_bodies_are_refused(api: TestClient, admin: dict[str, str]) -> None:
    subscribe(api, admin, "s1", "acme")
    amend = {"change": "seat_change", "effective": "2026-11-16", "seats": 3, "sets": 4}
    response = api.post("/v1/subscriptions/s1/amendments", json=amend, headers=admin)
    assert refused(response, 422, "sets").startswith("sets: unknown field")
    run = api.post("/v1/billing-runs", json={"asof": "2026-11-01"}, headers=admin)
    refused(run, 422, "asof")
    assert (
        api.put("/v1/plans/team", json={**PRO, "colour": "red"}, headers=admin).status_code == 422
    )


@pytest.mark.parametrize("path", ["/v1/customers/big", "/v1/api-keys"])
def test_every_route_bounds_its_body(api: TestClient, admin: dict[str, str], path: str) -> None:
    """Routes whose body the framework reads (customers, API keys) are bounded too."""
    body = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    method = "PUT" if "customers" in path else "POST"
    for chunked in (False, True):
        content: Any = iter([body[:1000], body[1000:]]) if chunked else body
        response = api.request(
            method, path, content=content, headers={**admin, "Content-Type": "application/json"}
        )
        assert response.status_code == 413, response.text
        error = response.json()["error"]
        assert (error["code"], error["field"]) == ("body_too_large", "body")
        assert error["request_id"] == response.headers["x-request-id"]
