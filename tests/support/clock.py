"""A clock tests can set and move (ARCHITECTURE promise 10), in process and in the CLI."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from click.testing import Result
from typer.testing import CliRunner

from revsync.entrypoints.cli.context import Injected, injecting


class FrozenClock:
    """Stands still until moved."""

    def __init__(self, now: datetime) -> None:
        self._now = now
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, now: datetime) -> None:
        with self._lock:
            self._now = now

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta


def utc(*args: int) -> datetime:
    """``datetime(*args, tzinfo=UTC)``."""
    return datetime(*args, tzinfo=UTC)


class FrozenCliRunner(CliRunner):
    """Runs ``revsync`` commands in process with the clock injected."""

    def __init__(self, clock: FrozenClock) -> None:
        super().__init__()
        self.clock = clock

    def invoke(self, *args: Any, **kwargs: Any) -> Result:
        with injecting(Injected(clock=self.clock)):
            return super().invoke(*args, **kwargs)
