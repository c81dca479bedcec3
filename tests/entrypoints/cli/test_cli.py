"""The revsync command line: init, db, apikey, ingest files, audit verify, bill, demo."""

from __future__ import annotations

import importlib.metadata
import json
import re
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from revsync.adapters.db.migrate import head_revision
from revsync.application.customers import PutCustomer
from revsync.application.subscriptions import CreateSubscription
from revsync.bootstrap import build
from revsync.config import load_settings
from revsync.domain.identity import System
from revsync.domain.reconciliation import Check, Finding, FindingKind, ReconciliationRun
from revsync.entrypoints.cli.main import app
from revsync.entrypoints.cli.reconcile import page
from revsync.ports.billing import InvoiceFilter
from tests.conftest import NOW
from tests.scenarios.harness import PRO as SCENARIO_PRO
from tests.support.clock import FrozenCliRunner, FrozenClock
from tests.support.events import event, ndjson

runner = FrozenCliRunner(FrozenClock(NOW))


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("init", "serve", "ingest", "db", "apikey", "audit", "demo"):
        assert command in result.output


def test_init_writes_the_example_and_will_not_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "revsync.yaml"
    assert runner.invoke(app, ["init", str(path)]).exit_code == 0
    assert "meters:" in path.read_text()
    again = runner.invoke(app, ["init", str(path)])
    assert again.exit_code == 1
    assert "--force" in again.output
    assert runner.invoke(app, ["init", str(path), "--force"]).exit_code == 0


def test_db_upgrade_reaches_the_newest_revision(config: Path) -> None:
    result = runner.invoke(app, ["db", "current", "--config", str(config)])
    assert result.exit_code == 0
    head = head_revision()
    assert head is not None
    assert f"database: {head}; newest: {head}" in result.output


def test_a_bad_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("server:\n  port: 0\n")
    result = runner.invoke(app, ["db", "upgrade", "--config", str(path)])
    assert result.exit_code == 2
    assert "server.port" in result.output


def test_apikey_create_prints_the_key_once(config: Path) -> None:
    created = runner.invoke(
        app,
        [
            "apikey",
            "create",
            "--name",
            "loader",
            "--role",
            "ingest",
            "--scope",  # the former name of --role
            "read",
            "--config",
            str(config),
        ],
    )
    assert created.exit_code == 0, created.output
    secret = created.output.strip().splitlines()[-1]
    assert secret.startswith("rsk_")
    listed = runner.invoke(app, ["apikey", "list", "--config", str(config)])
    assert "loader" in listed.output
    assert secret not in listed.output
    key_id = created.output.split()[1]
    revoked = runner.invoke(app, ["apikey", "revoke", key_id, "--config", str(config)])
    assert revoked.exit_code == 0
    assert f"revoked {key_id}" in revoked.output


def test_apikey_with_an_unknown_role_fails(config: Path) -> None:
    result = runner.invoke(
        app, ["apikey", "create", "--name", "x", "--role", "root", "--config", str(config)]
    )
    assert result.exit_code == 1
    assert "unknown role 'root'" in result.output


def test_ingest_ndjson_reports_bad_lines_by_number_and_keeps_the_rest(
    config: Path, tmp_path: Path
) -> None:
    path = tmp_path / "usage.ndjson"
    path.write_bytes(
        ndjson([event("a"), event("b")]) + b"{broken\n\n" + ndjson([event("c"), event("a")])
    )
    result = runner.invoke(app, ["ingest", str(path), "--config", str(config)])
    assert result.exit_code == 1  # some lines were refused
    assert f"{path}:3: event: malformed JSON at line 1, column 2 (malformed_json)" in result.output
    row = next(
        line for line in result.output.splitlines() if "usage.ndjson" in line and "│" in line
    )
    assert [cell.strip() for cell in row.split("│")[2:7]] == ["3", "1", "1", "3", "0"]
    again = runner.invoke(app, ["ingest", str(path), "--config", str(config)])
    row = next(line for line in again.output.splitlines() if "usage.ndjson" in line and "│" in line)
    assert [cell.strip() for cell in row.split("│")[2:4]] == ["0", "4"]


