"""Meters: declared in config, they turn usage events of one type into aggregates.

A meter reads one value from each event's ``data`` (a dotted path such as
``usage.tokens``), keeps only the events its filters accept, and aggregates them per
calendar window (hour, day or month in a time zone) and per group of dimensions.

JSON values
    Event data is decoded from JSON with integers as ``int`` and other numbers as
    ``Decimal``. A *number* is an ``int`` or a finite ``Decimal``, never a ``bool`` (and
    never a ``float``). Values compare as JSON values: ``1 == Decimal("1.0")``, but
    ``True != 1`` and ``"1" != 1``.

Calendar windows
    A bucket is a whole calendar window in the query's zone, never clipped to the query
    range: a query starting at 10:30 with ``window=DAY`` returns a first bucket that starts
    at local midnight. Only events inside the query range count.

    * ``HOUR``: one local clock hour *at one UTC offset*. At a fall-back the repeated hour
      gives two buckets (different offsets); at a spring-forward the skipped hour has none;
      where an offset changes in the middle of a local hour (Lord Howe's 30-minute shift)
      the bucket is the part of that hour spent at its offset.
    * ``DAY`` and ``MONTH``: from the first instant the local clock reaches midnight of the
      first day to the first instant it reaches the next one (23 or 25 hours on DST days;
      America/Santiago, whose clock goes from 24:00 back to 23:00, has a 25-hour Saturday).
      Where a clock went back across a midnight it had already shown (America/Goose_Bay
      until 2011, 00:01 → 23:01), the repeated minutes belong to the day that had begun.

Exactness
    Sums are computed in ``SUM_CONTEXT``: ``SUM_PRECISION`` (100) significant digits with
    ``Inexact`` trapped, so a sum is either exact or refused with ``InvalidField`` — never
    silently rounded. Integers are summed as Python ``int`` (exact) and joined at the end.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import (
    MAX_EMAX,
    MIN_EMIN,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
)
from enum import Enum, StrEnum
from itertools import pairwise
from types import MappingProxyType
from typing import Any, Final
from zoneinfo import ZoneInfo

from revsync.domain.errors import InvalidField
from revsync.domain.problems import Code, Problem, json_type
from revsync.domain.usage import from_micros

_KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_US_PER_HOUR: Final = 3_600_000_000
_NAIVE_EPOCH: Final = datetime(1970, 1, 1)
_NO_FILTERS: Mapping[str, object] = MappingProxyType({})

#: significant digits of the context in which sums are computed
SUM_PRECISION: Final = 100
#: the context of every sum: wide exponent range, and any rounding raises instead
SUM_CONTEXT: Final = Context(
    prec=SUM_PRECISION,
    rounding=ROUND_HALF_EVEN,
    Emax=MAX_EMAX,
    Emin=MIN_EMIN,
    traps=[InvalidOperation, DivisionByZero, Overflow, Inexact],
)


class Aggregation(StrEnum):
    """How a meter combines the values of the events it counts."""

    SUM = "sum"
    COUNT = "count"
    MAX = "max"
    UNIQUE_COUNT = "unique_count"
    LATEST = "latest"


class Window(StrEnum):
    """Calendar window of a usage bucket, in the query's time zone."""

    HOUR = "hour"
    DAY = "day"
    MONTH = "month"


_NUMERIC: Final = frozenset({Aggregation.SUM, Aggregation.MAX, Aggregation.LATEST})
#: the aggregations whose value a meter may carry from one event to the next
_CARRIED: Final = frozenset({Aggregation.SUM, Aggregation.LATEST})


class _Missing(Enum):
    MISSING = "MISSING"

    def __repr__(self) -> str:
        return "MISSING"


#: what ``lookup`` returns when the path leads nowhere (distinct from a JSON ``null``)
MISSING: Final = _Missing.MISSING


class _Unmatchable(Enum):
    """Key of a value that equals no filter value (absent, object, array, NaN …)."""

    UNMATCHABLE = "unmatchable"


_NO_KEY: Final = _Unmatchable.UNMATCHABLE


class _BoolTag(Enum):
    """Tags booleans in value keys so that ``True`` never equals ``1``."""

    BOOL = "bool"


_BOOL: Final = _BoolTag.BOOL

