"""Delivery rules: backoff with jitter and Retry-After, giving up, the circuit breaker, what
an attempt makes of a message, and idempotency keys."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from revsync.domain.delivery import (
    Attempt,
    Circuit,
    CircuitPolicy,
    CircuitState,
    ErrorClass,
    MessageStatus,
    OutboundMessage,
    RetryPolicy,
    decide,
    idempotency_key,
)

T0 = datetime(2026, 11, 27, 12, tzinfo=UTC)
POLICY = RetryPolicy(base_seconds=1, factor=2, max_delay_seconds=60, max_attempts=5)


def message(round_attempts: int = 1, created: datetime = T0) -> OutboundMessage:
    return OutboundMessage(
        id=1,
        destination="ledger",
        aggregate="customer:a",
        kind="invoice.finalized",
        object_type="invoice",
        object_id="inv-1",
        key="k",
        payload={},
        correlation_id=None,
        created_at=created,
        attempts=round_attempts,
        unsure=False,
        round_attempts=round_attempts,
        round_started_at=created,
    )


@given(attempts=st.integers(1, 40), jitter=st.floats(0, 1, exclude_max=True))
def test_the_delay_is_between_half_and_all_of_the_capped_backoff(
    attempts: int, jitter: float
) -> None:
    backoff = min(60.0, 2.0 ** (attempts - 1))
    delay = POLICY.delay(attempts, jitter)
    assert backoff / 2 <= delay <= backoff


def test_retry_after_wins_when_it_asks_for_longer() -> None:
    assert POLICY.delay(1, 0.0, retry_after=30) == 30
    assert POLICY.delay(8, 0.99, retry_after=1) == POLICY.delay(8, 0.99)


def test_a_retriable_failure_is_retried_until_the_attempts_or_the_age_run_out() -> None:
    failure = Attempt.failed(ErrorClass.RETRIABLE, "busy", status_code=503)
    later = decide(message(1), failure, POLICY, T0, jitter=0.0)
    assert (later.status, later.next_attempt_at) == (
        MessageStatus.PENDING,
        T0 + timedelta(seconds=0.5),
    )
    assert later.error == "retriable: HTTP 503: busy"
    given_up = decide(message(5), failure, POLICY, T0, jitter=0.0)
    assert given_up.status is MessageStatus.FAILED and given_up.opens_case
    assert (
        given_up.error
        == "gave up: 5 attempts made (the policy allows 5); last error: retriable: HTTP 503: busy"
    )
    old = message(2, created=T0 - timedelta(hours=72))
    too_old = decide(old, failure, POLICY, T0, jitter=0.0)
    assert too_old.error is not None and "past the maximum age (72 h)" in too_old.error


@given(
    outage=st.integers(0, 10_000),
    budget_spent=st.integers(1, 5),
    jitter=st.floats(0, 1, exclude_max=True),
)
def test_an_unavailable_destination_never_spends_the_budget_within_the_maximum_age(
    outage: int, budget_spent: int, jitter: float
) -> None:
    """However many attempts found the destination away, and however much of the budget
    other failures spent, the message waits while it is younger than the maximum age."""
    away = Attempt.failed(ErrorClass.UNAVAILABLE, "ConnectError")
    held = replace(message(budget_spent), outage_attempts=outage, outage_since=T0)
    now = T0 + timedelta(hours=1)
    decision = decide(held, away, POLICY, now, jitter)
    assert decision.status is MessageStatus.PENDING
    assert not decision.spends_attempt
    assert decision.unavailable_since == T0
    # the backoff grows with the outage, capped by the policy's longest delay
    assert decision.next_attempt_at == now + timedelta(seconds=POLICY.delay(outage + 1, jitter))
    assert decision.next_attempt_at - now <= timedelta(seconds=60)


def test_an_outage_past_the_maximum_age_fails_for_the_destination() -> None:
    away = Attempt.failed(ErrorClass.UNAVAILABLE, "HTTP 503", status_code=503)
    first = decide(message(1), away, POLICY, T0, 0.0)
    assert (first.status, first.unavailable_since, first.spends_attempt) == (
        MessageStatus.PENDING,
        T0,
        False,
    )
    old = replace(
        message(1, created=T0 - timedelta(hours=72)),
        outage_attempts=400,
        outage_since=T0 - timedelta(hours=71),
    )
    ended = decide(old, away, POLICY, T0, 0.0)
    assert ended.status is MessageStatus.FAILED and ended.outage
    assert ended.error == (
        "gave up: the destination has been unavailable since 2026-11-24T13:00:00+00:00 and the "
        "next attempt would be past the maximum age (72 h); last error: unavailable: HTTP 503: "
        "HTTP 503"
    )
    # any answer ends the outage: a refusal is the message's own case
    refused = decide(old, Attempt.failed(ErrorClass.FATAL, "no"), POLICY, T0, 0.0)
    assert refused.status is MessageStatus.FAILED and not refused.outage


def test_refused_skipped_and_delivered_attempts() -> None:
    refused = decide(
        message(),
        Attempt.failed(ErrorClass.FATAL, "bad tax code", status_code=422),
        POLICY,
        T0,
        0.5,
    )
    assert (refused.status, refused.error) == (
        MessageStatus.FAILED,
        "refused: fatal: HTTP 422: bad tax code",
    )
    skipped = decide(
        message(), Attempt.failed(ErrorClass.SKIPPABLE, "gone", status_code=410), POLICY, T0, 0.5
    )
    assert skipped.status is MessageStatus.SKIPPED and not skipped.opens_case
    assert decide(message(), Attempt.ok("d-1"), POLICY, T0, 0.5).status is MessageStatus.DELIVERED


def test_a_lost_answer_is_described_as_such() -> None:
    lost = Attempt.failed(ErrorClass.RETRIABLE, "ReadTimeout", ambiguous=True)
    assert decide(message(), lost, POLICY, T0, 0.0).error == (
        "retriable: ReadTimeout (response lost: it may have arrived)"
    )


def test_the_circuit_opens_after_consecutive_retriable_failures_and_probes_one_at_a_time() -> None:
    policy = CircuitPolicy(failure_threshold=3, open_for=timedelta(seconds=30))
    busy = Attempt.failed(ErrorClass.RETRIABLE, "busy")
    refused = Attempt.failed(ErrorClass.FATAL, "no")
    circuit = Circuit("ledger")
    circuit = circuit.record(busy, T0, T0, policy).record(busy, T0, T0, policy)
    assert (circuit.state, circuit.failures, circuit.allows(T0, policy)) == (
        CircuitState.CLOSED,
        2,
        None,
    )
    # a refusal shows the destination answers: the count starts again
    assert circuit.record(refused, T0, T0, policy).failures == 0
    opened = circuit.record(busy, T0, T0, policy)
    assert (opened.state, opened.opened_at) == (CircuitState.OPEN, T0)
    assert opened.allows(T0 + timedelta(seconds=29), policy) == 0
    assert opened.allows(T0 + timedelta(seconds=30), policy) == 1
    probing = opened.probing(T0 + timedelta(seconds=30))
    assert probing.state is CircuitState.HALF_OPEN
    # one probe at a time, across relays: another only if this one is lost for open_for
    assert probing.allows(T0 + timedelta(seconds=59), policy) == 0
    assert probing.allows(T0 + timedelta(seconds=60), policy) == 1
    # ... and not before its lease ran out: a live relay records its probe within the lease
    lease = timedelta(seconds=45)
    assert probing.allows(T0 + timedelta(seconds=74), policy, lease) == 0
    assert probing.allows(T0 + timedelta(seconds=75), policy, lease) == 1
    assert opened.allows(T0 + timedelta(seconds=30), policy, lease) == 1  # only while out
    # a failed probe opens it again from when it ended; a good one closes it
    at = T0 + timedelta(seconds=30)
    again = probing.record(busy, at, at + timedelta(seconds=1), policy)
    assert (again.state, again.opened_at) == (CircuitState.OPEN, T0 + timedelta(seconds=31))
    assert probing.record(Attempt.ok(), at, at, policy) == Circuit("ledger")


def test_a_failure_recorded_late_never_shortens_an_open_period_nor_ends_a_probe() -> None:
    """A relay may record an attempt long after it ended (a slow machine, a batch of records):
    such a failure must not move the open period back, and one that began before the probe
    went out is not the probe's answer."""
    policy = CircuitPolicy(failure_threshold=1, open_for=timedelta(seconds=30))
    busy = Attempt.failed(ErrorClass.UNAVAILABLE, "refused")
    late = T0 + timedelta(seconds=10)
    opened = Circuit("ledger").record(busy, late, late, policy)
    # an attempt that ended before the circuit opened, recorded now
    stale = opened.record(busy, T0, T0 + timedelta(seconds=1), policy)
    assert (stale.state, stale.opened_at, stale.failures) == (CircuitState.OPEN, late, 2)
    assert stale.allows(T0 + timedelta(seconds=39), policy) == 0
    # while a probe is out, an older attempt's failure leaves the probe out (no second probe)
    probe_at = late + timedelta(seconds=30)
    probing = opened.probing(probe_at)
    older = probing.record(busy, T0, probe_at + timedelta(seconds=1), policy)
    assert (older.state, older.opened_at) == (CircuitState.HALF_OPEN, probe_at)
    assert older.allows(probe_at + timedelta(seconds=31), policy, timedelta(seconds=60)) == 0
    # the probe's own failure opens it again from when the probe ended
    ended = probe_at + timedelta(seconds=2)
    assert older.record(busy, probe_at, ended, policy).opened_at == ended


