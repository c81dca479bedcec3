"""Meters: declaration, reading event data, and aggregation into calendar windows."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revsync.domain.errors import InvalidField
from revsync.domain.metering import (
    MISSING,
    Aggregation,
    Meter,
    MeterPoint,
    UsageBucket,
    UsageQuery,
    Window,
    aggregate,
    lookup,
    new_meter,
    value_problem,
)
from revsync.domain.problems import Code, Problem

UTC_ZONE = ZoneInfo("UTC")
NEW_YORK = ZoneInfo("America/New_York")
PARIS = ZoneInfo("Europe/Paris")
KATHMANDU = ZoneInfo("Asia/Kathmandu")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
SANTIAGO = ZoneInfo("America/Santiago")
HAVANA = ZoneInfo("America/Havana")
HOUR_US = 3_600_000_000


def us(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (the test's own conversion)."""
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return delta // timedelta(microseconds=1)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def point(moment: datetime, data: Mapping[str, Any], event_id: str = "e") -> MeterPoint:
    return MeterPoint(time_us=us(moment), tiebreak=("src", event_id), data=data)


def points(*items: tuple[datetime, Mapping[str, Any]]) -> list[MeterPoint]:
    return [point(moment, data, f"e{i}") for i, (moment, data) in enumerate(items)]


def query(
    start: datetime,
    end: datetime,
    window: Window | None = None,
    zone: ZoneInfo = UTC_ZONE,
    group_by: tuple[str, ...] = (),
) -> UsageQuery:
    return UsageQuery(us(start), us(end), window, zone, group_by)


def meter(
    aggregation: Aggregation = Aggregation.SUM,
    value: str | None = "tokens",
    filters: Mapping[str, object] | None = None,
    group_by: tuple[str, ...] = (),
) -> Meter:
    if aggregation is Aggregation.COUNT:
        value = None
    return new_meter("llm_tokens", "api.request", aggregation, value, filters or {}, group_by)


def span(bucket: UsageBucket) -> tuple[datetime, datetime]:
    """A bucket's start and end as UTC instants (comparing across offsets safely)."""
    return bucket.start.astimezone(UTC), bucket.end.astimezone(UTC)


JAN = (utc(2024, 1, 1), utc(2024, 2, 1))


# --- new_meter -------------------------------------------------------------------------


def test_new_meter_normalises_filters_and_group_by() -> None:
    built = new_meter(
        "api_calls",
        "api.request",
        "sum",
        "usage.tokens",
        {"plan": ["pro", "team"], "region.code": "eu", "beta": True},
        ["region.code", "plan"],
    )
    assert built == Meter(
        key="api_calls",
        event_type="api.request",
        aggregation=Aggregation.SUM,
        value="usage.tokens",
        filters=(("plan", ("pro", "team")), ("region.code", ("eu",)), ("beta", (True,))),
        group_by=("region.code", "plan"),
    )
    assert built.aggregation is Aggregation.SUM


def test_new_meter_count_needs_no_value() -> None:
    built = new_meter("calls", "api.request", Aggregation.COUNT, None, {}, [])
    assert built.value is None


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"key": "Api"}, "key"),
        ({"key": "1api"}, "key"),
        ({"key": ""}, "key"),
        ({"key": "a" * 65}, "key"),
        ({"key": "api-calls"}, "key"),
        ({"event_type": ""}, "event_type"),
        ({"aggregation": "avg"}, "aggregation"),
        ({"value": None}, "value"),
        ({"aggregation": "max", "value": None}, "value"),
        ({"aggregation": "count", "value": "tokens"}, "value"),
        ({"value": ""}, "value"),
        ({"value": "usage..tokens"}, "value"),
        ({"value": ".tokens"}, "value"),
        ({"value": "tokens."}, "value"),
        ({"filters": {"": "x"}}, "filters"),
        ({"filters": {"a..b": "x"}}, "filters"),
        ({"filters": {"plan": []}}, "filters"),
        ({"filters": {"plan": 1.5}}, "filters"),
        ({"filters": {"plan": {"nested": 1}}}, "filters"),
        ({"filters": {"plan": ["pro", ["team"]]}}, "filters"),
        ({"filters": {"plan": Decimal("NaN")}}, "filters"),
        ({"filters": {"plan": Decimal("Infinity")}}, "filters"),
        ({"group_by": ["region", ""]}, "group_by"),
        ({"group_by": ["region", "region"]}, "group_by"),
        ({"group_by": "region"}, "group_by"),
    ],
)
def test_new_meter_refuses(arguments: dict[str, Any], field: str) -> None:
    valid: dict[str, Any] = {
        "key": "llm_tokens",
        "event_type": "api.request",
        "aggregation": "sum",
        "value": "tokens",
        "filters": {},
        "group_by": [],
    }
    with pytest.raises(InvalidField) as refused:
        new_meter(**(valid | arguments))
    assert refused.value.field == field


def test_new_meter_names_the_aggregation_that_needs_a_value() -> None:
    with pytest.raises(InvalidField, match="required for aggregation 'sum'"):
        new_meter("llm_tokens", "api.request", "sum", None, {}, [])


def test_new_meter_accepts_every_json_scalar_as_filter_value() -> None:
    built = new_meter("m", "t", "count", None, {"a": ["x", 1, Decimal("2.5"), False, None]}, [])
    assert built.filters == (("a", ("x", 1, Decimal("2.5"), False, None)),)


