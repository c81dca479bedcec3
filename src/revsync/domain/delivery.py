"""Delivery of outbound messages: what a message is, how an attempt ends, when to try again,
when to stop trying a destination for a while, and the idempotency keys that make a resend safe.

Pure rules: no I/O, no clock (times are passed in), no randomness (a number in [0, 1) is).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

#: the version of the idempotency-key recipe; a new recipe must use a new version
KEY_VERSION = "v1"


def idempotency_key(kind: str, *parts: str) -> str:
    """The deterministic key of an outbound document: a versioned hash of what it represents
    (never random), so that every resend of the same document carries the same key."""
    text = "\x1f".join((KEY_VERSION, kind, *parts))
    return f"rs{KEY_VERSION}-{hashlib.sha256(text.encode()).hexdigest()[:40]}"


#: what revsync announces to destinations, and what each message carries
ANNOUNCED_EVENTS = {
    "invoice.finalized": "an invoice got its number (the invoice, in full)",
    "credit_note.issued": "a credit note was issued (the note, in full)",
    "invoice.voided": "an invoice was voided (the invoice and its credit note's number)",
    "invoice.paid": "the ERP reports an invoice paid",
    "invoice.overdue": "the ERP reports an invoice overdue, or a new dunning level for it",
    "signals.updated": "adoption, billing, health and renewal signals changed (a batch of "
    "customers)",
    "risk.raised": "a new risk for a customer (the CRM makes it a task)",
    "expansion.detected": "usage above the plan for several periods (the CRM makes it an "
    "opportunity)",
    "customer.activated": "a customer's first subscription was stored",
    "subscription.amended": "a subscription was amended (plan, seats, end…), from when",
    "invoice.posted": "the ERP posted an invoice (its number and date there)",
    "case.opened": "an exception case was opened (or a closed one opened again)",
    "case.resolved": "an exception case was closed: resolved, or ignored by an operator",
    "usage.threshold_crossed": "a usage, percent or spend threshold was reached in a usage "
    "period (once; the CRM makes it a task for the account's owner)",
    "collections.changed": "a customer moved on the collections ladder: the dunning level it "
    "stands at, the tasks opened and completed, the ticket flag and the entitlement restriction",
    "renewal.assessed": "a subscription's renewal reached a horizon (90, 60, 30 days): at risk, "
    "healthy or expansion, with the reasons (the CRM makes a task or an opportunity)",
    "onboarding.milestone": "an onboarding milestone of a new subscription was reached, or its "
    "days passed without it (the CRM makes a task)",
    "deal.taken": "a won CRM opportunity became a subscription or more seats on one (the ERP "
    "places its sale order, the CRM hears the subscription)",
    "deal.refused": "a won CRM opportunity could not be billed: why (an exception case holds it)",
}

#: what revsync's own event stream carries by default (docs/events.md)
STREAM_EVENTS = (
    "customer.activated",
    "usage.threshold_crossed",
    "subscription.amended",
    "invoice.finalized",
    "credit_note.issued",
    "invoice.voided",
    "invoice.posted",
    "invoice.paid",
    "invoice.overdue",
    "collections.changed",
    "renewal.assessed",
    "signals.updated",
    "case.opened",
    "case.resolved",
)


class MessageStatus(StrEnum):
    """Where a message is in its delivery."""

    PENDING = "pending"  # waiting for its next attempt (or for an earlier one of its aggregate)
    IN_FLIGHT = "in_flight"  # claimed by a relay (until its lease ends)
    DELIVERED = "delivered"
    SKIPPED = "skipped"  # the destination did not want it (a skippable answer)
    FAILED = "failed"  # given up: an exception case holds it
    RESOLVED = "resolved"  # an operator closed its case without delivering it
    IGNORED = "ignored"  # an operator chose not to deliver it


#: statuses after which a message no longer holds back later messages of its aggregate
TERMINAL = frozenset(
    {MessageStatus.DELIVERED, MessageStatus.SKIPPED, MessageStatus.RESOLVED, MessageStatus.IGNORED}
)


class ErrorClass(StrEnum):
    """How a failed attempt is treated."""

    UNAVAILABLE = "unavailable"  # the destination is not answering (refused connection,
    # timeout, reset, 429, 502 / 503 / 504): try again later, without spending the budget
    RETRIABLE = "retriable"  # it answered with a transient error (500…): try again later
    FATAL = "fatal"  # validation, auth, business refusal: an operator must look
    SKIPPABLE = "skippable"  # the destination does not want this message: drop it, recorded


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A message to deliver, as the relay sees it."""

    id: int
    destination: str
    aggregate: str
    kind: str
    object_type: str
    object_id: str
    key: str
    payload: dict[str, Any]
    correlation_id: str | None
    created_at: datetime
    attempts: int  # attempts started, this one included
    unsure: bool  # an earlier attempt may have reached the destination: look the key up first
    round_attempts: int = 1  # attempts of this round (a retry from a case starts a new one)
    round_started_at: datetime | None = None
    approved_by: str | None = None  # an operator let it past the destination's hold
    outage_attempts: int = 0  # consecutive earlier attempts that found the destination away
    outage_since: datetime | None = None  # when the first of them ended
    traceparent: str | None = None  # the W3C trace context of what wrote it


