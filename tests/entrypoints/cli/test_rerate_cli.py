"""``revsync rerate``: the readable report (per customer, the top movers, the overall figure),
the JSON, a plan file not stored, and the refusals.

Acme is on ``metered`` (20.00 a month in advance, 0.002 per API call) from 1 October 2026 with
1,200 calls in October, globex with 200; ``revsync bill`` on 4 November bills October.
Version 2 prices calls in tiers: the first 500 free, then 0.003.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from revsync.application.customers import PutCustomer
from revsync.application.subscriptions import CreateSubscription
from revsync.bootstrap import build
from revsync.config import load_settings
from revsync.domain.identity import System
from revsync.entrypoints.cli.main import app
from tests.entrypoints.api.test_rerates_api import METERED, TIERED
from tests.support.clock import FrozenCliRunner, FrozenClock, utc
from tests.support.events import event, ndjson

runner = FrozenCliRunner(FrozenClock(utc(2026, 11, 4, 12)))
OCTOBER = ["--from", "2026-10-01", "--to", "2026-10-31"]


def at(config: Path) -> list[str]:
    return ["-c", str(config)]


def words(output: str) -> str:
    """What a command printed, its boxes and line wraps taken out."""
    return " ".join(output.replace("│", " ").split())


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A database with October billed on version 1 and version 2 put."""
    path = tmp_path / "revsync.yaml"
    assert runner.invoke(app, ["init", str(path)]).exit_code == 0
    text = path.read_text().replace("plans: []", "plans:\n  - " + json.dumps(METERED))
    path.write_text(text.replace("grace_period_hours: 72", "grace_period_hours: 0"))
    assert runner.invoke(app, ["db", "upgrade", "--config", str(path)]).exit_code == 0
    container = build(load_settings(path), clock=runner.clock)
    try:
        for cid in ("acme", "globex"):
            container.customers.put(
                PutCustomer(cid, cid.title(), "EUR", "UTC", None, {System.PRODUCT: [cid]}, "test")
            )
            container.subscriptions.create(
                CreateSubscription(f"s-{cid}", cid, "metered", date(2026, 10, 1), "test")
            )
        version_2 = {k: v for k, v in METERED.items() if k != "code"}
        version_2["charges"] = [METERED["charges"][0], TIERED]
    finally:
        container.close()
    usage = tmp_path / "usage.ndjson"
    usage.write_bytes(
        ndjson(
            [
                event(f"{cid}-{n}", subject=cid, time="2026-10-20T11:00:00Z", type="api.request")
                for cid, calls in (("acme", 1200), ("globex", 200))
                for n in range(calls)
            ]
        )
    )
    assert runner.invoke(app, ["ingest", str(usage), "--config", str(path)]).exit_code == 0
    billed = runner.invoke(app, ["bill", "--as-of", "2026-11-04", "--config", str(path)])
    assert billed.exit_code == 0, billed.output
    container = build(load_settings(path), clock=runner.clock)
    try:
        container.catalog.put_plan("metered", version_2, "test")
    finally:
        container.close()
    return path


