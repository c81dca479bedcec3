"""When a job is due: every so often, or on a cron expression (UTC). Pure: times are passed
in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from croniter import croniter


@dataclass(frozen=True, slots=True)
class Schedule:
    """Every ``every``, or at the times of ``cron`` (five fields, read in UTC)."""

    every: timedelta | None = None
    cron: str | None = None

    def __post_init__(self) -> None:
        if (self.every is None) == (self.cron is None):
            raise ValueError("a schedule is an interval or a cron expression")
        if self.every is not None and self.every <= timedelta(0):
            raise ValueError("an interval must be positive")
        if self.cron is not None and not valid_cron(self.cron):
            raise ValueError(f"{self.cron!r} is not a cron expression of five fields")

    def due_at(self, last_started: datetime | None, now: datetime) -> datetime:
        """When the next run is due, given when the last one started: at once when there
        was none; otherwise one interval later, or the first cron time after it (a worker
        that was down for several turns runs once, not once per missed turn)."""
        if last_started is None:
            return now
        if self.every is not None:
            return last_started + self.every
        assert self.cron is not None
        after = last_started.astimezone(UTC)
        due: datetime = croniter(self.cron, after).get_next(datetime)
        return due if due.tzinfo else due.replace(tzinfo=UTC)

    def describe(self) -> str:
        """The schedule in words, for logs and listings."""
        if self.every is not None:
            return f"every {self.every.total_seconds():g} s"
        return f"cron {self.cron} (UTC)"


def valid_cron(expression: str) -> bool:
    """A standard cron expression: five fields (minute hour day month weekday)."""
    return len(expression.split()) == 5 and bool(croniter.is_valid(expression))
