"""Renewal intelligence end to end with the CRM sandbox, read back with simple-salesforce:
three customers renewing on the same day — one with an overdue invoice, one using more than
its plan commits, one on its way — are assessed at 90, 60 and 30 days before the renewal, each
horizon announced once: the account's assessment field each time, a task for the account's
owner at each horizon when at risk, one expansion opportunity for the renewal; and
``GET /v1/renewals`` lists them on demand. Onboarding milestones of two new customers: one
reached within its days, one missed once they passed — each a task, once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from simple_salesforce.api import Salesforce

from revsync.adapters.db.tables import outbox_messages
from revsync.application.customers import PutCustomer
from revsync.application.ingestion import IngestContext
from revsync.bootstrap import Container, apply_configuration, build
from revsync.domain.identity import System
from revsync.domain.renewals import MilestoneState
from revsync.entrypoints.api.app import create_app
from revsync.ports.billing import InvoiceFilter
from revsync.ports.erp import PostingRecord
from revsync.sandbox.crm import CrmSandbox
from revsync.schemas.cloudevents_v1 import decode_items
from revsync.schemas.event_payloads_v1 import validate_payload
from tests.conftest import issue_key, make_settings
from tests.support.clock import FrozenClock
from tests.support.crm import CRM_SECRET_ENV, crm_section, salesforce
from tests.support.delivery import deliver_until, settled
from tests.support.events import encode, event

GROWTH = {
    "code": "growth",
    "name": "Growth",
    "currency": "EUR",
    "interval": "month",
    "charges": [
        {
            "key": "platform",
            "model": "flat",
            "description": "Platform",
            "timing": "in_advance",
            "amount": "500.00",
        },
        {
            "key": "calls",
            "model": "allowance",
            "description": "API calls",
            "meter": "api_calls",
            "included": "100",
            "amount": "0.05",
        },
    ],
}
RENEWAL = date(2027, 2, 25)
#: API calls a month, September to December
MONTHLY = {"acme": 50, "globex": 150, "initech": 60}


@pytest.fixture
def crm(tmp_path: Path) -> Iterator[CrmSandbox]:
    with CrmSandbox(tmp_path / "crm") as running:
        yield running


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 11, 20, 9, tzinfo=UTC))  # 97 days before the renewal


@pytest.fixture
def container(
    sqlite_url: str, crm: CrmSandbox, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Container]:
    monkeypatch.setenv(CRM_SECRET_ENV, crm.credentials.client_secret)
    settings = make_settings(
        sqlite_url,
        plans=[GROWTH],
        billing={"grace_period_hours": 0},
        crm=crm_section(crm, plans={"Growth": "growth"}, overlap_seconds=0),
        renewals={
            "milestones": [
                {"key": "first_calls", "meter": "api_calls", "at_least": "10", "within_days": 14}
            ]
        },
        outbox={"allow_private_hosts": ["127.0.0.1"]},
        worker={"lease_seconds": 60, "poll_seconds": 0.02},
    )
    wired = build(settings, clock=clock)
    apply_configuration(wired, "test")
    yield wired
    wired.close()


def world(container: Container, crm: CrmSandbox) -> dict[str, str]:
    """Three accounts on Growth since September, renewing on 2027-02-25, with their usage so
    far and their invoices in the ERP — acme's November invoice overdue and dunned."""
    accounts = {}
    for customer_id in MONTHLY:
        accounts[customer_id] = account = crm.create_record(
            "Account", {"Name": customer_id.title(), "Revsync_Customer_Id__c": customer_id}
        )
        crm.create_record(
            "Contract",
            {
                "AccountId": account,
                "Status": "Activated",
                "StartDate": "2026-09-01",
                "ContractTerm": 12,
                "Plan__c": "Growth",
                "Seats__c": 1,
                "Renewal_Date__c": RENEWAL.isoformat(),
            },
        )
    asyncio.run(container.pull_crm())
    for customer_id in MONTHLY:
        customer = container.customers.get(customer_id)
        refs = {System.CRM: [accounts[customer_id]], System.PRODUCT: [f"t-{customer_id}"]}
        container.customers.put(
            PutCustomer(customer.id, customer.name, "EUR", "UTC", None, refs, "test")
        )
    usage(container, 9, 10, 11)
    container.billing.run(date(2026, 11, 1), "test")
    invoices = container.billing.invoices(InvoiceFilter(), after=None, limit=100)
    with container.unit_of_work() as uow:
        for number, invoice in enumerate(invoices):
            late = invoice.customer_id == "acme" and invoice.period.start == date(2026, 11, 1)
            posting = PostingRecord(
                invoice.id, str(number), f"ERP/{number}", invoice.customer_id,
                invoice.issue_date, None, paid=not late, amount_to_pay=Decimal(0),
                due_date=date(2026, 12, 1), overdue=late,
                dunning_level="level 1" if late else None,
            )  # fmt: skip
            uow.postings.record(posting, container.clock.now())
            uow.postings.update(posting, container.clock.now())
        uow.commit()
    return accounts


