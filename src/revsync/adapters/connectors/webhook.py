"""Webhooks: each message is a signed JSON ``POST`` to the destination's URL.

The body is an envelope (``id``, ``type``, ``idempotency_key``, ``correlation_id``,
``created_at``, ``data``); the same message always carries the same ``Idempotency-Key``
header, and the same ``webhook-id`` (the key too). Signatures follow Standard Webhooks
(https://www.standardwebhooks.com): ``webhook-timestamp`` is this attempt's unix time and
``webhook-signature`` is ``v1,<base64>`` per key (the current key, then the previous one while
a rotation lasts), made by the ``standardwebhooks`` library. The ``revsync-v1`` scheme sends
revsync's older ``X-Revsync-Signature: t=<unix time>,v1=<hex>`` (HMAC-SHA256 of
``"<t>.<body>"`` under the current key) instead, ``both`` sends both. With a ``lookup_url``
(``…/{key}``), a message whose earlier attempt may have arrived is looked up first (200: it
did; 404: it did not); without one it is sent again with the same key, for the receiver to
deduplicate.

Answers are classified: 2xx delivered; 410 skippable (the receiver does not want it);
408, 425, 429 and 5xx retriable (``Retry-After`` honoured); every other status fatal.
Redirects are not followed. Connection failures are retriable, and ambiguous when the
request may have been sent (a timeout while waiting, a reset, a lost response).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from urllib.parse import quote

import httpx
import msgspec
from standardwebhooks import Webhook

from revsync.adapters.connectors.urls import UnsafeUrl, check_destination
from revsync.domain.delivery import Attempt, ErrorClass, OutboundMessage
from revsync.ports.clock import Clock

_encode = msgspec.json.Encoder(decimal_format="string").encode
#: answers that say the receiver is away or busy (its outage, not this message's fault)
_UNAVAILABLE = frozenset({408, 429, 502, 503, 504})
#: other answers worth another try
_RETRIABLE = frozenset({425})
#: how a Standard Webhooks secret is written: this prefix, then the key in base64
SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)


class SignatureScheme(StrEnum):
    """Which signature headers a destination's requests carry."""

    STANDARD = "standard"  # webhook-signature (Standard Webhooks)
    REVSYNC_V1 = "revsync-v1"  # X-Revsync-Signature, revsync's format before it
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class Signing:
    """The keys a destination's requests are signed with (the current one first, then the
    previous one while a rotation lasts) and the headers that carry the signatures."""

    keys: tuple[bytes, ...] = field(repr=False)
    scheme: SignatureScheme = SignatureScheme.STANDARD

    def __post_init__(self) -> None:
        if not self.keys or not all(self.keys):
            raise ValueError("signing needs at least one key, and no empty one")


def signing_key(secret: str) -> bytes:
    """The key a configured secret stands for: the base64 after ``whsec_`` (a Standard
    Webhooks secret), otherwise the secret's own UTF-8 bytes (as revsync's older signature
    used them). The error never repeats the secret."""
    if not secret.startswith(SECRET_PREFIX):
        return secret.encode()
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("is not a valid whsec_ secret (base64 after whsec_)") from None
    if not key:
        raise ValueError("is an empty whsec_ secret")
    return key


class WebhookDestination:
    """:class:`~revsync.ports.delivery.Destination` for an HTTP endpoint."""

    def __init__(
        self,
        url: str,
        *,
        clock: Clock,
        lookup_url: str | None = None,
        signing: Signing | None = None,
        timeout: float = 10.0,
        connections: int = 4,
        allow_private: frozenset[str] = frozenset(),
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._url = url
        self._lookup_url = lookup_url
        self._signing = signing
        self._webhooks = tuple(Webhook(key) for key in signing.keys) if signing else ()
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
        stamp = math.floor(self._clock.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": message.key,
            "X-Revsync-Event": message.kind,
            "webhook-id": message.key,
            "webhook-timestamp": str(stamp),
            **self._signatures(message.key, stamp, body),
        }
        if message.correlation_id:
            headers["X-Correlation-ID"] = message.correlation_id
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

    def _signatures(self, webhook_id: str, stamp: int, body: bytes) -> dict[str, str]:
        """The signature headers of one attempt (none without signing)."""
        signing = self._signing
        if signing is None:
            return {}
        headers = {}
        if signing.scheme is not SignatureScheme.REVSYNC_V1:
            at, text = datetime.fromtimestamp(stamp, UTC), body.decode()
            headers["webhook-signature"] = " ".join(
                webhook.sign(webhook_id, at, text) for webhook in self._webhooks
            )
        if signing.scheme is not SignatureScheme.STANDARD:
            signed = str(stamp).encode() + b"." + body
            mac = hmac.new(signing.keys[0], signed, hashlib.sha256).hexdigest()
            headers["X-Revsync-Signature"] = f"t={stamp},v1={mac}"
        return headers

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
