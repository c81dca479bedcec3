"""Usage figures for billing: every meter total a run needs, from one pass over the events.

Rating first records the usage it asks for (:class:`Recorder`); the figures are then computed
together from a usage snapshot (:func:`compute`), each with its lineage: how many events
counted and an order-independent digest of their keys, up to the snapshot's cutoff.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from revsync.domain.billing import UsageFigure, UsageRequest
from revsync.domain.invoicing import Lineage
from revsync.domain.metering import MISSING, Meter, MeterPoint, Tally, key_text
from revsync.domain.periods import day_start
from revsync.domain.usage import combine_digests, digest_text, event_digest, to_micros
from revsync.ports.billing import UsageSnapshot

ZERO = Decimal(0)


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
    groups: dict[object, _Counter] = field(default_factory=dict)


class Recorder:
    """A usage source that answers zero and remembers what was asked."""

    def __init__(self, customer_ids: tuple[str, ...], zone: str, into: set[Need]) -> None:
        self._customer_ids = customer_ids
        self._zone = zone
        self._into = into

    def __call__(self, request: UsageRequest) -> UsageFigure:
        self._into.add(Need(self._customer_ids, self._zone, request))
        start, end = window(request, self._zone)
        return UsageFigure(ZERO, Lineage(request.meter, start, end, self._customer_ids))


def window(request: UsageRequest, zone: str) -> tuple[datetime, datetime]:
    """The instants a request's local days span."""
    tz = ZoneInfo(zone)
    return day_start(request.days.start, tz), day_start(request.days.end, tz)


def compute(
    snapshot: UsageSnapshot, needs: Sequence[Need], meters: Mapping[str, Meter]
) -> dict[Need, UsageFigure]:
    """Every figure in one pass over the snapshot's events."""
    works: list[_Work] = []
    by_customer_type: dict[tuple[str, str], list[_Work]] = {}
    for need in needs:
        meter = meters[need.request.meter]
        start, end = window(need.request, need.zone)
        work = _Work(
            need, meter, to_micros(start), to_micros(end), Tally(meter, need.request.dimension)
        )
        works.append(work)
        for customer_id in need.customer_ids:
            by_customer_type.setdefault((customer_id, meter.event_type), []).append(work)
    if works:
        customers = {c for w in works for c in w.need.customer_ids}
        types = {w.meter.event_type for w in works}
        start_us = min(w.start_us for w in works)
        end_us = max(w.end_us for w in works)
        for row in snapshot.rows(customers, types, start_us, end_us):
            targets = by_customer_type.get((row.customer_id, row.type))
            if not targets:
                continue
            point = MeterPoint(row.time_us, (row.source, row.event_id), row.data)
            digest = 0
            for work in targets:
                if not work.start_us <= row.time_us < work.end_us:
                    continue
                key = work.tally.add(point)
                if key is MISSING:
                    continue
                digest = digest or event_digest(row.source, row.event_id)
                _count(work.total, digest)
                if work.need.request.dimension is not None:
                    _count(work.groups.setdefault(key, _Counter()), digest)
    return {w.need: _figure(w, snapshot.cutoff_seq) for w in works}


def _count(counter: _Counter, digest: int) -> None:
    counter.events += 1
    counter.digest = combine_digests(counter.digest, digest)


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

    by_dimension = work.tally.by_dimension()
    lineage_by_dimension = {}
    if request.dimension is not None:
        for key, counter in work.groups.items():
            text = key_text(key)
            lineage_by_dimension[text] = lineage(counter, ((request.dimension, text),))
    return UsageFigure(
        total=work.tally.total(),
        lineage=lineage(work.total),
        by_dimension=by_dimension,
        lineage_by_dimension=lineage_by_dimension,
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
        return self._figures[Need(self._customer_ids, self._zone, request)]