@dataclass(frozen=True, slots=True)
class Attempt:
    """How one attempt ended."""

    delivered: bool
    error_class: ErrorClass | None = None
    reason: str = ""
    status_code: int | None = None
    retry_after: float | None = None  # seconds the destination asked us to wait
    ambiguous: bool = False  # the destination may have committed it (response lost)
    remote_id: str | None = None  # the destination's id for the document
    found_by_key: bool = False  # delivered earlier: found by its idempotency key
    #: what the destination made of it, for revsync to record (an ERP's number and party…)
    receipt: Mapping[str, str] | None = None

    @classmethod
    def ok(
        cls,
        remote_id: str | None = None,
        *,
        status_code: int | None = None,
        found_by_key: bool = False,
        receipt: Mapping[str, str] | None = None,
    ) -> Attempt:
        """A delivered attempt."""
        return cls(
            True,
            status_code=status_code,
            remote_id=remote_id,
            found_by_key=found_by_key,
            receipt=receipt,
        )

    @classmethod
    def failed(
        cls,
        error_class: ErrorClass,
        reason: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        ambiguous: bool = False,
    ) -> Attempt:
        """A failed attempt."""
        return cls(False, error_class, reason, status_code, retry_after, ambiguous)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When to try again: exponential backoff with jitter, bounded by attempts and age."""

    base_seconds: float = 1.0
    factor: float = 2.0
    max_delay_seconds: float = 300.0
    max_attempts: int = 10
    max_age: timedelta = timedelta(hours=72)

    def delay(self, attempts: int, jitter: float, retry_after: float | None = None) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt. ``jitter`` in [0, 1)
        spreads retries over [half, all] of the backoff ("equal jitter"), so a burst of
        failures does not come back at once. A ``Retry-After`` wins when it asks for longer."""
        backoff = min(self.max_delay_seconds, self.base_seconds * self.factor ** (attempts - 1))
        delay = backoff / 2 + backoff / 2 * jitter
        return max(delay, retry_after) if retry_after is not None else delay

    def gives_up(self, attempts: int, created_at: datetime, next_at: datetime) -> str | None:
        """Why the next attempt will not be made, or None when it will."""
        if attempts >= self.max_attempts:
            return f"{attempts} attempts made (the policy allows {self.max_attempts})"
        if next_at - created_at > self.max_age:
            return f"the next attempt would be past the maximum age ({_hours(self.max_age)})"
        return None


def _hours(age: timedelta) -> str:
    hours = age.total_seconds() / 3600
    return f"{hours:g} h"


@dataclass(frozen=True, slots=True)
class Decision:
    """What becomes of a message after an attempt."""

    status: MessageStatus
    next_attempt_at: datetime | None = None
    error: str | None = None  # for a failed message: why it was given up
    spends_attempt: bool = True  # the attempt counts against the policy's attempts
    unavailable_since: datetime | None = None  # the destination has not answered since

    @property
    def opens_case(self) -> bool:
        """The message failed: an exception case must hold it."""
        return self.status is MessageStatus.FAILED

    @property
    def outage(self) -> bool:
        """The destination did not answer: the case, if any, is the destination's."""
        return self.unavailable_since is not None


