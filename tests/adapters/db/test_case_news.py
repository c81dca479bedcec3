"""Exception cases announce their opening and closing (``case.opened``, ``case.resolved``) in
the transaction that opens or closes them, on SQLite and PostgreSQL, by every path that does:
a failed message's case (opened, updated, closed, opened again), keyed cases (billing), a
destination's outage case, and an unmapped tenant's case opened by ingestion and closed when
the tenant is mapped. A case brought up to date while open announces nothing more."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from revsync.adapters.db.migrate import upgrade
from revsync.adapters.db.tables import outbox_messages
from revsync.bootstrap import Container, build
from revsync.domain.delivery import CaseKind, CaseStatus
from revsync.entrypoints.api.app import create_app
from revsync.ports.delivery import Case, NewMessage
from revsync.schemas.event_payloads_v1 import validate_payload
from tests.conftest import issue_key, make_settings
from tests.support.clock import FrozenClock, utc
from tests.support.events import encode, event

NOW = utc(2026, 12, 4, 12)
HOOK = {
    "name": "ops",
    "url": "https://hooks.example.com/cases",
    "events": ["case.opened", "case.resolved"],
}


@pytest.fixture
def container(any_db_url: str) -> Iterator[Container]:
    settings = make_settings(any_db_url, outbox={"destinations": [HOOK]})
    wired = build(settings, clock=FrozenClock(NOW))
    upgrade(wired.engine)
    yield wired
    wired.close()


def announced(container: Container) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, case id, payload) of every case announcement, in order."""
    m = outbox_messages.c
    with container.engine.connect() as conn:
        rows = conn.execute(
            sa.select(m.kind, m.object_id, m.payload).where(m.destination == "ops").order_by(m.id)
        ).all()
    for row in rows:
        validate_payload(row.kind, row.payload)
    return [(row.kind, row.object_id, row.payload) for row in rows]


def kinds(container: Container) -> list[tuple[str, str]]:
    return [(kind, case_id) for kind, case_id, _ in announced(container)]


def case(case_id: str, kind: CaseKind = CaseKind.DELIVERY, **fields: Any) -> Case:
    values: dict[str, Any] = {
        "object_type": "invoice",
        "object_id": "inv-1",
        "destination": "books",
        "last_error": "HTTP 422: refused",
        **fields,
    }
    values.setdefault("opened_at", NOW)
    values.setdefault("updated_at", NOW)
    return Case(id=case_id, kind=kind, status=CaseStatus.OPEN, **values)


def test_a_message_case_announces_opening_closing_and_opening_again(
    container: Container,
) -> None:
    with container.unit_of_work() as uow:
        failed = NewMessage(
            "books", "customer:acme", "invoice.finalized", "invoice", "inv-1", "k1", {}
        )
        uow.outbox.add([failed], NOW)
        uow.commit()
    with container.engine.connect() as conn:
        message_id = conn.execute(sa.select(outbox_messages.c.id)).scalar_one()
    with container.unit_of_work() as uow:
        uow.cases.open_for_message(case("case_m1", message_id=message_id))
        # failing again while open: brought up to date, nothing announced
        uow.cases.open_for_message(
            case("case_m1b", message_id=message_id, updated_at=NOW + timedelta(minutes=1))
        )
        uow.cases.set_status("case_m1", CaseStatus.RESOLVED, NOW, by="key:ops", reason="fixed")
        # closed twice (an operator, then a sweep): announced once
        uow.cases.set_status("case_m1", CaseStatus.RESOLVED, NOW, by="key:ops", reason="again")
        uow.cases.open_for_message(
            case("case_m1c", message_id=message_id, updated_at=NOW + timedelta(minutes=5))
        )
        uow.commit()
    assert kinds(container) == [
        ("case.opened", "case_m1"),
        ("case.resolved", "case_m1"),
        ("case.opened", "case_m1"),
    ]
    opened, resolved, _ = announced(container)
    assert opened[2] == {
        "case_id": "case_m1",
        "kind": "delivery",
        "status": "open",
        "object_type": "invoice",
        "object_id": "inv-1",
        "destination": "books",
        "error": "HTTP 422: refused",
        "opened_at": NOW.isoformat(),
        "closed_at": None,
        "closed_by": None,
        "reason": None,
    }
    assert resolved[2] | {"reason": None} == opened[2] | {
        "status": "resolved",
        "closed_at": NOW.isoformat(),
        "closed_by": "key:ops",
    }
    assert resolved[2]["reason"] == "fixed"


