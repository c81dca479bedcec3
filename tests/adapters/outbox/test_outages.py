"""Outages need no person: a destination that does not answer (connection refused, 503, 429)
spends none of a message's attempts, however long it stays away; only the maximum age ends an
outage, in one case for the destination that holds its messages and says what waits behind
them. A real HTTP target stopped and started again on its port; SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from revsync.bootstrap import Container, build
from revsync.domain.delivery import CaseKind, CaseStatus, idempotency_key
from revsync.observability.metrics import render
from revsync.ports.delivery import CaseFilter, NewMessage
from revsync.sandbox.faults import Fault, FaultServer
from tests.conftest import make_settings
from tests.support.delivery import deliver_until, destination, outbox_settings, statuses
from tests.support.server import free_port

#: a budget spent in well under a second when every attempt counts
FAST = {"base_seconds": 0.02, "max_delay_seconds": 0.1, "max_attempts": 2}


@pytest.fixture
def target() -> Iterator[FaultServer]:
    server = FaultServer(port=free_port())
    with server:
        yield server


@pytest.fixture
def make(any_db_url: str) -> Iterator[Callable[..., Container]]:
    made: list[Container] = []

    def open_(*destinations: dict[str, Any]) -> Container:
        container = build(make_settings(any_db_url, **outbox_settings(*destinations)))
        made.append(container)
        return container

    yield open_
    for container in made:
        container.close()


def enqueue(container: Container, specs: list[tuple[str, str]]) -> list[str]:
    messages = [
        NewMessage(
            destination="books",
            aggregate=aggregate,
            kind="invoice.finalized",
            object_type="invoice",
            object_id=name,
            key=idempotency_key("invoice.finalized", name),
            payload={"name": name},
        )
        for aggregate, name in specs
    ]
    with container.unit_of_work() as uow:
        uow.outbox.add(messages, datetime.now(UTC))
        uow.commit()
    return [m.key for m in messages]


def test_an_outage_longer_than_the_whole_attempt_budget_spends_none_of_it(
    make: Callable[..., Container], target: FaultServer
) -> None:
    container = make(destination(target, retry=FAST))
    specs = [("customer:a", "doc-1"), ("customer:a", "doc-2"), ("customer:b", "doc-3")]
    keys = enqueue(container, specs)
    target.stop()  # connections refused: the budget would be spent in ~0.1 s
    back_at, back = time.monotonic() + 1.5, []

    def delivered() -> bool:
        # the target comes back after 1.5 s (checked here: a timer thread's timed wait runs on
        # the wall clock, which the clock-ahead pass moves a year on)
        if not back and time.monotonic() >= back_at:
            target.start()
            back.append(True)
        return set(statuses(container).values()) == {"delivered"}

    relay = deliver_until(container, delivered)
    assert target.commits() == dict.fromkeys(keys, 1)
    assert container.cases.find(CaseFilter(), after=None, limit=10) == []
    assert relay.delivered == 3
    with container.unit_of_work(write=False) as uow:
        outcomes = {o: n for (_, o), n in uow.outbox.attempt_counts().items()}
    assert outcomes["unavailable"] > 2 * FAST["max_attempts"]  # more than the budget twice
    assert outcomes["delivered"] == 3


def test_busy_answers_spend_nothing_and_a_server_error_does(
    make: Callable[..., Container], target: FaultServer
) -> None:
    container = make(destination(target, retry=FAST))
    target.script(*[Fault("503"), Fault("429")] * 3, Fault("500"), Fault("500"))
    enqueue(container, [("customer:a", "doc-1")])
    deliver_until(container, lambda: statuses(container)["doc-1"] == "failed")
    [case] = container.cases.find(CaseFilter(), after=None, limit=10)
    assert case.kind is CaseKind.DELIVERY
    assert case.last_error is not None
    assert case.last_error.startswith("gave up: 2 attempts made (the policy allows 2)")
    outcomes = [a.outcome for a in container.cases.show(case.id).attempts]
    assert outcomes == ["unavailable"] * 6 + ["retriable", "retriable"]


def test_an_outage_past_the_maximum_age_opens_one_case_for_the_destination(
    make: Callable[..., Container], target: FaultServer
) -> None:
    aged = {**FAST, "max_age_hours": 1 / 3600}  # one second
    container = make(destination(target, retry=aged))
    specs = [(f"customer:{c}", f"doc-{c}{n}") for c in "abc" for n in (1, 2)]
    keys = enqueue(container, specs)
    target.stop()
    deliver_until(container, lambda: sorted(statuses(container).values()).count("failed") == 3)
    # one case for the destination, holding the three heads; their followers wait behind
    [case] = container.cases.find(CaseFilter(), after=None, limit=10)
    assert (case.kind, case.status, case.destination, case.object_id) == (
        CaseKind.OUTAGE,
        CaseStatus.OPEN,
        "books",
        "books",
    )
    assert case.message_id is None
    assert case.last_error is not None
    assert case.last_error.startswith("books unavailable since ")
    assert "past the maximum age (0.000277778 h)" in case.last_error
    assert case.details is not None
    assert {k: case.details[k] for k in ("messages_held", "waiting_behind")} == {
        "messages_held": 3,
        "waiting_behind": 3,
    }
    assert statuses(container) == {
        "doc-a1": "failed",
        "doc-a2": "pending",
        "doc-b1": "failed",
        "doc-b2": "pending",
        "doc-c1": "failed",
        "doc-c2": "pending",
    }
    metrics = render(container.operations.health).decode()
    held = f'revsync_outbox_held_messages{{case="{case.id}",destination="books"}} 3.0'
    assert held in metrics
    assert 'revsync_cases_open{kind="outage"} 1.0' in metrics

    # back: one retry of the case sends everything it held, and the relay closes it
    target.start()
    container.cases.retry(case.id, "ops", "the books are back")
    deliver_until(container, lambda: set(statuses(container).values()) == {"delivered"})
    assert target.commits() == dict.fromkeys(keys, 1)
    closed = container.cases.show(case.id).case
    assert (closed.status, closed.closed_by) == (CaseStatus.RESOLVED, "relay:test-relay")
    assert "revsync_outbox_held_messages{" not in render(container.operations.health).decode()


def test_ignoring_an_outage_case_ends_the_messages_it_holds(
    make: Callable[..., Container], target: FaultServer
) -> None:
    aged = {**FAST, "max_age_hours": 1 / 3600}
    container = make(destination(target, retry=aged))
    enqueue(container, [("customer:a", "doc-a1"), ("customer:b", "doc-b1")])
    target.stop()
    deliver_until(container, lambda: set(statuses(container).values()) == {"failed"})
    [case] = container.cases.find(CaseFilter(kind=CaseKind.OUTAGE), after=None, limit=10)
    container.cases.ignore(case.id, "ops", "the old books were retired")
    assert statuses(container) == {"doc-a1": "ignored", "doc-b1": "ignored"}
    assert container.cases.show(case.id).case.status is CaseStatus.IGNORED
