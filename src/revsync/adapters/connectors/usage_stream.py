"""Usage in from a NATS JetStream stream: product platforms that already publish their usage
events to NATS need no HTTP client.

Each message is one CloudEvent in structured JSON mode. A durable pull consumer (shared by
every worker: each message goes to one of them) fetches up to ``usage_stream.batch`` messages;
they are decoded and stored as one ingestion batch (validation, dedup, dead letters: exactly as
over HTTP), and acknowledged only once that batch is committed. A worker that stops between the
commit and the acknowledgement leaves them to be delivered again after ``ack_wait_seconds``;
the usual (source, id) rule stores each event once. A message that is not a CloudEvent is a
dead letter like a refused HTTP item, and acknowledged: nothing accepted can poison later
batches. When storing fails (the database away), nothing is acknowledged; the messages come
back after ``ack_wait_seconds``.

The stream is made with ``usage_stream.subject`` when it does not exist (an existing stream is
left as it is); the consumer is made when missing (explicit acks).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import nats
import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from revsync.adapters.failpoints import NONE, Failpoints
from revsync.schemas.cloudevents_v1 import Item, decode_item

log = structlog.get_logger("revsync.usage_stream")

#: what stores one batch of decoded items (and returns once they are committed)
Store = Callable[[Sequence[Item]], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class StreamSource:
    """Where the usage comes from."""

    url: str
    stream: str
    subject: str
    durable: str
    batch: int
    max_wait: float
    ack_wait: float
    fetchers: int = 2


class NatsUsageSource:
    """Reads usage from a JetStream stream into revsync until stopped."""

    def __init__(
        self,
        source: StreamSource,
        store: Store,
        *,
        failpoints: Failpoints = NONE,
        retry_seconds: float = 1.0,
    ) -> None:
        self._source = source
        self._store = store
        self._failpoints = failpoints
        self._retry = retry_seconds
        self.batches = 0
        self.messages = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Fetch, store and acknowledge until ``stop`` is set; NATS or the database away is
        waited out (logged), never fatal."""
        while not stop.is_set():
            client: Client | None = None
            try:
                client = await self._connect()
                js = client.jetstream()
                # several fetchers, each with its own subscription to the one consumer: one
                # batch is fetched while another is being stored (the writer commits them in
                # groups)
                subscriptions = [await self._subscribe(js) for _ in range(self._source.fetchers)]
                async with asyncio.TaskGroup() as group:
                    for subscription in subscriptions:
                        group.create_task(self._consume(subscription, stop))
            except* (NatsError, OSError, TimeoutError) as errors:
                error = errors.exceptions[0]
                log.warning("usage_stream.away", url=self._source.url, error=_name(error))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._retry)
            finally:
                if client is not None and not client.is_closed:
                    with contextlib.suppress(NatsError, OSError, TimeoutError):
                        await client.close()

    async def _connect(self) -> Client:
        # nats-py retries a first connection without end when max_reconnect_attempts is 0
        return await nats.connect(
            self._source.url,
            allow_reconnect=False,
            max_reconnect_attempts=1,
            reconnect_time_wait=0.2,
            name="revsync usage",
        )

    async def _subscribe(self, js: JetStreamContext) -> JetStreamContext.PullSubscription:
        source = self._source
        try:
            await js.stream_info(source.stream)
        except NotFoundError:
            await js.add_stream(
                StreamConfig(
                    name=source.stream, subjects=[source.subject], storage=StorageType.FILE
                )
            )
        config = ConsumerConfig(
            durable_name=source.durable,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=source.ack_wait,
            filter_subject=source.subject,
            max_ack_pending=max(1000, source.batch * (source.fetchers + 2)),
        )
        return await js.pull_subscribe(
            source.subject, durable=source.durable, stream=source.stream, config=config
        )

    async def _consume(
        self, subscription: JetStreamContext.PullSubscription, stop: asyncio.Event
    ) -> None:
        while not stop.is_set():
            try:
                messages = await subscription.fetch(
                    self._source.batch, timeout=self._source.max_wait
                )
            except NatsTimeout:
                continue  # nothing to read
            await self._take(messages)

    async def _take(self, messages: list[Msg]) -> None:
        items = [
            decode_item(index, message.data, require_specversion=True)
            for index, message in enumerate(messages)
        ]
        try:
            await self._store(items)
        except Exception as error:  # noqa: BLE001 - the database away: nothing acknowledged, retried
            log.warning("usage_stream.not_stored", messages=len(messages), error=_name(error))
            await asyncio.sleep(self._retry)
            return
        self._failpoints.hit("usage_stream.before_ack")  # stored, not acknowledged yet
        for message in messages:
            await message.ack()
        self.batches += 1
        self.messages += len(messages)


def _name(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
