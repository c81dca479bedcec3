"""Audit chain benchmark: verify 1,000,000 keyed entries.

    python benchmarks/audit.py                       # writes docs/benchmarks.md
    python benchmarks/audit.py --entries 100000 --no-write

Set-up (not timed): 1,000,000 entries written straight into a migrated SQLite file, as the
writer makes them (RFC 8785 records, HMAC-SHA256 links with a key): 60% invoices finalized,
30% customers updated (before and after), 10% cases retried.

(a) baseline: plain SHA-256 of the same bytes (previous hash, newline, canonical record), in
    memory: the least any verifier of this chain must do;
(b) HMAC-SHA256 of the same bytes, in memory: what the key adds;
(c) reading the entries as verify does (rows, JSON parsed), nothing checked;
(d) ``Audit.verify`` (what ``revsync audit verify`` runs), in a separate process: read,
    canonicalise every record again, HMAC, compare each link, then the head row.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from _common import ROOT, machine, write_section

from revsync.adapters.canonical_json import jcs
from revsync.adapters.db.engine import create_db_engine
from revsync.adapters.db.migrate import upgrade
from revsync.adapters.db.tables import audit_head, audit_log
from revsync.domain.audit import GENESIS, AuditChain, AuditKey, AuditRecord

KEY = "bench-audit-key-0123456789abcdef0123456789abcdef"
START = datetime(2026, 1, 1, tzinfo=UTC)


def make_record(n: int) -> AuditRecord:
    at = START + timedelta(seconds=n)
    kind = n % 10
    if kind < 6:
        total = Decimal(n % 100_000) / 100
        return AuditRecord(
            at,
            "system:billing",
            "invoice.finalized",
            "invoice",
            f"inv_{n:012d}",
            None,
            {
                "number": f"INV-{n:07d}",
                "total": total,
                "credits": Decimal("0.00"),
                "amount_due": total,
                "currency": "EUR",
            },
        )
    if kind < 9:
        customer = {
            "name": f"Customer {n % 10_000}",
            "currency": "EUR",
            "timezone": "Europe/Paris",
            "country": "FR",
            "tax_exempt": False,
            "parent_id": None,
            "refs": {"product": [f"t{n % 10_000:05d}"], "crm": f"001XX{n:010d}"},
        }
        return AuditRecord(
            at,
            "api:key_3f2a9c",
            "customer.updated",
            "customer",
            f"c{n % 10_000:05d}",
            customer,
            {**customer, "name": f"Customer {n % 10_000} SAS", "country": "DE"},
        )
    return AuditRecord(
        at,
        "cli:ops",
        "case.retried",
        "case",
        f"case_{n:010d}",
        {"status": "open"},
        {"status": "retrying", "reason": "the ERP is back"},
    )


def prepare(directory: Path, count: int) -> tuple[Path, list[bytes]]:
    """The SQLite file with ``count`` keyed entries; and each entry's hashed bytes."""
    config = yaml.safe_load((ROOT / "src/revsync/revsync.example.yaml").read_text())
    config["database"]["url"] = "sqlite:///revsync.db"
    config["logging"] = {"level": "WARNING", "format": "json"}
    config_path = directory / "revsync.yaml"
    config_path.write_text(yaml.safe_dump(config))
    engine = create_db_engine(f"sqlite:///{directory / 'revsync.db'}", pool_size=1)
    chain = AuditChain(jcs, AuditKey(KEY.encode()))
    messages: list[bytes] = []
    try:
        upgrade(engine)
        prev = GENESIS
        for offset in range(0, count, 20_000):
            rows = []
            for n in range(offset, min(count, offset + 20_000)):
                record = make_record(n)
                before = chain.stored_json(record.before)
                after = chain.stored_json(record.after)
                canonical = chain.canonical(record, before, after)
                digest = chain.link(chain.algorithm, prev, canonical)
                messages.append(prev.encode() + b"\n" + canonical)
                rows.append(
                    {
                        "seq": n + 1,
                        "at": record.at,
                        "actor": record.actor,
                        "action": record.action,
                        "object_type": record.object_type,
                        "object_id": record.object_id,
                        "before": before,
                        "after": after,
                        "prev_hash": prev,
                        "hash": digest,
                        "alg": chain.algorithm.value,
                    }
                )
                prev = digest
            with engine.begin() as conn:
                conn.execute(audit_log.insert(), rows)
        with engine.begin() as conn:
            conn.execute(
                audit_head.update().values(seq=count, hash=prev, alg=chain.algorithm.value)
            )
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        engine.dispose()
    return config_path, messages


