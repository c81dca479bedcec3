"""revsync and the CRM sandbox end to end, through the real simple-salesforce client: accounts
and their hierarchy become customers, an activated contract a subscription and its changes
amendments (with their effective date); usage, invoices and renewals become signals written to
revsync's own account fields, a task per new risk and one opportunity per streak of usage
above the plan — and what the CRM owns survives every sync."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from revsync.application.crm import PullReport
from revsync.application.customers import PutCustomer
from revsync.application.ingestion import IngestContext
from revsync.application.subscriptions import CreateSubscription
from revsync.bootstrap import Container, apply_configuration, build
from revsync.domain.identity import System
from revsync.domain.subscriptions import Change
from revsync.sandbox.crm import CrmSandbox
from revsync.schemas.cloudevents_v1 import decode_items
from tests.conftest import TEST_METERS, make_settings
from tests.support.clock import FrozenClock
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
STARTER = {**GROWTH, "code": "starter", "name": "Starter"}
#: the README tutorial's add-on: a fee and a meter it prices from the first unit
REPORTING = {
    "code": "reporting",
    "name": "Reporting add-on",
    "currency": "EUR",
    "interval": "month",
    "charges": [
        {
            "key": "base",
            "model": "flat",
            "description": "Reporting add-on",
            "timing": "in_advance",
            "amount": "20.00",
        },
        {
            "key": "reports",
            "model": "per_unit",
            "description": "Exported reports",
            "meter": "reports",
            "amount": "0.50",
        },
    ],
}
REPORTS = {"key": "reports", "event_type": "report.exported", "aggregation": "count"}
NOW = datetime(2026, 11, 27, 9, tzinfo=UTC)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[CrmSandbox]:
    with CrmSandbox(tmp_path / "crm") as running:
        yield running


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def container(
    sqlite_url: str, sandbox: CrmSandbox, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Container]:
    monkeypatch.setenv("REVSYNC_TEST_CRM_SECRET", sandbox.credentials.client_secret)
    settings = make_settings(
        sqlite_url,
        plans=[GROWTH, STARTER, REPORTING],
        meters=[*TEST_METERS, REPORTS],
        crm={
            "url": sandbox.url,
            "ca_file": str(sandbox.cert_path),
            "client_secret_env": "REVSYNC_TEST_CRM_SECRET",
            "plans": {"Growth": "growth", "Starter": "starter"},
            "overlap_seconds": 0,
        },
        outbox={"allow_private_hosts": ["127.0.0.1"]},
        worker={"lease_seconds": 60, "poll_seconds": 0.02},
    )
    wired = build(settings, clock=clock)
    apply_configuration(wired, "test")
    yield wired
    wired.close()


def pull(container: Container) -> PullReport:
    return asyncio.run(container.pull_crm())


def calls(
    container: Container, tenant: str, month: int, count: int, kind: str = "api.request"
) -> None:
    events = [
        event(
            f"ev-{tenant}-{kind}-{month}-{n}",
            subject=tenant,
            time=datetime(2026, month, 10, 12, tzinfo=UTC),
            type=kind,
            data={"endpoint": "/v1/x"},
        )
        for n in range(count)
    ]
    report = container.ingestion.ingest(decode_items([encode(e) for e in events]), CONTEXT)
    assert report.rejected == []


CONTEXT = IngestContext("api", "test")


def map_tenant(container: Container, customer_id: str, account: str, tenant: str) -> None:
    """The product tenant is mapped in revsync, not in the CRM."""
    acme = container.customers.get(customer_id)
    container.customers.put(
        PutCustomer(
            acme.id,
            acme.name,
            acme.currency,
            acme.timezone,
            acme.parent_id,
            {System.CRM: [account], System.PRODUCT: [tenant]},
            "test",
            country=acme.country,
        )
    )


def world(sandbox: CrmSandbox) -> dict[str, str]:
    """A group with a subsidiary in France whose contract bills on Growth."""
    group = sandbox.create_record(
        "Account", {"Name": "Acme Group", "Revsync_Customer_Id__c": "acme-group"}
    )
    france = sandbox.create_record(
        "Account", {"Name": "Acme France", "ParentId": group, "BillingCountry": "FR"}
    )
    contract = sandbox.create_record(
        "Contract",
        {
            "AccountId": france,
            "Status": "Activated",
            "StartDate": "2026-09-01",
            "ContractTerm": 12,
            "Plan__c": "Starter",
            "Seats__c": 10,
            "Renewal_Date__c": "2027-09-01",
        },
    )
    return {"group": group, "france": france, "contract": contract}


def test_accounts_and_contracts_become_customers_subscriptions_and_amendments(
    container: Container, sandbox: CrmSandbox
) -> None:
    ids = world(sandbox)
    first = pull(container)
    france = f"crm-{ids['france']}"
    subscription = f"crm-{ids['contract']}"
    assert (first.accounts, first.contracts, first.refused) == (2, 1, [])
    assert first.customers_created == ["acme-group", france]  # the parent first
    acme = container.customers.get(france)
    assert (acme.name, acme.parent_id, acme.country, acme.refs_in(System.CRM)) == (
        "Acme France",
        "acme-group",
        "FR",
        (ids["france"],),
    )
    created = container.subscriptions.get(subscription)
    assert (created.current.plan_code, created.current.seats, created.start) == (
        "starter",
        10,
        date(2026, 9, 1),
    )
    assert created.renewal_date == date(2027, 9, 1)
    assert pull(container).accounts == 0  # nothing changed: nothing read again

    sandbox.update_record(
        "Contract",
        ids["contract"],
        {"Plan__c": "Growth", "Seats__c": 15, "Amendment_Date__c": "2026-11-15"},
    )
    sandbox.update_record("Account", ids["france"], {"Name": "Acme France SAS"})
    changed = pull(container)
    assert changed.amendments == [f"{subscription}: plan_change", f"{subscription}: seat_change"]
    amended = container.subscriptions.get(subscription)
    assert [(t.change, t.effective, t.plan_code, t.seats) for t in amended.terms[1:]] == [
        (Change.PLAN_CHANGE, date(2026, 11, 15), "growth", 10),
        (Change.SEAT_CHANGE, date(2026, 11, 15), "growth", 15),
    ]
    assert container.customers.get(france).name == "Acme France SAS"  # the CRM owns the name
    assert pull(container).amendments == []  # read again, nothing more to do

    sandbox.update_record("Contract", ids["contract"], {"Status": "Expired"})
    sandbox.update_record("Contract", ids["contract"], {"Amendment_Date__c": "2026-11-30"})
    ended = pull(container)
    assert ended.amendments == [f"{subscription}: cancel"]
    assert container.subscriptions.get(subscription).current.ends == date(2026, 11, 30)


def test_a_record_revsync_cannot_take_is_dead_lettered_and_the_others_are_kept(
    container: Container, sandbox: CrmSandbox
) -> None:
    ids = world(sandbox)
    sandbox.create_record(
        "Contract",
        {
            "AccountId": ids["group"],
            "Status": "Activated",
            "StartDate": "2026-10-01",
            "Plan__c": "Platinum",
        },
    )
    report = pull(container)
    assert report.subscriptions_created == [f"crm-{ids['contract']}"]
    [refused] = report.refused
    assert "Plan__c: the CRM plan 'Platinum' is no revsync plan (map it in crm.plans)" in refused
    letters = container.dead_letters.page(channel="crm", after_id=None, limit=10)
    assert [stored.letter.reason for stored in letters] == [refused]


def test_signals_reach_revsyncs_own_fields_and_the_crms_fields_survive_every_sync(
    container: Container, sandbox: CrmSandbox, clock: FrozenClock
) -> None:
    ids = world(sandbox)
    pull(container)
    france = f"crm-{ids['france']}"
    map_tenant(container, france, ids["france"], "tenant-fr")
    for month, count in ((9, 150), (10, 180), (11, 40)):  # above the 100 included twice
        calls(container, "tenant-fr", month, count)
    sandbox.update_record("Account", ids["france"], {"Name": "Acme France (edited in the CRM)"})

    pushed = container.crm_signals().run()
    assert (pushed.assessed, sorted(pushed.accounts)) == (2, sorted(["acme-group", france]))
    assert pushed.opportunities == [f"expansion:{france}:api_calls:2026-09-01"]
    deliver_until(container, lambda: settled(container))

    account = sandbox.get_record("Account", ids["france"])
    assert account["Name"] == "Acme France (edited in the CRM)"
    assert account["Revsync_Adoption__c"] == "api_calls 180 of 100 (180%, up)"
    assert account["Revsync_Billing_Status__c"] == "no invoice yet"
    assert account["Revsync_Health_Score__c"] == 100
    assert account["Revsync_Renewal_Readiness__c"] == "not_due"
    [opportunity] = sandbox.records("Opportunity")
    assert (opportunity["AccountId"], opportunity["StageName"]) == (ids["france"], "Prospecting")
    assert opportunity["Name"] == "Expansion: Acme France — api_calls above plan"

    # sales moves the opportunity on and renames the account; nothing revsync does undoes it
    sandbox.update_record("Opportunity", opportunity["Id"], {"StageName": "Negotiation"})
    sandbox.update_record("Account", ids["france"], {"Name": "Acme France SAS"})
    clock.set(datetime(2026, 12, 2, 9, tzinfo=UTC))  # November is complete: 40 calls
    pull(container)
    again = container.crm_signals().run()
    assert again.accounts == [france]  # adoption changed; the group's signals did not
    assert again.opportunities == []  # the streak ended
    deliver_until(container, lambda: settled(container))
    account = sandbox.get_record("Account", ids["france"])
    assert account["Name"] == "Acme France SAS"
    assert account["Revsync_Adoption__c"] == "api_calls 40 of 100 (40%, down)"
    [still] = sandbox.records("Opportunity")
    assert still["StageName"] == "Negotiation"
    assert container.crm_signals().run().accounts == []  # unchanged: nothing queued


def test_a_new_risk_becomes_one_task(
    container: Container, sandbox: CrmSandbox, clock: FrozenClock
) -> None:
    ids = world(sandbox)
    sandbox.update_record("Contract", ids["contract"], {"Renewal_Date__c": "2026-12-15"})
    pull(container)
    france = f"crm-{ids['france']}"
    map_tenant(container, france, ids["france"], "tenant-fr")
    calls(container, "tenant-fr", 10, 10)  # 10% of the plan, renewal in 18 days
    pushed = container.crm_signals().run()
    assert pushed.tasks == [
        f"risk:{france}:low_adoption:2026-11-27",
        f"risk:{france}:renewal_at_risk:2026-11-27",
    ]
    deliver_until(container, lambda: settled(container))
    account = sandbox.get_record("Account", ids["france"])
    assert (account["Revsync_Risk_Flags__c"], account["Revsync_Renewal_Readiness__c"]) == (
        "low_adoption;renewal_at_risk",
        "at_risk",
    )
    assert account["Revsync_Health_Score__c"] == 60
    subjects = sorted(t["Subject"] for t in sandbox.records("Task"))
    assert subjects == [
        "revsync: adoption is below 30% of the plan — Acme France",
        "revsync: the renewal is at risk — Acme France",
    ]
    assert {t["WhatId"] for t in sandbox.records("Task")} == {ids["france"]}
    clock.set(datetime(2026, 11, 28, 9, tzinfo=UTC))
    assert container.crm_signals().run().tasks == []  # still raised: no new task


def signal_fields(sandbox: CrmSandbox, account: str) -> tuple[object, ...]:
    found = sandbox.get_record("Account", account)
    return (
        found["Revsync_Adoption__c"],
        found["Revsync_Health_Score__c"],
        found["Revsync_Risk_Flags__c"],
        found["Revsync_Renewal_Readiness__c"],
    )


def add_on(container: Container, customer_id: str, start: date, **terms: object) -> None:
    """The README tutorial's step: a small add-on subscribed through revsync, not the CRM."""
    container.subscriptions.create(
        CreateSubscription(
            subscription_id=f"reporting-{customer_id}",
            customer_id=customer_id,
            plan_code="reporting",
            start=start,
            actor="test",
            **terms,  # type: ignore[arg-type]
        )
    )


