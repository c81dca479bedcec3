"""Delivery benchmark: how fast ``revsync worker`` drains an outbox backlog to an HTTP target.

Set-up (not timed): a SQLite database with N messages (200 aggregates) for one destination,
and the fault-injecting target (``python -m revsync.sandbox.faults``) in its own process.

(a) baseline: the same number of POSTs from a plain httpx client with the same concurrency to
    the same target — what the network, the target and httpx cost without revsync.
(b) relay: ``revsync worker`` in its own process drains the backlog with no faults.
(c) relay with faults: a fresh backlog, 30% of calls failing with mixed faults.

Prints messages/s, the ratio to (a), p50/p99 of an attempt (from the attempts table) and the
worker's peak RSS; writes the "Delivery" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa
import yaml
from _common import machine, write_section

from revsync.adapters.db.migrate import upgrade
from revsync.adapters.db.tables import outbox_attempts, outbox_messages
from revsync.bootstrap import build
from revsync.config import load_settings
from revsync.domain.delivery import idempotency_key
from revsync.ports.delivery import NewMessage

ROOT = Path(__file__).resolve().parents[1]
CONCURRENCY = 16


def start_target() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "revsync.sandbox.faults", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    match = re.search(r"http://\S+", line)
    assert match, line
    return process, match.group(0)


def prepare(
    work: Path, url: str, messages: int, tag: str, database_url: str = "sqlite:///revsync.db"
) -> Path:
    """A config delivering to the target at ``url`` and a backlog of ``messages`` in its
    database (SQLite in ``work / tag``, or ``database_url``)."""
    directory = work / tag
    directory.mkdir(parents=True)
    config = directory / "revsync.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database": {"url": database_url},
                "logging": {"level": "WARNING"},
                "worker": {"lease_seconds": 10, "poll_seconds": 0.05},
                "outbox": {
                    "allow_private_hosts": ["127.0.0.1"],
                    "destinations": [
                        {
                            "name": "target",
                            "url": f"{url}/documents",
                            "lookup_url": f"{url}/documents/by-key/{{key}}",
                            "events": ["invoice.finalized"],
                            "timeout_seconds": 1,
                            "concurrency": CONCURRENCY,
                            "retry": {
                                "base_seconds": 0.05,
                                "max_delay_seconds": 0.5,
                                "max_attempts": 50,
                            },
                            "circuit": {"failure_threshold": 50},
                        }
                    ],
                },
            }
        )
    )
    container = build(load_settings(config))
    try:
        upgrade(container.engine)
        batch = [
            NewMessage(
                destination="target",
                aggregate=f"customer:{n % 200}",
                kind="invoice.finalized",
                object_type="invoice",
                object_id=f"{tag}-{n}",
                key=idempotency_key("invoice.finalized", tag, str(n)),
                payload={"invoice": f"{tag}-{n}", "total": "12.30", "lines": [{"amount": "12.30"}]},
            )
            for n in range(messages)
        ]
        with container.unit_of_work() as uow:
            uow.outbox.add(batch, datetime.now(UTC))
            uow.commit()
    finally:
        container.close()
    return config


def baseline(url: str, messages: int) -> float:
    async def main() -> float:
        limits = httpx.Limits(max_connections=CONCURRENCY + 1)
        async with httpx.AsyncClient(limits=limits, timeout=10) as client:
            gate = asyncio.Semaphore(CONCURRENCY)

            async def one(n: int) -> None:
                async with gate:
                    response = await client.post(
                        f"{url}/documents",
                        json={"invoice": f"base-{n}", "total": "12.30"},
                        headers={"Idempotency-Key": f"base-{n}"},
                    )
                    response.raise_for_status()

            started = time.perf_counter()
            await asyncio.gather(*(one(n) for n in range(messages)))
            return time.perf_counter() - started

    return asyncio.run(main())


def drain(config: Path) -> tuple[float, float]:
    """Run the worker until every message is delivered; (seconds, peak RSS MB)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVSYNC_")}
    engine = sa.create_engine(f"sqlite:///{config.parent / 'revsync.db'}")
    m = outbox_messages.c
    waiting = sa.select(sa.func.count()).where(m.status.in_(("pending", "in_flight")))
    started = time.perf_counter()
    worker = subprocess.Popen(
        [sys.executable, "-m", "revsync", "worker", "--config", str(config)],
        env=env,
        cwd=config.parent,
    )
    peak = 0.0
    try:
        while True:
            with engine.connect() as conn:
                if conn.execute(waiting).scalar_one() == 0:
                    break
            peak = max(peak, _rss_mb(worker.pid))
            time.sleep(0.1)
        seconds = time.perf_counter() - started
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        engine.dispose()
    return seconds, peak