def in_memory(messages: list[bytes]) -> tuple[float, float]:
    """Seconds for SHA-256, then HMAC-SHA256, of every message."""
    sha256 = hashlib.sha256
    started = time.perf_counter()
    for message in messages:
        sha256(message).hexdigest()
    plain = time.perf_counter() - started
    key = KEY.encode()
    started = time.perf_counter()
    for message in messages:
        hmac.new(key, message, sha256).hexdigest()
    keyed = time.perf_counter() - started
    return plain, keyed


RUN = """
import json, re, sys, time
from pathlib import Path
def peak_mb():  # this process's own peak (ru_maxrss would count the parent's at fork)
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) / 1024
from revsync.bootstrap import build
from revsync.config import load_settings
container = build(load_settings(Path(sys.argv[1])))
started = time.perf_counter()
with container.unit_of_work(write=False) as uow:
    read = sum(1 for _ in uow.audit.entries())
read_seconds = time.perf_counter() - started
started = time.perf_counter()
check = container.audit.verify()
seconds = time.perf_counter() - started
container.close()
print(json.dumps({"read": read, "read_seconds": read_seconds, "seconds": seconds,
                  "checked": check.checked, "reason": check.reason,
                  "peak_mb": peak_mb()}))
"""


def run_verify(config: Path) -> dict[str, Any]:
    env = {**os.environ, "REVSYNC_AUDIT_KEY": KEY}
    done = subprocess.run(
        [sys.executable, "-c", RUN, str(config)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    work = ROOT / ".bench" / "audit"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    load = f"{os.getloadavg()[0]:.1f}"
    print(f"set-up: {args.entries:,} keyed entries (load average {load}) …", flush=True)
    started = time.perf_counter()
    config, messages = prepare(work, args.entries)
    print(f"  written in {time.perf_counter() - started:.0f} s", flush=True)
    plain, keyed = in_memory(messages)
    size = sum(len(m) for m in messages) / len(messages)
    del messages
    result = run_verify(config)
    assert result["reason"] is None, result["reason"]
    assert result["checked"] == result["read"] == args.entries
    n = args.entries

    def row(label: str, seconds: float, extra: str = "") -> str:
        return (
            f"| {label} | {seconds:.2f} | {n / seconds:,.0f} | {seconds / plain:.1f}x | {extra} |"
        )

    table = "\n".join(
        [
            "| run | seconds | entries/s | vs baseline | peak RSS MB |",
            "|---|---|---|---|---|",
            row("(a) baseline: SHA-256 of the hashed bytes, in memory", plain),
            row("(b) HMAC-SHA256 of the same bytes, in memory", keyed),
            row(
                "(c) reading the entries (rows, JSON parsed), nothing checked",
                result["read_seconds"],
            ),
            row(
                "(d) `Audit.verify`: read, RFC 8785 again, HMAC, links, head row",
                result["seconds"],
                f"{result['peak_mb']:.0f}",
            ),
        ]
    )
    print(table)
    if not args.no_write:
        body = (
            f"Command: `python benchmarks/audit.py --entries {n}` ({machine()}).\n"
            f"Measured {datetime.now(UTC):%Y-%m-%d}. {n:,} keyed entries (HMAC-SHA256 over RFC 8785 "
            f"records, {size:.0f} bytes hashed per entry on average) written straight into a "
            "SQLite file; (c) and (d) run in one process started for them, (d) after (c), with "
            f"the file in the page cache; load average {load} when it started, "
            f"{os.getloadavg()[1]:.1f} over the last 5 minutes of it (a shared machine).\n\n"
            + table
        )
        write_section("Audit chain verification", body)


if __name__ == "__main__":
    main()
