"""Entitlement checks, answered from a snapshot per customer held in memory: the plan in service
today, its seats, the usage period and the usage so far of each meter a feature counts.

A snapshot older than ``fresh_for`` (``entitlements.cache_seconds``, 5 s) is read again in the
background while it still answers; one older than twice that is read before answering. So an
answer lags a plan, subscription or usage change made in another process by at most twice
``fresh_for``. The snapshots of customers checked within ``warm_for``
(``entitlements.warm_seconds``, 5 minutes) are read again in the background as they pass
``fresh_for`` whether checked meanwhile or not, so a customer checked now and then — every 30 s,
say — is answered from memory instead of read before each answer. Usage this process ingests
marks the snapshots of its tenants' customers stale right after the commit, before the next
write begins (:meth:`Entitlements.forget_tenants`, called by ingestion): the next check reads
them again before answering.

A read goes on from the snapshot's last one where that is exact. The usage of a count or sum
meter is what it counted up to the highest ingest ``seq`` it saw, plus the events stored after
it — when the same customers are counted over the same period, and the stored usage changed in
no other way meanwhile (:meth:`UsageRead.marks`: the identity version, since a tenant mapped
late has its unmapped events attached with their older ``seq``, and the number of corrections,
which void events); otherwise, and for the other aggregations, the period's usage is read in
full. The customer and its subscriptions are read again when their marks moved
(:meth:`UsageRead.terms_marks`: time zone, subscriptions, latest terms) or the identity version
did, and always when a subscription counts children; the terms in service and the period are
worked out from them at every read. The background reader reads the snapshots due together: a
few queries for all of them."""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from decimal import Decimal
from time import monotonic, sleep
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from revsync.application.usage import UsageQueries
from revsync.domain.collections import Restriction
from revsync.domain.entitlements import (
    Decision,
    Enforcement,
    EntitlementReason,
    FeatureKind,
    decide,
    restrict,
)
from revsync.domain.errors import NotFound
from revsync.domain.identity import Customer, ExternalRef, System
from revsync.domain.metering import SUM_CONTEXT, Aggregation, Meter, Tally, contribution
from revsync.domain.money import plain
from revsync.domain.periods import Period
from revsync.domain.pricing import Plan
from revsync.domain.problems import Code, Problem
from revsync.domain.subscriptions import Subscription, Terms
from revsync.domain.usage import UsageEvent, to_micros
from revsync.ports.billing import UsageRow
from revsync.ports.clock import Clock
from revsync.ports.repositories import UnitOfWork, UnitOfWorkFactory
from revsync.schemas.cloudevents_v1 import decode_data

log = logging.getLogger(__name__)

#: snapshots kept at most (the oldest are dropped beyond it)
_MAX_SNAPSHOTS = 100_000
#: customers read together at most (one background batch)
_BATCH = 200
#: a snapshot's usage is counted on from its last read while at most this many events were
#: stored since (by ``seq``; beyond, scanning them could cost more than reading the period)
_ON_FROM_EVENTS = 100_000
#: the background reader reads at most this often, so that the snapshots due come together
_PACE_SECONDS = 0.5
#: the aggregations counted on from a snapshot's last read (each event adds to the total)
_ADDITIVE = frozenset({Aggregation.COUNT, Aggregation.SUM})
_NO_KEY = ("", "")
_NO_DATA: dict[str, Any] = {}


class UsageRead(Protocol):
    """A read of the stored usage (:mod:`revsync.adapters.db.usage_snapshot`): the events up to
    ingest sequence number ``cutoff_seq``; when ``complete``, every one of them."""

    cutoff_seq: int
    complete: bool

    def marks(self) -> tuple[int, int]:
        """What moves when stored usage changes otherwise than by new events (a tenant
        mapped, events voided)."""
        ...

    def customer_counts(
        self, customer_ids: Collection[str], event_type: str, start_us: int, end_us: int
    ) -> dict[str, int]: ...

    def customer_rows(
        self,
        customer_ids: Collection[str],
        event_type: str,
        start_us: int,
        end_us: int,
        *,
        with_data: bool,
        with_key: bool,
    ) -> Iterator[UsageRow]: ...

    def since(
        self,
        customer_ids: Collection[str],
        event_types: Collection[str],
        after_seq: int,
        *,
        with_data: bool,
    ) -> Iterator[tuple[int, str, str, int, str | None]]:
        """``(seq, customer_id, type, time_us, data_json)`` of the events after ``after_seq``."""
        ...

    def terms_marks(self, customer_ids: Collection[str]) -> dict[str, tuple[Any, ...]]:
        """Per existing customer: what moves when its terms change (its time zone, its
        subscriptions and their latest terms)."""
        ...


