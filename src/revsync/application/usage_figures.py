"""Usage figures for billing: every meter total a run needs, from one pass over the events.

A run first lists the usage its invoices read (:func:`revsync.domain.billing.usage_requests`);
the figures are then computed together from a usage snapshot (:func:`compute`), each with its
lineage: how many events counted and an order-independent digest of their keys (the sum of
their dedup slots), up to the snapshot's cutoff.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from revsync.domain.billing import UsageFigure, UsageRequest
from revsync.domain.invoicing import Lineage
from revsync.domain.metering import (
    MISSING,
    Aggregation,
    Meter,
    Tally,
    contribution,
    key_text,
    reading,
    value_days,
)
from revsync.domain.periods import day_start
from revsync.domain.usage import digest_text, to_micros
from revsync.ports.billing import AggregateSpec, UsageAggregate, UsageSnapshot
from revsync.schemas.cloudevents_v1 import decode_data

_ZERO = Decimal(0)

ZERO = Decimal(0)
#: event-set digests are sums of dedup slots modulo 2^64 (see revsync.domain.usage)
_MASK = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class Need:
    """A usage request of one subscription, with whose events and in which time zone."""

    customer_ids: tuple[str, ...]
    zone: str
    request: UsageRequest


@dataclass(slots=True)
class _Counter:
    events: int = 0
    digest: int = 0


@dataclass(slots=True)
class _Work:
    need: Need
    meter: Meter
    start_us: int
    end_us: int
    tally: Tally
    total: _Counter = field(default_factory=_Counter)
    counts_only: bool = False
    dimension: bool = False
    groups: dict[object, _Counter] = field(default_factory=dict)
    #: each counted event's (time, key, value), for a request of transactions or a carried
    #: meter (whose events before the window count too: the value they leave is carried in)
    values: list[tuple[int, tuple[str, str], Decimal]] | None = None
    carried: bool = False
    #: the aggregate as the database can take it (None: every event is read here)
    spec: AggregateSpec | None = None


def window(request: UsageRequest, zone: str) -> tuple[datetime, datetime]:
    """The instants a request's local days span."""
    tz = ZoneInfo(zone)
    return day_start(request.days.start, tz), day_start(request.days.end, tz)


def compute(
    snapshot: UsageSnapshot, needs: Sequence[Need], meters: Mapping[str, Meter]
) -> dict[Need, UsageFigure]:
    """Every figure in one pass over the snapshot's events, one query per event type, with
    only the columns the meters of that type read: event data is decoded only when a meter
    reads a value, a filter or a dimension, and once per event."""
    # carried meters read their events from the beginning: scanned apart, so that the other
    # meters of the event type keep their windows
    works_by_type: dict[tuple[str, bool], list[_Work]] = {}
    for need in needs:
        meter = meters[need.request.meter]
        start, end = window(need.request, need.zone)
        tally = Tally(meter, need.request.dimension)
        work = _Work(
            need,
            meter,
            to_micros(start),
            to_micros(end),
            tally,
            counts_only=not tally.reads_data and not need.request.transactions,
            dimension=need.request.dimension is not None,
            values=[] if need.request.transactions or meter.carried else None,
            carried=meter.carried,
        )
        if not work.counts_only and work.values is None:
            work.spec = aggregate_spec(meter, need.request.dimension)
        works_by_type.setdefault((meter.event_type, meter.carried), []).append(work)
    for (event_type, _), works in works_by_type.items():
        _scan(snapshot, event_type, works)
    return {w.need: _figure(w, snapshot.cutoff_seq) for ws in works_by_type.values() for w in ws}


def _scan(snapshot: UsageSnapshot, event_type: str, works: list[_Work]) -> None:
    _count(snapshot, event_type, [w for w in works if w.counts_only])
    routes = _aggregate(snapshot, event_type, [w for w in works if w.spec is not None])
    for work in works:
        if not work.counts_only and work.spec is None:
            for customer_id in work.need.customer_ids:
                routes.setdefault(customer_id, []).append(work)
    if routes:
        _read(snapshot, event_type, routes)


