"""POST /v1/rerates: a shadow re-rate over HTTP — the report as JSON, the fields it refuses
named, the customers a limited key reaches, nothing written. On SQLite and PostgreSQL.

Acme and Globex are on ``metered`` (20.00 a month in advance, 0.002 per API call) from
1 October 2026: acme makes 1,200 calls in October, globex 200; the run of 4 November
(grace 0 h) bills October. Version 2 prices calls in tiers: the first 500 free, then 0.003.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from revsync.bootstrap import Container, apply_configuration
from revsync.config import Settings
from tests.conftest import issue_key, make_settings
from tests.support.clock import FrozenClock, utc
from tests.support.events import encode, event

BATCH = {"Content-Type": "application/cloudevents-batch+json"}
METERED: dict[str, Any] = {
    "code": "metered",
    "name": "Metered",
    "currency": "EUR",
    "interval": "month",
    "charges": [
        {
            "key": "platform",
            "model": "flat",
            "description": "Platform fee",
            "timing": "in_advance",
            "amount": "20.00",
        },
        {
            "key": "calls",
            "model": "per_unit",
            "description": "API calls",
            "meter": "api_calls",
            "amount": "0.002",
        },
    ],
}
TIERED = {
    "key": "calls",
    "model": "graduated",
    "description": "API calls",
    "meter": "api_calls",
    "tiers": [{"up_to": "500", "unit_amount": "0"}, {"up_to": None, "unit_amount": "0.003"}],
}
OCTOBER = {"from": "2026-10-01", "to": "2026-10-31"}


@pytest.fixture
def db_url(any_db_url: str) -> str:
    return any_db_url


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url, plans=[METERED], billing={"grace_period_hours": 0})


@pytest.fixture
def billed(api: TestClient, container: Container, clock: FrozenClock) -> dict[str, str]:
    """October billed on version 1, version 2 put; an admin key."""
    apply_configuration(container, "test")
    admin = issue_key(container, "admin")
    clock.set(utc(2026, 10, 20, 12))
    for cid, calls in (("acme", 1200), ("globex", 200)):
        customer = {"name": cid.title(), "currency": "EUR", "external_refs": {"product": [cid]}}
        assert api.put(f"/v1/customers/{cid}", json=customer, headers=admin).status_code == 201
        sub = {"customer_id": cid, "plan": "metered", "start": "2026-10-01"}
        assert api.put(f"/v1/subscriptions/s-{cid}", json=sub, headers=admin).status_code == 201
        batch = [
            event(f"{cid}-{n}", subject=cid, time="2026-10-20T11:00:00Z", type="api.request")
            for n in range(calls)
        ]
        sent = api.post("/v1/events", content=encode(batch), headers={**admin, **BATCH})
        assert sent.json()["accepted"] == calls
    clock.set(utc(2026, 11, 4, 0))
    assert api.post("/v1/billing-runs", json={"as_of": "2026-11-04"}, headers=admin).is_success
    version_2 = {k: v for k, v in METERED.items() if k != "code"}
    version_2["charges"] = [METERED["charges"][0], TIERED]
    assert api.put("/v1/plans/metered", json=version_2, headers=admin).status_code == 201
    return admin


def test_a_reader_gets_the_report_per_customer_and_line(
    api: TestClient, container: Container, billed: dict[str, str]
) -> None:
    reader = issue_key(container, "read")
    before = api.get("/v1/invoices", params={"limit": 500}, headers=billed).json()
    answer = api.post("/v1/rerates", json={"plan": "metered@2", **OCTOBER}, headers=reader)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert {k: report[k] for k in ("plan", "stored", "replaces", "from", "to", "currency")} == {
        "plan": "metered@2",
        "stored": True,
        "replaces": "metered",
        "from": "2026-10-01",
        "to": "2026-10-31",
        "currency": "EUR",
    }
    assert report["tax"] == "excluded"
    # acme: 1,200 × 0.002 = 2.40 issued; 500 free + 700 × 0.003 = 2.10 re-rated
    # globex: 200 × 0.002 = 0.40 issued; 0.00 re-rated
    acme, globex = report["customers"]
    assert [(p["kind"], p["issued"], p["rerated"], p["difference"]) for p in acme["periods"]] == [
        ("advance", "20.00", "20.00", "0.00"),
        ("arrears", "2.40", "2.10", "-0.30"),
    ]
    assert [
        (x["key"], x["issued_quantity"], x["issued"], x["rerated_quantity"], x["rerated"])
        for x in acme["periods"][1]["lines"]
    ] == [
        ("usage:calls:2026-10-01", "1200", "2.40", "0", "0.00"),
        ("usage:calls:2026-10-01:tier-1", "0", "0.00", "500", "0.00"),
        ("usage:calls:2026-10-01:tier-2", "0", "0.00", "700", "2.10"),
    ]
    assert {k: acme[k] for k in ("issued", "rerated", "difference", "difference_percent")} == {
        "issued": "22.40",
        "rerated": "22.10",
        "difference": "-0.30",
        "difference_percent": "-1.34",  # -0.30 / 22.40 = -1.339 %
    }
    assert (globex["issued"], globex["rerated"], globex["difference_percent"]) == (
        "20.40",
        "20.00",
        "-1.96",  # -0.40 / 20.40
    )
    assert report["totals"] == {
        "customers": 2,
        "periods": 4,
        "issued": "42.80",
        "rerated": "42.10",
        "difference": "-0.70",
        "difference_percent": "-1.64",  # -0.70 / 42.80 = -1.636 %
    }
    assert [c["customer_id"] for c in report["top"]["by_amount"]] == ["globex", "acme"]
    assert [c["customer_id"] for c in report["top"]["by_percent"]] == ["globex", "acme"]
    # totals only, on asking; nothing was written
    brief = api.post(
        "/v1/rerates", json={"plan": "metered@2", **OCTOBER, "detail": False}, headers=reader
    ).json()
    assert brief["customers"] == [
        {k: v for k, v in customer.items() if k != "periods"} for customer in (acme, globex)
    ]
    assert api.get("/v1/invoices", params={"limit": 500}, headers=billed).json() == before


def test_a_plan_not_stored_is_given_whole(api: TestClient, billed: dict[str, str]) -> None:
    candidate = {**METERED, "charges": [{**METERED["charges"][0], "amount": "25.00"}]}
    answer = api.post(
        "/v1/rerates", json={"plan": candidate, **OCTOBER, "customers": ["acme"]}, headers=billed
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["plan"], report["stored"]) == ("metered@3", False)  # as it would be stored
    # the fee up 5.00, the calls no longer priced: 25.00 against 22.40
    assert report["totals"]["difference"] == "2.60"
    assert [p["code"] for p in api.get("/v1/plans", headers=billed).json()["items"]] == ["metered"]
    assert api.get("/v1/plans/metered", headers=billed).json()["version"] == 2


#: (body, the field named, words of the reason): played against one billed revsync (each a
#: refusal: nothing changes between them)
REFUSED: list[tuple[dict[str, Any], str, str]] = [
    ({"plan": "metered", "from": "2026-11-01", "to": "2026-10-01"}, "to", "before from"),
    ({"plan": "metered", "from": "1 Oct", "to": "2026-10-31"}, "from", "not a date"),
    ({"plan": "metered", "from": "2026-10-01"}, "to", "required"),
    ({**OCTOBER}, "plan", "required"),
    ({"plan": 7, **OCTOBER}, "plan", "expected"),
    ({"plan": "metered@9", **OCTOBER}, "plan", "no plan 'metered@9'"),
    ({"plan": "Metered!", **OCTOBER}, "plan", "not a plan reference"),
    (
        {"plan": {**METERED, "charges": [{**METERED["charges"][1], "amount": "x"}]}, **OCTOBER},
        "plan.charges.0.amount",
        "",
    ),
    (
        {"plan": {**METERED, "charges": [{**METERED["charges"][1], "meter": "m"}]}, **OCTOBER},
        "plan.charges.0.meter",
        "no meter 'm' is declared",
    ),
    ({"plan": {**METERED, "currency": "USD"}, **OCTOBER}, "plan.currency", "billed in EUR"),
    ({"plan": "metered", **OCTOBER, "customers": ["acme", "nobody"]}, "customers.1", "nobody"),
    ({"plan": "metered", **OCTOBER, "customers": "acme"}, "customers", "a list"),
    ({"plan": "metered", **OCTOBER, "customers": [""]}, "customers.0", "customer id"),
    ({"plan": "metered", **OCTOBER, "customers": ["x" * 201]}, "customers.0", "longer"),
    ({"plan": "metered", **OCTOBER, "customers": ["a"] * 10_001}, "customers", "at most"),
    ({"plan": "metered", **OCTOBER, "replaces": "gold"}, "replaces", "no plan 'gold'"),
    ({"plan": "metered", **OCTOBER, "top": True}, "top", "whole number"),
    ({"plan": "metered", **OCTOBER, "top": 10**30}, "top", "from 0 to 1000"),
    ({"plan": "metered", **OCTOBER, "detail": "no"}, "detail", "true or false"),
    ({"plan": "metered", **OCTOBER, "colour": "red"}, "colour", "unknown field"),
]


def test_a_refused_field_is_a_422_naming_it(api: TestClient, billed: dict[str, str]) -> None:
    for body, field, words in REFUSED:
        answer = api.post("/v1/rerates", json=body, headers=billed)
        assert answer.status_code == 422, (str(body)[:200], answer.text)
        error = answer.json()["error"]
        assert (error["field"], words in error["message"]) == (field, True), (
            str(body)[:200],
            error,
        )


def test_what_is_not_json_or_too_large_is_refused(api: TestClient, billed: dict[str, str]) -> None:
    assert api.post("/v1/rerates", content=b"{", headers=billed).status_code == 400
    assert api.post("/v1/rerates", content=b"[]", headers=billed).status_code == 400
    huge = b'{"plan": "' + b"m" * (1024 * 1024) + b'"}'
    assert api.post("/v1/rerates", content=huge, headers=billed).status_code == 413


def test_a_limited_key_rerates_its_own_customers_only(
    api: TestClient, container: Container, billed: dict[str, str]
) -> None:
    body = {"name": "acme's", "roles": ["read"], "customers": ["acme"]}
    created = api.post("/v1/api-keys", json=body, headers=billed).json()
    partner = {"Authorization": f"Bearer {created['key']}"}
    mine = api.post("/v1/rerates", json={"plan": "metered@2", **OCTOBER}, headers=partner)
    assert mine.status_code == 200, mine.text
    assert [c["customer_id"] for c in mine.json()["customers"]] == ["acme"]
    theirs = {"plan": "metered@2", **OCTOBER, "customers": ["globex"]}
    refused = api.post("/v1/rerates", json=theirs, headers=partner)
    assert (refused.status_code, refused.json()["error"]["field"]) == (422, "customers.0")
    assert "no customer 'globex'" in refused.json()["error"]["message"]
    ingest_only = issue_key(container, "ingest")
    assert api.post("/v1/rerates", json=theirs, headers=ingest_only).status_code == 403