# --- lookup ----------------------------------------------------------------------------


def test_lookup_walks_nested_dicts() -> None:
    data = {"usage": {"tokens": 12, "model": None}, "plan": "pro", "list": [1]}
    assert lookup(data, "usage.tokens") == 12
    assert lookup(data, "usage.model") is None
    assert lookup(data, "plan") == "pro"
    assert lookup(data, "usage") == {"tokens": 12, "model": None}


@pytest.mark.parametrize("path", ["missing", "usage.missing", "plan.tier", "list.0", "usage.n.x"])
def test_lookup_answers_missing(path: str) -> None:
    data = {"usage": {"n": 1}, "plan": "pro", "list": [1]}
    assert lookup(data, path) is MISSING


# --- value_problem ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("aggregation", "data", "problem"),
    [
        ("sum", {"tokens": 5}, None),
        (
            "sum",
            {"tokens": Decimal("-2.5")},
            "data.tokens: -2.5 is negative, and meter 'llm_tokens' (sum) takes no negative "
            "values (allow_negative: true accepts corrections sent as negative events)",
        ),
        ("sum", {}, "data.tokens: missing, required by meter 'llm_tokens' (sum)"),
        (
            "sum",
            {"tokens": "5"},
            "data.tokens: expected a number for meter 'llm_tokens' (sum), got string",
        ),
        (
            "max",
            {"tokens": True},
            "data.tokens: expected a number for meter 'llm_tokens' (max), got boolean",
        ),
        (
            "latest",
            {"tokens": None},
            "data.tokens: expected a number for meter 'llm_tokens' (latest), got null",
        ),
        (
            "sum",
            {"tokens": 1.5},
            "data.tokens: expected a number for meter 'llm_tokens' (sum), got binary float",
        ),
        (
            "sum",
            {"tokens": Decimal("NaN")},
            "data.tokens: expected a finite number for meter 'llm_tokens' (sum), got NaN",
        ),
        (
            "max",
            {"tokens": Decimal("-Infinity")},
            "data.tokens: expected a finite number for meter 'llm_tokens' (max), got -Infinity",
        ),
        ("unique_count", {"tokens": "user-1"}, None),
        ("unique_count", {"tokens": False}, None),
        ("unique_count", {"tokens": Decimal("3.1")}, None),
        (
            "unique_count",
            {"tokens": None},
            "data.tokens: missing, required by meter 'llm_tokens' (unique_count)",
        ),
        (
            "unique_count",
            {"tokens": {"id": 1}},
            "data.tokens: expected a string, number or boolean for meter 'llm_tokens' "
            "(unique_count), got object",
        ),
        (
            "unique_count",
            {"tokens": Decimal("sNaN")},
            "data.tokens: expected a finite number for meter 'llm_tokens' (unique_count), got sNaN",
        ),
        ("count", {}, None),
    ],
)
def test_value_problem(aggregation: str, data: dict[str, Any], problem: str | None) -> None:
    expected = None if problem is None else Problem(Code.METER_VALUE, problem)
    assert value_problem(meter(Aggregation(aggregation)), data) == expected


def test_a_meter_that_allows_negative_values_takes_corrections() -> None:
    corrections = new_meter("tokens", "llm", Aggregation.SUM, "v", {}, [], allow_negative=True)
    assert value_problem(corrections, {"v": Decimal("-2.5")}) is None
    with pytest.raises(InvalidField, match="only sum, max and latest meters"):
        new_meter("calls", "api", Aggregation.COUNT, None, {}, [], allow_negative=True)


def test_value_problem_reads_nested_paths() -> None:
    nested = meter(value="usage.tokens")
    assert value_problem(nested, {"usage": {"tokens": 3}}) is None
    assert value_problem(nested, {"usage": 3}) == Problem(
        Code.METER_VALUE, "data.usage.tokens: missing, required by meter 'llm_tokens' (sum)"
    )


def test_value_problem_ignores_events_the_filters_reject() -> None:
    filtered = meter(filters={"plan": "pro"})
    assert value_problem(filtered, {"plan": "free", "tokens": "many"}) is None
    assert value_problem(filtered, {"tokens": "many"}) is None
    assert value_problem(filtered, {"plan": "pro", "tokens": "many"}) is not None


# --- aggregations ----------------------------------------------------------------------


def run(
    aggregation: Aggregation, *items: tuple[datetime, Mapping[str, Any]], **kwargs: Any
) -> list[UsageBucket]:
    return aggregate(meter(aggregation, **kwargs), points(*items), query(*JAN))


def only(buckets: list[UsageBucket]) -> tuple[Decimal, int]:
    assert len(buckets) == 1
    return buckets[0].value, buckets[0].events


DAY1 = utc(2024, 1, 1, 12)


def test_sum_is_exact_over_ints_and_decimals() -> None:
    result = run(
        Aggregation.SUM,
        (DAY1, {"tokens": 1}),
        (DAY1, {"tokens": Decimal("2.50")}),
        (DAY1, {"tokens": -3}),
        (DAY1, {"tokens": Decimal("0.1")}),
        (DAY1, {"tokens": "7"}),  # unusable: ignored
        (DAY1, {}),  # missing: ignored
    )
    assert only(result) == (Decimal("0.60"), 4)
    assert isinstance(result[0].value, Decimal)


