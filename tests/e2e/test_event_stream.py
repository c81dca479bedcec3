"""revsync's event stream against a real NATS JetStream: each outbox message of the ``events``
destination becomes one CloudEvent on ``<prefix>.<type>``, stored once under its idempotency
key (``Nats-Msg-Id``) — also when the relay is SIGKILLed between publishing and recording it,
and the next worker sends it again."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from cloudevents.core.formats.json import JSONFormat

from revsync.adapters.connectors.events_stream import NatsEventStream
from revsync.adapters.db.migrate import upgrade
from revsync.adapters.db.tables import outbox_messages
from revsync.bootstrap import build
from revsync.config import load_settings
from revsync.domain.delivery import STREAM_EVENTS, ErrorClass, OutboundMessage, idempotency_key
from revsync.ports.delivery import NewMessage
from tests.support.nats import Stream, own_stream, stored
from tests.support.services import NATS_URL
from tests.support.workers import run_worker


@pytest.fixture
def stream() -> Iterator[Stream]:
    with own_stream() as made:
        yield made


def message(n: int, kind: str = "invoice.paid") -> OutboundMessage:
    return OutboundMessage(
        id=n,
        destination="events",
        aggregate=f"customer:c{n % 7}",
        kind=kind,
        object_type="invoice",
        object_id=f"inv-{n}",
        key=idempotency_key(kind, f"inv-{n}"),
        payload={"invoice_id": f"inv-{n}", "total": "12.30"},
        correlation_id="run-1",
        created_at=datetime(2026, 11, 30, 12, 0, n % 60, tzinfo=UTC),
        attempts=1,
        unsure=False,
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )


def publisher(stream: Stream, url: str = NATS_URL) -> NatsEventStream:
    return NatsEventStream(
        url,
        stream=stream.name,
        subject_prefix=stream.prefix,
        source="revsync-test",
        duplicate_window_seconds=3600,
        max_age_days=1,
        timeout=5,
    )


def test_an_event_is_a_cloudevent_on_its_subject_stored_once_when_sent_twice(
    stream: Stream,
) -> None:
    async def send_twice() -> tuple[Any, Any]:
        events = publisher(stream)
        try:
            return await events.send(message(1)), await events.send(message(1))
        finally:
            await events.aclose()

    first, again = asyncio.run(send_twice())
    assert (first.delivered, first.found_by_key) == (True, False)
    assert (again.delivered, again.found_by_key, again.remote_id) == (True, True, first.remote_id)
    [(subject, headers, event)] = stored(stream)
    key = idempotency_key("invoice.paid", "inv-1")
    assert subject == f"{stream.prefix}.invoice.paid"
    assert headers["Nats-Msg-Id"] == key
    assert headers["Content-Type"] == "application/cloudevents+json"
    assert event == {
        "specversion": "1.0",
        "id": key,
        "source": "revsync-test",
        "type": "invoice.paid",
        "subject": "invoice/inv-1",
        "time": "2026-11-30T12:00:01Z",
        "datacontenttype": "application/json",
        "data": {"invoice_id": "inv-1", "total": "12.30"},
        "correlationid": "run-1",
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    }
    # the CloudEvents SDK reads it as a v1.0 event, extensions included
    parsed = JSONFormat().read(None, json.dumps(event))
    assert (parsed.get_specversion(), parsed.get_id(), parsed.get_type()) == (
        "1.0",
        key,
        "invoice.paid",
    )
    assert parsed.get_time() == datetime(2026, 11, 30, 12, 0, 1, tzinfo=UTC)
    assert parsed.get_extension("correlationid") == "run-1"
    assert parsed.get_data() == event["data"]


def test_nats_away_is_unavailable_and_nothing_was_sent(stream: Stream) -> None:
    async def send() -> Any:
        events = publisher(stream, "nats://127.0.0.1:9")  # nothing listens there
        try:
            return await events.send(message(2))
        finally:
            await events.aclose()

    attempt = asyncio.run(send())
    assert (attempt.delivered, attempt.error_class, attempt.ambiguous) == (
        False,
        ErrorClass.UNAVAILABLE,
        False,
    )
    assert attempt.reason.startswith("NATS: ")


# --- the relay in a worker process, killed between publishing and recording ----------------

MESSAGES = 300


def write_config(directory: Path, stream: Stream) -> Path:
    config = {
        "database": {"url": f"sqlite:///{directory / 'revsync.db'}"},
        "logging": {"level": "WARNING", "format": "console"},
        "worker": {"lease_seconds": 2, "poll_seconds": 0.05},
        "events": {
            "nats_url": NATS_URL,
            "stream": stream.name,
            "subject_prefix": stream.prefix,
            "timeout_seconds": 1,
            "retry": {"base_seconds": 0.05, "max_delay_seconds": 0.5},
        },
    }
    path = directory / "revsync.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def enqueue(config: Path) -> list[str]:
    container = build(load_settings(config))
    try:
        upgrade(container.engine)
        kinds = list(STREAM_EVENTS)
        messages = [
            NewMessage(
                destination="events",
                aggregate=f"customer:c{n % 20}",
                kind=kinds[n % len(kinds)],
                object_type="invoice",
                object_id=f"inv-{n:04d}",
                key=idempotency_key(kinds[n % len(kinds)], f"inv-{n:04d}"),
                payload={"invoice_id": f"inv-{n:04d}"},
            )
            for n in range(MESSAGES)
        ]
        with container.unit_of_work() as uow:
            uow.outbox.add(messages, datetime.now(UTC))
            uow.commit()
        return [m.key for m in messages]
    finally:
        container.close()


def unfinished(config: Path) -> int:
    engine = sa.create_engine(load_settings(config).database.url)
    try:
        with engine.connect() as conn:
            m = outbox_messages.c
            query = sa.select(sa.func.count()).where(m.status.in_(("pending", "in_flight")))
            return int(conn.execute(query).scalar_one())
    finally:
        engine.dispose()


def test_a_relay_killed_between_publishing_and_recording_leaves_each_event_once(
    stream: Stream, tmp_path: Path
) -> None:
    config = write_config(tmp_path, stream)
    keys = enqueue(config)
    # SIGKILLed right after the 121st publish was acknowledged, before it was recorded
    assert run_worker(config, "relay.after_send=kill:1@120", None) == -9
    assert unfinished(config) > 0
    assert run_worker(config, None, lambda: unfinished(config) == 0) == 0
    events = stored(stream)
    ids = [event["id"] for _, _, event in events]
    assert sorted(ids) == sorted(keys)  # every event, each once
    assert {subject for subject, _, _ in events} == {
        f"{stream.prefix}.{kind}" for kind in STREAM_EVENTS
    }
    engine = sa.create_engine(load_settings(config).database.url)
    try:
        with engine.connect() as conn:
            m = outbox_messages.c
            statuses = conn.execute(sa.select(m.status, sa.func.count()).group_by(m.status)).all()
    finally:
        engine.dispose()
    assert dict(statuses) == {"delivered": MESSAGES}
