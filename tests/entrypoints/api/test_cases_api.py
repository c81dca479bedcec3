"""Exception cases over HTTP: unmapped usage opens one case per tenant and mapping the tenant
resolves it; an undeliverable message becomes a case that can be shown with every attempt,
retried, replayed, resolved or ignored (admin only, reasons kept, audited); /metrics."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from revsync.bootstrap import Container
from revsync.config import Settings
from revsync.domain.delivery import idempotency_key
from revsync.ports.delivery import CaseFilter, NewMessage
from revsync.sandbox.faults import Fault, FaultServer
from tests.conftest import NOW, issue_key, make_settings
from tests.support.delivery import deliver_until, destination, outbox_settings, settled
from tests.support.events import encode, event

BATCH = {"Content-Type": "application/cloudevents-batch+json"}


@pytest.fixture
def target() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


@pytest.fixture
def settings(db_url: str, target: FaultServer) -> Settings:
    return make_settings(db_url, **outbox_settings(destination(target)))


def post_usage(
    api: TestClient, key: dict[str, str], subject: str, count: int, start: int = 0
) -> None:
    events = [
        event(
            f"ev-{subject}-{n}",
            subject=subject,
            type="api.request",
            time=NOW,
            data={"endpoint": "/x"},
        )
        for n in range(start, start + count)
    ]
    response = api.post("/v1/events", content=encode(events), headers={**key, **BATCH})
    assert response.status_code == 200, response.text
    assert response.json()["unmapped"] == count


def cases(api: TestClient, key: dict[str, str], **query: str) -> list[dict[str, Any]]:
    response = api.get("/v1/cases", params=query, headers=key)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_unmapped_usage_is_one_case_per_tenant_until_the_tenant_is_mapped(
    api: TestClient, admin: dict[str, str], ingest: dict[str, str], reader: dict[str, str]
) -> None:
    post_usage(api, ingest, "tenant-new", 3)
    post_usage(api, ingest, "tenant-new", 2, start=3)
    post_usage(api, ingest, "tenant-other", 1)
    found = cases(api, reader, kind="unmapped_usage", status="open")
    assert sorted((c["object"]["id"], c["details"]["unmapped_events"]) for c in found) == [
        ("tenant-new", 5),
        ("tenant-other", 1),
    ]
    new_case = next(c for c in found if c["object"]["id"] == "tenant-new")
    assert new_case["object"]["type"] == "product_tenant"
    body = {
        "name": "New",
        "currency": "EUR",
        "timezone": "UTC",
        "external_refs": {"product": ["tenant-new"]},
    }
    assert api.put("/v1/customers/new", json=body, headers=admin).status_code == 201
    closed = api.get(f"/v1/cases/{new_case['id']}", headers=reader).json()
    assert (closed["status"], closed["reason"]) == ("resolved", "tenant mapped to customer new")
    assert closed["closed_by"].startswith("api_key:")
    assert closed["details"]["unmapped_events"] == 0
    assert [c["object"]["id"] for c in cases(api, reader, status="open")] == ["tenant-other"]


def failed_delivery(container: Container, target: FaultServer) -> None:
    """One message the destination refuses (a delivery case) and one waiting behind it."""
    messages = [
        NewMessage(
            destination="books",
            aggregate="customer:acme",
            kind="invoice.finalized",
            object_type="invoice",
            object_id=name,
            key=idempotency_key("invoice.finalized", name),
            payload={"invoice": name, "total": "10.00"},
            correlation_id="corr-1",
        )
        for name in ("inv-1", "inv-2")
    ]
    with container.unit_of_work() as uow:
        uow.outbox.add(messages, NOW)
        uow.commit()
    target.script(Fault("422"))
    deliver_until(container, lambda: container.cases.find(CaseFilter(), after=None, limit=1) != [])


def test_a_delivery_case_shows_its_message_and_attempts_and_is_retried_by_an_admin(
    api: TestClient,
    admin: dict[str, str],
    reader: dict[str, str],
    container: Container,
    target: FaultServer,
) -> None:
    failed_delivery(container, target)
    [case] = cases(api, reader, kind="delivery")
    assert (case["status"], case["destination"], case["object"], case["correlation_id"]) == (
        "open",
        "books",
        {"type": "invoice", "id": "inv-1"},
        "corr-1",
    )
    shown = api.get(f"/v1/cases/{case['id']}", headers=reader).json()
    assert shown["message"]["payload"] == {"invoice": "inv-1", "total": "10.00"}
    assert shown["message"]["idempotency_key"] == idempotency_key("invoice.finalized", "inv-1")
    assert [(a["number"], a["outcome"], a["status_code"]) for a in shown["attempts"]] == [
        (1, "fatal", 422)
    ]
    # reading is not enough to act
    refused = api.post(f"/v1/cases/{case['id']}/retry", headers=reader)
    assert refused.status_code == 403
    retried = api.post(
        f"/v1/cases/{case['id']}/retry", json={"reason": "fixed the tax code"}, headers=admin
    )
    assert retried.status_code == 200, retried.text
    assert (retried.json()["status"], retried.json()["reason"]) == (
        "retrying",
        "fixed the tax code",
    )
    deliver_until(container, lambda: settled(container))
    after = api.get(f"/v1/cases/{case['id']}", headers=reader).json()
    assert after["status"] == "resolved"
    assert [a["outcome"] for a in after["attempts"]] == ["fatal", "delivered"]
    assert sorted(d["body"]["data"]["invoice"] for d in target.documents()) == ["inv-1", "inv-2"]
    audit = api.get("/v1/audit", params={"limit": "1000"}, headers=admin).json()
    assert [e["action"] for e in audit if e["object_id"] == case["id"]] == ["case.retried"]


def test_an_admin_approves_a_delivery_case_with_a_reason_and_the_message_carries_it(
    api: TestClient,
    admin: dict[str, str],
    reader: dict[str, str],
    container: Container,
    target: FaultServer,
) -> None:
    failed_delivery(container, target)
    post_usage(api, admin, "tenant-x", 1)
    [case] = cases(api, reader, kind="delivery")
    [unmapped] = cases(api, reader, kind="unmapped_usage")
    url = f"/v1/cases/{case['id']}/approve"
    assert api.post(url, json={"reason": "book it"}, headers=reader).status_code == 403
    without_reason = api.post(url, headers=admin)
    assert without_reason.status_code == 422
    assert "reason" in without_reason.text
    not_delivery = api.post(
        f"/v1/cases/{unmapped['id']}/approve", json={"reason": "x"}, headers=admin
    )
    assert not_delivery.status_code == 422
    assert "no message to approve" in not_delivery.text
    approved = api.post(url, json={"reason": "period closed: book it next month"}, headers=admin)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "retrying"
    audit = api.get("/v1/audit", params={"limit": "1000"}, headers=admin).json()
    [approval] = [e for e in audit if e["object_id"] == case["id"]]
    assert (approval["action"], approval["actor"][:8]) == ("case.approved", "api_key:")
    shown = api.get(f"/v1/cases/{case['id']}", headers=reader).json()
    assert shown["message"]["approved_by"] == approval["actor"]
    again = api.post(url, json={"reason": "twice"}, headers=admin)
    assert again.status_code == 422  # only an open case can be approved


def test_closing_a_case_needs_a_reason_and_replay_brings_an_ignored_case_back(
    api: TestClient,
    admin: dict[str, str],
    reader: dict[str, str],
    container: Container,
    target: FaultServer,
) -> None:
    failed_delivery(container, target)
    [case] = cases(api, reader, kind="delivery")
    no_reason = api.post(f"/v1/cases/{case['id']}/ignore", json={}, headers=admin)
    assert (no_reason.status_code, no_reason.json()["error"]["field"]) == (422, "reason")
    ignored = api.post(
        f"/v1/cases/{case['id']}/ignore", json={"reason": "test invoice"}, headers=admin
    )
    assert ignored.json()["status"] == "ignored"
    # the message behind it is no longer held back
    deliver_until(container, lambda: settled(container))
    assert [d["body"]["data"]["invoice"] for d in target.documents()] == ["inv-2"]
    # replaying the destination's cases queues the ignored one again
    nothing = api.post("/v1/cases/replay", json={}, headers=admin)
    assert (nothing.status_code, nothing.json()["error"]["field"]) == (422, "selection")
    replayed = api.post(
        "/v1/cases/replay", json={"destination": "books", "reason": "resend"}, headers=admin
    )
    assert replayed.json() == {"replayed": [case["id"]]}
    deliver_until(container, lambda: settled(container))
    assert sorted(d["body"]["data"]["invoice"] for d in target.documents()) == ["inv-1", "inv-2"]
    assert api.get(f"/v1/cases/{case['id']}", headers=reader).json()["status"] == "resolved"
    missing = api.post("/v1/cases/case_nope/resolve", json={"reason": "x"}, headers=admin)
    assert missing.status_code == 404


def test_metrics_need_a_metrics_key_and_report_the_outbox_circuits_and_cases(
    api: TestClient,
    reader: dict[str, str],
    ingest: dict[str, str],
    container: Container,
    target: FaultServer,
) -> None:
    assert api.get("/metrics").status_code == 401
    assert api.get("/metrics", headers=reader).status_code == 403  # reading data is not scraping
    failed_delivery(container, target)
    post_usage(api, ingest, "tenant-new", 2)
    response = api.get("/metrics", headers=issue_key(container, "metrics"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text

    def value(metric: str, **labels: str) -> float:
        inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
        match = re.search(rf"^{metric}{{{re.escape(inner)}}} (\S+)$", text, re.M)
        assert match, f"{metric}{{{inner}}} missing"
        return float(match.group(1))

    assert value("revsync_outbox_messages", destination="books", status="failed") == 1
    assert value("revsync_outbox_messages", destination="books", status="pending") == 1
    assert value("revsync_outbox_messages", destination="books", status="delivered") == 0
    assert value("revsync_outbox_attempts_total", destination="books", outcome="fatal") == 1
    assert value("revsync_outbox_attempts_total", destination="books", outcome="delivered") == 0
    assert value("revsync_outbox_oldest_pending_seconds", destination="books") >= 0
    assert value("revsync_outbox_circuit_state", destination="books", state="closed") == 1
    assert value("revsync_outbox_circuit_state", destination="books", state="open") == 0
    assert value("revsync_cases_open", kind="delivery") == 1
    assert value("revsync_cases_open", kind="unmapped_usage") == 1
