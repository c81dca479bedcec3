"""Billing benchmark: a month for 10,000 customers and 1,000,000 events.

    python benchmarks/billing.py                       # writes docs/benchmarks.md
    python benchmarks/billing.py --customers 1000 --events 100000 --no-write
    python benchmarks/billing.py --database postgresql --customers 100000 --events 10000000

On PostgreSQL (``--database postgresql``: a database made for the run on 127.0.0.1, dropped
after it) the events are written by one ``INSERT … SELECT`` from ``generate_series`` in the
server instead of through ingestion (set-up, not timed: ten million events through the API
would take longer than the run measured), with the same types, data shapes and spread.

Set-up (not timed): 10,000 customers with one tenant each, each on a plan with a flat fee in
advance, graduated API calls and LLM tokens per model; 1,000,000 events over October 2026
ingested through revsync's ingestion service.

(a) baseline: one SQL aggregate of the same events grouped by customer and event type.
(b) ``Billing.run`` as of 2026-11-01, in a separate process: reads the usage snapshot, rates
    every period, writes every invoice and line and finalizes them (the grace period is over),
    i.e. October's advance and arrears invoices and November's advance invoices.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import sqlalchemy as sa
import yaml
from _common import ROOT, machine, write_section

from revsync.adapters.db.migrate import upgrade
from revsync.adapters.db.tables import (
    customer_refs,
    customers,
    identity_state,
    subscription_terms,
    subscriptions,
)
from revsync.application.ingestion import IngestContext
from revsync.bootstrap import apply_configuration, build
from revsync.config import load_settings
from revsync.schemas.cloudevents_v1 import decode_body

MONTH_START = datetime(2026, 10, 1, tzinfo=UTC)
MONTH_END = datetime(2026, 11, 1, tzinfo=UTC)

PLAN = {
    "code": "growth",
    "name": "Growth",
    "currency": "EUR",
    "interval": "month",
    "charges": [
        {
            "key": "platform",
            "model": "flat",
            "description": "Platform fee",
            "timing": "in_advance",
            "amount": "49.00",
        },
        {
            "key": "calls",
            "model": "graduated",
            "description": "API calls",
            "meter": "api_calls",
            "tiers": [
                {"up_to": "50", "unit_amount": "0"},
                {"up_to": "100", "unit_amount": "0.05"},
                {"up_to": None, "unit_amount": "0.02"},
            ],
        },
        {
            "key": "tokens",
            "model": "per_dimension",
            "description": "LLM tokens",
            "meter": "llm_tokens",
            "dimension": "model",
            "prices": {"large": "0.00002", "small": "0.000004"},
            "default_price": "0.00001",
        },
    ],
    "minimum": "60.00",
}


def prepare(directory: Path, customers_n: int, events_n: int, url: str | None = None) -> Path:
    config = yaml.safe_load((ROOT / "src/revsync/revsync.example.yaml").read_text())
    config["database"]["url"] = url or "sqlite:///revsync.db"
    config["logging"] = {"level": "WARNING", "format": "json"}
    config["plans"] = [PLAN]
    config_path = directory / "revsync.yaml"
    config_path.write_text(yaml.safe_dump(config))
    container = build(load_settings(config_path))
    try:
        upgrade(container.engine)
        apply_configuration(container, "bench")
        now = datetime.now(UTC)
        with container.engine.begin() as conn:  # bulk set-up: billing is what is measured
            conn.execute(
                customers.insert(),
                [
                    {
                        "id": f"c{n:05d}",
                        "name": f"Customer {n}",
                        "currency": "EUR",
                        "timezone": "UTC",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n in range(customers_n)
                ],
            )
            conn.execute(
                customer_refs.insert(),
                [
                    {"system": "product", "value": f"t{n:05d}", "customer_id": f"c{n:05d}"}
                    for n in range(customers_n)
                ],
            )
            conn.execute(identity_state.update().values(version=identity_state.c.version + 1))
            conn.execute(
                subscriptions.insert(),
                [
                    {
                        "id": f"s{n:05d}",
                        "customer_id": f"c{n:05d}",
                        "anchor": MONTH_START.date(),
                        "interval": "month",
                        "usage_interval": "month",
                        "include_children": False,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n in range(customers_n)
                ],
            )
            conn.execute(
                subscription_terms.insert(),
                [
                    {
                        "subscription_id": f"s{n:05d}",
                        "version": 1,
                        "effective": MONTH_START.date(),
                        "change": "created",
                        "plan_code": "growth",
                        "plan_version": 1,
                        "seats": 1,
                        "recorded_at": now,
                        "actor": "bench",
                    }
                    for n in range(customers_n)
                ],
            )
        if url is None:
            ingest_events(container, customers_n, events_n)
            with container.engine.connect() as conn:  # as a live database is, between bursts
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            generate_events(container.engine, customers_n, events_n)
    finally:
        container.close()
    return config_path


def ingest_events(container: object, customers_n: int, events_n: int) -> None:
    rng = random.Random(3)
    encode = msgspec.json.encode
    span = int((MONTH_END - MONTH_START).total_seconds())
    context = IngestContext("file", "bench")
    for offset in range(0, events_n, 20_000):
        batch = []
        for number in range(offset, min(events_n, offset + 20_000)):
            moment = MONTH_START + timedelta(seconds=number * span // events_n)
            tenant = f"t{rng.randrange(customers_n):05d}"
            if rng.random() < 0.6:
                kind, data = "api.request", {"endpoint": "/v1/x", "environment": "production"}
            else:
                kind, data = (
                    "llm.completion",
                    {
                        "model": rng.choice(("large", "small", "tiny")),
                        "tokens": rng.randrange(1, 3000),
                        "environment": "production",
                    },
                )
            batch.append(
                encode(
                    {
                        "specversion": "1.0",
                        "id": f"b{number}",
                        "source": "app://bench",
                        "type": kind,
                        "subject": tenant,
                        "time": moment.isoformat().replace("+00:00", "Z"),
                        "data": data,
                    }
                )
            )
        items = decode_body(b"[" + b",".join(batch) + b"]", "application/json", len(batch))
        report = container.ingestion.ingest(items, context)  # type: ignore[attr-defined]
        assert not report.rejected, report.rejected[:3]


#: the events of ``ingest_events``, made by PostgreSQL itself: spread evenly over the month,
#: tenant, kind, model and tokens from separate bits of a hash of the event's number (60% API
#: requests, 40% completions)
GENERATE = """
INSERT INTO usage_events (dedup_slot, source, event_id, type, subject, time_us, day,
                          customer_id, data, fingerprint, received_us, late)
