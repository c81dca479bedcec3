"""PostgreSQL scaling: 1, 2 and 4 API processes against one PostgreSQL, and 1 and 2 relays.

    python benchmarks/scale_pg.py                  # 1,000,000 events, writes docs/benchmarks.md
    python benchmarks/scale_pg.py --events 20000 --messages 2000 --no-write   # a quick look
    python benchmarks/scale_pg.py --processes 1,2 --relays 1 --no-write

Set-up (not timed): a database ``revsync_bench_<pid>_template`` on the PostgreSQL server at
``--pg``, migrated by revsync's own migration, with the ingestion benchmark's 10,000 customers
(one product tenant each) and ingest key (``ingest.prepare_template``); each run below gets a
fresh copy of it (``CREATE DATABASE … TEMPLATE``), dropped when the run ends. Every database
and process of the run goes at the end, also when it fails or is interrupted (Ctrl-C, SIGTERM).

The workload is the ingestion benchmark's: N events, 10% of them duplicates re-sent later,
random 128-bit ids over 10,000 tenants.

(a) baseline: the same rows (dedup slot, fingerprint, customer and day computed beforehand)
    stored with ``executemany`` on one connection, 10,000 rows per commit, in the same schema
    and deduplicated by the same claim: ``INSERT … ON CONFLICT (dedup_slot) DO NOTHING`` into
    ``usage_events``, or, on a schema with ``usage_slots`` (migration 0027), the claims into
    ``usage_slots`` first, then the rows whose claim was won.
(b) for each P of ``--processes``, P API processes on the database: ``revsync serve --workers
    P`` (uvicorn's processes sharing one socket: the deployment's shape) and, for P > 1, P
    ``revsync serve`` on P ports with the connections spread evenly over them (``--shapes``:
    a burst of keep-alive connections to one socket may be taken by one process mostly, which
    then does most of the work); HTTP batches of 1,000 events over 4 keep-alive connections
    per process from a uvloop client process. A request answered 5xx is sent
    again (up to 5 times, as a client would; ``--strict``: the run stops) and counted. Each run
    checks the answers' counts and that exactly the unique events are stored, once.
(c) a backlog of M outbox messages (``delivery.prepare``: 200 aggregates, one destination with
    concurrency 16), analyzed (unless ``--no-analyze``), drained by R ``revsync worker``
    processes to the fault-injecting target (no faults), for each R of ``--relays``; rate over
    the span from the first attempt to the last. Each run checks that every message was
    delivered once: the target holds exactly M documents and finds each message's idempotency
    key. (c0): plain httpx POSTs to the same target, 16 at a time (no database), for reference.

Where the time went, for each run: CPU seconds (/proc) of each API process, the relays, the
load clients, the target, the run's database backends (sampled every 0.2 s) and the whole
PostgreSQL server (other databases' work included); the share of the cores busy during the
run (/proc/stat) and the 1-minute load before and after; the database's backends (peak,
mean active, mean waiting on a lock), the deadlocks PostgreSQL broke, the client connections
each API process held, and the errors and warnings the processes logged.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import psycopg
import sqlalchemy as sa
import yaml
from _common import (
    ROOT,
    LoadResult,
    Server,
    free_port,
    machine,
    process_cpu_seconds,
    run_async_load,
    run_requests,
    write_section,
)
from delivery import CONCURRENCY, start_target
from delivery import baseline as plain_posts
from delivery import prepare as prepare_backlog
from ingest import MEDIA, TENANTS, Dataset, make_dataset, prepare_template

from revsync.domain.usage import UsageEvent, dedup_slot, fingerprint, to_micros, utc_day

TITLE = "PostgreSQL: processes and relays"
PG_DEFAULT = os.environ.get("REVSYNC_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
#: rows per commit of the baseline, as in the ingestion benchmark's
BASELINE_COMMIT = 10_000
#: times a request answered 5xx is sent again (unless --strict)
RETRIES = 5


# --- databases ----------------------------------------------------------------------------


class Databases:
    """Databases made for this run on one server, all dropped by :meth:`drop_all`."""

    def __init__(self, admin_url: str, prefix: str) -> None:
        self.admin_url = admin_url
        self.prefix = prefix
        self.made: list[str] = []

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        dsn = self.admin_url.replace("postgresql+psycopg://", "postgresql://")
        return psycopg.connect(dsn, autocommit=True, connect_timeout=5)

    def url(self, name: str) -> str:
        return sa.make_url(self.admin_url).set(database=name).render_as_string(False)

    def create(self, tag: str, template: str | None = None) -> str:
        name = f"{self.prefix}_{tag}"
        self.made.append(name)
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            clause = f' TEMPLATE "{template}"' if template else ""
            conn.execute(f'CREATE DATABASE "{name}"{clause}')
        return name

    def drop(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.made:
            self.made.remove(name)

    def drop_all(self) -> None:
        for name in list(self.made):
            try:
                self.drop(name)
            except psycopg.Error as error:
                print(f"could not drop database {name}: {error}", file=sys.stderr)

    def version(self) -> str:
        with self.admin() as conn:
            row = conn.execute("SHOW server_version").fetchone()
        return str(row[0]).split()[0] if row else "?"

    def scalar(self, name: str, sql: str) -> object:
        with psycopg.connect(self.url(name), connect_timeout=5) as conn:
            row = conn.execute(sql).fetchone()
        return row[0] if row else None

    def rows(self, name: str, sql: str) -> list[tuple[object, ...]]:
        with psycopg.connect(self.url(name), connect_timeout=5) as conn:
            return list(conn.execute(sql).fetchall())


def config_for(template: Path, directory: Path, url: str) -> Path:
    """A copy of the template's config in ``directory`` pointing at the database ``url``."""
    settings = yaml.safe_load(template.read_text())
    settings["database"]["url"] = url
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    config = directory / "revsync.yaml"
    config.write_text(yaml.safe_dump(settings))
    return config


