"""Meters aggregated by the database: the same figures as the events read one by one.

Each figure is computed twice from one snapshot: as billing computes it (``count``, ``sum`` and
``max`` in SQL where the events can be read exactly there), and with every event read and
tallied in Python (the snapshot made to report every customer as unread). Runs on SQLite and
PostgreSQL, with values and dimensions the database must leave to Python: decimals, exponents,
integers past nine digits and past 64 bits, strings holding NUL, objects, booleans, nulls.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revsync.adapters.db.engine import create_db_engine
from revsync.adapters.db.tables import usage_events
from revsync.adapters.db.usage_snapshot import SqlUsageSnapshots
from revsync.application.usage_figures import Need, aggregate_spec, compute
from revsync.domain.billing import UsageFigure, UsageRequest
from revsync.domain.metering import Meter, new_meter
from revsync.domain.periods import Period
from revsync.domain.usage import dedup_slot, to_micros, utc_day
from revsync.ports.billing import AggregateSpec, UsageAggregate, UsageSnapshot

pytestmark = pytest.mark.xdist_group("usage_aggregates")

NOVEMBER = Period(date(2026, 11, 1), date(2026, 12, 1))
_encode = msgspec.json.Encoder(order="sorted", decimal_format="number").encode
_ids = itertools.count()


class EventByEvent:
    """A snapshot whose database aggregates nothing: every figure is read event by event."""

    def __init__(self, snapshot: UsageSnapshot) -> None:
        self._snapshot = snapshot
        self.cutoff_seq = snapshot.cutoff_seq

    def __getattr__(self, name: str) -> Any:
        return getattr(self._snapshot, name)

    def aggregates(
        self,
        customer_ids: Collection[str],
        event_type: str,
        start_us: int,
        end_us: int,
        spec: AggregateSpec,
    ) -> Iterator[UsageAggregate]:
        for customer_id in customer_ids:
            yield UsageAggregate(customer_id, None, 0, 0, None, 1)


@pytest.fixture
def engine(any_db_url: str) -> Iterator[sa.Engine]:
    engine = create_db_engine(any_db_url, pool_size=2)
    yield engine
    engine.dispose()


def store(engine: sa.Engine, events: list[tuple[str, datetime, dict[str, Any]]]) -> None:
    """Events as ingestion stores them (canonical JSON data), of type ``t``."""
    rows = []
    for customer_id, at, data in events:
        n = next(_ids)
        micros = to_micros(at)
        rows.append(
            {
                "dedup_slot": dedup_slot("test", f"e{n}"),
                "source": "test",
                "event_id": f"e{n}",
                "type": "t",
                "subject": customer_id,
                "time_us": micros,
                "day": utc_day(micros),
                "customer_id": customer_id,
                "data": _encode(data).decode(),
                "fingerprint": n.to_bytes(16, "big"),
                "received_us": micros,
                "late": False,
            }
        )
    if rows:
        with engine.begin() as conn:
            conn.execute(usage_events.insert(), rows)


def figures(
    engine: sa.Engine, meter: Meter, customers: list[tuple[str, ...]], dimension: str | None
) -> tuple[dict[Need, UsageFigure], dict[Need, UsageFigure]]:
    request = UsageRequest(meter.key, NOVEMBER, dimension)
    needs = [Need(ids, "UTC", request) for ids in customers]
    with SqlUsageSnapshots(engine).snapshot() as snapshot:
        billed = compute(snapshot, needs, {meter.key: meter})
        read = compute(EventByEvent(snapshot), needs, {meter.key: meter})
    return billed, read


def same(billed: UsageFigure, read: UsageFigure) -> None:
    """Equal figures, down to each number's digits (``Decimal('1E+2')`` is not ``100``)."""
    assert billed == read
    assert str(billed.total) == str(read.total)
    assert {k: str(v) for k, v in billed.by_dimension.items()} == {
        k: str(v) for k, v in read.by_dimension.items()
    }


