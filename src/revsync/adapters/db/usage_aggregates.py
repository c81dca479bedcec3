"""A meter's aggregate computed by the database, exactly or not at all.

The query reads each event's value and dimension out of its stored JSON once (an inner
select that is not merged into the outer one) and groups by customer, by whether the event
was read exactly, and by the dimension value. An event is read exactly when its data holds no
NUL escape (SQLite's JSON functions cut strings at NUL; PostgreSQL's refuse them), its value
is an integer literal of at most nine digits (so no sum can overflow 64 bits, and no decimal
or exponent is ever turned into a float) and its dimension, if any, is a string. The other
events are only counted: a customer with any is read event by event by the caller, so that
the figure is always the one the Python tally gives.

Filters (strings only) select events in the inner ``WHERE``; an event whose data holds a NUL
escape is always kept there, so a filter the database misreads never drops an event the tally
would count.

A ``latest`` value is the value of the event latest by time, then source, then id, as the
tally orders them (strings by code point: SQLite compares UTF-8 bytes, PostgreSQL is told to
with ``COLLATE "C"``): each event is ranked in its group by a window function, and the group's
row carries the first one's value and order, so that groups of one subscription's several
customers merge in Python.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from revsync.adapters.db.tables import usage_events
from revsync.ports.billing import AggregateSpec

#: the JSON escape of a NUL character as it stands in stored (canonical) data
_NUL = "\\u0000"
#: integer literals the database sums: at most nine digits, so 2^32 events cannot overflow
_SMALL = 10**9
_MASK32 = 0xFFFFFFFF


def aggregate_query(
    sqlite: bool, spec: AggregateSpec, where: list[sa.ColumnElement[bool]]
) -> sa.Select[Any]:
    """``(customer_id, exact, group, events, low, high, value, time_us, source, event_id)``
    rows: per customer, per exactness and per dimension value of the exact events;
    ``low``/``high`` are the sums of the dedup slots' 32-bit halves; the last three are the
    order of a ``latest`` value (null for other aggregations)."""
    read: _Sqlite | _Postgres = _Sqlite() if sqlite else _Postgres()
    e = usage_events.c
    nul = read.contains_nul(e.data)
    conditions = [*where]
    if spec.filters:
        matched = sa.and_(*(read.string_in(e.data, path, values) for path, values in spec.filters))
        # a CASE, not OR: PostgreSQL may evaluate both sides of an OR, and refuses to read a
        # string holding NUL as text
        conditions.append(sa.case((nul, sa.true()), else_=matched))
    columns: list[sa.ColumnElement[Any]] = [
        e.customer_id,
        e.dedup_slot,
        sa.case((nul, 1), else_=0).label("nul"),
    ]
    latest = spec.aggregation == "latest"
    if latest:
        columns.extend((e.time_us, e.source, e.event_id))
    # data holding a NUL escape is not parsed at all: PostgreSQL's JSON functions refuse it
    if spec.value is not None:
        columns.append(_unless(nul, read.value(e.data, spec.value)).label("v"))
    if spec.dimension is not None:
        columns.extend(
            _unless(nul, column).label(column.name)
            for column in read.dimension(e.data, spec.dimension)
        )
    inner = sa.select(*columns).where(*conditions)
    # an inner select with an offset is never merged into the outer one, so each column is
    # read once per event (merged, SQLite and PostgreSQL would parse the data again per use)
    inner = (inner.limit(-1) if sqlite else inner).offset(0)
    row = inner.subquery("events")
    exact_parts: list[sa.ColumnElement[bool]] = [row.c.nul == 0]
    if spec.value is not None:
        exact_parts.append(read.is_small_integer(row.c.v))
    if spec.dimension is not None:
        exact_parts.append(read.is_string(row))
    exact: sa.ColumnElement[Any] = sa.case((sa.and_(*exact_parts), 1), else_=0)
    group: sa.ColumnElement[Any] = sa.null()
    if spec.dimension is not None:
        group = sa.case((exact == 1, read.string(row)))
    value: sa.ColumnElement[Any] = sa.null()
    winner: list[sa.ColumnElement[Any]] = [sa.null(), sa.null(), sa.null()]
    if latest:
        # each event ranked within its group, latest first; the first's value and order
        row = _ranked(read, row, exact, group)
        exact, group = row.c.exact, row.c.grp
        first = sa.and_(row.c.exact == 1, row.c.rank == 1)
        value = sa.func.max(sa.case((first, read.integer(row.c.v))))
        winner = [sa.func.max(sa.case((first, row.c[name]))) for name in _ORDER]
    elif spec.value is not None:
        number = sa.case((exact == 1, read.integer(row.c.v)))
        value = sa.func.max(number) if spec.aggregation == "max" else sa.func.sum(number)
    slot = row.c.dedup_slot
    exact_column = exact.label("exact")
    keys: list[sa.ColumnElement[Any]] = [row.c.customer_id, exact_column]
    if spec.dimension is not None:
        keys.append(group.label("grp"))
    else:
        keys.append(sa.null())
    # grouped by the labels: the same expression twice would be bound twice (two parameters
    # that PostgreSQL cannot tell are equal)
    return (
        sa.select(
            *keys,
            sa.func.count(),
            sa.func.sum(slot.op("&")(_MASK32)),
            sa.func.sum(slot.op(">>")(sa.literal(32, sa.Integer))),
            value,
            *winner,
        )
        .select_from(row)
        .group_by(*(k for k in keys if not isinstance(k, sa.Null)))
    )


#: the columns that order the events of a latest value, latest last
_ORDER = ("time_us", "source", "event_id")


def _ranked(
    read: _Sqlite | _Postgres,
    row: sa.Subquery,
    exact: sa.ColumnElement[Any],
    group: sa.ColumnElement[Any],
) -> sa.Subquery:
    """The events with their exactness, group and rank in it: 1 for the latest by time, then
    source, then id (compared as code points, as Python compares strings)."""
    parts = [row.c.customer_id, exact, *([] if isinstance(group, sa.Null) else [group])]
    rank = sa.func.row_number().over(
        partition_by=parts,
        order_by=[read.ordered(row.c[name]).desc() for name in _ORDER],
    )
    ranked = sa.select(row, exact.label("exact"), group.label("grp"), rank.label("rank"))
    return ranked.subquery("ranked")


def _unless(nul: sa.ColumnElement[bool], column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    return sa.case((nul, sa.null()), else_=column)


class _Sqlite:
    """SQLite's JSON functions: ``json_extract`` gives integer literals as INTEGER (those
    beyond 64 bits as REAL, decimals as REAL), strings as TEXT — and objects and arrays as
    TEXT too, hence ``json_type`` for a dimension."""

    @staticmethod
    def _path(path: tuple[str, ...]) -> str:
        return "$." + ".".join(path)

    def contains_nul(self, data: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
        return sa.func.instr(data, _NUL) > 0

    def value(self, data: sa.ColumnElement[Any], path: tuple[str, ...]) -> sa.ColumnElement[Any]:
        return sa.func.json_extract(data, self._path(path))

    def dimension(self, data: sa.ColumnElement[Any], path: tuple[str, ...]) -> list[sa.Label[Any]]:
        where = self._path(path)
        return [
            sa.func.json_extract(data, where).label("g"),
            sa.func.json_type(data, where).label("gt"),
        ]

    def is_small_integer(self, value: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
        return sa.and_(sa.func.typeof(value) == "integer", sa.func.abs(value) < _SMALL)

    def integer(self, value: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        return value

    def is_string(self, row: sa.Subquery) -> sa.ColumnElement[bool]:
        return row.c.gt == "text"

    def string(self, row: sa.Subquery) -> sa.ColumnElement[Any]:
        return row.c.g

    def ordered(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        # text compares as BINARY: UTF-8 bytes, in code point order
        return column

    def string_in(
        self, data: sa.ColumnElement[Any], path: tuple[str, ...], values: Collection[str]
    ) -> sa.ColumnElement[bool]:
        where = self._path(path)
        return sa.and_(
            sa.func.json_type(data, where) == "text",
            sa.func.json_extract(data, where).in_(sorted(values)),
        )


class _Postgres:
    """PostgreSQL's ``json`` type (not ``jsonb``, which would read ``1E+2`` as ``100``): a
    value's JSON text is its literal as stored."""

    @staticmethod
    def _json(data: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        return sa.cast(data, postgresql.JSON)

    def contains_nul(self, data: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
        return sa.func.strpos(data, _NUL) > 0

    def value(self, data: sa.ColumnElement[Any], path: tuple[str, ...]) -> sa.ColumnElement[Any]:
        return sa.func.json_extract_path(self._json(data), *path, type_=postgresql.JSON)

    def dimension(self, data: sa.ColumnElement[Any], path: tuple[str, ...]) -> list[sa.Label[Any]]:
        return [self.value(data, path).label("g")]

    def is_small_integer(self, value: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
        text = sa.cast(value, sa.Text)
        return sa.and_(sa.func.json_typeof(value) == "number", text.op("~")(r"^-?[0-9]{1,9}$"))

    def integer(self, value: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        return sa.cast(sa.cast(value, sa.Text), sa.BigInteger)

    def is_string(self, row: sa.Subquery) -> sa.ColumnElement[bool]:
        return sa.func.json_typeof(row.c.g) == "string"

    def string(self, row: sa.Subquery) -> sa.ColumnElement[Any]:
        return row.c.g.op("#>>")(sa.literal_column("'{}'::text[]"))

    def ordered(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        # the database's collation may order text by language: "C" is by code point (UTF-8)
        return column.collate("C") if isinstance(column.type, sa.Text) else column

    def string_in(
        self, data: sa.ColumnElement[Any], path: tuple[str, ...], values: Collection[str]
    ) -> sa.ColumnElement[bool]:
        return sa.and_(
            sa.func.json_typeof(self.value(data, path)) == "string",
            sa.func.json_extract_path_text(self._json(data), *path).in_(sorted(values)),
        )