def test_sum_of_many_long_values_stays_exact() -> None:
    long_value = Decimal("12345678901234567890.123456789012345678901")
    items: list[tuple[datetime, dict[str, Any]]] = [(DAY1, {"tokens": long_value})] * 1000
    items += [(DAY1, {"tokens": 10**25})] * 10
    value, events = only(run(Aggregation.SUM, *items))
    assert Fraction(value) == 1000 * Fraction(long_value) + 10 * 10**25
    assert events == 1010


def test_sum_that_cannot_stay_exact_is_refused() -> None:
    exact = run(Aggregation.SUM, (DAY1, {"tokens": Decimal("1E+99")}), (DAY1, {"tokens": 1}))
    assert only(exact) == (Decimal(10**99 + 1), 2)
    with pytest.raises(InvalidField, match="significant digits") as refused:
        run(Aggregation.SUM, (DAY1, {"tokens": Decimal("1E+100")}), (DAY1, {"tokens": 1}))
    with pytest.raises(InvalidField, match="significant digits"):
        run(
            Aggregation.SUM,
            (DAY1, {"tokens": Decimal("1E+60")}),
            (DAY1, {"tokens": Decimal("1E-60")}),
        )
    assert refused.value.field == "value"


def test_count_counts_events_whatever_their_data() -> None:
    result = run(Aggregation.COUNT, (DAY1, {}), (DAY1, {"tokens": "x"}), (DAY1, {"a": 1}))
    assert only(result) == (Decimal(3), 3)


def test_max_compares_numbers_numerically() -> None:
    result = run(
        Aggregation.MAX,
        (DAY1, {"tokens": 9}),
        (DAY1, {"tokens": Decimal("9.5")}),
        (DAY1, {"tokens": -20}),
        (DAY1, {"tokens": True}),  # a bool is not a number
        (DAY1, {"tokens": "99"}),
    )
    assert only(result) == (Decimal("9.5"), 3)


def test_max_of_negative_values() -> None:
    result = run(Aggregation.MAX, (DAY1, {"tokens": -5}), (DAY1, {"tokens": Decimal("-1.5")}))
    assert only(result) == (Decimal("-1.5"), 2)


def test_latest_takes_the_greatest_time_then_tiebreak() -> None:
    late = DAY1 + timedelta(hours=1)
    events = [
        MeterPoint(us(late), ("src", "b"), {"tokens": 2}),
        MeterPoint(us(late), ("src", "c"), {"tokens": 3}),  # same time, greater id
        MeterPoint(us(late), ("aaa", "z"), {"tokens": 4}),  # same time, smaller source
        MeterPoint(us(DAY1), ("zzz", "z"), {"tokens": 1}),
        MeterPoint(us(late + timedelta(minutes=1)), ("src", "d"), {"tokens": "x"}),  # unusable
    ]
    result = aggregate(meter(Aggregation.LATEST), events, query(*JAN))
    assert only(result) == (Decimal(3), 4)
    reordered = aggregate(meter(Aggregation.LATEST), events[::-1], query(*JAN))
    assert only(reordered) == (Decimal(3), 4)


def test_unique_count_compares_json_values() -> None:
    values: list[object] = [1, Decimal("1.0"), Decimal("1"), "1", True, True, False, None, "a"]
    result = run(Aggregation.UNIQUE_COUNT, *[(DAY1, {"tokens": v}) for v in values])
    # distinct: 1 (= 1.0), "1", True, False, "a"; None counts as missing
    assert only(result) == (Decimal(5), 8)


def test_unique_count_ignores_objects_and_arrays() -> None:
    result = run(
        Aggregation.UNIQUE_COUNT,
        (DAY1, {"tokens": {"id": 1}}),
        (DAY1, {"tokens": [1]}),
        (DAY1, {"tokens": "u"}),
    )
    assert only(result) == (Decimal(1), 1)


def test_points_outside_the_range_are_ignored() -> None:
    start, end = JAN
    result = run(
        Aggregation.COUNT,
        (start, {}),
        (end - timedelta(microseconds=1), {}),
        (end, {}),
        (start - timedelta(microseconds=1), {}),
    )
    assert only(result) == (Decimal(2), 2)
    assert span(result[0]) == JAN


def test_no_points_no_buckets() -> None:
    assert aggregate(meter(), [], query(*JAN, window=Window.DAY)) == []
    assert run(Aggregation.SUM, (DAY1, {"tokens": "x"})) == []


# --- filters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("allowed", "data", "counted"),
    [
        (True, {"beta": True}, True),
        (True, {"beta": 1}, False),
        (1, {"beta": True}, False),
        (1, {"beta": 1}, True),
        (1, {"beta": Decimal("1.0")}, True),
        (Decimal("1.00"), {"beta": 1}, True),
        (1, {"beta": "1"}, False),
        ("1", {"beta": 1}, False),
        (False, {"beta": 0}, False),
        (0, {"beta": Decimal("-0")}, True),
        (None, {"beta": None}, True),
        (None, {}, False),
        ("x", {}, False),
        ("x", {"beta": ["x"]}, False),
        ("x", {"beta": {"x": 1}}, False),
        (1, {"beta": Decimal("NaN")}, False),
        (["pro", "team"], {"beta": "team"}, True),
        (["pro", "team"], {"beta": "free"}, False),
        ([True, 2], {"beta": 1}, False),
        ([True, 2], {"beta": Decimal(2)}, True),
    ],
)
def test_filter_uses_json_equality(allowed: object, data: dict[str, Any], counted: bool) -> None:
    result = run(Aggregation.COUNT, (DAY1, data), filters={"beta": allowed})
    assert len(result) == int(counted)