# most events are what the database reads exactly (so that most customers' figures are taken
# in SQL), one in ten is not (so that some customers' are read one by one)
clean_values = st.one_of(st.integers(-5, 5_000), st.integers(10**9 - 3, 10**9 - 1))
messy_values = st.one_of(
    st.integers(10**9, 10**9 + 2),  # past the nine digits the database sums
    st.integers(2**63 - 2, 2**63 + 2),  # past 64 bits
    st.sampled_from([Decimal("1.50"), Decimal("2.0"), Decimal("1E+2"), Decimal("-0.5")]),
    st.sampled_from(["7", True, None, {"n": 1}, [1]]),
)
clean_dimensions = st.sampled_from(["small", "large", "é", 'q"uote', "back\\slash", "", "1"])
messy_dimensions = st.sampled_from(["nul\x00", 1, 2.5, True, None, {"m": "x"}])
clean_environments = st.sampled_from(["production", "staging", "test"])
messy_environments = st.sampled_from(["prod\x00uction", 1, None])


@st.composite
def event_data(draw: st.DrawFn) -> dict[str, Any]:
    def pick(clean: st.SearchStrategy[Any], messy: st.SearchStrategy[Any]) -> Any:
        return draw(messy if draw(st.integers(0, 9)) == 0 else clean)

    data: dict[str, Any] = {"env": pick(clean_environments, messy_environments)}
    if draw(st.integers(0, 19)):  # now and then a key is missing
        data["tokens"] = pick(clean_values, messy_values)
    if draw(st.integers(0, 19)):
        data["model"] = pick(clean_dimensions, messy_dimensions)
    data["nested"] = {
        "tokens": pick(clean_values, messy_values),
        "model": pick(clean_dimensions, messy_dimensions),
    }
    return data


@st.composite
def meters(draw: st.DrawFn) -> tuple[Meter, str | None]:
    aggregation = draw(st.sampled_from(["count", "sum", "max"]))
    nested = draw(st.booleans())
    value = None if aggregation == "count" else ("nested.tokens" if nested else "tokens")
    filters: dict[str, object] = draw(
        st.sampled_from([{}, {"env": "production"}, {"env": ["production", "staging"]}])
    )
    negative = aggregation != "count"
    meter = new_meter("m", "t", aggregation, value, filters=filters, allow_negative=negative)
    dimension = draw(st.sampled_from([None, "model", "nested.model"]))
    return meter, dimension


@pytest.mark.postgres
@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    meter=meters(),
    batch=st.lists(
        st.tuples(
            st.integers(0, 3),
            st.integers(-60, 30 * 24 * 60 + 60),  # minutes from November's start
            event_data(),
        ),
        min_size=1,
        max_size=30,
    ),
)
def test_the_database_aggregates_as_the_events_read_one_by_one(
    engine: sa.Engine,
    meter: tuple[Meter, str | None],
    batch: list[tuple[int, int, dict[str, Any]]],
) -> None:
    """Whatever the events hold, a figure aggregated in SQL equals the one tallied in Python:
    total, per dimension, lineage (events and digest)."""
    run = next(_ids)
    names = [f"r{run}c{i}" for i in range(4)]
    start = datetime(2026, 11, 1, tzinfo=UTC)
    store(engine, [(names[i], start + timedelta(minutes=m), data) for i, m, data in batch])
    meter_, dimension = meter
    # one customer alone, and two together (a parent billed with a subsidiary)
    billed, read = figures(
        engine, meter_, [(names[0],), (names[1], names[2]), (names[3],)], dimension
    )
    for need, figure in billed.items():
        same(figure, read[need])


