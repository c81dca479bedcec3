"""Entitlement snapshots read on from their last read: the usage another process stores is
counted within twice ``entitlements.cache_seconds`` from the events after the highest ingest
``seq`` a snapshot counted, and what that would miss — events attached by a late mapping (their
``seq`` is older), events voided, a new period, terms amended elsewhere — is seen within the
same bound. On both backends (PostgreSQL: the background read waits for ingestion in flight,
a read before answering does not)."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from revsync.adapters.db.engine import IDENTITY_LOCK
from revsync.adapters.db.usage_snapshot import SqlUsageSnapshots
from revsync.application.corrections import CorrectUsage
from revsync.application.customers import PutCustomer
from revsync.application.entitlements import Entitlements, Snapshot, UsageRead
from revsync.application.ingestion import IngestContext
from revsync.application.subscriptions import AmendSubscription, CreateSubscription
from revsync.bootstrap import Container, apply_configuration, build
from revsync.config import Settings
from revsync.domain.identity import System
from revsync.domain.subscriptions import Change
from revsync.ports.billing import UsageRow
from revsync.schemas.cloudevents_v1 import decode_body
from tests.conftest import NOW, make_settings
from tests.entrypoints.api.test_entitlements_api import ENTITLED
from tests.support.clock import FrozenClock
from tests.support.events import encode, event

MEDIA = "application/cloudevents-batch+json"
FRESH_FOR = timedelta(seconds=5)
HOUR_AGO = NOW - timedelta(hours=1)


class Reads:
    """The usage reads of an :class:`Entitlements`, each recorded: ``("full", event type)``
    for a period read in full, ``("on", after_seq)`` for the events after a snapshot's last
    read."""

    def __init__(self, inner: SqlUsageSnapshots) -> None:
        self._inner = inner
        self.log: list[tuple[str, object]] = []

    @contextmanager
    def latest(self, *, wait: bool) -> Iterator[UsageRead]:
        with self._inner.latest(wait=wait) as read:
            yield _Recorded(read, self.log)

    def full(self) -> set[object]:
        """The event types read in full since the log was last cleared."""
        return {what for kind, what in self.log if kind == "full"}


class _Recorded:
    def __init__(self, read: UsageRead, log: list[tuple[str, object]]) -> None:
        self._read = read
        self._log = log
        self.cutoff_seq = read.cutoff_seq
        self.complete = read.complete

    def marks(self) -> tuple[int, int]:
        return self._read.marks()

    def terms_marks(self, customer_ids: Collection[str]) -> dict[str, tuple[Any, ...]]:
        return self._read.terms_marks(customer_ids)

    def customer_counts(
        self, customer_ids: Collection[str], event_type: str, start_us: int, end_us: int
    ) -> dict[str, int]:
        self._log.append(("full", event_type))
        return self._read.customer_counts(customer_ids, event_type, start_us, end_us)

    def customer_rows(
        self,
        customer_ids: Collection[str],
        event_type: str,
        start_us: int,
        end_us: int,
        *,
        with_data: bool,
        with_key: bool,
    ) -> Iterator[UsageRow]:
        self._log.append(("full", event_type))
        return self._read.customer_rows(
            customer_ids, event_type, start_us, end_us, with_data=with_data, with_key=with_key
        )

    def since(
        self,
        customer_ids: Collection[str],
        event_types: Collection[str],
        after_seq: int,
        *,
        with_data: bool,
    ) -> Iterator[tuple[int, str, str, int, str | None]]:
        self._log.append(("on", after_seq))
        return self._read.since(customer_ids, event_types, after_seq, with_data=with_data)


@pytest.fixture
def settings(any_db_url: str) -> Settings:
    return make_settings(any_db_url, plans=[ENTITLED])


@pytest.fixture
def world(container: Container) -> Container:
    """acme (tenant t-acme) on the plan with 3 seats since the 1st."""
    apply_configuration(container, "test")
    container.customers.put(
        PutCustomer("acme", "Acme", "EUR", "UTC", None, {System.PRODUCT: ["t-acme"]}, "test")
    )
    container.subscriptions.create(
        CreateSubscription("s-acme", "acme", "pro", NOW.date().replace(day=1), "test", seats=3)
    )
    return container


@pytest.fixture
def reads(world: Container) -> Reads:
    return Reads(SqlUsageSnapshots(world.engine))


@pytest.fixture
def entitlements(world: Container, clock: FrozenClock, reads: Reads) -> Entitlements:
    """Entitlements of this process, their reads recorded."""
    return Entitlements(world.unit_of_work, world.usage, clock, FRESH_FOR, reads)


@contextmanager
def elsewhere(settings: Settings, clock: FrozenClock) -> Iterator[Container]:
    """Another process on the same database."""
    other = build(settings, clock=clock)
    try:
        yield other
    finally:
        other.close()


def ingest(container: Container, events: list[dict[str, Any]]) -> None:
    items = decode_body(encode(events), MEDIA, 1000)
    report = container.ingestion.ingest(items, IngestContext("file", "test"))
    assert report.accepted == len(events), report


def calls(prefix: str, count: int, subject: str = "t-acme", at: datetime = HOUR_AGO) -> list[Any]:
    return [event(f"{prefix}-{n}", subject=subject, time=at) for n in range(count)]


def tokens(prefix: str, *amounts: str, environment: str = "production") -> list[Any]:
    return [
        event(
            f"{prefix}-{n}",
            subject="t-acme",
            type="llm.completion",
            time=HOUR_AGO,
            data={"tokens": Decimal(amount), "environment": environment, "model": "m"},
        )
        for n, amount in enumerate(amounts)
    ]


def refreshed(
    entitlements: Entitlements, until: Callable[[Snapshot], bool], customer_id: str = "acme"
) -> Snapshot:
    """The snapshot once the background reader has read it again so that ``until`` holds
    (the clock is frozen: it is never older than twice the cache time meanwhile)."""
    deadline = time.monotonic() + 10
    while True:
        found = entitlements.cached(customer_id)
        assert found is not None, "aged past twice the cache time"
        if until(found):
            return found
        assert time.monotonic() < deadline, f"not read again: {found}"
        time.sleep(0.01)


def used(snapshot: Snapshot, meter: str = "api_calls") -> Decimal:
    return snapshot.used[meter]


@pytest.mark.postgres
def test_usage_another_process_stores_counts_within_twice_the_cache_time_from_the_last_read(
    world: Container,
    entitlements: Entitlements,
    reads: Reads,
    settings: Settings,
    clock: FrozenClock,
) -> None:
    first = entitlements.snapshot("acme")
    assert (used(first), used(first, "llm_tokens")) == (0, 0)
    assert first.basis is not None
    with elsewhere(settings, clock) as other:
        ingest(other, calls("a", 5))
        ingest(other, tokens("t", "100.25", "0.000001") + tokens("s", "7", environment="staging"))
    reads.log.clear()
    assert entitlements.snapshot("acme") is first  # fresh: answers as read
    clock.advance(FRESH_FOR)
    assert entitlements.cached("acme") is first  # aged: answers, and is read in the background
    second = refreshed(entitlements, lambda s: s.as_of > first.as_of)
    assert used(second) == 5
    assert used(second, "llm_tokens") == Decimal("100.250001")  # exact; staging is filtered out
    # counted on from the last read: the count and sum meters were not read in full again
    assert ("on", first.basis.seq) in reads.log
    assert reads.full() == {"app.session"}  # the unique count of seats is, every time
    assert second.basis is not None and second.basis.seq > first.basis.seq

    with elsewhere(settings, clock) as other:
        ingest(other, calls("b", 2))
    reads.log.clear()
    clock.advance(2 * FRESH_FOR)
    assert entitlements.cached("acme") is None  # too old to answer
    third = entitlements.snapshot("acme")  # read before answering, on from the last read
    assert used(third) == 7
    assert reads.full() == {"app.session"}
    # the same as a read of the whole period
    fresh = Entitlements(
        world.unit_of_work, world.usage, clock, FRESH_FOR, SqlUsageSnapshots(world.engine)
    )
    assert fresh.snapshot("acme").used == third.used


@pytest.mark.postgres
def test_usage_ingested_here_counts_at_once_read_on_from_the_snapshot_it_marked_stale(
    world: Container, entitlements: Entitlements, reads: Reads
) -> None:
    first = entitlements.snapshot("acme")
    ingest(world, calls("a", 3))
    entitlements.forget_tenants(["t-acme"])  # what this process's ingestion does after commit
    assert entitlements.cached("acme") is None
    reads.log.clear()
    assert used(entitlements.snapshot("acme")) == 3
    assert first.basis is not None and ("on", first.basis.seq) in reads.log
    assert reads.full() == {"app.session"}


@pytest.mark.postgres
def test_events_attached_by_a_late_mapping_elsewhere_count_though_their_seq_is_older(
    entitlements: Entitlements, reads: Reads, settings: Settings, clock: FrozenClock
) -> None:
    with elsewhere(settings, clock) as other:
        ingest(other, calls("u", 4, subject="t-new"))  # no customer holds t-new yet
    first = entitlements.snapshot("acme")  # read after them: its seq is past theirs
    assert used(first) == 0
    with elsewhere(settings, clock) as other:
        ingest(other, calls("a", 1))
        refs = {System.PRODUCT: ["t-acme", "t-new"]}
        outcome = other.customers.put(PutCustomer("acme", "Acme", "EUR", "UTC", None, refs, "t"))
        assert outcome.attached_events == 4
    reads.log.clear()
    clock.advance(FRESH_FOR)
    second = refreshed(entitlements, lambda s: s.as_of > first.as_of)
    assert used(second) == 5  # the attached four, and the one stored after the last read
    assert "api.request" in reads.full()  # the identity changed: read in full
    assert second.tenants == {"t-acme", "t-new"}
    assert entitlements.cached_tenant("t-new") == "acme"


@pytest.mark.postgres
def test_events_voided_elsewhere_stop_counting_within_twice_the_cache_time(
    entitlements: Entitlements, reads: Reads, settings: Settings, clock: FrozenClock
) -> None:
    with elsewhere(settings, clock) as other:
        ingest(other, calls("a", 3))
    first = entitlements.snapshot("acme")
    assert used(first) == 3
    with elsewhere(settings, clock) as other:
        other.corrections.correct(CorrectUsage("sent twice", (("app://test", "a-1"),), (), "t"))
    reads.log.clear()
    clock.advance(FRESH_FOR)
    second = refreshed(entitlements, lambda s: s.as_of > first.as_of)
    assert used(second) == 2
    assert "api.request" in reads.full()


@pytest.mark.postgres
def test_a_plan_or_seats_amended_elsewhere_count_within_twice_the_cache_time(
    entitlements: Entitlements, reads: Reads, settings: Settings, clock: FrozenClock
) -> None:
    with elsewhere(settings, clock) as other:
        ingest(other, calls("a", 3))
    first = entitlements.snapshot("acme")
    assert (first.seats, first.decide("api_calls", Decimal(0)).limit) == (3, 1000)
    bigger = copy.deepcopy(ENTITLED)
    bigger.pop("code")
    bigger["features"][1]["limit"] = "5000"
    with elsewhere(settings, clock) as other:
        assert other.catalog.put_plan("pro", bigger, "test").plan.version == 2
        other.subscriptions.amend(
            AmendSubscription("s-acme", Change.SEAT_CHANGE, NOW.date(), "test", seats=10)
        )
        other.subscriptions.amend(
            AmendSubscription(
                "s-acme", Change.UPGRADE, NOW.date(), "test", plan_code="pro", plan_version=2
            )
        )
        ingest(other, calls("b", 1))
    reads.log.clear()
    clock.advance(FRESH_FOR)
    second = refreshed(entitlements, lambda s: s.as_of > first.as_of)
    assert (second.seats, second.plan and second.plan.version) == (10, 2)
    decision = second.decide("api_calls", Decimal(0))
    assert (decision.limit, decision.used, decision.remaining) == (5000, 4, 4996)
    assert reads.full() == {"app.session"}  # same customers, same period: counted on

    with elsewhere(settings, clock) as other:
        other.subscriptions.amend(
            AmendSubscription("s-acme", Change.SEAT_CHANGE, NOW.date(), "test", seats=20)
        )
    clock.advance(2 * FRESH_FOR)
    assert entitlements.snapshot("acme").seats == 20  # too old to answer: read before


@pytest.mark.postgres
def test_a_new_period_starts_from_nothing(
    entitlements: Entitlements, reads: Reads, settings: Settings, clock: FrozenClock
) -> None:
    """The period turns between two reads a cache time apart: the next read counts the new
    period in full, not on from the last one."""
    end = datetime(2026, 12, 1, tzinfo=UTC)
    clock.advance(end - timedelta(seconds=2) - NOW)
    with elsewhere(settings, clock) as other:
        ingest(other, calls("nov", 6, at=end - timedelta(minutes=5)))
    first = entitlements.snapshot("acme")
    assert (str(first.period), used(first)) == ("2026-11-01/2026-12-01", 6)
    clock.advance(FRESH_FOR)  # 00:00:03 on the 1st
    with elsewhere(settings, clock) as other:
        ingest(other, calls("dec", 2, at=end + timedelta(seconds=1)))
        ingest(other, calls("late", 1, at=end - timedelta(minutes=1)))  # November's still
    reads.log.clear()
    second = refreshed(entitlements, lambda s: s.as_of > first.as_of)
    assert (str(second.period), used(second)) == ("2026-12-01/2027-01-01", 2)
    assert "api.request" in reads.full()
    with elsewhere(settings, clock) as other:
        ingest(other, calls("dec2", 1, at=end + timedelta(seconds=2)))
    clock.advance(FRESH_FOR)
    third = refreshed(entitlements, lambda s: s.as_of > second.as_of)
    assert used(third) == 3


@pytest.mark.postgres
def test_a_child_attached_elsewhere_brings_its_usage_of_the_period_when_children_count(
    world: Container,
    entitlements: Entitlements,
    reads: Reads,
    settings: Settings,
    clock: FrozenClock,
) -> None:
    """A subscription that includes children counts a child made one elsewhere with all its
    usage of the period, though that was stored before the parent's last read (no tenant moved:
    the identity version stays)."""
    for cid in ("group", "kid"):
        refs = {System.PRODUCT: [f"t-{cid}"]}
        world.customers.put(PutCustomer(cid, cid.title(), "EUR", "UTC", None, refs, "test"))
    world.subscriptions.create(
        CreateSubscription(
            "s-group", "group", "pro", NOW.date().replace(day=1), "test", include_children=True
        )
    )
    with elsewhere(settings, clock) as other:
        ingest(other, calls("k", 4, subject="t-kid") + calls("g", 1, subject="t-group"))
    first = entitlements.snapshot("group")
    assert (used(first), first.tenants) == (1, {"t-group"})
    with elsewhere(settings, clock) as other:
        refs = {System.PRODUCT: ["t-kid"]}
        other.customers.put(PutCustomer("kid", "Kid", "EUR", "UTC", "group", refs, "test"))
    clock.advance(FRESH_FOR)
    second = refreshed(entitlements, lambda s: s.as_of > first.as_of, "group")
    assert (used(second), second.tenants) == (5, {"t-group", "t-kid"})


@pytest.mark.postgres
@pytest.mark.parametrize("any_db_url", ["postgresql"], indirect=True)  # SQLite: always complete
def test_a_read_that_may_not_wait_for_ingestion_in_flight_counts_on_but_moves_no_basis(
    world: Container, entitlements: Entitlements, settings: Settings, clock: FrozenClock
) -> None:
    """PostgreSQL: a read before answering (or from inside an ingestion transaction) only tries
    the identity lock; while ingestion holds it, an event below the read's cutoff may still
    commit, so the snapshot keeps the basis it counted on from."""
    first = entitlements.snapshot("acme")
    assert first.basis is not None
    with elsewhere(settings, clock) as other:
        ingest(other, calls("a", 2))
    entitlements.forget_tenants(["t-acme"])
    with world.engine.connect() as ingesting, ingesting.begin():  # as an ingestion does
        ingesting.execute(sa.select(sa.func.pg_advisory_xact_lock_shared(IDENTITY_LOCK)))
        with SqlUsageSnapshots(world.engine).latest(wait=False) as read:
            assert not read.complete
        second = entitlements.snapshot("acme")
    assert (used(second), second.basis) == (2, first.basis)
    with elsewhere(settings, clock) as other:
        ingest(other, calls("b", 1))
    entitlements.forget_tenants(["t-acme"])
    third = entitlements.snapshot("acme")  # nothing in flight: complete
    assert used(third) == 3
    assert third.basis is not None and third.basis.seq > first.basis.seq


@pytest.mark.postgres
def test_an_amendment_dated_ahead_takes_effect_on_its_day(
    entitlements: Entitlements, settings: Settings, clock: FrozenClock
) -> None:
    """The terms in service are worked out at every read, also from a subscription kept
    since its last read (its marks unchanged)."""
    first = entitlements.snapshot("acme")
    tomorrow = NOW.date() + timedelta(days=1)
    with elsewhere(settings, clock) as other:
        other.subscriptions.amend(
            AmendSubscription("s-acme", Change.SEAT_CHANGE, tomorrow, "test", seats=10)
        )
    clock.advance(FRESH_FOR)
    second = refreshed(entitlements, lambda s: s.as_of > first.as_of)
    assert second.seats == 3
    clock.advance(timedelta(days=1))
    later = entitlements.snapshot("acme")
    assert later.seats == 10
    assert later.inputs is second.inputs  # the subscription as read then


WARM_FOR = timedelta(minutes=1)


def read_in_background(reads: Reads, count: int) -> None:
    """Wait until the background reader has made ``count`` reads of the events after a
    snapshot's last one (no check asks for them)."""
    deadline = time.monotonic() + 10
    while sum(1 for kind, _ in reads.log if kind == "on") < count:
        assert time.monotonic() < deadline, f"not read in the background: {reads.log}"
        time.sleep(0.01)


