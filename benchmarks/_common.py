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


def process_cpu_seconds(pid: int, *, reaped: bool = False) -> float:
    """User + system CPU time of process ``pid`` so far (from /proc); with ``reaped``, that of
    its children it has waited for as well."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


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
        try:
            wait_until_up(port)
        except BaseException:  # a server that never came up is not left running
            self.process.terminate()
            self.process.wait(30)
            self.log.close()
            raise

    def pids(self) -> list[int]:
        """The server process and its worker (or decoding) processes, if any, whichever of
        its threads started them."""
        pid = self.process.pid
        children: list[int] = []
        for task in sorted(Path(f"/proc/{pid}/task").iterdir()):
            try:
                children.extend(int(child) for child in (task / "children").read_text().split())
            except FileNotFoundError:  # the thread ended meanwhile
                continue
        return [pid, *children]

    def peak_rss_mb(self) -> float:
        """Peak resident memory, summed over the server's processes."""
        total = 0
        for pid in self.pids():
            match = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
            total += int(match.group(1)) if match else 0
        return total / 1024

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server's processes so far."""
        return sum(process_cpu_seconds(pid) for pid in self.pids())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)
        self.log.close()


@dataclass
class LoadResult:
    """Wall time, per-request latencies (ms), the summed ingestion counters and the 5xx
    answers that were retried (``retries``)."""

    seconds: float
    latencies_ms: list[float]
    accepted: int
    duplicates: int
    rejected: int
    server_errors: int = 0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        return ordered[index]


async def _connection(
    port: int,
    requests: Sequence[bytes],
    latencies: list[float],
    totals: list[int],
    ingest: bool,
    retries: int = 0,
) -> None:
    import json

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for request in requests:
        started = time.perf_counter()
        for attempt in range(retries + 1):
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))  # type: ignore[union-attr]
            payload = await reader.readexactly(length)
            if attempt == retries or not head.startswith(b"HTTP/1.1 5"):
                break
            totals[3] += 1  # a 5xx answer: sent again, as a client would (latency counts both)
            await asyncio.sleep(0.05 * (attempt + 1))
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
    port: int | Sequence[int],
    requests: Sequence[bytes],
    connections: int,
    out: mp.Queue,  # type: ignore[type-arg]
    ingest: bool,
    retries: int = 0,
) -> None:
    import uvloop

    latencies: list[float] = []
    totals = [0, 0, 0, 0]

    ports = [port] if isinstance(port, int) else list(port)

    async def main() -> None:
        shares = [requests[i::connections] for i in range(connections)]
        await asyncio.gather(
            *(
                _connection(ports[i % len(ports)], share, latencies, totals, ingest, retries)
                for i, share in enumerate(shares)
            )
        )

    try:
        uvloop.run(main())
    except BaseException as error:  # reported to run_requests, which raises it
        out.put(f"{type(error).__name__}: {error}")
        raise
    out.put((latencies, totals))


def request_bytes(key: str, media: str, body: bytes) -> bytes:
    """A complete HTTP/1.1 POST /v1/events request."""
    head = (
        f"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: {media}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def run_async_load(
    port: int | Sequence[int],
    key: str,
    media: str,
    bodies: Sequence[bytes],
    processes: int,
    connections: int,
    *,
    retries: int = 0,
) -> LoadResult:
    """Send ``bodies`` to ``POST /v1/events`` over ``connections`` keep-alive connections per
    process (uvloop clients), adding up what the answers report; a request answered 5xx is
    sent again up to ``retries`` times (counted in ``server_errors``)."""
    requests = [request_bytes(key, media, body) for body in bodies]
    return run_requests(port, requests, processes, connections, ingest=True, retries=retries)


def run_requests(
    port: int | Sequence[int],
    requests: Sequence[bytes],
    processes: int,
    connections: int,
    *,
    ingest: bool = False,
    retries: int = 0,
) -> LoadResult:
    """Send complete HTTP/1.1 ``requests`` over ``connections`` keep-alive connections per
    process; each must be answered 200 (``ingest``: an ingestion report, added up), after up
    to ``retries`` 5xx answers. Several ports: each process's connections go to them in turn."""
    ctx = mp.get_context("fork")
    queue: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    shares = [requests[i::processes] for i in range(processes)]
    workers = [
        ctx.Process(target=_async_client, args=(port, share, connections, queue, ingest, retries))
        for share in shares
    ]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    results = [queue.get() for _ in workers]
    seconds = time.perf_counter() - started
    for worker in workers:
        worker.join()
    failures = [r for r in results if isinstance(r, str)]
    if failures or any(worker.exitcode != 0 for worker in workers):
        raise RuntimeError(f"a load client failed: {'; '.join(failures)}")
    latencies = [ms for lat, _ in results for ms in lat]
    totals = [sum(t[i] for _, t in results) for i in range(4)]
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