SELECT ('x' || substr(md5('b' || n), 1, 16))::bit(64)::bigint, 'app://bench', 'b' || n,
       CASE WHEN api THEN 'api.request' ELSE 'llm.completion' END, 't' || lpad(c::text, 5, '0'),
       t, t / 86400000000, 'c' || lpad(c::text, 5, '0'),
       CASE WHEN api THEN '{"endpoint":"/v1/x","environment":"production"}'
            ELSE '{"environment":"production","model":"'
                 || (ARRAY['large', 'small', 'tiny'])[1 + (h >> 30) % 3]
                 || '","tokens":' || (1 + (h >> 34) % 2999) || '}' END,
       decode(md5('f' || n), 'hex'), t, false
FROM (SELECT n, h, (h & 16777215) % :customers AS c, (h >> 24) % 10 < 6 AS api,
             :start + n * (:span / :events) AS t
      FROM (SELECT n, ('x' || substr(md5('h' || n), 1, 12))::bit(48)::bigint AS h
            FROM generate_series(0, :events - 1) AS n) AS numbered) AS e
"""


def generate_events(engine: sa.Engine, customers_n: int, events_n: int) -> None:
    start = int(MONTH_START.timestamp() * 1e6)
    span = int((MONTH_END - MONTH_START).total_seconds() * 1e6)
    with engine.begin() as conn:
        conn.execute(
            sa.text(GENERATE),
            {"customers": customers_n, "start": start, "span": span, "events": events_n},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE usage_events")


def baseline(config: Path, url: str | None = None) -> tuple[float, int]:
    if url is None:
        engine = sa.create_engine(f"sqlite:///{config.parent / 'revsync.db'}")
        tokens = "json_extract(data, '$.tokens')"
    else:
        engine = sa.create_engine(url)
        tokens = "(data::json ->> 'tokens')::bigint"
    query = sa.text(
        f"SELECT customer_id, type, count(*), sum({tokens}) FROM usage_events "
        "WHERE time_us >= :start AND time_us < :end GROUP BY customer_id, type"
    )
    with engine.connect() as conn:
        started = time.perf_counter()
        rows = conn.execute(
            query,
            {"start": int(MONTH_START.timestamp() * 1e6), "end": int(MONTH_END.timestamp() * 1e6)},
        ).all()
        seconds = time.perf_counter() - started
    engine.dispose()
    return seconds, len(rows)


RUN = """
import json, sys, time, resource
from datetime import date
from revsync.bootstrap import build
from revsync.config import load_settings
from revsync.entrypoints.runtime import tune_gc
tune_gc()  # as `revsync bill` does
container = build(load_settings(__import__('pathlib').Path(sys.argv[1])))
started = time.perf_counter()
report = container.billing.run(date(2026, 11, 1), "bench")
seconds = time.perf_counter() - started
container.close()
print(json.dumps({"seconds": seconds, "created": len(report.created), "finalized": len(report.finalized),
                  "errors": len(report.errors), "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_billing(config: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", RUN, str(config)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


#: the server the PostgreSQL run makes its database on
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


def _admin(statement: str) -> None:
    engine = sa.create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    work = ROOT / ".bench" / "billing"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    url = None
    if args.database == "postgresql":
        name = f"revsync_bench_billing_{os.getpid()}"
        _admin(f"CREATE DATABASE {name}")
        url = f"{PG_SERVER}/{name}"
    try:
        print(f"set-up: {args.customers:,} customers, {args.events:,} events …", flush=True)
        started = time.perf_counter()
        config = prepare(work, args.customers, args.events, url)
        print(f"set-up took {time.perf_counter() - started:.0f} s", flush=True)
        base_seconds, groups = baseline(config, url)
        print(
            f"(a) baseline aggregate: {base_seconds:.2f} s ({groups:,} customer×type groups)",
            flush=True,
        )
        result = run_billing(config)
    finally:
        if url is not None:
            _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    invoices = result["finalized"]
    table = (
        "| run | seconds | invoices | invoices/s | vs baseline | peak RSS MB |\n|---|---|---|---|---|---|\n"
        f"| (a) baseline: one SQL aggregate by customer and event type | {base_seconds:.2f} | | | 1.0 | |\n"
        f"| (b) billing run: rate, write and finalize | {result['seconds']:.2f} | {invoices:,} | "
        f"{invoices / result['seconds']:,.0f} | {result['seconds'] / base_seconds:.1f}x | {result['peak_mb']:.0f} |"
    )
    print(table)
    assert result["errors"] == 0
    if not args.no_write:
        on = "" if url is None else " --database postgresql"
        body = (
            f"Command: `python benchmarks/billing.py{on} --customers {args.customers} --events {args.events}` ({machine()}).\n"
            f"Measured {datetime.now(UTC):%Y-%m-%d}. One billing run as of 2026-11-01 over October 2026: "
            "October's advance and arrears invoices and November's advance invoices, every line written and "
            "every invoice finalized (numbered), in one process started for the run.\n\n" + table
        )
        write_section("Billing" if url is None else "Billing on PostgreSQL", body)


if __name__ == "__main__":
    main()
