"""``revsync events tail`` against a real NATS JetStream: events published by revsync's own
publisher (``NatsEventStream``) come out one CloudEvent a line, as stored, in stream order;
``--type``, ``--from-seq``, ``--since`` and ``--count`` choose which; ``--no-follow`` stops once
caught up; the consumer is gone afterwards; a NATS that does not answer is one line and 69."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
import pytest
import yaml
from nats.js.errors import NotFoundError
from typer.testing import CliRunner, Result

from revsync.adapters.connectors.events_stream import NatsEventStream
from revsync.domain.delivery import OutboundMessage, idempotency_key
from revsync.entrypoints.cli.main import app
from revsync.schemas.events_v1 import cloud_event
from tests.support.services import NATS_URL, require_nats

runner = CliRunner()
SOURCE = "revsync-test"


@dataclass(frozen=True)
class Stream:
    """A stream of the test's own (unique name and subject prefix) and a config naming it."""

    name: str
    prefix: str
    config: Path


@pytest.fixture
def stream(tmp_path: Path) -> Iterator[Stream]:
    require_nats()
    token = uuid.uuid4().hex[:12]
    made = Stream(f"TAIL_{token}", f"tail{token}.events", tmp_path / "revsync.yaml")
    write_config(made.config, NATS_URL, made.name, made.prefix)
    yield made
    asyncio.run(_delete(made.name))


def write_config(path: Path, url: str | None, stream: str, prefix: str) -> None:
    events: dict[str, Any] = {"stream": stream, "subject_prefix": prefix}
    if url is not None:
        events["nats_url"] = url
    path.write_text(yaml.safe_dump({"events": events}))


async def _delete(name: str) -> None:
    client = await nats.connect(NATS_URL)
    try:
        with contextlib.suppress(NotFoundError):
            await client.jetstream().delete_stream(name)
    finally:
        await client.close()


def message(n: int, kind: str = "invoice.paid") -> OutboundMessage:
    return OutboundMessage(
        id=n,
        destination="events",
        aggregate=f"customer:c{n}",
        kind=kind,
        object_type="invoice",
        object_id=f"inv-{n}",
        key=idempotency_key(kind, f"inv-{n}"),
        payload={"invoice_id": f"inv-{n}", "total": "12.30"},
        correlation_id=f"run-{n}",
        created_at=datetime(2026, 11, 30, 12, 0, n, tzinfo=UTC),
        attempts=1,
        unsure=False,
    )


def publish(stream: Stream, *messages: OutboundMessage) -> None:
    """Send through revsync's publisher, so the wire is exactly revsync's."""

    async def send() -> None:
        events = NatsEventStream(
            NATS_URL,
            stream=stream.name,
            subject_prefix=stream.prefix,
            source=SOURCE,
            duplicate_window_seconds=3600,
            max_age_days=1,
            timeout=5,
        )
        try:
            for each in messages:
                attempt = await events.send(each)
                assert attempt.delivered, attempt
        finally:
            await events.aclose()

    asyncio.run(send())


def stream_state(stream: Stream) -> tuple[list[bytes], int]:
    """The stored messages' data in order, and the number of consumers of the stream."""

    async def read() -> tuple[list[bytes], int]:
        client = await nats.connect(NATS_URL)
        try:
            js = client.jetstream()
            info = await js.stream_info(stream.name)
            data = []
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                stored = await js.get_msg(stream.name, seq)
                assert stored.data is not None
                data.append(stored.data)
            return data, info.state.consumer_count
        finally:
            await client.close()

    return asyncio.run(read())


def tail(stream: Stream, *options: str) -> Result:
    return runner.invoke(app, ["events", "tail", "--config", str(stream.config), *options])


def events_of(result: Result) -> list[dict[str, Any]]:
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def expected(*messages: OutboundMessage) -> list[dict[str, Any]]:
    return [cloud_event(each, SOURCE) for each in messages]


MIXED = (
    message(1, "invoice.posted"),
    message(2, "invoice.paid"),
    message(3, "subscription.amended"),
    message(4, "invoice.paid"),
    message(5, "invoice.posted"),
)


def test_no_follow_prints_every_event_as_stored_in_order_and_leaves_no_consumer(
    stream: Stream,
) -> None:
    publish(stream, *MIXED)
    result = tail(stream, "--no-follow")
    assert events_of(result) == expected(*MIXED)
    data, consumers = stream_state(stream)
    assert result.stdout.encode() == b"".join(line + b"\n" for line in data)  # as received
    assert consumers == 0


def test_no_follow_on_an_empty_stream_prints_nothing(stream: Stream) -> None:
    publish(stream, message(1))
    assert events_of(tail(stream, "--no-follow", "--from-seq", "2")) == []
    assert events_of(tail(stream, "--no-follow", "--type", "invoice.voided")) == []