# --- where the CPU goes -------------------------------------------------------------------


def _ppid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def postgres_cpu_seconds() -> float:
    """CPU seconds of the PostgreSQL server so far: its live processes, plus the backends that
    have exited (reaped by the postmaster, so counted in its children's time)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if Path(f"/proc/{entry}/comm").read_text().strip() == "postgres":
                    pids.append(int(entry))
    found = set(pids)
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += process_cpu_seconds(pid, reaped=_ppid(pid) not in found)
    return total


def cpu_of(pids: Sequence[int]) -> list[float]:
    out = []
    for pid in pids:
        try:
            out.append(process_cpu_seconds(pid))
        except OSError:
            out.append(0.0)
    return out


def _machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def _children_cpu() -> float:
    times = os.times()
    return times.children_user + times.children_system


@dataclass
class Snapshot:
    pg: float = 0.0
    jiffies: tuple[int, int] = (0, 0)
    load: float = 0.0
    children: float = 0.0

    @staticmethod
    def take() -> Snapshot:
        return Snapshot(
            postgres_cpu_seconds(), _machine_jiffies(), os.getloadavg()[0], _children_cpu()
        )


@dataclass
class Usage:
    """What a run cost the machine."""

    pg: float
    busy: float  # share of all cores busy
    load_before: float
    load_after: float
    clients: float  # CPU of the load clients (this process's children reaped meanwhile)

    @staticmethod
    def between(before: Snapshot, after: Snapshot) -> Usage:
        busy = after.jiffies[0] - before.jiffies[0]
        total = max(1, after.jiffies[1] - before.jiffies[1])
        return Usage(
            after.pg - before.pg,
            busy / total,
            before.load,
            after.load,
            after.children - before.children,
        )


def connections_per_process(pids: Sequence[int], ports: Collection[int]) -> list[int]:
    """Established TCP connections on ``ports`` (local side) held by each process."""
    established: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) in ports:
                    established.add(fields[9])
    counts = []
    for pid in pids:
        inodes = set()
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
        counts.append(len(inodes & established))
    return counts


class Sampler(threading.Thread):
    """Every 0.2 s during a run, on the run's database: the backends connected (peak), active
    and waiting on a lock (means over the samples), the CPU time of its backends; with ports,
    the client connections each API process holds (the sample that saw most)."""

    def __init__(
        self, dbs: Databases, name: str, pids: Sequence[int] = (), ports: Sequence[int] = ()
    ) -> None:
        super().__init__(daemon=True)
        self.dbs, self.name_, self.pids, self.ports = dbs, name, list(pids), set(ports)
        self.stop = threading.Event()
        self.samples = 0
        self.peak_backends = 0
        self.active = 0  # summed over the samples
        self.waiting = 0
        self.waits: Counter[str] = Counter()  # what the waiting backends waited for
        self.spread: list[int] = []
        self._first: dict[int, float] = {}  # backend → its CPU seconds when first seen
        self._last: dict[int, float] = {}

    @property
    def mean_active(self) -> float:
        return self.active / self.samples if self.samples else 0.0

    @property
    def mean_waiting(self) -> float:
        return self.waiting / self.samples if self.samples else 0.0

    @property
    def backend_cpu(self) -> float:
        """CPU seconds of the database's backends since the sampler started (a backend that
        came and went between two samples is missed, as is its last 0.2 s)."""
        return sum(self._last[pid] - first for pid, first in self._first.items())

    def _sample(self, conn: psycopg.Connection[tuple[object, ...]], counting: bool) -> None:
        rows = conn.execute(
            "SELECT pid, state, wait_event_type, wait_event FROM pg_stat_activity "
            "WHERE datname = %s",
            (self.name_,),
        ).fetchall()
        for pid, *_ in rows:
            with contextlib.suppress(OSError):
                cpu = process_cpu_seconds(int(str(pid)))
                self._first.setdefault(int(str(pid)), 0.0 if counting else cpu)
                self._last[int(str(pid))] = cpu
        if not counting:
            return
        self.samples += 1
        self.peak_backends = max(self.peak_backends, len(rows))
        self.active += sum(state == "active" for _, state, _, _ in rows)
        locked = [str(event) for _, _, kind, event in rows if kind == "Lock"]
        self.waiting += len(locked)
        self.waits.update(locked)
        if self.ports:
            counts = connections_per_process(self.pids, self.ports)
            if sum(counts) > sum(self.spread):
                self.spread = counts

    def run(self) -> None:
        with self.dbs.admin() as conn:
            while not self.stop.wait(0.2):
                self._sample(conn, True)
            self._sample(conn, True)

    def __enter__(self) -> Sampler:
        with self.dbs.admin() as conn:  # the backends already there: counted from now
            self._sample(conn, False)
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.join(10)


# --- processes ----------------------------------------------------------------------------


def _started(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot), or None if it is gone: with its
    pid, what tells it from a later process given the same pid."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def _kill_left(identities: Sequence[tuple[int, int | None]]) -> None:
    """SIGKILL the processes recorded as (pid, start) that still run (the same ones)."""
    for pid, started in identities:
        if started is not None and _started(pid) == started:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def stop_process(process: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    """SIGTERM, up to 30 s, then SIGKILL."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def stop_server(server: Server) -> None:
    """Stop a ``revsync serve``; its worker processes too if it fails to (they are killed)."""
    try:
        workers = [(pid, _started(pid)) for pid in server.pids()[1:]]
    except OSError:
        workers = []
    try:
        server.stop()
    except Exception:  # a server that does not stop is killed
        stop_process(server.process)
        server.log.close()
    _kill_left(workers)  # workers left behind by a supervisor that died