def usage(container: Container, *months: int) -> None:
    """Each customer's API calls in these months of 2026 (``MONTHLY`` a month)."""
    events = [
        event(
            f"{customer_id}-{month}-{n}",
            subject=f"t-{customer_id}",
            time=datetime(2026, month, 10, 12, tzinfo=UTC),
            data={"endpoint": "/v1/x"},
        )
        for customer_id, count in MONTHLY.items()
        for month in months
        for n in range(count)
    ]
    report = container.ingestion.ingest(
        decode_items([encode(e) for e in events]), IngestContext("api", "test")
    )
    assert report.rejected == []


def counts(container: Container) -> dict[str, int]:
    invoices = container.billing.invoices(InvoiceFilter(), after=None, limit=100)
    return {c: sum(1 for i in invoices if i.customer_id == c) for c in MONTHLY}


def crm_state(client: Salesforce, accounts: dict[str, str]) -> dict[str, Any]:
    """Per customer: its assessment field, its tasks' subjects, its opportunities' names."""
    found: dict[str, Any] = {}
    for customer_id, account in accounts.items():
        field = client.Account.get(account)["Revsync_Renewal_Assessment__c"]
        tasks = client.query(f"SELECT Subject FROM Task WHERE WhatId = '{account}'")
        opportunities = client.query(f"SELECT Name FROM Opportunity WHERE AccountId = '{account}'")
        found[customer_id] = (
            field,
            sorted(t["Subject"] for t in tasks["records"]),
            sorted(o["Name"] for o in opportunities["records"]),
        )
    return found


def test_renewals_are_assessed_and_told_to_the_crm_once_at_each_horizon(
    container: Container, crm: CrmSandbox, clock: FrozenClock
) -> None:
    accounts = world(container, crm)
    invoices = counts(container)
    renewals = container.renewals()
    assert renewals.run().announced == []  # 97 days out: no horizon yet
    early = renewals.upcoming(120)
    assert [(a.customer_id, a.days, a.horizon) for a in early] == [
        ("acme", 97, 120),
        ("globex", 97, 120),
        ("initech", 97, 120),
    ]
    sf = salesforce(crm)
    payments = {c: f"payments: 0 of {n} invoices dunned" for c, n in invoices.items()}
    payments["acme"] = f"payments: 1 of {invoices['acme']} invoices dunned, 1 overdue now"
    expected_reasons = {
        "acme": [payments["acme"]],
        "globex": ["above the commitment: api_calls 150 of 100 (150%, flat)", payments["globex"]],
        "initech": ["adoption: api_calls 60 of 100 (60%, flat)", payments["initech"]],
    }
    verdicts = {"acme": "at_risk", "globex": "expansion", "initech": "healthy"}
    for step, (moment, days) in enumerate(
        [
            (datetime(2026, 11, 27, 9, tzinfo=UTC), 90),
            (datetime(2026, 12, 27, 9, tzinfo=UTC), 60),
            (datetime(2027, 1, 26, 9, tzinfo=UTC), 30),
        ],
        1,
    ):
        clock.set(moment)
        if step == 2:
            usage(container, 12)  # December's, as it comes
        announced = renewals.run()
        assert [(a.customer_id, a.horizon, a.verdict.value) for a in announced.announced] == [
            (c, days, verdicts[c]) for c in MONTHLY
        ]
        for assessment in announced.announced:
            assert list(assessment.reasons) == expected_reasons[assessment.customer_id]
        assert renewals.run().announced == []  # once per horizon
        deliver_until(container, lambda: settled(container))
        state = crm_state(sf, accounts)
        for customer_id, (field, _, _) in state.items():
            reasons = "; ".join(expected_reasons[customer_id])
            assert field == (
                f"{verdicts[customer_id]} ({days} days before the renewal of 2027-02-25): {reasons}"
            )
        assert state["acme"][1] == sorted(
            f"revsync: renewal at risk in {h} days — Acme" for h in (90, 60, 30)[:step]
        )
        assert state["globex"][1:] == ([], ["Expansion at renewal: Globex (growth@1)"])
        assert state["initech"][1:] == ([], [])

    api = TestClient(create_app(container))
    reader = issue_key(container, "read")
    listed = api.get("/v1/renewals", params={"within": "30d"}, headers=reader)
    assert listed.status_code == 200, listed.text
    assert listed.json()["within_days"] == 30
    assert [
        (x["customer_id"], x["renewal_date"], x["days"], x["horizon"], x["verdict"])
        for x in listed.json()["items"]
    ] == [(c, "2027-02-25", 30, 30, verdicts[c]) for c in MONTHLY]
    refused = api.get("/v1/renewals", params={"within": "soon"}, headers=reader)
    assert refused.status_code == 422 and "within" in refused.text
    with container.unit_of_work(write=False) as uow:
        entries = [e.record for e in uow.audit.entries() if e.record.action == "renewal.assessed"]
    assert len(entries) == 9
    m = outbox_messages.c
    with container.engine.connect() as conn:
        payloads = conn.execute(sa.select(m.payload).where(m.kind == "renewal.assessed")).all()
    assert len(payloads) == 9
    for (payload,) in payloads:
        validate_payload("renewal.assessed", payload)


