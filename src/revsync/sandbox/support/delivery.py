"""Webhook deliveries from a background thread: each event is POSTed to its webhook's endpoint,
signed as Zendesk signs (``X-Zendesk-Webhook-Signature`` = base64(HMAC-SHA256(secret, timestamp +
body)), with ``X-Zendesk-Webhook-Signature-Timestamp``), and retried on 5xx, 409, 429 and
connection errors with a short doubling backoff; the log keeps every attempt. Each attempt is
signed anew with the real time (not the sandbox's clock), so receivers can check freshness."""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import itertools
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import httpx

_RETRIED = frozenset({409, 429})


@dataclass(frozen=True, slots=True)
class Attempt:
    """One POST: the status answered, or the connection error."""

    at: datetime
    status: int | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event for one webhook: ``state`` is pending, delivered or failed."""

    number: int
    webhook_id: str
    endpoint: str
    event_type: str
    event_id: str
    ticket_id: int
    body: bytes
    secret: str = field(repr=False)
    state: str = "pending"
    attempts: tuple[Attempt, ...] = ()
    last_headers: tuple[tuple[str, str], ...] = ()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Zendesk's webhook signature."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class Dispatcher:
    """The delivery thread and its log. ``attempts``: tries per delivery; ``backoff``: seconds
    before the first retry (doubled each time); ``timeout``: seconds per POST."""

    def __init__(
        self, account_id: int, attempts: int = 4, backoff: float = 0.2, timeout: float = 5.0
    ) -> None:
        self._account_id = account_id
        self._attempts, self._backoff, self._timeout = attempts, backoff, timeout
        self._lock = threading.Condition()
        self._log: dict[int, Delivery] = {}
        self._due: list[tuple[float, int]] = []  # (monotonic due, delivery number)
        self._numbers = itertools.count(1)
        self._busy = 0
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the delivery thread."""
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="SupportWebhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread; pending deliveries stay pending."""
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(self._timeout + 1)
        self._thread = None

    def enqueue(self, delivery: Delivery) -> None:
        """Queue a delivery (its ``number`` is assigned here)."""
        with self._lock:
            numbered = replace(delivery, number=next(self._numbers))
            self._log[numbered.number] = numbered
            heapq.heappush(self._due, (time.monotonic(), numbered.number))
            self._lock.notify_all()

    def deliveries(self) -> list[Delivery]:
        """Every delivery so far, in the order made."""
        with self._lock:
            return [self._log[n] for n in sorted(self._log)]

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is pending or being sent; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._due or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(min(left, 0.05))
        return True

    def _next(self) -> Delivery | None:
        with self._lock:
            while not self._stopping:
                if self._due and self._due[0][0] <= time.monotonic():
                    _, number = heapq.heappop(self._due)
                    self._busy += 1
                    return self._log[number]
                wait = self._due[0][0] - time.monotonic() if self._due else None
                self._lock.wait(wait)
        return None

    def _run(self) -> None:
        with httpx.Client(timeout=self._timeout, trust_env=False) as client:
            while (delivery := self._next()) is not None:
                try:
                    self._attempt(client, delivery)
                finally:
                    with self._lock:
                        self._busy -= 1
                        self._lock.notify_all()

    def _attempt(self, client: httpx.Client, delivery: Delivery) -> None:
        now = datetime.now(UTC)
        timestamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Zendesk Webhook",
            "X-Zendesk-Account-Id": str(self._account_id),
            "X-Zendesk-Webhook-Id": delivery.webhook_id,
            "X-Zendesk-Webhook-Invocation-Id": delivery.event_id,
            "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
            "X-Zendesk-Webhook-Signature": sign(delivery.secret, timestamp, delivery.body),
        }
        status: int | None = None
        error: str | None = None
        try:
            status = client.post(
                delivery.endpoint, content=delivery.body, headers=headers
            ).status_code
        except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as failure:
            error = f"{type(failure).__name__}: {failure}"
        attempts = (*delivery.attempts, Attempt(now, status, error))
        retry = status is None or status >= 500 or status in _RETRIED
        if status is not None and 200 <= status < 300:
            state = "delivered"
        elif retry and len(attempts) < self._attempts:
            state = "pending"
        else:
            state = "failed"
        updated = replace(
            delivery, state=state, attempts=attempts, last_headers=tuple(headers.items())
        )
        with self._lock:
            self._log[delivery.number] = updated
            if state == "pending":
                delay = self._backoff * 2 ** (len(attempts) - 1)
                heapq.heappush(self._due, (time.monotonic() + delay, delivery.number))
