"""Carried meters: a value held from one event to the next, summed by the day (each day at
the greatest value held during it), and the billed quantity it gives."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from revsync.domain.billing import carried_quantity
from revsync.domain.errors import InvalidField
from revsync.domain.metering import Aggregation, new_meter, value_days

D = Decimal
DAY = 86_400_000_000
KEY = ("app://test", "e")
LEVEL = new_meter("storage", "storage.level", "latest", "gb", carried=True)
DELTAS = new_meter("seats", "seat.change", "sum", "delta", allow_negative=True, carried=True)


def days(count: int) -> list[int]:
    """Bounds of ``count`` days from day 10 (so that day 0–9 lie before them)."""
    return [(10 + i) * DAY for i in range(count + 1)]


def at(day: float) -> int:
    return int(day * DAY)


def test_a_level_is_carried_in_and_each_day_counts_its_peak() -> None:
    readings = [
        (at(2), ("s", "a"), D(100)),  # before the window: carried in
        (at(12.4), ("s", "b"), D(300)),
        (at(12.6), ("s", "c"), D(200)),
        (at(14), ("s", "d"), D(50)),  # at midnight: day 14 starts at 50
    ]
    # days 10, 11 at 100; 12 at its peak 300; 13 at 200; 14 at 50
    assert value_days(LEVEL, readings, days(5)) == D(100 + 100 + 300 + 200 + 50)


def test_deltas_add_up_from_the_beginning_and_a_day_keeps_its_peak() -> None:
    readings = [
        (at(1), KEY, D(5)),
        (at(3), KEY, D(2)),
        (at(10.5), KEY, D(3)),
        (at(10.7), KEY, D(-4)),
    ]
    # carried in 7; day 10 reaches 10 then falls to 6; day 11 at 6
    assert value_days(DELTAS, readings, days(2)) == D(16)


def test_same_instant_events_apply_in_key_order_and_a_negative_level_counts_zero() -> None:
    readings = [(at(11.5), ("s", "b"), D(-5)), (at(11.5), ("s", "a"), D(4))]
    # a level: the key order makes -5 the last one set; held below zero → counts 0
    assert value_days(LEVEL, readings, days(2)) == D(4)  # day 11 peaks at 4, then -5
    assert value_days(LEVEL, [(at(9), KEY, D(-5))], days(2)) == D(0)


def test_what_is_set_at_midnight_is_what_the_day_starts_with() -> None:
    readings = [(at(2), KEY, D(200)), (at(11), KEY, D(50))]
    assert value_days(LEVEL, readings, days(2)) == D(200 + 50)


def test_nothing_reported_holds_nothing() -> None:
    assert value_days(LEVEL, [], days(30)) == D(0)


@given(
    value=st.integers(min_value=0, max_value=10**9),
    count=st.integers(min_value=1, max_value=366),
)
def test_a_value_held_all_period_bills_as_itself(value: int, count: int) -> None:
    total = value_days(LEVEL, [(at(0), KEY, D(value))], days(count))
    assert total == value * count
    assert carried_quantity(total, count) == value


@pytest.mark.parametrize(
    ("value_days_", "period", "quantity"),
    [
        ("150", 30, "5"),
        ("181", 30, "6.033333333333333333"),
        ("1", 3, "0.333333333333333333"),
        ("2", 3, "0.666666666666666667"),
        ("3000", 30, "100"),
    ],
)
def test_the_quantity_is_the_average_to_18_places(
    value_days_: str, period: int, quantity: str
) -> None:
    found = carried_quantity(D(value_days_), period)
    assert str(found) == quantity  # never an exponent: 100, not 1E+2


@pytest.mark.parametrize("aggregation", [a for a in Aggregation if a not in ("sum", "latest")])
def test_only_levels_and_deltas_are_carried(aggregation: Aggregation) -> None:
    value = None if aggregation is Aggregation.COUNT else "v"
    with pytest.raises(InvalidField) as refused:
        new_meter("m", "t", aggregation, value, carried=True)
    assert (refused.value.field, refused.value.reason) == (
        "carried",
        "only latest (the value set) and sum (added to) meters carry a value",
    )
