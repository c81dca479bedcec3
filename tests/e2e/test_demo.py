"""``revsync demo`` end to end, as a newcomer runs it: the README's command in a fresh folder
builds its own Tryton ERP and CRM sandbox, plays a quarter with faults, checks itself through
the ERP's and the CRM's APIs, and exits 0; the same checks catch a tampered ERP and CRM; and
every command of the README's tutorial runs, in order, on what the demo left.

The tests share one demo run (one xdist group: ``scripts/test`` runs ``--dist loadgroup``)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import subprocess
from collections import Counter
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from rich.console import Console

from revsync.adapters.db.tables import (
    deals,
    delivery_counters,
    erp_postings,
    invoices,
    outbox_messages,
)
from revsync.bootstrap import Container, build
from revsync.config import load_settings
from revsync.domain.delivery import STREAM_EVENTS
from revsync.ports.erp import ErpDocument, ErpLine, ErpParty
from revsync.sandbox.crm import CrmSandbox
from revsync.sandbox.demo import run_demo
from revsync.sandbox.demo.checks import CheckReport, check_crm, check_erp
from revsync.sandbox.demo.deal import check_deals
from revsync.sandbox.demo.desk import Desk, check_desk
from revsync.sandbox.support import SupportSandbox
from revsync.sandbox.tryton import LocalTryton
from revsync.schemas.event_payloads_v1 import validate_payload
from tests.support.nats import Stream, own_stream, stored
from tests.support.tryton import require_tryton

README = Path(__file__).resolve().parents[2] / "README.md"
pytestmark = pytest.mark.xdist_group("demo")


def readme_demo_command() -> list[str]:
    """The README's first set-up command, without the installation."""
    first = re.search(r"```sh\n(.*?)\n", README.read_text())
    assert first is not None
    command = first.group(1).split("&&")[-1].split()
    assert command == ["revsync", "demo"]
    return command


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], str]:
    require_tryton()
    cwd = tmp_path_factory.mktemp("newcomer")
    folder = cwd / "revsync-demo"
    finished = subprocess.run(
        [*readme_demo_command(), "--json", "report.json"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "COLUMNS": "120"},
    )
    assert finished.returncode == 0, finished.stdout[-4000:] + finished.stderr[-4000:]
    report = json.loads((cwd / "report.json").read_text())
    assert json.loads((folder / "report.json").read_text()) == report
    return folder, report, finished.stdout


def test_the_demo_plays_a_quarter_and_checks_itself(
    demo: tuple[Path, dict[str, Any], str],
) -> None:
    folder, report, output = demo
    assert report["ok"] is True and report["mismatches"] == []
    invoices = report["invoices"]
    assert invoices["issued"] >= 100
    assert invoices["posted_to_erp"] == invoices["issued"] + invoices["credit_notes"]
    assert report["checks"]["erp_invoices_compared"] == invoices["posted_to_erp"]
    # what revsync reports paid, Tryton's own state says paid (checks.py reads it back)
    assert report["checks"]["erp_paid_compared"] == invoices["paid_reported"] >= 40
    assert report["checks"]["crm_accounts_compared"] == report["crm"]["accounts_updated"] >= 50
    assert report["events"]["duplicates"] == 600 and report["events"]["rejected"] == 12
    assert report["events"]["accepted"] > 20_000
    assert report["cases"] == {"unmapped_usage resolved": 1, "service_credit resolved": 1}
    assert set(report["revenue_by_plan"]) == {"starter", "growth", "enterprise"}
    assert len(report["erp_numbers"]) == invoices["posted_to_erp"]
    # the ERP's own numbering: invoices, and the service credit's credit note
    assert all(n.startswith(("INV-", "CN-")) for n in report["erp_numbers"].values())
    assert sum(n.startswith("CN-") for n in report["erp_numbers"].values()) == 1
    for fault in ("closed before posting", "unmapped until", "a late event", "ERP down"):
        assert any(fault in f for f in report["faults"]), report["faults"]
    assert any("request limit" in f for f in report["faults"])
    assert any(a.endswith("seat_change") for a in report["amendments"])
    assert any(a.endswith("plan_change") for a in report["amendments"])
    assert report["under_billed"] and report["renewals_at_risk"]
    assert report["crm"]["opportunities"] >= 1 and report["crm"]["tasks"] >= 1
    reached = _check_thresholds(report)
    for r in reached:  # the report's line names each
        assert f"{r['customer']} {r['threshold']}: api_calls " in output
    _check_desk_and_ladder(report, output)
    # quote-to-cash: the won opportunity's subscription, sale order and first invoice
    [deal] = report["deals"]
    assert re.fullmatch(
        r"006\w+ won by cust-0051 → subscription opp-006\w+, ERP sale order \S+, first invoice "
        r"INV-\d+ \(ERP INV-\d{4}-\d+\)",
        deal,
    ), deal
    assert report["checks"]["erp_sale_orders_compared"] == 1
    assert report["checks"]["crm_opportunities_compared"] == 1
    assert "1 sale order is in the ERP with what the deal sold" in " ".join(output.split())
    assert "checked" in output and "exactly once with revsync's totals" in output
    assert f"the {invoices['paid_reported']} revsync reports paid are paid there" in output
    assert "open http://127.0.0.1:8080/console/ and sign in with the key in" in output
    # everything in one folder, ready to be served
    assert {p.name for p in folder.iterdir()} >= {
        "revsync.yaml",
        "revsync.db",
        "admin.key",
        "secrets.env",
        "erp",
        "crm",
        "support",
    }


