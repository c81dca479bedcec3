"""The relay: delivers outbox messages to their destinations, at least once, in order per
(destination, aggregate), with retries, circuit breakers and exception cases.

One relay runs per worker process (``revsync worker``, or inside ``revsync serve
--with-worker``); several may run against one PostgreSQL database. Each cycle is one short
transaction that records the attempts that ended and leases the next due messages; the
deliveries themselves run outside any transaction (promise 3), concurrently up to each
destination's limit. A lease that runs out (the relay died) makes the message due again, and
"unsure": the next attempt first looks its idempotency key up in the destination (promise 4).

A destination's ``rate_per_second`` is a bucket in its circuit row, drawn from as messages are
leased. The calls leased go out after the cycle commits, which may take a while (a slow disk,
a paused process): each must start within a window of its lease (:data:`START_WITHIN`), and
the bucket is counted as if it started at the end of that window. A call that would start
later is not made: its message is given back untried, to be leased again as the bucket
allows, and the route's window doubles (up to :data:`START_WITHIN_AT_MOST`), so that a relay
that stays slow still delivers, at a cost in rate below one call per window; a call in time
brings it back towards :data:`START_WITHIN`.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, cast

import structlog
from opentelemetry.trace import Span, Status, StatusCode

from revsync.adapters.failpoints import NONE, FailpointError, Failpoints
from revsync.domain.delivery import (
    TERMINAL,
    Attempt,
    CaseKind,
    CaseStatus,
    Circuit,
    CircuitPolicy,
    Decision,
    ErrorClass,
    MessageStatus,
    OutboundMessage,
    RetryPolicy,
    decide,
)
from revsync.observability.tracing import delivery_span
from revsync.ports.clock import Clock, IdSource
from revsync.ports.delivery import (
    BatchDestination,
    Case,
    Destination,
    Finished,
    ReceiptHandler,
)
from revsync.ports.repositories import UnitOfWork, UnitOfWorkFactory

log = structlog.get_logger(__name__)

#: how long after its lease a rate-limited call may still start (it is given back after)
START_WITHIN = timedelta(seconds=0.25)
#: the longest window a slow relay widens it to
START_WITHIN_AT_MOST = timedelta(seconds=4)


@dataclass(frozen=True, slots=True)
class Route:
    """A destination and how to deliver to it."""

    name: str
    destination: Destination
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    circuit: CircuitPolicy = field(default_factory=CircuitPolicy)
    concurrency: int = 4  # calls at once
    rate_per_second: float | None = None
    #: messages of one aggregate per call, when the destination takes batches (``send_many``)
    batch: int = 1


@dataclass(frozen=True, slots=True)
class _Call:
    """Leased messages to send in one call, and when it must start by (under a rate limit)."""

    messages: list[OutboundMessage]
    start_by: datetime | None = None


class Relay:
    """Delivers the outbox (see the module docstring)."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        routes: Sequence[Route],
        clock: Clock,
        ids: IdSource,
        *,
        owner: str,
        lease: timedelta = timedelta(seconds=60),
        poll: float = 0.2,
        failpoints: Failpoints = NONE,
        jitter: Callable[[], float] | None = None,
        receipts: ReceiptHandler | None = None,
    ) -> None:
        self._uow = unit_of_work
        self._routes = {r.name: r for r in routes}
        self._clock = clock
        self._ids = ids
        self._owner = owner
        self._lease = lease
        self._poll = poll
        self._failpoints = failpoints
        self._receipts = receipts
        self._jitter = jitter or random.Random().random  # noqa: S311 - spreads retries
        self._in_flight: dict[str, int] = dict.fromkeys(self._routes, 0)
        self._done: list[Finished] = []
        #: leased, not attempted (behind a refusal in a batch, or too late for the rate limit)
        self._untried: list[int] = []
        #: the size of the next batch per route: halved after a batch that timed out, grown
        #: back by one after each batch delivered whole (see :meth:`_adapt`)
        self._batch = {r.name: r.batch for r in routes}
        #: per route, how long after its lease a rate-limited call may start (see the module
        #: docstring)
        self._window = {r.name: START_WITHIN for r in routes}
        self.delivered = 0  # messages this relay delivered (for logs and tests)

    async def aclose(self) -> None:
        """Release the destinations' connections."""
        for route in self._routes.values():
            await route.destination.aclose()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set, then finish the attempts under way and record them."""
        tasks: set[asyncio.Task[None]] = set()
        stopping: asyncio.Task[bool] = asyncio.create_task(stop.wait())
        try:
            while True:
                claimed = await self._cycle(accept=not stop.is_set())
                for call in claimed:
                    tasks.add(asyncio.create_task(self._attempt(call)))
                if stop.is_set() and not tasks and not self._done:
                    return
                await self._pause(tasks, stopping)
                tasks = {t for t in tasks if not t.done()}
        finally:
            stopping.cancel()
            for task in tasks:
                task.cancel()

    async def _pause(self, tasks: set[asyncio.Task[None]], stopping: asyncio.Task[bool]) -> None:
        """Wait for an attempt to end (then a moment more, to record several at once), for
        the poll interval, or for the stop."""
        waiting: set[asyncio.Task[Any]] = {*tasks}
        if not stopping.done():
            waiting.add(stopping)
        if not waiting:
            return
        done, _ = await asyncio.wait(waiting, timeout=self._poll, return_when="FIRST_COMPLETED")
        if done - {stopping} and len(self._done) < 50:
            await asyncio.sleep(0.01)

    async def _cycle(self, *, accept: bool) -> list[_Call]:
        """Record what ended and lease what may start, in one transaction; the leased messages
        in calls to make (one message each, or a batch of one aggregate's)."""
        done, self._done = self._done, []
        untried, self._untried = self._untried, []
        want = {
            name: route.concurrency - self._in_flight[name] if accept else 0
            for name, route in self._routes.items()
        }
        if not done and not untried and not any(want.values()):
            return []
        try:
            claimed, now = await asyncio.to_thread(self._exchange, done, untried, want)
        except Exception:  # a database hiccup: keep what ended for the next cycle
            log.exception("relay.cycle_failed", relay=self._owner)
            self._done = done + self._done
            self._untried = untried + self._untried
            await asyncio.sleep(self._poll)
            return []
        calls = []
        for messages in self._calls(claimed):
            route = self._routes[messages[0].destination]
            self._in_flight[route.name] += 1
            start_by = now + self._window[route.name] if route.rate_per_second else None
            calls.append(_Call(messages, start_by))
        return calls

    def _calls(self, claimed: list[OutboundMessage]) -> list[list[OutboundMessage]]:
        """Leased messages as calls: a destination that takes batches gets the messages of one
        aggregate together (they were leased in order), the others one at a time."""
        calls: list[list[OutboundMessage]] = []
        for message in claimed:
            batched = self._routes[message.destination].batch > 1
            last = calls[-1] if calls else None
            if (
                batched
                and last is not None
                and (last[0].destination, last[0].aggregate)
                == (message.destination, message.aggregate)
            ):
                last.append(message)
            else:
                calls.append([message])
        return calls

    def _exchange(
        self, done: list[Finished], untried: list[int], want: Mapping[str, int]
    ) -> tuple[list[OutboundMessage], datetime]:
        """Record, lease and draw from the buckets; returns the leased messages and the time
        of the cycle (read once the circuits are locked: a relay that waited for the lock
        must not count a bucket at a time before the relay that held it)."""
        if done:
            self._failpoints.hit("relay.before_record")  # attempts made, none recorded yet
        with self._uow() as uow:
            uow.outbox.release(untried, self._owner)
            circuits = uow.circuits.locked(self._routes, self._clock.now())
            now = self._clock.now()
            changed = self._record(uow, done, circuits, now)
            limits, probing = self._limits_now(circuits, want, now)
            batches = {
                name: self._batch[name]
                for name, route in self._routes.items()
                if route.batch > 1 and name not in probing  # a probe is one message
            }
            claimed = uow.outbox.claim(now, self._owner, now + self._lease, limits, batches)
            started = Counter(m.destination for m in claimed)
            for name in probing & set(started):
                circuits[name] = circuits[name].probing(now)
                changed.add(name)
            for name, route in self._routes.items():
                if route.rate_per_second and started[name]:
                    circuits[name] = circuits[name].started(
                        started[name], now, route.rate_per_second, self._window[name]
                    )
                    changed.add(name)
            uow.circuits.save([circuits[name] for name in sorted(changed)], now)
            uow.commit()
        return claimed, now

    def _limits_now(
        self, circuits: dict[str, Circuit], want: Mapping[str, int], now: datetime
    ) -> tuple[dict[str, int], set[str]]:
        """How many messages each destination may start now, and which of them would be the
        probe of an open circuit."""
        limits: dict[str, int] = {}
        probing: set[str] = set()
        for name, route in self._routes.items():
            circuit = circuits.setdefault(name, Circuit(name))
            allowed = circuit.allows(now, route.circuit, self._lease)
            if allowed is None:
                limits[name] = want.get(name, 0)
            elif allowed and want.get(name, 0) and not self._in_flight[name]:
                limits[name] = 1
                probing.add(name)
            else:
                limits[name] = 0
            if route.rate_per_second and limits[name]:
                limits[name] = min(limits[name], circuit.starts(now, route.rate_per_second))
        return limits, probing

    def _record(
        self,
        uow: UnitOfWork,
        done: list[Finished],
        circuits: dict[str, Circuit],
        now: datetime,
    ) -> set[str]:
        """Record the attempts that ended; returns the destinations whose circuit changed."""
        if not done:
            return set()
        decided = [(f, self._decide(f, now)) for f in done]
        recorded = set(uow.outbox.finish(decided, self._owner))
        changed: set[str] = set()
        for finished, decision in decided:
            message = finished.message
            if message.id not in recorded:
                log.warning("relay.lease_lost", message_id=message.id, relay=self._owner)
                continue
            route = self._routes[message.destination]
            before = circuits.get(message.destination) or Circuit(message.destination)
            after = before.record(
                finished.attempt, finished.started_at, finished.finished_at, route.circuit
            )
            if after != before:
                circuits[message.destination] = after
                changed.add(message.destination)
                if after.state != before.state:
                    log.warning(
                        "relay.circuit",
                        destination=message.destination,
                        state=str(after.state),
                        failures=after.failures,
                    )
            self._settle_case(uow, finished, decision, now)
            receipt = finished.attempt.receipt
            if decision.status is MessageStatus.DELIVERED and receipt and self._receipts:
                self._receipts.apply(uow, message, receipt, finished.finished_at)
            self._log(finished, decision)
        return changed

    def _decide(self, finished: Finished, now: datetime) -> Decision:
        route = self._routes[finished.message.destination]
        return decide(finished.message, finished.attempt, route.retry, now, self._jitter())

    def _settle_case(
        self, uow: UnitOfWork, finished: Finished, decision: Decision, now: datetime
    ) -> None:
        """Open (or reopen) the case of a failed message — its own when refused or out of
        attempts, its destination's when the destination stayed away past the maximum age —
        and close a retried case once its messages are delivered."""
        message = finished.message
        if not decision.opens_case:
            if message.attempts > 1 and decision.status in TERMINAL:
                # only a message that failed before can be held by a case
                uow.cases.settle_held([message.id], now, by=f"relay:{self._owner}")
            return
        case = Case(
            id=self._ids.new_id("case"),
            kind=CaseKind.OUTAGE if decision.outage else CaseKind.DELIVERY,
            status=CaseStatus.OPEN,
            object_type=message.object_type,
            object_id=message.object_id,
            opened_at=now,
            updated_at=now,
            correlation_id=message.correlation_id,
            destination=message.destination,
            message_id=message.id,
            last_error=decision.error,
        )
        if decision.outage:
            assert decision.unavailable_since is not None
            since = decision.unavailable_since.isoformat()
            uow.cases.open_outage(
                replace(
                    case,
                    message_id=None,
                    correlation_id=None,
                    last_error=f"{message.destination} unavailable since {since}: {decision.error}",
                    details={"unavailable_since": since},
                ),
                [message.id],
            )
        else:
            uow.cases.open_for_message(case)

    def _log(self, finished: Finished, decision: Decision) -> None:
        message = finished.message
        fields = {
            "message_id": message.id,
            "destination": message.destination,
            "kind": message.kind,
            "attempt": message.attempts,
            "correlation_id": message.correlation_id,
        }
        if decision.status is MessageStatus.DELIVERED:
            self.delivered += 1
            log.debug("relay.delivered", found_by_key=finished.attempt.found_by_key, **fields)
        elif decision.status is MessageStatus.FAILED:
            log.warning("relay.failed", error=decision.error, **fields)
        else:
            log.info("relay.retry", status=str(decision.status), error=decision.error, **fields)

    async def _attempt(self, leased: _Call) -> None:
        """One call (one message, or a batch); its end is recorded by the next cycle. A call
        too late for its rate limit is not made: its messages are given back untried."""
        call = leased.messages
        route = self._routes[call[0].destination]
        started = self._clock.now()
        if leased.start_by is not None and started > leased.start_by:
            self._in_flight[route.name] -= 1
            self._untried += [m.id for m in call]
            self._window[route.name] = min(2 * self._window[route.name], START_WITHIN_AT_MOST)
            late = (started - leased.start_by).total_seconds()
            log.warning(
                "relay.start_missed", destination=route.name, late_seconds=late, relay=self._owner
            )
            return
        if leased.start_by is not None:  # in time: narrow the window back
            self._window[route.name] = max(START_WITHIN, self._window[route.name] / 2)
        try:
            with delivery_span(route.name, call[0].kind, [m.traceparent for m in call]) as span:
                if len(call) == 1:
                    outcomes = [await self._deliver(route, call[0])]
                else:
                    outcomes = await self._deliver_many(route, call)
                _outcome_on(span, outcomes)
        except FailpointError:
            return  # a simulated crash: the attempt is never recorded, its lease runs out
        finally:
            self._in_flight[route.name] -= 1
        ended = self._clock.now()
        for message, (attempt, unsure) in zip(call, outcomes, strict=False):
            self._done.append(Finished(message, started, ended, attempt, unsure))
        self._untried += [m.id for m in call[len(outcomes) :]]
        if route.batch > 1:
            self._adapt(route, len(call), outcomes)

    def _adapt(self, route: Route, sent: int, outcomes: list[tuple[Attempt, bool]]) -> None:
        """Size the next batches to what the destination answers in time: a batch that it
        took and did not answer (unavailable, and it may hold the documents: a timeout) halves
        them; a batch delivered whole at the current size grows them by one, up to the
        route's. A destination that refuses connections (down) changes nothing."""
        size = self._batch[route.name]
        if sent > 1 and any(
            attempt.error_class is ErrorClass.UNAVAILABLE and unsure for attempt, unsure in outcomes
        ):
            resized = max(1, sent // 2)
        elif sent >= size and len(outcomes) == sent and all(a.delivered for a, _ in outcomes):
            resized = min(route.batch, size + 1)
        else:
            return
        if resized != size:
            self._batch[route.name] = resized
            log.info("relay.batch_size", destination=route.name, size=resized, was=size)

    async def _deliver_many(
        self, route: Route, call: list[OutboundMessage]
    ) -> list[tuple[Attempt, bool]]:
        """The attempts of a batch (a prefix of it: what follows a failure is not tried), and
        whether the destination may hold each document afterwards."""
        destination = cast(BatchDestination, route.destination)
        try:
            self._failpoints.hit("relay.before_send")
            attempts = await destination.send_many(call)
            self._failpoints.hit("relay.after_send")
        except FailpointError:
            raise
        except Exception as error:  # a connector bug: retry them all, looking the keys up
            log.exception("relay.connector_error", destination=route.name, message_id=call[0].id)
            failed = Attempt.failed(ErrorClass.RETRIABLE, f"{type(error).__name__}: {error}")
            return [(failed, True)] * len(call)
        return [(a, a.ambiguous) for a in attempts[: len(call)]]

    async def _deliver(self, route: Route, message: OutboundMessage) -> tuple[Attempt, bool]:
        """The attempt and whether the destination may hold the document afterwards."""
        destination = route.destination
        try:
            if message.unsure:
                found = await destination.find_by_key(message.key)
                if found is not None:
                    # delivered before, or the lookup failed: either way we stay unsure
                    return found, not found.delivered
            self._failpoints.hit("relay.before_send")
            attempt = await destination.send(message)
            self._failpoints.hit("relay.after_send")
        except FailpointError:
            raise
        except Exception as error:  # a connector bug: retry, and look the key up first
            log.exception("relay.connector_error", destination=route.name, message_id=message.id)
            return Attempt.failed(ErrorClass.RETRIABLE, f"{type(error).__name__}: {error}"), True
        return attempt, attempt.ambiguous


def _outcome_on(span: Span, outcomes: list[tuple[Attempt, bool]]) -> None:
    """How the attempt ended, on its span: delivered, or the first failure's class."""
    failed = next((a for a, _ in outcomes if not a.delivered), None)
    span.set_attribute("revsync.delivery.delivered", sum(a.delivered for a, _ in outcomes))
    if failed is not None:
        span.set_attribute("revsync.delivery.error_class", str(failed.error_class))
        span.set_status(Status(StatusCode.ERROR, failed.reason))
