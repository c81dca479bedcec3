"""Scenario fixtures: ``world(plans=..., start=...)`` opens a fresh revsync for one scenario.

Every scenario runs on both backends: the embedded SQLite and PostgreSQL."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.scenarios.harness import World, make_world
from tests.support.databases import pg_copy, pg_drop, sqlite_copy


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def world(
    request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path
) -> Iterator[Callable[..., World]]:
    with ExitStack() as stack:

        def fresh_url() -> str:
            if request.param == "sqlite":
                return sqlite_copy(sqlite_template, Path(tempfile.mkdtemp(dir=tmp_path)))
            name, url = pg_copy(request.getfixturevalue("pg_template"))
            stack.callback(pg_drop, name)
            return url

        def open_world(**options: Any) -> World:
            return stack.enter_context(make_world(fresh_url(), **options))

        yield open_world