def test_type_filters_by_subject_one_or_several(stream: Stream) -> None:
    publish(stream, *MIXED)
    paid = tail(stream, "--no-follow", "--type", "invoice.paid")
    assert events_of(paid) == expected(MIXED[1], MIXED[3])
    several = tail(
        stream, "--no-follow", "--type", "invoice.posted", "--type", "subscription.amended"
    )
    assert events_of(several) == expected(MIXED[0], MIXED[2], MIXED[4])


def test_from_seq_starts_at_that_sequence(stream: Stream) -> None:
    publish(stream, *MIXED)
    assert events_of(tail(stream, "--no-follow", "--from-seq", "3")) == expected(*MIXED[2:])
    typed = tail(stream, "--no-follow", "--from-seq", "3", "--type", "invoice.posted")
    assert events_of(typed) == expected(MIXED[4])


def test_since_starts_at_a_stored_time(stream: Stream) -> None:
    publish(stream, *MIXED[:2])
    time.sleep(0.3)
    between = datetime.now(UTC)
    time.sleep(0.3)
    publish(stream, *MIXED[2:])
    late = tail(stream, "--no-follow", "--since", between.isoformat())
    assert events_of(late) == expected(*MIXED[2:])
    assert events_of(tail(stream, "--no-follow", "--since", "1h")) == expected(*MIXED)
    assert events_of(tail(stream, "--no-follow", "--since", "2099-01-01T00:00:00Z")) == []


def test_count_stops_after_that_many(stream: Stream) -> None:
    publish(stream, *MIXED)
    assert events_of(tail(stream, "--no-follow", "--count", "2")) == expected(*MIXED[:2])
    # following, from a sequence: it stops at the count, not at the end of the stream
    followed = tail(stream, "--from-seq", "2", "--count", "3")
    assert events_of(followed) == expected(*MIXED[1:4])
    assert stream_state(stream)[1] == 0


def test_follow_prints_only_new_events(stream: Stream) -> None:
    publish(stream, message(1))  # before the tail: not printed
    revsync = Path(sys.executable).with_name("revsync")
    command = [str(revsync), "events", "tail", "--config", str(stream.config), "--count", "2"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        try:
            deadline = time.monotonic() + 20
            while stream_state(stream)[1] == 0:  # its consumer is there: it listens
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "the tail never made its consumer"
                time.sleep(0.1)
            publish(stream, message(2), message(3, "invoice.posted"), message(4))
            out, err = process.communicate(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, err
    lines = [json.loads(line) for line in out.decode().splitlines()]
    assert lines == expected(message(2), message(3, "invoice.posted"))


def test_an_unknown_type_is_refused_with_the_known_ones(stream: Stream) -> None:
    result = tail(stream, "--no-follow", "--type", "invoice.paid", "--type", "invoice.eaten")
    assert result.exit_code == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert "unknown event type invoice.eaten" in line
    assert "invoice.posted" in line and "subscription.amended" in line


def test_a_bad_since_is_refused(stream: Stream) -> None:
    for given in ("yesterday", "2026-11-01T00:00:00"):
        result = tail(stream, "--since", given)
        assert result.exit_code == 2
        assert result.stderr.startswith("revsync events tail: --since:")


def test_a_missing_stream_is_one_line_and_69(stream: Stream, tmp_path: Path) -> None:
    config = tmp_path / "other.yaml"
    write_config(config, NATS_URL, stream.name + "_NONE", stream.prefix)
    result = runner.invoke(app, ["events", "tail", "--no-follow", "--config", str(config)])
    assert result.exit_code == 69
    assert result.stderr.splitlines() == [
        f"revsync events tail: stream {stream.name}_NONE does not exist at NATS {NATS_URL} "
        "(nothing published yet, or events.stream names another)"
    ]


def test_an_unreachable_nats_is_one_line_and_69(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"nats://127.0.0.1:{port}"
    config = tmp_path / "revsync.yaml"
    write_config(config, url, "REVSYNC", "revsync.events")
    started = time.monotonic()
    result = runner.invoke(app, ["events", "tail", "--config", str(config)])
    assert time.monotonic() - started < 10
    assert result.exit_code == 69
    [line] = result.stderr.splitlines()
    assert line.startswith(f"revsync events tail: NATS at {url} is unreachable (")
    assert result.stdout == ""


def test_without_a_nats_url_it_is_a_configuration_error(tmp_path: Path) -> None:
    config = tmp_path / "revsync.yaml"
    write_config(config, None, "REVSYNC", "revsync.events")
    result = runner.invoke(app, ["events", "tail", "--config", str(config)])
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("configuration error: events.nats_url is not set")