def test_all_filters_must_match_and_paths_nest() -> None:
    filters = {"plan.tier": "pro", "region": ["eu", "uk"]}
    result = run(
        Aggregation.SUM,
        (DAY1, {"plan": {"tier": "pro"}, "region": "eu", "tokens": 1}),
        (DAY1, {"plan": {"tier": "pro"}, "region": "us", "tokens": 10}),
        (DAY1, {"plan": {"tier": "free"}, "region": "uk", "tokens": 100}),
        (DAY1, {"plan": "pro", "region": "uk", "tokens": 1000}),
        (DAY1, {"plan": {"tier": "pro"}, "region": "uk", "tokens": 10000}),
        filters=filters,
    )
    assert only(result) == (Decimal(10001), 2)


# --- group_by --------------------------------------------------------------------------


def test_group_by_with_a_missing_dimension() -> None:
    dims = ("region", "plan.tier")
    result = aggregate(
        meter(Aggregation.SUM, group_by=dims),
        points(
            (DAY1, {"region": "eu", "plan": {"tier": "pro"}, "tokens": 1}),
            (DAY1, {"region": "eu", "plan": {"tier": "pro"}, "tokens": 2}),
            (DAY1, {"region": "eu", "tokens": 4}),
            (DAY1, {"region": "us", "plan": {"tier": "free"}, "tokens": 8}),
            (DAY1, {"plan": {"tier": "free"}, "tokens": 16}),
            (DAY1, {"region": None, "plan": {"tier": "free"}, "tokens": 32}),
        ),
        query(*JAN, group_by=dims),
    )
    assert [(b.group, b.value, b.events) for b in result] == [
        ((("region", None), ("plan.tier", "free")), Decimal(48), 2),
        ((("region", "eu"), ("plan.tier", None)), Decimal(4), 1),
        ((("region", "eu"), ("plan.tier", "pro")), Decimal(3), 2),
        ((("region", "us"), ("plan.tier", "free")), Decimal(8), 1),
    ]


def test_group_by_keeps_true_apart_from_one_and_joins_equal_numbers() -> None:
    result = aggregate(
        meter(Aggregation.COUNT, group_by=("tier",)),
        points(
            (DAY1, {"tier": 1}),
            (DAY1, {"tier": Decimal("1.0")}),
            (DAY1, {"tier": True}),
            (DAY1, {"tier": "1"}),
            (DAY1, {"tier": [1]}),  # not a scalar: grouped as None
        ),
        query(*JAN, group_by=("tier",)),
    )
    groups = {(type(b.group[0][1]), b.group[0][1]): b.events for b in result}
    assert groups == {(type(None), None): 1, (int, 1): 2, (bool, True): 1, (str, "1"): 1}
    assert result[0].group == (("tier", None),)


def test_group_by_a_subset_of_the_dimensions() -> None:
    dims = ("region", "plan")
    result = aggregate(
        meter(Aggregation.COUNT, group_by=dims),
        points((DAY1, {"region": "eu", "plan": "a"}), (DAY1, {"region": "eu", "plan": "b"})),
        query(*JAN, group_by=("region",)),
    )
    assert [(b.group, b.events) for b in result] == [((("region", "eu"),), 2)]
    ungrouped = aggregate(meter(Aggregation.COUNT, group_by=dims), [], query(*JAN))
    assert ungrouped == []


@pytest.mark.parametrize("group_by", [("plan",), ("region", "region")])
def test_query_groups_only_by_declared_dimensions(group_by: tuple[str, ...]) -> None:
    with pytest.raises(InvalidField) as refused:
        aggregate(meter(group_by=("region",)), [], query(*JAN, group_by=group_by))
    assert refused.value.field == "group_by"


def test_query_end_before_start_is_refused() -> None:
    with pytest.raises(InvalidField):
        aggregate(meter(), [], query(JAN[1], JAN[0]))


# --- calendar windows ------------------------------------------------------------------


def counts(buckets: list[UsageBucket]) -> list[tuple[datetime, datetime, int]]:
    return [(*span(b), b.events) for b in buckets]


def test_day_buckets_are_whole_days_never_clipped() -> None:
    result = aggregate(
        meter(Aggregation.COUNT),
        points((utc(2024, 1, 1, 12), {}), (utc(2024, 1, 3, 1), {}), (utc(2024, 1, 3, 5), {})),
        query(utc(2024, 1, 1, 10, 30), utc(2024, 1, 3, 3), Window.DAY),
    )
    assert counts(result) == [
        (utc(2024, 1, 1), utc(2024, 1, 2), 1),
        (utc(2024, 1, 3), utc(2024, 1, 4), 1),
    ]