def test_keyed_and_outage_cases_announce_once_while_open(container: Container) -> None:
    billing = case(
        "case_b1",
        CaseKind.BILLING,
        object_type="subscription",
        object_id="s-1",
        destination=None,
        last_error="no price",
    )
    outage = case(
        "case_o1",
        CaseKind.OUTAGE,
        object_type="destination",
        object_id="books",
        last_error="unavailable since 2026-12-01",
    )
    with container.unit_of_work() as uow:
        assert uow.cases.open_billing(billing) == "case_b1"
        assert uow.cases.open_billing(replace(billing, id="case_b2", last_error="still")) == (
            "case_b1"
        )
        uow.cases.open_outage(outage, [])
        uow.cases.open_outage(replace(outage, id="case_o2"), [])
        assert uow.cases.settle_billing({"s-1"}, NOW, "system:billing", "billed") == ["case_b1"]
        uow.cases.set_status("case_o1", CaseStatus.IGNORED, NOW, by="key:ops", reason="gone")
        uow.commit()
    assert kinds(container) == [
        ("case.opened", "case_b1"),
        ("case.opened", "case_o1"),
        ("case.resolved", "case_b1"),
        ("case.resolved", "case_o1"),
    ]
    assert announced(container)[-1][2]["status"] == "ignored"


def test_an_unmapped_tenant_case_is_announced_by_ingestion_and_closed_by_the_mapping(
    container: Container,
) -> None:
    with TestClient(create_app(container)) as api:
        admin = issue_key(container, "admin")
        ingest = {
            **issue_key(container, "ingest"),
            "Content-Type": "application/cloudevents-batch+json",
        }
        batch = [event(f"e-{n}", subject="t-new", time=NOW - timedelta(hours=1)) for n in range(3)]
        assert api.post("/v1/events", content=encode(batch), headers=ingest).status_code == 200
        more = [event("e-9", subject="t-new", time=NOW - timedelta(hours=1))]
        assert api.post("/v1/events", content=encode(more), headers=ingest).status_code == 200
        body = {"name": "New Co", "currency": "EUR", "external_refs": {"product": ["t-new"]}}
        assert api.put("/v1/customers/new", json=body, headers=admin).status_code == 201
    found = announced(container)
    assert [(kind, payload["kind"], payload["object_id"]) for kind, _, payload in found] == [
        ("case.opened", "unmapped_usage", "t-new"),
        ("case.resolved", "unmapped_usage", "t-new"),
    ]
    assert found[0][1] == found[1][1]


def test_the_case_of_an_undeliverable_case_announcement_is_not_announced(
    container: Container,
) -> None:
    """Otherwise a destination refusing case announcements would get one more for each it
    refused, without end."""
    with container.unit_of_work() as uow:
        uow.cases.open_billing(case("case_b9", CaseKind.BILLING, object_id="s-9"))
        uow.commit()
    [(_, _, payload)] = announced(container)
    with container.engine.connect() as conn:
        message_id = conn.execute(
            sa.select(outbox_messages.c.id).where(outbox_messages.c.destination == "ops")
        ).scalar_one()
    refused = case("case_r1", object_type="case", object_id=payload["case_id"], destination="ops")
    with container.unit_of_work() as uow:
        uow.cases.open_for_message(replace(refused, message_id=message_id))
        uow.cases.set_status("case_r1", CaseStatus.IGNORED, NOW, by="key:ops", reason="noise")
        uow.commit()
    assert kinds(container) == [("case.opened", "case_b9")]
