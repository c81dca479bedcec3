"""Meters aggregated by the database: the same figures as the events read one by one.

Each figure is computed twice from one snapshot: as billing computes it (``count``, ``sum``,
``max`` and ``latest`` in SQL where the events can be read exactly there), and with every
event read and tallied in Python (the snapshot made to report every customer as unread). Runs on SQLite and
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


def store(
    engine: sa.Engine,
    events: list[tuple[str, datetime, dict[str, Any]]],
    sources: list[str] | None = None,
) -> None:
    """Events as ingestion stores them (canonical JSON data), of type ``t``; from source
    ``test`` unless ``sources`` names each event's."""
    rows = []
    for i, (customer_id, at, data) in enumerate(events):
        n = next(_ids)
        micros = to_micros(at)
        source = "test" if sources is None else sources[i]
        rows.append(
            {
                "dedup_slot": dedup_slot(source, f"e{n}"),
                "source": source,
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


def aggregates(
    engine: sa.Engine, customers: list[str], spec: AggregateSpec
) -> list[UsageAggregate]:
    """What the database aggregates of the customers' November events of type ``t``."""
    start = to_micros(datetime(2026, 11, 1, tzinfo=UTC))
    end = to_micros(datetime(2026, 12, 1, tzinfo=UTC))
    with SqlUsageSnapshots(engine).snapshot() as snapshot:
        return list(snapshot.aggregates(customers, "t", start, end, spec))


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
# sources whose order by code point is not their order by language, nor by UTF-16 unit
sources = st.sampled_from(["a", "B", "b", "é", "z", "\uff5e", "\U0001f600", "a b", "ab"])
messy_environments = st.sampled_from(["prod\x00uction", 1, None])


#: properties whose examples each write to the database (a fixture's, kept across them)
ON_A_DATABASE = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


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
    aggregation = draw(st.sampled_from(["count", "sum", "max", "latest"]))
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
@settings(ON_A_DATABASE, max_examples=120)
@given(
    meter=meters(),
    batch=st.lists(
        st.tuples(
            st.integers(0, 3),
            # minutes from November's start; often one of a few, so that times tie
            st.one_of(st.sampled_from([0, 90]), st.integers(-60, 30 * 24 * 60 + 60)),
            event_data(),
            sources,
        ),
        min_size=1,
        max_size=30,
    ),
)
def test_the_database_aggregates_as_the_events_read_one_by_one(
    engine: sa.Engine,
    meter: tuple[Meter, str | None],
    batch: list[tuple[int, int, dict[str, Any], str]],
) -> None:
    """Whatever the events hold, a figure aggregated in SQL equals the one tallied in Python:
    total, per dimension, lineage (events and digest); a latest value of events at the same
    time is the one the tally picks by source and id."""
    run = next(_ids)
    names = [f"r{run}c{i}" for i in range(4)]
    start = datetime(2026, 11, 1, tzinfo=UTC)
    store(
        engine,
        [(names[i], start + timedelta(minutes=m), data) for i, m, data, _ in batch],
        [source for *_, source in batch],
    )
    meter_, dimension = meter
    # one customer alone, and two together (a parent billed with a subsidiary)
    billed, read = figures(
        engine, meter_, [(names[0],), (names[1], names[2]), (names[3],)], dimension
    )
    for need, figure in billed.items():
        same(figure, read[need])


@pytest.mark.postgres
@settings(ON_A_DATABASE, max_examples=60)
@given(
    batch=st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 2), sources, clean_values, clean_dimensions),
        min_size=1,
        max_size=20,
    ),
    dimension=st.sampled_from([None, "model"]),
)
def test_a_latest_value_in_sql_is_the_one_the_tally_picks(
    engine: sa.Engine, batch: list[tuple[int, int, str, int, str]], dimension: str | None
) -> None:
    """Events the database reads exactly, at a few minutes only (times tie): every latest
    value is taken in SQL, and each is the one the tally picks by time, source and id."""
    run = next(_ids)
    names = [f"r{run}c{i}" for i in range(3)]
    start = datetime(2026, 11, 1, tzinfo=UTC)
    store(
        engine,
        [
            (names[i], start + timedelta(minutes=m), {"tokens": v, "model": g})
            for i, m, _, v, g in batch
        ],
        [source for _, _, source, _, _ in batch],
    )
    meter = new_meter("m", "t", "latest", "tokens", allow_negative=True)
    spec = aggregate_spec(meter, dimension)
    assert spec is not None
    assert not [a for a in aggregates(engine, names, spec) if a.unread]
    billed, read = figures(engine, meter, [(names[0],), (names[1], names[2])], dimension)
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
        found = aggregates(engine, customers, spec)
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


