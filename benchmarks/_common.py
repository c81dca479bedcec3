"""Helpers shared by the benchmark scripts: a served revsync in a subprocess, HTTP load from
worker processes, latency percentiles, peak RSS, and the docs/benchmarks.md writer."""

from __future__ import annotations

import asyncio
import http.client
import multiprocessing as mp
import os
import re
import socket
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

    def __init__(self, config: Path, port: int, extra: Sequence[str] = ()) -> None:
        self.port = port
        self.log = (config.parent / "serve.log").open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "revsync",
                "serve",
                "--config",
                str(config),
                "--port",
                str(port),
                *extra,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_until_up(port)

    def pids(self) -> list[int]:
        """The server process and its worker processes, if any."""
        children = (
            Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        )
        return [self.process.pid, *(int(c) for c in children)]

    def peak_rss_mb(self) -> float:
        """Peak resident memory, summed over the server's processes."""
        total = 0
        for pid in self.pids():
            match = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
            total += int(match.group(1)) if match else 0
        return total / 1024

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server's processes so far."""
        total = 0
        for pid in self.pids():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

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


async def _connection(
    port: int, requests: Sequence[bytes], latencies: list[float], totals: list[int], ingest: bool
) -> None:
    import json

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for request in requests:
        started = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))  # type: ignore[union-attr]
        payload = await reader.readexactly(length)
        latencies.append((time.perf_counter() - started) * 1000)
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"{head[:40]!r}: {payload[:300]!r}")
        if not ingest:
            continue
        result = json.loads(payload)
        totals[0] += result["accepted"]
        totals[1] += result["duplicates"]
        totals[2] += len(result["rejected"])
    writer.close()


def _async_client(
    port: int,
    requests: Sequence[bytes],
    connections: int,
    out: mp.Queue,  # type: ignore[type-arg]
    ingest: bool,
) -> None:
    import uvloop

    latencies: list[float] = []
    totals = [0, 0, 0]

    async def main() -> None:
        shares = [requests[i::connections] for i in range(connections)]
        await asyncio.gather(
            *(_connection(port, share, latencies, totals, ingest) for share in shares)
        )

    uvloop.run(main())
    out.put((latencies, totals))


def request_bytes(key: str, media: str, body: bytes) -> bytes:
    """A complete HTTP/1.1 POST /v1/events request."""
    head = (
        f"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: {media}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def run_async_load(
    port: int, key: str, media: str, bodies: Sequence[bytes], processes: int, connections: int
) -> LoadResult:
    """Send ``bodies`` to ``POST /v1/events`` over ``connections`` keep-alive connections per
    process (uvloop clients), adding up what the answers report."""
    requests = [request_bytes(key, media, body) for body in bodies]
    return run_requests(port, requests, processes, connections, ingest=True)


def run_requests(
    port: int,
    requests: Sequence[bytes],
    processes: int,
    connections: int,
    *,
    ingest: bool = False,
) -> LoadResult:
    """Send complete HTTP/1.1 ``requests`` over ``connections`` keep-alive connections per
    process; each must be answered 200 (``ingest``: an ingestion report, added up)."""
    ctx = mp.get_context("fork")
    queue: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    shares = [requests[i::processes] for i in range(processes)]
    workers = [
        ctx.Process(target=_async_client, args=(port, share, connections, queue, ingest))
        for share in shares
    ]
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


def machine() -> str:
    cpus = os.cpu_count()
    return f"{cpus} cores, Python {sys.version.split()[0]}, SQLite {__import__('sqlite3').sqlite_version}"


def write_section(title: str, body: str) -> None:
    """Replace (or append) the section ``## title`` in docs/benchmarks.md."""
    text = (
        DOCS.read_text()
        if DOCS.exists()
        else "# Benchmarks\n\nFigures measured by the scripts in `benchmarks/`.\n"
    )
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = (
        pattern.sub(section + "\n", text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + section
    )
    DOCS.write_text(text.rstrip() + "\n")