def test_kathmandu_hours_start_at_quarter_past_utc() -> None:
    result = aggregate(
        meter(Aggregation.COUNT),
        points(
            (utc(2024, 1, 1, 0, 10), {}),  # 05:55 +05:45
            (utc(2024, 1, 1, 0, 15), {}),  # 06:00
            (utc(2024, 1, 1, 1, 14, 59), {}),  # 06:59:59
            (utc(2024, 1, 1, 1, 15), {}),  # 07:00
        ),
        query(utc(2024, 1, 1), utc(2024, 1, 2), Window.HOUR, KATHMANDU),
    )
    assert counts(result) == [
        (utc(2023, 12, 31, 23, 15), utc(2024, 1, 1, 0, 15), 1),
        (utc(2024, 1, 1, 0, 15), utc(2024, 1, 1, 1, 15), 2),
        (utc(2024, 1, 1, 1, 15), utc(2024, 1, 1, 2, 15), 1),
    ]
    assert result[1].start.tzinfo is KATHMANDU
    assert (result[1].start.hour, result[1].start.minute) == (6, 0)
    assert result[1].start.utcoffset() == timedelta(hours=5, minutes=45)


def test_kathmandu_day_starts_at_1815_utc() -> None:
    result = aggregate(
        meter(Aggregation.COUNT),
        points((utc(2024, 1, 1, 18, 14), {}), (utc(2024, 1, 1, 18, 15), {})),
        query(*JAN, Window.DAY, KATHMANDU),
    )
    assert counts(result) == [
        (utc(2023, 12, 31, 18, 15), utc(2024, 1, 1, 18, 15), 1),
        (utc(2024, 1, 1, 18, 15), utc(2024, 1, 2, 18, 15), 1),
    ]


def test_new_york_fall_back_has_two_one_oclock_buckets() -> None:
    result = aggregate(
        meter(Aggregation.COUNT),
        points(
            (utc(2024, 11, 3, 5, 30), {}),  # 01:30 EDT
            (utc(2024, 11, 3, 6, 30), {}),  # 01:30 EST
            (utc(2024, 11, 3, 6, 45), {}),  # 01:45 EST
            (utc(2024, 11, 3, 7, 0), {}),  # 02:00 EST
        ),
        query(utc(2024, 11, 1), utc(2024, 12, 1), Window.HOUR, NEW_YORK),
    )
    assert counts(result) == [
        (utc(2024, 11, 3, 5), utc(2024, 11, 3, 6), 1),
        (utc(2024, 11, 3, 6), utc(2024, 11, 3, 7), 2),
        (utc(2024, 11, 3, 7), utc(2024, 11, 3, 8), 1),
    ]
    first, second = result[0].start, result[1].start
    assert (first.hour, second.hour) == (1, 1)
    assert first.utcoffset() == timedelta(hours=-4)
    assert second.utcoffset() == timedelta(hours=-5)


def test_new_york_fall_back_day_lasts_25_hours() -> None:
    result = aggregate(
        meter(Aggregation.COUNT),
        points((utc(2024, 11, 3, 4), {}), (utc(2024, 11, 4, 4, 59), {})),
        query(utc(2024, 11, 1), utc(2024, 12, 1), Window.DAY, NEW_YORK),
    )
    assert counts(result) == [(utc(2024, 11, 3, 4), utc(2024, 11, 4, 5), 2)]


def test_new_york_spring_forward_skips_two_oclock_and_the_day_lasts_23_hours() -> None:
    items: tuple[tuple[datetime, dict[str, Any]], ...] = (
        (utc(2024, 3, 10, 6, 59), {}),  # 01:59 EST
        (utc(2024, 3, 10, 7, 0), {}),  # 03:00 EDT
    )
    hours = aggregate(
        meter(Aggregation.COUNT),
        points(*items),
        query(utc(2024, 3, 1), utc(2024, 4, 1), Window.HOUR, NEW_YORK),
    )
    assert counts(hours) == [
        (utc(2024, 3, 10, 6), utc(2024, 3, 10, 7), 1),
        (utc(2024, 3, 10, 7), utc(2024, 3, 10, 8), 1),
    ]
    assert [b.start.hour for b in hours] == [1, 3]
    days = aggregate(
        meter(Aggregation.COUNT),
        points(*items),
        query(utc(2024, 3, 1), utc(2024, 4, 1), Window.DAY, NEW_YORK),
    )
    assert counts(days) == [(utc(2024, 3, 10, 5), utc(2024, 3, 11, 4), 2)]
    assert days[0].end - days[0].start == timedelta(hours=24)  # wall-clock difference
    assert days[0].end.astimezone(UTC) - days[0].start.astimezone(UTC) == timedelta(hours=23)


def test_paris_month_boundary() -> None:
    result = aggregate(
        meter(Aggregation.SUM),
        points(
            (utc(2024, 1, 31, 22, 59, 59), {"tokens": 1}),  # 23:59:59 CET, January
            (utc(2024, 1, 31, 23, 0), {"tokens": 2}),  # 00:00 CET, February
            (utc(2024, 2, 29, 22, 59), {"tokens": 4}),  # 23:59, February
            (utc(2024, 3, 31, 21, 59), {"tokens": 8}),  # 23:59 CEST, March (DST inside)
        ),
        query(utc(2024, 1, 1), utc(2024, 6, 1), Window.MONTH, PARIS),
    )
    assert [(*span(b), b.value) for b in result] == [
        (utc(2023, 12, 31, 23), utc(2024, 1, 31, 23), Decimal(1)),
        (utc(2024, 1, 31, 23), utc(2024, 2, 29, 23), Decimal(6)),
        (utc(2024, 2, 29, 23), utc(2024, 3, 31, 22), Decimal(8)),
    ]
    assert [(b.start.month, b.start.day, b.start.hour) for b in result] == [
        (1, 1, 0),
        (2, 1, 0),
        (3, 1, 0),
    ]