def _check_desk_and_ladder(report: dict[str, Any], output: str) -> None:
    """The support tool: an organization per account, an open ticket for every fifth (and
    one for the customer walked down the ladder), each told its context; one service credit
    approved and posted, its ERP number on the ticket. The ladder: one late payer at levels 1,
    2 and 3 in turn, its data export suspended at 3, all undone once it paid — the CRM's tasks,
    the tickets and the credit read back by the self-check."""
    support, checks = report["support"], report["checks"]
    assert support["organizations"] == 51 and support["open_tickets"] >= 10  # 50 + the deal's
    assert checks["tickets_compared"] == support["open_tickets"]
    assert checks["service_credits_compared"] == 1
    credit = re.fullmatch(
        r"ticket \d+ of cust-\d+: 10% of INV-\d+ approved by finance → credit note CN-\d+ "
        r"\([0-9.]+ EUR before tax\), ERP number CN-\d{4}-\d+, told on the ticket",
        support["service_credit"],
    )
    assert credit is not None, support["service_credit"]
    walk = report["collections"]["walk"]
    assert len(walk) == 4, walk
    steps = zip(walk, (1, 2, 3), ("allowed", "allowed", "suspended"), strict=False)
    for line, level, export in steps:
        assert f"at dunning level {level} — " in line and line.endswith(f"data_export {export}")
    assert (
        "paid — back at level 0: tasks completed, ticket flag off, data_export allowed" in (walk[3])
    )
    slid = re.search(r"\((cust-\d+)\)", walk[0])
    assert slid is not None and slid[1] not in report["collections"]["on_the_ladder"]
    # its two tasks and the other late payers' were read back in the CRM
    assert checks["crm_collections_tasks_compared"] >= 2
    assert "Collections ladder" in output and walk[2] in output
    # a third of the contracts renew within 20 to 85 days: each assessed at its horizon
    renewals = report["renewals"]
    assert len(renewals) >= 10, renewals
    assert all(r.rsplit(": ", 1)[1] in ("at_risk", "healthy", "expansion") for r in renewals)


#: the growth plan's thresholds, in API calls: 80% and 100% of the 200,000 it includes
LIMITS = {"calls-80pct": 160_000, "calls-100pct": 200_000}


