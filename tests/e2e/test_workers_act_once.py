"""Many processes act once: three ``revsync worker`` processes on one PostgreSQL database, over
several cycles of their jobs. Each job runs once per turn (the CRM sync every 5 s, billing on
its cron schedule), never twice at once; a destination that refuses every connection gets one
probe per open period of its circuit across the three relays; the CRM sees one process's
worth of requests; a contract changed in the CRM is amended once."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from revsync.adapters.db.tables import outbox_attempts, outbox_messages
from revsync.bootstrap import Container, apply_configuration, build
from revsync.config import load_settings
from revsync.domain.delivery import idempotency_key
from revsync.domain.subscriptions import Change
from revsync.ports.delivery import NewMessage
from revsync.sandbox.crm import CrmSandbox
from tests.support.server import clean_env, free_port

WORKERS = 3
RUN_SECONDS = 17.0
CRM_EVERY = 5.0
OPEN_SECONDS = 1.0
GROWTH = {
    "code": "growth",
    "name": "Growth",
    "currency": "EUR",
    "interval": "month",
    "charges": [
        {
            "key": "platform",
            "model": "flat",
            "description": "Platform",
            "timing": "in_advance",
            "amount": "500.00",
        }
    ],
}


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[CrmSandbox]:
    with CrmSandbox(tmp_path / "crm") as running:
        yield running


@pytest.fixture
def config(pg_url: str, tmp_path: Path, sandbox: CrmSandbox) -> Path:
    path = tmp_path / "revsync.yaml"
    settings: dict[str, Any] = {
        "database": {"url": pg_url},
        "logging": {"level": "INFO", "format": "json"},
        "plans": [GROWTH],
        "billing": {"grace_period_hours": 0, "schedule": "* * * * *"},
        "crm": {
            "url": sandbox.url,
            "ca_file": str(sandbox.cert_path),
            "client_secret_env": "REVSYNC_TEST_CRM_SECRET",
            "plans": {"Growth": "growth"},
            "sync_interval_seconds": CRM_EVERY,
        },
        "worker": {"lease_seconds": 5, "poll_seconds": 0.05, "job_lease_seconds": 10},
        "outbox": {
            "allow_private_hosts": ["127.0.0.1"],
            "destinations": [
                {
                    "name": "down",  # nothing listens there: every connection is refused
                    "url": f"http://127.0.0.1:{free_port()}/hooks",
                    "events": ["invoice.finalized"],
                    "concurrency": 1,
                    "timeout_seconds": 1,
                    "retry": {"base_seconds": 0.05, "max_delay_seconds": 0.1},
                    "circuit": {"failure_threshold": 2, "open_seconds": OPEN_SECONDS},
                }
            ],
        },
    }
    path.write_text(yaml.safe_dump(settings))
    return path


@pytest.fixture
def container(
    config: Path, monkeypatch: pytest.MonkeyPatch, sandbox: CrmSandbox
) -> Iterator[Container]:
    monkeypatch.setenv("REVSYNC_TEST_CRM_SECRET", sandbox.credentials.client_secret)
    built = build(load_settings(config))
    apply_configuration(built, "test")
    yield built
    built.close()


def start_workers(config: Path, directory: Path, secret: str) -> list[subprocess.Popen[bytes]]:
    env = {**clean_env(), "REVSYNC_TEST_CRM_SECRET": secret}
    started = []
    for n in range(WORKERS):
        log = (directory / f"worker-{n}.log").open("wb")
        started.append(
            subprocess.Popen(
                [sys.executable, "-m", "revsync", "worker", "--config", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=directory,
                env=env,
            )
        )
    return started


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def test_three_workers_run_each_job_once_per_turn(
    container: Container, sandbox: CrmSandbox, config: Path, tmp_path: Path
) -> None:
    account = sandbox.create_record("Account", {"Name": "Acme", "Revsync_Customer_Id__c": "acme"})
    contract = sandbox.create_record(
        "Contract",
        {
            "AccountId": account,
            "Status": "Activated",
            "StartDate": "2026-09-01",
            "Plan__c": "Growth",
            "Seats__c": 5,
            "Renewal_Date__c": "2027-09-01",
        },
    )
    # what one sync costs in CRM requests, from a fresh client (as each worker has)
    sandbox.reset_request_counts()
    asyncio.run(container.pull_crm())
    one_sync = sum(sandbox.request_counts().values())
    sandbox.reset_request_counts()
    with container.unit_of_work() as uow:  # messages for the destination that is down
        uow.outbox.add(
            [
                NewMessage(
                    "down",
                    f"customer:{n}",
                    "invoice.finalized",
                    "invoice",
                    f"i{n}",
                    idempotency_key("invoice.finalized", f"i{n}"),
                    {"n": n},
                )
                for n in range(5)
            ],
            datetime.now(UTC),
        )
        uow.commit()

    workers = start_workers(config, tmp_path, sandbox.credentials.client_secret)
    try:
        deadline = time.monotonic() + 60  # the processes start (slowly on a loaded machine)
        while not container.jobs.runs("crm_sync", 1):
            assert time.monotonic() < deadline, _logs(tmp_path)
            time.sleep(0.05)
        time.sleep(RUN_SECONDS / 2)
        sandbox.update_record("Contract", contract, {"Seats__c": 8})  # seen by the next sync
        time.sleep(RUN_SECONDS / 2)
        assert all(w.poll() is None for w in workers), _logs(tmp_path)
    finally:
        stop_workers(workers)

    runs = {
        name: sorted(container.jobs.runs(name, 100), key=lambda r: r.started_at)
        for name in ("crm_sync", "billing")
    }
    crm_runs = runs["crm_sync"]
    # the first turn at once, then one per interval: 17 s after it hold 4 turns (3 if one
    # lagged on a loaded machine)
    assert 3 <= len(crm_runs) <= 4, [(r.owner, r.started_at) for r in crm_runs]
    assert {r.outcome for r in crm_runs} == {"ok"}, [r.summary for r in crm_runs]
    for earlier, later in pairwise(crm_runs):
        assert earlier.finished_at is not None and earlier.finished_at <= later.started_at
        assert (later.started_at - earlier.started_at).total_seconds() >= CRM_EVERY - 0.05
    # billing: once at start (it never ran), then once per minute at most
    minutes = [r.started_at.replace(second=0, microsecond=0) for r in runs["billing"]]
    assert 1 <= len(minutes) <= 2 and len(set(minutes)) == len(minutes)
    # the CRM saw one process's worth of syncs, not three: each read accounts and contracts
    # once; beyond that, a token, the describe and the signals written
    requests = sandbox.request_counts()
    assert requests[("GET", "queryAll")] == 2 * len(crm_runs), requests
    assert sum(requests.values()) <= (one_sync + 2) * len(crm_runs), requests
    # the seat change was amended once
    subscription = container.subscriptions.get(f"crm-{contract}")
    changes = [(t.change, t.seats) for t in subscription.terms]
    assert changes == [(Change.CREATED, 5), (Change.SEAT_CHANGE, 8)]
    # one probe per open period across the three relays: after the circuit opened
    # (two failures, and what was in flight then), attempts are an open period apart
    # (the attempts of the destination that is down only: the CRM's signals, pushed after each
    # sync that changed them, have attempts of their own)
    a, m = outbox_attempts.c, outbox_messages.c
    down = (
        sa.select(a.started_at)
        .join(outbox_messages, m.id == a.message_id)
        .where(m.destination == "down")
        .order_by(a.started_at)
    )
    with container.engine.connect() as conn:
        starts = [row[0] for row in conn.execute(down)]
    settled_in = starts[0] + timedelta(seconds=2)  # the first failures open it at once
    probes = [s for s in starts if s >= settled_in]
    window = (probes[-1] - probes[0]).total_seconds()
    assert window >= RUN_SECONDS / 2
    # (an attempt's start is recorded when its task runs, a moment after it was let through:
    # count them rather than measure each gap)
    assert len(probes) <= window / OPEN_SECONDS + 1, [str(p) for p in probes]


def _logs(directory: Path) -> str:
    return "\n".join(
        f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(directory.glob("worker-*.log"))
    )