def test_clean_events_are_aggregated_by_the_database(any_db_url: str) -> None:
    """Integers and string dimensions: every customer's figure comes from SQL (none read one
    by one), over more customers than a billing read probes in the index (the stretch of
    rows), and the figures are the ones stated."""
    engine = create_db_engine(any_db_url, pool_size=2)
    try:
        customers = [f"k{i:03d}" for i in range(250)]
        at = datetime(2026, 11, 5, 12, tzinfo=UTC)
        events = []
        for i, customer in enumerate(customers):
            events += [
                (customer, at, {"tokens": 100 + i, "model": "small", "env": "production"}),
                (customer, at, {"tokens": 7, "model": "large", "env": "production"}),
                (customer, at, {"tokens": 5_000, "model": "large", "env": "staging"}),
            ]
        store(engine, events)
        meter = new_meter("m", "t", "sum", "tokens", filters={"env": "production"})
        spec = aggregate_spec(meter, "model")
        assert spec is not None
        start, end = (
            to_micros(datetime(2026, 11, 1, tzinfo=UTC)),
            to_micros(datetime(2026, 12, 1, tzinfo=UTC)),
        )
        with SqlUsageSnapshots(engine).snapshot() as snapshot:
            found = list(snapshot.aggregates(customers, "t", start, end, spec))
        assert not [a for a in found if a.unread]
        assert len(found) == 500  # two models per customer
        billed, read = figures(engine, meter, [(c,) for c in customers], "model")
        for need, figure in billed.items():
            same(figure, read[need])
        k007 = billed[Need(("k007",), "UTC", UsageRequest("m", NOVEMBER, "model"))]
        assert k007.total == Decimal(114)
        assert dict(k007.by_dimension) == {"small": Decimal(107), "large": Decimal(7)}
        assert k007.lineage.events == 2
        assert k007.lineage_by_dimension["large"].events == 1
    finally:
        engine.dispose()


def test_dimension_values_that_read_alike_are_one_group(any_db_url: str) -> None:
    """A dimension sent as ``"1"`` by one event and ``1`` by another is priced as one value,
    ``1``: its figure and its lineage hold both events (the figure held only the last read)."""
    engine = create_db_engine(any_db_url, pool_size=2)
    try:
        at = datetime(2026, 11, 5, 12, tzinfo=UTC)
        store(
            engine,
            [
                ("alike", at, {"tokens": 5, "model": "1"}),
                ("alike", at, {"tokens": 7, "model": 1}),
                ("alike", at, {"tokens": 11, "model": True}),
                ("alike", at, {"tokens": 13, "model": "true"}),
                ("alike", at, {"tokens": 2, "model": "small"}),
            ],
        )
        meter = new_meter("m", "t", "sum", "tokens")
        billed, read = figures(engine, meter, [("alike",)], "model")
        for figure in (*billed.values(), *read.values()):
            assert figure.total == Decimal(38)
            assert dict(figure.by_dimension) == {
                "1": Decimal(12),
                "true": Decimal(24),
                "small": Decimal(2),
            }
            assert {k: v.events for k, v in figure.lineage_by_dimension.items()} == {
                "1": 2,
                "true": 2,
                "small": 1,
            }
            assert figure.lineage.events == 5
        for need, figure in billed.items():
            same(figure, read[need])
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("meter", "dimension"),
    [
        (new_meter("m", "t", "latest", "tokens"), None),
        (new_meter("m", "t", "unique_count", "tokens"), None),
        (new_meter("m", "t", "sum", "tokens", carried=True), None),
        (new_meter("m", "t", "sum", "to-kens"), None),
        (new_meter("m", "t", "sum", "tokens.0"), None),
        (new_meter("m", "t", "sum", "tokens\n"), None),
        (new_meter("m", "t", "sum", "tokens", filters={"env": 1}), None),
        (new_meter("m", "t", "sum", "tokens", filters={"env": ["a", None]}), None),
        (new_meter("m", "t", "sum", "tokens", filters={"env": "a\x00"}), None),
        (new_meter("m", "t", "count", None), "a b"),
    ],
)
def test_what_the_database_cannot_say_is_read_event_by_event(
    meter: Meter, dimension: str | None
) -> None:
    """No SQL for latest values, unique counts, carried meters, keys a JSON path would read
    otherwise (array indexes, quoted keys), filters on anything but plain strings."""
    assert aggregate_spec(meter, dimension) is None