def test_an_add_on_subscription_leaves_the_main_contracts_adoption_health_and_risks(
    container: Container, sandbox: CrmSandbox
) -> None:
    ids = world(sandbox)
    sandbox.update_record("Contract", ids["contract"], {"Renewal_Date__c": "2026-12-15"})
    pull(container)
    france = f"crm-{ids['france']}"
    map_tenant(container, france, ids["france"], "tenant-fr")
    calls(container, "tenant-fr", 10, 10)  # 10 of the 100 calls Starter includes
    container.crm_signals().run()
    deliver_until(container, lambda: settled(container))
    assert signal_fields(sandbox, ids["france"]) == (
        "api_calls 10 of 100 (10%, new)",
        60,  # 100 - 25 (low adoption) - 15 (renewal at risk)
        "low_adoption;renewal_at_risk",
        "at_risk",
    )

    # a small add-on started later, renewing after the main contract; its reports this month
    add_on(container, france, date(2026, 11, 1), renewal_date=date(2027, 11, 1))
    calls(container, "tenant-fr", 11, 2, kind="report.exported")
    pushed = container.crm_signals().run()
    assert (pushed.accounts, pushed.tasks) == ([france], [])  # no risk cleared, none new
    deliver_until(container, lambda: settled(container))
    assert signal_fields(sandbox, ids["france"]) == (
        "api_calls 10 of 100 (10%, new); reports 0 (flat)",  # both plans' meters, October
        60,
        "low_adoption;renewal_at_risk",  # the main contract renews first: on 2026-12-15
        "at_risk",
    )


