"""Reconciliation over the API, on the usage check (the ERP's side is in
tests/e2e/test_reconciliation.py): a billed month reconciles clean; an event deleted from under
a billed usage line is found, opens one case with both sides' values, and a run after the event
is back closes it; runs are listed and read; hostile bodies get a 422 naming the field."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from revsync.adapters.db.tables import usage_events
from revsync.bootstrap import Container, build
from revsync.domain.delivery import CaseKind, CaseStatus
from revsync.domain.errors import InvalidField
from revsync.domain.reconciliation import Check
from revsync.entrypoints.workers.relay import worker_jobs
from revsync.ports.delivery import CaseFilter
from tests.conftest import TEST_METERS, issue_key, make_settings
from tests.entrypoints.api.test_billing_api import (  # noqa: F401 - fixtures
    NOV_ARREARS,
    TIER_2,
    billed_november,
    clock,
    configured,
    settings,
)
from tests.support.clock import FrozenClock, utc

SINCE = {"checks": ["usage"], "since": "2026-11-01"}


def reconcile(api: TestClient, key: dict[str, str], body: Any = SINCE) -> dict[str, Any]:
    response = api.post("/v1/reconciliations", json=body, headers=key)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_a_usage_line_whose_events_changed_opens_a_case_until_they_are_back(
    api: TestClient,
    container: Container,
    admin: dict[str, str],
    reader: dict[str, str],
    ingest: dict[str, str],
    clock: FrozenClock,  # noqa: F811
) -> None:
    billed_november(api, admin, ingest, clock)
    ops = issue_key(container, "ops")
    clean = reconcile(api, ops)
    # two usage lines (the free tier and tier 2) share the 1,250 events behind them
    assert (clean["clean"], clean["checked"], clean["findings"]) == (True, {"usage": 2}, [])

    e = usage_events.c
    with container.engine.begin() as conn:
        row = conn.execute(sa.select(usage_events).where(e.event_id == "nov-7")).one()
        conn.execute(sa.delete(usage_events).where(e.seq == row.seq))
    tampered = reconcile(api, ops)
    assert tampered["counts"] == {"lineage": 2}
    by_line = {f["object_id"]: f for f in tampered["findings"]}
    assert set(by_line) == {
        f"{NOV_ARREARS}/usage:calls:2026-11-01:tier-1",
        f"{NOV_ARREARS}/{TIER_2}",
    }
    finding = by_line[f"{NOV_ARREARS}/{TIER_2}"]
    assert finding["kind"] == "lineage" and finding["object_type"] == "invoice_line"
    assert finding["ours"]["events"] == "1250" and finding["theirs"]["events"] == "1249"
    cases = container.cases.find(CaseFilter(kind=CaseKind.RECONCILIATION), after=None, limit=10)
    assert len(cases) == 2 and {c.status for c in cases} == {CaseStatus.OPEN}
    assert sorted(tampered["cases_opened"]) == sorted(c.id for c in cases)
    case = next(c for c in cases if c.object_id == finding["object_id"])
    assert case.details is not None
    assert (case.details["ours"], case.details["theirs"]) == (finding["ours"], finding["theirs"])
    assert case.last_error == finding["message"]

    scraped = api.get("/metrics", headers=issue_key(container, "metrics")).text
    assert 'revsync_reconciliation_discrepancies{check="usage",kind="lineage"} 2.0' in scraped
    assert 'revsync_reconciliation_checked{check="usage"} 2.0' in scraped
    assert "revsync_invoice_accuracy_ratio" not in scraped  # no ERP reconciliation yet
    # a run over a window that leaves the invoice out neither finds nor closes anything
    narrow = reconcile(api, ops, {"checks": ["usage"], "since": "2026-12-05"})
    assert (narrow["checked"], narrow["cases_closed"]) == ({"usage": 0}, [])
    again = reconcile(api, ops)  # found again: the same cases, still open
    assert sorted(again["cases_opened"]) == sorted(tampered["cases_opened"])
    assert (
        len(container.cases.find(CaseFilter(kind=CaseKind.RECONCILIATION), after=None, limit=10))
        == 2
    )

    with container.engine.begin() as conn:  # the event is back, under its sequence number
        conn.execute(sa.insert(usage_events).values(row._asdict()))
    closed = reconcile(api, ops)
    assert closed["clean"] is True
    assert sorted(closed["cases_closed"]) == sorted(tampered["cases_opened"])
    resolved = container.cases.find(CaseFilter(kind=CaseKind.RECONCILIATION), after=None, limit=10)
    assert {c.status for c in resolved} == {CaseStatus.RESOLVED}

    # the runs, newest first, and one with its findings
    listed = api.get("/v1/reconciliations", params={"limit": 2}, headers=reader)
    assert listed.status_code == 200, listed.text
    page = listed.json()
    assert [r["id"] for r in page["items"]] == [closed["id"], again["id"]]
    rest = api.get("/v1/reconciliations", params={"cursor": page["next_cursor"]}, headers=reader)
    assert [r["id"] for r in rest.json()["items"]] == [narrow["id"], tampered["id"], clean["id"]]
    one = api.get(f"/v1/reconciliations/{tampered['id']}", headers=reader)
    assert one.json() == tampered
    assert api.get("/v1/reconciliations/rec_nope", headers=reader).status_code == 404
    actions = [e.record.action for e in container.audit.entries(after=None, limit=500)]
    assert actions.count("reconciliation.run") == 5


def test_hostile_and_impossible_requests_get_a_422_naming_the_field(
    api: TestClient, container: Container
) -> None:
    ops = issue_key(container, "ops")
    for body, field in [
        ({"checks": ["nope"]}, "checks"),
        ({"checks": []}, "checks"),
        ({"checks": "usage"}, "checks"),
        ({"checks": [["usage"]]}, "checks"),
        ({"since": "yesterday"}, "since"),
        ({"since": 20261101}, "since"),
        ({"checks": ["erp"]}, "checks"),  # no ERP is configured
        ({"checks": ["crm"]}, "checks"),  # nor a CRM
        ({"extra": 1}, "extra"),
    ]:
        response = api.post("/v1/reconciliations", json=body, headers=ops)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["field"] == field, body
    # with no body: the default checks (usage alone without an ERP) over the last 90 days
    default = api.post("/v1/reconciliations", headers=ops)
    assert default.status_code == 201, default.text
    assert default.json()["checks"] == ["usage"] and default.json()["since"] == "2026-08-03"


def test_running_one_takes_the_ops_role_and_reading_them_an_unlimited_key(
    api: TestClient, container: Container, admin: dict[str, str], reader: dict[str, str]
) -> None:
    api.put("/v1/customers/acme", json={"name": "Acme", "currency": "EUR"}, headers=admin)
    assert api.post("/v1/reconciliations", json={}, headers=reader).status_code == 403
    limited = container.api_keys.create("acme only", ["read"], "test", ["acme"])
    headers = {"Authorization": f"Bearer {limited.secret}"}
    assert api.get("/v1/reconciliations", headers=headers).status_code == 403


def test_the_worker_reconciles_on_its_schedule(sqlite_url: str) -> None:
    scheduled = make_settings(sqlite_url, reconciliation={"schedule": "30 2 * * *", "days": 10})
    wired = build(scheduled, clock=FrozenClock(utc(2026, 11, 1, 8)))
    try:
        [job] = [j for j in worker_jobs(wired) if j.name == "reconciliation"]
        runner = wired.job_runner("worker-1")

        async def one_turn() -> None:
            stop = asyncio.Event()
            task = asyncio.create_task(runner.keep(job, stop))
            while not runner.ran:  # never run: due at once
                await asyncio.sleep(0.02)
            stop.set()
            await task

        asyncio.run(one_turn())
        [done] = wired.reconciliation.runs(before=None, limit=5)
        assert (done.actor, done.checks, done.since) == (
            "scheduler",
            (Check.USAGE,),
            date(2026, 10, 22),
        )
        [turn] = wired.jobs.runs("reconciliation", 5)
        assert (
            turn.outcome == "ok"
            and turn.summary == f"run {done.id}: 0 discrepancies, 0 cases closed"
        )
    finally:
        wired.close()


def test_a_line_whose_meter_is_no_longer_configured_is_left_out_not_a_failure(
    api: TestClient,
    container: Container,
    admin: dict[str, str],
    ingest: dict[str, str],
    clock: FrozenClock,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    billed_november(api, admin, ingest, clock)
    meters = [m for m in TEST_METERS if m["key"] != "api_calls"]
    without = build(make_settings(container.settings.database.url, meters=meters), clock=clock)
    try:
        done = asyncio.run(without.reconcile([Check.USAGE], date(2026, 11, 1), "test"))
        assert (done.checked, done.findings) == ({"usage": 0}, [])
        assert "meters no longer configured were not checked: api_calls" in caplog.text
        with pytest.raises(InvalidField, match="no longer configured"):
            without.billing.line_events(NOV_ARREARS, TIER_2, after_seq=None, limit=10)
    finally:
        without.close()
