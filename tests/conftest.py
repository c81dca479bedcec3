"""Shared fixtures: frozen clock, fresh databases (SQLite, and PostgreSQL where asked),
a wired container, the HTTP API in process, and API keys per scope."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from fastapi.testclient import TestClient

from revsync.bootstrap import Container, build
from revsync.config import Settings
from revsync.entrypoints.api.app import create_app
from tests.golden.ledger import pytest_runtest_logreport, pytest_terminal_summary
from tests.support import databases, erp, tryton
from tests.support.clock import FrozenClock, utc

#: the golden grid's coverage ledger, printed at the end of a run that played it (here, so that
#: the controller of a ``-n 2`` run has it whatever path it was given)
__all__ = ["pytest_runtest_logreport", "pytest_terminal_summary"]

# the clock-ahead pass (scripts/test-clock-ahead) looks for what depends on today's date, which
# a few examples per property find as well as a hundred
hypothesis.settings.register_profile("clock-ahead", max_examples=20)
# the demos the tests play keep their built ERP database in the tests' cache (a fresh one per
# CI run), never in the user's ~/.cache/revsync
os.environ.setdefault("REVSYNC_CACHE", str(tryton.cache_root()))

if os.environ.get("REVSYNC_HYPOTHESIS_PROFILE"):
    hypothesis.settings.load_profile(os.environ["REVSYNC_HYPOTHESIS_PROFILE"])

#: the moment tests run at unless they move the clock
NOW = utc(2026, 11, 15, 12, 0, 0)

TEST_METERS: list[dict[str, Any]] = [
    {
        "key": "api_calls",
        "event_type": "api.request",
        "aggregation": "count",
        "group_by": ["endpoint", "environment"],
    },
    {
        "key": "llm_tokens",
        "event_type": "llm.completion",
        "aggregation": "sum",
        "value": "tokens",
        "filters": {"environment": "production"},
        "group_by": ["model"],
    },
    {"key": "storage_gb", "event_type": "storage.snapshot", "aggregation": "max", "value": "gb"},
    {
        "key": "active_users",
        "event_type": "app.session",
        "aggregation": "unique_count",
        "value": "user",
    },
    {"key": "seats", "event_type": "seats.reported", "aggregation": "latest", "value": "seats"},
]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return databases.migrated_sqlite_template(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    databases.require_postgres()
    name = databases.migrated_pg_template()
    yield name
    databases.pg_drop(name)


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    return databases.sqlite_copy(sqlite_template, tmp_path)


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    name, url = databases.pg_copy(pg_template)
    yield url
    databases.pg_drop(name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_db_url(request: pytest.FixtureRequest) -> str:
    """A fresh database on each backend: storage and ingestion tests run on both."""
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """A fresh embedded database (the whole suite runs on SQLite)."""
    return sqlite_url


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


def make_settings(url: str, **overrides: Any) -> Settings:
    """Settings for tests: the given database and the test meters."""
    values: dict[str, Any] = {"database": {"url": url}, "meters": TEST_METERS}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url)


@pytest.fixture
def container(settings: Settings, clock: FrozenClock) -> Iterator[Container]:
    wired = build(settings, clock=clock)
    yield wired
    wired.close()


@pytest.fixture
def api(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container)) as client:
        yield client


def issue_key(container: Container, *roles: str) -> dict[str, str]:
    """Authorization headers for a new key with ``roles``."""
    issued = container.api_keys.create(f"test {' '.join(roles)}", list(roles), "test")
    return {"Authorization": f"Bearer {issued.secret}"}


@pytest.fixture
def admin(container: Container) -> dict[str, str]:
    return issue_key(container, "admin")


@pytest.fixture
def ingest(container: Container) -> dict[str, str]:
    return issue_key(container, "ingest")


@pytest.fixture
def reader(container: Container) -> dict[str, str]:
    return issue_key(container, "read")


@pytest.fixture(scope="session")
def erp_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Tryton database provisioned for revsync, made once per session (and worker)."""
    tryton.require_tryton()
    return erp.provisioned_template(tryton.tryton_template(), tmp_path_factory.mktemp("erp"))


@pytest.fixture
def erp_server(erp_template: Path, tmp_path: Path) -> Iterator[tryton.TrytonServer]:
    """A real trytond on a copy of the provisioned database."""
    server = tryton.TrytonServer(tmp_path / "erp", erp_template)
    server.start()
    yield server
    server.stop()
