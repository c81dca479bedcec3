"""Usage ingestion: validate, deduplicate, resolve identity and store, exactly once.

The pure work (validation, fingerprints, dedup slots) happens before the transaction; the
step that runs inside the ledger's transaction only reads dedup slots and tenant owners,
classifies each event and writes. The dedup claim is written in the transaction of the event's
row (SQLite: it is the row's unique slot; PostgreSQL: a row of ``usage_slots``), so an event is
either stored with its claim or not at all (promise 1).

This is the hottest path of revsync (see docs/benchmarks.md): per-event objects are named
tuples and the loops avoid needless calls.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from revsync.application.schemas import ScreenSource
from revsync.domain.metering import Meter, value_problem
from revsync.domain.problems import Code, Problem
from revsync.domain.usage import (
    UsageEvent,
    dedup_slot,
    event_problem,
    fingerprint,
    open_period_start,
    to_micros,
    utc_day,
)
from revsync.domain.usage_months import Month, first_kept
from revsync.ports.clock import Clock
from revsync.ports.repositories import DeadLetter
from revsync.ports.usage import EventRow, StoredKey, TenantOwner, UsageLedger, UsageTransaction
from revsync.schemas.cloudevents_v1 import Decoded, Item, Refused


@dataclass(frozen=True, slots=True)
class IngestPolicy:
    """Limits applied to every event."""

    max_future: timedelta = timedelta(hours=24)
    #: months of usage archived after this many (``usage_storage.archive_after_months``): a
    #: new event stamped in one is refused, a retry of one stored then is a duplicate
    #: (docs/deploy.md#usage-storage)
    archive_after_months: int | None = None


@dataclass(frozen=True, slots=True)
class IngestContext:
    """Where a batch came from: the channel (``api``, ``file``), who sent it, its correlation id."""

    channel: str
    actor: str
    correlation_id: str | None = None
    #: the customers the sender may send usage for (a key limited to them); ``None``: any
    customers: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    """An item that was not accepted: its position in the input, its id if known, why."""

    position: int
    event_id: str | None
    code: str
    reason: str


@dataclass(slots=True)
class IngestReport:
    """The outcome of one batch."""

    accepted: int = 0
    duplicates: int = 0
    unmapped: int = 0
    late: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    #: events of unknown types kept aside (dead letters coded ``quarantined``)
    quarantined: int = 0


class _Candidate(NamedTuple):
    position: int
    event: UsageEvent
    fingerprint: bytes
    time_us: int
    slot: int
    probe: int


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    """A batch after validation, ready to be written."""

    candidates: tuple[_Candidate, ...]
    refusals: tuple[Rejection, ...]
    dead_letters: tuple[DeadLetter, ...]
    received_at: datetime
    context: IngestContext
    quarantined: int = 0


#: decides, in the write transaction, whether a new event of a customer may be stored: None,
#: or the problem that refuses it (usage over a hard quota); see application/entitlements.py
Gate = Callable[[str, UsageEvent, int], Problem | None]


class Intake:
    """The pure part of ingestion: validates decoded items against the domain rules, the
    schemas and the declared meters, and computes each event's fingerprint and dedup slot. It
    holds no connection, so it runs as well in a decoding process as in the server."""

    def __init__(
        self,
        clock: Clock,
        meters: Sequence[Meter],
        policy: IngestPolicy,
        slot_of: Callable[[str, str, int], int] = dedup_slot,
        screen: ScreenSource | None = None,
    ) -> None:
        self._clock = clock
        self._max_future_us = int(policy.max_future.total_seconds()) * 1_000_000
        self._slot_of = slot_of
        self._screen = screen
        self._meters_by_type: dict[str, list[Meter]] = {}
        for meter in meters:
            self._meters_by_type.setdefault(meter.event_type, []).append(meter)

    def prepare(
        self, items: Sequence[Item], context: IngestContext, now: datetime | None = None
    ) -> PreparedBatch:
        """Validate decoded items; ``now``: the moment the batch was received (the clock's
        when not given)."""
        now = self._clock.now() if now is None else now
        now_us = to_micros(now)
        candidates: list[_Candidate] = []
        refused: list[Refused] = []
        meters_by_type = self._meters_by_type
        slot_of = self._slot_of
        screen = self._screen() if self._screen is not None else None
        quarantined: list[Refused] = []
        for item in items:
            if not isinstance(item, Decoded):
                refused.append(item)
                continue
            event = item.event
            time_us = to_micros(event.time)
            problem = event_problem(event, time_us, now_us, self._max_future_us)
            stored = event
            if problem is None and screen is not None:  # schema, upcast, unknown-type policy
                judged = screen.judge(event, item.dataschema)
                if isinstance(judged, Problem):
                    problem = judged
                else:
                    stored = judged
            if problem is None and event.type in meters_by_type:
                problem = _meter_problem(meters_by_type[event.type], stored)
            if problem is None:
                # the fingerprint is of the data as sent: a retry of the same event stays a
                # duplicate whichever version its data is upcast from
                candidates.append(
                    _Candidate(
                        item.position,
                        stored,
                        fingerprint(event, time_us),
                        time_us,
                        slot_of(event.source, event.id, 0),
                        0,
                    )
                )
            elif problem.code is Code.QUARANTINED:
                text = _event_text(event, item.dataschema)
                quarantined.append(Refused(item.position, problem, text, event.id, event.source))
            else:
                refused.append(
                    Refused(item.position, problem, _event_text(event), event.id, event.source)
                )
        return PreparedBatch(
            candidates=tuple(candidates),
            refusals=tuple(_rejection(r) for r in refused),
            dead_letters=tuple(_letter(r, now, context) for r in (*refused, *quarantined)),
            received_at=now,
            context=context,
            quarantined=len(quarantined),
        )


class Ingestion:
    """Validates batches (:class:`Intake`) and writes them through the usage ledger."""

    def __init__(
        self,
        ledger: UsageLedger,
        clock: Clock,
        meters: Sequence[Meter],
        policy: IngestPolicy,
        slot_of: Callable[[str, str, int], int] = dedup_slot,
        screen: ScreenSource | None = None,
        gate: Gate | None = None,
        on_stored: Callable[[set[str]], None] | None = None,
    ) -> None:
        self._ledger = ledger
        self._gate = gate
        self._on_stored = on_stored
        self._archive_after = policy.archive_after_months
        self._slot_of = slot_of
        self.intake = Intake(clock, meters, policy, slot_of, screen)

    def prepare(self, items: Sequence[Item], context: IngestContext) -> PreparedBatch:
        """Validate decoded items against the domain rules and the declared meters."""
        return self.intake.prepare(items, context)

    def refuse_tenants(self, batch: PreparedBatch, tenants: Mapping[str, Problem]) -> PreparedBatch:
        """The batch without the events of ``tenants``, each refused for its tenant's
        problem (a rate limit: the sender is to send them again, so no dead letter)."""
        kept = tuple(c for c in batch.candidates if c.event.subject not in tenants)
        refused = [
            Rejection(c.position, c.event.id, *tenants[c.event.subject])
            for c in batch.candidates
            if c.event.subject in tenants
        ]
        return replace(
            batch,
            candidates=kept,
            refusals=tuple(sorted((*batch.refusals, *refused), key=lambda r: r.position)),
        )

    def submit(self, batch: PreparedBatch) -> Future[IngestReport]:
        """Write the batch; the future resolves once it is committed. ``on_stored`` hears the
        tenants of a batch that stored events right after the commit, in the writer thread,
        before the next transaction begins."""
        future = self._ledger.submit(lambda tx: self._write(tx, batch))
        on_stored = self._on_stored
        if on_stored is not None:
            tenants = {c.event.subject for c in batch.candidates}

            def stored(done: Future[IngestReport]) -> None:
                if not done.cancelled() and done.exception() is None and done.result().accepted:
                    on_stored(tenants)

            future.add_done_callback(stored)
        return future

    def ingest(self, items: Sequence[Item], context: IngestContext) -> IngestReport:
        """Prepare and write a batch, waiting for the commit."""
        return self.submit(self.prepare(items, context)).result()

    def _write(self, tx: UsageTransaction, batch: PreparedBatch) -> IngestReport:
        report = IngestReport(rejected=list(batch.refusals), quarantined=batch.quarantined)
        letters = list(batch.dead_letters)
        owners = tx.tenant_owners({c.event.subject for c in batch.candidates})
        late_rule = _LateRule(batch.received_at)
        received_us = to_micros(batch.received_at)
        claimed: dict[int, StoredKey] = {}
        # months archived are closed: a new event stamped in one is refused (a retry of an
        # event stored then is still a duplicate: its claim stays)
        closed = (
            None
            if self._archive_after is None
            else first_kept(batch.received_at, self._archive_after)
        )
        unmapped: set[str] = set()
        pending = list(batch.candidates)
        reach = batch.context.customers
        if reach is not None:  # a sender limited to some customers: their tenants only

            def within(candidate: _Candidate) -> bool:
                owner = owners.get(candidate.event.subject)
                return owner is not None and owner.customer_id in reach

            beyond = [c for c in pending if not within(c)]
            pending = [c for c in pending if within(c)]
            for candidate in beyond:
                rejection, letter = _beyond_reach(candidate, batch)
                report.rejected.append(rejection)
                letters.append(letter)
        # insert first: where no quota gate must see only new events, the events of slots
        # found once in the batch are written at once, and only those whose slot was taken
        # are read and classified (a tenth of a batch of retries, not all of it)
        optimistic = self._gate is None
        later: list[_Candidate] = []
        if optimistic:
            pending, later = _first_round(pending, closed)
            if not pending:
                pending, later, optimistic = later, [], False
        while pending:
            stored = {} if optimistic else tx.stored_keys({c.slot for c in pending})
            rows: list[EventRow] = []
            placed: list[_Candidate] = []
            retry: list[_Candidate] = []
            for candidate in pending:
                event = candidate.event
                held = stored.get(candidate.slot) or claimed.get(candidate.slot)
                if held is None:
                    if closed is not None and candidate.time_us < closed.start_us:
                        rejection, letter = _archived(candidate, batch, closed)
                        report.rejected.append(rejection)
                        letters.append(letter)
                        continue
                    owner = owners.get(event.subject)
                    if self._gate is not None and owner is not None:
                        problem = self._gate(owner.customer_id, event, candidate.time_us)
                        if problem is not None:  # over a hard quota: refused, not stored
                            rejection = Rejection(candidate.position, event.id, *problem)
                            report.rejected.append(rejection)
                            continue
                    claimed[candidate.slot] = StoredKey(
                        event.source, event.id, candidate.fingerprint
                    )
                    rows.append(
                        _row(
                            candidate,
                            owner,
                            received_us,
                            late_rule.is_late(candidate.time_us, owner),
                        )
                    )
                    placed.append(candidate)
                elif held.source != event.source or held.event_id != event.id:
                    retry.append(self._next_slot(candidate))  # a hash collision: probe on
                elif held.fingerprint == candidate.fingerprint:
                    report.duplicates += 1
                else:
                    rejection, letter = _conflict(candidate, batch)
                    report.rejected.append(rejection)
                    letters.append(letter)
            inserted = tx.insert_events(rows)
            for candidate, row in zip(placed, rows, strict=True):
                if row.slot in inserted:
                    report.accepted += 1
                    report.late += row.late
                    if row.customer_id is None:
                        report.unmapped += 1
                        unmapped.add(row.subject)
                else:  # a concurrent writer took the slot meanwhile: classify it again
                    del claimed[row.slot]
                    retry.append(candidate)
            pending, later, optimistic = [*retry, *later], [], False
        if letters:
            tx.insert_dead_letters(letters)
        if unmapped:  # every failure has an address: a case per tenant nobody owns
            tx.open_unmapped_cases(unmapped, batch.received_at)
        report.rejected.sort(key=lambda r: r.position)
        return report

    def _next_slot(self, candidate: _Candidate) -> _Candidate:
        probe = candidate.probe + 1
        slot = self._slot_of(candidate.event.source, candidate.event.id, probe)
        return candidate._replace(slot=slot, probe=probe)


def _first_round(
    candidates: list[_Candidate], closed: Month | None
) -> tuple[list[_Candidate], list[_Candidate]]:
    """The candidates written before any read (their slot is found once in the batch, their
    month is open) and the rest, read and classified after them in their order."""
    seen: dict[int, int] = {}
    for candidate in candidates:
        seen[candidate.slot] = seen.get(candidate.slot, 0) + 1
    first: list[_Candidate] = []
    later: list[_Candidate] = []
    for candidate in candidates:
        if seen[candidate.slot] == 1 and (closed is None or candidate.time_us >= closed.start_us):
            first.append(candidate)
        else:
            later.append(candidate)
    return first, later


def _archived(
    candidate: _Candidate, batch: PreparedBatch, closed: Month
) -> tuple[Rejection, DeadLetter]:
    problem = Problem(
        Code.TIME_OUT_OF_RANGE,
        f"time: before {closed.start().isoformat()}: the usage of that month is archived and "
        "closed (usage_storage.archive_after_months)",
    )
    return _refused(candidate, batch, problem)


def _meter_problem(meters: list[Meter], event: UsageEvent) -> Problem | None:
    for meter in meters:
        problem = value_problem(meter, event.data)
        if problem is not None:
            return problem
    return None


class _LateRule:
    """Events stamped before the open period of their customer are late (cached per zone)."""

    def __init__(self, now: datetime) -> None:
        self._now = now
        self._starts: dict[str, int] = {}

    def is_late(self, time_us: int, owner: TenantOwner | None) -> bool:
        zone = owner.timezone if owner else "UTC"
        start = self._starts.get(zone)
        if start is None:
            start = to_micros(open_period_start(self._now, ZoneInfo(zone)))
            self._starts[zone] = start
        return time_us < start


def _row(
    candidate: _Candidate, owner: TenantOwner | None, received_us: int, late: bool
) -> EventRow:
    event = candidate.event
    return EventRow(
        candidate.slot,
        event.source,
        event.id,
        event.type,
        event.subject,
        candidate.time_us,
        utc_day(candidate.time_us),
        owner.customer_id if owner else None,
        event.data_json,
        candidate.fingerprint,
        received_us,
        late,
    )


def _letter(item: Refused, now: datetime, context: IngestContext) -> DeadLetter:
    return DeadLetter(
        received_at=now,
        channel=context.channel,
        code=item.problem.code,
        reason=item.problem.message,
        payload=item.payload,
        position=item.position,
        event_source=item.event_source,
        event_id=item.event_id,
        correlation_id=context.correlation_id,
        actor=context.actor,
    )


def _conflict(candidate: _Candidate, batch: PreparedBatch) -> tuple[Rejection, DeadLetter]:
    event = candidate.event
    problem = Problem(
        Code.CONFLICT,
        f"conflict: an event with source {event.source!r} and id {event.id!r} was already "
        "accepted with a different payload",
    )
    return _refused(candidate, batch, problem)


def _beyond_reach(candidate: _Candidate, batch: PreparedBatch) -> tuple[Rejection, DeadLetter]:
    event = candidate.event
    problem = Problem(
        Code.FORBIDDEN_CUSTOMER,
        f"subject: tenant {event.subject!r} is not mapped to a customer this key may send "
        "usage for",
    )
    return _refused(candidate, batch, problem)


def _refused(
    candidate: _Candidate, batch: PreparedBatch, problem: Problem
) -> tuple[Rejection, DeadLetter]:
    """A candidate refused in the write for ``problem``: its rejection and its dead letter."""
    event = candidate.event
    refused = Refused(candidate.position, problem, _event_text(event), event.id, event.source)
    return _rejection(refused), _letter(refused, batch.received_at, batch.context)


def _rejection(item: Refused) -> Rejection:
    return Rejection(item.position, item.event_id, item.problem.code, item.problem.message)


def _event_text(event: UsageEvent, dataschema: str | None = None) -> str:
    """The event as CloudEvents JSON, for a dead letter."""
    attributes = {
        "specversion": "1.0",
        "id": event.id,
        "source": event.source,
        "type": event.type,
        "subject": event.subject,
        "time": event.time.isoformat(),
    }
    if dataschema is not None:
        attributes["dataschema"] = dataschema
    head = json.dumps(attributes)
    return f'{head[:-1]}, "data": {event.data_json}}}'
