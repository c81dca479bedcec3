"""KPI benchmark: what the KPI job and a KPI read cost over the billing benchmark's month
(10,000 customers, 1,000,000 events in October 2026).

    python benchmarks/kpis.py                          # writes docs/benchmarks.md
    python benchmarks/kpis.py --customers 1000 --events 100000 --no-write

Set-up (not timed) as benchmarks/billing.py. Then, in one process:

(a) baseline: one SQL aggregate of the same events grouped by customer and meter.
(b) the lag histogram's first count: every stored event from the cursor at 0.
(c) ``Kpis.measure`` with nothing billed: every October event is unbilled; the amount rates
    October and the open period for every subscription (a billing run that writes nothing).
(d) ``Kpis.measure`` after the billing run as of 2026-11-01: every event is on a finalized
    invoice (the scan finds each in a billed window).
(e) ``Kpis.read``: every KPI a query answers at once (what GET /v1/operations/kpis and a
    /metrics scrape do).
"""

from __future__ import annotations

import argparse
import shutil
import time
from datetime import UTC, date, datetime

from _common import ROOT, machine, write_section
from billing import baseline, prepare

from revsync.bootstrap import build
from revsync.config import load_settings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    work = ROOT / ".bench" / "kpis"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    print(f"set-up: {args.customers:,} customers, {args.events:,} events …", flush=True)
    config = prepare(work, args.customers, args.events)
    base_seconds, groups = baseline(config)
    print(f"(a) baseline aggregate: {base_seconds:.2f} s ({groups:,} groups)", flush=True)
    container = build(load_settings(config))
    rows = [("(a) baseline: one SQL aggregate by customer and meter", base_seconds, "")]
    try:
        started = time.perf_counter()
        counted = container.kpis.count_lag()
        rows.append(
            ("(b) lag histogram, first count", time.perf_counter() - started, f"{counted:,} events")
        )
        started = time.perf_counter()
        unbilled = container.kpis.measure()
        rows.append(
            (
                "(c) measure, nothing billed",
                time.perf_counter() - started,
                f"{sum(unbilled.unbilled_events.values()):,} unbilled events, "
                + ", ".join(f"{a} {c}" for c, a in unbilled.unbilled_amount.items()),
            )
        )
        report = container.billing.run(date(2026, 11, 1), "bench")
        assert not report.errors
        started = time.perf_counter()
        billed = container.kpis.measure()
        rows.append(
            (
                "(d) measure, October billed",
                time.perf_counter() - started,
                f"{sum(billed.unbilled_events.values()):,} unbilled events",
            )
        )
        started = time.perf_counter()
        container.kpis.read()
        rows.append(("(e) read every KPI", time.perf_counter() - started, ""))
    finally:
        container.close()
    table = "| run | seconds | vs baseline | found |\n|---|---|---|---|\n" + "\n".join(
        f"| {name} | {seconds:.3f} | {seconds / base_seconds:.2f}x | {found} |"
        for name, seconds, found in rows
    )
    print(table)
    if not args.no_write:
        body = (
            f"Command: `python benchmarks/kpis.py --customers {args.customers} --events "
            f"{args.events}` ({machine()}).\n"
            f"Measured {datetime.now(UTC):%Y-%m-%d}, in one process, the billing benchmark's "
            "data set.\n\n" + table
        )
        write_section("KPIs", body)


if __name__ == "__main__":
    main()