class UsageReads(Protocol):
    """Opens reads of the stored usage."""

    def latest(self, *, wait: bool) -> AbstractContextManager[UsageRead]:
        """A read of what is committed now; ``wait``: complete even where that means waiting
        for ingestion transactions in flight (never from inside one)."""
        ...


@dataclass(frozen=True, slots=True)
class Basis:
    """Where a snapshot's usage was read up to: the events up to ``seq`` of the ``counted``
    customers in ``window``, while the stored usage's marks were ``marks``; ``read`` is each
    meter's value then (without what :meth:`Entitlements.consume` added since)."""

    seq: int
    marks: tuple[int, int]
    counted: frozenset[str]
    window: tuple[int, int]
    read: Mapping[str, Decimal]


@dataclass(frozen=True, slots=True)
class Inputs:
    """What a snapshot's terms were made from: the customer and its subscriptions, read while
    their marks were ``marks`` and the identity version ``identity`` (kept while both stay)."""

    marks: tuple[Any, ...]
    identity: int
    customer: Customer
    subscriptions: tuple[Subscription, ...]
    #: the collections restriction in force when read
    restriction: Restriction | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a customer is entitled to and has used, as read at ``as_of``."""

    customer_id: str
    as_of: datetime
    subscription_id: str | None = None
    plan: Plan | None = None
    seats: int = 0
    period: Period | None = None
    #: meter → its value over the period so far
    used: dict[str, Decimal] = field(default_factory=dict)
    #: the product tenants whose usage counts here (the customer's, and its children's when
    #: the subscription includes them)
    tenants: frozenset[str] = frozenset()
    #: the period as instants (microseconds since the epoch), in the customer's time zone
    window: tuple[int, int] = (0, 0)
    #: the customer's own product tenants (the owner of each, as read at ``as_of``)
    own: frozenset[str] = frozenset()
    #: where its usage was read up to (None: the next read takes the period in full)
    basis: Basis | None = field(default=None, repr=False, compare=False)
    #: what its terms were made from (None: the next read reads them)
    inputs: Inputs | None = field(default=None, repr=False, compare=False)

    @property
    def restriction(self) -> Restriction | None:
        """The collections restriction in force (application/collections.py)."""
        return None if self.inputs is None else self.inputs.restriction

    def decide(self, feature: str, quantity: Decimal, *, restricted: bool = True) -> Decision:
        """May ``quantity`` more of ``feature`` be used now? (``restricted``: under the
        collections restriction in force.)"""
        if self.plan is None:
            return Decision(feature, False, EntitlementReason.NO_SUBSCRIPTION)
        found = self.plan.feature(feature)
        used = None if found is None or found.meter is None else self.used.get(found.meter)
        decision = decide(found, quantity, seats=self.seats, used=used, key=feature)
        return restrict(decision, self.restriction) if restricted else decision

    def every(self) -> list[Decision]:
        """Each feature of the plan, as it stands (a check of nothing more)."""
        if self.plan is None:
            return []
        return [self.decide(f.key, Decimal(0)) for f in self.plan.features]


@dataclass(frozen=True, slots=True)
class _Terms:
    """A customer's terms as read now: its tenants, and the subscription in service, if any."""

    customer_id: str
    inputs: Inputs
    own: frozenset[str]
    tenants: frozenset[str]
    subscription_id: str | None = None
    plan: Plan | None = None
    seats: int = 0
    period: Period | None = None
    window: tuple[int, int] = (0, 0)
    counted: frozenset[str] = frozenset()


@dataclass(slots=True)
class _Work:
    """One meter of one snapshot being read: in full, or on from ``base`` at ``after``."""

    customer_id: str
    meter: Meter
    counted: frozenset[str]
    window: tuple[int, int]
    tally: Tally
    base: Decimal | None = None
    after: int = 0
    value: Decimal = Decimal(0)