def attempt_ms(config: Path) -> tuple[float, float]:
    engine = sa.create_engine(f"sqlite:///{config.parent / 'revsync.db'}")
    a = outbox_attempts.c
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(a.started_at, a.finished_at)).all()
    finally:
        engine.dispose()
    spans = sorted(
        (datetime.fromisoformat(str(f)) - datetime.fromisoformat(str(s))).total_seconds() * 1000
        for s, f in rows
    )
    cuts = statistics.quantiles(spans, n=100)
    return cuts[49], cuts[98]


def _rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    work = ROOT / ".bench" / "delivery"
    shutil.rmtree(work, ignore_errors=True)
    target, url = start_target()
    try:
        clean = prepare(work, url, args.messages, "clean")
        faulty = prepare(work, url, args.messages, "faulty")
        print(f"set-up: {args.messages:,} messages per run, target {url}", flush=True)
        base = baseline(url, args.messages)
        print(f"(a) baseline: {base:.2f} s", flush=True)
        clean_s, clean_rss = drain(clean)
        clean_p50, clean_p99 = attempt_ms(clean)
        print(f"(b) relay: {clean_s:.2f} s", flush=True)
        httpx.post(f"{url}/_faults", json={"chaos": {"rate": 0.3, "seed": 7}}).raise_for_status()
        faulty_s, faulty_rss = drain(faulty)
        faulty_p50, faulty_p99 = attempt_ms(faulty)
        stats = httpx.get(f"{url}/_stats").json()
    finally:
        target.send_signal(signal.SIGTERM)
        target.wait(timeout=10)
    n = args.messages
    table = (
        "| run | seconds | messages/s | vs baseline | attempt p50 ms | attempt p99 ms | worker peak RSS MB |\n"
        "|---|---|---|---|---|---|---|\n"
        f"| (a) baseline: plain httpx POSTs, {CONCURRENCY} at a time | {base:.2f} | {n / base:,.0f} | 1.00 | | | |\n"
        f"| (b) revsync worker, no faults | {clean_s:.2f} | {n / clean_s:,.0f} | {base / clean_s:.2f} | {clean_p50:.1f} | {clean_p99:.1f} | {clean_rss:.0f} |\n"
        f"| (c) revsync worker, 30% faults | {faulty_s:.2f} | {n / faulty_s:,.0f} | {base / faulty_s:.2f} | {faulty_p50:.1f} | {faulty_p99:.1f} | {faulty_rss:.0f} |"
    )
    print(table)
    print(f"target: {stats}")
    if not args.no_write:
        body = (
            f"Command: `python benchmarks/delivery.py --messages {n}` ({machine()}).\n"
            f"Measured {datetime.now(UTC):%Y-%m-%d}. A backlog of {n:,} messages in 200 aggregates, "
            f"one destination with concurrency {CONCURRENCY}, the fault-injecting target in its own "
            "process; (c) fails 30% of calls (429, 500, 503, resets, lost answers, 30 s stalls cut "
            "by the 1 s timeout). The run is timed from starting the worker (including its start-up) "
            "until no message waits.\n\n" + table
        )
        write_section("Delivery", body)


if __name__ == "__main__":
    main()
