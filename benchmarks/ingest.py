"""Ingestion benchmark: revsync's full HTTP path against a raw SQLite baseline, same run.

    python benchmarks/ingest.py                      # 1,000,000 events, writes docs/benchmarks.md
    python benchmarks/ingest.py --events 100000 --no-write   # a quick look
    python benchmarks/ingest.py --events 200000 --schema --no-write   # with and without schemas

Workload: N events (10% of them duplicates, re-sent later) over 10,000 tenants mapped to
10,000 customers, random 128-bit ids, times spread over the month, 70% ``api.request`` and
30% ``llm.completion`` (metered by a sum over ``tokens``, so the value is checked).

(a) baseline: ``executemany`` of the same rows into a bare SQLite table with a primary key
    on (source, id), ``INSERT OR IGNORE``, 10,000 rows per commit, WAL, synchronous=FULL.
(b) ``revsync serve`` (one process, SQLite) fed by 4 keep-alive connections posting batches
    of 1,000 and of 10,000 (auth, validation, dedup, identity, meter checks, durable commit).
(c) one event per request over 32 keep-alive connections.
(d) with ``--stream``: the same events published to a NATS JetStream stream first (one
    CloudEvent per message), then read by ``revsync worker`` (``usage_stream``: a durable pull
    consumer, batches of 500, acknowledged after each commit), timed from the worker's start
    to the last unique event stored. Needs a NATS server with JetStream on 127.0.0.1:4222.

The load comes from a lean uvloop client in a separate process (about 0.03 ms of CPU per
request), so that the two cores go to the server rather than to the client.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import resource
import shutil
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
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
    write_section,
)

from revsync.adapters.db.migrate import upgrade
from revsync.adapters.db.tables import customer_refs, customers, identity_state
from revsync.bootstrap import apply_configuration, build
from revsync.config import load_settings
from revsync.domain.usage import dedup_slot, to_micros, utc_day

TENANTS = 10_000
SOURCE = "app://bench"
MEDIA = "application/cloudevents-batch+json"


@dataclass
class Dataset:
    """Encoded events in arrival order and how many of them are unique."""

    events: list[bytes]
    rows: list[tuple[str, str, str, str, str, str]]
    unique: int


def make_dataset(total: int, seed: int = 42) -> Dataset:
    rng = random.Random(seed)
    encode = msgspec.json.encode
    unique = total - total // 10
    now = datetime.now(UTC)
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    span_us = max(int((now - start).total_seconds() * 1e6), 3_600_000_000)
    step = span_us // unique
    events: list[bytes] = []
    rows: list[tuple[str, str, str, str, str, str]] = []
    for number in range(unique):
        moment = start + timedelta(microseconds=number * step)
        tenant = f"tenant-{rng.randrange(TENANTS):05d}"
        if rng.random() < 0.7:
            kind, data = (
                "api.request",
                {
                    "endpoint": rng.choice(("/search", "/sync", "/export")),
                    "environment": "production",
                },
            )
        else:
            kind, data = (
                "llm.completion",
                {
                    "model": rng.choice(("small", "large")),
                    "tokens": rng.randrange(1, 5000),
                    "environment": "production",
                },
            )
        event_id = f"{rng.getrandbits(128):032x}"
        stamp = moment.isoformat().replace("+00:00", "Z")
        body = {
            "specversion": "1.0",
            "id": event_id,
            "source": SOURCE,
            "type": kind,
            "subject": tenant,
            "time": stamp,
            "data": data,
        }
        events.append(encode(body))
        rows.append((SOURCE, event_id, kind, tenant, stamp, encode(data).decode()))
    for _ in range(total - unique):  # retries: an earlier event sent again, later
        position = rng.randrange(len(events))
        events.insert(min(len(events), position + rng.randrange(1, 50_000)), events[position])
    return Dataset(events, rows, unique)


def baseline(rows: list[tuple[str, str, str, str, str, str]], directory: Path, total: int) -> float:
    """Raw executemany into a bare table; returns rows per second (duplicates included)."""
    path = directory / "baseline.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(
        "CREATE TABLE events (source TEXT NOT NULL, id TEXT NOT NULL, type TEXT, subject TEXT, "
        "time TEXT, data TEXT, PRIMARY KEY (source, id))"
    )
    rng = random.Random(1)
    arrival = rows + [rows[rng.randrange(len(rows))] for _ in range(total - len(rows))]
    started = time.perf_counter()
    for offset in range(0, len(arrival), 10_000):
        db.execute("BEGIN")
        db.executemany(
            "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?)",
            arrival[offset : offset + 10_000],
        )
        db.execute("COMMIT")
    seconds = time.perf_counter() - started
    db.close()
    return len(arrival) / seconds


#: revsync's own insert of a usage event (as the SQLite writer runs it)
SCHEMA_INSERT = (
    "INSERT INTO usage_events (dedup_slot, source, event_id, type, subject, time_us, day, "
    "customer_id, data, fingerprint, received_us, late) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedup_slot) DO NOTHING"
)


def schema_ceiling(
    rows: list[tuple[str, str, str, str, str, str]],
    template: Path,
    directory: Path,
    total: int,
    per_commit: int,
) -> float:
    """Raw executemany of the same rows into revsync's own ``usage_events`` (its indexes, its
    pragmas, a migrated database), ``per_commit`` rows a transaction: what SQLite alone allows
    the writer. Rows are built before the clock starts; returns rows per second."""
    database = fresh_copy(template, directory).parent / "revsync.db"
    received = to_micros(datetime.now(UTC))
    built = []
    for source, event_id, kind, tenant, stamp, data in rows:
        moment = to_micros(datetime.fromisoformat(stamp))
        key = f"{source}{event_id}".encode()
        built.append(
            (
                dedup_slot(source, event_id),
                source,
                event_id,
                kind,
                tenant,
                moment,
                utc_day(moment),
                "cust-" + tenant.removeprefix("tenant-"),
                data,
                hashlib.blake2b(key, digest_size=16).digest(),
                received,
                False,
            )
        )
    rng = random.Random(1)
    arrival = built + [built[rng.randrange(len(built))] for _ in range(total - len(built))]
    db = sqlite3.connect(database, isolation_level=None)
    for pragma in (
        "journal_mode=WAL",
        "synchronous=FULL",
        "wal_autocheckpoint=20000",
        "journal_size_limit=134217728",
    ):
        db.execute(f"PRAGMA {pragma}")
    started = time.perf_counter()
    for offset in range(0, len(arrival), per_commit):
        db.execute("BEGIN IMMEDIATE")
        db.executemany(SCHEMA_INSERT, arrival[offset : offset + per_commit])
        db.execute("COMMIT")
    seconds = time.perf_counter() - started
    stored = db.execute("SELECT count(*) FROM usage_events").fetchone()[0]
    db.close()
    assert stored == len(built), (stored, len(built))
    return len(arrival) / seconds


#: realistic schemas of the benchmark's two event types (``--schema``): closed objects with
#: enums, bounds and lengths, so that every event is checked field by field
SCHEMAS = {
    "api.request": {
        "type": "object",
        "properties": {
            "endpoint": {"type": "string", "minLength": 1, "maxLength": 200},
            "environment": {"type": "string", "enum": ["production", "staging", "development"]},
        },
        "required": ["endpoint", "environment"],
        "additionalProperties": False,
    },
    "llm.completion": {
        "type": "object",
        "properties": {
            "model": {"type": "string", "maxLength": 64},
            "tokens": {"type": "integer", "minimum": 0, "maximum": 100_000_000},
            "environment": {"type": "string", "enum": ["production", "staging", "development"]},
        },
        "required": ["model", "tokens", "environment"],
        "additionalProperties": False,
    },
}


def prepare_template(
    directory: Path, schemas: bool = False, url: str = "sqlite:///revsync.db", decoders: int = 0
) -> tuple[Path, str]:
    """A migrated database with 10,000 customers (one tenant each) and an ingest key; with
    ``schemas``, the event types declared with :data:`SCHEMAS` (registered at start); ``url``:
    another database (an empty one, e.g. PostgreSQL) in place of SQLite in ``directory``."""
    config = yaml.safe_load((ROOT / "src/revsync/revsync.example.yaml").read_text())
    if schemas:
        config["schemas"] = {
            "types": {
                kind: {"versions": [{"version": 1, "schema": schema}]}
                for kind, schema in SCHEMAS.items()
            }
        }
    config["database"]["url"] = url
    config.setdefault("ingestion", {})["decoders"] = decoders
    config["logging"] = {"level": "WARNING", "format": "json"}
    # the per-key limit is counted (its cost is part of the figures) but never reached
    config["server"]["rate_limits"] = {"per_key": "1000000/second"}
    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / "revsync.yaml"
    config_path.write_text(yaml.safe_dump(config))
    container = build(load_settings(config_path))
    try:
        upgrade(container.engine)
        if schemas:
            apply_configuration(container, "bench")
        now = container.clock.now()
        with container.engine.begin() as conn:  # bulk set-up; the API path is what is measured
            conn.execute(
                customers.insert(),
                [
                    {
                        "id": f"cust-{n:05d}",
                        "name": f"Customer {n}",
                        "currency": "EUR",
                        "timezone": "UTC",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n in range(TENANTS)
                ],
            )
            conn.execute(
                customer_refs.insert(),
                [
                    {
                        "system": "product",
                        "value": f"tenant-{n:05d}",
                        "customer_id": f"cust-{n:05d}",
                    }
                    for n in range(TENANTS)
                ],
            )
            conn.execute(identity_state.update().values(version=identity_state.c.version + 1))
        key = container.api_keys.create("bench", ["ingest", "read"], "bench").secret
    finally:
        container.close()
    return config_path, key


def fresh_copy(template: Path, directory: Path) -> Path:
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    for name in ("revsync.yaml", "revsync.db"):
        shutil.copyfile(template.parent / name, directory / name)
    return directory / "revsync.yaml"


def stored_events(config: Path) -> int:
    engine = sa.create_engine(f"sqlite:///{config.parent / 'revsync.db'}")
    with engine.connect() as conn:
        count = int(conn.exec_driver_sql("SELECT count(*) FROM usage_events").scalar_one())
    engine.dispose()
    return count


@dataclass
class Cpu:
    """CPU seconds a load took: the server's own process, its decoding processes, the load
    client."""

    server: float
    decoders: float
    client: float

    def per_event_us(self, events: int) -> str:
        return " / ".join(
            f"{s * 1e6 / events:.1f}" for s in (self.server, self.decoders, self.client)
        )

    def cores_busy(self, seconds: float) -> float:
        return (self.server + self.decoders + self.client) / seconds


def serve_and_load(
    config: Path, key: str, bodies: list[bytes], media: str, connections: int
) -> tuple[LoadResult, float, Cpu]:
    server = Server(config, free_port())
    try:
        pids = server.pids()
        before = [process_cpu_seconds(pid) for pid in pids]
        clients = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = run_async_load(
            server.port, key, media, bodies, processes=1, connections=connections
        )
        reaped = resource.getrusage(resource.RUSAGE_CHILDREN)  # the client, joined
        spent = [process_cpu_seconds(pid) - b for pid, b in zip(pids, before, strict=True)]
        client = (reaped.ru_utime + reaped.ru_stime) - (clients.ru_utime + clients.ru_stime)
        rss = server.peak_rss_mb()
    finally:
        server.stop()
    return result, rss, Cpu(spent[0], sum(spent[1:]), client)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--single", type=int, default=30_000, help="requests in the one-event-per-request run"
    )
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    parser.add_argument(
        "--decoders",
        type=int,
        default=0,
        help="ingestion.decoders of the server: processes that decode large bodies beside it",
    )
    parser.add_argument(
        "--schema",
        action="store_true",
        help="run the batches of 1,000 without and with schemas of both event types and print "
        "the ratio (the schema registry's target: at least 0.80)",
    )
    parser.add_argument(
        "--stream",
        action="store_true",
        help="also (d): the events read from NATS JetStream by revsync worker (usage_stream)",
    )
    args = parser.parse_args()
    if args.schema:
        compare_schemas(args.events)
        return

    work = ROOT / ".bench" / "ingest"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    print(f"generating {args.events:,} events …", flush=True)
    data = make_dataset(args.events)

    print("(a) baseline …", flush=True)
    base = baseline(data.rows, work, args.events)
    template, key = prepare_template(work / "template", decoders=args.decoders)
    decoding = f", {args.decoders} decoding process{'es' if args.decoders > 1 else ''}"
    decoding = decoding if args.decoders else ""

    lines = []
    header = "| run | events/s | vs baseline | p50 ms | p99 ms | server peak RSS MB | stored | duplicates | CPU µs per event: server / decoding / client | cores busy |\n|---|---|---|---|---|---|---|---|---|---|\n"
    lines.append(
        f"| (a) baseline: raw executemany, 10,000 rows/commit | {base:,.0f} | 1.00 | | | | | | | |"
    )
    figures: dict[str, float] = {"baseline": base}
    for size in (1_000, 10_000):
        print(f"(a) revsync's table, {size:,} rows/commit …", flush=True)
        ceiling = schema_ceiling(data.rows, template, work / f"ceiling-{size}", args.events, size)
        figures[f"ceiling{size}"] = ceiling
        lines.append(
            f"| (a) raw executemany into revsync's `usage_events` (its indexes), {size:,} "
            f"rows/commit | {ceiling:,.0f} | {ceiling / base:.2f} | | | | | | | |"
        )
    for size in (1_000, 10_000):
        print(f"(b) HTTP, batches of {size:,} …", flush=True)
        config = fresh_copy(template, work / f"batch-{size}")
        bodies = [
            b"[" + b",".join(data.events[i : i + size]) + b"]"
            for i in range(0, len(data.events), size)
        ]
        result, rss, cpu = serve_and_load(config, key, bodies, MEDIA, connections=4)
        rate = len(data.events) / result.seconds
        stored = stored_events(config)
        assert stored == data.unique, (stored, data.unique)
        assert (
            result.accepted == data.unique and result.duplicates == len(data.events) - data.unique
        )
        figures[f"batch{size}"] = rate
        lines.append(
            f"| (b) HTTP batches of {size:,}, 4 connections{decoding} | {rate:,.0f} | {rate / base:.2f} | "
            f"{result.percentile(50):.1f} | {result.percentile(99):.1f} | {rss:.0f} | {stored:,} | {result.duplicates:,} | "
            f"{cpu.per_event_us(len(data.events))} | {cpu.cores_busy(result.seconds):.2f} |"
        )
    print(f"(c) HTTP, one event per request, {args.single:,} requests …", flush=True)
    config = fresh_copy(template, work / "single")
    singles = data.events[: args.single]
    result, rss, cpu = serve_and_load(
        config, key, singles, "application/cloudevents+json", connections=32
    )
    rate = len(singles) / result.seconds
    figures["single"] = rate
    unique_single = len(set(singles))
    assert stored_events(config) == unique_single
    lines.append(
        f"| (c) HTTP one event per request, 32 connections | {rate:,.0f} req/s | {rate / base:.2f} | "
        f"{result.percentile(50):.1f} | {result.percentile(99):.1f} | {rss:.0f} | {unique_single:,} | {result.duplicates:,} | "
        f"{cpu.per_event_us(len(singles))} | {cpu.cores_busy(result.seconds):.2f} |"
    )
    if args.stream:
        print(f"(d) NATS JetStream, {len(data.events):,} messages …", flush=True)
        rate, _ = stream_run(template, work / "stream", data)
        figures["stream"] = rate
        lines.append(
            f"| (d) NATS JetStream, one event per message, read by `revsync worker` in batches "
            f"of 500 | {rate:,.0f} | {rate / base:.2f} | | | | {data.unique:,} | "
            f"{len(data.events) - data.unique:,} | | |"
        )
    table = header + "\n".join(lines)
    print(table)
    if not args.no_write:
        command = f"python benchmarks/ingest.py --events {args.events} --single {args.single}"
        command += f" --decoders {args.decoders}" if args.decoders else ""
        command += " --stream" if args.stream else ""
        body = (
            f"Command: `{command}` ({machine()}; server and clients share the machine).\n"
            f"Measured {datetime.now(UTC):%Y-%m-%d}. {args.events:,} events, 10% duplicates, "
            f"{TENANTS:,} tenants; every run checks that exactly the {data.unique:,} unique events were stored.\n\n"
            + table
        )
        write_section("Ingestion", body)


NATS_URL = "nats://127.0.0.1:4222"
#: batches the worker has in hand at once in (d) (usage_stream.fetchers)
FETCHERS = 2


def stream_run(template: Path, directory: Path, data: Dataset) -> tuple[float, float]:
    """(d): publish every event to a stream of its own, then time ``revsync worker`` reading
    them all; returns events per second (duplicates included) and the seconds."""
    import asyncio
    import os
    import subprocess
    import sys
    import uuid

    import nats

    config = fresh_copy(template, directory)
    token = uuid.uuid4().hex[:10]
    stream, subject = f"BENCH_{token}", f"bench{token}.usage"
    settings = yaml.safe_load(config.read_text())
    settings["usage_stream"] = {
        "nats_url": NATS_URL,
        "stream": stream,
        "subject": f"{subject}.>",
        "durable": "bench",
        "batch": 500,
        "fetchers": FETCHERS,
    }
    config.write_text(yaml.safe_dump(settings))

    async def publish() -> None:
        client = await nats.connect(NATS_URL, pending_size=64 * 1024 * 1024)
        try:
            js = client.jetstream(publish_async_max_pending=20_000)
            await js.add_stream(name=stream, subjects=[f"{subject}.>"])
            for event in data.events:
                await js.publish_async(f"{subject}.api", event)
            await js.publish_async_completed()
        finally:
            await client.close()

    async def delete() -> None:
        client = await nats.connect(NATS_URL)
        try:
            await client.jetstream().delete_stream(stream)
        finally:
            await client.close()

    asyncio.run(publish())
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVSYNC_")}
    began = time.perf_counter()
    worker = subprocess.Popen(
        [sys.executable, "-m", "revsync", "worker", "--config", str(config)], env=env
    )
    try:
        while stored_events(config) < data.unique:
            assert worker.poll() is None, "the worker stopped"
            time.sleep(0.2)
        seconds = time.perf_counter() - began
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        asyncio.run(delete())
    assert stored_events(config) == data.unique
    return len(data.events) / seconds, seconds


def compare_schemas(total: int) -> None:
    """HTTP batches of 1,000 over 4 connections, without and with schema validation."""
    work = ROOT / ".bench" / "ingest-schema"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    print(f"generating {total:,} events …", flush=True)
    data = make_dataset(total)
    bodies = [
        b"[" + b",".join(data.events[i : i + 1000]) + b"]" for i in range(0, len(data.events), 1000)
    ]
    rates = {}
    for label, schemas in (("without schemas", False), ("with schemas", True)):
        template, key = prepare_template(work / f"template-{schemas}", schemas=schemas)
        config = fresh_copy(template, work / f"run-{schemas}")
        print(f"HTTP batches of 1,000, {label} …", flush=True)
        result, _, _ = serve_and_load(config, key, bodies, MEDIA, connections=4)
        assert result.accepted == data.unique, (result.accepted, data.unique)
        rates[label] = len(data.events) / result.seconds
        print(f"  {rates[label]:,.0f} events/s", flush=True)
    ratio = rates["with schemas"] / rates["without schemas"]
    print(f"with / without schemas: {ratio:.2f} (target ≥ 0.80)")


if __name__ == "__main__":
    main()