class Entitlements:
    """Answers entitlement checks from snapshots read again every ``fresh_for``."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        usage: UsageQueries,
        clock: Clock,
        fresh_for: timedelta,
        reads: UsageReads,
        warm_for: timedelta = timedelta(0),
    ) -> None:
        self._uow = unit_of_work
        self._usage = usage
        self._reads = reads
        self._clock = clock
        self._fresh_for = fresh_for
        self._warm_for = warm_for
        self._pace = min(fresh_for.total_seconds() / 10, _PACE_SECONDS)
        self._snapshots: dict[str, Snapshot] = {}
        #: customers whose snapshot is held only as the basis of the next read
        self._stale: set[str] = set()
        self._by_tenant: dict[str, set[str]] = {}  # tenant → customers whose snapshot counts it
        self._tenants: dict[str, tuple[str, datetime]] = {}  # tenant → customer id, read at
        #: bumped when a customer's usage or terms change here: a read begun before is not kept
        self._generations: dict[str, int] = {}
        self._due: set[str] = set()  # customers waiting for a read in the background
        #: customer → when last checked (kept while within ``warm_for``)
        self._checked: dict[str, datetime] = {}
        #: (as of, customer) of the snapshots kept, oldest first: what ages past ``fresh_for``
        self._ages: deque[tuple[datetime, str]] = deque()
        self._plans: dict[tuple[str, int], Plan] = {}  # plan versions read (they never change)
        self._queue: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._reader: threading.Thread | None = None
        self._closed = False
        self._lock = threading.Lock()

    def cached(self, customer_id: str) -> Snapshot | None:
        """The customer's snapshot if one is held and younger than twice ``fresh_for`` (no
        I/O: callers on an event loop ask this first). One older than ``fresh_for`` is still
        answered, and read again in the background for the checks after it."""
        now = self._clock.now()
        with self._lock:
            if self._warm_for:
                if len(self._checked) >= _MAX_SNAPSHOTS:
                    self._checked.clear()
                self._checked[customer_id] = now
            found = self._snapshots.get(customer_id)
            if (
                found is None
                or now - found.as_of >= 2 * self._fresh_for
                or customer_id in self._stale
            ):
                return None
            if now - found.as_of >= self._fresh_for and customer_id not in self._due:
                self._due.add(customer_id)
                self._queue.put(customer_id)
                self._start_reader()
        return found

    def cached_tenant(self, tenant: str) -> str | None:
        """The customer owning ``tenant`` if read within twice the freshness time — looked up,
        or read again with the owner's snapshot, which a check past ``fresh_for`` refreshes in
        the background (no I/O)."""
        with self._lock:
            found = self._tenants.get(tenant)
        if found is not None and self._clock.now() - found[1] < 2 * self._fresh_for:
            return found[0]
        return None

    def owner(self, tenant: str) -> str:
        """The customer owning the product tenant (``NotFound`` when none does)."""
        known = self.cached_tenant(tenant)
        if known is not None:
            return known
        with self._lock:
            last = self._tenants.get(tenant)
        if last is not None:  # the owner last read: its snapshot read now says if it still is
            try:
                if tenant in self.snapshot(last[0]).own:
                    return last[0]
            except NotFound:
                pass
        with self._uow(write=False) as uow:
            customer = uow.customers.find_by_ref(ExternalRef(System.PRODUCT, tenant))
        if customer is None:
            raise NotFound("tenant", tenant)
        with self._lock:
            if len(self._tenants) >= _MAX_SNAPSHOTS:
                self._tenants.clear()
            self._tenants[tenant] = (customer.id, self._clock.now())
        return customer.id

    def snapshot(self, customer_id: str) -> Snapshot:
        """The customer's snapshot, read now unless :meth:`cached` has one (``NotFound`` for an
        unknown customer)."""
        found = self.cached(customer_id)
        if found is not None:
            return found
        read = self._refresh([customer_id], wait=False)
        if customer_id not in read:
            raise NotFound("customer", customer_id)
        return read[customer_id]

    def forget_tenants(self, tenants: Iterable[str]) -> None:
        """Usage of these tenants was just stored: the snapshots counting it are read again
        at the next check (and a read begun before is not kept)."""
        with self._lock:
            if not self._by_tenant:
                return
            stale = {c for t in tenants for c in self._by_tenant.get(t, ())}
            self._stale.update(stale)
            for customer_id in stale:
                self._generations[customer_id] = self._generations.get(customer_id, 0) + 1

    def forget(self, customer_id: str) -> None:
        """The customer's terms changed here: its snapshot, terms and all, is read again at the
        next check."""
        with self._lock:
            held = self._snapshots.get(customer_id)
            if held is not None:
                self._snapshots[customer_id] = replace(held, inputs=None)
                self._stale.add(customer_id)
            self._generations[customer_id] = self._generations.get(customer_id, 0) + 1

    def consume(self, customer_id: str, meter: str, amount: Decimal) -> None:
        """Count ``amount`` of ``meter`` as used at once (an event being stored here); a read
        begun before is not kept, so the amount is not lost before the event is committed."""
        with self._lock:
            found = self._snapshots.get(customer_id)
            if found is not None:
                found.used[meter] = found.used.get(meter, Decimal(0)) + amount
            self._generations[customer_id] = self._generations.get(customer_id, 0) + 1

    def close(self) -> None:
        """Stop reading in the background (the reader ends after its current read)."""
        with self._lock:
            self._closed = True
            self._checked.clear()
            self._ages.clear()

    def _refresh(self, customer_ids: Sequence[str], *, wait: bool) -> dict[str, Snapshot]:
        """Read the customers' snapshots and keep each, unless its usage or terms changed here
        meanwhile (or a later read is kept already). Customers that no longer exist are
        forgotten and left out of the result."""
        with self._lock:
            generations = {cid: self._generations.get(cid, 0) for cid in customer_ids}
        found, missing = self._read(customer_ids, wait=wait)
        with self._lock:
            for customer_id in missing:
                self._drop(customer_id)
            for customer_id, snapshot in found.items():
                if self._generations.get(customer_id, 0) != generations[customer_id]:
                    continue
                held = self._snapshots.get(customer_id)
                if held is not None and held.as_of > snapshot.as_of:
                    continue
                if len(self._snapshots) >= _MAX_SNAPSHOTS:
                    self._snapshots.clear()
                    self._stale.clear()
                    self._by_tenant.clear()
                    self._ages.clear()
                self._drop(customer_id)
                self._snapshots[customer_id] = snapshot
                if self._warm_for:
                    self._ages.append((snapshot.as_of, customer_id))
                for tenant in snapshot.tenants:
                    self._by_tenant.setdefault(tenant, set()).add(customer_id)
                if len(self._tenants) >= _MAX_SNAPSHOTS:
                    self._tenants.clear()
                for tenant in snapshot.own:  # its owner as of this read, for checks by tenant
                    self._tenants[tenant] = (customer_id, snapshot.as_of)
            if self._warm_for and found:
                self._start_reader()
        return found

    def _drop(self, customer_id: str) -> None:
        """Forget the customer's snapshot and its tenants' index entries (lock held)."""
        self._stale.discard(customer_id)
        gone = self._snapshots.pop(customer_id, None)
        for tenant in () if gone is None else gone.tenants:
            holders = self._by_tenant.get(tenant)
            if holders is not None:
                holders.discard(customer_id)
                if not holders:
                    del self._by_tenant[tenant]

    def _start_reader(self) -> None:
        """Start the background reader unless it runs (lock held)."""
        if self._reader is None and not self._closed:
            self._reader = threading.Thread(target=self._read_due, name="entitlements", daemon=True)
            self._reader.start()

    def _read_due(self) -> None:
        """The background reader: the snapshots that aged past ``fresh_for`` — those checked
        since, and those of customers checked within ``warm_for`` — together, at most every
        ``_pace`` seconds. It ends when it has nothing to read and no snapshot to keep fresh
        (a check starts it again)."""
        # turns paced by sleep, the queue only drained: a timed wait on the queue misbehaves
        # under a faked clock (libfaketime, the suite's clock-ahead run); sleep does not
        while True:
            begun = monotonic()
            due: list[str] = []
            while len(due) < _BATCH:
                try:
                    due.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            with self._lock:
                due.extend(self._ageing(_BATCH - len(due)))
                if self._closed or (not due and not self._ages and self._queue.empty()):
                    self._reader = None
                    return
            if due:
                try:
                    self._refresh(due, wait=True)
                except Exception:
                    log.warning("%d snapshots not read again", len(due), exc_info=True)
                finally:
                    with self._lock:
                        self._due.difference_update(due)
            pause = self._pace - (monotonic() - begun)
            if pause > 0:
                sleep(pause)

    def _ageing(self, room: int) -> list[str]:
        """Up to ``room`` customers checked within ``warm_for`` whose snapshot aged past
        ``fresh_for``, marked due; snapshots of customers not checked so recently are let age
        (lock held)."""
        now = self._clock.now()
        picked: list[str] = []
        while self._ages and len(picked) < room:
            as_of, customer_id = self._ages[0]
            if now - as_of < self._fresh_for:
                break
            self._ages.popleft()
            held = self._snapshots.get(customer_id)
            if held is None or held.as_of != as_of or customer_id in self._due:
                continue  # read again since, dropped, or already due
            checked = self._checked.get(customer_id)
            if checked is None or now - checked >= self._warm_for:
                self._checked.pop(customer_id, None)
                continue
            self._due.add(customer_id)
            picked.append(customer_id)
        return picked

    def _read(
        self, customer_ids: Sequence[str], *, wait: bool
    ) -> tuple[dict[str, Snapshot], set[str]]:
        """The customers' snapshots as read now, and the customers that do not exist."""
        now = self._clock.now()
        with self._lock:
            held = {cid: self._snapshots.get(cid) for cid in customer_ids}
        with self._reads.latest(wait=wait) as usage:
            marks = usage.marks()
            terms, missing = self._terms(usage, customer_ids, now, marks[0], held)
            bases: dict[str, Basis] = {}  # the bases counted on from
            works: dict[str, list[_Work]] = {}
            for customer_id, found in terms.items():
                if found.plan is None:
                    continue
                before = held.get(customer_id)
                basis = None if before is None else before.basis
                if basis is not None and (
                    basis.marks == marks
                    and basis.counted == found.counted
                    and basis.window == found.window
                    and basis.seq <= usage.cutoff_seq <= basis.seq + _ON_FROM_EVENTS
                ):
                    bases[customer_id] = basis
                mine = works[customer_id] = []
                for key in sorted({f.meter for f in found.plan.features if f.meter is not None}):
                    meter = self._usage.meter(key)
                    work = _Work(customer_id, meter, found.counted, found.window, Tally(meter))
                    basis = bases.get(customer_id)
                    if basis is not None and key in basis.read and meter.aggregation in _ADDITIVE:
                        work.base, work.after = basis.read[key], basis.seq
                    mine.append(work)
            every = [w for ws in works.values() for w in ws]
            _count_in_full(usage, [w for w in every if w.base is None])
            _count_on(usage, [w for w in every if w.base is not None])
        snapshots: dict[str, Snapshot] = {}
        for customer_id, found in terms.items():
            mine = works.get(customer_id, [])
            used = {w.meter.key: w.value for w in mine}
            basis = None
            if found.plan is None:
                pass
            elif usage.complete:
                basis = Basis(usage.cutoff_seq, marks, found.counted, found.window, used)
            else:  # not complete: where it counted on from is still where to go on from
                basis = bases.get(customer_id)
            snapshots[customer_id] = Snapshot(
                customer_id,
                now,
                found.subscription_id,
                found.plan,
                found.seats,
                found.period,
                dict(used),
                found.tenants,
                found.window,
                found.own,
                basis,
                found.inputs,
            )
        return snapshots, missing

    def _terms(
        self,
        usage: UsageRead,
        customer_ids: Sequence[str],
        now: datetime,
        identity: int,
        held: Mapping[str, Snapshot | None],
    ) -> tuple[dict[str, _Terms], set[str]]:
        """Each customer's terms as of now, and the customers that do not exist. The customer
        and its subscriptions are read again (a few queries for all of them) unless their marks
        and the identity version are those of its snapshot's last read, and no subscription of
        it includes children (whose set its marks do not show)."""
        marks = usage.terms_marks(customer_ids)
        inputs: dict[str, Inputs] = {}
        unread: list[str] = []
        for customer_id, mark in marks.items():
            before = held.get(customer_id)
            kept = None if before is None else before.inputs
            if (
                kept is not None
                and kept.marks == mark
                and kept.identity == identity
                and not any(s.include_children for s in kept.subscriptions)
            ):
                inputs[customer_id] = kept
            else:
                unread.append(customer_id)
        chosen: dict[str, tuple[Subscription, Terms, Plan] | None] = {}
        children: dict[str, list[str]] = {}
        others: dict[str, Customer] = {}
        if unread:
            with self._uow(write=False) as uow:
                subscriptions: dict[str, list[Subscription]] = {}
                for subscription in uow.subscriptions.of_customers(unread):
                    subscriptions.setdefault(subscription.customer_id, []).append(subscription)
                restricted = uow.collections.restrictions(unread)
                for customer in uow.customers.many(unread):
                    mine = sorted(subscriptions.get(customer.id, ()), key=lambda s: s.id)
                    standing = restricted.get(customer.id)
                    read = Inputs(
                        marks[customer.id],
                        identity,
                        customer,
                        tuple(mine),
                        None if standing is None else standing.restriction,
                    )
                    inputs[customer.id] = read
                    found = chosen[customer.id] = self._in_service(read, now, uow)
                    if found is not None and found[0].include_children:
                        children[customer.id] = uow.customers.descendants_of(customer.id)
                kin = {c for cs in children.values() for c in cs}
                others = {c.id: c for c in uow.customers.many(kin)} if kin else {}
        terms: dict[str, _Terms] = {}
        for customer_id, read in inputs.items():
            customer = read.customer
            own = frozenset(customer.refs_in(System.PRODUCT))
            found = (
                chosen[customer_id] if customer_id in chosen else self._in_service(read, now, None)
            )
            if found is None:
                terms[customer_id] = _Terms(customer_id, read, own, own)
                continue
            subscription, current, plan = found
            zone = ZoneInfo(customer.timezone)
            period = subscription.usage_period_on(now.astimezone(zone).date())
            start = datetime.combine(period.start, time(), zone)
            end = datetime.combine(period.end, time(), zone)
            kids = children.get(customer_id, [])
            tenants = own.union(*(others[c].refs_in(System.PRODUCT) for c in kids if c in others))
            terms[customer_id] = _Terms(
                customer_id,
                read,
                own,
                tenants,
                subscription.id,
                plan,
                current.seats,
                period,
                (to_micros(start), to_micros(end)),
                frozenset([customer_id, *kids]),
            )
        return terms, set(customer_ids) - inputs.keys()

    def _in_service(
        self, read: Inputs, now: datetime, uow: UnitOfWork | None
    ) -> tuple[Subscription, Terms, Plan] | None:
        """The customer's subscription in service today (the first by id), its terms and
        plan; None when none is."""
        today = now.astimezone(ZoneInfo(read.customer.timezone)).date()
        for subscription in read.subscriptions:
            terms = subscription.terms_on(today)
            if terms is None or (terms.ends is not None and terms.ends <= today):
                continue
            plan = self._plan(uow, terms.plan_code, terms.plan_version)
            if plan is not None:
                return subscription, terms, plan
        return None

    def _plan(self, uow: UnitOfWork | None, code: str, version: int) -> Plan | None:
        """A plan version (kept once read: a version never changes; a changed plan is a new
        version), read in ``uow`` or a unit of work of its own."""
        key = (code, version)
        found = self._plans.get(key)
        if found is None:
            if uow is None:
                with self._uow(write=False) as own:
                    found = own.plans.get(code, version)
            else:
                found = uow.plans.get(code, version)
            if found is not None:
                self._plans[key] = found
        return found