def _count(snapshot: UsageSnapshot, event_type: str, counted: list[_Work]) -> None:
    for start_us, end_us in {(w.start_us, w.end_us) for w in counted}:  # counted in the database
        batch = [w for w in counted if (w.start_us, w.end_us) == (start_us, end_us)]
        customers = {c for w in batch for c in w.need.customer_ids}
        counts = snapshot.counts(customers, event_type, start_us, end_us)
        for work in batch:
            for customer_id in work.need.customer_ids:
                events, digest = counts.get(customer_id, (0, 0))
                work.total.events += events
                work.total.digest = (work.total.digest + digest) & _MASK


def _aggregate(
    snapshot: UsageSnapshot, event_type: str, works: list[_Work]
) -> dict[str, list[_Work]]:
    """The figures the database aggregates exactly; returns, per customer, the works whose
    events it could not all read (they are read event by event)."""
    routes: dict[str, list[_Work]] = {}
    batches: dict[tuple[int, int, AggregateSpec], list[_Work]] = {}
    for work in works:
        assert work.spec is not None
        batches.setdefault((work.start_us, work.end_us, work.spec), []).append(work)
    for (start_us, end_us, spec), batch in batches.items():
        customers = {c for w in batch for c in w.need.customer_ids}
        found: dict[str, list[UsageAggregate]] = {}
        for aggregate in snapshot.aggregates(customers, event_type, start_us, end_us, spec):
            found.setdefault(aggregate.customer_id, []).append(aggregate)
        for work in batch:
            for customer_id in work.need.customer_ids:
                aggregates = found.get(customer_id, ())
                if any(a.unread for a in aggregates):
                    routes.setdefault(customer_id, []).append(work)
                    continue
                for a in aggregates:
                    _absorb(work, a)
    return routes


def _absorb(work: _Work, aggregate: UsageAggregate) -> None:
    work.tally.absorb(aggregate.events, aggregate.value, aggregate.group, aggregate.order)
    work.total.events += aggregate.events
    work.total.digest = (work.total.digest + aggregate.digest) & _MASK
    if work.dimension:
        assert aggregate.group is not None
        group = work.groups.get(aggregate.group)
        if group is None:
            group = work.groups[aggregate.group] = _Counter()
        group.events += aggregate.events
        group.digest = (group.digest + aggregate.digest) & _MASK


def _read(snapshot: UsageSnapshot, event_type: str, routes: dict[str, list[_Work]]) -> None:
    """The figures read event by event (decoded, tallied in Python)."""
    works = list({id(w): w for ws in routes.values() for w in ws}.values())
    with_data = any(w.tally.reads_data for w in works)
    with_key = any(w.meter.aggregation is Aggregation.LATEST or w.values is not None for w in works)
    rows = snapshot.rows(
        routes.keys(),
        event_type,
        min(0 if w.carried else w.start_us for w in works),
        max(w.end_us for w in works),
        with_data=with_data,
        with_key=with_key,
    )
    no_key = ("", "")
    for customer_id, time_us, slot, data_json, source, event_id in rows:
        targets = routes.get(customer_id)
        if not targets:
            continue
        data: dict[str, Any] | None = None
        for work in targets:
            if work.carried:
                if time_us >= work.end_us:
                    continue
                if data is None:
                    data = decode_data(data_json or "{}")
                value = reading(work.meter, data)
                if value is None:
                    continue
                assert work.values is not None
                work.values.append((time_us, (source or "", event_id or ""), value))
                if time_us >= work.start_us:  # the window's own events are its lineage
                    work.total.events += 1
                    work.total.digest = (work.total.digest + slot) & _MASK
                continue
            if not work.start_us <= time_us < work.end_us:
                continue
            total = work.total
            if data is None:
                data = decode_data(data_json or "{}")
            tiebreak = (source or "", event_id or "") if with_key else no_key
            key = work.tally.take(time_us, tiebreak, data)
            if key is MISSING:
                continue
            total.events += 1
            total.digest = (total.digest + slot) & _MASK
            if work.values is not None:
                value = contribution(work.meter, data)
                assert value is not None  # the tally counted it
                work.values.append((time_us, tiebreak, value))
            if work.dimension:
                group = work.groups.get(key)
                if group is None:
                    group = work.groups[key] = _Counter()
                group.events += 1
                group.digest = (group.digest + slot) & _MASK


