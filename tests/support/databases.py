"""Fresh databases per test, copied from a template migrated once per session.

SQLite: the template file is copied (milliseconds). PostgreSQL: ``CREATE DATABASE … TEMPLATE``
on the server at 127.0.0.1:5432 (or ``$REVSYNC_TEST_PG``). When ``CI=true`` a missing
PostgreSQL fails the run; elsewhere the PostgreSQL variants are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from revsync.adapters.db.engine import create_db_engine
from revsync.adapters.db.migrate import upgrade

PG_ADMIN_URL = os.environ.get("REVSYNC_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def in_ci() -> bool:
    """True on CI, where every real service must be present."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def migrated_sqlite_template(directory: Path) -> Path:
    """Create and migrate a SQLite file once; return its path."""
    path = directory / "template.db"
    engine = create_db_engine(f"sqlite:///{path}", pool_size=1)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
    return path


def sqlite_copy(template: Path, directory: Path) -> str:
    """A fresh database URL: a copy of the template."""
    target = directory / "revsync.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    dsn = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    return psycopg.connect(dsn, autocommit=True, connect_timeout=3)


def require_postgres() -> None:
    """Fail on CI, skip elsewhere, when the PostgreSQL server does not answer."""
    try:
        with _admin() as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as error:
        message = f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {error}"
        if in_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def _url_for(name: str) -> str:
    return sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def migrated_pg_template() -> str:
    """Create and migrate a template database for this test process; return its name."""
    name = f"revsync_tpl_{uuid.uuid4().hex[:12]}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    engine = create_db_engine(_url_for(name), pool_size=1)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return name


def pg_copy(template: str) -> tuple[str, str]:
    """A fresh database copied from ``template``: (name, URL)."""
    name = f"revsync_t_{uuid.uuid4().hex[:12]}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return name, _url_for(name)


def pg_drop(name: str) -> None:
    """Drop a test database, closing whatever still connects to it."""
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
