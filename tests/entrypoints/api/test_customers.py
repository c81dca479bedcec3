"""Customers and the identity map over the API; storage on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from typing import Any

import pytest
from fastapi.testclient import TestClient

from revsync.application.customers import PutCustomer
from revsync.bootstrap import Container
from revsync.config import Settings
from revsync.domain.errors import Conflict
from revsync.domain.identity import ExternalRef, System
from tests.conftest import make_settings


@pytest.fixture
def settings(any_db_url: str) -> Settings:
    return make_settings(any_db_url)


def body(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "Acme", "currency": "EUR", "timezone": "Europe/Paris"}
    return {**base, **fields}


def test_put_creates_then_replaces_and_get_reads_back(
    api: TestClient, admin: dict[str, str]
) -> None:
    refs = {"product": ["t-2", "t-1"], "crm": "001A", "erp": "C-9", "support": "3601"}
    created = api.put("/v1/customers/acme", json=body(external_refs=refs), headers=admin)
    assert created.status_code == 201
    expected = {
        "id": "acme",
        "name": "Acme",
        "currency": "EUR",
        "timezone": "Europe/Paris",
        "country": None,
        "tax_exempt": False,
        "parent_id": None,
        "external_refs": {
            "product": ["t-1", "t-2"],
            "crm": "001A",
            "erp": "C-9",
            "support": "3601",
        },
    }
    assert created.json() == {**expected, "attached_unmapped_events": 0}
    assert api.get("/v1/customers/acme", headers=admin).json() == expected
    renamed = api.put(
        "/v1/customers/acme",
        json=body(name="Acme SA", external_refs={"product": ["t-1"]}),
        headers=admin,
    )
    assert renamed.status_code == 200
    assert renamed.json()["external_refs"] == {
        "product": ["t-1"],
        "crm": None,
        "erp": None,
        "support": None,
    }
    assert api.get("/v1/customers?external_ref=product:t-2", headers=admin).json()["items"] == []


def test_lookup_by_external_reference(api: TestClient, admin: dict[str, str]) -> None:
    api.put(
        "/v1/customers/acme",
        json=body(external_refs={"product": ["t-1"], "crm": "001A"}),
        headers=admin,
    )
    for ref in ("product:t-1", "crm:001A"):
        found = api.get("/v1/customers", params={"external_ref": ref}, headers=admin).json()[
            "items"
        ]
        assert [c["id"] for c in found] == ["acme"]
    assert api.get("/v1/customers?external_ref=erp:nope", headers=admin).json()["items"] == []
    bad = api.get("/v1/customers?external_ref=ledger:1", headers=admin)
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "external_ref"


def test_mapping_a_tenant_of_another_customer_is_409_and_changes_nothing(
    api: TestClient, admin: dict[str, str]
) -> None:
    api.put("/v1/customers/acme", json=body(external_refs={"product": ["t-1"]}), headers=admin)
    taken = api.put(
        "/v1/customers/globex",
        json=body(name="Globex", external_refs={"product": ["t-1", "t-9"]}),
        headers=admin,
    )
    assert taken.status_code == 409
    assert "product:t-1 (customer 'acme')" in taken.json()["error"]["message"]
    assert api.get("/v1/customers/globex", headers=admin).status_code == 404
    owner = api.get("/v1/customers?external_ref=product:t-1", headers=admin).json()["items"]
    assert [c["id"] for c in owner] == ["acme"]
    assert api.get("/v1/customers?external_ref=product:t-9", headers=admin).json()["items"] == []


def test_hierarchy_parent_must_exist_and_never_loop(api: TestClient, admin: dict[str, str]) -> None:
    missing = api.put("/v1/customers/child", json=body(parent_id="nobody"), headers=admin)
    assert (missing.status_code, missing.json()["error"]["field"]) == (422, "parent_id")
    api.put("/v1/customers/root", json=body(), headers=admin)
    api.put("/v1/customers/mid", json=body(parent_id="root"), headers=admin)
    api.put("/v1/customers/leaf", json=body(parent_id="mid"), headers=admin)
    loop = api.put("/v1/customers/root", json=body(parent_id="leaf"), headers=admin)
    assert loop.status_code == 422
    assert "cycle" in loop.json()["error"]["message"]
    itself = api.put("/v1/customers/root", json=body(parent_id="root"), headers=admin)
    assert itself.status_code == 422


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"currency": "EURO"}, "currency", "not an ISO 4217 currency code"),
        ({"timezone": "Mars/Olympus"}, "timezone", "unknown IANA time zone"),
        ({"name": "  "}, "name", "must not be empty"),
        ({"external_refs": {"crm": ""}}, "external_refs.crm", "must be 1-255 characters"),
    ],
)
def test_invalid_customer_fields_are_named(
    api: TestClient, admin: dict[str, str], fields: dict[str, Any], field: str, reason: str
) -> None:
    response = api.put("/v1/customers/acme", json=body(**fields), headers=admin)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == field
    assert reason in error["message"]


def test_invalid_customer_id_and_unknown_keys(api: TestClient, admin: dict[str, str]) -> None:
    bad_id = api.put("/v1/customers/-bad", json=body(), headers=admin)
    assert (bad_id.status_code, bad_id.json()["error"]["field"]) == (422, "id")
    extra = api.put("/v1/customers/acme", json=body(colour="red", name=5), headers=admin)
    assert extra.status_code == 422
    error = extra.json()["error"]
    assert (error["code"], error["message"]) == (
        "invalid",
        "name: expected a string; colour: unknown field",
    )
    assert error["problems"] == [
        {"field": "name", "reason": "expected a string"},
        {"field": "colour", "reason": "unknown field"},
    ]


def test_customer_changes_are_audited(
    api: TestClient, admin: dict[str, str], container: Container
) -> None:
    api.put("/v1/customers/acme", json=body(), headers=admin)
    api.put("/v1/customers/acme", json=body(name="Acme SA"), headers=admin)
    api.put("/v1/customers/acme", json=body(name="Acme SA"), headers=admin)  # no change, no entry
    entries = [
        e for e in api.get("/v1/audit", headers=admin).json() if e["object_type"] == "customer"
    ]
    assert [e["action"] for e in entries] == ["customer.created", "customer.updated"]
    assert entries[1]["before"]["name"] == "Acme"
    assert entries[1]["after"]["name"] == "Acme SA"
    assert entries[1]["actor"].startswith("api_key:")
    assert container.audit.verify().broken is None


def test_customers_page_through(api: TestClient, admin: dict[str, str]) -> None:
    for cid in ("a", "b", "c"):
        api.put(f"/v1/customers/{cid}", json=body(), headers=admin)
    first = api.get("/v1/customers?limit=2", headers=admin).json()
    second = api.get(f"/v1/customers?limit=2&cursor={first['next_cursor']}", headers=admin).json()
    assert [c["id"] for c in first["items"]] == ["a", "b"]
    assert [c["id"] for c in second["items"]] == ["c"]
    assert second["next_cursor"] is None


def test_concurrent_claims_on_one_tenant_leave_exactly_one_owner(container: Container) -> None:
    """Identity changes are serialised: racing writers get one success and clean 409s."""
    barrier = Barrier(6)

    def claim(n: int) -> str:
        barrier.wait()
        try:
            container.customers.put(
                PutCustomer(f"c{n}", "C", "EUR", "UTC", None, {System.PRODUCT: ["shared"]}, "test")
            )
        except Conflict:
            return "conflict"
        return "owner"

    with ThreadPoolExecutor(6) as pool:
        outcomes = sorted(pool.map(claim, range(6)))
    assert outcomes == ["conflict"] * 5 + ["owner"]
    owner = container.customers.find_by_ref(ExternalRef.parse("product:shared"))
    assert owner is not None
    assert owner.id in {f"c{n}" for n in range(6)}