def test_ingest_csv_with_data_columns(config: Path, tmp_path: Path) -> None:
    path = tmp_path / "usage.csv"
    path.write_text(
        "id,source,type,subject,time,data.tokens,data.model,data.environment\n"
        "c1,app://csv,llm.completion,t-1,2026-11-10T10:00:00Z,120,00123,production\n"
        "c2,app://csv,llm.completion,t-1,2026-11-10T11:00:00Z,abc,m,production\n"
        "c3,app://csv,llm.completion,t-1,not-a-time,5,m,production\n"
    )
    result = runner.invoke(app, ["ingest", str(path), "--config", str(config)])
    assert f"{path}:3: data.tokens: expected a number" in result.output
    assert f"{path}:4: time: not an RFC 3339 timestamp" in result.output
    db = sqlite3.connect(config.parent / "revsync.db")
    (data,) = db.execute("SELECT data FROM usage_events WHERE event_id = 'c1'").fetchone()
    assert data == '{"environment":"production","model":"00123","tokens":120}'


def test_ingest_csv_without_required_columns_loads_nothing(config: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("id,type\n1,x\n")
    result = runner.invoke(app, ["ingest", str(path), "--config", str(config)])
    assert result.exit_code == 1
    assert "CSV header lacks required column(s): source, subject, time" in result.output


def test_audit_verify_names_the_first_tampered_entry(config: Path) -> None:
    for name in ("one", "two", "three"):
        runner.invoke(
            app, ["apikey", "create", "--name", name, "--scope", "read", "--config", str(config)]
        )
    intact = runner.invoke(app, ["audit", "verify", "--config", str(config)])
    assert intact.exit_code == 0
    assert "4 entries verified" in intact.output  # the configuration, then three keys
    db = sqlite3.connect(config.parent / "revsync.db")
    (two,) = db.execute("SELECT seq FROM audit_log WHERE after LIKE '%\"two\"%'").fetchone()
    with db:
        db.execute(
            "UPDATE audit_log SET after = replace(after, 'two', 'TWO') WHERE seq = ?", (two,)
        )
    broken = runner.invoke(app, ["audit", "verify", "--config", str(config)])
    assert broken.exit_code == 1
    assert f"audit log broken at entry {two}" in broken.output
    assert "content does not match its hash" in broken.output
    with db:
        db.execute(
            "UPDATE audit_log SET after = replace(after, 'TWO', 'two') WHERE seq = ?", (two,)
        )
        db.execute("DELETE FROM audit_log WHERE seq = ?", (two,))
    removed = runner.invoke(app, ["audit", "verify", "--config", str(config)])
    assert f"audit log broken at entry {two + 1}" in removed.output
    assert "previous-hash does not match" in removed.output


def test_configuration_changes_are_audited_with_before_and_after(config: Path) -> None:
    db = sqlite3.connect(config.parent / "revsync.db")
    query = "SELECT actor, before, after FROM audit_log WHERE object_type = 'configuration' ORDER BY seq"
    assert len(db.execute(query).fetchall()) == 1
    runner.invoke(app, ["db", "upgrade", "--config", str(config)])
    assert len(db.execute(query).fetchall()) == 1  # unchanged: nothing recorded
    config.write_text(config.read_text().replace("port: 8080", "port: 9090"))
    assert runner.invoke(app, ["db", "upgrade", "--config", str(config)]).exit_code == 0
    entries = db.execute(query).fetchall()
    assert len(entries) == 2
    actor, before, after = entries[1]
    assert actor.startswith("cli:")
    assert json.loads(before)["server"]["port"] == 8080
    assert json.loads(after)["server"]["port"] == 9090


def test_a_database_password_never_reaches_the_audit_log(tmp_path: Path) -> None:
    from revsync.config import Settings

    settings = Settings(database={"url": "postgresql://revsync:s3cret@db.internal:5432/revsync"})
    snapshot = json.dumps(settings.audit_snapshot())
    assert "s3cret" not in snapshot
    assert "revsync:***@db.internal" in snapshot


PLAN = {
    "code": "basic",
    "name": "Basic",
    "currency": "EUR",
    "interval": "month",
    "charges": [
        {
            "key": "platform",
            "model": "flat",
            "description": "Platform fee",
            "timing": "in_advance",
            "amount": "20.00",
        }
    ],
}


def test_bill_runs_billing_as_of_a_date_and_prints_what_it_did(config: Path) -> None:
    text = config.read_text().replace("plans: []", "plans:\n  - " + json.dumps(PLAN))
    config.write_text(text)
    assert runner.invoke(app, ["db", "upgrade", "--config", str(config)]).exit_code == 0
    settings = load_settings(config)
    container = build(settings, clock=runner.clock)
    try:
        container.customers.put(
            PutCustomer("acme", "Acme", "EUR", "UTC", None, {System.PRODUCT: ["t-1"]}, "test")
        )
        container.subscriptions.create(
            CreateSubscription("s1", "acme", "basic", date(2026, 9, 1), "test")
        )
    finally:
        container.close()

    bad = runner.invoke(app, ["bill", "--as-of", "1 Oct", "--config", str(config)])
    assert bad.exit_code == 2
    assert "--as-of: '1 Oct' is not a date" in bad.output
    result = runner.invoke(app, ["bill", "--as-of", "2026-10-01", "--config", str(config)])
    assert result.exit_code == 0, result.output
    # September's and October's fees, both past their grace period, so both finalized
    assert re.search(r"2026-10-01\s*│\s*2\s*│\s*0\s*│\s*0\s*│\s*2\s*│\s*0\s*│\s*0", result.output)
    container = build(settings, clock=runner.clock)
    try:
        found = container.billing.invoices(InvoiceFilter(customer_id="acme"), after=None, limit=10)
    finally:
        container.close()
    assert sorted((str(i.period), i.number, str(i.totals.total)) for i in found) == [
        ("2026-09-01/2026-10-01", "INV-000001", "20.00"),
        ("2026-10-01/2026-11-01", "INV-000002", "20.00"),
    ]


def test_cases_are_listed_shown_and_closed_from_the_command_line(
    config: Path, tmp_path: Path
) -> None:
    path = tmp_path / "usage.ndjson"
    path.write_bytes(ndjson([event("a"), event("b"), event("c", subject="tenant-z")]))
    assert runner.invoke(app, ["ingest", str(path), "--config", str(config)]).exit_code == 0
    listed = runner.invoke(app, ["cases", "list", "--kind", "unmapped_usage", "-c", str(config)])
    assert listed.exit_code == 0, listed.output
    assert "product_tenant tenant-a" in listed.output
    assert "product_tenant tenant-z" in listed.output
    case_id = re.search(r"(case_\w+)\s.*tenant-a", listed.output)
    assert case_id is not None
    shown = runner.invoke(app, ["cases", "show", case_id.group(1), "-c", str(config)])
    assert "unmapped_events: 2" in shown.output
    no_reason = runner.invoke(app, ["cases", "ignore", case_id.group(1), "-c", str(config)])
    assert no_reason.exit_code == 2
    assert "--reason" in no_reason.output
    not_a_delivery = runner.invoke(app, ["cases", "retry", case_id.group(1), "-c", str(config)])
    assert (not_a_delivery.exit_code, "has no message to retry" in not_a_delivery.output) == (
        1,
        True,
    )
    ignored = runner.invoke(
        app, ["cases", "ignore", case_id.group(1), "--reason", "a test tenant", "-c", str(config)]
    )
    assert ignored.exit_code == 0, ignored.output
    assert "ignored" in ignored.output
    again = runner.invoke(
        app, ["cases", "resolve", case_id.group(1), "--reason", "again", "-c", str(config)]
    )
    assert (again.exit_code, "already ignored" in again.output) == (1, True)
    open_now = runner.invoke(app, ["cases", "list", "--status", "open", "-c", str(config)])
    assert "tenant-z" in open_now.output and "tenant-a" not in open_now.output
    bad = runner.invoke(app, ["cases", "list", "--kind", "nope", "-c", str(config)])
    assert (bad.exit_code, "is not one of" in bad.output) == (2, True)


@pytest.mark.parametrize("command", [["db", "upgrade"], ["bill"], ["cases", "list"]])
def test_an_unreachable_database_is_one_line_and_exit_69(
    tmp_path: Path, command: list[str]
) -> None:
    path = tmp_path / "revsync.yaml"
    path.write_text("database:\n  url: postgresql://revsync:s3cret@127.0.0.1:1/nowhere\n")
    result = runner.invoke(app, [*command, "--config", str(path)])
    assert result.exit_code == 69, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(
        "error: cannot reach the database postgresql://revsync:***@127.0.0.1:1/nowhere"
    )
    assert "s3cret" not in result.output


def test_version_is_the_package_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"revsync {importlib.metadata.version('revsync')}"


def test_a_schema_put_from_the_command_line_validates_ingested_files(
    config: Path, tmp_path: Path
) -> None:
    """`revsync schema put` registers a version; `revsync ingest` then checks each line against
    it: the valid line is kept, the other refused with the failing place in its reason."""
    schema = tmp_path / "request.json"
    schema.write_text(
        json.dumps(
            {
                "type": "object",
                "properties": {"endpoint": {"type": "string", "maxLength": 20}},
                "required": ["endpoint"],
                "additionalProperties": False,
            }
        )
    )
    put = runner.invoke(app, ["schema", "put", "api.request", "1", str(schema), "-c", str(config)])
    assert put.exit_code == 0, put.output
    assert "api.request v1 registered: urn:revsync:schema:api.request:1" in put.output
    again = runner.invoke(
        app, ["schema", "put", "api.request", "1", str(schema), "-c", str(config)]
    )
    assert "already registered (no change)" in again.output
    listed = runner.invoke(app, ["schema", "list", "--config", str(config)])
    assert "api.request v1 backward urn:revsync:schema:api.request:1" in listed.output

    path = tmp_path / "usage.ndjson"
    path.write_bytes(
        ndjson([event("ok", data={"endpoint": "/v1/x"}), event("bad", data={"endpoint": 7})])
    )
    result = runner.invoke(app, ["ingest", str(path), "--config", str(config)])
    assert result.exit_code == 1  # a line was refused
    assert f"{path}:2: data/endpoint:" in result.output
    assert "(schema_violation)" in result.output
    container = build(load_settings(config))
    try:
        letters = container.dead_letters.page(channel=None, after_id=None, limit=10)
    finally:
        container.close()
    assert [(letter.letter.event_id, letter.letter.code) for letter in letters] == [
        ("bad", "schema_violation")
    ]


def test_reconcile_exits_1_and_names_each_discrepancy(config: Path, tmp_path: Path) -> None:
    text = config.read_text().replace("plans: []", "plans:\n  - " + json.dumps(SCENARIO_PRO))
    config.write_text(text)
    assert runner.invoke(app, ["db", "upgrade", "--config", str(config)]).exit_code == 0
    container = build(load_settings(config), clock=runner.clock)
    try:
        container.customers.put(
            PutCustomer("acme", "Acme", "EUR", "UTC", None, {System.PRODUCT: ["t-1"]}, "test")
        )
        container.subscriptions.create(
            CreateSubscription("s1", "acme", "pro", date(2026, 10, 1), "test")
        )
    finally:
        container.close()
    usage = tmp_path / "usage.ndjson"
    usage.write_bytes(
        ndjson([event(f"c{n}", subject="t-1", time="2026-10-10T10:00:00Z") for n in range(3)])
    )
    assert runner.invoke(app, ["ingest", str(usage), "--config", str(config)]).exit_code == 0
    billed = runner.invoke(app, ["bill", "--as-of", "2026-11-05", "--config", str(config)])
    assert billed.exit_code == 0, billed.output
    since = ["--since", "2026-01-01", "--config", str(config)]

    clean = runner.invoke(app, ["reconcile", *since])
    assert clean.exit_code == 0, clean.output
    assert "since 2026-01-01: checked 1 usage line; 0 discrepancies, 0 cases closed" in clean.output
    with sqlite3.connect(load_settings(config).database.url.removeprefix("sqlite:///")) as db:
        db.execute("DELETE FROM usage_events WHERE event_id = 'c1'")
    found = runner.invoke(app, ["reconcile", *since])
    assert found.exit_code == 1, found.output
    assert "checked 1 usage line; 1 discrepancy, 0 cases closed" in found.output
    assert (
        "lineage: INV-000003 line usage:calls:2026-10-01:tier-1: billed on 3 events, 2 found"
        in (found.output)
    )
    report = tmp_path / "reconciliation.html"
    with_page = runner.invoke(app, ["reconcile", "--html", str(report), *since])
    assert with_page.exit_code == 1
    written = report.read_text()
    assert "1 discrepancy</h1>" in written and "checked 1 usage line" in written
    assert "billed on 3 events, 2 found behind it now" in written
    assert "<td>events: 3<br>events_hash: " in written
    as_json = runner.invoke(app, ["reconcile", "--json", "--check", "usage", *since])
    assert as_json.exit_code == 1
    answer = json.loads(as_json.output)
    assert (answer["checks"], answer["counts"], answer["clean"]) == (
        ["usage"],
        {"lineage": 1},
        False,
    )
    bad = runner.invoke(app, ["reconcile", "--since", "soon", "--config", str(config)])
    assert bad.exit_code == 2 and "not a date" in bad.output
    no_erp = runner.invoke(app, ["reconcile", "--check", "erp", "--config", str(config)])
    assert no_erp.exit_code == 1 and "the erp check needs an ERP" in no_erp.output


def test_kpis_measure_on_asking_and_print_as_the_api_answers(config: Path, tmp_path: Path) -> None:
    usage = tmp_path / "usage.ndjson"
    usage.write_bytes(ndjson([event("g1", subject="t-ghost", time="2026-10-10T10:00:00Z")]))
    assert runner.invoke(app, ["ingest", str(usage), "--config", str(config)]).exit_code == 0
    before = runner.invoke(app, ["kpis", "--config", str(config)])
    assert before.exit_code == 0, before.output
    assert "unbilled usage events        not measured yet (revsync kpis --measure)" in before.output
    assert "unmapped tenants             1" in before.output
    measured = runner.invoke(app, ["kpis", "--measure", "--json", "--config", str(config)])
    assert measured.exit_code == 0, measured.output
    answer = json.loads(measured.output)
    assert sum(answer["unbilled_usage"]["events"].values()) == 1  # nobody bills the ghost
    assert (answer["unbilled_usage"]["amount"], answer["event_lag"]["count"]) == ({}, 1)
    assert answer["erp_posting_delay_seconds"] is None  # no ERP configured


def test_the_reconciliation_page_escapes_what_the_other_systems_wrote() -> None:
    hostile = "<script>alert(1)</script>"
    run = ReconciliationRun(
        id="rec_1",
        started_at=NOW,
        finished_at=NOW,
        since=date(2026, 1, 1),
        actor="cli",
        checks=(Check.ERP,),
        checked={"erp": 0},
        findings=[
            Finding(FindingKind.ERP_UNKNOWN, "erp_invoice", "7", hostile, {}, {"party": hostile})
        ],
    )
    written = page(run)
    assert "<script>" not in written
    assert written.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 2
