"""Tryton's JSON-RPC client against a real trytond: values travel exactly, an expired session
is renewed once, and errors are sorted into refusals, warnings, unavailability and bugs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from revsync.adapters.connectors.erp.rpc import (
    TrytonAuthError,
    TrytonRpc,
    TrytonServerError,
    TrytonUnavailable,
    TrytonUserError,
    decode,
    encode,
)
from tests.support import tryton


@pytest.fixture
def short_sessions(tmp_path: Path) -> Iterator[tryton.TrytonServer]:
    tryton.require_tryton()
    server = tryton.TrytonServer(tmp_path / "t", tryton.tryton_template(), session_timeout=2)
    server.start()
    yield server
    server.stop()


def client(server: tryton.TrytonServer, password: str = tryton.ADMIN_PASSWORD) -> TrytonRpc:
    return TrytonRpc(server.url, server.database, tryton.ADMIN_LOGIN, password)


def test_values_travel_exactly() -> None:
    values = [
        Decimal("0.0000025"),
        date(2026, 11, 27),
        timedelta(days=15),
        {"a": [Decimal("-1.10")]},
    ]
    assert decode(encode(values)) == values
    assert encode(Decimal("12.30")) == {"__class__": "Decimal", "decimal": "12.30"}


def test_an_expired_session_is_renewed_once(short_sessions: tryton.TrytonServer) -> None:
    async def go() -> tuple[list[int], list[int]]:
        rpc = client(short_sessions)
        try:
            before = await rpc.model("party.party", "create", [{"name": "Before"}])
            await asyncio.sleep(3)  # the session times out on the server
            after = await rpc.model("party.party", "create", [{"name": "After"}])
            return before, after
        finally:
            await rpc.aclose()

    before, after = asyncio.run(go())
    assert before and after and before != after


def test_errors_are_sorted(short_sessions: tryton.TrytonServer) -> None:
    async def go() -> None:
        rpc = client(short_sessions)
        try:
            await rpc.model("party.party", "create", [{"name": "Acme", "code": "X1"}])
            with pytest.raises(TrytonUserError, match="The code on party must be unique"):
                await rpc.model("party.party", "create", [{"name": "Acme again", "code": "X1"}])
            with pytest.raises(TrytonServerError):
                await rpc.model("party.party", "create", [{"nam": "typo"}])
        finally:
            await rpc.aclose()
        wrong = client(short_sessions, password="not-the-password")
        try:
            with pytest.raises(TrytonAuthError):
                await wrong.model("party.party", "search", [], 0, 1, None)
        finally:
            await wrong.aclose()

    asyncio.run(go())


def test_a_stopped_server_is_unavailable_and_nothing_was_sent(
    short_sessions: tryton.TrytonServer,
) -> None:
    short_sessions.stop()

    async def go() -> None:
        rpc = client(short_sessions)
        try:
            with pytest.raises(TrytonUnavailable) as error:
                await rpc.model("party.party", "search", [], 0, 1, None)
            assert error.value.sent is False
        finally:
            await rpc.aclose()

    started = time.monotonic()
    asyncio.run(go())
    assert time.monotonic() - started < 10
