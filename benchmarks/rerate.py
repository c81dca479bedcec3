"""Shadow re-rating benchmark: October billed for 10,000 customers and 1,000,000 events, then
re-rated on a changed price.

    python benchmarks/rerate.py                       # writes docs/benchmarks.md
    python benchmarks/rerate.py --customers 1000 --events 100000 --no-write

Set-up (not timed): the billing benchmark's data set (``benchmarks/billing.py``): 10,000
customers on ``growth`` (a fee in advance, graduated API calls, LLM tokens per model),
1,000,000 events over October 2026.

(a) ``Billing.run`` as of 2026-11-01, in a process of its own (as ``benchmarks/billing.py``):
    October's advance and arrears invoices and November's advance invoices, written and
    finalized.
(b) ``Rerates.run`` of October on ``growth@2`` (no minimum commitment, the calls' second tier
    and the large model's tokens repriced), in a process of its own: every customer's October
    periods read, rated again from the usage and compared with the invoices issued, line by
    line. Nothing written.
(c) the same report made into the API's JSON (``rerate_out`` and encoding), for scale.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from _common import ROOT, machine, write_section
from billing import PLAN, prepare, run_billing

from revsync.bootstrap import build
from revsync.config import load_settings

#: growth@2: no minimum commitment (60.00 before), calls 51–100 at 0.10 (0.05 before), tokens of
#: the large model at 0.00005 (0.00002 before)
CHANGED = copy.deepcopy({k: v for k, v in PLAN.items() if k not in ("code", "minimum")})
CHANGED["charges"][1]["tiers"][1]["unit_amount"] = "0.10"
CHANGED["charges"][2]["prices"]["large"] = "0.00005"

RERATE = """
import json, sys, time, resource
from datetime import date
import msgspec
from revsync.application.rerates import RerateRequest
from revsync.bootstrap import build
from revsync.config import load_settings
from revsync.entrypoints.runtime import tune_gc
from revsync.schemas.rerates_v1 import rerate_out
tune_gc()  # as `revsync rerate` does
container = build(load_settings(__import__('pathlib').Path(sys.argv[1])))
started = time.perf_counter()
report = container.rerates().run(RerateRequest(date(2026, 10, 1), date(2026, 10, 31), plan="growth@2"))
seconds = time.perf_counter() - started
started = time.perf_counter()
body = msgspec.json.encode(rerate_out(report))
encode_seconds = time.perf_counter() - started
container.close()
print(json.dumps({"seconds": seconds, "encode_seconds": encode_seconds, "body_mb": len(body) / 2**20,
                  "customers": len(report.customers), "periods": sum(len(c.periods) for c in report.customers),
                  "lines": sum(len(p.lines) for c in report.customers for p in c.periods),
                  "errors": len(report.errors), "issued": str(report.issued), "rerated": str(report.rerated),
                  "difference": str(report.difference), "relative": str(report.relative),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def put_changed_price(config: Path) -> None:
    container = build(load_settings(config))
    try:
        created = container.catalog.put_plan("growth", CHANGED, "bench")
        assert created.plan.version == 2, created
    finally:
        container.close()


def run_rerate(config: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", RERATE, str(config)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    work = ROOT / ".bench" / "rerate"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    print(f"set-up: {args.customers:,} customers, {args.events:,} events …", flush=True)
    config = prepare(work, args.customers, args.events)
    billed = run_billing(config)
    print(
        f"(a) billing run: {billed['seconds']:.2f} s, {billed['finalized']:,} invoices", flush=True
    )
    assert billed["errors"] == 0
    put_changed_price(config)
    rerated = run_rerate(config)
    assert rerated["errors"] == 0
    ratio = rerated["seconds"] / billed["seconds"]
    table = (
        "| run | seconds | periods | lines | vs billing run | peak RSS MB |\n|---|---|---|---|---|---|\n"
        f"| (a) billing run: rate, write and finalize | {billed['seconds']:.2f} | {billed['finalized']:,} invoices | | 1.00x | {billed['peak_mb']:.0f} |\n"
        f"| (b) shadow re-rate of October on growth@2 | {rerated['seconds']:.2f} | {rerated['periods']:,} | {rerated['lines']:,} | {ratio:.2f}x | {rerated['peak_mb']:.0f} |\n"
        f"| (c) its JSON answer ({rerated['body_mb']:.1f} MiB) | {rerated['encode_seconds']:.2f} | | | | |"
    )
    print(table)
    print(
        f"re-rated {rerated['customers']:,} customers: issued {rerated['issued']} EUR, "
        f"re-rated {rerated['rerated']} EUR, difference {rerated['difference']} EUR ({rerated['relative']} %)"
    )
    if not args.no_write:
        body = (
            f"Command: `python benchmarks/rerate.py --customers {args.customers} --events {args.events}` ({machine()}).\n"
            f"Measured {datetime.now(UTC):%Y-%m-%d}. The billing benchmark's data set: (a) the billing run as of "
            "2026-11-01, then (b) `revsync rerate --plan growth@2 --from 2026-10-01 --to 2026-10-31` as the "
            "use case runs it (October's advance and arrears periods of every customer rated again and compared "
            "line by line, nothing written), each in a process started for it. Target: (b) at most 2x (a).\n\n"
            + table
            + f"\n\nThe re-rate found {rerated['issued']} EUR issued and {rerated['rerated']} EUR re-rated "
            f"({rerated['difference']} EUR, {rerated['relative']} %)."
        )
        write_section("Shadow re-rating", body)


if __name__ == "__main__":
    main()