def _count_in_full(usage: UsageRead, works: list[_Work]) -> None:
    """Each meter's value over its window, from every event up to the cutoff: counted in the
    database for a count meter that reads no data, else by the meter's tally over the rows —
    one query per meter and window for all the snapshots."""
    groups: dict[tuple[str, int, int], list[_Work]] = {}
    for work in works:
        groups.setdefault((work.meter.key, *work.window), []).append(work)
    for (_, start_us, end_us), group in groups.items():
        meter = group[0].meter
        reads_data = group[0].tally.reads_data
        customers = {c for w in group for c in w.counted}
        if meter.aggregation is Aggregation.COUNT and not reads_data:
            counts = usage.customer_counts(customers, meter.event_type, start_us, end_us)
            for work in group:
                work.value = Decimal(sum(counts.get(c, 0) for c in work.counted))
            continue
        routes: dict[str, list[_Work]] = {}
        for work in group:
            for customer_id in work.counted:
                routes.setdefault(customer_id, []).append(work)
        latest = meter.aggregation is Aggregation.LATEST
        rows = usage.customer_rows(
            customers, meter.event_type, start_us, end_us, with_data=reads_data, with_key=latest
        )
        for customer_id, time_us, _slot, data_json, source, event_id in rows:
            data = decode_data(data_json) if reads_data and data_json else _NO_DATA
            key = (source or "", event_id or "") if latest else _NO_KEY
            for work in routes.get(customer_id, ()):
                work.tally.take(time_us, key, data)
        for work in group:
            work.value = work.tally.total()