#: a dotted path split into its segments
_Path = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Meter:
    """A declared meter; build it with ``new_meter``, which validates it."""

    key: str
    event_type: str
    aggregation: Aggregation
    value: str | None
    filters: tuple[tuple[str, tuple[object, ...]], ...] = ()
    group_by: tuple[str, ...] = ()
    #: accept negative values (corrections sent as negative events); refused otherwise
    allow_negative: bool = False
    #: the value is held from one event to the next, across periods (a gauge such as seats
    #: or storage held: ``latest`` sets it, ``sum`` adds to it); billing charges it by the day
    carried: bool = False


@dataclass(frozen=True, slots=True)
class MeterPoint:
    """One event as a meter sees it: its time, its dedup key and its data."""

    time_us: int
    tiebreak: tuple[str, str]
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class UsageQuery:
    """Which events to aggregate (``[start_us, end_us)``), by which window and dimensions."""

    start_us: int
    end_us: int
    window: Window | None
    timezone: ZoneInfo
    group_by: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UsageBucket:
    """The aggregate of one calendar window (whole, never clipped) and one group."""

    start: datetime
    end: datetime
    group: tuple[tuple[str, object], ...]
    value: Decimal
    events: int


# --- declaring meters ------------------------------------------------------------------


def new_meter(
    key: str,
    event_type: str,
    aggregation: Aggregation | str,
    value: str | None,
    filters: Mapping[str, object | list[object]] = _NO_FILTERS,
    group_by: Sequence[str] = (),
    allow_negative: bool = False,
    carried: bool = False,
) -> Meter:
    """A validated meter; raises ``InvalidField`` naming the field at fault."""
    if not isinstance(key, str) or not _KEY_PATTERN.fullmatch(key):
        raise InvalidField("key", f"{key!r} does not match {_KEY_PATTERN.pattern}")
    if not isinstance(event_type, str) or not event_type:
        raise InvalidField("event_type", "must not be empty")
    kind = _check_aggregation(aggregation)
    _check_value(kind, value)
    if allow_negative and kind not in _NUMERIC:
        raise InvalidField("allow_negative", "only sum, max and latest meters read numbers")
    if carried and kind not in _CARRIED:
        raise InvalidField(
            "carried", "only latest (the value set) and sum (added to) meters carry a value"
        )
    return Meter(
        key=key,
        event_type=event_type,
        aggregation=kind,
        value=value,
        filters=_check_filters(filters),
        group_by=_check_group_by(group_by),
        allow_negative=allow_negative,
        carried=carried,
    )


def _check_aggregation(aggregation: Aggregation | str) -> Aggregation:
    try:
        return Aggregation(aggregation)
    except ValueError:
        known = ", ".join(kind.value for kind in Aggregation)
        raise InvalidField("aggregation", f"{aggregation!r} is not one of {known}") from None


def _check_value(kind: Aggregation, value: str | None) -> None:
    if kind is Aggregation.COUNT:
        if value is not None:
            raise InvalidField("value", "must be empty for aggregation 'count'")
        return
    if value is None:
        raise InvalidField("value", f"required for aggregation {kind.value!r}")
    _check_path("value", value)


def _check_path(field: str, path: object) -> str:
    if not isinstance(path, str) or not path:
        raise InvalidField(field, f"expected a dotted path, got {path!r}")
    if "" in path.split("."):
        raise InvalidField(field, f"path {path!r} has an empty segment")
    return path


def _check_filters(filters: Mapping[str, object]) -> tuple[tuple[str, tuple[object, ...]], ...]:
    checked: list[tuple[str, tuple[object, ...]]] = []
    for path, allowed in filters.items():
        _check_path("filters", path)
        values = tuple(allowed) if isinstance(allowed, list | tuple) else (allowed,)
        if not values:
            raise InvalidField("filters", f"{path}: needs at least one value")
        for item in values:
            if _scalar_key(item) is _NO_KEY:
                raise InvalidField(
                    "filters",
                    f"{path}: {item!r} is not a JSON scalar (str, int, finite Decimal, "
                    "bool or None)",
                )
        checked.append((path, values))
    return tuple(checked)


def _check_group_by(group_by: Sequence[str]) -> tuple[str, ...]:
    if isinstance(group_by, str):
        raise InvalidField("group_by", "expected a list of paths, got a string")
    paths = tuple(_check_path("group_by", path) for path in group_by)
    if len(set(paths)) != len(paths):
        raise InvalidField("group_by", "lists a path twice")
    return paths


