"""The relay sizes a batching destination's calls to what it answers in time: a batch that the
destination took and did not answer (a timeout — the documents may be there) halves the next
ones; batches delivered whole grow them back by one, never past the route's size; a destination
that refuses connections (down) changes nothing. Every document is delivered exactly once.

The destination here is a small in-process one that keeps what it is sent by key (resends are
found, as the ERP finds them): what it models — an answer later than the client's timeout,
after the commit, from batches over a size — cannot be produced on demand by a real ERP.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import timedelta

import pytest

from revsync.adapters.outbox.relay import Relay, Route
from revsync.bootstrap import Container, build
from revsync.domain.delivery import Attempt, CircuitPolicy, ErrorClass, RetryPolicy
from revsync.ports.delivery import OutboundMessage
from tests.adapters.outbox.test_relay import enqueue
from tests.conftest import make_settings
from tests.support.delivery import deliver_until, settled

FAST = RetryPolicy(base_seconds=0.01, max_delay_seconds=0.05, max_attempts=3)
NEVER_OPEN = CircuitPolicy(failure_threshold=10_000)


class Books:
    """Posts each key once; a batch over ``capacity`` is posted but answered too late (a
    timeout, after the commit); while ``down``, every connection is refused."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.down = 0  # calls still to refuse
        self.posted: Counter[str] = Counter()  # times each key was written
        self.sizes: list[int] = []  # the size of each call that reached it

    async def send(self, message: OutboundMessage) -> Attempt:
        [attempt] = await self.send_many([message])
        return attempt

    async def send_many(self, messages: Sequence[OutboundMessage]) -> list[Attempt]:
        if self.down:
            self.down -= 1
            return [Attempt.failed(ErrorClass.UNAVAILABLE, "connection refused")] * len(messages)
        self.sizes.append(len(messages))
        found = [m.key in self.posted for m in messages]
        for message, known in zip(messages, found, strict=True):
            if not known:
                self.posted[message.key] += 1
        if len(messages) > self.capacity:
            late = Attempt.failed(ErrorClass.UNAVAILABLE, "read timed out", ambiguous=True)
            return [late] * len(messages)
        answers = zip(messages, found, strict=True)
        return [Attempt.ok(m.key, found_by_key=known) for m, known in answers]

    async def find_by_key(self, key: str) -> Attempt | None:
        return Attempt.ok(key, found_by_key=True) if key in self.posted else None

    async def aclose(self) -> None:
        return None


@pytest.fixture
def container(db_url: str) -> Iterator[Container]:
    """revsync on a real clock (the relay waits for real)."""
    wired = build(make_settings(db_url))
    yield wired
    wired.close()


def relay(container: Container, books: Books, batch: int = 16) -> Relay:
    route = Route("books", books, FAST, NEVER_OPEN, concurrency=1, batch=batch)
    return Relay(
        container.unit_of_work,
        [route],
        container.clock,
        container.ids,
        owner="test-relay",
        lease=timedelta(seconds=30),
        poll=0.02,
    )


def test_a_batch_that_times_out_halves_the_next_and_delivered_ones_grow_them_back(
    container: Container,
) -> None:
    books = Books(capacity=4)
    keys = enqueue(container, [("acme", f"doc-{n:03d}") for n in range(60)])
    deliver_until(container, lambda: settled(container), relay=relay(container, books))

    assert books.posted == Counter(dict.fromkeys(keys, 1))  # each document once
    assert max(books.sizes) == 16 and books.sizes[:4] == [16, 8, 4, 5]
    # after the first timeout, no batch grows past what was answered in time by more than one
    assert max(books.sizes[2:]) == 5
    assert books.sizes.count(16) == 1


def test_delivered_batches_grow_back_to_the_routes_size_and_no_further(
    container: Container,
) -> None:
    books = Books(capacity=6)
    enqueue(container, [("acme", f"doc-{n:03d}") for n in range(40)])
    slow = relay(container, books, batch=8)
    deliver_until(container, lambda: settled(container), relay=slow)
    assert books.sizes[:3] == [8, 4, 5]  # 8 timed out; then 4, 5, 6 answered in time…
    assert 7 in books.sizes  # …and 7 timed out again, the size went back to 3 and grew on

    books.capacity = 100  # the destination is fast again: sizes grow back to 8 and stay there
    before = len(books.sizes)
    enqueue(container, [("acme", f"late-{n:03d}") for n in range(80)])
    deliver_until(container, lambda: settled(container), relay=slow)
    grown = books.sizes[before:-1]  # the last call takes what is left
    full = grown.index(8)
    assert grown[:full] == list(range(grown[0], 8))  # one more each time
    assert grown[full:] == [8] * (len(grown) - full) and len(grown) - full >= 5


def test_a_destination_that_refuses_connections_leaves_the_size_as_it_was(
    container: Container,
) -> None:
    books = Books(capacity=100)
    books.down = 3
    keys = enqueue(container, [("acme", f"doc-{n:03d}") for n in range(32)])
    deliver_until(container, lambda: settled(container), relay=relay(container, books))
    assert books.posted == Counter(dict.fromkeys(keys, 1))
    # had the three refusals halved the size (to 2), 32 messages could not grow it back to 16
    # (the first call after them may be smaller: only the messages already due are leased)
    assert 16 in books.sizes
