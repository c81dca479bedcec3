"""Entitlement checks, answered from a snapshot per customer held in memory: the plan in service
today, its seats, the usage period and the usage so far of each meter a feature counts.

A snapshot older than ``fresh_for`` (``entitlements.cache_seconds``, 5 s) is read again in the
background while it still answers; one older than twice that is read before answering. So an
answer lags a plan, subscription or usage change made in another process by at most twice
``fresh_for``. Usage this process ingests drops the snapshots of its tenants' customers right
after the commit, before the next write begins (:meth:`forget_tenants`, called by ingestion):
the next check reads it."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from revsync.application.usage import UsageQueries, UsageRequest
from revsync.domain.entitlements import (
    Decision,
    Enforcement,
    EntitlementReason,
    FeatureKind,
    decide,
)
from revsync.domain.errors import NotFound
from revsync.domain.identity import ExternalRef, System
from revsync.domain.metering import Meter, contribution
from revsync.domain.money import plain
from revsync.domain.periods import Period, period_of
from revsync.domain.pricing import Plan
from revsync.domain.problems import Code, Problem
from revsync.domain.usage import UsageEvent, to_micros
from revsync.ports.clock import Clock
from revsync.ports.repositories import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

#: snapshots kept at most (the oldest are dropped beyond it)
_MAX_SNAPSHOTS = 100_000


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

    def decide(self, feature: str, quantity: Decimal) -> Decision:
        """May ``quantity`` more of ``feature`` be used now?"""
        if self.plan is None:
            return Decision(feature, False, EntitlementReason.NO_SUBSCRIPTION)
        found = self.plan.feature(feature)
        used = None if found is None or found.meter is None else self.used.get(found.meter)
        return decide(found, quantity, seats=self.seats, used=used, key=feature)

    def every(self) -> list[Decision]:
        """Each feature of the plan, as it stands (a check of nothing more)."""
        if self.plan is None:
            return []
        return [self.decide(f.key, Decimal(0)) for f in self.plan.features]


class Entitlements:
    """Answers entitlement checks from snapshots read again every ``fresh_for``."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        usage: UsageQueries,
        clock: Clock,
        fresh_for: timedelta,
    ) -> None:
        self._uow = unit_of_work
        self._usage = usage
        self._clock = clock
        self._fresh_for = fresh_for
        self._snapshots: dict[str, Snapshot] = {}
        self._by_tenant: dict[str, set[str]] = {}  # tenant → customers whose snapshot counts it
        self._tenants: dict[str, tuple[str, datetime]] = {}  # tenant → customer id, read at
        #: bumped when a customer's usage or terms change here: a read begun before is not kept
        self._generations: dict[str, int] = {}
        self._due: set[str] = set()  # customers waiting for a read in the background
        self._plans: dict[tuple[str, int], Plan] = {}  # plan versions read (they never change)
        self._queue: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._reader: threading.Thread | None = None
        self._lock = threading.Lock()

    def cached(self, customer_id: str) -> Snapshot | None:
        """The customer's snapshot if one is held and younger than twice ``fresh_for`` (no
        I/O: callers on an event loop ask this first). One older than ``fresh_for`` is still
        answered, and read again in the background for the checks after it."""
        now = self._clock.now()
        with self._lock:
            found = self._snapshots.get(customer_id)
            if found is None or now - found.as_of >= 2 * self._fresh_for:
                return None
            if now - found.as_of >= self._fresh_for and customer_id not in self._due:
                self._due.add(customer_id)
                self._queue.put(customer_id)
                if self._reader is None:
                    self._reader = threading.Thread(
                        target=self._read_due, name="entitlements", daemon=True
                    )
                    self._reader.start()
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
        return self._refresh(customer_id)

    def forget_tenants(self, tenants: Iterable[str]) -> None:
        """Usage of these tenants was just stored: the snapshots counting it are read again
        at the next check (and a read begun before is not kept)."""
        with self._lock:
            if not self._by_tenant:
                return
            stale = {c for t in tenants for c in self._by_tenant.get(t, ())}
            for customer_id in stale:
                self._drop(customer_id)
                self._generations[customer_id] = self._generations.get(customer_id, 0) + 1

    def forget(self, customer_id: str) -> None:
        """The customer's terms changed here: its snapshot is read again at the next check."""
        with self._lock:
            self._drop(customer_id)
            self._generations[customer_id] = self._generations.get(customer_id, 0) + 1

    def consume(self, customer_id: str, meter: str, amount: Decimal) -> None:
        """Count ``amount`` of ``meter`` as used at once (an event being stored here); a read
        begun before is not kept, so the amount is not lost before the event is committed."""
        with self._lock:
            found = self._snapshots.get(customer_id)
            if found is not None:
                found.used[meter] = found.used.get(meter, Decimal(0)) + amount
            self._generations[customer_id] = self._generations.get(customer_id, 0) + 1

    def _refresh(self, customer_id: str) -> Snapshot:
        """Read the customer's snapshot and keep it, unless its usage changed meanwhile."""
        with self._lock:
            generation = self._generations.get(customer_id, 0)
        found = self._read(customer_id)
        with self._lock:
            if self._generations.get(customer_id, 0) == generation:
                if len(self._snapshots) >= _MAX_SNAPSHOTS:
                    self._snapshots.clear()
                    self._by_tenant.clear()
                self._drop(customer_id)
                self._snapshots[customer_id] = found
                for tenant in found.tenants:
                    self._by_tenant.setdefault(tenant, set()).add(customer_id)
                if len(self._tenants) >= _MAX_SNAPSHOTS:
                    self._tenants.clear()
                for tenant in found.own:  # its owner as of this read, for checks by tenant
                    self._tenants[tenant] = (customer_id, found.as_of)
        return found

    def _drop(self, customer_id: str) -> None:
        """Forget the customer's snapshot and its tenants' index entries (lock held)."""
        gone = self._snapshots.pop(customer_id, None)
        for tenant in () if gone is None else gone.tenants:
            holders = self._by_tenant.get(tenant)
            if holders is not None:
                holders.discard(customer_id)
                if not holders:
                    del self._by_tenant[tenant]

    def _read_due(self) -> None:
        """The background reader: snapshots that aged past ``fresh_for``, one at a time."""
        while True:
            customer_id = self._queue.get()
            try:
                self._refresh(customer_id)
            except NotFound:  # the customer is gone
                with self._lock:
                    self._drop(customer_id)
            except Exception:
                log.warning("snapshot of %s not read again", customer_id, exc_info=True)
            finally:
                with self._lock:
                    self._due.discard(customer_id)

    def _read(self, customer_id: str) -> Snapshot:
        now = self._clock.now()
        with self._uow(write=False) as uow:
            customer = uow.customers.get(customer_id)
            if customer is None:
                raise NotFound("customer", customer_id)
            zone = ZoneInfo(customer.timezone)
            today = now.astimezone(zone).date()
            in_service = sorted(uow.subscriptions.of_customer(customer_id), key=lambda s: s.id)
            for subscription in in_service:
                terms = subscription.terms_on(today)
                if terms is None or (terms.ends is not None and terms.ends <= today):
                    continue
                plan = self._plan(uow, terms.plan_code, terms.plan_version)
                if plan is None:
                    continue
                counted = [customer_id]
                if subscription.include_children:
                    counted += uow.customers.descendants_of(customer_id)
                owners = uow.customers.many(counted)
                break
            else:
                tenants = frozenset(customer.refs_in(System.PRODUCT))
                return Snapshot(customer_id, now, tenants=tenants, own=tenants)
        period = period_of(today, subscription.anchor, subscription.usage_interval)
        start = datetime.combine(period.start, time(), zone)
        meters = sorted({f.meter for f in plan.features if f.meter is not None})
        zone_name = customer.timezone
        used = {meter: self._used(counted, meter, start, now, zone_name) for meter in meters}
        end = datetime.combine(period.end, time(), zone)
        return Snapshot(
            customer_id,
            now,
            subscription.id,
            plan,
            terms.seats,
            period,
            used,
            frozenset(t for owner in owners for t in owner.refs_in(System.PRODUCT)),
            (to_micros(start), to_micros(end)),
            frozenset(customer.refs_in(System.PRODUCT)),
        )

    def _plan(self, uow: UnitOfWork, code: str, version: int) -> Plan | None:
        """A plan version (kept once read: a version never changes; a changed plan is a new
        version)."""
        key = (code, version)
        found = self._plans.get(key)
        if found is None:
            found = uow.plans.get(code, version)
            if found is not None:
                self._plans[key] = found
        return found

    def _used(
        self, customer_ids: list[str], meter: str, start: datetime, now: datetime, zone: str
    ) -> Decimal:
        """The meter's value over ``[start, now]``."""
        end = max(now, start) + timedelta(microseconds=1)
        buckets = self._usage.usage(UsageRequest(customer_ids, meter, start, end, None, zone))
        return sum((b.value for b in buckets), Decimal(0))


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
            decision = snapshot.decide(feature.key, amount)
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
