"""Helpers for delivery tests: a destination on the fault-injecting server, message states,
and running a relay until a condition holds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from revsync.adapters.db.tables import outbox_messages
from revsync.adapters.outbox.relay import Relay
from revsync.bootstrap import Container
from revsync.sandbox.faults import FaultServer


def destination(target: FaultServer, **overrides: Any) -> dict[str, Any]:
    """A destination on the fault server's document store, with lookups and quick retries."""
    return {
        "name": "books",
        "url": f"{target.url}/documents",
        "lookup_url": f"{target.url}/documents/by-key/{{key}}",
        "events": ["invoice.finalized", "credit_note.issued", "invoice.voided"],
        "timeout_seconds": 0.5,
        "concurrency": 4,
        "retry": {"base_seconds": 0.02, "max_delay_seconds": 0.1, "max_attempts": 6},
        "circuit": {"failure_threshold": 50, "open_seconds": 0.3},
        **overrides,
    }


def outbox_settings(*destinations: dict[str, Any], allow: bool = True) -> dict[str, Any]:
    """Settings overrides: these destinations, loopback allowed, a quick worker."""
    return {
        "outbox": {
            "destinations": list(destinations),
            "allow_private_hosts": ["127.0.0.1"] if allow else [],
        },
        "worker": {"lease_seconds": 2, "poll_seconds": 0.02},
    }


def statuses(container: Container) -> dict[str, str]:
    """object id → message status."""
    m = outbox_messages.c
    with container.engine.connect() as conn:
        return dict(conn.execute(sa.select(m.object_id, m.status)).all())


def settled(container: Container) -> bool:
    """No message waits or is in flight."""
    return all(s not in ("pending", "in_flight") for s in statuses(container).values())


def deliver_until(
    container: Container,
    done: Callable[[], bool],
    *,
    timeout: float = 60.0,
    relay: Relay | None = None,
) -> Relay:
    """Run a relay until ``done()`` holds, then stop it cleanly (``timeout`` bounds the wait
    on a loaded machine; it measures nothing)."""

    async def main() -> Relay:
        running = relay or container.relay("test-relay")
        stop = asyncio.Event()
        task = asyncio.create_task(running.run(stop))
        deadline = time.monotonic() + timeout
        try:
            while not await asyncio.to_thread(done):
                assert time.monotonic() < deadline, (
                    f"not done after {timeout} s: {statuses(container)}"
                )
                assert not task.done(), task.exception()
                await asyncio.sleep(0.02)
        finally:
            stop.set()
            await task
            await running.aclose()
        return running

    return asyncio.run(main())
