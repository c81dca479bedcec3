"""Months of stored usage: ranges, names, the months made ahead and the first month kept."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from revsync.domain.usage import to_micros
from revsync.domain.usage_months import Month, first_kept, months_ahead


def test_a_month_is_its_utc_range_in_microseconds() -> None:
    november = Month(2026, 11)
    assert november.start_us == to_micros(datetime(2026, 11, 1, tzinfo=UTC))
    assert november.end_us == to_micros(datetime(2026, 12, 1, tzinfo=UTC))
    assert Month.of_micros(november.end_us - 1) == november
    assert Month.of_micros(november.end_us) == Month(2026, 12)
    assert november.name == "2026_11"
    assert Month.parse("2026_11") == november


@pytest.mark.parametrize("name", ["2026_13", "2026_1", "default", "26_11", "1969_12"])
def test_only_month_names_parse(name: str) -> None:
    assert Month.parse(name) is None


def test_months_wrap_over_years() -> None:
    assert Month(2026, 12).plus(1) == Month(2027, 1)
    assert Month(2027, 1).plus(-1) == Month(2026, 12)
    assert Month(2026, 11).plus(-24) == Month(2024, 11)


def test_the_month_of_now_and_those_ahead() -> None:
    now = datetime(2026, 11, 30, 23, 59, tzinfo=UTC)
    assert months_ahead(now, 2) == [Month(2026, 11), Month(2026, 12), Month(2027, 1)]


def test_the_first_month_kept_is_counted_back_from_the_month_of_now() -> None:
    # in Tokyo it is already December; months are UTC
    now = datetime.fromisoformat("2026-12-01T08:00:00+09:00")
    assert first_kept(now, 3) == Month(2026, 8)