def _figure(work: _Work, cutoff_seq: int) -> UsageFigure:
    request = work.need.request
    start, end = window(request, work.need.zone)

    def lineage(counter: _Counter, group: tuple[tuple[str, str], ...] = ()) -> Lineage:
        return Lineage(
            meter=request.meter,
            start=start,
            end=end,
            customer_ids=work.need.customer_ids,
            group=group,
            events=counter.events,
            events_hash=digest_text(counter.digest),
            cutoff_seq=cutoff_seq,
        )

    if work.counts_only:
        return UsageFigure(total=Decimal(work.total.events), lineage=lineage(work.total))
    if work.carried:
        assert work.values is not None
        tz = ZoneInfo(work.need.zone)
        days = request.days
        bounds = [
            to_micros(day_start(days.start + timedelta(days=i), tz))
            for i in range((days.end - days.start).days + 1)
        ]
        return UsageFigure(
            total=value_days(work.meter, work.values, bounds),
            lineage=lineage(work.total),
            carried=True,
        )
    by_dimension = work.tally.by_dimension()
    lineage_by_dimension = {}
    if request.dimension is not None:
        for key, counter in work.groups.items():
            text = key_text(key)
            lineage_by_dimension[text] = lineage(counter, ((request.dimension, text),))
    values = None
    if work.values is not None:
        values = tuple(value for _, _, value in sorted(work.values, key=lambda v: v[:2]))
    return UsageFigure(
        total=work.tally.total(),
        lineage=lineage(work.total),
        by_dimension=by_dimension,
        lineage_by_dimension=lineage_by_dimension,
        values=values,
    )


#: path segments the databases' JSON paths read as object keys (not array indexes, not
#: needing quotes)
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_IN_SQL = frozenset({Aggregation.COUNT, Aggregation.SUM, Aggregation.MAX, Aggregation.LATEST})


def aggregate_spec(meter: Meter, dimension: str | None) -> AggregateSpec | None:
    """The meter's aggregate for the database, when it can be read there exactly: ``count``,
    ``sum``, ``max`` or ``latest`` (not carried), plain paths, and filters on strings only
    (None otherwise)."""
    if meter.aggregation not in _IN_SQL or meter.carried:
        return None
    paths = [p for p in (meter.value, dimension) if p is not None]
    paths.extend(path for path, _ in meter.filters)
    if not all(_PLAIN_KEY.fullmatch(key) for path in paths for key in path.split(".")):
        return None
    filters: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    for path, allowed in meter.filters:
        strings = {v for v in allowed if isinstance(v, str) and "\x00" not in v}
        if len(strings) != len(set(allowed)):
            return None
        filters.append((tuple(path.split(".")), tuple(sorted(strings))))
    return AggregateSpec(
        aggregation=meter.aggregation.value,
        value=tuple(meter.value.split(".")) if meter.value is not None else None,
        filters=tuple(filters),
        dimension=tuple(dimension.split(".")) if dimension is not None else None,
    )


class Figures:
    """A usage source answering from computed figures."""

    def __init__(
        self, figures: Mapping[Need, UsageFigure], customer_ids: tuple[str, ...], zone: str
    ) -> None:
        self._figures = figures
        self._customer_ids = customer_ids
        self._zone = zone

    def __call__(self, request: UsageRequest) -> UsageFigure:
        return _not_below_zero(self._figures[Need(self._customer_ids, self._zone, request)])


def _not_below_zero(figure: UsageFigure) -> UsageFigure:
    """Usage that nets below zero (corrections sent as negative events outweighing the usage,
    or negative values stored before they were refused) bills as zero: nothing accepted may
    leave a subscription unbillable."""
    if figure.values is not None and any(v < 0 for v in figure.values):
        # a transaction stored negative counts as zero; the total is what the rest add up to
        values = tuple(max(v, _ZERO) for v in figure.values)
        return replace(figure, total=sum(values, _ZERO), values=values)
    if figure.total >= 0 and all(v >= 0 for v in figure.by_dimension.values()):
        return figure
    if not figure.by_dimension:
        return replace(figure, total=_ZERO)
    # each value nets at zero at least, and the total is what the values then add up to
    split = {k: max(v, _ZERO) for k, v in figure.by_dimension.items()}
    return replace(figure, total=sum(split.values(), _ZERO), by_dimension=split)