def test_a_contract_that_bills_the_subsidiaries_counts_their_usage_and_only_it(
    container: Container, sandbox: CrmSandbox
) -> None:
    group = sandbox.create_record(
        "Account", {"Name": "Acme Group", "Revsync_Customer_Id__c": "acme-group"}
    )
    france = sandbox.create_record("Account", {"Name": "Acme France", "ParentId": group})
    contract = sandbox.create_record(
        "Contract",
        {
            "AccountId": group,
            "Status": "Activated",
            "StartDate": "2026-09-01",
            "Plan__c": "Starter",
            "Renewal_Date__c": "2027-09-01",
        },
    )
    pull(container)  # the contract bills the subsidiaries' usage too (crm.include_children)
    assert container.subscriptions.get(f"crm-{contract}").include_children
    map_tenant(container, "acme-group", group, "tenant-group")
    map_tenant(container, f"crm-{france}", france, "tenant-fr")
    calls(container, "tenant-fr", 9, 100)
    calls(container, "tenant-group", 10, 20)
    calls(container, "tenant-fr", 10, 130)
    # an add-on on the group alone (include_children off): France's reports are not its own
    add_on(container, "acme-group", date(2026, 10, 1))
    calls(container, "tenant-group", 10, 3, kind="report.exported")
    calls(container, "tenant-fr", 10, 5, kind="report.exported")

    container.crm_signals().run()
    deliver_until(container, lambda: settled(container))
    assert signal_fields(sandbox, group) == (
        "api_calls 150 of 100 (150%, up); reports 3 (new)",  # 20 + 130 calls; 100 in September
        100,
        None,
        "not_due",
    )
    # the subsidiary has no contract of its own: its usage is the group's
    assert signal_fields(sandbox, france) == ("no metered usage", 100, None, "not_due")


