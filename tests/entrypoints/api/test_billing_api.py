"""Billing over the API: plans, subscriptions and amendments, billing runs, invoices and their
lines' events, the upcoming invoice, voids and credit notes, prepaid credits, scopes — and two
billing runs at once.

The clock starts on 1 November 2026 and the tests move it. Acme is on Pro: 99.00 a month in
advance, API calls free up to 1,000 then 0.012 each.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from revsync.bootstrap import Container, apply_configuration
from revsync.config import Settings
from revsync.domain.invoicing import InvoiceKind, invoice_id
from revsync.domain.periods import Period
from tests.conftest import make_settings
from tests.scenarios.harness import PRO as SCENARIO_PRO
from tests.support.clock import FrozenClock, utc
from tests.support.events import encode, event

BATCH = {"Content-Type": "application/cloudevents-batch+json"}

#: the scenarios' plan as a request body (the code is in the path)
PRO: dict[str, Any] = {k: v for k, v in SCENARIO_PRO.items() if k != "code"}

NOV = Period(date(2026, 11, 1), date(2026, 12, 1))
DEC = Period(date(2026, 12, 1), date(2027, 1, 1))
NOV_ADVANCE = invoice_id("s1", NOV, InvoiceKind.ADVANCE)
NOV_ARREARS = invoice_id("s1", NOV, InvoiceKind.ARREARS)
DEC_ADVANCE = invoice_id("s1", DEC, InvoiceKind.ADVANCE)
TIER_2 = "usage:calls:2026-11-01:tier-2"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(utc(2026, 11, 1, 8))


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url, plans=[SCENARIO_PRO])


@pytest.fixture(autouse=True)
def configured(container: Container) -> None:
    """The configured plans are in the catalog (as ``revsync serve`` does at start)."""
    apply_configuration(container, "test")


def customer(api: TestClient, admin: dict[str, str], cid: str, currency: str = "EUR") -> None:
    body = {"name": cid.title(), "currency": currency, "external_refs": {"product": [f"t-{cid}"]}}
    response = api.put(f"/v1/customers/{cid}", json=body, headers=admin)
    assert response.status_code in (200, 201), response.text


def subscribe(api: TestClient, admin: dict[str, str], sid: str, cid: str, **fields: Any) -> Any:
    body = {"customer_id": cid, "plan": "pro", "start": "2026-11-01", **fields}
    return api.put(f"/v1/subscriptions/{sid}", json=body, headers=admin)


def calls(
    api: TestClient, ingest: dict[str, str], tenant: str, when: str, count: int, prefix: str
) -> None:
    """``count`` API calls at ``when``, posted in batches of 500."""
    for first in range(0, count, 500):
        batch = [
            event(f"{prefix}-{n}", subject=tenant, time=when, type="api.request")
            for n in range(first, min(count, first + 500))
        ]
        response = api.post("/v1/events", content=encode(batch), headers={**ingest, **BATCH})
        assert response.status_code == 200, response.text
        assert response.json()["accepted"] == len(batch)


def run(api: TestClient, admin: dict[str, str], as_of: str) -> dict[str, Any]:
    response = api.post("/v1/billing-runs", json={"as_of": as_of}, headers=admin)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def invoices(api: TestClient, key: dict[str, str], **params: str) -> list[dict[str, Any]]:
    response = api.get("/v1/invoices", params=params, headers=key)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def billed_november(
    api: TestClient, admin: dict[str, str], ingest: dict[str, str], clock: FrozenClock
) -> None:
    """Acme on Pro from 1 November, 1,250 calls on 20 November, billed on 4 December."""
    customer(api, admin, "acme")
    assert subscribe(api, admin, "s1", "acme").status_code == 201
    clock.set(utc(2026, 11, 20, 12))
    calls(api, ingest, "t-acme", "2026-11-20T11:00:00Z", 1250, "nov")
    clock.set(utc(2026, 12, 4, 0))
    run(api, admin, "2026-12-04")


# --- plans ------------------------------------------------------------------------------------


def test_put_plan_creates_versions(api: TestClient, admin: dict[str, str]) -> None:
    first = api.put("/v1/plans/team", json=PRO, headers=admin)
    assert first.status_code == 201, first.text
    assert (first.json()["code"], first.json()["version"]) == ("team", 1)
    same = api.put("/v1/plans/team", json=PRO, headers=admin)
    assert (same.status_code, same.json()["version"]) == (200, 1)
    dearer = {**PRO, "charges": [{**PRO["charges"][0], "amount": "109.00"}, PRO["charges"][1]]}
    changed = api.put("/v1/plans/team", json=dearer, headers=admin)
    assert (changed.status_code, changed.json()["version"]) == (201, 2)
    listed = api.get("/v1/plans", headers=admin).json()["items"]
    assert sorted((p["code"], p["version"]) for p in listed) == [("pro", 1), ("team", 2)]
    old = api.get("/v1/plans/team", params={"version": 1}, headers=admin).json()
    assert old["charges"][0]["amount"] == "99.00"
    # money is a decimal string on the wire
    assert '"amount":"109.00"' in api.get("/v1/plans/team", headers=admin).text


def test_a_json_number_amount_is_read_exactly_as_written(
    api: TestClient, admin: dict[str, str]
) -> None:
    """JSON numbers in money fields are read from their text (never through a float): what
    the client wrote is what is stored, digit for digit."""
    body = (
        '{"name": "Team", "currency": "EUR", "interval": "month", "charges": [{"key": '
        '"platform", "model": "flat", "description": "Platform fee", "timing": "in_advance", '
        '"amount": 99.12345678901234567}]}'
    )
    response = api.put(
        "/v1/plans/team", content=body, headers={**admin, "Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert '"amount":"99.12345678901234567"' in response.text
    stored = api.get("/v1/plans/team", headers=admin).json()
    assert stored["charges"][0]["amount"] == "99.12345678901234567"


def test_an_amount_that_is_not_a_number_is_refused_naming_the_field(
    api: TestClient, admin: dict[str, str]
) -> None:
    charge = {**PRO["charges"][0], "amount": "ninety"}
    response = api.put("/v1/plans/team", json={**PRO, "charges": [charge]}, headers=admin)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "charges.0.amount"
    assert api.get("/v1/plans/team", headers=admin).status_code == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"code": "team",', "body: malformed JSON at line 1, column 17"),
        (b'{"code": "t\xe9am"}', "body: invalid UTF-8 at byte 11"),
        (b"[1, 2]", "body: expected a JSON object"),
    ],
    ids=["truncated", "latin-1", "array"],
)
def test_an_unreadable_body_is_400_in_revsyncs_words(
    api: TestClient, admin: dict[str, str], body: bytes, message: str
) -> None:
    response = api.put(
        "/v1/plans/team", content=body, headers={**admin, "Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("malformed_body", message)


def test_a_plan_on_an_undeclared_meter_is_refused(api: TestClient, admin: dict[str, str]) -> None:
    charge = {**PRO["charges"][1], "meter": "bananas"}
    response = api.put("/v1/plans/team", json={**PRO, "charges": [charge]}, headers=admin)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == "charges.0.meter"
    assert "bananas" in error["message"]


def test_a_percentage_charge_needs_a_sum_meter_and_reads_back(
    api: TestClient, admin: dict[str, str]
) -> None:
    cards = {
        "key": "cards",
        "model": "percentage",
        "description": "Card payments",
        "meter": "api_calls",
        "rate": "2.9",
        "fixed_amount": "0.30",
        "free_transactions": 2,
        "minimum": "10",
    }
    body = {**PRO, "charges": [cards], "minimum": "50", "minimum_includes_fees": True}
    refused = api.put("/v1/plans/pay", json=body, headers=admin)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["field"] == "charges.0.meter"
    assert "needs a sum meter" in error["message"] and "'api_calls' is count" in error["message"]
    tokens = {**body, "charges": [{**cards, "meter": "llm_tokens"}]}
    created = api.put("/v1/plans/pay", json=tokens, headers=admin)
    assert created.status_code == 201, created.text
    stored = api.get("/v1/plans/pay", headers=admin).json()
    assert stored["minimum_includes_fees"] is True
    assert {k: stored["charges"][0][k] for k in cards} == {**cards, "meter": "llm_tokens"}


def test_usage_billed_as_it_arrives_needs_a_price_and_a_meter_that_only_grow(
    api: TestClient, admin: dict[str, str]
) -> None:
    calls = {**PRO["charges"][1], "timing": "in_advance"}
    volume = {**calls, "model": "volume"}
    refused = api.put("/v1/plans/pay", json={**PRO, "charges": [volume]}, headers=admin)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["field"] == "charges.0.timing"
    assert "a volume price can fall" in refused.json()["error"]["message"]
    seats = {"key": "seats", "model": "per_unit", "description": "Seats", "amount": "1"}
    level = {**seats, "meter": "seats", "timing": "in_advance"}
    refused = api.put("/v1/plans/pay", json={**PRO, "charges": [level]}, headers=admin)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"] == {
        **refused.json()["error"],
        "field": "charges.0.timing",
        "message": "charges.0.timing: usage billed as it arrives needs a meter that only "
        "grows; 'seats' is a latest level that is not carried",
    }
    created = api.put("/v1/plans/pay", json={**PRO, "charges": [calls]}, headers=admin)
    assert created.status_code == 201, created.text
    stored = api.get("/v1/plans/pay", headers=admin).json()
    assert stored["charges"][0]["timing"] == "in_advance"


# --- subscriptions and amendments ------------------------------------------------------------


def test_put_subscription_is_idempotent_and_refuses_other_terms(
    api: TestClient, admin: dict[str, str]
) -> None:
    customer(api, admin, "acme")
    created = subscribe(api, admin, "s1", "acme", seats=2)
    assert created.status_code == 201, created.text
    assert created.json()["terms"] == [
        {
            "version": 1,
            "effective": "2026-11-01",
            "change": "created",
            "plan": "pro",
            "plan_version": 1,
            "seats": 2,
            "trial_end": None,
            "ends": None,
        }
    ]
    again = subscribe(api, admin, "s1", "acme", seats=2)
    assert (again.status_code, again.json()) == (200, created.json())
    other = subscribe(api, admin, "s1", "acme", seats=3)
    assert other.status_code == 409, other.text
    assert other.json()["error"]["code"] == "conflict"


def test_a_plan_in_another_currency_than_the_customer_is_refused(
    api: TestClient, admin: dict[str, str]
) -> None:
    customer(api, admin, "yankee", currency="USD")
    response = subscribe(api, admin, "s1", "yankee")
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "plan"
    assert api.get("/v1/subscriptions/s1", headers=admin).status_code == 404


def test_amendments_add_versions_of_the_terms(api: TestClient, admin: dict[str, str]) -> None:
    customer(api, admin, "acme")
    subscribe(api, admin, "s1", "acme")
    api.put("/v1/plans/pro-plus", json={**PRO, "name": "Pro Plus"}, headers=admin)
    upgraded = api.post(
        "/v1/subscriptions/s1/amendments",
        json={"change": "upgrade", "effective": "2026-11-16", "plan": "pro-plus"},
        headers=admin,
    )
    assert upgraded.status_code == 201, upgraded.text
    cancelled = api.post(
        "/v1/subscriptions/s1/amendments",
        json={"change": "cancel", "effective": "2026-11-20", "ends": "2026-12-01"},
        headers=admin,
    )
    assert cancelled.status_code == 201, cancelled.text
    terms = api.get("/v1/subscriptions/s1", headers=admin).json()["terms"]
    assert [(t["version"], t["effective"], t["change"], t["plan"], t["ends"]) for t in terms] == [
        (1, "2026-11-01", "created", "pro", None),
        (2, "2026-11-16", "upgrade", "pro-plus", None),
        (3, "2026-11-20", "cancel", "pro-plus", "2026-12-01"),
    ]
    unknown = api.post(
        "/v1/subscriptions/s1/amendments",
        json={"change": "teleport", "effective": "2026-11-21"},
        headers=admin,
    )
    assert (unknown.status_code, unknown.json()["error"]["field"]) == (422, "change")


def test_an_amendment_to_a_plan_of_another_interval_starts_a_new_calendar(
    api: TestClient, admin: dict[str, str], clock: FrozenClock
) -> None:
    customer(api, admin, "acme")
    subscribe(api, admin, "s1", "acme", start="2026-11-10")  # monthly, on the 10th
    annual = {**PRO, "name": "Annual", "interval": "year", "usage_interval": "month"}
    assert api.put("/v1/plans/annual", json=annual, headers=admin).status_code == 201
    upgraded = api.post(
        "/v1/subscriptions/s1/amendments",
        json={"change": "upgrade", "effective": "2026-11-25", "plan": "annual"},
        headers=admin,
    )
    assert upgraded.status_code == 201, upgraded.text
    body = api.get("/v1/subscriptions/s1", headers=admin).json()
    assert (body["anchor"], body["interval"], body["usage_interval"]) == (
        "2026-11-25",
        "year",
        "month",
    )
    assert body["calendars"] == [
        {
            "start": "2026-11-10",
            "anchor": "2026-11-10",
            "interval": "month",
            "usage_interval": "month",
        },
        {
            "start": "2026-11-25",
            "anchor": "2026-11-25",
            "interval": "year",
            "usage_interval": "month",
        },
    ]
    clock.set(utc(2026, 11, 25, 8))
    run(api, admin, "2026-11-25")
    # the new calendar's first year is invoiced: an interval change cannot reach back over it
    back = api.post(
        "/v1/subscriptions/s1/amendments",
        json={"change": "downgrade", "effective": "2026-11-20", "plan": "pro"},
        headers=admin,
    )
    assert (back.status_code, back.json()["error"]["field"]) == (422, "effective"), back.text


# --- billing runs and invoices ------------------------------------------------------------


def test_billing_runs_report_and_invoices_are_listed_by_filter(
    api: TestClient,
    admin: dict[str, str],
    reader: dict[str, str],
    ingest: dict[str, str],
    clock: FrozenClock,
) -> None:
    customer(api, admin, "acme")
    subscribe(api, admin, "s1", "acme")
    clock.set(utc(2026, 11, 1, 9))
    first = run(api, admin, "2026-11-01")
    assert set(first) == {
        "id",
        "as_of",
        "created",
        "updated",
        "unchanged",
        "finalized",
        "adjusted",
        "errors",
    }
    assert (first["as_of"], first["created"], first["finalized"], first["errors"]) == (
        "2026-11-01",
        [NOV_ADVANCE],
        [],
        [],
    )
    assert [i["id"] for i in invoices(api, reader, status="draft")] == [NOV_ADVANCE]
    clock.set(utc(2026, 11, 20, 12))
    calls(api, ingest, "t-acme", "2026-11-20T11:00:00Z", 1250, "nov")
    clock.set(utc(2026, 12, 4, 0))
    second = run(api, admin, "2026-12-04")
    assert sorted(second["created"]) == sorted([NOV_ARREARS, DEC_ADVANCE])
    # finalized in (issue date, customer, kind) order: the numbers follow it
    assert second["finalized"] == [NOV_ADVANCE, DEC_ADVANCE, NOV_ARREARS]
    assert (second["updated"], second["unchanged"], second["adjusted"]) == ([], 1, [])
    numbers = {i["id"]: i["number"] for i in invoices(api, reader, customer="acme")}
    assert numbers == {
        NOV_ADVANCE: "INV-000001",
        DEC_ADVANCE: "INV-000002",
        NOV_ARREARS: "INV-000003",
    }
    assert invoices(api, reader, status="draft") == []
    assert {i["id"] for i in invoices(api, reader, status="finalized")} == set(numbers)
    november = invoices(api, reader, period="2026-11-01")
    assert sorted((i["kind"], i["number"]) for i in november) == [
        ("advance", "INV-000001"),
        ("arrears", "INV-000003"),
    ]
    assert invoices(api, reader, customer="nobody") == []
    assert invoices(api, reader, customer="acme", period="2026-12-01", kind="advance") == [
        api.get(f"/v1/invoices/{DEC_ADVANCE}", headers=reader).json()
    ]


def test_an_invoice_carries_money_as_decimal_strings(
    api: TestClient,
    admin: dict[str, str],
    reader: dict[str, str],
    ingest: dict[str, str],
    clock: FrozenClock,
) -> None:
    billed_november(api, admin, ingest, clock)
    response = api.get(f"/v1/invoices/{NOV_ARREARS}", headers=reader)
    assert response.status_code == 200
    text = response.text
    assert '"amount":"3.00"' in text
    assert '"unit_amount":"0.012"' in text
    assert '"quantity":"250"' in text
    assert '"total":"3.00"' in text
    body = response.json()
    assert (body["number"], body["document"], body["status"], body["kind"]) == (
        "INV-000003",
        "invoice",
        "finalized",
        "arrears",
    )
    assert body["period"] == {"start": "2026-11-01", "end": "2026-12-01"}
    assert [(x["key"], x["quantity"], x["unit_amount"], x["amount"]) for x in body["lines"]] == [
        ("usage:calls:2026-11-01:tier-1", "1000", "0", "0.00"),
        (TIER_2, "250", "0.012", "3.00"),
    ]
    assert body["totals"] == {
        "subtotal": "3.00",
        "discount": "0.00",
        "tax": "0.00",
        "total": "3.00",
        "credits": "0.00",
        "amount_due": "3.00",
    }
    assert '"amount":"99.00"' in api.get(f"/v1/invoices/{NOV_ADVANCE}", headers=reader).text
    assert api.get("/v1/invoices/inv_nope", headers=reader).status_code == 404


def test_the_events_behind_a_usage_line(
    api: TestClient,
    admin: dict[str, str],
    reader: dict[str, str],
    ingest: dict[str, str],
    clock: FrozenClock,
) -> None:
    billed_november(api, admin, ingest, clock)
    url = f"/v1/invoices/{NOV_ARREARS}/lines/{TIER_2}/events"
    first = api.get(url, params={"limit": 1000}, headers=reader)
    assert first.status_code == 200, first.text
    page = first.json()
    assert page["lineage"]["meter"] == "api_calls"
    assert page["lineage"]["events"] == 1250
    assert page["lineage"]["customer_ids"] == ["acme"]
    assert len(page["items"]) == 1000
    assert page["items"][0]["time"] == "2026-11-20T11:00:00Z"
    rest = api.get(url, params={"limit": 1000, "cursor": page["next_cursor"]}, headers=reader)
    last = rest.json()
    assert (len(last["items"]), last["next_cursor"]) == (250, None)
    ids = {e["id"] for e in page["items"] + last["items"]}
    assert ids == {f"nov-{n}" for n in range(1250)}
    # a fee line has no events behind it; an unknown line is not found
    fee = api.get(f"/v1/invoices/{NOV_ADVANCE}/lines/fee:platform/events", headers=reader)
    assert fee.status_code == 422
    missing = api.get(f"/v1/invoices/{NOV_ARREARS}/lines/nope/events", headers=reader)
    assert missing.status_code == 404


def test_the_upcoming_invoice_rates_the_open_period_and_stores_nothing(
    api: TestClient,
    admin: dict[str, str],
    reader: dict[str, str],
    ingest: dict[str, str],
    clock: FrozenClock,
) -> None:
    billed_november(api, admin, ingest, clock)
    clock.set(utc(2026, 12, 15, 12))
    calls(api, ingest, "t-acme", "2026-12-10T10:00:00Z", 1100, "dec")
    before = invoices(api, reader)
    response = api.get("/v1/customers/acme/upcoming-invoice", headers=reader)
    assert response.status_code == 200, response.text
    [upcoming] = response.json()["items"]
    assert (upcoming["kind"], upcoming["status"], upcoming["number"]) == ("arrears", "draft", None)
    assert upcoming["period"] == {"start": "2026-12-01", "end": "2027-01-01"}
    assert [(x["key"], x["quantity"], x["amount"]) for x in upcoming["lines"]] == [
        ("usage:calls:2026-12-01:tier-1", "1000", "0.00"),
        ("usage:calls:2026-12-01:tier-2", "100", "1.20"),
    ]
    assert upcoming["totals"]["total"] == "1.20"
    assert invoices(api, reader) == before
    assert api.get("/v1/customers/nobody/upcoming-invoice", headers=reader).status_code == 404


def test_a_final_invoice_with_a_negative_total_is_reported_as_a_credit_note(
    api: TestClient, admin: dict[str, str], reader: dict[str, str], clock: FrozenClock
) -> None:
    customer(api, admin, "acme")
    subscribe(api, admin, "s1", "acme")
    clock.set(utc(2026, 11, 14, 9))
    cancel = {"change": "cancel", "effective": "2026-11-16"}
    assert (
        api.post("/v1/subscriptions/s1/amendments", json=cancel, headers=admin).status_code == 201
    )
    clock.set(utc(2026, 11, 19, 0))
    report = run(api, admin, "2026-11-19")
    assert report["finalized"] == [NOV_ADVANCE, NOV_ARREARS]
    final = api.get(f"/v1/invoices/{NOV_ARREARS}", headers=reader).json()
    assert (final["kind"], final["document"], final["number"], final["issue_date"]) == (
        "arrears",
        "credit_note",
        "CN-000001",
        "2026-11-16",
    )
    # 15 unused days of 30: 99.00 / 2
    assert [(x["key"], x["amount"]) for x in final["lines"]] == [
        ("usage:calls:2026-11-01:tier-1", "0.00"),
        ("proration:2026-11-16:v1:platform", "-49.50"),
    ]
    assert (final["totals"]["total"], final["totals"]["amount_due"]) == ("-49.50", "-49.50")


# --- voids, credit notes, prepaid credit ---------------------------------------------------


def test_void_and_partial_credit_notes(
    api: TestClient,
    admin: dict[str, str],
    reader: dict[str, str],
    ingest: dict[str, str],
    clock: FrozenClock,
) -> None:
    billed_november(api, admin, ingest, clock)
    voided = api.post(f"/v1/invoices/{NOV_ADVANCE}/void", json={"reason": "dup"}, headers=admin)
    assert voided.status_code == 201, voided.text
    note = voided.json()
    assert (note["kind"], note["document"], note["number"], note["credits_invoice"]) == (
        "credit_note",
        "credit_note",
        "CN-000001",
        NOV_ADVANCE,
    )
    assert [(x["key"], x["amount"]) for x in note["lines"]] == [("credit:fee:platform", "-99.00")]
    assert note["totals"]["total"] == "-99.00"
    assert api.get(f"/v1/invoices/{NOV_ADVANCE}", headers=reader).json()["status"] == "void"
    again = api.post(f"/v1/invoices/{NOV_ADVANCE}/void", json={"reason": "dup"}, headers=admin)
    assert again.status_code == 422

    partial = api.post(
        f"/v1/invoices/{NOV_ARREARS}/credit-notes",
        json={"lines": {TIER_2: "1.00"}, "reason": "goodwill"},
        headers=admin,
    )
    assert partial.status_code == 201, partial.text
    credit = partial.json()
    assert (credit["number"], credit["credits_invoice"]) == ("CN-000002", NOV_ARREARS)
    assert [(x["key"], x["quantity"], x["unit_amount"], x["amount"]) for x in credit["lines"]] == [
        (f"credit:{TIER_2}", "1", "-1.00", "-1.00")
    ]
    assert credit["totals"]["total"] == "-1.00"
    assert api.get(f"/v1/invoices/{NOV_ARREARS}", headers=reader).json()["status"] == "finalized"
    too_much = api.post(
        f"/v1/invoices/{NOV_ARREARS}/credit-notes",
        json={"lines": {TIER_2: "3.01"}, "reason": "oops"},
        headers=admin,
    )
    assert too_much.status_code == 422
    credit_notes = invoices(api, reader, kind="credit_note")
    assert sorted(i["number"] for i in credit_notes) == ["CN-000001", "CN-000002"]


def test_prepaid_credit_is_granted_listed_and_used_at_finalization(
    api: TestClient, admin: dict[str, str], reader: dict[str, str], clock: FrozenClock
) -> None:
    customer(api, admin, "acme")
    subscribe(api, admin, "s1", "acme")
    granted = api.post(
        "/v1/customers/acme/credits",
        json={"amount": "120.00", "currency": "EUR", "reason": "prepaid"},
        headers=admin,
    )
    assert granted.status_code == 201, granted.text
    grant = granted.json()
    assert (grant["remaining"], grant["currency"], grant["expires_on"]) == ("120.00", "EUR", None)
    wallet = api.get("/v1/customers/acme/credits", headers=reader).json()
    assert wallet["balances"] == {"EUR": "120.00"}
    clock.set(utc(2026, 12, 4, 0))
    run(api, admin, "2026-12-04")
    # November's advance (99.00) takes 99.00, December's the 21.00 left; the arrears
    # invoice (0.00) takes nothing
    nov = api.get(f"/v1/invoices/{NOV_ADVANCE}", headers=reader).json()["totals"]
    dec = api.get(f"/v1/invoices/{DEC_ADVANCE}", headers=reader).json()["totals"]
    assert (nov["credits"], nov["amount_due"]) == ("99.00", "0.00")
    assert (dec["credits"], dec["amount_due"]) == ("21.00", "78.00")
    wallet = api.get("/v1/customers/acme/credits", headers=reader).json()
    assert wallet["balances"] == {"EUR": "0.00"}
    assert [g["remaining"] for g in wallet["grants"]] == ["0.00"]
    # voiding (a POST without a body) gives the credit back
    assert api.post(f"/v1/invoices/{NOV_ADVANCE}/void", headers=admin).status_code == 201
    assert api.get("/v1/customers/acme/credits", headers=reader).json()["balances"] == {
        "EUR": "99.00"
    }
    # more decimals than the currency has
    refused = api.post(
        "/v1/customers/acme/credits", json={"amount": "5.555", "currency": "EUR"}, headers=admin
    )
    assert (refused.status_code, refused.json()["error"]["field"]) == (422, "amount")


# --- coupons and credits limited to plans and meters -----------------------------------------


def test_a_limited_coupon_and_grant_are_stored_and_shown_with_their_scope(
    api: TestClient,
    admin: dict[str, str],
    reader: dict[str, str],
    ingest: dict[str, str],
    clock: FrozenClock,
) -> None:
    customer(api, admin, "acme")
    coupon = {
        "percent_off": "20",
        "duration": "forever",
        "applies_to": {"meters": ["api_calls"], "plans": ["pro"]},
    }
    stored = api.put("/v1/coupons/calls20", json=coupon, headers=admin)
    assert stored.status_code == 200, stored.text
    assert stored.json()["applies_to"] == {"plans": ["pro"], "meters": ["api_calls"]}
    plain = api.put("/v1/coupons/all10", json={"percent_off": "10"}, headers=admin).json()
    assert "applies_to" not in plain  # left out: the whole invoice
    granted = api.post(
        "/v1/customers/acme/credits",
        json={"amount": "5.00", "currency": "EUR", "applies_to": {"meters": ["api_calls"]}},
        headers=admin,
    )
    assert granted.status_code == 201, granted.text
    assert granted.json()["applies_to"] == {"meters": ["api_calls"]}
    unlimited = api.post(
        "/v1/customers/acme/credits", json={"amount": "7.00", "currency": "EUR"}, headers=admin
    ).json()
    assert unlimited["applies_to"] is None
    wallet = api.get("/v1/customers/acme/credits", headers=reader).json()
    assert wallet["balances"] == {"EUR": "12.00"}
    assert sorted((g["remaining"], g["applies_to"]) for g in wallet["grants"]) == [
        ("5.00", {"meters": ["api_calls"]}),
        ("7.00", None),
    ]
    # Billed. The coupon names Pro and the calls: every line of this subscription is in its
    # scope. November's advance invoice: 99.00 − 19.80 = 79.20, of which the unlimited grant
    # pays 7.00 (the calls grant has nothing there). November's calls: 1,250 − 1,000 free =
    # 250 × 0.012 = 3.00, less 0.60: 2.40, paid by the calls grant.
    subscribe(api, admin, "s1", "acme", coupons=[{"code": "calls20", "start": "2026-11-01"}])
    clock.set(utc(2026, 11, 20, 12))
    calls(api, ingest, "t-acme", "2026-11-20T11:00:00Z", 1250, "nov")
    clock.set(utc(2026, 12, 4, 0))
    run(api, admin, "2026-12-04")
    advance = api.get(f"/v1/invoices/{NOV_ADVANCE}", headers=reader).json()
    assert [(x["key"], x["amount"]) for x in advance["lines"]] == [
        ("fee:platform", "99.00"),
        ("discount:calls20:standard", "-19.80"),
    ]
    assert (advance["totals"]["credits"], advance["totals"]["amount_due"]) == ("7.00", "72.20")
    arrears = api.get(f"/v1/invoices/{NOV_ARREARS}", headers=reader).json()
    assert [(x["key"], x["amount"]) for x in arrears["lines"]] == [
        ("usage:calls:2026-11-01:tier-1", "0.00"),
        (TIER_2, "3.00"),
        ("discount:calls20:standard", "-0.60"),
    ]
    assert (arrears["totals"]["credits"], arrears["totals"]["amount_due"]) == ("2.40", "0.00")
    wallet = api.get("/v1/customers/acme/credits", headers=reader).json()
    assert sorted((g["remaining"], g["applies_to"]) for g in wallet["grants"]) == [
        ("0.00", None),
        ("2.60", {"meters": ["api_calls"]}),
    ]


@pytest.mark.parametrize(
    ("scope", "field"),
    [
        ({"meters": ["api_calls", "nope"]}, "applies_to.meters.1"),
        ({"plans": ["enterprise"]}, "applies_to.plans.0"),
        ({"plans": ["pro"], "charges": ["platform"]}, "applies_to.charges"),
        ({}, "applies_to"),
        ({"meters": "api_calls"}, "applies_to.meters"),
        ({"meters": [12]}, "applies_to.meters.0"),
        ({"plans": ["pro", "pro"]}, "applies_to.plans.1"),
        ({"plans": ["p" * 65]}, "applies_to.plans.0"),
        ({"meters": [f"m{n}" for n in range(101)]}, "applies_to.meters"),
        ("api_calls", "applies_to"),
    ],
)
def test_a_scope_naming_what_does_not_exist_or_malformed_is_refused_naming_the_field(
    api: TestClient, admin: dict[str, str], reader: dict[str, str], scope: object, field: str
) -> None:
    customer(api, admin, "acme")
    coupon = api.put(
        "/v1/coupons/bad", json={"percent_off": "10", "applies_to": scope}, headers=admin
    )
    assert (coupon.status_code, coupon.json()["error"]["field"]) == (422, field), coupon.text
    grant = api.post(
        "/v1/customers/acme/credits",
        json={"amount": "5.00", "currency": "EUR", "applies_to": scope},
        headers=admin,
    )
    assert (grant.status_code, grant.json()["error"]["field"]) == (422, field), grant.text
    # nothing was stored
    assert api.get("/v1/customers/acme/credits", headers=reader).json()["grants"] == []
    assert (
        api.put(
            "/v1/subscriptions/s1",
            json={
                "customer_id": "acme",
                "plan": "pro",
                "start": "2026-11-01",
                "coupons": [{"code": "bad", "start": "2026-11-01"}],
            },
            headers=admin,
        ).status_code
        == 422
    )


# --- scopes ----------------------------------------------------------------------------------

WRITES = [
    ("put", "/v1/plans/team", PRO),
    ("put", "/v1/coupons/spring", {"percent_off": "10", "duration": "once"}),
    ("put", "/v1/subscriptions/s2", {"customer_id": "acme", "plan": "pro", "start": "2026-11-01"}),
    ("post", "/v1/subscriptions/s1/amendments", {"change": "cancel", "effective": "2026-11-20"}),
    ("post", "/v1/subscriptions/s1/coupons", {"code": "spring", "start": "2026-11-01"}),
    ("post", "/v1/billing-runs", {"as_of": "2026-11-01"}),
    ("post", f"/v1/invoices/{NOV_ADVANCE}/void", {"reason": "x"}),
    ("post", f"/v1/invoices/{NOV_ADVANCE}/credit-notes", {"lines": {"fee:platform": "1.00"}}),
    ("post", "/v1/customers/acme/credits", {"amount": "10.00", "currency": "EUR"}),
    ("put", "/v1/customers/acme", {"name": "Acme", "currency": "USD"}),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=[w[1] for w in WRITES])
def test_every_billing_write_refuses_a_read_only_key(
    api: TestClient,
    admin: dict[str, str],
    reader: dict[str, str],
    method: str,
    path: str,
    body: dict[str, Any],
) -> None:
    customer(api, admin, "acme")
    subscribe(api, admin, "s1", "acme")
    response = api.request(method, path, json=body, headers=reader)
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "forbidden"
    assert invoices(api, reader) == []
    assert len(api.get("/v1/subscriptions/s1", headers=reader).json()["terms"]) == 1
    assert api.get("/v1/customers/acme/credits", headers=reader).json()["grants"] == []
