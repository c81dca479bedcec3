"""Retention on SQLite and PostgreSQL: finished outbox messages with their attempts, dead
letters and idempotency keys pruned once past their age, a bounded batch per transaction;
what a case, reconciliation or a later announcement still needs is kept; the worker's job
prunes once however many workers offer to run it."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from revsync.adapters.db.tables import (
    customers,
    erp_postings,
    exception_cases,
    idempotency_keys,
    invoices,
    outbox_attempts,
    outbox_messages,
)
from revsync.application.idempotency import Verdict
from revsync.bootstrap import Container, build
from revsync.domain.delivery import CaseKind, CaseStatus, MessageStatus
from revsync.domain.problems import Code
from revsync.domain.reconciliation import Check, LedgerEntry
from revsync.domain.retention import Pruned
from revsync.entrypoints.workers.relay import worker_jobs
from revsync.ports.delivery import Case, NewMessage
from revsync.ports.repositories import DeadLetter
from revsync.sandbox.faults import FaultServer
from tests.conftest import make_settings
from tests.support.clock import FrozenClock, utc
from tests.support.delivery import deliver_until, destination, outbox_settings, settled

NOW = utc(2027, 6, 1, 12)
DAY = timedelta(days=1)
#: the default outbox retention
KEPT = 400 * DAY
_keys = itertools.count(1)


def wired(url: str, clock: FrozenClock, **overrides: Any) -> Container:
    return build(make_settings(url, **overrides), clock=clock)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def container(any_db_url: str, clock: FrozenClock) -> Iterator[Container]:
    built = wired(any_db_url, clock)
    yield built
    built.close()


def message(
    container: Container,
    status: MessageStatus,
    created: datetime,
    *,
    delivered: datetime | None = None,
    attempts: tuple[datetime, ...] = (),
    kind: str = "invoice.finalized",
    object_id: str = "inv-1",
    destination: str = "books",
    case_id: str | None = None,
) -> int:
    """A message as the outbox and the relay leave it, with an attempt ended at each of
    ``attempts``; returns its id."""
    with container.engine.begin() as conn:
        message_id = conn.execute(
            outbox_messages.insert()
            .values(
                destination=destination,
                aggregate=f"customer:{object_id}",
                kind=kind,
                object_type=kind.split(".")[0],
                object_id=object_id,
                idempotency_key=f"key-{next(_keys)}",
                payload={},
                created_at=created,
                status=status.value,
                attempts=len(attempts),
                round_started_at=created,
                next_attempt_at=attempts[-1] if attempts else created,
                delivered_at=delivered,
                case_id=case_id,
            )
            .returning(outbox_messages.c.id)
        ).scalar_one()
        for number, ended in enumerate(attempts, 1):
            conn.execute(
                outbox_attempts.insert().values(
                    message_id=message_id,
                    number=number,
                    started_at=ended - timedelta(seconds=1),
                    finished_at=ended,
                    outcome="delivered" if ended == delivered else "retriable",
                    relay="relay-1",
                )
            )
    return int(message_id)


def delivered(container: Container, at: datetime, **fields: Any) -> int:
    """A message delivered at ``at`` on its second attempt."""
    return message(
        container, MessageStatus.DELIVERED, at, delivered=at, attempts=(at, at), **fields
    )


def kept_messages(container: Container) -> set[int]:
    with container.engine.connect() as conn:
        return set(conn.execute(sa.select(outbox_messages.c.id)).scalars())


def attempts_of(container: Container) -> set[int]:
    with container.engine.connect() as conn:
        return set(conn.execute(sa.select(outbox_attempts.c.message_id)).scalars())


def test_finished_messages_past_their_age_go_with_their_attempts(
    container: Container,
) -> None:
    old, young = NOW - KEPT - DAY, NOW - KEPT + DAY
    gone = {
        delivered(container, old),
        delivered(container, old - 30 * DAY, object_id="inv-2"),
        # skipped: its last attempt ended before the cut-off
        message(container, MessageStatus.SKIPPED, old - DAY, attempts=(old - DAY, old)),
    }
    stays = {
        delivered(container, young),
        # created long ago, but its last attempt (a skip) ended within the age
        message(container, MessageStatus.SKIPPED, old - DAY, attempts=(old, young)),
        # unfinished, whatever their age
        message(container, MessageStatus.PENDING, old - DAY),
        message(container, MessageStatus.IN_FLIGHT, old - DAY, attempts=(old,)),
    }
    report = container.retention.prune()
    assert report.pruned == Pruned(messages=3, attempts=6)
    assert kept_messages(container) == stays
    assert attempts_of(container) <= stays and not gone & attempts_of(container)
    # a second run finds nothing more
    assert container.retention.prune().pruned == Pruned()


def test_messages_a_case_refers_to_stay_open_or_closed(container: Container) -> None:
    old = NOW - KEPT - 30 * DAY
    failed = message(container, MessageStatus.FAILED, old, attempts=(old,))
    retried = message(container, MessageStatus.FAILED, old, attempts=(old,), object_id="inv-2")
    for message_id, case_id in ((failed, "case_failed"), (retried, "case_retried")):
        with container.unit_of_work() as uow:
            uow.cases.open_for_message(
                Case(
                    case_id,
                    CaseKind.DELIVERY,
                    CaseStatus.OPEN,
                    "invoice",
                    f"inv-{message_id}",
                    old,
                    old,
                    destination="books",
                    message_id=message_id,
                    last_error="refused",
                )
            )
            uow.commit()
    # one retried from its case and delivered (the case resolved), the other resolved unsent
    with container.engine.begin() as conn:
        conn.execute(
            outbox_messages.update()
            .where(outbox_messages.c.id == retried)
            .values(status=MessageStatus.DELIVERED.value, delivered_at=old + DAY)
        )
    with container.unit_of_work() as uow:
        uow.cases.set_status("case_retried", CaseStatus.RESOLVED, old + DAY, by="relay")
        uow.commit()
    container.cases.resolve("case_failed", "ops", "sent by hand")
    # a message held by its destination's outage case, delivered since
    outage = message(container, MessageStatus.PENDING, old, object_id="inv-3")
    with container.unit_of_work() as uow:
        uow.cases.open_outage(
            Case(
                "case_outage",
                CaseKind.OUTAGE,
                CaseStatus.OPEN,
                "destination",
                "books",
                old,
                old,
                destination="books",
            ),
            [outage],
        )
        uow.commit()
    with container.engine.begin() as conn:
        conn.execute(
            outbox_messages.update()
            .where(outbox_messages.c.id == outage)
            .values(status=MessageStatus.DELIVERED.value, delivered_at=old + DAY)
        )
    lone = delivered(container, old, object_id="inv-4")
    with container.engine.connect() as conn:
        statuses = dict(
            conn.execute(sa.select(outbox_messages.c.id, outbox_messages.c.status)).all()
        )
        closed = conn.execute(
            sa.select(sa.func.count()).where(exception_cases.c.status == "resolved")
        ).scalar_one()
    assert (statuses[failed], statuses[retried], closed) == ("resolved", "delivered", 2)

    assert container.retention.prune().pruned == Pruned(messages=1, attempts=2)
    assert kept_messages(container) == {failed, retried, outage}
    assert lone not in attempts_of(container)
    view = container.cases.show("case_failed")  # a closed case still shows its history
    assert view.message is not None and len(view.attempts) == 1


def test_announcements_made_once_for_ever_stay(container: Container) -> None:
    # a customer's next subscription announces customer.activated again under the same key:
    # the outbox drops it only while the first message is there
    old = NOW - 3 * KEPT
    first = delivered(container, old, kind="customer.activated", object_id="acme")
    streak = delivered(container, old, kind="expansion.detected", object_id="expansion:acme")
    delivered(container, old, kind="risk.raised", object_id="risk:acme:overdue:2026-01-01")
    assert container.retention.prune().pruned.messages == 1
    assert kept_messages(container) == {first, streak}


def test_what_reconciliation_reads_stays_and_it_still_finds_every_erp_document(
    any_db_url: str, clock: FrozenClock
) -> None:
    # the shortest retention allowed: the reconciliation window (90 days)
    container = wired(any_db_url, clock, retention={"outbox_days": 90})
    try:
        with container.engine.begin() as conn:
            conn.execute(
                customers.insert().values(
                    id="acme",
                    name="Acme",
                    currency="EUR",
                    timezone="UTC",
                    created_at=NOW - 400 * DAY,
                    updated_at=NOW - 400 * DAY,
                )
            )
        ledger = []
        # issued, posted and dated in the ERP: 60 days ago (within the window); 100 days ago
        # but rolled forward out of a closed period to 85 days ago; 120 days ago
        for number, (issued, posted, erp_date) in enumerate(
            [
                (NOW - 60 * DAY, NOW - 60 * DAY, NOW - 60 * DAY),
                (NOW - 100 * DAY, NOW - 95 * DAY, NOW - 85 * DAY),
                (NOW - 120 * DAY, NOW - 120 * DAY, NOW - 120 * DAY),
            ],
            1,
        ):
            invoice_id = f"inv-{number}"
            posted_to_erp(container, invoice_id, issued, posted, erp_date.date())
            ledger.append(
                (
                    erp_date.date(),
                    LedgerEntry(
                        f"erp-{number}",
                        f"key-{invoice_id}",
                        f"ERP-{number}",
                        "ACME",
                        "EUR",
                        Decimal("100.00"),
                        Decimal("20.00"),
                        Decimal("120.00"),
                        "posted",
                        False,
                    ),
                )
            )
        erp = Ledger(ledger)
        since = NOW.date() - 90 * DAY

        def reconcile() -> list[str]:
            run = asyncio.run(container.reconciliation.run((Check.ERP,), since, "test", erp))
            return [f.message for f in run.findings]

        assert reconcile() == []
        # inv-2 finished 95 days ago, past its age, but the ERP dates it within the window
        report = container.retention.prune()
        assert report.pruned == Pruned(messages=1, attempts=1)
        with container.engine.connect() as conn:
            left = set(conn.execute(sa.select(outbox_messages.c.object_id)).scalars())
        assert left == {"inv-1", "inv-2"}
        assert reconcile() == []  # nothing unknown to revsync, nothing missing
        with container.unit_of_work(write=False) as uow:
            booked = uow.reconciliations.booked("erp", since, {"key-inv-2"})
        assert [(b.invoice_id, b.delivered) for b in booked] == [
            ("inv-1", True),
            ("inv-2", True),
        ]
        # once the ERP's date leaves the window too, it goes
        clock.set(NOW + 10 * DAY)
        assert container.retention.prune().pruned.messages == 1
    finally:
        container.close()


class Ledger:
    """The ERP's documents by date, read as the Tryton adapter reads them (dated ``since`` or
    later)."""

    def __init__(self, entries: list[tuple[date, LedgerEntry]]) -> None:
        self._entries = entries

    async def ledger(self, since: date) -> list[LedgerEntry]:
        return [entry for day, entry in self._entries if day >= since]


def posted_to_erp(
    container: Container, invoice_id: str, issued: datetime, posted: datetime, erp_date: date
) -> None:
    """An invoice issued at ``issued``, its message delivered to the ERP and its posting
    recorded at ``posted``, dated ``erp_date`` there."""
    with container.engine.begin() as conn:
        conn.execute(
            invoices.insert().values(
                id=invoice_id,
                number=f"INV-{invoice_id}",
                customer_id="acme",
                kind="arrears",
                period_start=issued.date() - 30 * DAY,
                period_end=issued.date(),
                currency="EUR",
                status="posted",
                issue_date=issued.date(),
                subtotal=Decimal("100.00"),
                discount=Decimal("0.00"),
                tax=Decimal("20.00"),
                total=Decimal("120.00"),
                credits=Decimal("0.00"),
                created_at=issued,
                updated_at=posted,
                finalized_at=issued,
            )
        )
        conn.execute(
            outbox_messages.insert().values(
                destination="erp",
                aggregate="all",
                kind="invoice.finalized",
                object_type="invoice",
                object_id=invoice_id,
                idempotency_key=f"key-{invoice_id}",
                payload={},
                created_at=issued,
                status=MessageStatus.DELIVERED.value,
                attempts=1,
                round_started_at=issued,
                next_attempt_at=issued,
                delivered_at=posted,
            )
        )
        conn.execute(
            erp_postings.insert().values(
                invoice_id=invoice_id,
                remote_id=f"erp-{invoice_id[-1]}",
                number=f"ERP-{invoice_id[-1]}",
                party="ACME",
                invoice_date=erp_date,
                posted_at=posted,
            )
        )
        message_id = conn.execute(
            sa.select(outbox_messages.c.id).where(outbox_messages.c.object_id == invoice_id)
        ).scalar_one()
        conn.execute(
            outbox_attempts.insert().values(
                message_id=message_id,
                number=1,
                started_at=posted,
                finished_at=posted,
                outcome="delivered",
                relay="relay-1",
            )
        )


def letter(at: datetime, code: Code | str | None, channel: str = "api") -> DeadLetter:
    return DeadLetter(at, channel, code, "refused", "{}")


def test_dead_letters_past_their_age_go_quarantined_events_stay_and_still_count(
    container: Container,
) -> None:
    old, young = NOW - 181 * DAY, NOW - 179 * DAY
    container.dead_letters.record(
        [
            letter(old, Code.INVALID_EVENT),
            letter(old, None),  # stored before rejection codes
            letter(old, "released"),  # a quarantined event ingested since
            letter(old, Code.QUARANTINED),  # still waiting for its type's schema
            letter(young, Code.INVALID_EVENT),
            letter(old, Code.CRM_RECORD, channel="crm"),
        ]
    )
    with container.unit_of_work(write=False) as uow:
        before = uow.dead_letters.counts()
    assert container.retention.prune().pruned == Pruned(dead_letters=4)
    kept = container.dead_letters.page(channel=None, after_id=None, limit=10)
    assert sorted((s.letter.received_at, s.letter.code) for s in kept) == [
        (old, Code.QUARANTINED),
        (young, Code.INVALID_EVENT),
    ]
    # the metric is a counter: pruning never takes it down
    with container.unit_of_work(write=False) as uow:
        assert uow.dead_letters.counts() == before == {"api": 5, "crm": 1}
    container.dead_letters.record([letter(NOW, Code.INVALID_EVENT)])
    with container.unit_of_work(write=False) as uow:
        assert uow.dead_letters.counts() == {"api": 6, "crm": 1}


def test_idempotency_keys_go_when_the_api_forgets_them(
    container: Container, clock: FrozenClock
) -> None:
    # server.idempotency_hours (24): the API treats a key so old as unknown; so does the prune
    assert container.idempotency.claim("key_1", "first", "f1").verdict is Verdict.RUN
    clock.advance(timedelta(hours=12))
    second = container.idempotency.claim("key_1", "second", "f2")
    assert second.verdict is Verdict.RUN and second.claim is not None
    container.idempotency.complete(second.claim, 201, b"{}", "application/json")
    clock.advance(timedelta(hours=12))
    assert container.retention.prune().pruned == Pruned()  # the first is exactly 24 h old
    clock.advance(timedelta(seconds=1))
    assert container.retention.prune().pruned == Pruned(idempotency_keys=1)
    with container.engine.connect() as conn:
        left = conn.execute(sa.select(idempotency_keys.c.key)).scalars().all()
    assert left == ["second"]
    # the API agrees: the first key runs anew, the second still answers for its request
    assert container.idempotency.claim("key_1", "first", "other").verdict is Verdict.RUN
    assert container.idempotency.claim("key_1", "second", "other").verdict is Verdict.MISMATCH


def test_a_backlog_larger_than_a_batch_is_pruned_in_one_run_a_batch_per_transaction(
    any_db_url: str, clock: FrozenClock
) -> None:
    container = wired(any_db_url, clock, retention={"batch_size": 10})
    try:
        old = NOW - KEPT - DAY
        for n in range(25):
            delivered(container, old, object_id=f"inv-{n}")
        container.dead_letters.record([letter(old, Code.INVALID_EVENT) for _ in range(23)])
        for n in range(12):
            container.idempotency.claim("key_1", f"k-{n}", "f")
        clock.advance(KEPT)  # the keys are past their 24 hours too
        dry = container.retention.prune(dry_run=True)
        backlog = Pruned(messages=25, attempts=50, dead_letters=23, idempotency_keys=12)
        assert (dry.pruned, dry.batches) == (backlog, 0)
        assert len(kept_messages(container)) == 25  # a dry run deletes nothing
        report = container.retention.prune()
        # 25 messages in 3 batches, 23 letters in 3, 12 keys in 2
        assert (report.pruned, report.batches, report.stopped) == (backlog, 8, False)
        assert container.retention.prune(dry_run=True).pruned == Pruned()
    finally:
        container.close()


def test_a_prune_asked_to_stop_ends_between_batches_and_the_next_run_goes_on(
    any_db_url: str, clock: FrozenClock
) -> None:
    container = wired(any_db_url, clock, retention={"batch_size": 10})
    try:
        for n in range(25):
            delivered(container, NOW - KEPT - DAY, object_id=f"inv-{n}")
        looks = iter([False, False, True])
        report = container.retention.prune(stop=lambda: next(looks))
        assert (report.pruned.messages, report.batches, report.stopped) == (20, 2, True)
        assert container.retention.prune().pruned.messages == 5
    finally:
        container.close()


def test_nothing_is_pruned_of_a_kind_kept_for_ever(any_db_url: str, clock: FrozenClock) -> None:
    forever = {"outbox_days": None, "dead_letter_days": None}
    container = wired(any_db_url, clock, retention=forever)
    try:
        delivered(container, NOW - 10 * KEPT)
        container.dead_letters.record([letter(NOW - 10 * KEPT, Code.INVALID_EVENT)])
        report = container.retention.prune()
        assert (report.pruned, report.batches) == (Pruned(), 1)  # the keys' one look
        assert report.cutoffs.messages_before is None
    finally:
        container.close()


def test_a_message_the_relay_delivered_goes_with_its_attempts_once_past_its_age(
    any_db_url: str, clock: FrozenClock
) -> None:
    with FaultServer() as target:
        container = wired(any_db_url, clock, **outbox_settings(destination(target)))
        try:
            billing_run(container, ["inv-a", "inv-b"])
            deliver_until(container, lambda: settled(container))
            clock.advance(200 * DAY)
            billing_run(container, ["inv-c"])
            deliver_until(container, lambda: settled(container))
            clock.advance(KEPT - 100 * DAY)  # the first two past their age, the third not
            report = container.retention.prune()
            assert (report.pruned.messages, report.pruned.attempts) == (2, 2)
            with container.engine.connect() as conn:
                left = conn.execute(sa.select(outbox_messages.c.object_id)).scalars().all()
            assert left == ["inv-c"] and len(attempts_of(container)) == 1
        finally:
            container.close()


def billing_run(container: Container, documents: list[str]) -> None:
    """Queue an ``invoice.finalized`` per document, as a billing run does."""
    with container.unit_of_work() as uow:
        uow.outbox.add(
            [
                NewMessage(
                    "books",
                    f"customer:{name}",
                    "invoice.finalized",
                    "invoice",
                    name,
                    f"key-{name}",
                    {"id": name},
                )
                for name in documents
            ],
            container.clock.now(),
        )
        uow.commit()


def test_the_worker_prunes_on_its_schedule_once_however_many_workers_offer(
    any_db_url: str, clock: FrozenClock
) -> None:
    container = wired(any_db_url, clock, retention={"schedule": "40 3 * * *"})
    try:
        for n in range(3):
            delivered(container, NOW - KEPT - DAY, object_id=f"inv-{n}")
        [job] = [j for j in worker_jobs(container) if j.name == "retention"]
        assert job.schedule.describe() == "cron 40 3 * * * (UTC)"
        runners = [container.job_runner(f"worker-{n}") for n in range(3)]

        async def offered() -> None:
            stop = asyncio.Event()
            tasks = [asyncio.create_task(r.keep(job, stop)) for r in runners]
            while not any(r.ran for r in runners):  # never run: due at once
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.3)  # the others look again: not due before 03:40
            stop.set()
            await asyncio.gather(*tasks)

        asyncio.run(offered())
        assert sum(r.ran for r in runners) == 1
        [turn] = container.jobs.runs("retention", 5)
        assert (turn.outcome, turn.summary) == (
            "ok",
            "3 messages (6 attempts), 0 dead letters, 0 idempotency keys pruned in 3 batches",
        )
        assert kept_messages(container) == set()
    finally:
        container.close()


def test_no_job_without_a_schedule(any_db_url: str, clock: FrozenClock) -> None:
    container = wired(any_db_url, clock, retention={"schedule": None})
    try:
        assert "retention" not in [j.name for j in worker_jobs(container)]
    finally:
        container.close()
