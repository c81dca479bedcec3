"""The OpenAPI document is a contract: valid OpenAPI 3.1, every answer described (successes by
their models, failures by the one ``Error`` component), keyed with the bearer scheme, readable
operationIds, and answers that match it."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from revsync.bootstrap import Container, build
from revsync.entrypoints.api.access import PUBLIC, RULES
from revsync.entrypoints.api.app import create_app
from revsync.entrypoints.api.contract import METRICS_MEDIA
from tests.conftest import issue_key, make_settings
from tests.support.clock import FrozenClock

ERROR = "#/components/schemas/Error"


@pytest.fixture
def document(container: Container) -> dict[str, Any]:
    return create_app(container).openapi()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, ops in document["paths"].items()
        for method, operation in ops.items()
    ]


def conforms(document: dict[str, Any], schema: dict[str, Any], value: Any) -> list[str]:
    """What in ``value`` breaks ``schema`` (which may refer to the document's components)."""
    validator = Draft202012Validator({**schema, "components": document["components"]})
    return [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(value)
    ]


# --- the shape of the document ------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1.")
    validate(document)


def test_every_operation_describes_its_success(document: dict[str, Any]) -> None:
    missing = []
    for method, path, operation in operations(document):
        successes = {s: r for s, r in operation["responses"].items() if s.startswith("2")}
        assert successes, (method, path)
        for status, answer in successes.items():
            for media, content in answer.get("content", {}).items():
                if not content.get("schema"):
                    missing.append(f"{method} {path} {status} {media}")
    assert missing == []


def test_no_request_body_is_a_bare_object(document: dict[str, Any]) -> None:
    bare = []
    for method, path, operation in operations(document):
        for media, content in operation.get("requestBody", {}).get("content", {}).items():
            schema = content.get("schema", {})
            items = schema.get("items", {}) if schema.get("type") == "array" else schema
            if not items or items in ({"type": "object"}, {"type": "array"}):
                bare.append(f"{method} {path} {media}")
    assert bare == []


def test_every_failure_is_the_error_component(document: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in str(document)
    assert "ValidationError" not in document["components"]["schemas"]
    for method, path, operation in operations(document):
        for status, answer in operation["responses"].items():
            if int(status) < 400 or (path, status) == ("/readyz", "503"):
                continue
            schema = answer["content"]["application/json"]["schema"]
            assert schema == {"$ref": ERROR}, (method, path, status)


def test_keyed_operations_document_the_answers_of_the_access_check(
    document: dict[str, Any],
) -> None:
    for method, path, operation in operations(document):
        answers = operation["responses"]
        assert "500" in answers, (method, path)
        if (method, path) in PUBLIC:
            assert operation["security"] == []
            continue
        rule = RULES[(method, path)]
        assert {"401", "403", "429"} <= set(answers), (method, path)
        assert f"`{rule.role.value}` role" in answers["403"]["description"]
        assert {"Retry-After", "RateLimit-Limit", "RateLimit-Remaining"} <= set(
            answers["429"]["headers"]
        )
        if "{" in path:
            assert "404" in answers, (method, path)
        if "requestBody" in operation:
            assert {"400", "413", "422"} <= set(answers), (method, path)


def test_every_key_is_a_bearer_rsk_key(document: dict[str, Any]) -> None:
    scheme = document["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert scheme["bearerFormat"].startswith("rsk_")
    assert document["security"] == [{"bearer": []}]


def test_operation_ids_are_the_endpoint_names_and_unique(
    container: Container, document: dict[str, Any]
) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    routes = iter_route_contexts(create_app(container).routes)
    names = {r.name for r in routes if r.include_in_schema}
    assert set(ids) == names
    assert document["paths"]["/v1/plans/{code}"]["put"]["operationId"] == "put_plan"


def test_metrics_are_documented_and_served_as_prometheus_text(
    api: TestClient, admin: dict[str, str], document: dict[str, Any]
) -> None:
    ok = document["paths"]["/metrics"]["get"]["responses"]["200"]
    assert ok["content"] == {METRICS_MEDIA: {"schema": {"type": "string"}}}
    served = api.get("/metrics", headers=admin)
    assert served.status_code == 200
    assert served.headers["content-type"].startswith(METRICS_MEDIA)


def test_the_docs_page_is_public_and_holds_no_document(api: TestClient) -> None:
    page = api.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "/v1/openapi.json" in page.text  # what it loads, with the key typed in
    assert "operationId" not in page.text and "/v1/invoices" not in page.text
    assert page.text.count('integrity="sha384-') == 2  # pinned Swagger UI, checked


# --- answers match the document -----------------------------------------------------------------


def test_error_answers_match_the_error_component(
    api: TestClient, admin: dict[str, str], document: dict[str, Any]
) -> None:
    schema = {"$ref": ERROR}
    answers = [
        api.get("/v1/customers"),  # 401
        api.get("/v1/customers/nobody", headers=admin),  # 404
        api.get("/v1/customers?limit=0", headers=admin),  # 422 with problems
        api.put("/v1/plans/p", content=b"{", headers=admin),  # 400
        api.put("/v1/subscriptions/s", json={"nope": 1}, headers=admin),  # 422 with a field
    ]
    assert [a.status_code for a in answers] == [401, 404, 422, 400, 422]
    for answer in answers:
        assert conforms(document, schema, answer.json()) == [], answer.text


# --- hostile input found while fuzzing: a 4xx naming the field, never a 500 -----------------------


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("GET", "/v1/cases?since=0001-01-01T00:00:00%2B14:00", None, "since"),
        ("GET", "/v1/cases?until=9999-12-31T23:59:59-14:00", None, "until"),
        ("POST", "/v1/cases/replay", {"since": "0001-01-01T00:00:00+14:00"}, "since"),
        ("POST", "/v1/billing-runs", {"as_of": "0001-01-01"}, "as_of"),
        ("PUT", "/v1/subscriptions/s1", {"customer_id": "acme", "start": "0001-01-01"}, "start"),
        (
            "POST",
            "/v1/customers/acme/credits",
            {"amount": "1", "currency": "EUR", "expires_on": "9999-12-31"},
            "expires_on",
        ),
    ],
)
def test_times_and_dates_out_of_range_are_refused_naming_the_field(
    api: TestClient, admin: dict[str, str], method: str, url: str, body: Any, field: str
) -> None:
    api.put("/v1/customers/acme", json={"name": "Acme", "currency": "EUR"}, headers=admin)
    refused = api.request(method, url, json=body, headers=admin)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["field"] == field


def test_the_largest_credit_the_wire_takes_is_granted(
    api: TestClient, admin: dict[str, str]
) -> None:
    """30 digits before the point and 2 after: more than the default decimal context holds."""
    api.put("/v1/customers/acme", json={"name": "Acme", "currency": "EUR"}, headers=admin)
    largest = "9" * 30 + ".99"
    granted = api.post(
        "/v1/customers/acme/credits", json={"amount": largest, "currency": "EUR"}, headers=admin
    )
    assert granted.status_code == 201, granted.text
    assert granted.json()["remaining"] == largest
    finer = {"amount": "9" * 30 + ".999", "currency": "EUR"}
    refused = api.post("/v1/customers/acme/credits", json=finer, headers=admin)
    assert (refused.status_code, refused.json()["error"]["field"]) == (422, "amount")


def test_a_429_carries_the_documented_headers(db_url: str, clock: FrozenClock) -> None:
    container = build(
        make_settings(db_url, server={"rate_limits": {"per_key": "1/minute"}}), clock=clock
    )
    try:
        app = create_app(container)
        key = issue_key(container, "read")
        with TestClient(app) as api:
            assert api.get("/v1/plans", headers=key).status_code == 200
            refused = api.get("/v1/plans", headers=key)
        assert refused.status_code == 429
        document = app.openapi()
        documented = document["paths"]["/v1/plans"]["get"]["responses"]["429"]
        assert (
            conforms(document, documented["content"]["application/json"]["schema"], refused.json())
            == []
        )
        for name, header in documented["headers"].items():
            value = refused.headers[name]
            assert (
                conforms(document, header["schema"], int(value) if value.isdigit() else value) == []
            )
    finally:
        container.close()
