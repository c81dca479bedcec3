"""Helpers shared by the benchmark scripts: a served revsync in a subprocess, HTTP load from
worker processes, latency percentiles, peak RSS, and the docs/benchmarks.md writer."""

from __future__ import annotations

import http.client
import multiprocessing as mp
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not come up")


class Server:
    """``revsync serve`` in its own process."""

    def __init__(self, config: Path, port: int) -> None:
        self.port = port
        self.log = (config.parent / "serve.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "revsync", "serve", "--config", str(config), "--port", str(port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_until_up(port)

    def peak_rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        match = re.search(r"VmHWM:\s+(\d+) kB", status)
        return int(match.group(1)) / 1024 if match else float("nan")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)
        self.log.close()


@dataclass
class LoadResult:
    """Wall time, per-request latencies (ms) and the summed ingestion counters."""

    seconds: float
    latencies_ms: list[float]
    accepted: int
    duplicates: int
    rejected: int

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        return ordered[index]


def _client(port: int, key: str, media: str, bodies: Sequence[bytes], out: mp.Queue) -> None:  # type: ignore[type-arg]
    import json

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": media}
    latencies: list[float] = []
    totals = [0, 0, 0]
    for body in bodies:
        started = time.perf_counter()
        conn.request("POST", "/v1/events", body=body, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        latencies.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {payload[:300]!r}")
        result = json.loads(payload)
        totals[0] += result["accepted"]
        totals[1] += result["duplicates"]
        totals[2] += len(result["rejected"])
    out.put((latencies, totals))


def run_load(port: int, key: str, media: str, bodies: Sequence[bytes], clients: int) -> LoadResult:
    """Send ``bodies`` from ``clients`` processes (round-robin split), each on one connection."""
    ctx = mp.get_context("fork")
    queue: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    shares = [bodies[i::clients] for i in range(clients)]
    workers = [ctx.Process(target=_client, args=(port, key, media, share, queue)) for share in shares]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    results = [queue.get() for _ in workers]
    seconds = time.perf_counter() - started
    for worker in workers:
        worker.join()
        if worker.exitcode != 0:
            raise RuntimeError("a load client failed")
    latencies = [ms for lat, _ in results for ms in lat]
    totals = [sum(t[i] for _, t in results) for i in range(3)]
    return LoadResult(seconds, latencies, *totals)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def machine() -> str:
    cpus = os.cpu_count()
    return f"{cpus} cores, Python {sys.version.split()[0]}, SQLite {__import__('sqlite3').sqlite_version}"


def write_section(title: str, body: str) -> None:
    """Replace (or append) the section ``## title`` in docs/benchmarks.md."""
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n\nFigures measured by the scripts in `benchmarks/`.\n"
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(section + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    DOCS.write_text(text.rstrip() + "\n")
