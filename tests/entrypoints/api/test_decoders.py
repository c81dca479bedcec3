"""Large batches decoded in decoding processes (``ingestion.decoders``): answered, stored and
dead-lettered exactly as when the server decodes them, with the schemas the server has just
registered; hostile bodies refused the same; a decoding process that dies costs no request."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from revsync.adapters.db.tables import dead_letters, usage_events
from revsync.bootstrap import build
from revsync.entrypoints.api.app import create_app
from revsync.entrypoints.api.decoders import Decoders
from revsync.entrypoints.api.events import INLINE_BYTES
from tests.conftest import make_settings
from tests.support.clock import FrozenClock
from tests.support.databases import sqlite_copy
from tests.support.events import encode, event

BATCH = "application/cloudevents-batch+json"
#: what a batch of :func:`large_batch` of 300 events keeps without a schema: all but the event
#: whose time is not one, the duplicate and the conflict
ACCEPTED = 300 - 3
TOKENS = {
    "type": "object",
    "properties": {"tokens": {"type": "integer", "minimum": 0}, "model": {"type": "string"}},
    "required": ["tokens"],
}


class Server:
    """An API over a database of its own, with ``decoders`` decoding processes."""

    def __init__(self, url: str, clock: FrozenClock, decoders: int) -> None:
        settings = make_settings(url, ingestion={"decoders": decoders})
        self.container = build(settings, clock=clock)
        self.client = TestClient(create_app(self.container)).__enter__()
        self.admin = {"Authorization": f"Bearer {self._key()}"}
        customer = {"name": "Acme", "currency": "EUR", "external_refs": {"product": ["tenant-a"]}}
        response = self.client.put("/v1/customers/acme", json=customer, headers=self.admin)
        assert response.status_code in (200, 201), response.text

    def _key(self) -> str:
        return self.container.api_keys.create("test", ["admin"], "test").secret

    @property
    def decoders(self) -> Decoders | None:
        found: Decoders | None = self.client.app.state.decoders  # type: ignore[attr-defined]
        return found

    def post(self, body: bytes) -> Any:
        headers = {**self.admin, "Content-Type": BATCH}
        return self.client.post("/v1/events", content=body, headers=headers)

    def stored(self) -> list[tuple[Any, ...]]:
        columns = (usage_events.c.source, usage_events.c.event_id, usage_events.c.customer_id)
        query = sa.select(*columns, usage_events.c.data, usage_events.c.late)
        with self.container.engine.connect() as conn:
            return sorted(tuple(row) for row in conn.execute(query))

    def letters(self) -> list[tuple[Any, ...]]:
        query = sa.select(dead_letters.c.code, dead_letters.c.position, dead_letters.c.reason)
        with self.container.engine.connect() as conn:
            return sorted(tuple(row) for row in conn.execute(query))

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        self.container.close()


@pytest.fixture
def servers(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory, clock: FrozenClock
) -> Iterator[tuple[Server, Server]]:
    """The same API twice: decoding in the server, and in one decoding process."""
    made: list[Server] = []
    try:
        for decoders in (0, 1):
            url = sqlite_copy(sqlite_template, tmp_path_factory.mktemp(f"decoders{decoders}"))
            made.append(Server(url, clock, decoders))
        yield made[0], made[1]
    finally:
        for server in made:
            server.close()


def large_batch(prefix: str, count: int = 600) -> list[dict[str, Any]]:
    """Well over INLINE_BYTES of events: most valid, and one of each way to fail."""
    events = [
        event(
            f"{prefix}{n}",
            type="llm.completion",
            time=f"2026-11-{1 + n % 14:02d}T10:00:00Z",
            data={"tokens": n, "model": "small", "environment": "production", "pad": "x" * 80},
        )
        for n in range(count)
    ]
    events[3] = {**events[3], "time": "yesterday"}  # refused: not a timestamp
    events[5] = {**events[5], "data": {"tokens": -1, "model": "small"}}  # refused by the schema
    events[7] = dict(events[6])  # a duplicate within the batch
    events[9] = {**events[8], "data": {"tokens": 1}}  # a conflict within the batch
    events[11] = {**events[11], "subject": "tenant-nobody"}  # unmapped
    events[13] = {**events[13], "time": "2026-10-31T23:00:00Z"}  # late: October is closed
    return events


def test_a_large_batch_is_answered_stored_and_dead_lettered_as_in_the_server(
    servers: tuple[Server, Server],
) -> None:
    here, there = servers
    assert here.decoders is None and there.decoders is not None
    for server in servers:  # a schema registered just now: the decoding process uses it
        put = server.client.put(
            "/v1/schemas/llm.completion/versions/1", json={"schema": TOKENS}, headers=server.admin
        )
        assert put.status_code == 201, put.text
    first = encode(large_batch("e"))
    assert len(first) > 2 * INLINE_BYTES
    answers = [[s.post(first).json() for s in servers]]
    # sent again with new events: the old ones are duplicates, the conflict is one again
    again = encode([*large_batch("e"), *large_batch("f", 300)])
    answers.append([s.post(again).json() for s in servers])
    for mine, theirs in answers:
        assert mine == theirs
    assert answers[0][0]["accepted"] == 600 - 4  # 2 refused, a duplicate, a conflict
    assert answers[0][0]["unmapped"] == 1 and answers[0][0]["late"] == 1
    assert [r["code"] for r in answers[0][0]["rejected"]] == [
        "invalid_time",
        "schema_violation",
        "conflict",
    ]
    assert here.stored() == there.stored()
    assert len(there.stored()) == 596 + 296
    assert here.letters() == there.letters()


def test_hostile_large_bodies_are_refused_as_in_the_server(
    servers: tuple[Server, Server],
) -> None:
    broken = encode(large_batch("b"))[:-2]  # cut short: not JSON
    many = encode([event(f"m{n}") for n in range(10_001)])  # over ingestion.max_batch_events
    for body, status in ((broken, 400), (many, 413)):
        mine, theirs = (s.post(body) for s in servers)
        assert mine.status_code == theirs.status_code == status
        errors = [{**r.json()["error"], "request_id": None} for r in (mine, theirs)]
        assert errors[0] == errors[1]
    here, there = servers
    assert here.letters() == there.letters()
    assert len(there.letters()) == 1  # the body that is not JSON, kept whole
    assert there.stored() == []


def test_a_decoding_process_that_dies_costs_no_request(
    servers: tuple[Server, Server], capsys: pytest.CaptureFixture[str]
) -> None:
    _, there = servers
    # no schema here: the event of negative tokens is kept (the meter does not read it)
    assert there.post(encode(large_batch("a", 300))).json()["accepted"] == ACCEPTED
    assert there.decoders is not None
    killed = set(there.decoders.pids())
    assert len(killed) == 1
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    # the batch in hand when the process is found dead is decoded in the server
    answer = there.post(encode(large_batch("k", 300))).json()
    assert (answer["accepted"], answer["duplicates"]) == (ACCEPTED, 1), answer
    said = capsys.readouterr()  # the log goes to either stream, as logging was set up
    assert "a decoding process died; decoding this batch in the server" in said.out + said.err
    # and the next goes to a new decoding process
    answer = there.post(encode(large_batch("n", 300))).json()
    assert answer["accepted"] == ACCEPTED
    alive = set(there.decoders.pids())
    assert len(alive) == 1 and not alive & killed
    assert len(there.stored()) == 3 * ACCEPTED