def decide(
    message: OutboundMessage, attempt: Attempt, policy: RetryPolicy, now: datetime, jitter: float
) -> Decision:
    """The message's state after ``attempt``: delivered, skipped, retried later, or failed
    (fatal, or the retry policy is exhausted)."""
    if attempt.delivered:
        return Decision(MessageStatus.DELIVERED)
    described = describe(attempt)
    if attempt.error_class is ErrorClass.SKIPPABLE:
        return Decision(MessageStatus.SKIPPED, error=described)
    if attempt.error_class is ErrorClass.FATAL:
        return Decision(MessageStatus.FAILED, error=f"refused: {described}")
    started = message.round_started_at or message.created_at
    if attempt.error_class is ErrorClass.UNAVAILABLE:
        return _away(message, attempt, policy, now, jitter, started, described)
    next_at = now + timedelta(
        seconds=policy.delay(message.round_attempts, jitter, attempt.retry_after)
    )
    given_up = policy.gives_up(message.round_attempts, started, next_at)
    if given_up is not None:
        return Decision(MessageStatus.FAILED, error=f"gave up: {given_up}; last error: {described}")
    return Decision(MessageStatus.PENDING, next_at, described)


def _away(
    message: OutboundMessage,
    attempt: Attempt,
    policy: RetryPolicy,
    now: datetime,
    jitter: float,
    started: datetime,
    described: str,
) -> Decision:
    """The destination did not answer: the attempt spends nothing of the budget; the backoff
    grows with the outage (up to the policy's longest delay) and only the maximum age ends it,
    in the destination's outage case."""
    since = message.outage_since or now
    delay = policy.delay(message.outage_attempts + 1, jitter, attempt.retry_after)
    next_at = now + timedelta(seconds=delay)
    if next_at - started > policy.max_age:
        error = (
            f"gave up: the destination has been unavailable since {since.isoformat()} and the "
            f"next attempt would be past the maximum age ({_hours(policy.max_age)}); "
            f"last error: {described}"
        )
        return Decision(
            MessageStatus.FAILED, error=error, spends_attempt=False, unavailable_since=since
        )
    return Decision(
        MessageStatus.PENDING, next_at, described, spends_attempt=False, unavailable_since=since
    )


def describe(attempt: Attempt) -> str:
    """One line on how an attempt failed."""
    status = f"HTTP {attempt.status_code}: " if attempt.status_code is not None else ""
    lost = " (response lost: it may have arrived)" if attempt.ambiguous else ""
    return f"{attempt.error_class or 'ok'}: {status}{attempt.reason}{lost}"


#: failures a circuit counts against its destination
_COUNTED = frozenset({ErrorClass.RETRIABLE, ErrorClass.UNAVAILABLE})


class CircuitState(StrEnum):
    """A destination's circuit."""

    CLOSED = "closed"  # deliver normally
    OPEN = "open"  # an outage: hold its messages (their attempts are not spent)
    HALF_OPEN = "half_open"  # one probe at a time decides