# --- reading event data ----------------------------------------------------------------


def lookup(data: Mapping[str, Any], path: str) -> object:
    """The value at a dotted path in nested dicts, or ``MISSING``."""
    return _walk(data, tuple(path.split(".")))


def _walk(data: Mapping[str, Any], parts: _Path) -> object:
    node: object = data
    for part in parts:
        if type(node) is dict or isinstance(node, Mapping):
            node = node.get(part, MISSING)
        else:
            return MISSING
    return node


def _scalar_key(value: object) -> object:
    """A hashable key under which equal JSON scalars are equal; ``_NO_KEY`` otherwise."""
    kind = type(value)
    if kind is str or kind is int or value is None:
        return value
    if kind is bool:
        return (_BOOL, value)
    if type(value) is Decimal:
        return value if value.is_finite() else _NO_KEY
    return _NO_KEY


#: the largest numbers and finest fractions a numeric meter accepts at ingestion
MAX_INTEGER_DIGITS = 30
MAX_DECIMALS = 18
_INTEGER_LIMIT = 10**MAX_INTEGER_DIGITS


def _number(value: object) -> int | Decimal | None:
    """The value if it is a usable number (``int`` or finite ``Decimal``), else None."""
    if type(value) is int:
        return value
    if type(value) is Decimal and value.is_finite():
        return value
    return None


_Filters = tuple[tuple[_Path, frozenset[object]], ...]


def _compile_filters(meter: Meter) -> _Filters:
    return tuple(
        (tuple(path.split(".")), frozenset(_scalar_key(item) for item in allowed))
        for path, allowed in meter.filters
    )


def _matches(filters: _Filters, data: Mapping[str, Any]) -> bool:
    return all(_scalar_key(_walk(data, parts)) in allowed for parts, allowed in filters)


def matches(meter: Meter, data: Mapping[str, Any]) -> bool:
    """True when the meter's filters accept the event data (JSON-value equality)."""
    return _matches(_compile_filters(meter), data)


def contribution(meter: Meter, data: Mapping[str, Any]) -> Decimal | None:
    """What one event adds to a ``count`` or ``sum`` meter (None: the meter does not read it,
    or aggregates otherwise)."""
    if meter.aggregation not in (Aggregation.COUNT, Aggregation.SUM) or not matches(meter, data):
        return None
    if meter.aggregation is Aggregation.COUNT:
        return Decimal(1)
    number = _number(lookup(data, meter.value)) if meter.value is not None else None
    return None if number is None else Decimal(number)


def reading(meter: Meter, data: Mapping[str, Any]) -> Decimal | None:
    """The number one event gives a numeric meter (None: filtered out, or not a number)."""
    if meter.value is None or not matches(meter, data):
        return None
    number = _number(lookup(data, meter.value))
    return None if number is None else Decimal(number)


def value_days(
    meter: Meter, readings: Iterable[tuple[int, tuple[str, str], Decimal]], days: Sequence[int]
) -> Decimal:
    """A carried meter's value summed over days: each day (``[days[i], days[i + 1])``, in
    microseconds) counts the greatest value held during it — the value carried in from before
    the day, and every value set (``latest``) or reached (``sum``) within it.

    ``readings`` are the meter's events up to the last day's end, from the beginning of time
    (what is carried in), as (time, dedup key, value), in any order."""
    ordered = sorted(readings, key=lambda r: (r[0], r[1]))
    adds = meter.aggregation is Aggregation.SUM
    held = Decimal(0)
    position = 0
    total = Decimal(0)
    for start, end in pairwise(days):
        # what is set at the day's first instant is what the day starts with
        while position < len(ordered) and ordered[position][0] <= start:
            value = ordered[position][2]
            held = SUM_CONTEXT.add(held, value) if adds else value
            position += 1
        peak = held
        while position < len(ordered) and ordered[position][0] < end:
            value = ordered[position][2]
            held = SUM_CONTEXT.add(held, value) if adds else value
            peak = max(peak, held)
            position += 1
        total = SUM_CONTEXT.add(total, max(peak, Decimal(0)))
    return total