def _serves(pid: int) -> bool:
    """Whether a child of ``revsync serve --workers N`` is one of uvicorn's worker processes
    (not multiprocessing's resource tracker)."""
    try:
        return b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def api_pids(server: Server, processes: int, timeout: float = 60) -> list[int]:
    """The processes that serve requests, once each has started (its CPU time at rest)."""
    deadline = time.monotonic() + timeout
    pids = server.pids()
    while time.monotonic() < deadline:
        pids = server.pids()
        workers = pids if processes == 1 else [pid for pid in pids[1:] if _serves(pid)]
        if len(workers) >= processes:
            before = sum(cpu_of(workers))
            time.sleep(0.3)
            if sum(cpu_of(workers)) - before < 0.03:
                return workers
        else:
            time.sleep(0.1)
    raise RuntimeError(f"{processes} API processes did not settle: {pids}")


# --- figures of PostgreSQL ------------------------------------------------------------------


@dataclass
class PgFigures:
    """What the run's database saw: its backends' CPU, how many were connected (peak), active
    and waiting on a lock (means over 0.2 s samples), and the deadlocks PostgreSQL broke."""

    cpu: float
    peak: int
    active: float
    waiting: float
    deadlocks: int
    waits: dict[str, int]  # lock waits seen in the samples, by wait event

    @staticmethod
    def of(sampler: Sampler, dbs: Databases, name: str) -> PgFigures:
        with dbs.admin() as conn:
            row = conn.execute(
                "SELECT deadlocks FROM pg_stat_database WHERE datname = %s", (name,)
            ).fetchone()
        deadlocks = row[0] if row else 0
        return PgFigures(
            sampler.backend_cpu,
            sampler.peak_backends,
            sampler.mean_active,
            sampler.mean_waiting,
            int(str(deadlocks or 0)),
            dict(sampler.waits),
        )

    def backends(self) -> str:
        text = f"{self.peak} / {self.active:.1f} / {self.waiting:.1f}"
        total = sum(self.waits.values())
        if total:
            shares = sorted(self.waits.items(), key=lambda item: -item[1])
            text += " (" + ", ".join(f"{event} {n / total:.0%}" for event, n in shares) + ")"
        return text


def _deadlocks_flushed(dbs: Databases, name: str) -> None:
    """Give the backends that just closed a moment to report their statistics."""
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        with dbs.admin() as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)
            ).fetchone()
        if row is not None and row[0] == 0:
            break
        time.sleep(0.1)
    time.sleep(0.6)  # PGSTAT_MIN_INTERVAL is 1 s from the last flush


# --- (a) baseline ---------------------------------------------------------------------------

#: the stored columns of an event, in the order of the baseline's rows
_NAMES = (
    *("dedup_slot", "source", "event_id", "type", "subject", "time_us", "day", "customer_id"),
    *("data", "fingerprint", "received_us", "late"),
)
_COLUMNS = ", ".join(_NAMES)
_VALUES = ", ".join(["%s"] * len(_NAMES))
#: the schema before migration 0027: the unique index on usage_events.dedup_slot is the claim
_INSERT_CLAIMING = (
    f"INSERT INTO usage_events ({_COLUMNS}) VALUES ({_VALUES}) ON CONFLICT (dedup_slot) DO NOTHING"
)
_INSERT_CLAIMED = f"INSERT INTO usage_events (seq, {_COLUMNS}) VALUES (%s, {_VALUES})"


@dataclass(frozen=True)
class Claim:
    """Since migration 0027 the claim is a row of ``usage_slots`` (whose columns are read from
    the database: the event's columns of the same names, and ``seq`` from the events'
    sequence); the event's row goes in after its claim is won."""

    sql: str
    picks: tuple[int, ...]  # the row's values the statement takes, in order

    @staticmethod
    def of(conn: psycopg.Connection[tuple[object, ...]]) -> Claim | None:
        found = conn.execute("SELECT to_regclass('usage_slots') IS NOT NULL").fetchone()
        if not (found and found[0]):
            return None
        columns = [
            str(name)
            for (name,) in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = "
                "'usage_slots' AND table_schema = current_schema() ORDER BY ordinal_position"
            )
        ]
        row = conn.execute("SELECT pg_get_serial_sequence('usage_events', 'seq')").fetchone()
        sequence = str(row[0]) if row and row[0] else "usage_events_seq_seq"
        unknown = set(columns) - {*_NAMES, "seq"}
        if unknown or "seq" not in columns:
            raise RuntimeError(f"the baseline does not know usage_slots' columns {columns}")
        values = [f"nextval('{sequence}')" if c == "seq" else "%s" for c in columns]
        sql = (
            f"INSERT INTO usage_slots ({', '.join(columns)}) VALUES ({', '.join(values)}) "
            "ON CONFLICT (dedup_slot) DO NOTHING RETURNING dedup_slot, seq"
        )
        return Claim(sql, tuple(_NAMES.index(c) for c in columns if c != "seq"))


