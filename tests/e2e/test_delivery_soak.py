"""Delivery as it runs in production: ``revsync worker`` in its own process, a real HTTP target
that fails about 30% of calls with mixed faults (429, 500, 503, resets, stalls past the
client timeout, commits whose answer is lost), and SIGKILLs at failpoints: after the target
committed but before the message was recorded, and in the middle of a batch.

The target counts what it committed under each idempotency key; every document must be there
exactly once, nothing may be given up, and the test prints the delivery delays after the last
recovery (promises 3, 4 and 5).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from statistics import quantiles
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from revsync.adapters.db.tables import outbox_messages
from revsync.bootstrap import build
from revsync.config import load_settings
from revsync.domain.delivery import idempotency_key
from revsync.ports.delivery import CaseFilter, NewMessage
from revsync.sandbox.faults import FaultServer
from tests.support.databases import sqlite_copy
from tests.support.workers import run_worker

MESSAGES = 5_000
CUSTOMERS = 200


@pytest.fixture
def target() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


def write_config(directory: Path, db_url: str, target: FaultServer) -> Path:
    config = {
        "database": {"url": db_url},
        "logging": {"level": "WARNING", "format": "console"},
        "worker": {"lease_seconds": 2, "poll_seconds": 0.05},
        "outbox": {
            "allow_private_hosts": ["127.0.0.1"],
            "destinations": [
                {
                    "name": "ledger",
                    "url": f"{target.url}/documents",
                    "lookup_url": f"{target.url}/documents/by-key/{{key}}",
                    "events": ["invoice.finalized"],
                    "timeout_seconds": 0.25,
                    "concurrency": 24,
                    "retry": {
                        "base_seconds": 0.05,
                        "max_delay_seconds": 0.5,
                        "max_attempts": 40,
                        "max_age_hours": 1,
                    },
                    "circuit": {"failure_threshold": 25, "open_seconds": 0.5},
                }
            ],
        },
    }
    path = directory / "revsync.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def enqueue(config: Path) -> list[str]:
    container = build(load_settings(config))
    try:
        messages = [
            NewMessage(
                destination="ledger",
                aggregate=f"customer:{n % CUSTOMERS}",
                kind="invoice.finalized",
                object_type="invoice",
                object_id=f"inv-{n:05d}",
                key=idempotency_key("invoice.finalized", f"inv-{n:05d}"),
                payload={"invoice": f"inv-{n:05d}", "total": "12.30"},
            )
            for n in range(MESSAGES)
        ]
        with container.unit_of_work() as uow:
            uow.outbox.add(messages, datetime.now(UTC))
            uow.commit()
        return [m.key for m in messages]
    finally:
        container.close()


def unfinished(config: Path) -> int:
    engine = sa.create_engine(load_settings(config).database.url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).where(
                        outbox_messages.c.status.in_(("pending", "in_flight"))
                    )
                ).scalar_one()
            )
    finally:
        engine.dispose()


def delays_after(config: Path, recovery: datetime) -> list[float]:
    """Seconds from the recovery (or the message's creation, if later) to its delivery, for the
    messages delivered after the last restart."""
    m = outbox_messages.c
    engine = sa.create_engine(load_settings(config).database.url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(m.created_at, m.delivered_at).where(m.status == "delivered")
            ).all()
    finally:
        engine.dispose()
    found = []
    for created, delivered in rows:
        start = max(_utc(created), recovery)
        if _utc(delivered) >= recovery:
            found.append((_utc(delivered) - start).total_seconds())
    return found


def _utc(value: Any) -> datetime:
    moment: datetime = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_five_thousand_messages_through_faults_and_three_kills_arrive_exactly_once(
    sqlite_template: Path, tmp_path: Path, target: FaultServer
) -> None:
    config = write_config(tmp_path, sqlite_copy(sqlite_template, tmp_path), target)
    keys = enqueue(config)
    target.chaos(0.3, seed=20261127, retry_after=0, stall_seconds=0.5)
    started = time.monotonic()

    # three kills: right after the target committed (twice), and with a batch of attempts
    # made but not recorded
    for failpoint in (
        "relay.after_send=kill:1@1500",
        "relay.before_record=kill:1@150",
        "relay.after_send=kill:1@2500",
    ):
        code = run_worker(config, failpoint, None, deadline_seconds=180)
        assert code == -signal.SIGKILL, f"expected a SIGKILL at {failpoint}, got {code}"
        assert unfinished(config) > 0
    recovery = datetime.now(UTC)
    assert run_worker(config, None, lambda: unfinished(config) == 0, deadline_seconds=180) == 0

    commits = target.commits()
    twice = {k: n for k, n in commits.items() if n > 1}
    assert twice == {}, f"{len(twice)} documents committed more than once"
    assert set(commits) == set(keys), f"{len(set(keys) - set(commits))} documents never arrived"
    assert unfinished(config) == 0
    container = build(load_settings(config))
    try:
        assert container.cases.find(CaseFilter(), after=None, limit=10) == []
    finally:
        container.close()

    stats = target.stats()
    faulted = stats["faults"] / stats["posts"]
    assert 0.2 < faulted < 0.4
    delays = delays_after(config, recovery)
    cuts = quantiles(delays, n=100)
    print(
        f"\nsoak: {MESSAGES:,} messages, {stats['posts']:,} posts ({faulted:.0%} faulted: "
        + ", ".join(f"{k[6:]} {v}" for k, v in stats.items() if k.startswith("fault_") and v)
        + f"), {stats['lookups']:,} lookups, 3 kills, {time.monotonic() - started:.1f} s; "
        f"after recovery: {len(delays):,} delivered, p50 {cuts[49]:.2f} s, p99 {cuts[98]:.2f} s"
    )
