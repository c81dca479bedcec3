"""Webhooks: each message is a signed JSON ``POST`` to the destination's URL.

The body is an envelope (``id``, ``type``, ``idempotency_key``, ``correlation_id``,
``created_at``, ``data``); the same message always carries the same ``Idempotency-Key``
header. With a ``secret_env``, ``X-Revsync-Signature: t=<unix time>,v1=<hex>`` is the
HMAC-SHA256 of ``"<t>.<body>"``. With a ``lookup_url`` (``…/{key}``), a message whose earlier
attempt may have arrived is looked up first (200: it did; 404: it did not); without one it is
sent again with the same key, for the receiver to deduplicate.

Answers are classified: 2xx delivered; 410 skippable (the receiver does not want it);
408, 425, 429 and 5xx retriable (``Retry-After`` honoured); every other status fatal.
Redirects are not followed. Connection failures are retriable, and ambiguous when the
request may have been sent (a timeout while waiting, a reset, a lost response).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from datetime import datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote

import httpx
import msgspec

from revsync.adapters.connectors.urls import UnsafeUrl, check_destination
from revsync.domain.delivery import Attempt, ErrorClass, OutboundMessage
from revsync.ports.clock import Clock

_encode = msgspec.json.Encoder(decimal_format="string").encode
#: answers that say the receiver is away or busy (its outage, not this message's fault)
_UNAVAILABLE = frozenset({408, 429, 502, 503, 504})
#: other answers worth another try
_RETRIABLE = frozenset({425})


class WebhookDestination:
    """:class:`~revsync.ports.delivery.Destination` for an HTTP endpoint."""

    def __init__(
        self,
        url: str,
        *,
        clock: Clock,
        lookup_url: str | None = None,
        secret: bytes | None = None,
        timeout: float = 10.0,
        connections: int = 4,
        allow_private: frozenset[str] = frozenset(),
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._url = url
        self._lookup_url = lookup_url
        self._secret = secret
        self._clock = clock
        self._allow_private = allow_private
        # one connection per concurrent attempt (and one for lookups): the pool checks every
        # idle connection on each request, so a larger pool only costs time
        limits = httpx.Limits(
            max_connections=connections + 1, max_keepalive_connections=connections + 1
        )
        self._client = httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, transport=transport, limits=limits
        )

    async def send(self, message: OutboundMessage) -> Attempt:
        try:
            await asyncio.to_thread(check_destination, self._url, self._allow_private)
        except UnsafeUrl as error:
            return Attempt.failed(ErrorClass.FATAL, f"unsafe destination: {error}")
        body = _encode(
            {
                "id": message.id,
                "type": message.kind,
                "idempotency_key": message.key,
                "correlation_id": message.correlation_id,
                "created_at": message.created_at.isoformat(),
                "data": message.payload,
            }
        )
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": message.key,
            "X-Revsync-Event": message.kind,
        }
        if message.correlation_id:
            headers["X-Correlation-ID"] = message.correlation_id
        if self._secret is not None:
            headers["X-Revsync-Signature"] = self._signature(body)
        try:
            response = await self._client.post(self._url, content=body, headers=headers)
        except httpx.TransportError as error:
            return _transport_failure(error)
        return self._classify(response)

    async def find_by_key(self, key: str) -> Attempt | None:
        if self._lookup_url is None:
            return None
        url = self._lookup_url.replace("{key}", quote(key, safe=""))
        try:
            await asyncio.to_thread(check_destination, url, self._allow_private)
            response = await self._client.get(url)
        except UnsafeUrl as error:
            return Attempt.failed(ErrorClass.FATAL, f"unsafe lookup URL: {error}")
        except httpx.TransportError as error:
            return Attempt.failed(ErrorClass.UNAVAILABLE, f"lookup failed: {_name(error)}")
        if response.status_code == 404:
            return None
        if response.is_success:
            return Attempt.ok(_remote_id(response), found_by_key=True)
        return Attempt.failed(
            ErrorClass.UNAVAILABLE
            if response.status_code in _UNAVAILABLE
            else ErrorClass.RETRIABLE,
            f"lookup answered {response.status_code}",
            status_code=response.status_code,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    def _signature(self, body: bytes) -> str:
        assert self._secret is not None
        stamp = str(int(self._clock.now().timestamp()))
        mac = hmac.new(self._secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return f"t={stamp},v1={mac}"

    def _classify(self, response: httpx.Response) -> Attempt:
        code = response.status_code
        if response.is_success:
            return Attempt.ok(_remote_id(response), status_code=code)
        reason = f"{response.reason_phrase or 'error'}{_excerpt(response)}"
        if code == 410:
            return Attempt.failed(ErrorClass.SKIPPABLE, reason, status_code=code)
        if code in _UNAVAILABLE or code in _RETRIABLE or code >= 500:
            return Attempt.failed(
                ErrorClass.UNAVAILABLE if code in _UNAVAILABLE else ErrorClass.RETRIABLE,
                reason,
                status_code=code,
                retry_after=self._retry_after(response.headers.get("retry-after")),
            )
        return Attempt.failed(ErrorClass.FATAL, reason, status_code=code)

    def _retry_after(self, value: str | None) -> float | None:
        """Seconds from a ``Retry-After`` header (seconds or an HTTP date)."""
        if not value:
            return None
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when: datetime = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - self._clock.now()).total_seconds())


def _transport_failure(error: httpx.TransportError) -> Attempt:
    """A failure before any answer. Nothing was sent when the connection could not be made;
    otherwise the request may have arrived and its answer was lost."""
    sent = not isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    return Attempt.failed(ErrorClass.UNAVAILABLE, _name(error), ambiguous=sent)


def _name(error: Exception) -> str:
    detail = str(error)
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__


def _excerpt(response: httpx.Response) -> str:
    """The start of an error body (receivers explain refusals there)."""
    text = response.text.strip().replace("\n", " ")
    return f": {text[:200]}" if text else ""


def _remote_id(response: httpx.Response) -> str | None:
    try:
        data = response.json()
    except ValueError:
        return None
    value = data.get("id") if isinstance(data, dict) else None
    return None if value is None else str(value)