def held(entitlements: Entitlements, customer_id: str, seconds: float) -> Snapshot | None:
    """The snapshot a check would answer from memory, once the background reader has stored
    the read it made (None if none is held within ``seconds``)."""
    deadline = time.monotonic() + seconds
    while (found := entitlements.cached(customer_id)) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return found


@pytest.mark.postgres
@pytest.mark.parametrize("warm", [True, False], ids=["warm", "cold"])
def test_a_customer_checked_within_warm_for_is_read_again_unchecked_as_its_snapshot_ages(
    world: Container, reads: Reads, settings: Settings, clock: FrozenClock, warm: bool
) -> None:
    entitlements = Entitlements(
        world.unit_of_work,
        world.usage,
        clock,
        FRESH_FOR,
        reads,
        WARM_FOR if warm else timedelta(0),
    )
    try:
        first = entitlements.snapshot("acme")  # checked: read before answering
        with elsewhere(settings, clock) as other:
            ingest(other, calls("a", 4))
        reads.log.clear()
        clock.advance(FRESH_FOR + timedelta(seconds=1))  # aged, and not checked since
        if warm:
            read_in_background(reads, 1)
        else:
            time.sleep(1.5)  # three turns of the background reader, were it reading
            assert reads.log == []
        clock.advance(FRESH_FOR)  # twice the cache time since the first read
        found = held(entitlements, "acme", seconds=2 if warm else 0.5)
        if warm:  # answered from memory, with the usage stored elsewhere since
            assert found is not None and found.as_of > first.as_of and used(found) == 4
        else:  # too old to answer: the check reads before answering
            assert found is None
            assert used(entitlements.snapshot("acme")) == 4
    finally:
        entitlements.close()


@pytest.mark.postgres
def test_a_customer_not_checked_within_warm_for_is_let_age_and_close_stops_the_reader(
    world: Container, reads: Reads, settings: Settings, clock: FrozenClock
) -> None:
    entitlements = Entitlements(world.unit_of_work, world.usage, clock, FRESH_FOR, reads, WARM_FOR)
    entitlements.snapshot("acme")
    reads.log.clear()
    clock.advance(FRESH_FOR)  # aged while checked a moment ago: read again
    read_in_background(reads, 1)
    reads.log.clear()
    clock.advance(WARM_FOR)  # aged again, unchecked for longer than WARM_FOR: let age
    time.sleep(1.5)
    assert reads.log == []
    assert entitlements.cached("acme") is None  # the next check reads before answering

    entitlements.snapshot("acme")  # checked again: kept fresh again …
    entitlements.close()  # … until closed
    reads.log.clear()
    clock.advance(FRESH_FOR)
    time.sleep(1.5)
    assert reads.log == []
