"""The KPIs a query answers at once, on SQLite and PostgreSQL, from rows written as the rest of
revsync writes them: the ERP posting delay, sync completeness, renewals whose adoption signals
the CRM does not hold, replays and job runs; and the event-lag histogram counted once when two
processes count at the same time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from revsync.adapters.db.tables import (
    audit_log,
    crm_signals,
    customer_refs,
    customers,
    job_runs,
    outbox_messages,
    subscriptions,
)
from revsync.application.kpis import Kpis
from revsync.bootstrap import Container, build
from revsync.domain.kpis import JobStat, KpiPolicy, LagHistogram
from tests.conftest import make_settings
from tests.support.clock import FrozenClock, utc

NOW = utc(2026, 12, 4, 12)


@pytest.fixture
def container(any_db_url: str) -> Iterator[Container]:
    wired = build(make_settings(any_db_url), clock=FrozenClock(NOW))
    yield wired
    wired.close()


def kpis(container: Container) -> Kpis:
    return Kpis(
        container.unit_of_work,
        container.clock,
        KpiPolicy(window=timedelta(hours=24), renewal_window=timedelta(days=90)),
        dict,
        (),
        ("erp", "crm", "books"),
        erp_destination="erp",
        crm_destination="crm",
        posted_kinds=("invoice.finalized", "credit_note.issued"),
    )


def message(
    n: int, destination: str, status: str, created: datetime, **fields: Any
) -> dict[str, Any]:
    return {
        "destination": destination,
        "aggregate": fields.pop("aggregate", f"agg-{n}"),
        "kind": fields.pop("kind", "invoice.finalized"),
        "object_type": fields.pop("object_type", "invoice"),
        "object_id": f"obj-{n}",
        "idempotency_key": f"key-{n}",
        "payload": fields.pop("payload", {}),
        "created_at": created,
        "status": status,
        "round_started_at": created,
        "next_attempt_at": created,
        **fields,
    }


def customer(cid: str, crm: str | None) -> list[tuple[sa.Table, dict[str, Any]]]:
    rows: list[tuple[sa.Table, dict[str, Any]]] = [
        (
            customers,
            {
                "id": cid,
                "name": cid,
                "currency": "EUR",
                "timezone": "UTC",
                "created_at": NOW,
                "updated_at": NOW,
            },
        )
    ]
    if crm is not None:
        rows.append((customer_refs, {"system": "crm", "value": crm, "customer_id": cid}))
    return rows


def subscription(sid: str, cid: str, renewal: date | None) -> tuple[sa.Table, dict[str, Any]]:
    return subscriptions, {
        "id": sid,
        "customer_id": cid,
        "anchor": date(2026, 1, 1),
        "interval": "month",
        "usage_interval": "month",
        "include_children": False,
        "renewal_date": renewal,
        "created_at": NOW,
        "updated_at": NOW,
    }


def test_posting_delay_completeness_renewals_replays_and_jobs(container: Container) -> None:
    day = timedelta(days=1)
    rows: list[tuple[sa.Table, dict[str, Any]]] = [
        # ERP: in the window 2 of 4 finished; the oldest unfinished posting is from 2 December
        (outbox_messages, message(1, "erp", "delivered", NOW - 2 * day)),  # before the window
        (outbox_messages, message(2, "erp", "delivered", NOW - timedelta(hours=3))),
        (outbox_messages, message(3, "erp", "skipped", NOW - timedelta(hours=2))),
        (outbox_messages, message(4, "erp", "failed", NOW - timedelta(hours=1))),
        (outbox_messages, message(8, "erp", "pending", NOW - timedelta(minutes=30))),
        (outbox_messages, message(5, "erp", "pending", NOW - 2 * day, kind="credit_note.issued")),
        # a message of another kind posts nothing: its age is not the posting delay
        (outbox_messages, message(6, "erp", "pending", NOW - 9 * day, kind="invoice.voided")),
        # CRM: renewals within 90 days — a has signals, b has none, c's wait in a message;
        # d renews after the window, e is not in the CRM
        *customer("a", "001A"),
        *customer("b", "001B"),
        *customer("c", "001C"),
        *customer("d", "001D"),
        *customer("e", None),
        subscription("sa", "a", date(2027, 1, 15)),
        subscription("sb", "b", date(2027, 2, 1)),
        subscription("sb2", "b", date(2027, 2, 20)),  # one customer, counted once
        subscription("sc", "c", date(2026, 12, 20)),
        subscription("sd", "d", date(2027, 6, 1)),
        subscription("se", "e", date(2027, 1, 1)),
        (crm_signals, {"customer_id": "a", "digest": "x", "values": {}, "pushed_at": NOW}),
        (crm_signals, {"customer_id": "c", "digest": "y", "values": {}, "pushed_at": NOW}),
        (
            outbox_messages,
            message(
                7,
                "crm",
                "pending",
                NOW,
                kind="signals.updated",
                object_type="signals",
                payload={"accounts": [{"customer_id": "c"}]},
            ),
        ),
        # replays, and other audit entries that are none
        *[(audit_log, audit(n, "case.replayed")) for n in (1, 2)],
        (audit_log, audit(3, "schema.quarantine_released")),
        (audit_log, audit(4, "case.retried")),
        # jobs: billing ended well twice (the last at 11:00), then failed; erp_sync never did
        *[
            (job_runs, run("billing", NOW - timedelta(hours=h), outcome))
            for h, outcome in ((3, "ok"), (1, "ok"), (0, "failed"))
        ],
        (job_runs, run("erp_sync", NOW - timedelta(hours=2), "failed")),
    ]
    with container.engine.begin() as conn:
        for table, row in rows:
            conn.execute(sa.insert(table).values(row))

    report = kpis(container).read()
    assert report.erp_posting_delay_seconds == (2 * day).total_seconds()
    assert report.sync_completeness == {"books": 1.0, "crm": 0.0, "erp": 0.5}
    assert report.renewals_missing_adoption == 2  # b (no signals) and c (still waiting)
    assert report.replays == {"delivery": 2, "quarantine": 1}
    assert report.jobs == [
        JobStat("billing", NOW - timedelta(hours=1) + timedelta(minutes=1), ok=2, failed=1),
        JobStat("erp_sync", None, ok=0, failed=1),
    ]
    assert report.unmapped_tenants == 0 and report.measurement is None


def audit(n: int, action: str) -> dict[str, Any]:
    return {
        "at": NOW,
        "actor": "test",
        "action": action,
        "object_type": "case",
        "object_id": f"case-{n}",
        "prev_hash": "0" * 64,
        "hash": f"{n:064d}",
    }


def run(name: str, started: datetime, outcome: str) -> dict[str, Any]:
    return {
        "name": name,
        "owner": "test",
        "started_at": started,
        "finished_at": started + timedelta(minutes=1),
        "outcome": outcome,
    }


def test_the_lag_histogram_counts_each_event_once_when_two_count_at_once(
    container: Container,
) -> None:
    store_kpis = kpis(container)
    assert store_kpis.count_lag() == 0
    with container.unit_of_work() as uow:
        # a process that read the histogram at cursor 0 stores its count...
        assert uow.kpis.save_lag(LagHistogram([1] + [0] * 11, 5_000_000, 1), counted_from=0)
        uow.commit()
    with container.unit_of_work() as uow:
        # ...and one that read it at the same moment finds it moved and stores nothing
        assert not uow.kpis.save_lag(LagHistogram([2] + [0] * 11, 9_000_000, 1), counted_from=0)
        uow.commit()
    with container.unit_of_work(write=False) as uow:
        stored = uow.kpis.lag_histogram()
    assert (stored.counts[0], stored.sum_us, stored.cursor_seq) == (1, 5_000_000, 1)