def _check_thresholds(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The growth plan's thresholds reached in the open usage periods: each once, where the
    usage stood at or above it, and one task on its account in the CRM. The month so far the
    demo plays makes one customer reach 80% of its included API calls only (its second batch
    does not fire 80% again) and another 80% and 100%."""
    reached: list[dict[str, Any]] = report["thresholds"]
    assert report["checks"]["crm_threshold_tasks_compared"] == len(reached) >= 3
    once = Counter((r["subscription"], r["threshold"], r["period"]) for r in reached)
    assert set(once.values()) == {1}
    assert {(r["kind"], r["meter"]) for r in reached} == {("percent", "api_calls")}
    assert all(Decimal(r["observed"]) >= Decimal(r["limit"]) for r in reached)
    fired: dict[str, set[str]] = {}
    for r in reached:
        assert Decimal(r["limit"]) == LIMITS[r["threshold"]]
        fired.setdefault(r["subscription"], set()).add(r["threshold"])
    assert {"calls-80pct"} in fired.values()
    assert {"calls-80pct", "calls-100pct"} in fired.values()
    return reached


def tutorial() -> str:
    """The README tutorial's shell blocks, in order."""
    text = README.read_text()
    section = text[text.index("## A 10-minute tutorial") :]
    section = section[: section.index("\n## ", 1)]
    return "\n".join(re.findall(r"```sh\n(.*?)```", section, re.S))


def test_every_command_of_the_readme_tutorial_runs(
    demo: tuple[Path, dict[str, Any], str],
) -> None:
    folder = demo[0]
    script = "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + tutorial()
    finished = subprocess.run(
        ["bash", "-c", script],
        cwd=folder.parent,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "COLUMNS": "160"},
    )
    logs = "".join(
        f"\n--- {name}\n" + (folder / name).read_text()[-3000:]
        for name in ("sandbox.log", "serve.log")
        if (folder / name).exists()
    )
    assert finished.returncode == 0, finished.stdout[-4000:] + finished.stderr[-4000:] + logs
    out = finished.stdout
    assert out.startswith('{"status":"ok"')
    assert '{"accepted":2,"duplicates":0' in out and '{"accepted":0,"duplicates":2' in out
    assert '"group":{"format":"csv"},"value":"1"' in out
    assert re.search(r"INV-\d+ is INV-\d{4}-\d+ in the ERP, dated [0-9-]+: total 2[0-9.]+ EUR", out)
    assert "CRM account 001" in out
    # the add-on's meter joins the main contract's, whose adoption and risks stay
    adoption = re.search(r"Revsync_Adoption__c: (.*)", out)
    assert adoption is not None and "api_calls" in adoption[1], out[-3000:]
    assert adoption[1].endswith("; reports 0 (flat)")
    assert re.search(r"Revsync_Risk_Flags__c: \S*low_adoption", out), out[-3000:]


@pytest.fixture
def revived(
    demo: tuple[Path, dict[str, Any], str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Container, LocalTryton, CrmSandbox, SupportSandbox]]:
    """The demo's systems started again on its folder."""
    folder = demo[0]
    for line in (folder / "secrets.env").read_text().splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        monkeypatch.setenv(name, value)
    settings = load_settings(folder / "revsync.yaml")
    port = int(str(settings.erp.url).rsplit(":", 1)[1].split("/")[0])
    crm_port = int(str(settings.crm.url).rsplit(":", 1)[1].split("/")[0])
    support_port = int(str(settings.support.url).rsplit(":", 1)[1].split("/")[0])
    tryton = LocalTryton(folder / "erp", folder / "erp" / "revsync.sqlite", port=port)
    with (
        tryton,
        CrmSandbox(folder / "crm", port=crm_port) as sandbox,
        SupportSandbox(folder / "support", port=support_port) as tool,
    ):
        container = build(settings)
        try:
            yield container, tryton, sandbox, tool
        finally:
            container.close()