def _store_chunk(
    cur: psycopg.Cursor[tuple[object, ...]],
    chunk: Sequence[tuple[object, ...]],
    claim: Claim | None,
) -> None:
    """One commit's rows, stored with plain SQL, deduplicated by the database's claim."""
    if claim is None:
        cur.executemany(_INSERT_CLAIMING, chunk)
        return
    cur.executemany(claim.sql, [[r[i] for i in claim.picks] for r in chunk], returning=True)
    won: dict[object, object] = {}
    while True:
        for slot, seq in cur.fetchall():
            won[slot] = seq
        if not cur.nextset():
            break
    rows = [(won.pop(r[0]), *r) for r in chunk if r[0] in won]
    cur.executemany(_INSERT_CLAIMED, rows)


def baseline_rows(data: Dataset, total: int) -> list[tuple[object, ...]]:
    """The stored rows of the dataset, in arrival order with the duplicates (as in the
    ingestion benchmark's baseline: re-sent rows drawn at random, after the others)."""
    received = to_micros(datetime.now(UTC))
    rows: list[tuple[object, ...]] = []
    for source, event_id, kind, tenant, stamp, data_json in data.rows:
        moment = datetime.fromisoformat(stamp)
        time_us = to_micros(moment)
        event = UsageEvent(source, event_id, kind, tenant, moment, {}, data_json)
        rows.append(
            (
                dedup_slot(source, event_id),
                source,
                event_id,
                kind,
                tenant,
                time_us,
                utc_day(time_us),
                "cust-" + tenant.removeprefix("tenant-"),
                data_json,
                fingerprint(event, time_us),
                received,
                False,
            )
        )
    rng = random.Random(1)
    return rows + [rows[rng.randrange(len(rows))] for _ in range(total - len(rows))]


@dataclass
class Baseline:
    rate: float  # events per second, duplicates included
    usage: Usage  # ``clients``: this process's CPU
    pg: PgFigures
    how: str


def baseline(dbs: Databases, template: str, data: Dataset, total: int) -> Baseline:
    name = dbs.create("baseline", template)
    try:
        arrival = baseline_rows(data, total)
        with psycopg.connect(dbs.url(name)) as conn:
            claim = Claim.of(conn)
            with Sampler(dbs, name) as sampler:
                before, own = Snapshot.take(), time.process_time()
                started = time.perf_counter()
                for offset in range(0, len(arrival), BASELINE_COMMIT):
                    with conn.transaction(), conn.cursor() as cur:
                        _store_chunk(cur, arrival[offset : offset + BASELINE_COMMIT], claim)
                seconds = time.perf_counter() - started
                usage = Usage.between(before, Snapshot.take())
                usage.clients = time.process_time() - own
        _deadlocks_flushed(dbs, name)
        pg = PgFigures.of(sampler, dbs, name)
        stored = dbs.scalar(name, "SELECT count(*) FROM usage_events")
        assert stored == data.unique, (stored, data.unique)
    finally:
        dbs.drop(name)
    how = (
        "claims into usage_slots (ON CONFLICT DO NOTHING RETURNING), then the rows won"
        if claim is not None
        else "INSERT … ON CONFLICT (dedup_slot) DO NOTHING"
    )
    return Baseline(total / seconds, usage, pg, how)


# --- (b) API processes ----------------------------------------------------------------------


@dataclass
class Bench:
    """What every run shares: the server's databases, the template and the workload."""

    dbs: Databases
    work: Path
    template: str  # the database copied for each run
    template_config: Path
    key: str
    data: Dataset
    bodies: list[bytes]
    per_process: int  # client connections per API process
    retries: int  # times a request answered 5xx is sent again
    messages: int
    analyze: bool  # ANALYZE the backlog before the relays start
    timeout: float


@dataclass
class ApiRun:
    processes: int
    shape: str  # one of SHAPES
    connections: int
    rate: float
    result: LoadResult
    stored: int
    usage: Usage
    cpu: list[float]  # per API process
    spread: list[int]  # client connections per API process
    pg: PgFigures
    log_errors: dict[str, int]  # errors and warnings in the server's log, by kind


def log_errors(path: Path) -> dict[str, int]:
    """The errors and warnings of a revsync log (JSON lines), counted by event and error kind."""
    kinds: Counter[str] = Counter()
    with contextlib.suppress(OSError):
        for line in path.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                if "Traceback" in line or "Error" in line:
                    kinds[line.strip()[:120]] += 1
                continue
            if not isinstance(entry, dict) or entry.get("level") not in ("warning", "error"):
                continue
            event = str(entry.get("event", ""))
            if event.startswith("audit.unkeyed"):
                continue
            error = str(entry.get("error") or entry.get("exception") or "")
            causes = re.findall(r"\((\w+(?:\.\w+)+)\) ([^\n]*)", error)  # (psycopg.errors.X) …
            kind = f"{event}: {causes[-1][0]} {causes[-1][1]}" if causes else event
            kinds[kind[:160]] += 1
    return dict(kinds)


