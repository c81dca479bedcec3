"""Usage thresholds run by ``revsync worker`` in its own process: a crossing is recorded,
announced and billed in one transaction, so a worker SIGKILLed before that commit leaves
nothing, the next worker fires it, and a replay over all the usage fires nothing again — the
event stream on NATS holds each crossing once, and one interim invoice exists."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats.js.errors
import pytest
import sqlalchemy as sa
import yaml

from revsync.adapters.db.migrate import upgrade
from revsync.adapters.db.tables import (
    invoices,
    threshold_crossings,
    usage_events,
    usage_watermarks,
)
from revsync.application.customers import PutCustomer
from revsync.application.ingestion import IngestContext
from revsync.application.subscriptions import CreateSubscription
from revsync.bootstrap import Container, apply_configuration, build
from revsync.config import load_settings
from revsync.domain.identity import System
from revsync.schemas.cloudevents_v1 import decode_items
from tests.conftest import TEST_METERS
from tests.support.nats import Stream, own_stream, stored
from tests.support.workers import run_worker

PLAN: dict[str, Any] = {
    "code": "metered",
    "name": "Metered",
    "currency": "EUR",
    "interval": "month",
    "charges": [
        {
            "key": "calls",
            "model": "per_unit",
            "description": "API calls",
            "meter": "api_calls",
            "amount": "0.50",
        }
    ],
    "thresholds": [
        {"key": "calls-40", "kind": "usage", "meter": "api_calls", "value": "40"},
        {"key": "spend-25", "kind": "spend", "value": "25", "invoice": True},
    ],
}


@pytest.fixture
def stream() -> Iterator[Stream]:
    with own_stream() as made:
        yield made


def configure(directory: Path, stream: Stream) -> Path:
    config = {
        "database": {"url": f"sqlite:///{directory / 'revsync.db'}"},
        "logging": {"level": "WARNING", "format": "console"},
        "meters": TEST_METERS,
        "plans": [PLAN],
        # a lease that a killed worker leaves soon runs out
        "worker": {"poll_seconds": 0.05, "job_lease_seconds": 3},
        "thresholds": {"poll_seconds": 0.1},
        "events": {**stream.settings(), "events": ["usage.threshold_crossed", "invoice.finalized"]},
    }
    path = directory / "revsync.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def open_container(config: Path) -> Container:
    container = build(load_settings(config))
    upgrade(container.engine)
    apply_configuration(container, "test")
    return container


#: when the calls were made (a minute before the test: in the open usage period, unless the test
#: starts in the first minute of a month)
WHEN = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()


def ingest(container: Container, count: int) -> None:
    when = WHEN
    items = [
        {
            "specversion": "1.0",
            "id": f"e-{n}",
            "source": "product",
            "type": "api.request",
            "subject": "t-acme",
            "time": when,
        }
        for n in range(count)
    ]
    raws = [json.dumps(i).encode() for i in items]
    report = container.ingestion.ingest(decode_items(raws), IngestContext("api", "test"))
    assert report.rejected == []


def rows(container: Container, table: sa.Table) -> list[Any]:
    with container.engine.connect() as conn:
        return list(conn.execute(sa.select(table)))


def crossed_events(stream: Stream) -> list[dict[str, Any]]:
    try:
        found = stored(stream)
    except nats.js.errors.NotFoundError:  # the worker has not made the stream yet
        return []
    return [e for _, _, e in found if e["type"] == "usage.threshold_crossed"]


def test_a_worker_killed_before_the_commit_fires_nothing_and_the_next_fires_each_once(
    tmp_path: Path, stream: Stream
) -> None:
    config = configure(tmp_path, stream)
    container = open_container(config)
    try:
        today = datetime.fromisoformat(WHEN).date()
        container.customers.put(
            PutCustomer("acme", "Acme", "EUR", "UTC", None, {System.PRODUCT: ["t-acme"]}, "test")
        )
        container.subscriptions.create(
            CreateSubscription("s1", "acme", "metered", today.replace(day=1), "test")
        )
        ingest(container, 60)  # 60 calls, 30.00: past both thresholds

        status = run_worker(config, "thresholds.before_commit=kill", None)
        assert status == -9
        assert rows(container, threshold_crossings) == []
        assert [i for i in rows(container, invoices) if i.kind == "interim"] == []

        run_worker(config, None, lambda: len(crossed_events(stream)) == 2)
        found = sorted(
            (r.threshold_key, str(r.observed)) for r in rows(container, threshold_crossings)
        )
        assert found == [("calls-40", "60"), ("spend-25", "30.00")]
        [interim] = [i for i in rows(container, invoices) if i.kind == "interim"]
        assert (interim.total, interim.status) == (30, "finalized")

        # a replay: the watcher reads all the usage again, and a little more arrives
        with container.engine.begin() as conn:
            conn.execute(sa.update(usage_watermarks).values(seq=0))
        ingest(container, 61)
        newest = max(r.seq for r in rows(container, usage_events))

        def read_again() -> bool:
            return [r.seq for r in rows(container, usage_watermarks)] == [newest]

        run_worker(config, None, read_again)
    finally:
        container.close()
    events = crossed_events(stream)
    assert sorted(e["data"]["threshold"]["key"] for e in events) == ["calls-40", "spend-25"]
    assert len({e["id"] for e in events}) == 2
    spend = next(e["data"] for e in events if e["data"]["threshold"]["kind"] == "spend")
    assert (spend["observed"], spend["interim_invoice_id"]) == ("30.00", interim.id)
    finalized = [e for _, _, e in stored(stream) if e["type"] == "invoice.finalized"]
    assert [e["data"]["kind"] for e in finalized] == ["interim"]
