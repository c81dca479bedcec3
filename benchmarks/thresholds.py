"""Usage thresholds: how long after usage arrives its threshold is found reached, same run.

    python benchmarks/thresholds.py                          # writes docs/benchmarks.md
    python benchmarks/thresholds.py --customers 50 --load-rate 0 --no-write   # a quick look
    python benchmarks/thresholds.py --repeat 3               # three runs of each scenario
    python benchmarks/thresholds.py --history 500000 --no-write   # also (c), a month's usage

Set-up (not timed): a fresh SQLite database with M measured customers (``--customers``, 200)
on plan ``metered`` — ``api_calls`` at 0.05 EUR each, a ``usage`` threshold at N calls
(``--events``, 100) and a ``spend`` threshold at N × 0.05 EUR, so that a batch of N calls
reaches both — and ``--load-customers`` (1,000) on plan ``bulk``, which watches thresholds that
are never reached (a sweep rates them all the same). ``revsync serve`` runs the API and
``revsync worker`` (its own process; ``--with-worker``: in the server) the threshold watcher,
``thresholds.poll_seconds`` = ``--poll`` (1 s); the KPI job is off.

Each scenario runs on its own copy of the database:

(a) idle: the measured customers in turn, at ``--rate`` (5) a second on average (intervals
    drawn between half and one and a half times the mean, so that arrivals fall at every point
    of the watcher's cycle), each posts one batch of N CloudEvents (``POST /v1/events``) that
    takes it across both thresholds; a second thread polls ``GET /v1/alerts`` every 0.1 s.
(b) the same while another process ingests ``--load-rate`` (2,000) events a second in
    batches of ``--load-batch`` (200) for the load customers (``--load-rate 0``: skipped);
(c) with ``--history N``: (b) on a database holding N more events of the load customers,
    dated earlier this month (a sweep that rates many customers reads their period again).

Lag = the crossing's ``crossed_at`` (stamped by the sweep that found it, just before its
commit) − the moment the POST's answer was read; "seen" = when the polling client first saw
the alert (0.1 s granularity). Baseline, same run: the round trip of those POSTs. Printed:
p50 / p90 / p99 / max of the lag, lag p50 / poll_seconds and lag p50 / POST p50, and the sweep
figures read from ``threshold_crossings`` (sweeps that found crossings, the time between them,
customers found by each) with the worker's CPU. Every run checks that each measured customer
crossed each threshold exactly once and no load customer crossed any.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import multiprocessing as mp
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from _common import ROOT, Server, free_port, machine, write_section

from revsync.adapters.db.migrate import upgrade
from revsync.application.customers import PutCustomer
from revsync.application.ingestion import IngestContext
from revsync.application.subscriptions import CreateSubscription
from revsync.bootstrap import apply_configuration, build
from revsync.config import load_settings
from revsync.domain.identity import System
from revsync.schemas.cloudevents_v1 import decode_body

PRICE = Decimal("0.05")
WARM_UP = 3
#: how often the measuring client polls GET /v1/alerts
ALERT_POLL = 0.1
MEDIA = "application/cloudevents-batch+json"


def plans(events: int, interim: bool) -> list[dict[str, Any]]:
    charges = [
        {
            "key": "calls",
            "model": "per_unit",
            "description": "API calls",
            "meter": "api_calls",
            "amount": str(PRICE),
        }
    ]
    spend: dict[str, Any] = {"key": "spend", "kind": "spend", "value": str(events * PRICE)}
    if interim:
        spend["invoice"] = True
    never = "1000000000000"
    return [
        {
            "code": "metered",
            "name": "Metered",
            "currency": "EUR",
            "interval": "month",
            "charges": charges,
            "thresholds": [
                {"key": "calls", "kind": "usage", "meter": "api_calls", "value": str(events)},
                spend,
            ],
        },
        {
            "code": "bulk",
            "name": "Bulk",
            "currency": "EUR",
            "interval": "month",
            "charges": charges,
            "thresholds": [
                {"key": "calls", "kind": "usage", "meter": "api_calls", "value": never},
                {"key": "spend", "kind": "spend", "value": never},
            ],
        },
    ]


def prepare(directory: Path, args: argparse.Namespace, earlier: int) -> tuple[Path, str]:
    """A migrated database with the customers, their subscriptions, ``earlier`` events of the
    load customers and a key; the config."""
    config = yaml.safe_load((ROOT / "src/revsync/revsync.example.yaml").read_text())
    config["database"]["url"] = "sqlite:///revsync.db"
    config["logging"] = {"level": "WARNING", "format": "json"}
    config["server"]["rate_limits"] = {"per_key": "1000000/second"}
    config["plans"] = plans(args.events, args.interim)
    config["thresholds"] = {"poll_seconds": args.poll}
    config["kpis"] = {"schedule": None}  # its measurement every 5 minutes is not measured here
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "revsync.yaml"
    path.write_text(yaml.safe_dump(config))
    container = build(load_settings(path))
    try:
        upgrade(container.engine)
        apply_configuration(container, "bench")
        start = container.clock.now().date().replace(day=1)
        who = [(f"w{n}", "metered") for n in range(WARM_UP)]
        who += [(f"m{n:05d}", "metered") for n in range(args.customers)]
        who += [(f"l{n:05d}", "bulk") for n in range(args.load_customers)]
        for name, plan in who:
            cid = f"cust-{name}"
            refs = {System.PRODUCT: [f"tenant-{name}"]}
            container.customers.put(PutCustomer(cid, cid, "EUR", "UTC", None, refs, "bench"))
            container.subscriptions.create(
                CreateSubscription(f"s-{cid}", cid, plan, start, "bench")
            )
        history(container, args.load_customers, earlier)
        key = container.api_keys.create("bench", ["ingest", "read"], "bench").secret
    finally:
        container.close()
    return path, key


def history(container: Any, customers: int, count: int) -> None:
    """``count`` events of the load customers spread over the month so far (dated before the
    run): the usage a sweep that rates many customers reads again."""
    if not count:
        return
    rng = random.Random(3)
    now = container.clock.now()
    first = datetime.combine(now.date().replace(day=1), datetime.min.time(), UTC)
    span = (now - first).total_seconds() - 60
    context = IngestContext("bench", "bench", None, None)
    for offset in range(0, count, 10_000):
        events = [
            {
                "specversion": "1.0",
                "id": f"h-{n}",
                "source": "bench://app",
                "type": "api.request",
                "subject": f"tenant-l{rng.randrange(customers):05d}",
                "time": (first + timedelta(seconds=span * n / count)).isoformat(),
                "data": {"endpoint": "/x", "environment": "production"},
            }
            for n in range(offset, min(offset + 10_000, count))
        ]
        items = decode_body(json.dumps(events).encode(), MEDIA, 10_000)
        report = container.ingestion.ingest(items, context)
        assert report.accepted == len(items), report


def fresh_copy(template: Path, directory: Path) -> Path:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    for name in ("revsync.yaml", "revsync.db"):
        shutil.copyfile(template.parent / name, directory / name)
    return directory / "revsync.yaml"


def batch(tenants: list[str], prefix: str) -> bytes:
    """One api.request event per tenant given, dated now."""
    when = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return json.dumps(
        [
            {
                "specversion": "1.0",
                "id": f"{prefix}-{n}",
                "source": "bench://app",
                "type": "api.request",
                "subject": tenant,
                "time": when,
                "data": {"endpoint": "/x", "environment": "production"},
            }
            for n, tenant in enumerate(tenants)
        ]
    ).encode()


class Client:
    """A keep-alive HTTP/1.1 connection with the key."""

    def __init__(self, port: int, key: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.auth = {"Authorization": f"Bearer {key}"}

    def _send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> Any:
        """The answer; once more on a fresh connection if the server had closed this one
        (idle), which is safe: a batch sent twice is deduplicated."""
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body, headers)
                return self.conn.getresponse()
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                self.conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def post_events(self, body: bytes) -> dict[str, Any]:
        response = self._send("POST", "/v1/events", body, {**self.auth, "Content-Type": MEDIA})
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"POST /v1/events: {response.status} {payload[:300]!r}")
        result: dict[str, Any] = json.loads(payload)
        if result["accepted"] != body.count(b'"specversion"'):
            raise RuntimeError(f"not all accepted: {result}")
        return result

    def get(self, path: str) -> dict[str, Any]:
        response = self._send("GET", path, None, self.auth)
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status} {payload[:300]!r}")
        result: dict[str, Any] = json.loads(payload)
        return result

    def close(self) -> None:
        self.conn.close()


class AlertWatch(threading.Thread):
    """Polls ``GET /v1/alerts`` (newest first, following the cursor back to what it has seen)
    and notes when it first saw each (customer, threshold)."""

    def __init__(self, port: int, key: str) -> None:
        super().__init__(daemon=True)
        self.client = Client(port, key)
        self.seen: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.look()
                self.stop.wait(ALERT_POLL)
        except BaseException as error:  # reported by the main thread
            self.error = error
        finally:
            self.client.close()

    def look(self) -> None:
        path = "/v1/alerts?limit=20"
        while True:
            page = self.client.get(path)
            now = time.time()
            fresh = 0
            for item in page["items"]:
                key = (item["customer_id"], item["threshold"])
                if key not in self.seen:
                    self.seen[key] = (now, item)
                    fresh += 1
            if fresh < len(page["items"]) or page["next_cursor"] is None:
                return
            path = f"/v1/alerts?limit=20&cursor={page['next_cursor']}"

    def wait_for(self, keys: set[tuple[str, str]], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not keys <= self.seen.keys():
            if self.error is not None:
                raise RuntimeError("the alert watch failed") from self.error
            if time.monotonic() > deadline:
                missing = sorted(keys - self.seen.keys())
                raise RuntimeError(f"{len(missing)} crossings not seen, e.g. {missing[:3]}")
            time.sleep(0.05)


def load_client(
    port: int,
    key: str,
    rate: float,
    size: int,
    customers: int,
    stop: Any,
    out: Any,
) -> None:
    """Posts batches of ``size`` events for random load customers at ``rate`` events/s until
    ``stop`` is set; puts (events accepted, seconds, round trips in ms)."""
    rng = random.Random(7)
    client = Client(port, key)
    tenants = [f"tenant-l{n:05d}" for n in range(customers)]
    started = time.perf_counter()
    sent, latencies = 0, []
    while not stop.is_set():
        due = started + sent / rate
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        body = batch([rng.choice(tenants) for _ in range(size)], f"l{sent}")
        began = time.perf_counter()
        client.post_events(body)
        latencies.append((time.perf_counter() - began) * 1000)
        sent += size
    out.put((sent, time.perf_counter() - started, latencies))
    client.close()


@dataclass
class Run:
    """What one scenario measured."""

    label: str
    lags: list[float] = field(default_factory=list)  # s, per measured customer
    seen: list[float] = field(default_factory=list)  # s
    posts_ms: list[float] = field(default_factory=list)
    sweeps: int = 0  # sweeps that found crossings
    gaps: list[float] = field(default_factory=list)  # s between consecutive ones
    per_sweep: list[int] = field(default_factory=list)  # customers found by each
    worker_cpu: float | None = None  # share of one core
    seconds: float = 0.0
    load_rate: float = 0.0  # events/s reached
    load_ms: list[float] = field(default_factory=list)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scenario(label: str, config: Path, key: str, args: argparse.Namespace, load: float) -> Run:
    run = Run(label)
    extra = ["--with-worker"] if args.with_worker else []
    server = Server(config, free_port(), extra)
    worker: subprocess.Popen[bytes] | None = None
    log = (config.parent / "worker.log").open("w")
    ctx = mp.get_context("fork")
    stop_load = ctx.Event()
    results: Any = ctx.Queue()
    loader = None
    watch = AlertWatch(server.port, key)
    try:
        if not args.with_worker:
            worker = subprocess.Popen(
                [sys.executable, "-m", "revsync", "worker", "--config", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        watch.start()
        client = Client(server.port, key)
        # warm-up: the watcher has taken its lease and found crossings before measuring
        for n in range(WARM_UP):
            client.post_events(batch([f"tenant-w{n}"] * args.events, f"w{n}"))
        watch.wait_for({(f"cust-w{n}", "calls") for n in range(WARM_UP)}, 60)
        if load > 0:
            loader = ctx.Process(
                target=load_client,
                args=(
                    server.port,
                    key,
                    load,
                    args.load_batch,
                    args.load_customers,
                    stop_load,
                    results,
                ),
            )
            loader.start()
            time.sleep(3)  # steady
        rng = random.Random(11)
        returned: dict[str, float] = {}
        cpu_pid = worker.pid if worker is not None else server.process.pid
        cpu_before, began = cpu_seconds(cpu_pid), time.perf_counter()
        due = time.perf_counter()
        for n in range(args.customers):
            due += rng.uniform(0.5, 1.5) / args.rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            body = batch([f"tenant-m{n:05d}"] * args.events, f"m{n}")
            sent = time.perf_counter()
            client.post_events(body)
            returned[f"cust-m{n:05d}"] = time.time()
            run.posts_ms.append((time.perf_counter() - sent) * 1000)
        expected = {(c, t) for c in returned for t in ("calls", "spend")}
        watch.wait_for(expected, 60 + 10 * args.poll)
        run.seconds = time.perf_counter() - began
        if worker is not None:
            run.worker_cpu = (cpu_seconds(cpu_pid) - cpu_before) / run.seconds
        if loader is not None:
            stop_load.set()
            sent_events, seconds, run.load_ms = results.get(timeout=60)
            loader.join(60)
            run.load_rate = sent_events / seconds
        client.close()
        for cid, at in returned.items():
            stamps = {
                datetime.fromisoformat(watch.seen[(cid, t)][1]["crossed_at"]).timestamp()
                for t in ("calls", "spend")
            }
            assert len(stamps) == 1, f"{cid}: its two thresholds in two sweeps"
            run.lags.append(stamps.pop() - at)
            run.seen.append(max(watch.seen[(cid, t)][0] for t in ("calls", "spend")) - at)
    finally:
        watch.stop.set()
        stop_load.set()
        if loader is not None and loader.is_alive():
            loader.join(10)
        if worker is not None:
            worker.terminate()
            worker.wait(30)
        log.close()
        server.stop()
    sweeps(config, args, run)
    return run


def sweeps(config: Path, args: argparse.Namespace, run: Run) -> None:
    """What the database says: each crossing once, none for the load customers; the sweeps
    that found the measured customers' crossings."""
    db = sqlite3.connect(config.parent / "revsync.db")
    try:
        rows = db.execute(
            "SELECT customer_id, threshold_key, crossed_at, cutoff_seq FROM threshold_crossings "
            "WHERE customer_id LIKE 'cust-m%' ORDER BY crossed_at"
        ).fetchall()
        others = db.execute(
            "SELECT count(*) FROM threshold_crossings WHERE customer_id LIKE 'cust-l%'"
        ).fetchone()[0]
        billed = db.execute(
            "SELECT count(*) FROM threshold_crossings WHERE customer_id LIKE 'cust-m%' "
            "AND interim_invoice_id IS NOT NULL"
        ).fetchone()[0]
    finally:
        db.close()
    assert len(rows) == 2 * args.customers, (len(rows), args.customers)
    assert len({(c, k) for c, k, _, _ in rows}) == len(rows)
    assert others == 0, f"{others} crossings of load customers"
    assert billed == (args.customers if args.interim else 0), billed
    found: dict[tuple[str, int], set[str]] = {}
    for customer, _, crossed_at, cutoff in rows:
        found.setdefault((crossed_at, cutoff), set()).add(customer)
    stamps = sorted(datetime.fromisoformat(at).timestamp() for at, _ in found)
    run.sweeps = len(found)
    run.gaps = [b - a for a, b in itertools.pairwise(stamps)]
    run.per_sweep = [len(c) for c in found.values()]