#: the two ways of running P API processes: ``revsync serve --workers P`` (uvicorn's
#: processes sharing one socket, the deployment's shape), or P ``revsync serve`` on P ports with
#: the client's connections spread over them evenly
SHAPES = ("workers", "ports")


def _serve(
    bench: Bench, name: str, processes: int, shape: str, servers: list[Server]
) -> tuple[list[int], list[int], list[Path]]:
    """Start the API processes (appended to ``servers``); their pids, ports and logs."""
    directory = bench.work / f"api-{processes}-{shape}"
    if shape == "workers":
        config = config_for(bench.template_config, directory, bench.dbs.url(name))
        servers.append(Server(config, free_port(), ["--workers", str(processes)]))
        return api_pids(servers[0], processes), [servers[0].port], [config.parent / "serve.log"]
    for n in range(processes):  # one after the other: each records the configuration at start
        config = config_for(bench.template_config, directory / f"p{n + 1}", bench.dbs.url(name))
        servers.append(Server(config, free_port(), ["--workers", "1"]))
    pids = [pid for server in servers for pid in api_pids(server, 1)]
    return pids, [s.port for s in servers], [Path(s.log.name) for s in servers]


def api_run(bench: Bench, processes: int, shape: str) -> ApiRun:
    dbs, data = bench.dbs, bench.data
    name = dbs.create(f"api{processes}{shape}", bench.template)
    servers: list[Server] = []
    try:
        pids, ports, logs = _serve(bench, name, processes, shape, servers)
        connections = bench.per_process * processes
        with Sampler(dbs, name, pids, ports) as sampler:
            cpu_before = cpu_of(pids)
            before = Snapshot.take()
            try:
                result = run_async_load(
                    ports,
                    bench.key,
                    MEDIA,
                    bench.bodies,
                    processes=1,
                    connections=connections,
                    retries=bench.retries,
                )
            except RuntimeError as error:
                raise RuntimeError(f"{error}\nserver logs: {_logged(logs)}") from error
            after = Snapshot.take()
            cpu = [b - a for a, b in zip(cpu_before, cpu_of(pids), strict=True)]
        for server in servers:
            stop_server(server)
        servers.clear()
        _deadlocks_flushed(dbs, name)
        pg = PgFigures.of(sampler, dbs, name)
        stored, distinct = dbs.rows(
            name, "SELECT count(*), count(DISTINCT (source, event_id)) FROM usage_events"
        )[0]
        letters = dbs.scalar(name, "SELECT count(*) FROM dead_letters")
        problems = []
        if not stored == distinct == data.unique:
            problems.append(f"stored {stored} events ({distinct} distinct), not {data.unique}")
        if result.accepted != data.unique:
            problems.append(f"answers accepted {result.accepted}, not {data.unique}")
        if result.duplicates != len(data.events) - data.unique:
            problems.append(
                f"answers counted {result.duplicates} duplicates, not "
                f"{len(data.events) - data.unique}"
            )
        if result.rejected or letters:
            problems.append(f"{result.rejected} rejected, {letters} dead letters")
        if problems:
            raise AssertionError(
                f"{processes} API processes ({shape}): {'; '.join(problems)}; server logs: "
                f"{_logged(logs)}"
            )
        return ApiRun(
            processes,
            shape,
            connections,
            len(data.events) / result.seconds,
            result,
            int(str(stored)),
            Usage.between(before, after),
            cpu,
            sampler.spread,
            pg,
            _logged(logs),
        )
    finally:
        for server in servers:
            stop_server(server)
        dbs.drop(name)


