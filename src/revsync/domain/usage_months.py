"""Months of stored usage (UTC): the ranges PostgreSQL keeps events in, one table per month
(SQLite archives by them, one Parquet file per month), and which months are old enough to
archive.

A month is ``[start, end)`` in days since the epoch (an event's ``day``: its ``time`` in UTC),
or in microseconds. With
archiving on (``archive_after``, in months), the months before :func:`first_kept` are closed:
their events are archived, and nothing may change their usage any more (an event stamped in
one is refused, an amendment effective in one too), so billing never rates them again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from revsync.domain.usage import from_micros, to_micros, utc_day

_NAME = re.compile(r"^(\d{4})_(\d{2})$")


@dataclass(frozen=True, order=True, slots=True)
class Month:
    """A calendar month in UTC."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12 or not 1970 <= self.year <= 9998:
            raise ValueError(f"no such month: {self.year}-{self.month}")

    @classmethod
    def of(cls, moment: datetime) -> Month:
        """The month holding an aware ``moment``."""
        utc = moment.astimezone(UTC)
        return cls(utc.year, utc.month)

    @classmethod
    def of_micros(cls, time_us: int) -> Month:
        return cls.of(from_micros(time_us))

    @classmethod
    def parse(cls, name: str) -> Month | None:
        """The month named ``YYYY_MM`` (as in a table name), or None."""
        found = _NAME.match(name)
        if found is None:
            return None
        try:
            return cls(int(found[1]), int(found[2]))
        except ValueError:
            return None

    @property
    def name(self) -> str:
        """``2026_10``: the suffix of the month's table."""
        return f"{self.year:04d}_{self.month:02d}"

    def plus(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    @property
    def start_us(self) -> int:
        return to_micros(self.start())

    @property
    def end_us(self) -> int:
        return self.plus(1).start_us

    @property
    def start_day(self) -> int:
        """The month's first day, in days since the epoch."""
        return utc_day(self.start_us)

    @property
    def end_day(self) -> int:
        """The first day of the next month, in days since the epoch."""
        return utc_day(self.end_us)


def months_ahead(now: datetime, ahead: int) -> list[Month]:
    """The month of ``now`` and the ``ahead`` months after it."""
    first = Month.of(now)
    return [first.plus(n) for n in range(ahead + 1)]


def first_kept(now: datetime, archive_after: int) -> Month:
    """The oldest month not archived: ``archive_after`` months before the month of ``now``
    (the months before it are closed)."""
    return Month.of(now).plus(-archive_after)