def value_problem(meter: Meter, data: Mapping[str, Any]) -> Problem | None:
    """Why the meter cannot read this event's value, or None when it can (or ignores it)."""
    if meter.value is None or not matches(meter, data):
        return None
    raw = lookup(data, meter.value)
    label = f"meter {meter.key!r} ({meter.aggregation.value})"
    where = f"data.{meter.value}"
    if raw is MISSING or (raw is None and meter.aggregation is Aggregation.UNIQUE_COUNT):
        return Problem(Code.METER_VALUE, f"{where}: missing, required by {label}")
    if type(raw) is Decimal and not raw.is_finite():
        return Problem(
            Code.METER_VALUE, f"{where}: expected a finite number for {label}, got {raw}"
        )
    if meter.aggregation in _NUMERIC:
        number = _number(raw)
        if number is None:
            return Problem(
                Code.METER_VALUE, f"{where}: expected a number for {label}, got {json_type(raw)}"
            )
        if not _in_range(number):
            return Problem(
                Code.METER_VALUE,
                f"{where}: {raw} is out of range for {label} (at most {MAX_INTEGER_DIGITS} "
                f"digits before the point and {MAX_DECIMALS} after)",
            )
        if number < 0 and not meter.allow_negative:
            return Problem(
                Code.METER_VALUE,
                f"{where}: {raw} is negative, and {label} takes no negative values "
                "(allow_negative: true accepts corrections sent as negative events)",
            )
    if _scalar_key(raw) is _NO_KEY:
        return Problem(
            Code.METER_VALUE,
            f"{where}: expected a string, number or boolean for {label}, got {json_type(raw)}",
        )
    return None


def _in_range(number: int | Decimal) -> bool:
    """Small enough that sums of any realistic number of values stay exact (see SUM_PRECISION)."""
    if abs(number) >= _INTEGER_LIMIT:
        return False
    return type(number) is int or -number.as_tuple().exponent <= MAX_DECIMALS  # type: ignore[union-attr, operator]


# --- calendar windows ------------------------------------------------------------------


