"""API latency while the same process works: a billing run over 10,000 customers, and a 16 MiB
hostile body arriving.

    python benchmarks/api_latency.py                   # writes docs/benchmarks.md
    python benchmarks/api_latency.py --customers 2000 --no-write

Set-up (not timed): 10,000 customers, each subscribed to a plan with a flat fee in advance,
and ``revsync serve`` on them (one process). A probe client sends, one after the other on one
keep-alive connection, ``GET /healthz`` and ``POST /v1/events`` with a single event:

(a) baseline: the probe on the idle server;
(b) while ``POST /v1/billing-runs`` bills October and November for every customer (about
    20,000 invoices) through the API of the same process;
(c) while a 16 MiB JSON array of 8 million numbers arrives (sent in 1 MiB chunks) and is
    refused (413: more items than a request may carry).

Printed: p50 and p99 per request kind and the ratio of each p99 to the baseline's; the target
is p99 < 100 ms for both kinds under (b) and (c).
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from _common import Server, free_port, machine, write_section
from billing import prepare

from revsync.bootstrap import build
from revsync.config import load_settings

HOSTILE_BYTES = 16 * 1024 * 1024


class Probe:
    """Single requests on one keep-alive connection, timed one by one."""

    def __init__(self, port: int, key: str) -> None:
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self._key = key
        self._ids = iter(range(10**9))
        self.latencies: dict[str, list[float]] = {"healthz": [], "ingest": []}

    def once(self) -> None:
        self._time("healthz", "GET", "/healthz", None)
        n = next(self._ids)
        event = {
            "id": f"probe-{time.monotonic_ns()}-{n}",
            "source": "bench://probe",
            "type": "api.request",
            "subject": f"t{n % 1000:05d}",
            "time": "2026-10-15T12:00:00Z",
            "data": {"endpoint": "/probe"},
        }
        self._time("ingest", "POST", "/v1/events", json.dumps([event]).encode())

    def _time(self, kind: str, method: str, path: str, body: bytes | None) -> None:
        headers = {"Authorization": f"Bearer {self._key}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        self._conn.request(method, path, body=body, headers=headers)
        response = self._conn.getresponse()
        response.read()
        self.latencies[kind].append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: {response.status}")


def probe_while(port: int, key: str, busy: Callable[[], None], minimum: int = 50) -> Probe:
    """Probe until ``busy`` (run in a thread) returns, and at least ``minimum`` rounds."""
    probe = Probe(port, key)
    worker = threading.Thread(target=busy)
    worker.start()
    rounds = 0
    while worker.is_alive() or rounds < minimum:
        probe.once()
        rounds += 1
    worker.join()
    return probe


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def billing_run(port: int, key: str, seconds: list[float]) -> Callable[[], None]:
    def run() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        started = time.perf_counter()
        conn.request(
            "POST",
            "/v1/billing-runs",
            body=b'{"as_of": "2026-11-01"}',
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        body = json.loads(response.read())
        seconds.append(time.perf_counter() - started)
        if response.status != 201 or body["errors"]:
            raise RuntimeError(f"billing run: {response.status} {str(body)[:300]}")
        seconds.append(len(body["created"]))

    return run


def hostile_body(port: int, key: str, status: list[int]) -> Callable[[], None]:
    def chunks() -> Iterator[bytes]:
        item = b"1,"
        chunk = item * (1024 * 1024 // len(item))
        sent = 1
        yield b"["
        while sent + len(chunk) < HOSTILE_BYTES - 2:
            yield chunk
            sent += len(chunk)
        yield b"1]"

    def send() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        conn.request(
            "POST",
            "/v1/events",
            body=chunks(),
            headers={
                "Authorization": f"Bearer {key}",
                "Content-Type": "application/json",
                "Transfer-Encoding": "chunked",
            },
            encode_chunked=True,
        )
        response = conn.getresponse()
        response.read()
        status.append(response.status)

    return send


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="revsync-latency-"))
    try:
        config = prepare(work, args.customers, 0)  # ingestion.max_body_bytes: 16 MiB
        container = build(load_settings(config))
        try:
            key = container.api_keys.create("bench", ["ingest", "read", "admin"], "bench").secret
        finally:
            container.close()
        port = free_port()
        server = Server(config, port)
        try:
            idle = probe_while(port, key, lambda: None, minimum=300)
            run_seconds: list[float] = []
            billing = probe_while(port, key, billing_run(port, key, run_seconds))
            status: list[int] = []
            hostile = probe_while(port, key, hostile_body(port, key, status))
        finally:
            server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    rows = []
    for label, probe in (
        ("idle (baseline)", idle),
        ("billing run", billing),
        ("16 MiB hostile body", hostile),
    ):
        for kind in ("healthz", "ingest"):
            values = probe.latencies[kind]
            p99 = percentile(values, 99)
            base = percentile(idle.latencies[kind], 99)
            rows.append(
                f"| {label} | {kind} | {len(values)} | {percentile(values, 50):.1f} | "
                f"{p99:.1f} | {p99 / base:.1f}x |"
            )
    table = "\n".join(
        [
            "| while | request | n | p50 ms | p99 ms | p99 vs idle |",
            "|---|---|---|---|---|---|",
            *rows,
        ]
    )
    summary = (
        f"billing run: {run_seconds[0]:.1f} s, {int(run_seconds[1]):,} invoices created; "
        f"hostile body answered {status[0]}"
    )
    print(table)
    print(summary)
    if not args.no_write:
        write_section(
            "API latency while the process works",
            f"`python benchmarks/api_latency.py` ({machine()}; {args.customers:,} customers). "
            "A probe sends `GET /healthz` and a one-event `POST /v1/events`, one after the other "
            "on one keep-alive connection, to one `revsync serve` process: idle, while a billing "
            "run over every customer goes through the API of the same process, and while a "
            "16 MiB JSON array of 8 million numbers arrives. Target: p99 < 100 ms under load.\n\n"
            f"{table}\n\n{summary}.",
        )


if __name__ == "__main__":
    sys.exit(main())