def test_the_checks_catch_an_erp_a_crm_and_a_support_tool_that_disagree(
    revived: tuple[Container, LocalTryton, CrmSandbox, SupportSandbox],
) -> None:
    """Last in this module: it leaves the demo's ERP, CRM and support tool tampered with."""
    container, _tryton, sandbox, tool = revived
    account = next(a for a in sandbox.records("Account") if a.get("Revsync_Health_Score__c"))
    sandbox.update_record("Account", account["Id"], {"Revsync_Health_Score__c": 1})
    # and someone deletes the task of a threshold reached
    task = next(
        t for t in sandbox.records("Task") if str(t["Revsync_Key__c"]).startswith("threshold:")
    )
    sandbox.delete_record("Task", task["Id"])
    with container.engine.begin() as conn:  # revsync's side of one invoice changes
        number, total = conn.execute(
            sa.select(invoices.c.number, invoices.c.total)
            .where(invoices.c.number.is_not(None))
            .limit(1)
        ).one()
        conn.execute(
            invoices.update()
            .where(invoices.c.number == number)
            .values(total=total + Decimal("1.00"))
        )
        # and revsync records another one paid that nobody paid in the ERP
        unpaid_id, unpaid_number = conn.execute(
            sa.select(invoices.c.id, invoices.c.number)
            .join(erp_postings, erp_postings.c.invoice_id == invoices.c.id)
            .where(~erp_postings.c.paid, invoices.c.number != number)
            .order_by(invoices.c.number)
            .limit(1)
        ).one()
        conn.execute(
            erp_postings.update().where(erp_postings.c.invoice_id == unpaid_id).values(paid=True)
        )
    stranger = ErpDocument(
        key="posted-by-hand",
        number="MANUAL-1",
        party=ErpParty("RS-walk-in", "Walk-in customer", "FR"),
        currency="EUR",
        invoice_date=date.today(),
        lines=(ErpLine("Consulting", "SAAS", "4.1.2", Decimal(1), Decimal("100.00"), ()),),
        untaxed=Decimal("100.00"),
        tax=Decimal(0),
        total=Decimal("100.00"),
    )

    async def tamper_and_check() -> CheckReport:
        client = container.erp()
        try:
            await client.post(stranger)  # an invoice someone posted in the ERP by hand
            report = CheckReport()
            await check_erp(container, client.rpc, report, paid_within=1)
            return report
        finally:
            await client.aclose()

    # and someone edits the won opportunity's subscription status in the CRM, and revsync's
    # record of what the deal sold changes
    [won] = [o for o in sandbox.records("Opportunity") if o.get("Revsync_Subscription_Id__c")]
    sandbox.update_record("Opportunity", won["Id"], {"Revsync_Subscription_Status__c": "lost"})
    with container.engine.begin() as conn:
        sold_lines = conn.execute(
            sa.select(deals.c.lines).where(deals.c.opportunity_id == won["Id"])
        ).scalar_one()
        conn.execute(
            deals.update()
            .where(deals.c.opportunity_id == won["Id"])
            .values(lines=[{**sold_lines[0], "quantity": 30}])
        )

    async def tamper_sale() -> CheckReport:
        client = container.erp()
        try:
            report = CheckReport()
            await check_deals(container, client.rpc, sandbox, report)
            return report
        finally:
            await client.aclose()

    found_deals = asyncio.run(tamper_sale())
    sold, said = found_deals.mismatches
    assert sold.startswith("ERP: sale order ") and "revsync sold" in sold, sold
    assert said.startswith(f"CRM: opportunity {won['Id']} holds lost, revsync wrote "), said

    report = asyncio.run(tamper_and_check())
    check_crm(container, sandbox, report)
    assert not report.ok
    erp = [m for m in report.mismatches if m.startswith("ERP")]
    crm = [m for m in report.mismatches if m.startswith("CRM")]
    assert len(erp) == 3, erp
    assert erp[0].startswith(f"ERP: {number} totals ") and "revsync" in erp[0]
    assert erp[1].endswith("(key posted-by-hand) is not a revsync invoice")
    assert erp[2] == f"ERP: {unpaid_number} is paid in revsync but posted in the ERP"
    changed, deleted = crm
    assert changed.startswith(f"CRM: account {account['Id']} Revsync_Health_Score__c is ")
    assert deleted == (
        f"CRM: the task of {task['Revsync_Key__c']} is on no account, revsync made it for "
        f"account {task['WhatId']}"
    )
    # an agent overwrites revsync's health score on an enriched ticket
    desk = Desk(tool)
    try:
        assert check_desk(container, desk).mismatches == []
        [ticket, *_] = _enriched(container)
        title = container.settings.support.fields["health_score"]
        desk.update(ticket, {title: 1})
        found = check_desk(container, desk)
    finally:
        desk.close()
    [mismatch] = found.mismatches
    assert mismatch.startswith(f"ticket {ticket}: field {title!r} holds '1', revsync sent ")


def _enriched(container: Container) -> list[int]:
    """The tickets revsync wrote a context to."""
    m = outbox_messages.c
    query = sa.select(m.object_id).where(m.kind == "ticket.context", m.status == "delivered")
    with container.engine.connect() as conn:
        return sorted({int(row.object_id) for row in conn.execute(query)})


