"""A destination's rate limit against the interleavings that broke it, played on clocks the
tests move (nothing here measures the machine): a claim whose calls go out late (a slow
commit, a paused process) and relays whose clocks disagree (one read its clock before
waiting for the circuits' lock, or runs on a host behind the others). The promise: the starts
the destination sees fit a bucket of one second's worth, refilled at ``rate_per_second``.
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from revsync.adapters.db.tables import outbox_messages
from revsync.adapters.outbox.relay import Relay, Route
from revsync.bootstrap import Container, build
from revsync.domain.delivery import Attempt, OutboundMessage, idempotency_key
from revsync.ports.delivery import NewMessage
from revsync.ports.repositories import UnitOfWork, UnitOfWorkFactory
from tests.conftest import make_settings
from tests.support.clock import FrozenClock
from tests.support.delivery import outbox_settings, statuses

RATE = 20  # starts per second: a bucket of 20


class Recorder:
    """A destination that takes everything at once and notes when each call reached it."""

    def __init__(self, clock: FrozenClock) -> None:
        self._clock = clock
        self.starts: list[datetime] = []

    async def send(self, message: OutboundMessage) -> Attempt:
        self.starts.append(self._clock.now())
        return Attempt.ok(remote_id=str(message.id))

    async def find_by_key(self, key: str) -> Attempt | None:
        self.starts.append(self._clock.now())
        return None

    async def aclose(self) -> None:
        pass


class Transactions:
    """The relay's units of work, counted; the first ``slow`` commits take ``stall`` of the
    clock (a slow disk, or the process paused right after its claim)."""

    def __init__(
        self,
        opened: UnitOfWorkFactory,
        clock: FrozenClock,
        *,
        slow: int = 0,
        stall: timedelta = timedelta(0),
    ) -> None:
        self._opened = opened
        self._clock = clock
        self._slow = slow
        self._stall = stall
        self.count = 0

    @contextmanager
    def __call__(self, *, write: bool = True) -> Iterator[UnitOfWork]:
        self.count += 1
        with self._opened(write=write) as uow:
            commit = uow.commit

            def slow_commit() -> None:
                commit()
                if self._slow > 0:
                    self._slow -= 1
                    self._clock.advance(self._stall)

            uow.commit = slow_commit  # type: ignore[method-assign]
            yield uow


@pytest.fixture
def container(any_db_url: str) -> Iterator[Container]:
    made = build(make_settings(any_db_url, **outbox_settings()))
    yield made
    made.close()


def enqueue(container: Container, count: int, at: datetime, first: int = 0) -> None:
    """``count`` messages to ``books``, each of its own customer, due at ``at``."""
    messages = [
        NewMessage(
            destination="books",
            aggregate=f"customer:{n}",
            kind="invoice.finalized",
            object_type="invoice",
            object_id=f"doc-{n}",
            key=idempotency_key("invoice.finalized", f"doc-{n}"),
            payload={"name": f"doc-{n}"},
        )
        for n in range(first, first + count)
    ]
    with container.unit_of_work() as uow:
        uow.outbox.add(messages, at)
        uow.commit()


def relay(
    container: Container, clock: FrozenClock, destination: Recorder, uow: Transactions, owner: str
) -> Relay:
    route = Route("books", destination, rate_per_second=RATE, concurrency=30)
    return Relay(uow, [route], clock, container.ids, owner=owner, poll=0.01)


def run(
    relays: list[Relay],
    until: Callable[[], bool],
    tick: Callable[[], None] = lambda: None,
) -> None:
    """Run ``relays`` until ``until()`` holds, calling ``tick`` between looks (in the event
    loop: never in the middle of a call's start)."""

    async def main() -> None:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(r.run(stop)) for r in relays]
        deadline = time.monotonic() + 60  # bounds the wait on a loaded machine
        try:
            while not await asyncio.to_thread(until):
                assert time.monotonic() < deadline
                assert not any(t.done() for t in tasks), [t.exception() for t in tasks]
                await asyncio.sleep(0.01)
                tick()
        finally:
            stop.set()
            await asyncio.gather(*tasks)

    asyncio.run(main())