def test_the_readable_report_per_customer_with_the_movers_and_the_overall_figure(
    config: Path,
) -> None:
    result = runner.invoke(app, ["rerate", "--plan", "metered@2", *OCTOBER, "-c", str(config)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        "shadow re-rate on metered@2 (stored) of the subscriptions on metered: periods from "
        "2026-10-01 to 2026-10-31, in EUR, before tax"
    )
    # acme: 22.40 issued (20.00 + 1,200 × 0.002), 22.10 re-rated (20.00 + 700 × 0.003)
    # globex: 20.40 issued (20.00 + 200 × 0.002), 20.00 re-rated (200 calls in the free tier)
    assert [line.split() for line in lines[2:5]] == [
        ["customer", "issued", "re-rated", "difference", "%"],
        ["acme", "22.40", "22.10", "-0.30", "-1.34%"],
        ["globex", "20.40", "20.00", "-0.40", "-1.96%"],
    ]
    assert "top movers by amount: globex -0.40, acme -0.30" in lines
    assert "top movers by percent: globex -1.96%, acme -1.34%" in lines
    assert lines[-1] == (
        "overall: issued 42.80, re-rated 42.10, difference -0.70 (-1.64%) over 2 customers "
        "and 4 periods"
    )
    detailed = runner.invoke(
        app,
        ["rerate", "--plan", "metered@2", *OCTOBER, "--customers", "acme", "--lines", *at(config)],
    )
    assert detailed.exit_code == 0, detailed.output
    assert "globex" not in detailed.output
    assert (
        "  s-acme arrears 2026-10-01/2026-11-01 (INV-000004): issued 2.40, re-rated 2.10, "
        "difference -0.30" in detailed.output
    )
    assert "    usage:calls:2026-10-01: 2.40 → 0.00 (-2.40) API calls" in detailed.output
    assert (
        "    usage:calls:2026-10-01:tier-2: 0.00 → 2.10 (+2.10) API calls — tier 2 (above 500)"
        in detailed.output
    )


def test_json_and_a_plan_file_not_stored(config: Path, tmp_path: Path) -> None:
    plan_file = tmp_path / "candidate.yaml"
    plan_file.write_text(
        "code: metered-flat\nname: Flat\ncurrency: EUR\ninterval: month\ncharges:\n"
        "  - {key: platform, model: flat, description: Platform fee, timing: in_advance, "
        "amount: 21.50}\n"
    )
    result = runner.invoke(
        app,
        [
            "rerate",
            "--plan-file",
            str(plan_file),
            "--replaces",
            "metered",
            *OCTOBER,
            "--json",
            "--top",
            "1",
            *at(config),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["plan"], report["stored"], report["replaces"]) == (
        "metered-flat@1",
        False,
        "metered",
    )
    # 21.50 a month and no calls: acme 22.40 → 21.50, globex 20.40 → 21.50
    assert [(c["customer_id"], c["difference"]) for c in report["customers"]] == [
        ("acme", "-0.90"),
        ("globex", "1.10"),
    ]
    assert [c["customer_id"] for c in report["top"]["by_amount"]] == ["globex"]
    assert report["totals"]["difference"] == "0.20"


def test_what_rerate_refuses(config: Path, tmp_path: Path) -> None:
    both = runner.invoke(app, ["rerate", *OCTOBER, "-c", str(config)])
    assert (both.exit_code, "give --plan or --plan-file" in words(both.output)) == (2, True)
    bad_day = runner.invoke(
        app, ["rerate", "--plan", "metered", "--from", "Oct", "--to", "2026-10-31"]
    )
    assert bad_day.exit_code == 2
    assert "not a date (YYYY-MM-DD): 'Oct'" in words(bad_day.output)
    backwards = ["--from", "2026-11-01", "--to", "2026-10-01", "-c", str(config)]
    wrong_way = runner.invoke(app, ["rerate", "--plan", "metered", *backwards])
    assert wrong_way.exit_code == 1
    assert "to: 2026-10-01 is before from (2026-11-01)" in wrong_way.output
    unknown = runner.invoke(app, ["rerate", "--plan", "gold", *OCTOBER, "-c", str(config)])
    assert (unknown.exit_code, "plan: no plan 'gold' is stored" in unknown.output) == (1, True)
    nobody = runner.invoke(
        app,
        ["rerate", "--plan", "metered", *OCTOBER, "--customers", "acme,nobody", *at(config)],
    )
    assert (nobody.exit_code, "customers.1: no customer 'nobody'" in nobody.output) == (1, True)
    broken = tmp_path / "broken.yaml"
    broken.write_text("code: metered\nname: [unclosed\n")
    refused = runner.invoke(app, ["rerate", "--plan-file", str(broken), *OCTOBER])
    assert (refused.exit_code, "is not YAML or JSON" in words(refused.output)) == (2, True)
