"""Entitlement checks over HTTP against ``GET /healthz`` in the same run.

    python benchmarks/entitlements.py                       # writes docs/benchmarks.md
    python benchmarks/entitlements.py --requests 20000 --no-write

Set-up (not timed): 1,000 customers with one product tenant each, each subscribed to a plan
with a boolean feature, an ``api_calls`` quota and seats; 100 ``api.request`` events each this
month (100,000 in all); a read key. ``revsync serve`` runs them (one process, SQLite).

(a) baseline: ``GET /healthz`` (no key, no database) over the same connections;
(b) ``POST /v1/entitlements/check`` by tenant for ``api_calls`` (quantity 1), the 1,000
    tenants in turn: each customer's snapshot is answered from memory and read again in the
    background every ``cache_seconds`` (5), on from its last read — 200 reads a second beside
    the checks. (a) outlasts twice ``cache_seconds``; the customers checked in the warm-up are
    kept read meanwhile (``warm_seconds``, 300), so (b)'s first pass answers from memory too
    (``--warm-seconds 0``: it reads every snapshot before answering);
(c) the same, over 50 tenants (a product checking its active tenants).

One uvloop client process, 4 keep-alive connections. Printed: checks/s, p50, p99 and the ratio
to the baseline; the target is ≥ 2,000 checks/s with p99 < 5 ms.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from _common import ROOT, LoadResult, Server, free_port, machine, run_requests, write_section

from revsync.adapters.db.migrate import upgrade
from revsync.application.customers import PutCustomer
from revsync.application.ingestion import IngestContext
from revsync.application.subscriptions import CreateSubscription
from revsync.bootstrap import apply_configuration, build
from revsync.config import load_settings
from revsync.domain.identity import System
from revsync.schemas.cloudevents_v1 import decode_body

CUSTOMERS, EVENTS_EACH, CONNECTIONS, HOT = 1_000, 100, 4, 50
PLAN: dict[str, Any] = {
    "code": "pro",
    "name": "Pro",
    "currency": "EUR",
    "interval": "month",
    "charges": [{"key": "platform", "model": "flat", "description": "Platform", "amount": "99.00"}],
    "features": [
        {"key": "sso", "kind": "boolean"},
        {"key": "api_calls", "kind": "quota", "meter": "api_calls", "limit": "200000"},
        {"key": "seats", "kind": "seats"},
    ],
}


def prepare(directory: Path, warm_seconds: float) -> tuple[Path, str]:
    config = yaml.safe_load((ROOT / "src/revsync/revsync.example.yaml").read_text())
    config["database"]["url"] = "sqlite:///revsync.db"
    config["entitlements"]["warm_seconds"] = warm_seconds
    config["logging"] = {"level": "WARNING", "format": "json"}
    config["server"]["rate_limits"] = {"per_key": "1000000/second"}
    config["plans"] = [PLAN]
    path = directory / "revsync.yaml"
    path.write_text(yaml.safe_dump(config))
    container = build(load_settings(path))
    try:
        upgrade(container.engine)
        apply_configuration(container, "bench")
        now = container.clock.now()
        start = now.date().replace(day=1)
        for n in range(CUSTOMERS):
            cid = f"cust-{n:05d}"
            refs = {System.PRODUCT: [f"tenant-{n:05d}"]}
            container.customers.put(PutCustomer(cid, cid, "EUR", "UTC", None, refs, "bench"))
            container.subscriptions.create(
                CreateSubscription(f"s-{cid}", cid, "pro", start, "bench", seats=5)
            )
        first = datetime.combine(start, datetime.min.time(), UTC)
        span = max((now - first).total_seconds(), 1.0)
        events = [
            {
                "specversion": "1.0",
                "id": f"e-{n}-{k}",
                "source": "bench://app",
                "type": "api.request",
                "subject": f"tenant-{n:05d}",
                "time": (first + timedelta(seconds=span * k / EVENTS_EACH)).isoformat(),
                "data": {"endpoint": "/x"},
            }
            for n in range(CUSTOMERS)
            for k in range(EVENTS_EACH)
        ]
        context = IngestContext("bench", "bench", None, None)
        for i in range(0, len(events), 10_000):
            body = json.dumps(events[i : i + 10_000]).encode()
            items = decode_body(body, "application/cloudevents-batch+json", 10_000)
            report = container.ingestion.ingest(items, context)
            assert report.accepted == len(items), report
        key = container.api_keys.create("bench", ["read"], "bench").secret
    finally:
        container.close()
    return path, key


def requests(key: str, total: int, customers: int) -> list[bytes]:
    """Checks of ``customers`` tenants in turn."""
    checks = []
    for n in range(total):
        body = json.dumps(
            {"tenant": f"tenant-{n % customers:05d}", "feature": "api_calls", "quantity": 1}
        ).encode()
        head = (
            f"POST /v1/entitlements/check HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        checks.append(head.encode() + body)
    return checks


def row(name: str, result: LoadResult, baseline: LoadResult | None) -> str:
    rate = len(result.latencies_ms) / result.seconds
    ratio = (
        "1.00"
        if baseline is None
        else f"{rate / (len(baseline.latencies_ms) / baseline.seconds):.2f}"
    )
    return (
        f"| {name} | {rate:,.0f} | {ratio} | {result.percentile(50):.2f} | "
        f"{result.percentile(99):.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=60_000)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--warm-seconds", type=float, default=300.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        config, key = prepare(Path(temp), args.warm_seconds)
        server = Server(config, free_port())
        try:
            healthz = [b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"] * args.requests
            every = requests(key, args.requests, CUSTOMERS)
            hot = requests(key, args.requests, HOT)
            run_requests(server.port, every[:CUSTOMERS], 1, CONNECTIONS)  # warm up
            baseline = run_requests(server.port, healthz, 1, CONNECTIONS)
            spread = run_requests(server.port, every, 1, CONNECTIONS)
            focused = run_requests(server.port, hot, 1, CONNECTIONS)
        finally:
            server.stop()
    table = "\n".join(
        [
            "| run | requests/s | vs baseline | p50 ms | p99 ms |",
            "|---|---|---|---|---|",
            row("(a) GET /healthz", baseline, None),
            row(f"(b) checks, {CUSTOMERS:,} customers in turn", spread, baseline),
            row(f"(c) checks, {HOT} customers in turn", focused, baseline),
        ]
    )
    print(table)
    if not args.no_write:
        command = f"python benchmarks/entitlements.py --requests {args.requests}"
        write_section(
            "Entitlement checks",
            f"Command: `{command}` ({machine()}; server and client share the machine; "
            f"{CUSTOMERS:,} customers, {CONNECTIONS} connections).\n\n{table}\n",
        )


if __name__ == "__main__":
    main()