def row(run: Run, poll: float) -> str:
    lag = [s * 1000 for s in run.lags]
    post = pct(run.posts_ms, 50)
    p50 = pct(lag, 50)
    cpu = f"{run.worker_cpu:.0%}" if run.worker_cpu is not None else "—"
    return (
        f"| {run.label} | {len(lag)} | {p50:.0f} | {pct(lag, 90):.0f} | {pct(lag, 99):.0f} | "
        f"{max(lag):.0f} | {pct([s * 1000 for s in run.seen], 50):.0f} | {post:.1f} | "
        f"{p50 / 1000 / poll:.2f} | {p50 / post:.0f} | {run.sweeps} | "
        f"{pct(run.gaps, 50):.2f} / {max(run.gaps):.2f} | {statistics.mean(run.per_sweep):.1f} | "
        f"{cpu} |"
    )


HEADER = (
    "| run | crossings | lag p50 ms | p90 | p99 | max | seen p50 ms | POST p50 ms (baseline) "
    "| lag p50 / poll | lag p50 / POST p50 | sweeps finding | s between them p50 / max "
    "| customers per sweep | worker CPU |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def bounds(runs: list[Run], poll: float) -> str:
    """The paragraph on what bounds the lag, with this run's figures."""
    parts = []
    for tag in ("(a)", "(b)", "(c)"):
        mine = [r for r in runs if r.label.startswith(tag)]
        if not mine:
            continue
        sweep = statistics.mean(pct(r.gaps, 50) for r in mine) - poll
        longest = max(max(r.gaps) for r in mine)
        lag = max(max(r.lags) for r in mine)
        over = sum(1 for r in mine for x in r.lags if x > longest)
        parts.append(
            f"{tag} a sweep ≈ {sweep:.2f} s, at most {longest - poll:.2f} s; largest lag "
            f"{lag:.2f} s, {over} of {sum(len(r.lags) for r in mine)} lags above the longest "
            f"time between two sweeps ({longest:.2f} s)"
        )
    return (
        "What bounds the lag: the watcher sweeps, waits `poll_seconds`, sweeps again. A sweep "
        "fixes what it reads when it starts (the highest ingest sequence committed) and stamps "
        "`crossed_at` once it has rated its customers' open periods. Usage committed just after a "
        "sweep started waits for that sweep to end, the pause, and the whole next sweep: the lag "
        "is at most poll + 2 × sweep, about poll / 2 + sweep on average for usage arriving at "
        "any moment; reading the alert adds its commit and the reader's own polling ('seen'). "
        "Sweep time (time between sweeps that found something − poll, p50) here: "
        + "; ".join(parts)
        + ". A sweep rates afresh the open period of every customer with usage since the last "
        "one, so its time grows with those customers and with their usage in the period; past "
        "200 of them it reads the period's usage in one stretch, all customers' (the load "
        "customers in (b) and (c)). The POST itself is two orders of magnitude faster: the lag is "
        "the poll, not the path.\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=200, help="measured customers")
    parser.add_argument("--events", type=int, default=100, help="events per crossing batch")
    parser.add_argument("--rate", type=float, default=5.0, help="crossing batches per second")
    parser.add_argument("--poll", type=float, default=1.0, help="thresholds.poll_seconds")
    parser.add_argument("--load-rate", type=float, default=2000, help="events/s in (b); 0: no (b)")
    parser.add_argument("--load-batch", type=int, default=200)
    parser.add_argument("--load-customers", type=int, default=1000)
    parser.add_argument(
        "--history",
        type=int,
        default=0,
        help="also (c): (b) on a copy with this many events of the load customers earlier "
        "this month",
    )
    parser.add_argument("--interim", action="store_true", help="the spend threshold invoices")
    parser.add_argument("--with-worker", action="store_true", help="the watcher in the server")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each scenario")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args()
    if 1.5 / args.rate >= args.poll:
        print("note: --rate below 1.5 / --poll: some sweeps may find nothing, and the time between")
        print("      sweeps that found something is then several cycles")
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as temp:
        print("set-up …", flush=True)
        plain = prepare(Path(temp) / "template", args, 0)
        plan = [("(a) idle", 0.0, plain)]
        if args.load_rate > 0:
            plan.append((f"(b) + {args.load_rate:,.0f} events/s", args.load_rate, plain))
        if args.history > 0:
            print(f"set-up: {args.history:,} events earlier this month …", flush=True)
            month = prepare(Path(temp) / "history", args, args.history)
            label = f"(c) + {args.load_rate:,.0f} events/s, {args.history:,} earlier"
            plan.append((label, args.load_rate, month))
        for number in range(1, args.repeat + 1):
            for index, (label, load, (template, key)) in enumerate(plan):
                name = f"{label}, run {number}" if args.repeat > 1 else label
                print(f"{name} …", flush=True)
                config = fresh_copy(template, Path(temp) / f"run-{number}-{index}")
                run = scenario(name, config, key, args, load)
                runs.append(run)
                print(HEADER.split("\n")[0])
                print(row(run, args.poll), flush=True)
                if load:
                    print(
                        f"    load reached {run.load_rate:,.0f} events/s, its POST p50 "
                        f"{pct(run.load_ms, 50):.1f} ms, p99 {pct(run.load_ms, 99):.1f} ms",
                        flush=True,
                    )
    table = HEADER + "\n" + "\n".join(row(r, args.poll) for r in runs)
    print(table)
    print(bounds(runs, args.poll))
    loads = [r for r in runs if r.load_rate]
    if args.no_write:
        return
    command = "python benchmarks/thresholds.py" + "".join(
        f" --{name.replace('_', '-')} {value}"
        for name, value in vars(args).items()
        if name not in ("no_write", "interim", "with_worker") and value != parser.get_default(name)
    )
    command += " --interim" if args.interim else ""
    command += " --with-worker" if args.with_worker else ""
    reached = (
        f"; the load reached {statistics.mean(r.load_rate for r in loads):,.0f} events/s, its "
        f"{args.load_batch}-event POSTs at p50 {statistics.mean(pct(r.load_ms, 50) for r in loads):.1f} ms"
        if loads
        else ""
    )
    body = (
        f"Command: `{command}` ({machine()}; server, worker and clients share the machine). "
        f"Measured {datetime.now(UTC):%Y-%m-%d}. {args.customers} customers each take one "
        f"batch of {args.events} events across a usage and a spend threshold, "
        f"{args.rate:g} a second; `thresholds.poll_seconds` {args.poll:g}; "
        f"{args.load_customers:,} more customers watch thresholds never reached{reached}. "
        "Lag: `crossed_at` − the POST's answer; seen: when a client polling `GET /v1/alerts` "
        "every 0.1 s saw it. Every run checks each crossing recorded once.\n\n"
        + table
        + "\n\n"
        + bounds(runs, args.poll)
    )
    write_section("Usage thresholds: detection lag", body)


if __name__ == "__main__":
    main()