def test_last_microsecond_of_a_local_day_and_the_next_midnight() -> None:
    last = datetime(2024, 6, 14, 23, 59, 59, 999_999, tzinfo=PARIS)
    midnight = datetime(2024, 6, 15, tzinfo=PARIS)
    result = aggregate(
        meter(Aggregation.COUNT),
        points((last, {}), (midnight, {})),
        query(utc(2024, 6, 1), utc(2024, 7, 1), Window.DAY, PARIS),
    )
    assert counts(result) == [
        (utc(2024, 6, 13, 22), utc(2024, 6, 14, 22), 1),
        (utc(2024, 6, 14, 22), utc(2024, 6, 15, 22), 1),
    ]


def test_lord_howe_half_hour_shift_splits_the_hour() -> None:
    # 2024-04-07 02:00 +11:00 becomes 01:30 +10:30 (15:00 UTC)
    result = aggregate(
        meter(Aggregation.COUNT),
        points(
            (utc(2024, 4, 6, 14, 45), {}),  # 01:45 +11
            (utc(2024, 4, 6, 15, 10), {}),  # 01:40 +10:30
            (utc(2024, 4, 6, 15, 40), {}),  # 02:10 +10:30
        ),
        query(utc(2024, 4, 1), utc(2024, 5, 1), Window.HOUR, LORD_HOWE),
    )
    assert counts(result) == [
        (utc(2024, 4, 6, 14), utc(2024, 4, 6, 15), 1),
        (utc(2024, 4, 6, 15), utc(2024, 4, 6, 15, 30), 1),
        (utc(2024, 4, 6, 15, 30), utc(2024, 4, 6, 16, 30), 1),
    ]
    assert [(b.start.hour, b.start.minute) for b in result] == [(1, 0), (1, 30), (2, 0)]


def test_santiago_midnight_transitions() -> None:
    # 2024-04-07 00:00 -03 (03:00 UTC) goes back to 2024-04-06 23:00 -04: the clock never
    # showed Sunday before, so the repeated hour is Saturday's (a 25-hour day);
    # 2024-09-08 00:00 -04 jumps to 01:00 -03: Sunday starts at 01:00 (a 23-hour day).
    result = aggregate(
        meter(Aggregation.COUNT),
        points(
            (utc(2024, 4, 7, 2, 30), {}),  # Sat 23:30 -03
            (utc(2024, 4, 7, 3, 30), {}),  # Sat 23:30 -04 (again)
            (utc(2024, 9, 8, 3, 59), {}),  # Sat 23:59 -04
            (utc(2024, 9, 8, 4, 0), {}),  # Sun 01:00 -03
        ),
        query(utc(2024, 1, 1), utc(2025, 1, 1), Window.DAY, SANTIAGO),
    )
    assert counts(result) == [
        (utc(2024, 4, 6, 3), utc(2024, 4, 7, 4), 2),
        (utc(2024, 9, 7, 4), utc(2024, 9, 8, 4), 1),
        (utc(2024, 9, 8, 4), utc(2024, 9, 9, 3), 1),
    ]


def test_havana_midnight_shown_twice_or_skipped() -> None:
    # 2024-11-03 01:00 -04 goes back to 00:00 -05: midnight is shown twice, the day starts
    # at the first; 2024-03-10 00:00 -05 jumps to 01:00 -04: the day starts at 01:00.
    result = aggregate(
        meter(Aggregation.COUNT),
        points(
            (utc(2024, 3, 10, 4, 59), {}),  # Sat 23:59 -05
            (utc(2024, 3, 10, 5), {}),  # Sun 01:00 -04
            (utc(2024, 11, 3, 3, 59), {}),  # Sat 23:59 -04
            (utc(2024, 11, 3, 4), {}),  # Sun 00:00 -04
            (utc(2024, 11, 3, 5, 30), {}),  # Sun 00:30 -05 (again)
        ),
        query(utc(2024, 1, 1), utc(2025, 1, 1), Window.DAY, HAVANA),
    )
    assert counts(result) == [
        (utc(2024, 3, 9, 5), utc(2024, 3, 10, 5), 1),
        (utc(2024, 3, 10, 5), utc(2024, 3, 11, 4), 1),
        (utc(2024, 11, 2, 4), utc(2024, 11, 3, 4), 1),
        (utc(2024, 11, 3, 4), utc(2024, 11, 4, 5), 2),
    ]
    assert [(b.start.day, b.start.hour) for b in result] == [(9, 0), (10, 1), (2, 0), (3, 0)]


