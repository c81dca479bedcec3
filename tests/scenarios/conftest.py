"""Scenario fixtures: ``world(plans=..., start=...)`` opens a fresh revsync for one scenario."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.scenarios.harness import World, make_world


@pytest.fixture
def world(sqlite_template: Path, tmp_path: Path) -> Iterator[Callable[..., World]]:
    with ExitStack() as stack:

        def open_world(**options: Any) -> World:
            return stack.enter_context(make_world(sqlite_template, tmp_path, **options))

        yield open_world
