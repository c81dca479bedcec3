"""Reconciliation of the CRM through the sandbox and simple-salesforce: the account fields
revsync owns, read back, are what it last sent; one changed by a person in the CRM is one
finding and one case with both values; signals still waiting in the outbox are not compared;
once the next push has put the value back, a run closes the case."""

from __future__ import annotations

import asyncio
from datetime import date

from revsync.bootstrap import Container
from revsync.domain.delivery import CaseKind, CaseStatus
from revsync.domain.reconciliation import Check, FindingKind, ReconciliationRun
from revsync.ports.delivery import CaseFilter
from revsync.sandbox.crm import CrmSandbox
from revsync.schemas.cloudevents_v1 import decode_items
from tests.e2e.test_crm_sync import (  # noqa: F401 - fixtures
    CONTEXT,
    calls,
    clock,
    container,
    map_tenant,
    pull,
    sandbox,
    world,
)
from tests.support.delivery import deliver_until, settled
from tests.support.events import encode, event


def reconcile(wired: Container) -> ReconciliationRun:
    return asyncio.run(wired.reconcile([Check.CRM], date(2026, 1, 1), "test"))


def test_a_field_changed_in_the_crm_is_found_and_closed_once_revsync_wrote_it_again(
    container: Container,  # noqa: F811
    sandbox: CrmSandbox,  # noqa: F811
) -> None:
    ids = world(sandbox)
    pull(container)
    france = f"crm-{ids['france']}"
    map_tenant(container, france, ids["france"], "tenant-fr")
    calls(container, "tenant-fr", 10, 180)
    container.crm_signals().run()
    waiting = reconcile(container)  # signals queued, not delivered: only the contract compared
    assert (waiting.checked, waiting.findings) == ({"crm": 1}, [])
    deliver_until(container, lambda: settled(container))
    clean = reconcile(container)
    assert (clean.checked, clean.findings) == ({"crm": 3}, [])  # two accounts, one contract

    sandbox.update_record("Account", ids["france"], {"Revsync_Health_Score__c": 55})
    found = reconcile(container)
    [finding] = found.findings
    assert (finding.kind, finding.object_type, finding.object_id) == (
        FindingKind.CRM_SIGNALS,
        "customer",
        france,
    )
    assert (dict(finding.ours), dict(finding.theirs)) == (
        {"Revsync_Health_Score__c": "100"},
        {"Revsync_Health_Score__c": "55.0"},  # as the CRM reads it back
    )
    [case] = container.cases.find(CaseFilter(kind=CaseKind.RECONCILIATION), after=None, limit=5)
    assert (case.status, case.object_id, case.id) == (CaseStatus.OPEN, france, found.opened[0])

    # the same values are not sent twice (their message has the same key), so the field stays
    # wrong until revsync's signals change: more usage, and the push writes every field again
    assert container.crm_signals().run().accounts == []
    assert reconcile(container).opened == found.opened
    more = [
        event(
            f"more-{n}", subject="tenant-fr", time="2026-10-11T12:00:00Z", data={"endpoint": "/x"}
        )
        for n in range(20)
    ]
    assert (
        container.ingestion.ingest(decode_items([encode(e) for e in more]), CONTEXT).rejected == []
    )
    assert container.crm_signals().run().accounts == [france]
    deliver_until(container, lambda: settled(container))
    closed = reconcile(container)
    assert (closed.findings, list(closed.closed)) == ([], [case.id])
    [done] = container.cases.find(CaseFilter(kind=CaseKind.RECONCILIATION), after=None, limit=5)
    assert done.status is CaseStatus.RESOLVED


def test_a_contract_changed_or_added_in_the_crm_is_found_until_the_sync_brings_it(
    container: Container,  # noqa: F811
    sandbox: CrmSandbox,  # noqa: F811
) -> None:
    ids = world(sandbox)
    pull(container)
    assert reconcile(container).findings == []
    subscription = f"crm-{ids['contract']}"
    sandbox.update_record("Contract", ids["contract"], {"Seats__c": 25, "Plan__c": "Growth"})
    added = sandbox.create_record(
        "Contract",
        {
            "AccountId": ids["group"],
            "Status": "Activated",
            "StartDate": "2026-10-01",
            "Plan__c": "Growth",
            "Seats__c": 3,
        },
    )
    found = reconcile(container)
    by_id = {f.object_id: f for f in found.findings}
    assert set(by_id) == {subscription, f"crm-{added}"}
    changed = by_id[subscription]
    assert (changed.kind, changed.object_type) == (FindingKind.CRM_CONTRACT, "subscription")
    assert (dict(changed.ours), dict(changed.theirs)) == (
        {"plan": "starter", "seats": "10"},
        {"plan": "growth", "seats": "25"},
    )
    missing = by_id[f"crm-{added}"]
    assert dict(missing.ours) == {} and missing.theirs["seats"] == "3"
    cases = container.cases.find(CaseFilter(kind=CaseKind.RECONCILIATION), after=None, limit=5)
    assert sorted(c.object_id for c in cases) == sorted(by_id)

    pull(container)  # the sync amends the subscription and makes the new one
    closed = reconcile(container)
    assert (closed.findings, sorted(closed.closed)) == ([], sorted(found.opened))