def over_the_bucket(starts: list[datetime]) -> str | None:
    """The longest run of starts more than the bucket allows (``RATE`` plus ``RATE`` per
    second of the stretch they cover), described; None when every stretch fits."""
    at = sorted(starts)
    over = [
        (j - i + 1, seconds)
        for i in range(len(at))
        for j in range(i, len(at))
        if j - i + 1 > RATE + RATE * (seconds := (at[j] - at[i]).total_seconds()) + 1e-6
    ]
    if not over:
        return None
    count, seconds = max(over)
    return f"{count} starts within {seconds:.3f} s (the bucket allows {RATE + RATE * seconds:g})"


def test_calls_that_would_start_late_for_their_grant_wait_for_a_later_one(
    container: Container,
) -> None:
    """The first claim's commit takes half a second: by then the bucket has refilled for
    calls that have not even started. Its calls are given back untried (no attempt spent),
    and leased again as the bucket allows: never 30 at once at a rate of 20."""
    clock = FrozenClock(datetime.now(UTC))
    enqueue(container, 30, clock.now())
    books = Recorder(clock)
    uow = Transactions(container.unit_of_work, clock, slow=1, stall=timedelta(seconds=0.5))
    relays = [relay(container, clock, books, uow, "relay-a")]
    run(
        relays,
        lambda: set(statuses(container).values()) == {"delivered"},
        lambda: clock.advance(timedelta(milliseconds=5)),  # the clock runs at half speed
    )
    assert over_the_bucket(books.starts) is None
    assert len(books.starts) == 30  # each sent once: the calls given back were not made
    with container.engine.connect() as conn:
        spent = conn.execute(sa.select(outbox_messages.c.attempts)).scalars().all()
    assert spent == [1] * 30  # and spent no attempt


def test_a_relay_that_stays_slow_widens_its_window_and_still_delivers(
    container: Container,
) -> None:
    """Every commit takes half a second, longer than the first window: calls given back would
    be given back for ever at a fixed window. The window doubles after each miss, so the
    messages still go — within the bucket, each sent once, no attempt spent on a miss."""
    clock = FrozenClock(datetime.now(UTC))
    enqueue(container, 30, clock.now())
    books = Recorder(clock)
    uow = Transactions(container.unit_of_work, clock, slow=10**6, stall=timedelta(seconds=0.5))
    run(
        [relay(container, clock, books, uow, "relay-a")],
        lambda: set(statuses(container).values()) == {"delivered"},
    )
    assert over_the_bucket(books.starts) is None
    assert len(books.starts) == 30
    with container.engine.connect() as conn:
        spent = conn.execute(sa.select(outbox_messages.c.attempts)).scalars().all()
    assert spent == [1] * 30


def test_a_relay_whose_clock_is_behind_neither_refills_the_bucket_nor_turns_it_back(
    container: Container,
) -> None:
    """A relay that counts the bucket at an earlier time than the last count (it read its
    clock before waiting for the lock, or its host is behind) must not take the tokens as
    they were then, nor date the bucket back and so make the next relay refill a second time
    what was refilled already. No clock moves here: one second's worth is all that may go."""
    ahead = FrozenClock(datetime.now(UTC) + timedelta(seconds=1))
    behind = FrozenClock(ahead.now() - timedelta(seconds=1))
    books = Recorder(ahead)
    enqueue(container, 10, behind.now())
    # relay a starts 10 of the 20 in the bucket
    uow_a = Transactions(container.unit_of_work, ahead)
    run([relay(container, ahead, books, uow_a, "relay-a")], lambda: len(books.starts) == 10)
    enqueue(container, 30, behind.now(), first=10)
    # relay b, a second behind, runs a few cycles; then relay a again
    uow_b = Transactions(container.unit_of_work, behind)
    run([relay(container, behind, books, uow_b, "relay-b")], lambda: uow_b.count >= 3)
    cycles = uow_a.count
    run([relay(container, ahead, books, uow_a, "relay-a")], lambda: uow_a.count >= cycles + 3)
    assert len(books.starts) <= RATE, f"{len(books.starts)} started in no time"