@dataclass(frozen=True, slots=True)
class CircuitPolicy:
    """When a destination's circuit opens, and how long it stays open before a probe."""

    failure_threshold: int = 5
    open_for: timedelta = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class Circuit:
    """The circuit of one destination."""

    destination: str
    state: CircuitState = CircuitState.CLOSED
    failures: int = 0  # consecutive retriable or unavailable failures
    opened_at: datetime | None = None  # when it opened, or when its probe went out
    tokens: float | None = None  # the destination's rate limit: starts left (None: full)
    tokens_at: datetime | None = None  # when they were counted

    def allows(
        self, now: datetime, policy: CircuitPolicy, lease: timedelta = timedelta(0)
    ) -> int | None:
        """How many messages may be attempted now: None for no limit, 0 while open, 1 for
        the probe once the circuit has been open long enough. While a probe is out, no other
        goes until its ``lease`` (and at least ``open_for``) has passed since it left: a live
        relay records its probe within the lease, so only a probe lost with its relay is
        replaced, never one whose relay is merely slow."""
        if self.state is CircuitState.CLOSED:
            return None
        assert self.opened_at is not None
        wait = policy.open_for
        if self.state is CircuitState.HALF_OPEN:
            wait = max(wait, lease)
        return 1 if now >= self.opened_at + wait else 0

    def record(
        self, attempt: Attempt, started: datetime, finished: datetime, policy: CircuitPolicy
    ) -> Circuit:
        """The circuit after an attempt that ran from ``started`` to ``finished``. Only
        retriable and unavailable failures count against a destination; any other answer
        (delivered, refused, skipped) shows it is up. A failure recorded late never shortens
        an open period, and one that began before the probe went out leaves the probe to
        decide."""
        if attempt.delivered or attempt.error_class not in _COUNTED:
            return replace(self, state=CircuitState.CLOSED, failures=0, opened_at=None)
        failures = self.failures + 1
        if self.state is CircuitState.CLOSED:
            if failures < policy.failure_threshold:
                return replace(self, failures=failures)
            return replace(self, state=CircuitState.OPEN, failures=failures, opened_at=finished)
        assert self.opened_at is not None
        if self.state is CircuitState.HALF_OPEN and started < self.opened_at:
            return replace(self, failures=failures)  # not the probe: it is still out
        opened_at = max(self.opened_at, finished)
        return replace(self, state=CircuitState.OPEN, failures=failures, opened_at=opened_at)

    def probing(self, now: datetime) -> Circuit:
        """The circuit while its probe is out (since ``now``)."""
        return replace(self, state=CircuitState.HALF_OPEN, opened_at=now)

    def starts(self, now: datetime, rate: float) -> int:
        """How many attempts the destination's rate limit allows to start now: a bucket of
        one second's worth (at least one), refilled at ``rate`` per second. Before the time
        the bucket was counted at (starts granted may come until then, or this clock is
        behind) it holds what it will then, less what refills until then."""
        return max(0, int(self._tokens(now, rate) + 1e-9))

    def started(
        self, count: int, now: datetime, rate: float, within: timedelta = timedelta(0)
    ) -> Circuit:
        """The circuit after granting ``count`` starts at ``now``, each to begin within
        ``within`` of it: the bucket is counted as at the latest of them, and never at a
        time before its own. Wherever in that window they begin, and whatever the next
        relay's clock reads, no stretch of time then holds more starts than the bucket
        allows."""
        at = max(now + within, self.tokens_at or now)
        return replace(self, tokens=self._tokens(at, rate) - count, tokens_at=at)

    def _tokens(self, at: datetime, rate: float) -> float:
        burst = max(1.0, rate)
        if self.tokens is None or self.tokens_at is None:
            return burst
        elapsed = (at - self.tokens_at).total_seconds()  # < 0: still paying for starts
        return min(burst, self.tokens + elapsed * rate)


class CaseKind(StrEnum):
    """What an exception case is about."""

    DELIVERY = "delivery"  # a message that could not be delivered
    UNMAPPED_USAGE = "unmapped_usage"  # usage of a product tenant no customer owns
    BILLING = "billing"  # a subscription a billing run could not bill
    OUTAGE = "outage"  # a destination unavailable past the maximum age (holds its messages)
    RECONCILIATION = "reconciliation"  # a discrepancy a reconciliation run found
    SERVICE_CREDIT = "service_credit"  # a credit asked on a support ticket, awaiting approval
    DEAL = "deal"  # a won CRM opportunity revsync could not bill (quote-to-cash)


class CaseStatus(StrEnum):
    """Where an exception case is."""

    OPEN = "open"
    RETRYING = "retrying"  # its message is queued again
    RESOLVED = "resolved"
    IGNORED = "ignored"


#: a case in these statuses needs nothing more
CLOSED_CASES = frozenset({CaseStatus.RESOLVED, CaseStatus.IGNORED})