def test_a_latest_value_is_the_last_events_by_time_then_source_then_id(any_db_url: str) -> None:
    """A ``latest`` meter taken in SQL: per dimension and in total, the value of the event
    latest by time, ties broken by source in code point order (``"B"`` before ``"a"`` before
    ``"z"`` before ``"é"``, whatever the database's collation) — in one customer's group and
    across the two customers of one subscription."""
    engine = create_db_engine(any_db_url, pool_size=2)
    try:
        if engine.dialect.name == "postgresql":
            # text ordered by language ("a" before "B"), as a database's collation may be
            with engine.begin() as conn:
                for column in ("source", "event_id"):
                    conn.execute(
                        sa.text(
                            f"ALTER TABLE usage_events ALTER COLUMN {column} "
                            'TYPE text COLLATE "en-x-icu"'
                        )
                    )
        noon = datetime(2026, 11, 5, 12, tzinfo=UTC)
        later = noon + timedelta(hours=1)
        store(
            engine,
            [
                ("seats-a", noon, {"seats": 4, "plan": "team"}),
                ("seats-a", later, {"seats": 9, "plan": "team"}),  # latest of a, by time
                ("seats-a", noon, {"seats": 20, "plan": "pro"}),
                ("seats-b", later, {"seats": 7, "plan": "team"}),  # ties with a's 9: "é" > "z"
                ("seats-b", later, {"seats": 3, "plan": "pro"}),  # ties: "a" > "B"
                ("seats-b", later, {"seats": 11, "plan": "pro"}),
                ("seats-b", noon, {"seats": 50, "plan": "pro"}),
            ],
            ["z", "z", "z", "é", "a", "B", "z"],
        )
        meter = new_meter("m", "t", "latest", "seats")
        spec = aggregate_spec(meter, "plan")
        assert spec is not None
        found = aggregates(engine, ["seats-a", "seats-b"], spec)
        assert sorted((a.customer_id, a.group, a.events, a.value, a.unread) for a in found) == [
            ("seats-a", "pro", 1, 20, 0),
            ("seats-a", "team", 2, 9, 0),
            ("seats-b", "pro", 3, 3, 0),
            ("seats-b", "team", 1, 7, 0),
        ]
        billed, read = figures(engine, meter, [("seats-a",), ("seats-a", "seats-b")], "plan")
        request = UsageRequest("m", NOVEMBER, "plan")
        alone = billed[Need(("seats-a",), "UTC", request)]
        assert (alone.total, dict(alone.by_dimension)) == (
            Decimal(9),
            {"team": Decimal(9), "pro": Decimal(20)},
        )
        both = billed[Need(("seats-a", "seats-b"), "UTC", request)]
        assert (both.total, dict(both.by_dimension)) == (
            Decimal(7),
            {"team": Decimal(7), "pro": Decimal(3)},
        )
        assert both.lineage.events == 7
        for need, figure in billed.items():
            same(figure, read[need])
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("meter", "dimension"),
    [
        (new_meter("m", "t", "latest", "tokens", carried=True), None),
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
    """No SQL for unique counts, carried meters, keys a JSON path would read
    otherwise (array indexes, quoted keys), filters on anything but plain strings."""
    assert aggregate_spec(meter, dimension) is None
