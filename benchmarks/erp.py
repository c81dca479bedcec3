"""ERP posting benchmark: how fast revsync posts invoices to a real Tryton 8.2 (trytond on
loopback, SQLite), against the bare JSON-RPC calls a client must make at the least.

Set-up (not timed): a Tryton database built and provisioned as ``revsync erp provision`` does.

(a) baseline: for each invoice, ``create`` (lines, taxes) then ``post`` — the two calls any
    client needs, nothing checked;
(b) revsync's adapter (``TrytonErp.post``): the lookup by idempotency key, the party, the
    period, create, the totals read back and compared, the warning acknowledged, post, read;
(c) the baseline posting ten drafts per ``post`` call — what batching gives at the least;
(d) revsync's adapter, batches of ``--batch`` documents (``TrytonErp.post_many``): one search
    for the keys, the parties, the periods and last numbers read once, one ``create``, one read
    of the totals, the warnings acknowledged in one call, one ``post``, one read back.

Prints invoices/s, the ratio to (a), p50/p99 ms per invoice and trytond's peak RSS; writes the
"ERP posting" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from _common import machine, write_section

from revsync.adapters.connectors.erp.provision import Blueprint, provision, tax_name
from revsync.adapters.connectors.erp.rpc import TrytonRpc
from revsync.adapters.connectors.erp.tryton import TrytonErp
from revsync.adapters.connectors.erp.tryton_posting import _warning_key
from revsync.ports.erp import ErpDocument, ErpLine, ErpParty, ErpPosting
from revsync.sandbox.tryton import LocalTryton, build_database

PASSWORD = "bench-admin"
BLUEPRINT = Blueprint(
    company="Bench SaaS",
    currency="EUR",
    currencies=["EUR"],
    years=[date.today().year],
    receivable_account="1.2.1",
    payable_account="2.1.1",
    tax_account="2.2.3",
    deferred_revenue_account="2.2.2",
    cash_account="1.1.1",
    payment_term_days=30,
    dunning_days=[15, 45],
    taxes=[("FR", "standard", Decimal(20))],
    products=[("SAAS", "4.1.2")],
)
TAX = tax_name("FR", "standard", Decimal(20))


def document(n: int) -> ErpDocument:
    lines = (
        ErpLine("Platform", "SAAS", "4.1.2", Decimal(1), Decimal("49.00"), (TAX,)),
        ErpLine("API calls", "SAAS", "4.1.2", Decimal(2500), Decimal("0.002"), (TAX,)),
    )
    return ErpDocument(
        key=f"bench-{n}",
        number=f"B-{n:06d}",
        party=ErpParty(f"RS-bench-{n % 20}", f"Bench customer {n % 20}", "FR"),
        currency="EUR",
        invoice_date=date.today(),
        lines=lines,
        untaxed=Decimal("54.00"),
        tax=Decimal("10.80"),
        total=Decimal("64.80"),
    )


async def baseline(rpc: TrytonRpc, erp: TrytonErp, count: int, batch: int) -> list[float]:
    """create + post per invoice (or per ``batch`` invoices): seconds per invoice."""
    timings: list[float] = []
    for start in range(0, count, batch):
        began = time.perf_counter()
        ids = []
        for n in range(start, min(start + batch, count)):
            created = await erp._create(document(100_000 + batch * 10_000 + n))
            ids.append(created)
        await _skip_warnings(rpc, ids)
        await rpc.model("account.invoice", "post", ids)
        timings += [(time.perf_counter() - began) / len(ids)] * len(ids)
    return timings


async def _skip_warnings(rpc: TrytonRpc, ids: list[int]) -> None:
    for invoice in ids:
        await rpc.model("res.user.warning", "skip", _warning_key("invoice_taxes", invoice))


async def adapter(erp: TrytonErp, count: int) -> list[float]:
    timings = []
    for n in range(count):
        began = time.perf_counter()
        await erp.post(document(n))
        timings.append(time.perf_counter() - began)
    return timings


async def adapter_batched(erp: TrytonErp, count: int, batch: int) -> list[float]:
    """``post_many`` of ``batch`` documents at a time: seconds per invoice."""
    timings: list[float] = []
    for start in range(0, count, batch):
        # keys of their own (the baselines' are 100_000 + batch * 10_000 + n)
        documents = [document(1_000_000 + n) for n in range(start, min(start + batch, count))]
        began = time.perf_counter()
        results = await erp.post_many(documents)
        elapsed = time.perf_counter() - began
        assert len(results) == len(documents), results  # every one posted now, none refused
        assert all(isinstance(r, ErpPosting) and not r.found for r in results), results
        timings += [elapsed / len(documents)] * len(documents)
    return timings


def peak_rss_mb(pid: int) -> float:
    match = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) / 1024 if match else 0.0


def row(name: str, timings: list[float], base: float) -> tuple[str, ...]:
    per_second = len(timings) / sum(timings)
    ordered = sorted(timings)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        name,
        str(len(timings)),
        f"{per_second:.2f}",
        f"{per_second / base:.2f}",
        f"{statistics.median(timings) * 1000:.0f}",
        f"{p99 * 1000:.0f}",
    )


async def measure(url: str, database: str, count: int, batch: int) -> dict[str, list[float]]:
    rpc = TrytonRpc(url, database, "admin", PASSWORD, timeout=60)
    try:
        await provision(rpc, BLUEPRINT)
        erp = TrytonErp(
            rpc, receivable_account="1.2.1", payment_term_days=30, period_policy="roll_forward"
        )
        await erp.post(document(-1))  # warm the caches of both sides
        return {
            "a": await baseline(rpc, erp, count, 1),
            "b": await adapter(erp, count),
            "c": await baseline(rpc, erp, count, 10),
            "d": await adapter_batched(erp, count, batch),
        }
    finally:
        await rpc.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invoices", type=int, default=100)
    parser.add_argument(
        "--batch", type=int, default=20, help="documents per post_many call in (d) (default 20)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        began = time.perf_counter()
        database = build_database(Path(folder), admin_password=PASSWORD)
        built = time.perf_counter() - began
        with LocalTryton(Path(folder), database, admin_password=PASSWORD) as tryton:
            runs: dict[str, Any] = asyncio.run(
                measure(tryton.url, tryton.database, args.invoices, args.batch)
            )
            assert tryton.process is not None
            rss = peak_rss_mb(tryton.process.pid)
    base = len(runs["a"]) / sum(runs["a"])
    rows = [
        row("(a) baseline: create + post, one invoice per call", runs["a"], base),
        row("(b) revsync's adapter (`TrytonErp.post`)", runs["b"], base),
        row("(c) baseline, ten invoices per post", runs["c"], base),
        row(
            f"(d) revsync's adapter, batches of {args.batch} (`TrytonErp.post_many`)",
            runs["d"],
            base,
        ),
    ]
    header = "| run | invoices | invoices/s | vs baseline | p50 ms | p99 ms |\n|---|---|---|---|---|---|\n"
    table = header + "\n".join("| " + " | ".join(r) + " |" for r in rows)
    print(table)
    print(f"database built in {built:.1f} s; trytond peak RSS {rss:.0f} MB")
    write_section(
        "ERP posting",
        f"""Command: `python benchmarks/erp.py --invoices {args.invoices} --batch {args.batch}`
({machine()}).
Measured {date.today().isoformat()}. A real trytond 8.2 on loopback (SQLite, no queue worker),
provisioned as `revsync erp provision` does; two-line invoices with a tax, twenty customers.
Building the database (`trytond-admin`, four modules) took {built:.1f} s; trytond's peak RSS
was {rss:.0f} MB.

{table}
""",
    )


if __name__ == "__main__":
    main()
