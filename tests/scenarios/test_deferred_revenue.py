"""Deferred revenue: an annual fee billed in advance is recognised by day over the calendar
months of its service year; the report shows what is left as of a date, and a voided invoice
drops out of it."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from revsync.entrypoints.api.app import create_app
from tests.conftest import issue_key
from tests.scenarios.harness import World

ANNUAL = {
    "code": "annual",
    "name": "Annual",
    "currency": "EUR",
    "interval": "year",
    "charges": [
        {
            "key": "platform",
            "model": "flat",
            "description": "Annual fee",
            "timing": "in_advance",
            "amount": "1200.00",
        },
        {
            "key": "calls",
            "model": "per_unit",
            "description": "API calls",
            "meter": "api_calls",
            "amount": "0.01",
        },
    ],
}
MONTHLY = {
    "code": "monthly",
    "name": "Monthly",
    "currency": "EUR",
    "interval": "month",
    "charges": [
        {
            "key": "platform",
            "model": "flat",
            "description": "Fee",
            "timing": "in_advance",
            "amount": "99.00",
        }
    ],
}


def test_the_report_shows_the_schedule_and_what_is_left(world: Callable[..., World]) -> None:
    w = world(
        plans=[ANNUAL, MONTHLY], start="2026-11-15T08:00:00Z", billing={"grace_period_hours": 0}
    )
    w.customer("acme")
    w.customer("globex")
    w.subscribe("s1", "acme", "annual", "2026-11-15")
    w.subscribe("s2", "globex", "monthly", "2026-11-15")  # a monthly fee is not deferred
    w.at("2026-11-15T09:00:00Z").bill("2026-11-15")
    reader = issue_key(w.container, "read")
    with TestClient(create_app(w.container)) as api:
        answer = api.get(
            "/v1/reports/deferred-revenue", params={"as_of": "2027-01-10"}, headers=reader
        )
        assert answer.status_code == 200, answer.text
        [acme] = answer.json()["customers"]
        # recognised: November (16 of 365 days) 52.60 and December 101.92; January is current
        assert (acme["customer_id"], acme["currency"], acme["deferred"]) == (
            "acme",
            "EUR",
            "1045.48",
        )
        [line] = acme["lines"]
        assert (line["amount"], line["recognised"], line["deferred"]) == (
            "1200.00",
            "154.52",
            "1045.48",
        )
        assert line["service"] == {"start": "2026-11-15", "end": "2027-11-15"}
        assert acme["schedule"][:2] == [
            {"month": "2026-11", "amount": "52.60"},
            {"month": "2026-12", "amount": "101.92"},
        ]
        assert len(acme["schedule"]) == 13
        assert sum(float(m["amount"]) for m in acme["schedule"]) == 1200.0
        # voided: nothing left to recognise
        [invoice] = w.raw_invoices("s1")
        w.container.billing.void(invoice.id, "cancelled deal", "ops")
        after = api.get(
            "/v1/reports/deferred-revenue", params={"as_of": "2027-01-10"}, headers=reader
        )
        assert after.json()["customers"] == []
        assert api.get("/v1/reports/deferred-revenue").status_code == 401
