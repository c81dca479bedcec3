"""Usage in from NATS JetStream: ``revsync worker`` reads the events a product publishes, one
CloudEvent per message, stores each once (a retried publish, a redelivery after the worker was
SIGKILLed between the commit and the acknowledgement) and dead-letters what is not a CloudEvent,
leaving nothing pending on the consumer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats
import pytest
import sqlalchemy as sa
import yaml

from revsync.adapters.db.migrate import upgrade
from revsync.adapters.db.tables import dead_letters, usage_events
from revsync.bootstrap import build
from revsync.config import load_settings
from tests.conftest import TEST_METERS
from tests.support.nats import Stream, own_stream
from tests.support.services import NATS_URL
from tests.support.workers import run_worker

EVENTS = 600
BATCH = 100


@pytest.fixture
def stream() -> Iterator[Stream]:
    with own_stream() as made:
        yield made


def write_config(directory: Path, stream: Stream) -> Path:
    config = {
        "database": {"url": f"sqlite:///{directory / 'revsync.db'}"},
        "logging": {"level": "WARNING", "format": "console"},
        "meters": TEST_METERS,
        "worker": {"poll_seconds": 0.05},
        "usage_stream": {
            "nats_url": NATS_URL,
            "stream": stream.name,
            "subject": f"{stream.prefix}.>",
            "durable": "revsync-test",
            "batch": BATCH,
            "max_wait_seconds": 0.2,
            "ack_wait_seconds": 2,
        },
    }
    path = directory / "revsync.yaml"
    path.write_text(yaml.safe_dump(config))
    container = build(load_settings(path))
    try:
        upgrade(container.engine)
    finally:
        container.close()
    return path


def usage_event(n: int) -> bytes:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": f"e-{n:05d}",
            "source": "product",
            "type": "api.request",
            "subject": "t-acme",
            "time": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
            "data": {"calls": 1},
        }
    ).encode()


def publish(stream: Stream, bodies: list[bytes]) -> None:
    async def send() -> None:
        client = await nats.connect(NATS_URL)
        try:
            js = client.jetstream()
            await js.add_stream(name=stream.name, subjects=[f"{stream.prefix}.>"])
            for n, body in enumerate(bodies):
                await js.publish(f"{stream.prefix}.api", body)
                if n % 200 == 0:
                    await asyncio.sleep(0)
        finally:
            await client.close()

    asyncio.run(send())


def pending(stream: Stream) -> tuple[int, int]:
    """The consumer's messages not delivered yet, and delivered but not acknowledged."""

    async def ask() -> tuple[int, int]:
        client = await nats.connect(NATS_URL)
        try:
            info = await client.jetstream().consumer_info(stream.name, "revsync-test")
            return info.num_pending, info.num_ack_pending
        finally:
            await client.close()

    return asyncio.run(ask())


def counts(config: Path) -> tuple[int, int, int]:
    """Stored usage events, distinct event ids among them, dead letters."""
    engine = sa.create_engine(load_settings(config).database.url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(sa.select(sa.func.count()).select_from(usage_events)).scalar()
            distinct = conn.execute(
                sa.select(sa.func.count(sa.distinct(usage_events.c.event_id)))
            ).scalar()
            letters = conn.execute(sa.select(sa.func.count()).select_from(dead_letters)).scalar()
    finally:
        engine.dispose()
    return int(stored or 0), int(distinct or 0), int(letters or 0)


def test_usage_from_the_stream_is_stored_once_across_a_kill_before_the_acknowledgement(
    stream: Stream, tmp_path: Path
) -> None:
    config = write_config(tmp_path, stream)
    bodies = [usage_event(n) for n in range(EVENTS)]
    bodies += bodies[:50]  # a producer that published a batch twice
    bodies += [b"not json", b'{"specversion": "1.0", "id": "x"}', b"[1, 2]"]  # not CloudEvents
    publish(stream, bodies)
    # SIGKILLed after its third batch was committed, before it was acknowledged
    assert run_worker(config, "usage_stream.before_ack=kill:1@2", None) == -9
    stored, _, _ = counts(config)
    waiting, unacknowledged = pending(stream)
    assert stored > 0 and unacknowledged > 0  # the last batch stored, not acknowledged
    assert waiting > 0  # and the rest not read yet
    # the batch left unacknowledged comes back after ack_wait
    assert run_worker(config, None, lambda: pending(stream) == (0, 0)) == 0
    assert counts(config) == (EVENTS, EVENTS, 3)
    assert pending(stream) == (0, 0)
