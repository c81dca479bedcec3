"""Usage queries: meter aggregates per customer, unmapped tenants."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from revsync.domain.errors import InvalidField
from revsync.domain.identity import validate_timezone
from revsync.domain.metering import Meter, MeterPoint, UsageBucket, UsageQuery, Window, aggregate
from revsync.domain.usage import to_micros
from revsync.ports.usage import UnmappedTenant, UsageReader


@dataclass(frozen=True, slots=True)
class UsageRequest:
    """A usage question: which customers, which meter, which range, windows and groups."""

    customer_ids: Sequence[str]
    meter: str
    start: datetime
    end: datetime
    window: Window | None
    timezone: str
    group_by: tuple[str, ...] = ()


#: the range a usage question may span (no event is older; calendars end at year 9999)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


class UsageQueries:
    """Answers usage questions from the ledger with the declared meters."""

    def __init__(self, reader: UsageReader, meters: Sequence[Meter]) -> None:
        self._reader = reader
        self._meters = {meter.key: meter for meter in meters}

    def meter(self, key: str) -> Meter:
        """The declared meter ``key``."""
        meter = self._meters.get(key)
        if meter is None:
            known = ", ".join(sorted(self._meters)) or "none declared"
            raise InvalidField("meter", f"unknown meter {key!r} (known: {known})")
        return meter

    def usage(self, request: UsageRequest) -> list[UsageBucket]:
        """Exact aggregates of the meter over ``[start, end)``."""
        meter = self.meter(request.meter)
        if request.end <= request.start:
            raise InvalidField("to", "must be after 'from'")
        if request.start < EARLIEST:
            raise InvalidField("from", f"must not be before {EARLIEST.isoformat()}")
        if request.end > LATEST:
            raise InvalidField("to", f"must not be after {LATEST.isoformat()}")
        query = UsageQuery(
            start_us=to_micros(request.start),
            end_us=to_micros(request.end),
            window=request.window,
            timezone=validate_timezone(request.timezone, "tz"),
            group_by=request.group_by,
        )
        readings = self._reader.readings(
            request.customer_ids, meter.event_type, query.start_us, query.end_us
        )
        points = (MeterPoint(r.time_us, (r.source, r.event_id), r.data) for r in readings)
        return aggregate(meter, points, query)

    def unmapped(self, *, after: str | None, limit: int) -> tuple[int, list[UnmappedTenant]]:
        """How many events wait for a mapping, and the tenants they belong to."""
        return self._reader.unmapped_total(), self._reader.unmapped(after=after, limit=limit)
