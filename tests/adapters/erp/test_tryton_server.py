"""Smoke tests for the real trytond used by the ERP adapter tests (tests/support/tryton.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from revsync.sandbox import tryton as sandbox
from tests.support.tryton import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    MODULES,
    TrytonServer,
    cache_root,
    login,
    require_tryton,
    rpc,
    tryton_template,
)


@pytest.fixture(scope="session")
def tryton_template_path() -> Path:
    require_tryton()
    started = time.monotonic()
    path = tryton_template()
    print(f"\nTryton template ready in {time.monotonic() - started:.2f} s: {path}")
    return path


@pytest.fixture
def tryton(tryton_template_path: Path, tmp_path: Path) -> Iterator[TrytonServer]:
    server = TrytonServer(tmp_path / "tryton", tryton_template_path)
    started = time.monotonic()
    server.start()
    print(f"\ntrytond started on a copy in {time.monotonic() - started:.2f} s")
    yield server
    server.stop()


def context(server: TrytonServer, session: tuple[str, int, str]) -> dict[str, Any]:
    """The user's preferences: the context for model calls."""
    result: dict[str, Any] = rpc(
        server.url, server.database, "model.res.user.get_preferences", [True, {}], session=session
    )
    return result


def create_party(server: TrytonServer, name: str) -> int:
    session = login(server.url, server.database)
    ids = rpc(
        server.url,
        server.database,
        "model.party.party.create",
        [[{"name": name}], context(server, session)],
        session=session,
    )
    return int(ids[0])


def party_names(server: TrytonServer) -> list[str]:
    session = login(server.url, server.database)
    rows = rpc(
        server.url,
        server.database,
        "model.party.party.search_read",
        [[], 0, None, None, ["name"], context(server, session)],
        session=session,
    )
    return [row["name"] for row in rows]


def test_the_server_runs_the_accounting_modules(tryton: TrytonServer) -> None:
    user, uid, key = login(tryton.url, tryton.database)
    assert (user, uid > 0, len(key) > 10) == ("admin", True, True)
    session = (user, uid, key)

    preferences = context(tryton, session)
    assert isinstance(preferences, dict)
    assert "language" in preferences

    modules = rpc(
        tryton.url,
        tryton.database,
        "model.ir.module.search_read",
        [[["state", "=", "activated"]], 0, None, None, ["name"], {}],
        session=session,
    )
    activated = {row["name"] for row in modules}
    assert set(MODULES) <= activated


def test_a_killed_server_comes_back_on_the_same_url_with_its_data(tryton: TrytonServer) -> None:
    url = tryton.url
    party = create_party(tryton, "Acme")

    tryton.kill()
    assert not tryton.running
    started = time.monotonic()
    tryton.start()
    print(f"\ntrytond restarted after SIGKILL in {time.monotonic() - started:.2f} s")

    assert tryton.url == url
    session = login(url, tryton.database)
    found = rpc(
        url,
        tryton.database,
        "model.party.party.search",
        [[["name", "=", "Acme"]], 0, None, None, context(tryton, session)],
        session=session,
    )
    assert found == [party]


def test_two_servers_from_one_template_are_independent(
    tryton: TrytonServer, tryton_template_path: Path, tmp_path: Path
) -> None:
    other = TrytonServer(tmp_path / "other", tryton_template_path)
    other.start()
    try:
        assert other.url != tryton.url
        create_party(tryton, "Only in the first")
        assert "Only in the first" in party_names(tryton)
        assert "Only in the first" not in party_names(other)
    finally:
        other.stop()
        other.stop()  # idempotent


def test_a_cached_database_is_built_once_and_kept_per_recipe(tryton_template_path: Path) -> None:
    """Asked again with the same arguments, the cache answers with the same finished file and
    builds nothing; other admin credentials are another database, in another folder."""
    facts = (tryton_template_path.parent / "build.json").read_text()
    again = sandbox.cached_database(
        admin_password=ADMIN_PASSWORD, admin_email=ADMIN_EMAIL, cache=cache_root()
    )
    assert again == tryton_template_path
    assert (again.parent / "build.json").read_text() == facts  # not built again
    assert not list(again.parent.glob(".build-*"))  # no build left half-way
    other = sandbox._cache_folder(cache_root(), "another-password", ADMIN_EMAIL, MODULES)
    assert other.parent == again.parent.parent and other != again.parent
    assert "another-password" not in str(other)