def test_samoa_skipped_day_has_no_bucket() -> None:
    # Pacific/Apia went from 2011-12-29 23:59:59 -10 to 2011-12-31 00:00 +14 (10:00 UTC)
    apia = ZoneInfo("Pacific/Apia")
    result = aggregate(
        meter(Aggregation.COUNT),
        points((utc(2011, 12, 30, 9, 59), {}), (utc(2011, 12, 30, 10), {})),
        query(utc(2011, 12, 1), utc(2012, 1, 31), Window.DAY, apia),
    )
    assert counts(result) == [
        (utc(2011, 12, 29, 10), utc(2011, 12, 30, 10), 1),
        (utc(2011, 12, 30, 10), utc(2011, 12, 31, 10), 1),
    ]
    assert [b.start.day for b in result] == [29, 31]


def test_window_none_is_one_bucket_for_the_query_range() -> None:
    start, end = utc(2024, 1, 1, 10, 30), utc(2024, 3, 1, 7)
    result = aggregate(
        meter(Aggregation.COUNT, group_by=("r",)),
        points((utc(2024, 1, 5), {"r": "b"}), (utc(2024, 2, 5), {"r": "a"})),
        query(start, end, None, PARIS, ("r",)),
    )
    assert [(*span(b), b.group) for b in result] == [
        (start, end, (("r", "a"),)),
        (start, end, (("r", "b"),)),
    ]
    assert result[0].start.tzinfo is PARIS


def test_buckets_sort_by_start_then_group() -> None:
    result = aggregate(
        meter(Aggregation.COUNT, group_by=("r",)),
        points(
            (utc(2024, 1, 2), {"r": "b"}),
            (utc(2024, 1, 1), {"r": "b"}),
            (utc(2024, 1, 2), {}),
            (utc(2024, 1, 1), {"r": 10}),
            (utc(2024, 1, 1), {"r": 9}),
        ),
        query(*JAN, Window.DAY, UTC_ZONE, ("r",)),
    )
    assert [(b.start.day, b.group[0][1]) for b in result] == [
        (1, 10),
        (1, 9),
        (1, "b"),
        (2, None),
        (2, "b"),
    ]


# --- property: aggregate agrees with a simple, independent computation ------------------

ZONES = [UTC_ZONE, PARIS, NEW_YORK, KATHMANDU, LORD_HOWE]
T0, T1 = us(utc(2024, 1, 1)), us(utc(2024, 5, 1))
INTERESTING = [
    us(moment)
    for moment in (
        utc(2024, 3, 10, 7),  # New York spring forward
        utc(2024, 3, 31, 1),  # Paris spring forward
        utc(2024, 4, 6, 15),  # Lord Howe falls back 30 minutes
        utc(2024, 3, 31, 22),  # Paris: end of March
        utc(2024, 2, 29, 18, 15),  # Kathmandu: end of February
        utc(2024, 4, 30, 14),  # Lord Howe: end of April
        utc(2024, 1, 31, 23),  # Paris: end of January
    )
]

moments = st.one_of(
    st.integers(T0, T1),
    st.builds(
        lambda base, shift: base + shift,
        st.sampled_from(INTERESTING),
        st.integers(-3 * HOUR_US, 3 * HOUR_US),
    ),
)
scalars = st.sampled_from(["eu", "us", 1, Decimal("1.0"), True, False, None])
numbers = st.one_of(
    st.integers(-1000, 1000),
    st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False),
)
event_values = st.one_of(numbers, numbers, st.sampled_from(["7", True, None, [1]]))
event_data = st.fixed_dictionaries(
    {},
    optional={
        "n": event_values,
        "region": scalars,
        "plan": st.one_of(
            st.fixed_dictionaries({}, optional={"tier": scalars}), st.sampled_from(["pro"])
        ),
    },
)
DIMENSIONS = ("region", "plan.tier")