def play(folder: Path, **options: Any) -> dict[str, Any]:
    """The demo in process, small (ten accounts), quietly; its report as report.json has it."""
    report = run_demo(folder, console=Console(file=io.StringIO()), accounts=10, **options)
    assert report.ok, report.mismatches
    data: dict[str, Any] = json.loads((folder / "report.json").read_text())
    return data


def found_away(folder: Path) -> int:
    """Attempts of the demo's relay that found the ERP unavailable."""
    container = build(load_settings(folder / "revsync.yaml"))
    try:
        c = delivery_counters.c
        with container.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(c.total).where(c.destination == "erp", c.outcome == "unavailable")
                ).scalar()
                or 0
            )
    finally:
        container.close()


def test_the_demo_holds_with_the_erp_back_20_seconds_later(tmp_path: Path) -> None:
    """The outage the demo plays, 20 s long — longer than the whole retry budget of the
    demo's policy (10 attempts of at most 1 s) — still exact: every invoice is posted once, no
    case is opened. (The suite runs it on one of two workers on two cores, the other busy all
    along: a process spinning beside it took a third of the machine from every other test for
    the same finding.) With revsync's event stream on: a subscriber finds every event the demo
    announced, each once, each payload as the AsyncAPI document describes it — a
    usage.threshold_crossed for each threshold reached, announced by the threshold watcher
    running beside the relay."""
    require_tryton()
    with own_stream() as stream:
        report = play(tmp_path / "demo", erp_down_seconds=20, events=stream.settings())
        events = stored(stream)
    _check_the_stream(tmp_path / "demo", stream, events)
    assert "ERP down for 20 s as postings began" in report["faults"]
    assert found_away(tmp_path / "demo") > 10  # more attempts found it away than the budget
    assert report["invoices"]["posted_to_erp"] == (
        report["invoices"]["issued"] + report["invoices"]["credit_notes"]
    )
    assert report["checks"]["erp_invoices_compared"] == report["invoices"]["posted_to_erp"] > 0
    _check_thresholds(report)
    assert not [k for k in report["cases"] if k.split()[0] in ("outage", "delivery")]
    assert report["phases"]["deliveries"] >= 20


def _check_the_stream(
    folder: Path, stream: Stream, events: list[tuple[str, dict[str, str], dict[str, Any]]]
) -> None:
    ids = [event["id"] for _, _, event in events]
    assert len(ids) == len(set(ids))  # each once
    by_type = Counter(event["type"] for _, _, event in events)
    # every type the demo's quarter makes happen (it voids nothing; the service credit is a
    # credit note), with usage.threshold_crossed from the month so far, collections.changed
    # from the ladder and renewal.assessed for the contracts renewing soon
    assert set(by_type) == set(STREAM_EVENTS) - {"invoice.voided"}
    for subject, headers, event in events:
        assert subject == f"{stream.prefix}.{event['type']}"
        assert headers["Nats-Msg-Id"] == event["id"]
        validate_payload(event["type"], event["data"])
    container = build(load_settings(folder / "revsync.yaml"))
    try:
        m = outbox_messages.c
        with container.engine.connect() as conn:
            rows = conn.execute(
                sa.select(m.idempotency_key, m.status).where(m.destination == "events")
            ).all()
            posted = conn.execute(sa.select(sa.func.count()).select_from(erp_postings)).scalar()
    finally:
        container.close()
    assert {row.status for row in rows} == {"delivered"}
    assert sorted(row.idempotency_key for row in rows) == sorted(ids)  # nothing is missing
    assert by_type["invoice.posted"] == posted
    report = json.loads((folder / "report.json").read_text())
    assert report["stream"] == dict(by_type)
    # one usage.threshold_crossed per threshold reached (subscription, key, period), no more
    crossed = sorted(
        (e["data"]["subscription_id"], e["data"]["threshold"]["key"], e["data"]["period"]["start"])
        for _, _, e in events
        if e["type"] == "usage.threshold_crossed"
    )
    reached = report["thresholds"]
    assert crossed == sorted(
        (r["subscription"], r["threshold"], r["period"].split()[0]) for r in reached
    )
    assert by_type["usage.threshold_crossed"] == len(reached) >= 3
    # every finalized invoice and credit note reached the ERP
    assert by_type["invoice.finalized"] + by_type["credit_note.issued"] == posted
