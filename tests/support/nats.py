"""Streams of revsync's event stream as the tests read them: a test's own stream (a unique
name and subject prefix), every message in it, and its deletion."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import nats
import nats.js.errors

from tests.support.services import NATS_URL, require_nats


@dataclass(frozen=True)
class Stream:
    """A stream of one test."""

    name: str
    prefix: str

    def settings(self) -> dict[str, Any]:
        """The configuration's ``events`` section publishing to it."""
        return {"nats_url": NATS_URL, "stream": self.name, "subject_prefix": self.prefix}


@contextlib.contextmanager
def own_stream() -> Iterator[Stream]:
    """A unique stream name and prefix; the stream is deleted afterwards."""
    require_nats()
    token = uuid.uuid4().hex[:12]
    made = Stream(f"TEST_{token}", f"test{token}.events")
    try:
        yield made
    finally:
        asyncio.run(_delete(made.name))


async def _delete(name: str) -> None:
    client = await nats.connect(NATS_URL)
    try:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await client.jetstream().delete_stream(name)
    finally:
        await client.close()


def stored(stream: Stream) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
    """Every message of the stream, in order: (subject, headers, the CloudEvent)."""

    async def read() -> list[tuple[str, dict[str, str], dict[str, Any]]]:
        client = await nats.connect(NATS_URL)
        try:
            js = client.jetstream()
            info = await js.stream_info(stream.name)
            found = []
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                message = await js.get_msg(stream.name, seq)
                assert message.subject is not None and message.data is not None
                headers = dict(message.headers or {})
                found.append((message.subject, headers, json.loads(message.data)))
            return found
        finally:
            await client.close()

    return asyncio.run(read())