def _logged(logs: Sequence[Path]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for log in logs:
        total.update(log_errors(log))
    return dict(total)


# --- (c) relays -----------------------------------------------------------------------------


@dataclass
class RelayRun:
    relays: int
    messages: int
    rate: float  # over the span from the first attempt to the last
    wall: float  # from starting the relays until nothing waits
    documents: int
    per_relay: list[int]  # attempts made by each relay
    usage: Usage
    cpu: list[float]
    target_cpu: float
    pg: PgFigures
    log_errors: dict[str, int]


@dataclass
class Drained:
    wall: float
    usage: Usage
    cpu: list[float]  # per relay
    target_cpu: float
    sampler: Sampler


def _drain(bench: Bench, name: str, config: Path, relays: int, target_pid: int) -> Drained:
    """Start ``relays`` workers, wait until no message waits, stop them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVSYNC_")}
    workers: list[subprocess.Popen[bytes]] = []
    log = (config.parent / "worker.log").open("w")
    waiting = "SELECT count(*) FROM outbox_messages WHERE status IN ('pending', 'in_flight')"
    try:
        with (
            psycopg.connect(bench.dbs.url(name), autocommit=True) as conn,
            Sampler(bench.dbs, name) as sampler,
        ):
            before = Snapshot.take()
            target_before = process_cpu_seconds(target_pid)
            started = time.perf_counter()
            for n in range(relays):
                command = [sys.executable, "-m", "revsync", "worker", "--config", str(config)]
                workers.append(
                    subprocess.Popen(
                        [*command, "--owner", f"relay-{n + 1}"],
                        env=env,
                        cwd=config.parent,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
            while True:
                row = conn.execute(waiting).fetchone()
                if row is not None and row[0] == 0:
                    break
                if any(w.poll() is not None for w in workers):
                    raise RuntimeError(f"a relay stopped: see {config.parent / 'worker.log'}")
                if time.perf_counter() - started > bench.timeout:
                    raise RuntimeError(
                        f"{row[0] if row else '?'} messages still waiting after "
                        f"{bench.timeout:.0f} s"
                    )
                time.sleep(0.05)
            wall = time.perf_counter() - started
            cpu = cpu_of([w.pid for w in workers])  # counted from their start
            target_cpu = process_cpu_seconds(target_pid) - target_before
            usage = Usage.between(before, Snapshot.take())
        return Drained(wall, usage, cpu, target_cpu, sampler)
    finally:
        for worker in workers:
            stop_process(worker)
        log.close()


def relay_run(bench: Bench, target: subprocess.Popen[str], url: str, relays: int) -> RelayRun:
    dbs, messages = bench.dbs, bench.messages
    name = dbs.create(f"relay{relays}", bench.template)
    try:
        tag = f"relays-{relays}"
        shutil.rmtree(bench.work / tag, ignore_errors=True)
        config = prepare_backlog(bench.work, url, messages, tag, database_url=dbs.url(name))
        log = config.parent / "worker.log"
        if bench.analyze:
            with psycopg.connect(dbs.url(name), autocommit=True) as conn:
                conn.execute("ANALYZE outbox_messages")
        httpx.post(f"{url}/_reset").raise_for_status()
        drained = _drain(bench, name, config, relays, target.pid)
        stats = httpx.get(f"{url}/_stats").json()
        _deadlocks_flushed(dbs, name)
        pg = PgFigures.of(drained.sampler, dbs, name)
        first, last = dbs.rows(
            name, "SELECT min(started_at), max(finished_at) FROM outbox_attempts"
        )[0]
        span = (_moment(last) - _moment(first)).total_seconds()
        by_relay = {
            str(relay): int(str(count))
            for relay, count in dbs.rows(
                name, "SELECT relay, count(*) FROM outbox_attempts GROUP BY relay"
            )
        }
        delivered = dbs.scalar(
            name, "SELECT count(*) FROM outbox_messages WHERE status = 'delivered'"
        )
        keys = [str(k) for (k,) in dbs.rows(name, "SELECT idempotency_key FROM outbox_messages")]
        problems = []
        if delivered != messages:
            problems.append(f"{delivered} of {messages} messages delivered")
        if stats.get("documents") != messages:
            problems.append(f"the target holds {stats.get('documents')} documents, not {messages}")
        if len(set(keys)) != messages:
            problems.append(f"{len(set(keys))} distinct keys for {messages} messages")
        try:  # each key found among exactly `messages` documents: each delivered once
            lookups = [
                f"GET /documents/by-key/{quote(k, safe='')} HTTP/1.1\r\n"
                "Host: 127.0.0.1\r\n\r\n".encode()
                for k in keys
            ]
            run_requests(urlsplit(url).port or 80, lookups, 1, 8)
        except RuntimeError as error:
            problems.append(f"a key is missing at the target: {error}")
        if problems:
            raise AssertionError(
                f"{relays} relays: {'; '.join(problems)}; log {log}: {log_errors(log)}"
            )
        return RelayRun(
            relays,
            messages,
            messages / span if span > 0 else float("nan"),
            drained.wall,
            int(stats["documents"]),
            [by_relay.get(f"relay-{n + 1}", 0) for n in range(relays)],
            drained.usage,
            drained.cpu,
            drained.target_cpu,
            pg,
            log_errors(log),
        )
    finally:
        dbs.drop(name)


def _moment(value: object) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


# --- report ---------------------------------------------------------------------------------


def _split(values: Sequence[float | int], digits: int = 1) -> str:
    return " / ".join(f"{v:.{digits}f}" if isinstance(v, float) else f"{v}" for v in values)


def _load(usage: Usage) -> str:
    return f"{usage.load_before:.2f} → {usage.load_after:.2f}"


def _api_label(run: ApiRun) -> str:
    if run.processes == 1:
        return "1 API process"
    if run.shape == "workers":
        return f"{run.processes} API processes, `--workers {run.processes}`"
    return f"{run.processes} API processes on {run.processes} ports"


def _per_1k(events: int, *seconds: float) -> tuple[str, str]:
    """CPU ms per 1,000 events, added up, and the rate those would allow on every core."""
    ms = [s * 1_000_000 / events for s in seconds]
    total = sum(ms)
    ceiling = (os.cpu_count() or 1) * 1_000_000 / total if total else float("nan")
    return " + ".join(f"{m:.0f}" for m in ms) + f" = {total:.0f}", f"{ceiling:,.0f}"


@dataclass
class Results:
    events: int
    unique: int
    baseline: Baseline
    api: list[ApiRun]
    plain: float | None  # messages/s of plain POSTs to the target
    relays: list[RelayRun]


def report(r: Results) -> tuple[str, str]:
    """The tables, and a summary: the ratios, what was logged, how busy the cores were."""
    cores = os.cpu_count() or 1
    base, used = r.baseline.rate, r.baseline.usage
    one = r.api[0].rate if r.api else float("nan")
    lines = [
        "| run | events/s | vs baseline | vs first | p50 ms | p99 ms | 5xx answers (sent again) | stored | cores busy | load 1 min |",
        "|---|---|---|---|---|---|---|---|---|---|",
        f"| (a) baseline: executemany, {r.baseline.how}, {BASELINE_COMMIT:,} rows/commit, "
        f"1 connection | {base:,.0f} | 1.00 | | | | | {r.unique:,} | {used.busy:.0%} | "
        f"{_load(used)} |",
    ]
    for run in r.api:
        lines.append(
            f"| (b) {_api_label(run)}, {run.connections} connections | {run.rate:,.0f} | "
            f"{run.rate / base:.2f} | "
            f"{run.rate / one:.2f} | {run.result.percentile(50):.1f} | "
            f"{run.result.percentile(99):.1f} | {run.result.server_errors} | {run.stored:,} | "
            f"{run.usage.busy:.0%} | {_load(run.usage)} |"
        )
    lines += [
        "",
        "| run | CPU s per API process | connections per API process | CPU s: API / database backends / whole PostgreSQL server / clients | backends: peak / active / waiting on a lock (for what) | deadlocks | CPU ms per 1,000 events: API + backends + clients | CPU-bound ceiling, events/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    ms, ceiling = _per_1k(r.events, r.baseline.pg.cpu, used.clients)
    lines.append(
        f"| (a) | | | – / {r.baseline.pg.cpu:.1f} / {used.pg:.1f} / {used.clients:.1f} | "
        f"{r.baseline.pg.backends()} | {r.baseline.pg.deadlocks} | – + {ms} | {ceiling} |"
    )
    for run in r.api:
        ms, ceiling = _per_1k(r.events, sum(run.cpu), run.pg.cpu, run.usage.clients)
        lines.append(
            f"| (b) {_api_label(run)} | {_split(run.cpu)} | {_split(run.spread) or '?'} | "
            f"{sum(run.cpu):.1f} / {run.pg.cpu:.1f} / {run.usage.pg:.1f} / "
            f"{run.usage.clients:.1f} | {run.pg.backends()} | {run.pg.deadlocks} | {ms} | "
            f"{ceiling} |"
        )
    first = r.relays[0].rate if r.relays else float("nan")
    if r.relays or r.plain is not None:
        lines += [
            "",
            "| run | messages/s | vs first | seconds from start | delivered once | attempts per relay | CPU s: relays (with their start-up) / database backends / whole PostgreSQL server / target | backends: peak / active / waiting on a lock (for what) | deadlocks | cores busy | load 1 min |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
    if r.plain is not None:
        lines.append(
            f"| (c0) plain httpx POSTs, {CONCURRENCY} at a time (no database) | {r.plain:,.0f} "
            "| | | | | | | | | |"
        )
    for run_c in r.relays:
        lines.append(
            f"| (c) {run_c.relays} relay{'s' if run_c.relays > 1 else ''} (`revsync worker`), "
            f"concurrency {CONCURRENCY} each | {run_c.rate:,.0f} | {run_c.rate / first:.2f} | "
            f"{run_c.wall:.1f} | {run_c.documents:,} | {_split(run_c.per_relay)} | "
            f"{_split(run_c.cpu)} / {run_c.pg.cpu:.1f} / {run_c.usage.pg:.1f} / "
            f"{run_c.target_cpu:.1f} | {run_c.pg.backends()} | {run_c.pg.deadlocks} | "
            f"{run_c.usage.busy:.0%} | {_load(run_c.usage)} |"
        )
    summary = []
    if len(r.api) > 1:
        ratios = ", ".join(f"{_api_label(run)} → {run.rate / one:.2f}×" for run in r.api[1:])
        busy = ", ".join(f"{_api_label(run)}: {run.usage.busy:.0%}" for run in r.api)
        summary.append(
            f"Events/s vs {_api_label(r.api[0])}: {ratios}. The {cores} cores were busy: {busy}."
        )
    if len(r.relays) > 1:
        ratios = ", ".join(f"{run.relays} → {run.rate / first:.2f}×" for run in r.relays[1:])
        busy = ", ".join(f"{run.relays}: {run.usage.busy:.0%}" for run in r.relays)
        summary.append(f"Relays vs {r.relays[0].relays}: {ratios}; cores busy {busy}.")
    logged = [(_api_label(run), run.log_errors) for run in r.api]
    logged += [(f"{run.relays} relays", run.log_errors) for run in r.relays]
    for label, found in logged:
        if found:
            listed = "; ".join(f"{kind} (×{n})" for kind, n in found.items())
            summary.append(f"Logged by {label}: {listed}.")
    return "\n".join(lines), " ".join(summary)


# --- main -----------------------------------------------------------------------------------


def _counts(text: str) -> list[int]:
    values = [int(v) for v in text.split(",") if v.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of positive counts")
    return values


def _shapes(text: str) -> list[str]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values or not set(values) <= set(SHAPES):
        raise argparse.ArgumentTypeError(f"a comma-separated list of {', '.join(SHAPES)}")
    return values


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # run the finally blocks: processes and databases go


@contextlib.contextmanager
def _cleanup_on_sigterm() -> Iterator[None]:
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1_000, help="events per request")
    parser.add_argument("--processes", type=_counts, default=[1, 2, 4], help="e.g. 1,2,4")
    parser.add_argument(
        "--shapes",
        type=_shapes,
        default=list(SHAPES),
        help="workers: `revsync serve --workers P` (one socket); ports: P `revsync serve` on P "
        "ports, the connections spread evenly; default both (one process: the first only)",
    )
    parser.add_argument(
        "--connections", type=int, default=4, help="client connections per API process"
    )
    parser.add_argument("--messages", type=int, default=10_000, help="0: no relay runs")
    parser.add_argument("--relays", type=_counts, default=[1, 2], help="e.g. 1,2")
    parser.add_argument(
        "--no-analyze",
        action="store_true",
        help="start the relays on the backlog as written, before PostgreSQL has statistics "
        "of it (by default it is analyzed first, as autovacuum does within a minute)",
    )
    parser.add_argument("--pg", default=PG_DEFAULT, help="an admin URL of the PostgreSQL server")
    parser.add_argument(
        "--timeout", type=float, default=900, help="seconds a relay run may take at most"
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first 5xx answer (by default a request answered 5xx is sent again, "
        f"up to {RETRIES} times, as a client would, and the 5xx answers are counted)",
    )
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    work = ROOT / ".bench" / "scale_pg"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    dbs = Databases(args.pg, f"revsync_bench_{os.getpid()}")
    target: subprocess.Popen[str] | None = None
    with _cleanup_on_sigterm():
        try:
            pg_version = dbs.version()
            print(f"generating {args.events:,} events …", flush=True)
            data = make_dataset(args.events)
            bodies = [
                b"[" + b",".join(data.events[i : i + args.batch]) + b"]"
                for i in range(0, len(data.events), args.batch)
            ]
            template = dbs.create("template")
            template_config, key = prepare_template(work / "template", url=dbs.url(template))
            bench = Bench(
                dbs,
                work,
                template,
                template_config,
                key,
                data,
                bodies,
                args.connections,
                0 if args.strict else RETRIES,
                args.messages,
                not args.no_analyze,
                args.timeout,
            )
            print("(a) baseline …", flush=True)
            base = baseline(dbs, template, data, args.events)
            print(f"    {base.rate:,.0f} events/s", flush=True)
            api = []
            for processes in args.processes:
                for shape in args.shapes if processes > 1 else args.shapes[:1]:
                    print(f"(b) {processes} API processes ({shape}) …", flush=True)
                    run = api_run(bench, processes, shape)
                    api.append(run)
                    errors = run.result.server_errors
                    print(
                        f"    {run.rate:,.0f} events/s"
                        + (f"; {errors} answers 5xx (sent again)" if errors else "")
                        + (f"; logged {run.log_errors}" if run.log_errors else ""),
                        flush=True,
                    )
            plain = None
            relays: list[RelayRun] = []
            if args.relays and args.messages:
                target, url = start_target()
                print("(c0) plain POSTs to the target …", flush=True)
                plain = args.messages / plain_posts(url, args.messages)
                for count in args.relays:
                    print(f"(c) {count} relays, {args.messages:,} messages …", flush=True)
                    run_c = relay_run(bench, target, url, count)
                    relays.append(run_c)
                    print(f"    {run_c.rate:,.0f} messages/s", flush=True)
        finally:
            if target is not None:
                stop_process(target)
            dbs.drop_all()
    tables, summary = report(Results(args.events, data.unique, base, api, plain, relays))
    print(tables)
    print(summary)
    if not args.no_write:
        write_section(TITLE, _write_up(args, data, pg_version, bench, tables, summary))


def _write_up(
    args: argparse.Namespace,
    data: Dataset,
    pg_version: str,
    bench: Bench,
    tables: str,
    summary: str,
) -> str:
    command = (
        f"python benchmarks/scale_pg.py --events {args.events} --messages {args.messages} "
        f"--processes {','.join(map(str, args.processes))} --shapes {','.join(args.shapes)} "
        f"--relays {','.join(map(str, args.relays))}" + (" --no-analyze" if args.no_analyze else "")
    )
    return (
        f"Command: `{command}` ({machine()}, PostgreSQL {pg_version} on the same machine; the "
        "API processes, clients, relays, target and PostgreSQL share the cores).\n"
        f"Measured {datetime.now(UTC):%Y-%m-%d}. {args.events:,} events, 10% duplicates, "
        f"{TENANTS:,} tenants, batches of {args.batch:,}, {args.connections} connections per "
        "API process, either to `revsync serve --workers P` (uvicorn's processes sharing one "
        "socket: the kernel and the processes decide which takes a connection) or to P "
        "`revsync serve` on P ports (the connections spread evenly); "
        f"every run checks that exactly the {data.unique:,} unique events were stored, once, "
        "and that every request was answered 200 in the end (one answered 5xx is sent again, "
        f"up to {bench.retries} times, as a client would; the column counts those answers). "
        f"Relays: a backlog of {args.messages:,} messages in 200 aggregates"
        + ("" if args.no_analyze else " (analyzed before the relays start)")
        + ", no faults, each message checked delivered once at the target; messages/s over the "
        "span from the first attempt to the last. CPU seconds from /proc: the database "
        "backends' are those of the run's database (sampled every 0.2 s), the whole server's "
        "include whatever else it did meanwhile.\n\n" + tables + "\n\n" + summary
    )


if __name__ == "__main__":
    main()