def _delta_us(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _first_true(low: int, high: int, test: Callable[[int], bool]) -> int:
    """The smallest ``x`` in ``[low, high]`` with ``test(x)``; ``test(high)`` must hold."""
    while low < high:
        middle = (low + high) // 2
        if test(middle):
            high = middle
        else:
            low = middle + 1
    return low


class _Calendar:
    """Finds the calendar window (as ``[start_us, end_us)``) that contains an instant.

    Exact but slow (it builds datetimes); ``_Bucketer`` caches it per UTC hour.
    Assumes, as holds for every zone in tzdata, that a zone's offset does not change
    twice within one hour.
    """

    def __init__(self, window: Window, zone: ZoneInfo) -> None:
        self._window = window
        self._zone = zone
        self._period_starts: dict[date, int] = {}

    def span(self, moment: int) -> tuple[int, int]:
        """The window containing ``moment`` (µs since the epoch)."""
        if self._window is Window.HOUR:
            return self._hour_span(moment)
        return self._period_span(moment)

    def _offset(self, moment: int) -> int:
        offset = from_micros(moment).astimezone(self._zone).utcoffset()
        return 0 if offset is None else _delta_us(offset)

    def _hour_span(self, moment: int) -> tuple[int, int]:
        offset = self._offset(moment)
        start = moment - (moment + offset) % _US_PER_HOUR
        end = start + _US_PER_HOUR
        if self._offset(start) != offset:
            start = _first_true(start, moment, lambda x: self._offset(x) == offset)
        if self._offset(end - 1) != offset:
            end = _first_true(moment, end - 1, lambda x: self._offset(x) != offset)
        return start, end

    def _period_span(self, moment: int) -> tuple[int, int]:
        local = from_micros(moment).astimezone(self._zone)
        first = self._period_of(local.date())
        start = self._period_start(first)
        while start > moment:
            first = self._step(first, -1)
            start = self._period_start(first)
        end = self._period_start(self._step(first, 1))
        while end <= moment:
            first = self._step(first, 1)
            start, end = end, self._period_start(self._step(first, 1))
        return start, end

    def _period_of(self, day: date) -> date:
        return day if self._window is Window.DAY else day.replace(day=1)

    def _step(self, first: date, count: int) -> date:
        if self._window is Window.DAY:
            return first + timedelta(days=count)
        months = first.year * 12 + first.month - 1 + count
        return date(months // 12, months % 12 + 1, 1)

    def _period_start(self, first: date) -> int:
        start = self._period_starts.get(first)
        if start is None:
            start = self._period_starts[first] = self._wall_reached(first)
        return start

    def _wall_reached(self, first: date) -> int:
        """The first instant at which the local clock shows midnight of ``first`` or later."""
        wall = datetime(first.year, first.month, first.day)
        wall_us = _delta_us(wall - _NAIVE_EPOCH)
        instants = [
            wall_us - _delta_us(wall.replace(tzinfo=self._zone, fold=fold).utcoffset() or _ZERO)
            for fold in (0, 1)
        ]
        low, high = min(instants), max(instants)
        if low + self._offset(low) >= wall_us:  # midnight exists (the earlier one if twice)
            return low
        # midnight falls in a gap: the clock jumps over it between ``low`` and ``high``
        return _first_true(low, high, lambda x: x + self._offset(x) >= wall_us)


_ZERO: Final = timedelta(0)


_HourEntry = int | tuple[int, int, int] | list[list[int]]


class _Bucketer:
    """Maps instants to bucket ids, computing each UTC hour's windows once."""

    def __init__(self, calendar: _Calendar) -> None:
        self._calendar = calendar
        self._ids: dict[tuple[int, int], int] = {}
        self.spans: list[tuple[int, int]] = []
        #: UTC hour → the id of its one bucket, or (split, id before, id after) for two
        #: buckets (e.g. +05:45 zones), or the ids and starts of three or more
        self.hours: dict[int, _HourEntry] = {}

    def id_of(self, moment: int) -> int:
        """The id of the bucket containing ``moment`` (the fast path is inlined in the scan)."""
        entry = self.hours.get(moment // _US_PER_HOUR)
        if entry is None:
            entry = self._resolve_hour(moment // _US_PER_HOUR)
        if isinstance(entry, int):
            return entry
        if isinstance(entry, tuple):
            split, before, after = entry
            return before if moment < split else after
        starts, ids = entry
        return ids[bisect_right(starts, moment) - 1]

    def _resolve_hour(self, hour: int) -> _HourEntry:
        """Compute (and cache) the windows that cover one UTC hour."""
        low = hour * _US_PER_HOUR
        high = low + _US_PER_HOUR
        span = self._calendar.span(low)
        starts, ids = [low], [self._id(span)]
        while span[1] < high:
            starts.append(span[1])
            span = self._calendar.span(span[1])
            ids.append(self._id(span))
        entry: _HourEntry = ids[0]
        if len(ids) == 2:
            entry = (starts[1], ids[0], ids[1])
        elif len(ids) > 2:
            entry = [starts, ids]
        self.hours[hour] = entry
        return entry

    def _id(self, span: tuple[int, int]) -> int:
        found = self._ids.get(span)
        if found is None:
            found = self._ids[span] = len(self.spans)
            self.spans.append(span)
        return found


# --- aggregating -----------------------------------------------------------------------


def aggregate(meter: Meter, points: Iterable[MeterPoint], query: UsageQuery) -> list[UsageBucket]:
    """Aggregate the points in ``[query.start_us, query.end_us)`` per window and group.

    Points the filters reject, and (for every aggregation but COUNT) points whose value is
    missing or unusable, are ignored. Empty buckets are not returned. Buckets are sorted
    by start, then by group (None first, then values compared as strings).
    """
    _check_query(meter, query)
    scan = _Scan(meter, query)
    try:
        scan.run(points)
        return scan.buckets()
    except Inexact:
        raise InvalidField(
            "value",
            f"a sum of meter {meter.key!r} needs more than {SUM_PRECISION} significant digits",
        ) from None


def _check_query(meter: Meter, query: UsageQuery) -> None:
    if query.end_us < query.start_us:
        raise InvalidField("end_us", "must not be before start_us")
    if query.window is not None and not isinstance(query.window, Window):
        raise InvalidField("window", f"{query.window!r} is not a window")
    if len(set(query.group_by)) != len(query.group_by):
        raise InvalidField("group_by", "lists a dimension twice")
    for dimension in query.group_by:
        if dimension not in meter.group_by:
            known = ", ".join(meter.group_by) or "none"
            raise InvalidField(
                "group_by",
                f"{dimension!r} is not a dimension of meter {meter.key!r} (dimensions: {known})",
            )


_Slot = tuple[int, tuple[object, ...]]


class _Scan:
    """One pass over the points, accumulating per (bucket id, group key)."""

    def __init__(self, meter: Meter, query: UsageQuery) -> None:
        self.meter = meter
        self.query = query
        self.filters = _compile_filters(meter)
        self.value_path: _Path = tuple(meter.value.split(".")) if meter.value else ()
        self.group_key = _group_reader(tuple(tuple(p.split(".")) for p in query.group_by))
        window = query.window
        self.bucketer = None if window is None else _Bucketer(_Calendar(window, query.timezone))
        self.slots: dict[_Slot, list[Any]] = {}

    def run(self, points: Iterable[MeterPoint]) -> None:
        """Accumulate every point that counts."""
        start, end = self.query.start_us, self.query.end_us
        filters, bucketer = self.filters, self.bucketer
        hours = bucketer.hours if bucketer is not None else {}
        value_path, group_key = self.value_path, self.group_key
        single = value_path[0] if len(value_path) == 1 else None
        accumulate = _ACCUMULATORS[self.meter.aggregation]
        slots = self.slots
        no_group: tuple[object, ...] = ()
        for point in points:
            moment = point.time_us
            if moment < start or moment >= end:
                continue
            data = point.data
            if filters and not _matches(filters, data):
                continue
            if single is not None:
                raw = data.get(single, MISSING)
            elif value_path:
                raw = _walk(data, value_path)
            else:
                raw = None
            if bucketer is None:
                bucket = 0
            else:
                entry = hours.get(moment // _US_PER_HOUR)
                if type(entry) is int:
                    bucket = entry
                elif type(entry) is tuple:
                    bucket = entry[1] if moment < entry[0] else entry[2]
                else:
                    bucket = bucketer.id_of(moment)
            slot = (bucket, no_group if group_key is None else group_key(data))
            state = slots.get(slot)
            if state is None:
                state = slots[slot] = [0, None]
            accumulate(state, raw, moment, point.tiebreak)

    def buckets(self) -> list[UsageBucket]:
        """The non-empty buckets, sorted by start then group."""
        zone = self.query.timezone
        spans = self.bucketer.spans if self.bucketer else [(self.query.start_us, self.query.end_us)]
        finish = _FINISHERS[self.meter.aggregation]
        dimensions = self.query.group_by
        rows: list[tuple[int, tuple[tuple[int, str, str], ...], UsageBucket]] = []
        for (bucket, key), state in self.slots.items():
            if state[0] == 0:
                continue
            begin, stop = spans[bucket]
            values = tuple(_key_value(part) for part in key)
            rows.append(
                (
                    begin,
                    tuple(_group_order(value) for value in values),
                    UsageBucket(
                        start=from_micros(begin).astimezone(zone),
                        end=from_micros(stop).astimezone(zone),
                        group=tuple(zip(dimensions, values, strict=True)),
                        value=finish(self.meter, state),
                        events=state[0],
                    ),
                )
            )
        rows.sort(key=lambda row: row[:2])
        return [row[2] for row in rows]


def _group_reader(
    paths: tuple[_Path, ...],
) -> Callable[[Mapping[str, Any]], tuple[object, ...]] | None:
    """A function from event data to its group key; None when there is no dimension.

    A group key holds one ``_dimension_key`` per dimension.
    """
    if not paths:
        return None
    if len(paths) == 1 and len(paths[0]) == 1:
        name = paths[0][0]
        return lambda data: (_dimension_key(data.get(name, MISSING)),)
    return lambda data: tuple(_dimension_key(_walk(data, parts)) for parts in paths)


def _dimension_key(value: object) -> object:
    """Key of a dimension's value; absent, null, objects and arrays all key as None."""
    key = _scalar_key(value)
    return None if key is _NO_KEY else key


def _key_value(key: object) -> object:
    """The JSON value a dimension key stands for (the inverse of ``_dimension_key``)."""
    if type(key) is tuple and key[0] is _BOOL:
        return key[1]
    return key


def _group_order(value: object) -> tuple[int, str, str]:
    return (0, "", "") if value is None else (1, str(value), type(value).__name__)


# Accumulators: state is [events, aggregate, ...]; they ignore values they cannot use.


def _count(state: list[Any], raw: object, moment: int, tiebreak: tuple[str, str]) -> None:
    state[0] += 1


def _sum(state: list[Any], raw: object, moment: int, tiebreak: tuple[str, str]) -> None:
    if type(raw) is int:
        state[0] += 1
        state[1] = raw if state[1] is None else state[1] + raw
    elif type(raw) is Decimal and raw.is_finite():
        state[0] += 1
        if len(state) == 2:
            state.append(raw)
        else:
            state[2] = SUM_CONTEXT.add(state[2], raw)


def _max(state: list[Any], raw: object, moment: int, tiebreak: tuple[str, str]) -> None:
    number = _number(raw)
    if number is not None:
        state[0] += 1
        if state[1] is None or number > state[1]:
            state[1] = number


def _latest(state: list[Any], raw: object, moment: int, tiebreak: tuple[str, str]) -> None:
    number = _number(raw)
    if number is not None:
        state[0] += 1
        order = (moment, tiebreak)
        if state[1] is None or order > state[1][0]:
            state[1] = (order, number)


def _unique(state: list[Any], raw: object, moment: int, tiebreak: tuple[str, str]) -> None:
    key = _scalar_key(raw)
    if key is not _NO_KEY and key is not None:
        state[0] += 1
        if state[1] is None:
            state[1] = set()
        state[1].add(key)


#: the order of a latest value: its time, then its (source, id)
_Order = tuple[int, tuple[str, str]]


def _merge_count(state: list[Any], events: int, value: int | None, order: _Order | None) -> None:
    state[0] += events


def _merge_sum(state: list[Any], events: int, value: int | None, order: _Order | None) -> None:
    if value is None:
        raise ValueError("a sum merges with its value")
    state[0] += events
    state[1] = value if state[1] is None else state[1] + value


def _merge_max(state: list[Any], events: int, value: int | None, order: _Order | None) -> None:
    if value is None:
        raise ValueError("a maximum merges with its value")
    state[0] += events
    if state[1] is None or value > state[1]:
        state[1] = value


def _merge_latest(state: list[Any], events: int, value: int | None, order: _Order | None) -> None:
    if value is None or order is None:
        raise ValueError("a latest value merges with its value and its order")
    state[0] += events
    if state[1] is None or order > state[1][0]:
        state[1] = (order, value)


_Merger = Callable[[list[Any], int, int | None, _Order | None], None]
_MERGERS: Final[Mapping[Aggregation, _Merger]] = MappingProxyType(
    {
        Aggregation.COUNT: _merge_count,
        Aggregation.SUM: _merge_sum,
        Aggregation.MAX: _merge_max,
        Aggregation.LATEST: _merge_latest,
    }
)

_Accumulator = Callable[[list[Any], object, int, tuple[str, str]], None]
_ACCUMULATORS: Final[Mapping[Aggregation, _Accumulator]] = MappingProxyType(
    {
        Aggregation.COUNT: _count,
        Aggregation.SUM: _sum,
        Aggregation.MAX: _max,
        Aggregation.LATEST: _latest,
        Aggregation.UNIQUE_COUNT: _unique,
    }
)


def _finish_sum(meter: Meter, state: list[Any]) -> Decimal:
    integers = 0 if state[1] is None else state[1]
    decimals = state[2] if len(state) == 3 else Decimal(0)
    return SUM_CONTEXT.add(decimals, integers)


def _finish_count(meter: Meter, state: list[Any]) -> Decimal:
    return Decimal(state[0])


def _finish_max(meter: Meter, state: list[Any]) -> Decimal:
    return Decimal(state[1])


def _finish_latest(meter: Meter, state: list[Any]) -> Decimal:
    return Decimal(state[1][1])


def _finish_unique(meter: Meter, state: list[Any]) -> Decimal:
    return Decimal(len(state[1]))


_FINISHERS: Final[Mapping[Aggregation, Callable[[Meter, list[Any]], Decimal]]] = MappingProxyType(
    {
        Aggregation.COUNT: _finish_count,
        Aggregation.SUM: _finish_sum,
        Aggregation.MAX: _finish_max,
        Aggregation.LATEST: _finish_latest,
        Aggregation.UNIQUE_COUNT: _finish_unique,
    }
)


# --- tallies: one meter's total over points fed one at a time ---------------------------


def dimension_text(value: object) -> str:
    """A dimension value as text (how prices per dimension name values): strings as they are,
    numbers in plain notation, ``true``/``false``, and ``""`` for a missing value."""
    if value is None or value is MISSING:
        return ""
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is Decimal:
        return format(value, "f")
    return str(value)


class Tally:
    """The total of one meter over points fed one at a time, optionally per value of one
    dimension. The caller decides which points belong (their customer and time); the tally
    applies the meter's filters and value rules exactly as :func:`aggregate` does."""

    def __init__(self, meter: Meter, dimension: str | None = None) -> None:
        self.meter = meter
        self._filters = _compile_filters(meter)
        self._value_path: _Path = tuple(meter.value.split(".")) if meter.value else ()
        self._dimension: _Path | None = tuple(dimension.split(".")) if dimension else None
        self._accumulate = _ACCUMULATORS[meter.aggregation]
        self._finish = _FINISHERS[meter.aggregation]
        self._state: list[Any] = [0, None]
        self._groups: dict[str, list[Any]] = {}

    @property
    def reads_data(self) -> bool:
        """False when the tally only counts events (a count meter, no filter, no dimension):
        then :meth:`count` can stand for :meth:`add` and event data need not be decoded."""
        return bool(self._value_path or self._filters or self._dimension)

    def count(self) -> None:
        """Count one event, for a tally that does not read data."""
        if self.reads_data or self.meter.aggregation is not Aggregation.COUNT:
            raise ValueError("count() is only for count meters without filters or dimension")
        self._state[0] += 1

    def add(self, point: MeterPoint) -> object:
        """Count the point; returns its dimension value as text (:func:`dimension_text`) if it
        counted, else ``MISSING`` (filtered out, or no usable value)."""
        return self.take(point.time_us, point.tiebreak, point.data)

    def take(self, time_us: int, tiebreak: tuple[str, str], data: Mapping[str, Any]) -> object:
        """:meth:`add` without building a point (the billing scan's hot path)."""
        for parts, allowed in self._filters:
            value = data.get(parts[0], MISSING) if len(parts) == 1 else _walk(data, parts)
            if (value if type(value) is str else _scalar_key(value)) not in allowed:
                return MISSING
        path = self._value_path
        if not path:
            raw = None
        elif len(path) == 1:
            raw = data.get(path[0], MISSING)
        else:
            raw = _walk(data, path)
        state = self._state
        before = state[0]
        self._accumulate(state, raw, time_us, tiebreak)
        if state[0] == before:
            return MISSING
        dimension = self._dimension
        if dimension is None:
            return None
        found = data.get(dimension[0], MISSING) if len(dimension) == 1 else _walk(data, dimension)
        # groups are keyed by their text: values that read alike (1 and "1") are one group,
        # as a price per dimension names it
        key = found if type(found) is str else key_text(_dimension_key(found))
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = [0, None]
        self._accumulate(group, raw, time_us, tiebreak)
        return key

    def absorb(
        self,
        events: int,
        value: int | None,
        key: str | None = None,
        order: _Order | None = None,
    ) -> None:
        """Count ``events`` points at once, aggregated elsewhere (a database): ``value`` is
        their integer sum, maximum or latest value (None for a count meter), ``key`` their
        dimension value (a string; None without a dimension), ``order`` the time and
        (source, id) of the latest value (for a ``latest`` meter only). ``count``, ``sum``,
        ``max`` and ``latest`` merge; ``unique_count`` cannot."""
        merge = _MERGERS.get(self.meter.aggregation)
        if merge is None:
            raise ValueError(f"a {self.meter.aggregation} meter cannot absorb an aggregate")
        if events <= 0:
            return
        merge(self._state, events, value, order)
        if self._dimension is not None:
            text = "" if key is None else key
            group = self._groups.get(text)
            if group is None:
                group = self._groups[text] = [0, None]
            merge(group, events, value, order)

    @property
    def events(self) -> int:
        """How many points counted."""
        return int(self._state[0])

    def total(self) -> Decimal:
        """The meter's value over every counted point (0 when none counted)."""
        return self._finish(self.meter, self._state) if self._state[0] else Decimal(0)

    def by_dimension(self) -> dict[str, Decimal]:
        """The meter's value per dimension value (as :func:`dimension_text`)."""
        return {
            key: self._finish(self.meter, state) for key, state in self._groups.items() if state[0]
        }


def key_text(key: object) -> str:
    """:func:`dimension_text` of a key returned by :meth:`Tally.add`."""
    return dimension_text(_key_value(key))
