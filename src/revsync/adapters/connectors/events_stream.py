"""revsync's event stream: each outbox message of the ``events`` destination is published as a
CloudEvent (``schemas/events_v1.py``) to NATS JetStream, on ``<subject_prefix>.<type>`` of the
stream ``events.stream``.

Exactly once: the message's idempotency key is its ``Nats-Msg-Id``, and JetStream stores a
message id once within the stream's duplicate window (``events.duplicate_window_seconds``). A
relay that stops after publishing and before recording sends the message again when its lease
ends; JetStream answers that publish with the first one's sequence, marked duplicate, and the
stream holds it once. So a lookup by key is never needed: sending again *is* the lookup, as
long as it happens within the window (the window is a day by default; a message is retried
within minutes).

The stream is created on first use (or its settings brought up to date): subjects
``<subject_prefix>.>``, file storage, limits retention by ``events.max_age_days``.

Failures: no connection, a lost connection or no answer in time → unavailable (ambiguous when
the publish may have reached the server); an error answer from JetStream (the stream refuses
the message: too large, a limit) → fatal, a case.
"""

from __future__ import annotations

import asyncio
import contextlib

import msgspec
import nats
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import APIError, NotFoundError

from revsync.domain.delivery import Attempt, ErrorClass, OutboundMessage
from revsync.schemas.events_v1 import CONTENT_TYPE, cloud_event, subject_of

_encode = msgspec.json.Encoder(decimal_format="string").encode


class NatsEventStream:
    """:class:`~revsync.ports.delivery.Destination` publishing to a JetStream stream."""

    def __init__(
        self,
        url: str,
        *,
        stream: str,
        subject_prefix: str,
        source: str,
        duplicate_window_seconds: float,
        max_age_days: float,
        timeout: float,
    ) -> None:
        self._url = url
        self._stream = stream
        self._prefix = subject_prefix
        self._source = source
        self._window = duplicate_window_seconds
        self._max_age = max_age_days * 86_400
        self._timeout = timeout
        self._client: Client | None = None
        self._js: JetStreamContext | None = None
        self._lock = asyncio.Lock()

    def config(self) -> StreamConfig:
        """The stream as revsync wants it."""
        return StreamConfig(
            name=self._stream,
            subjects=[f"{self._prefix}.>"],
            storage=StorageType.FILE,
            duplicate_window=self._window,
            max_age=self._max_age,
        )

    async def send(self, message: OutboundMessage) -> Attempt:
        body = _encode(cloud_event(message, self._source))
        headers = {"Nats-Msg-Id": message.key, "Content-Type": CONTENT_TYPE}
        try:
            js = await self._jetstream()
        except (NatsError, OSError, TimeoutError) as error:
            return Attempt.failed(ErrorClass.UNAVAILABLE, f"NATS: {_name(error)}")
        try:
            ack = await js.publish(
                subject_of(self._prefix, message.kind),
                body,
                timeout=self._timeout,
                stream=self._stream,
                headers=headers,
            )
        except NoRespondersError:  # the stream is gone (deleted meanwhile): made again next time
            await self._forget()
            return Attempt.failed(ErrorClass.UNAVAILABLE, "NATS: no stream answered")
        except APIError as error:
            return Attempt.failed(ErrorClass.FATAL, f"JetStream refused the event: {error}")
        except (NatsError, OSError, TimeoutError) as error:
            await self._forget()
            return Attempt.failed(ErrorClass.UNAVAILABLE, f"NATS: {_name(error)}", ambiguous=True)
        return Attempt.ok(str(ack.seq), found_by_key=bool(ack.duplicate))

    async def find_by_key(self, key: str) -> Attempt | None:
        """None: publishing again under the same message id is the lookup (see above)."""
        return None

    async def aclose(self) -> None:
        await self._forget()

    async def _jetstream(self) -> JetStreamContext:
        async with self._lock:
            if self._js is not None and self._client is not None and self._client.is_connected:
                return self._js
            await self._forget_locked()
            # nats-py retries a first connection without end when max_reconnect_attempts is 0:
            # two tries, then NoServersError; and the whole of it bounded by the timeout
            client = await asyncio.wait_for(
                nats.connect(
                    self._url,
                    connect_timeout=max(1, round(self._timeout)),
                    allow_reconnect=False,
                    max_reconnect_attempts=1,
                    reconnect_time_wait=0.2,
                    name="revsync",
                ),
                self._timeout * 2,
            )
            try:
                js = client.jetstream(timeout=self._timeout)
                await self._ensure_stream(js)
            except BaseException:
                await client.close()
                raise
            self._client, self._js = client, js
            return js

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        wanted = self.config()
        try:
            info = await js.stream_info(self._stream)
        except NotFoundError:
            await js.add_stream(wanted)
            return
        have = info.config
        if (
            have.subjects != wanted.subjects
            or have.duplicate_window != wanted.duplicate_window
            or have.max_age != wanted.max_age
        ):
            await js.update_stream(
                have.evolve(
                    subjects=wanted.subjects,
                    duplicate_window=wanted.duplicate_window,
                    max_age=wanted.max_age,
                )
            )

    async def _forget(self) -> None:
        async with self._lock:
            await self._forget_locked()

    async def _forget_locked(self) -> None:
        client, self._client, self._js = self._client, None, None
        if client is not None and not client.is_closed:
            with contextlib.suppress(NatsError, OSError, TimeoutError):
                await client.close()


def _name(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
