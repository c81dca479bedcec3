"""The outbox relay against a real HTTP target that fails on demand (revsync.sandbox.faults):
ordering, retries with Retry-After, lookups after lost answers, exhaustion into exception
cases, circuit breaking, skippable answers, lease expiry and the SSRF guard. SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook

from revsync.adapters.db.tables import destination_circuits, outbox_attempts, outbox_messages
from revsync.bootstrap import Container, build
from revsync.config import ConfigError
from revsync.domain.delivery import CaseKind, CaseStatus, idempotency_key
from revsync.ports.delivery import CaseFilter, NewMessage
from revsync.sandbox.faults import Fault, FaultServer
from tests.conftest import make_settings
from tests.support.delivery import deliver_until, destination, outbox_settings, settled, statuses


@pytest.fixture
def target() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


def wired(url: str, *destinations: dict[str, Any], allow: bool = True) -> Container:
    """revsync on a real clock (the relay waits for real)."""
    return build(make_settings(url, **outbox_settings(*destinations, allow=allow)))


@pytest.fixture
def make(any_db_url: str) -> Iterator[Callable[..., Container]]:
    made: list[Container] = []

    def open_(*destinations: dict[str, Any], allow: bool = True) -> Container:
        container = wired(any_db_url, *destinations, allow=allow)
        made.append(container)
        return container

    yield open_
    for container in made:
        container.close()


def enqueue(container: Container, specs: list[tuple[str, str]], dest: str = "books") -> list[str]:
    """Add one message per (aggregate, document name); returns their keys in order."""
    messages = [
        NewMessage(
            destination=dest,
            aggregate=aggregate,
            kind="invoice.finalized",
            object_type="invoice",
            object_id=name,
            key=idempotency_key("invoice.finalized", name),
            payload={"name": name, "aggregate": aggregate},
            correlation_id=f"corr-{name}",
        )
        for aggregate, name in specs
    ]
    with container.unit_of_work() as uow:
        uow.outbox.add(messages, datetime.now(UTC))
        uow.commit()
    return [m.key for m in messages]


def attempts(container: Container, name: str) -> list[tuple[str, int | None]]:
    """(outcome, status code) of each attempt at a document, in order."""
    a, m = outbox_attempts.c, outbox_messages.c
    query = (
        sa.select(a.outcome, a.status_code)
        .join(outbox_messages, m.id == a.message_id)
        .where(m.object_id == name)
        .order_by(a.id)
    )
    with container.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query)]


def test_every_message_is_delivered_once_in_order_per_aggregate(
    make: Callable[..., Container], target: FaultServer
) -> None:
    container = make(destination(target))
    specs = [(f"customer:{n % 5}", f"doc-{n:02d}") for n in range(40)]
    keys = enqueue(container, specs)
    deliver_until(container, lambda: settled(container))
    assert set(statuses(container).values()) == {"delivered"}
    assert target.commits() == dict.fromkeys(keys, 1)
    for aggregate in {a for a, _ in specs}:
        sent = [
            d["body"]["data"]["name"]
            for d in target.documents()
            if d["body"]["data"]["aggregate"] == aggregate
        ]
        assert sent == [name for a, name in specs if a == aggregate]
    # the envelope carries the key, the kind and the correlation id
    first = next(d for d in target.documents() if d["body"]["data"]["name"] == "doc-00")
    assert first["key"] == keys[0]
    assert (first["body"]["type"], first["body"]["correlation_id"]) == (
        "invoice.finalized",
        "corr-doc-00",
    )


def test_adding_the_same_message_twice_queues_it_once(make: Callable[..., Container]) -> None:
    container = make()
    enqueue(container, [("customer:a", "doc-1")])
    enqueue(container, [("customer:a", "doc-1"), ("customer:a", "doc-2")])
    assert statuses(container) == {"doc-1": "pending", "doc-2": "pending"}


def test_retry_after_is_honoured(make: Callable[..., Container], target: FaultServer) -> None:
    container = make(destination(target))
    target.script(Fault("503", retry_after=1))
    enqueue(container, [("customer:a", "doc-1")])
    deliver_until(container, lambda: settled(container))
    assert attempts(container, "doc-1") == [("unavailable", 503), ("delivered", 201)]
    a = outbox_attempts.c
    with container.engine.connect() as conn:
        (first_end, second_start) = conn.execute(
            sa.select(a.finished_at, a.started_at).order_by(a.id)
        ).all()
    waited = (second_start[1] - first_end[0]).total_seconds()
    assert waited >= 1.0


@pytest.mark.parametrize(
    "fault", [Fault("commit_then_drop"), Fault("reset"), Fault("stall", seconds=3)]
)
def test_after_a_lost_answer_the_key_is_looked_up_before_sending_again(
    make: Callable[..., Container], target: FaultServer, fault: Fault
) -> None:
    container = make(destination(target))
    target.script(fault)
    [key] = enqueue(container, [("customer:a", "doc-1")])
    deliver_until(container, lambda: settled(container))
    # committed by the lost attempt: found by its key; otherwise sent again — once either way
    assert target.commits() == {key: 1}
    second = "found" if fault.kind == "commit_then_drop" else "delivered"
    assert [o for o, _ in attempts(container, "doc-1")] == ["unavailable", second]
    assert target.stats()["lookups"] == 1


def test_without_a_lookup_url_the_message_is_sent_again_with_the_same_key(
    make: Callable[..., Container], target: FaultServer
) -> None:
    container = make(destination(target, lookup_url=None))
    target.script(Fault("commit_then_drop"))
    [key] = enqueue(container, [("customer:a", "doc-1")])
    deliver_until(container, lambda: settled(container))
    # the receiver sees the key twice and must deduplicate on it (documented)
    assert target.commits() == {key: 2}
    assert {d["key"] for d in target.documents()} == {key}


def test_a_refusal_opens_a_case_and_holds_back_its_aggregate_until_resolved(
    make: Callable[..., Container], target: FaultServer
) -> None:
    container = make(destination(target))
    target.script(Fault("422"))
    enqueue(container, [("customer:a", "doc-1"), ("customer:a", "doc-2")])
    deliver_until(container, lambda: statuses(container)["doc-1"] == "failed")
    enqueue(container, [("customer:b", "doc-3")])
    deliver_until(container, lambda: statuses(container)["doc-3"] == "delivered")
    # doc-1 refused: a case; doc-2 waits behind it; customer b is not held back
    assert statuses(container) == {"doc-1": "failed", "doc-2": "pending", "doc-3": "delivered"}
    [case] = container.cases.find(CaseFilter(kind=CaseKind.DELIVERY), after=None, limit=10)
    assert (case.status, case.destination, case.object_id, case.correlation_id) == (
        CaseStatus.OPEN,
        "books",
        "doc-1",
        "corr-doc-1",
    )
    assert case.last_error is not None and case.last_error.startswith("refused: fatal: HTTP 422")
    view = container.cases.show(case.id)
    assert [(a.number, a.outcome, a.status_code) for a in view.attempts] == [(1, "fatal", 422)]
    container.cases.resolve(case.id, "ops", "corrected in the books by hand")
    deliver_until(container, lambda: statuses(container)["doc-2"] == "delivered")
    assert statuses(container)["doc-1"] == "resolved"


def test_exhausted_retries_open_a_case_that_a_retry_then_closes(
    make: Callable[..., Container], target: FaultServer
) -> None:
    container = make(
        destination(
            target,
            retry={"base_seconds": 0.01, "max_delay_seconds": 0.02, "max_attempts": 3},
            # the attempts are counted one by one: a connection that times out on a loaded
            # machine would be one more (unavailable) than the script's
            timeout_seconds=1,
        )
    )
    # a 503 and a 429 say the destination is away: they spend nothing; three 500s do
    target.script(Fault("500"), Fault("503"), Fault("500"), Fault("429"), Fault("500"))
    [key] = enqueue(container, [("customer:a", "doc-1")])
    deliver_until(container, lambda: settled(container))
    assert statuses(container) == {"doc-1": "failed"}
    [case] = container.cases.find(CaseFilter(), after=None, limit=10)
    assert case.last_error is not None
    assert case.last_error.startswith("gave up: 3 attempts made (the policy allows 3)")
    assert "HTTP 500" in case.last_error
    container.cases.retry(case.id, "ops", "the books are back")
    assert container.cases.show(case.id).case.status is CaseStatus.RETRYING
    deliver_until(container, lambda: settled(container))
    closed = container.cases.show(case.id)
    assert (closed.case.status, closed.case.closed_by) == (CaseStatus.RESOLVED, "relay:test-relay")
    assert [a.outcome for a in closed.attempts] == [
        "retriable",
        "unavailable",
        "retriable",
        "unavailable",
        "retriable",
        "delivered",
    ]
    assert target.commits() == {key: 1}
    actions = [e.record.action for e in container.audit.entries(after=None, limit=100)]
    assert "case.retried" in actions


def test_an_open_circuit_holds_messages_without_spending_their_attempts(
    make: Callable[..., Container], target: FaultServer
) -> None:
    container = make(
        destination(
            target,
            concurrency=1,
            retry={"base_seconds": 0.01, "max_delay_seconds": 0.02, "max_attempts": 4},
            circuit={"failure_threshold": 3, "open_seconds": 0.3},
        )
    )
    target.script(*[Fault("503")] * 8)
    enqueue(container, [(f"customer:{n}", f"doc-{n}") for n in range(6)])
    deliver_until(container, lambda: settled(container))
    # eight failures in a row, but no message gave up: the circuit stopped the attempts after
    # three failures and let one probe through at a time
    assert set(statuses(container).values()) == {"delivered"}
    assert target.stats()["fault_503"] == 8
    with container.engine.connect() as conn:
        state = conn.execute(sa.select(destination_circuits.c.state)).scalar_one()
    assert state == "closed"


def test_a_slow_probe_is_not_joined_by_another_from_a_second_relay(
    make: Callable[..., Container], target: FaultServer
) -> None:
    """A probe that takes longer than the open period is still out, not lost: another relay
    waits for it (until its lease runs out) instead of sending a second probe beside it."""
    container = make(
        destination(
            target,
            concurrency=1,
            circuit={"failure_threshold": 1, "open_seconds": 0.1},
        )
    )
    # a failure opens the circuit: past the two first requests (one per relay, in flight
    # before any was recorded) each is a probe; the third stalls for 0.45 s (within the 0.5 s
    # timeout), four times the open period
    target.script(Fault("503"), Fault("503"), Fault("stall", seconds=0.45))
    enqueue(container, [(f"customer:{n}", f"doc-{n}") for n in range(4)])

    async def two_relays() -> None:
        relays = [container.relay("relay-a"), container.relay("relay-b")]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(r.run(stop)) for r in relays]
        deadline = time.monotonic() + 60
        while not await asyncio.to_thread(settled, container):
            assert time.monotonic() < deadline, statuses(container)
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.gather(*tasks)
        for relay in relays:
            await relay.aclose()

    asyncio.run(two_relays())
    assert set(statuses(container).values()) == {"delivered"}
    a = outbox_attempts.c
    with container.engine.connect() as conn:
        spans = conn.execute(
            sa.select(a.started_at, a.finished_at, a.outcome).order_by(a.started_at)
        ).all()
    [stalled] = [s for s in spans if (s.finished_at - s.started_at).total_seconds() >= 0.4]
    beside = [s for s in spans if stalled.started_at < s.started_at < stalled.finished_at]
    assert beside == [], spans


def test_a_skippable_answer_drops_the_message_without_a_case(
    make: Callable[..., Container], target: FaultServer
) -> None:
    container = make(destination(target))
    target.script(Fault("410"))
    enqueue(container, [("customer:a", "doc-1"), ("customer:a", "doc-2")])
    deliver_until(container, lambda: settled(container))
    assert statuses(container) == {"doc-1": "skipped", "doc-2": "delivered"}
    assert container.cases.find(CaseFilter(), after=None, limit=10) == []


def test_a_lease_that_runs_out_makes_the_message_due_again_and_unsure(
    make: Callable[..., Container], target: FaultServer
) -> None:
    container = make(destination(target))
    container.failpoints.arm("relay.after_send", "raise", times=1)  # sent, then the relay "dies"
    [key] = enqueue(container, [("customer:a", "doc-1")])
    started = time.monotonic()
    deliver_until(container, lambda: settled(container))
    assert time.monotonic() - started >= 2  # the lease had to run out first
    assert target.commits() == {key: 1}
    # the first attempt was never recorded; the second found the document by its key
    assert attempts(container, "doc-1") == [("found", None)]


def test_a_destination_in_a_private_network_is_refused_unless_allowed(
    make: Callable[..., Container], target: FaultServer
) -> None:
    container = make(destination(target), allow=False)
    enqueue(container, [("customer:a", "doc-1")])
    deliver_until(container, lambda: settled(container))
    assert target.stats()["posts"] == 0
    [case] = container.cases.find(CaseFilter(), after=None, limit=10)
    assert case.last_error is not None
    assert "unsafe destination" in case.last_error
    assert "plain http is only allowed" in case.last_error


def test_a_signed_destination_gets_a_standard_webhooks_signature_of_the_exact_body(
    any_db_url: str, target: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REVSYNC_BOOKS_SECRET", "s3cret-value")
    container = wired(any_db_url, destination(target, secret_env="REVSYNC_BOOKS_SECRET"))
    try:
        [key] = enqueue(container, [("customer:a", "doc-1")])
        deliver_until(container, lambda: settled(container))
    finally:
        container.close()
    [document] = target.documents()
    headers = document["headers"]
    assert (headers["idempotency-key"], headers["x-revsync-event"]) == (key, "invoice.finalized")
    assert headers["webhook-id"] == key
    # a raw secret's bytes are the key (more in tests/adapters/connectors/test_webhook.py)
    envelope = Webhook(b"s3cret-value").verify(document["raw"], headers)
    assert envelope["idempotency_key"] == key
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60


def test_a_missing_secret_stops_the_worker_before_it_starts(
    any_db_url: str, target: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REVSYNC_BOOKS_SECRET", raising=False)
    container = wired(any_db_url, destination(target, secret_env="REVSYNC_BOOKS_SECRET"))
    try:
        with pytest.raises(
            ConfigError, match=r"outbox.destinations.0.secret_env: REVSYNC_BOOKS_SECRET is not set"
        ):
            container.relay()
    finally:
        container.close()


def test_the_rate_limit_spreads_the_starts(
    make: Callable[..., Container], target: FaultServer
) -> None:
    container = make(destination(target, rate_per_second=20, concurrency=8))
    enqueue(container, [(f"customer:{n}", f"doc-{n}") for n in range(30)])
    deliver_until(container, lambda: settled(container))
    a = outbox_attempts.c
    with container.engine.connect() as conn:
        first, last = conn.execute(
            sa.select(sa.func.min(a.started_at), sa.func.max(a.started_at))
        ).one()
    # a burst of one second's worth (20), then 20 per second: the last 10 start over half a
    # second (the bucket is in the database: every relay of every process draws from it)
    assert (last - first).total_seconds() >= 0.4  # 0.5, less a first start's lag
    assert len(target.documents()) == 30


def test_the_rate_limit_holds_across_relays(
    make: Callable[..., Container], target: FaultServer
) -> None:
    """Three relays (as three worker processes would) share the destination's bucket: 30
    messages at 20 per second still take half a second after the first burst."""
    container = make(destination(target, rate_per_second=20, concurrency=8))
    enqueue(container, [(f"customer:{n}", f"doc-{n}") for n in range(30)])

    async def main() -> None:
        relays = [container.relay(f"relay-{n}") for n in range(3)]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(r.run(stop)) for r in relays]
        deadline = time.monotonic() + 30
        while not await asyncio.to_thread(settled, container):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.gather(*tasks)
        for relay in relays:
            await relay.aclose()

    asyncio.run(main())
    a = outbox_attempts.c
    with container.engine.connect() as conn:
        first, last = conn.execute(
            sa.select(sa.func.min(a.started_at), sa.func.max(a.started_at))
        ).one()
        relays = conn.execute(sa.select(sa.func.count(sa.distinct(a.relay)))).scalar_one()
    assert relays > 1  # the work was shared
    assert (last - first).total_seconds() >= 0.4  # 0.5, less a first start's lag
    assert target.commits() == {k: 1 for k in target.commits()} and len(target.commits()) == 30


def test_adding_messages_counts_only_the_new_ones(make: Callable[..., Container]) -> None:
    """A message already queued under its key is not added again, and is not counted (on
    PostgreSQL the driver's row count for such an insert is -1, which read as "added")."""
    container = make()
    message = NewMessage(
        destination="books",
        aggregate="customer:1",
        kind="invoice.finalized",
        object_type="invoice",
        object_id="inv-1",
        key=idempotency_key("invoice.finalized", "inv-1"),
        payload={"name": "inv-1"},
    )
    other = replace(message, object_id="inv-2", key=idempotency_key("invoice.finalized", "inv-2"))
    with container.unit_of_work() as uow:
        assert uow.outbox.add([message], datetime.now(UTC)) == 1
        assert uow.outbox.add([message, other], datetime.now(UTC)) == 1
        assert uow.outbox.add([message, other], datetime.now(UTC)) == 0
        uow.commit()