def test_onboarding_milestones_reached_or_missed_are_told_to_the_crm_once(
    container: Container, crm: CrmSandbox, clock: FrozenClock
) -> None:
    accounts = {}
    for name in ("soylent", "umbrella"):
        accounts[name] = crm.create_record(
            "Account", {"Name": name.title(), "Revsync_Customer_Id__c": name}
        )
        crm.create_record(
            "Contract",
            {
                "AccountId": accounts[name],
                "Status": "Activated",
                "StartDate": "2026-11-10",
                "ContractTerm": 12,
                "Plan__c": "Growth",
                "Seats__c": 1,
            },
        )
    asyncio.run(container.pull_crm())
    for name, account in accounts.items():
        refs = {System.CRM: [account], System.PRODUCT: [f"t-{name}"]}
        container.customers.put(PutCustomer(name, name.title(), "EUR", "UTC", None, refs, "test"))
    calls = [
        event(
            f"soylent-{n}",
            subject="t-soylent",
            time=datetime(2026, 11, 12, 12, tzinfo=UTC),
            data={"endpoint": "/v1/x"},
        )
        for n in range(12)
    ]
    ingested = container.ingestion.ingest(
        decode_items([encode(e) for e in calls]), IngestContext("api", "test")
    )
    assert ingested.rejected == []
    onboarding = container.onboarding()
    # ten days in: soylent made its first 10 calls; umbrella may still
    assert onboarding.run() == [
        (f"crm-{_contract(crm, accounts['soylent'])}", "first_calls", MilestoneState.REACHED)
    ]
    assert onboarding.run() == []
    clock.set(datetime(2026, 11, 24, 9, tzinfo=UTC))  # 14 days: umbrella's are over
    assert onboarding.run() == [
        (f"crm-{_contract(crm, accounts['umbrella'])}", "first_calls", MilestoneState.MISSED)
    ]
    assert onboarding.run() == []
    deliver_until(container, lambda: settled(container))
    sf = salesforce(crm)
    found = {
        r["Subject"]: (r["Status"], r["Priority"], r["ActivityDate"], r["Description"])
        for r in sf.query("SELECT Subject, Status, Priority, ActivityDate, Description FROM Task")[
            "records"
        ]
    }
    assert found == {
        "revsync onboarding: first_calls reached — Soylent": (
            "Completed",
            "Normal",
            "2026-11-24",
            f"Subscription crm-{_contract(crm, accounts['soylent'])}: api_calls 12 of 10 since "
            "2026-11-10 (by 2026-11-24).",
        ),
        "revsync onboarding: first_calls missed — Umbrella": (
            "Not Started",
            "High",
            "2026-11-24",
            f"Subscription crm-{_contract(crm, accounts['umbrella'])}: api_calls 0 of 10 since "
            "2026-11-10 (by 2026-11-24).",
        ),
    }
    for (payload,) in _payloads(container, "onboarding.milestone"):
        validate_payload("onboarding.milestone", payload)


def _contract(crm: CrmSandbox, account: str) -> str:
    [contract] = [c["Id"] for c in crm.records("Contract") if c["AccountId"] == account]
    return str(contract)


def _payloads(container: Container, kind: str) -> list[Any]:
    m = outbox_messages.c
    with container.engine.connect() as conn:
        return list(conn.execute(sa.select(m.payload).where(m.kind == kind)).all())