def _count_on(usage: UsageRead, works: list[_Work]) -> None:
    """Each count or sum meter's value from its base: plus the events stored after the
    snapshot's last read (one query for all the snapshots)."""
    if not works:
        return
    routes: dict[str, list[_Work]] = {}
    for work in works:
        for customer_id in work.counted:
            routes.setdefault(customer_id, []).append(work)
    reads_data = any(w.tally.reads_data for w in works)
    types = {w.meter.event_type for w in works}
    after = min(w.after for w in works)
    for seq, customer_id, kind, time_us, data_json in usage.since(
        routes.keys(), types, after, with_data=reads_data
    ):
        data: dict[str, Any] | None = None
        for work in routes.get(customer_id, ()):
            if seq <= work.after or kind != work.meter.event_type:
                continue
            if not work.window[0] <= time_us < work.window[1]:
                continue
            if data is None:
                data = decode_data(data_json) if reads_data and data_json else _NO_DATA
            work.tally.take(time_us, _NO_KEY, data)
    for work in works:
        assert work.base is not None
        work.value = SUM_CONTEXT.add(work.base, work.tally.total())


class QuotaGate:
    """Refuses at ingestion, event by event, usage that would pass a hard quota on the meters
    ``entitlements.refuse_over_quota`` names (count and sum meters). It runs in the write
    transaction after deduplication, so a duplicate is reported as one, not refused; an event
    of another period than the open one is not counted. Admitted amounts count at once in
    this process's snapshots; other processes see them within twice the cache time."""

    def __init__(self, entitlements: Entitlements, meters: Sequence[Meter]) -> None:
        self._entitlements = entitlements
        self._by_type: dict[str, list[Meter]] = {}
        for meter in meters:
            self._by_type.setdefault(meter.event_type, []).append(meter)

    def __call__(self, customer_id: str, event: UsageEvent, time_us: int) -> Problem | None:
        meters = self._by_type.get(event.type)
        if not meters:
            return None
        snapshot = self._entitlements.snapshot(customer_id)
        if snapshot.plan is None or not snapshot.window[0] <= time_us < snapshot.window[1]:
            return None
        taken: list[tuple[str, Decimal]] = []
        for meter in meters:
            feature = next(
                (
                    f
                    for f in snapshot.plan.features
                    if f.kind is FeatureKind.QUOTA
                    and f.meter == meter.key
                    and f.enforcement is Enforcement.HARD
                ),
                None,
            )
            amount = None if feature is None else contribution(meter, event.data)
            if feature is None or amount is None:
                continue
            decision = snapshot.decide(feature.key, amount, restricted=False)
            if not decision.allowed:
                used = plain(decision.used or Decimal(0))
                limit = plain(decision.limit or Decimal(0))
                return Problem(
                    Code.QUOTA_EXCEEDED,
                    f"subject: customer {customer_id!r} has used {used} of its {feature.key!r} "
                    f"quota of {limit} this period; this event would add {plain(amount)}",
                )
            taken.append((meter.key, amount))
        for meter_key, amount in taken:
            self._entitlements.consume(customer_id, meter_key, amount)
        return None
