"""Real answers match the document: one customer's month, from the plan to the credit note,
every answer checked against the schema its operation documents for its status (money as
decimal strings, fields left out when they have no value).

The clock starts on 1 November 2026. Acme is on Pro (99.00 a month in advance, API calls free
up to 1,000 then 0.012 each) with a coupon, and on an annual plan billed in advance.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator, FormatChecker

from revsync.bootstrap import Container, apply_configuration
from revsync.config import Settings
from revsync.domain.delivery import CaseKind
from revsync.entrypoints.api.app import create_app
from revsync.ports.delivery import CaseFilter
from revsync.sandbox.faults import Fault, FaultServer
from tests.conftest import make_settings
from tests.scenarios.harness import PRO
from tests.support.clock import FrozenClock, utc
from tests.support.delivery import deliver_until, destination, outbox_settings
from tests.support.events import encode, event

BATCH = {"Content-Type": "application/cloudevents-batch+json"}
ANNUAL = {
    "name": "Annual support",
    "currency": "EUR",
    "interval": "year",
    "charges": [
        {
            "key": "support",
            "model": "flat",
            "description": "Support, a year ahead",
            "timing": "in_advance",
            "amount": "1200.00",
        }
    ],
}


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(utc(2026, 11, 1, 8))


@pytest.fixture
def target() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


@pytest.fixture
def settings(db_url: str, target: FaultServer) -> Settings:
    entitled = {
        **PRO,
        "features": [
            {"key": "sso", "kind": "boolean"},
            {"key": "api_calls", "kind": "quota", "meter": "api_calls", "limit": "1000"},
            {"key": "seats", "kind": "seats"},
        ],
    }
    return make_settings(db_url, plans=[entitled], **outbox_settings(destination(target)))


@pytest.fixture(autouse=True)
def configured(container: Container) -> None:
    apply_configuration(container, "test")


class Checked:
    """Calls the API and checks each answer against the document."""

    def __init__(self, api: TestClient, document: dict[str, Any], key: dict[str, str]) -> None:
        self.api = api
        self.document = document
        self.key = key
        self.seen: set[tuple[str, str, int]] = set()

    def __call__(self, method: str, template: str, status: int, **kwargs: Any) -> Any:
        values = kwargs.pop("path", {})
        url = re.sub(r"{(\w+)}", lambda m: str(values[m.group(1)]), template)
        headers = {**self.key, **kwargs.pop("headers", {})}
        answer = self.api.request(method, url, headers=headers, **kwargs)
        assert answer.status_code == status, (method, url, answer.text)
        operation = self.document["paths"][template][method.lower()]
        documented = operation["responses"][str(status)]
        media = answer.headers["content-type"].split(";")[0]
        content = next(c for m, c in documented["content"].items() if m.startswith(media))
        self.seen.add((method, template, status))
        if media != "application/json":
            return answer.text
        schema = {**content["schema"], "components": self.document["components"]}
        validator = Draft202012Validator(schema, format_checker=FormatChecker())
        broken = [
            f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(answer.json())
        ]
        assert broken == [], (method, url, answer.text)
        return answer.json()


def test_every_answer_of_a_billed_month_matches_the_document(
    container: Container, admin: dict[str, str], clock: FrozenClock, target: FaultServer
) -> None:
    app = create_app(container)
    with TestClient(app) as api:
        call = Checked(api, app.openapi(), admin)
        the_month(call, clock, container)
        # the books refuse the first invoice: a delivery case, with its message and attempt
        target.script(Fault("422"))
        deliver_until(container, lambda: bool(container.cases.find(delivery, after=None, limit=1)))
        operators(call)
        # the KPIs, before the job measured (nulls) and after
        assert call("GET", "/v1/operations/kpis", 200)["unbilled_usage"]["events"] is None
        container.kpis.measure()
        kpis = call("GET", "/v1/operations/kpis", 200)
        assert kpis["unbilled_usage"]["amount"] and kpis["sync_completeness"]
        # no support tool here: its webhook is off (tests/e2e/test_support_webhook.py has it on)
        call("POST", "/v1/support/webhook", 404, content=b"{}", headers={"Authorization": ""})
    documented = {
        (method.upper(), path) for path, ops in app.openapi()["paths"].items() for method in ops
    }
    assert documented - {(m, p) for m, p, _ in call.seen} == set()


def the_month(call: Checked, clock: FrozenClock, container: Container) -> None:
    """Every operation, with answers that carry data."""
    # public and operations
    call("GET", "/healthz", 200)
    call("GET", "/readyz", 200)
    issued = call("POST", "/v1/api-keys", 201, json={"name": "reader", "roles": ["read"]})
    call("GET", "/v1/api-keys", 200)
    call("DELETE", "/v1/api-keys/{key_id}", 200, path={"key_id": issued["id"]})
    # the catalogue
    call("PUT", "/v1/plans/{code}", 201, path={"code": "annual"}, json=ANNUAL)
    call("PUT", "/v1/plans/{code}", 200, path={"code": "annual"}, json=ANNUAL)
    call("GET", "/v1/plans", 200)
    plan = call("GET", "/v1/plans/{code}", 200, path={"code": "pro"}, params={"version": 1})
    assert plan["charges"][1]["tiers"][1] == {
        "up_to": None,
        "unit_amount": "0.012",
        "flat_amount": "0",
    }
    coupon = {"description": "Launch", "percent_off": 10, "duration": "repeating", "periods": 2}
    assert (
        call("PUT", "/v1/coupons/{code}", 200, path={"code": "launch"}, json=coupon)["percent_off"]
        == "10"
    )
    limited = {"percent_off": "5", "applies_to": {"meters": ["api_calls"]}}
    calls_only = call("PUT", "/v1/coupons/{code}", 200, path={"code": "calls"}, json=limited)
    assert calls_only["applies_to"] == {"meters": ["api_calls"]}
    # customers and subscriptions
    acme = {"name": "Acme", "currency": "EUR", "external_refs": {"product": ["t-acme"]}}
    call("PUT", "/v1/customers/{customer_id}", 201, path={"customer_id": "acme"}, json=acme)
    call("PUT", "/v1/customers/{customer_id}", 200, path={"customer_id": "acme"}, json=acme)
    call("GET", "/v1/customers/{customer_id}", 200, path={"customer_id": "acme"})
    call("GET", "/v1/customers", 200, params={"external_ref": "product:t-acme"})
    sub = {"customer_id": "acme", "plan": "pro", "start": "2026-11-01", "seats": 2}
    s1 = {"subscription_id": "s1"}
    call("PUT", "/v1/subscriptions/{subscription_id}", 201, path=s1, json=sub)
    call("PUT", "/v1/subscriptions/{subscription_id}", 200, path=s1, json=sub)
    annual = {"customer_id": "acme", "plan": "annual", "start": "2026-11-01"}
    call(
        "PUT",
        "/v1/subscriptions/{subscription_id}",
        201,
        path={"subscription_id": "s2"},
        json=annual,
    )
    coupon_use = {"code": "launch", "start": "2026-11-01"}
    call("POST", "/v1/subscriptions/{subscription_id}/coupons", 201, path=s1, json=coupon_use)
    seats = {"change": "seat_change", "effective": "2026-11-16", "seats": 3}
    call("POST", "/v1/subscriptions/{subscription_id}/amendments", 201, path=s1, json=seats)
    assert len(call("GET", "/v1/subscriptions/{subscription_id}", 200, path=s1)["terms"]) == 2
    alert = {
        "thresholds": [{"key": "calls-1k", "kind": "usage", "meter": "api_calls", "value": 1000}]
    }
    thresholds = "/v1/subscriptions/{subscription_id}/thresholds"
    assert call("PUT", thresholds, 200, path=s1, json=alert)["thresholds"][0]["value"] == "1000"
    # usage
    clock.set(utc(2026, 11, 20, 12))
    batch = [
        event(f"c-{n}", subject="t-acme", time="2026-11-20T11:00:00Z", type="api.request")
        for n in range(1100)
    ]
    batch.append(event("stray", subject="t-nobody", time="2026-11-20T11:00:00Z"))
    report = call("POST", "/v1/events", 200, content=encode([*batch, {"id": 1}]), headers=BATCH)
    assert (report["accepted"], len(report["rejected"])) == (1101, 1)
    usage = {"meter": "api_calls", "window": "day", "group_by": "endpoint"}
    call(
        "GET", "/v1/customers/{customer_id}/usage", 200, path={"customer_id": "acme"}, params=usage
    )
    call("GET", "/v1/usage/unmapped", 200)
    assert [c.threshold_key for c in container.thresholds.sweep().crossings] == ["calls-1k"]
    [reached] = call("GET", "/v1/alerts", 200, params={"customer_id": "acme"})["items"]
    assert (reached["threshold"], reached["observed"]) == ("calls-1k", "1100")
    call("GET", "/v1/dead-letters", 200)
    # the schema registry
    seats_v1 = {"event_type": "seats.changed", "version": 1}
    declared = {"schema": {"type": "object", "properties": {"seats": {"type": "integer"}}}}
    versions = "/v1/schemas/{event_type}/versions/{version}"
    call("PUT", versions, 201, path=seats_v1, json=declared)
    call("PUT", versions, 200, path=seats_v1, json=declared)
    call("GET", "/v1/schemas", 200)
    call("GET", versions, 200, path=seats_v1)
    call("POST", "/v1/schemas/quarantine/release", 200)
    correction = {"reason": "twice", "void": [{"source": batch[0]["source"], "id": "c-0"}]}
    assert call("POST", "/v1/usage/corrections", 201, json=correction)["added"] is None
    correction = {"reason": "added", "add": [event("fix-1", subject="t-acme")]}
    assert call("POST", "/v1/usage/corrections", 201, json=correction)["added"]["accepted"] == 1
    # billing
    acme_id = {"customer_id": "acme"}
    grant = {"amount": "20.00", "currency": "EUR", "expires_on": "2027-06-01", "reason": "gift"}
    call("POST", "/v1/customers/{customer_id}/credits", 201, path=acme_id, json=grant)
    pro_only = {"amount": "5.00", "currency": "EUR", "applies_to": {"plans": ["pro"]}}
    call("POST", "/v1/customers/{customer_id}/credits", 201, path=acme_id, json=pro_only)
    call("GET", "/v1/customers/{customer_id}/upcoming-invoice", 200, path=acme_id)
    call("GET", "/v1/customers/{customer_id}/entitlements", 200, path=acme_id)
    for feature in ("sso", "api_calls", "seats", "none"):
        check = {"customer_id": "acme", "feature": feature}
        call("POST", "/v1/entitlements/check", 200, json=check)
    clock.set(utc(2026, 12, 4, 0))
    run = call("POST", "/v1/billing-runs", 201, json={"as_of": "2026-12-04"})
    assert run["finalized"]
    call("POST", "/v1/billing-runs", 201)  # no body: today
    # a shadow re-rate of November on Pro as billed: nothing moves
    rerate = {"plan": "pro@1", "from": "2026-11-01", "to": "2026-11-30", "customers": ["acme"]}
    rerated = call("POST", "/v1/rerates", 200, json=rerate)
    assert rerated["totals"]["difference"] == "0.00" and rerated["customers"][0]["periods"]
    call("POST", "/v1/rerates", 200, json={**rerate, "detail": False})
    call("POST", "/v1/rerates", 422, json={**rerate, "to": "2026-10-31"})
    # reconciliation: the billed usage lines against their events
    rec = call("POST", "/v1/reconciliations", 201, json={"checks": ["usage"]})
    assert rec["clean"] and rec["checked"]["usage"] > 0
    call("GET", "/v1/reconciliations", 200)
    call("GET", "/v1/reconciliations/{run_id}", 200, path={"run_id": rec["id"]})
    invoices = call("GET", "/v1/invoices", 200, params={"customer": "acme"})["items"]
    arrears = next(i for i in invoices if i["kind"] == "arrears" and i["subscription_id"] == "s1")
    advance = next(i for i in invoices if i["kind"] == "advance" and i["subscription_id"] == "s1")
    usage_line = next(x for x in arrears["lines"] if x["lineage"] and x["amount"] != "0.00")
    call("GET", "/v1/invoices/{invoice_id}", 200, path={"invoice_id": arrears["id"]})
    line = {"invoice_id": arrears["id"], "key": usage_line["key"]}
    events = call("GET", "/v1/invoices/{invoice_id}/lines/{key}/events", 200, path=line)
    assert events["lineage"]["events"] == usage_line["lineage"]["events"]
    credit = {"lines": {usage_line["key"]: "0.50"}, "reason": "goodwill"}
    ids = {"invoice_id": arrears["id"]}
    call("POST", "/v1/invoices/{invoice_id}/credit-notes", 201, path=ids, json=credit)
    call("POST", "/v1/invoices/{invoice_id}/void", 201, path={"invoice_id": advance["id"]})
    call("GET", "/v1/customers/{customer_id}/credits", 200, path=acme_id)
    deferred = call("GET", "/v1/reports/deferred-revenue", 200, params={"as_of": "2026-12-04"})
    assert deferred["customers"][0]["schedule"]
    assert call("GET", "/v1/collections", 200) == {"items": [], "next_cursor": None}
    assert call("GET", "/v1/renewals", 200, params={"within": "30d"})["within_days"] == 30


delivery = CaseFilter(kind=CaseKind.DELIVERY)


def operators(call: Checked) -> None:
    """Cases: a delivery case and the unmapped usage of a stray tenant."""
    [case] = call("GET", "/v1/cases", 200, params={"kind": "delivery"})["items"]
    one = {"case_id": case["id"]}
    shown = call("GET", "/v1/cases/{case_id}", 200, path=one)
    assert shown["message"]["payload"] and shown["attempts"][0]["status_code"] == 422
    call("POST", "/v1/cases/{case_id}/approve", 200, path=one, json={"reason": "checked"})
    call("POST", "/v1/cases/{case_id}/retry", 422, path=one)  # no longer open
    call("POST", "/v1/cases/replay", 200, json={"destination": "books", "reason": "again"})
    [stray] = call("GET", "/v1/cases", 200, params={"kind": "unmapped_usage"})["items"]
    stray_id = {"case_id": stray["id"]}
    call("POST", "/v1/cases/{case_id}/ignore", 200, path=stray_id, json={"reason": "test"})
    call("POST", "/v1/cases/{case_id}/resolve", 422, path=stray_id, json={"reason": "closed"})
    call("GET", "/v1/audit", 200)
    assert "revsync_" in call("GET", "/metrics", 200)