def json_key(value: object) -> tuple[str, object]:
    """The test's own notion of JSON-value identity."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | Decimal):
        return ("number", Fraction(value))
    if value is None:
        return ("null", None)
    if isinstance(value, str):
        return ("string", value)
    return ("other", repr(value))


ABSENT = object()


def dig(data: Mapping[str, Any], path: str) -> object:
    node: object = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return ABSENT
        node = node[part]
    return node


def fraction(value: object) -> Fraction:
    assert isinstance(value, int | Decimal)
    return Fraction(value)


def usable_number(value: object) -> bool:
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


def local(moment_us: int, zone: ZoneInfo) -> datetime:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=moment_us)).astimezone(zone)


def window_key(moment_us: int, window: Window | None, zone: ZoneInfo) -> tuple[object, ...]:
    when = local(moment_us, zone)
    if window is None:
        return ()
    if window is Window.MONTH:
        return (when.year, when.month)
    if window is Window.DAY:
        return (when.year, when.month, when.day)
    return (when.year, when.month, when.day, when.hour, when.utcoffset())


def window_span(
    key: tuple[Any, ...], window: Window | None, zone: ZoneInfo, start: int, end: int
) -> tuple[int, int]:
    """Start and end of the calendar window ``key`` (these zones change offset off midnight)."""
    if window is None:
        return start, end
    if window is Window.MONTH:
        year, month = key
        following = date(year + month // 12, month % 12 + 1, 1)
        return (
            us(datetime(year, month, 1, tzinfo=zone)),
            us(datetime.combine(following, time(), tzinfo=zone)),
        )
    if window is Window.DAY:
        day = date(*key)
        return (
            us(datetime.combine(day, time(), tzinfo=zone)),
            us(datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)),
        )
    # an hour at one offset: scan minute by minute from the hour's start at that offset
    year, month, day, hour, offset = key
    minute = 60_000_000
    first = us(datetime(year, month, day, hour, tzinfo=timezone(offset)))
    while window_key(first, window, zone) != key:
        first += minute
    last = first
    while window_key(last + minute, window, zone) == key:
        last += minute
    return first, last + minute


def expected(
    aggregation: Aggregation,
    items: list[MeterPoint],
    allowed: list[object] | None,
    the_query: UsageQuery,
) -> dict[tuple[object, ...], tuple[Fraction, int]]:
    chosen: dict[tuple[tuple[Any, ...], tuple[object, ...]], list[MeterPoint]] = {}
    for item in items:
        if not the_query.start_us <= item.time_us < the_query.end_us:
            continue
        if allowed is not None:
            tier = dig(item.data, "plan.tier")
            if tier is ABSENT or json_key(tier) not in {json_key(a) for a in allowed}:
                continue
        value = dig(item.data, "n")
        if aggregation in (Aggregation.SUM, Aggregation.MAX, Aggregation.LATEST):
            if not usable_number(value):
                continue
        elif aggregation is Aggregation.UNIQUE_COUNT and not isinstance(value, str | int | Decimal):
            continue
        group: list[object] = []
        for path in the_query.group_by:
            found = dig(item.data, path)
            is_scalar = found is None or isinstance(found, str | int | Decimal)
            group.append(json_key(found if is_scalar else None))
        window = window_key(item.time_us, the_query.window, the_query.timezone)
        chosen.setdefault((window, tuple(group)), []).append(item)
    outcome = {}
    for (window, group_key), members in chosen.items():
        values = [dig(m.data, "n") for m in members]
        if aggregation is Aggregation.SUM:
            total = sum((fraction(v) for v in values), Fraction(0))
        elif aggregation is Aggregation.COUNT:
            total = Fraction(len(members))
        elif aggregation is Aggregation.MAX:
            total = max(fraction(v) for v in values)
        elif aggregation is Aggregation.LATEST:
            newest = max(members, key=lambda m: (m.time_us, m.tiebreak))
            total = fraction(dig(newest.data, "n"))
        else:
            total = Fraction(len({json_key(v) for v in values}))
        begin, end = window_span(
            window, the_query.window, the_query.timezone, the_query.start_us, the_query.end_us
        )
        outcome[(begin, end, *group_key)] = (total, len(members))
    return outcome


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    aggregation=st.sampled_from(Aggregation),
    window=st.sampled_from([None, Window.HOUR, Window.DAY, Window.MONTH]),
    zone=st.sampled_from(ZONES),
    timed_data=st.lists(st.tuples(moments, event_data), max_size=40),
    bounds=st.one_of(st.just((T0, T1)), st.lists(moments, min_size=2, max_size=2).map(sorted)),
    allowed=st.one_of(st.none(), st.lists(scalars, min_size=1, max_size=3)),
    group_by=st.sampled_from([(), ("region",), ("plan.tier",), ("plan.tier", "region")]),
)
def test_aggregate_agrees_with_a_simple_computation(
    aggregation: Aggregation,
    window: Window | None,
    zone: ZoneInfo,
    timed_data: list[tuple[int, dict[str, Any]]],
    bounds: list[int],
    allowed: list[object] | None,
    group_by: tuple[str, ...],
) -> None:
    items = [
        MeterPoint(moment, ("src", f"e{i}"), data) for i, (moment, data) in enumerate(timed_data)
    ]
    declared = new_meter(
        "m",
        "t",
        aggregation,
        None if aggregation is Aggregation.COUNT else "n",
        {} if allowed is None else {"plan.tier": allowed},
        DIMENSIONS,
    )
    the_query = UsageQuery(bounds[0], bounds[1], window, zone, group_by)

    result = aggregate(declared, items, the_query)

    got = {
        (us(b.start), us(b.end), *(json_key(value) for _, value in b.group)): (
            Fraction(b.value),
            b.events,
        )
        for b in result
    }
    assert len(got) == len(result)
    assert got == expected(aggregation, items, allowed, the_query)
    for b in result:
        assert b.start.tzinfo is zone
        assert b.end.tzinfo is zone
        assert isinstance(b.value, Decimal)
        assert tuple(name for name, _ in b.group) == group_by

    def order(b: UsageBucket) -> tuple[object, ...]:
        return (us(b.start), *((v is not None, str(v)) for _, v in b.group))

    assert [order(b) for b in result] == sorted(order(b) for b in result)


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        (Decimal("1E+29"), True),
        (Decimal("1E+30"), False),
        (-(10**30), False),
        (Decimal("0.000000000000000001"), True),
        (Decimal("1E-19"), False),
        (Decimal("12.50"), True),
    ],
)
def test_numbers_beyond_the_exact_range_are_refused_at_ingestion(
    value: object, accepted: bool
) -> None:
    meter = new_meter("tokens", "llm", Aggregation.SUM, "v", {}, [])
    problem = value_problem(meter, {"v": value})
    assert (problem is None) is accepted
    if not accepted:
        assert problem is not None
        assert problem.code == Code.METER_VALUE
        assert problem.message.startswith("data.v: ")
        assert "out of range for meter 'tokens' (sum)" in problem.message