@given(
    rate=st.floats(0.1, 500),
    gaps=st.lists(st.tuples(st.floats(0, 5), st.integers(0, 50)), min_size=1, max_size=30),
)
def test_a_rate_limit_never_lets_more_start_than_its_bucket_allows(
    rate: float, gaps: list[tuple[float, int]]
) -> None:
    """Whatever the relays ask for and whenever they ask, the starts granted up to any moment
    never exceed one second's worth (at least one) plus ``rate`` per second since the start."""
    circuit, now, granted = Circuit("ledger"), T0, 0
    for gap, wanted in gaps:
        now += timedelta(seconds=gap)
        allowed = circuit.starts(now, rate)
        taken = min(wanted, allowed)
        circuit = circuit.started(taken, now, rate)
        granted += taken
        elapsed = (now - T0).total_seconds()
        assert granted <= max(1.0, rate) + rate * elapsed + 1e-6
        assert circuit.tokens is not None and circuit.tokens >= -1e-9


def test_idempotency_keys_are_versioned_deterministic_and_unambiguous() -> None:
    key = idempotency_key("invoice.finalized", "inv-1", "INV-000001")
    assert key == idempotency_key("invoice.finalized", "inv-1", "INV-000001")
    assert key.startswith("rsv1-") and len(key) == 45
    assert key != idempotency_key("invoice.finalized", "inv-1INV", "-000001")
    assert key != idempotency_key("credit_note.issued", "inv-1", "INV-000001")