def test_a_threshold_reached_becomes_one_task_for_the_account_owner(
    container: Container, sandbox: CrmSandbox
) -> None:
    ids = world(sandbox)
    pull(container)
    france, subscription = f"crm-{ids['france']}", f"crm-{ids['contract']}"
    map_tenant(container, france, ids["france"], "t-fr")
    eighty = [{"key": "calls-80", "kind": "percent", "meter": "api_calls", "value": "80"}]
    container.subscriptions.set_thresholds(subscription, eighty, "test")
    calls(container, "t-fr", 11, 79)
    assert container.thresholds.sweep().crossings == []
    calls(container, "t-fr", 11, 90)  # 11 more: 90 of the 100 included
    [crossing] = container.thresholds.sweep().crossings
    assert (crossing.threshold_key, crossing.limit, crossing.observed) == ("calls-80", 80, 90)
    assert container.thresholds.sweep(after_seq=0).crossings == []  # read again: not twice
    deliver_until(container, lambda: settled(container))
    [task] = sandbox.records("Task")
    owner = sandbox.get_record("Account", ids["france"])["OwnerId"]
    assert (task["WhatId"], task["OwnerId"], task["Priority"]) == (ids["france"], owner, "Normal")
    assert task["Subject"] == (
        "revsync: api_calls reached 80% of what the plan includes (now 90) — Acme France"
    )
    assert "usage period 2026-11-01 to 2026-12-01" in task["Description"]
